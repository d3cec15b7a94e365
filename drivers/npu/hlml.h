// Hlml: the part of Habana's management library (libhlml.so, shipped with the
// Gaudi driver stack) the NPU driver uses, in our own types.
//
// Production: DlopenHlml (dlopen_hlml.h) loads the library at run time; the
// build needs no Habana headers. Tests: the same DlopenHlml on the fake
// libhlml.so built in drivers/npu/testing/, driven by JSON.
//
// Errors carry the HLML return code and a code callers can branch on (codes
// from hlml.h, HabanaAI/gohlml):
//   InvalidArgument     HLML_ERROR_INVALID_ARGUMENT (2), bad values from HLML
//   Unimplemented       HLML_ERROR_NOT_SUPPORTED (3)
//   NotFound            HLML_ERROR_NOT_FOUND (6)
//   FailedPrecondition  HLML_ERROR_UNINITIALIZED (1), DRIVER_NOT_LOADED (9), others
//   DeadlineExceeded    HLML_ERROR_TIMEOUT (10)
//   Unavailable         HLML_ERROR_AIP_IS_LOST (15): the device fell off the bus
//
// Implementations are safe for concurrent use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "base/pci_address.h"

namespace tessera::drivers::npu {

// Where the Gaudi software stack installs it: /usr/lib/habanalabs/libhlml.so
// (on the loader path through /etc/ld.so.conf.d/habanalabs.conf).
inline constexpr std::string_view kDefaultHlmlLibrary = "libhlml.so";

struct GaudiDevice {
  uint32_t index = 0;  // HLML index
  std::string name;    // "HL-225" (Gaudi2 OAM); "" when not reported
  std::string uuid;    // "" when not reported
  std::string serial;  // "" when not reported
  std::optional<base::PciAddress> pci_address;
  uint16_t pci_vendor_id = 0;
  uint16_t pci_device_id = 0;
  std::optional<uint32_t> module_id;     // OAM slot
  std::optional<uint32_t> minor_number;  // /dev/accel/accel<minor>
  std::optional<uint64_t> memory_total_bytes;

  friend bool operator==(const GaudiDevice&, const GaudiDevice&) = default;
};

class Hlml {
 public:
  virtual ~Hlml() = default;
  Hlml() = default;
  Hlml(const Hlml&) = delete;
  Hlml& operator=(const Hlml&) = delete;

  // Every device, in HLML index order. A failure of an optional query (name,
  // uuid, serial, module id, minor, memory) leaves that field empty; a
  // failure of the count, the handle or the PCI info fails the call.
  virtual absl::StatusOr<std::vector<GaudiDevice>> ListDevices() const = 0;

  // The kernel driver's version ("1.17.0-..."), "" when not reported.
  virtual std::string driver_version() const = 0;
};

// Status for a non-zero HLML return code: "<operation>: hlml error <rc> (<name>)".
absl::Status HlmlStatus(int rc, std::string_view operation);

}  // namespace tessera::drivers::npu
