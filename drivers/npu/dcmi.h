// Dcmi: the part of Huawei's DCMI library (libdcmi.so, shipped with the
// Ascend driver) the NPU driver uses, in our own types. No DCMI type or
// constant leaks through this interface.
//
// Production: DlopenDcmi (dlopen_dcmi.h) loads the library at run time; the
// build never needs Ascend headers or libraries. Tests: the same DlopenDcmi
// on the fake libdcmi.so built in drivers/npu/testing/, driven by JSON.
//
// DCMI addresses an NPU chip by (card id, device id within the card); the
// kernel names its node /dev/davinci<physical id>, and npu-smi takes
// "-i <card id> -c <chip id>" (the device id). One 910B card holds one chip,
// a 310P Duo card two.
//
// Errors carry the DCMI return code in the message and a code callers can
// branch on (codes from dcmi_interface_api.h, DCMI_ERROR_CODE_BASE = -8000):
//   InvalidArgument     -8001 invalid parameter
//   PermissionDenied    -8002 operation not permitted
//   DeadlineExceeded    -8006 time out
//   NotFound            -8007 invalid device id, -8008 device does not exist
//   Unavailable         -8012 not ready, -8017 upgrading, -8020 resource occupied
//   Unimplemented       -8255 not supported, -8013 not supported in a container
//   FailedPrecondition  anything else (inner errors, ioctl and message failures)
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

// What dlopen() is asked for when no path is configured. The Ascend driver
// installs it under /usr/local/Ascend/driver/lib64/driver/ (and
// /usr/local/dcmi/), both on the loader path of an Ascend host.
inline constexpr std::string_view kDefaultDcmiLibrary = "libdcmi.so";

// One NPU chip as DCMI reports it.
struct AscendChip {
  int card_id = 0;
  int device_id = 0;         // chip index within the card ("npu-smi -c")
  int logic_id = -1;         // dcmi_get_device_logic_id
  int physical_id = -1;      // /dev/davinci<physical_id>; equals logic_id when the
                             // library cannot map logic ids
  std::string chip_type;     // "Ascend"
  std::string chip_name;     // "910B3", "310P3"
  std::string chip_version;  // "V1"
  uint32_t aicore_count = 0;
  std::optional<base::PciAddress> pci_address;
  uint16_t pci_vendor_id = 0;
  uint16_t pci_device_id = 0;
  // HBM (dcmi_get_device_hbm_info) or, where a chip has none, DDR
  // (dcmi_get_device_memory_info_v3); nullopt when neither answers.
  std::optional<uint64_t> memory_bytes;
  // dcmi_get_device_health: 0 normal, 1 minor, 2 major, 3 critical alarm;
  // nullopt when not reported.
  std::optional<uint32_t> health;
  // The IPv4 address of the chip's integrated RoCE port (port 0), "" when
  // none is configured or the chip has no such port.
  std::string roce_ip;

  friend bool operator==(const AscendChip&, const AscendChip&) = default;
};

class Dcmi {
 public:
  virtual ~Dcmi() = default;
  Dcmi() = default;
  Dcmi(const Dcmi&) = delete;
  Dcmi& operator=(const Dcmi&) = delete;

  // Every NPU chip of every card, in (card id, device id) order; MCU and CPU
  // units of a card are skipped. A failure of an optional query (memory,
  // health, address) leaves that field empty; a failure of a required one
  // (card list, chip count, logic id, PCI info, chip info) fails the call.
  virtual absl::StatusOr<std::vector<AscendChip>> ListChips() const = 0;

  // The library's version ("24.1.rc2"), "" when it does not say.
  virtual std::string version() const = 0;
};

// Status for a non-zero DCMI return code, per the table above:
// "<operation>: dcmi error <rc> (<name>)".
absl::Status DcmiStatus(int rc, std::string_view operation);

}  // namespace tessera::drivers::npu
