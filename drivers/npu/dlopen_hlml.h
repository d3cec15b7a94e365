// DlopenHlml: the production Hlml. Loads libhlml.so with dlopen(), resolves
// the symbols in internal/hlml_abi.h, calls hlml_init() and, on destruction,
// hlml_shutdown().
//
// Symbols: required hlml_init, hlml_shutdown, hlml_device_get_count,
// hlml_device_get_handle_by_index, hlml_device_get_pci_info (a missing one
// fails Load() with FailedPrecondition naming it); optional name, uuid,
// serial, module id, minor number, memory info, driver version.
//
// HLML keeps process-wide state: hold at most one DlopenHlml per process.
// Thread-safety: safe for concurrent use; calls are serialized.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "drivers/npu/hlml.h"

namespace tessera::drivers::npu {

class DlopenHlml final : public Hlml {
 public:
  // NotFound when the library cannot be found; FailedPrecondition when it
  // cannot be loaded, lacks a required symbol, or hlml_init fails (for
  // example HLML_ERROR_DRIVER_NOT_LOADED).
  static absl::StatusOr<std::unique_ptr<DlopenHlml>> Load(
      const std::string& library = std::string(kDefaultHlmlLibrary));

  ~DlopenHlml() override;

  absl::StatusOr<std::vector<GaudiDevice>> ListDevices() const override;
  std::string driver_version() const override;

  const std::string& library() const { return library_; }
  const std::vector<std::string>& missing_symbols() const;

  struct Api;

 private:
  DlopenHlml(std::unique_ptr<Api> api, std::string library);

  const std::unique_ptr<Api> api_;
  const std::string library_;
};

}  // namespace tessera::drivers::npu
