// DlopenDcmi: the production Dcmi. Loads libdcmi.so with dlopen(), resolves
// the symbols in internal/dcmi_abi.h and calls dcmi_init().
//
// Symbols come in two groups:
//   required  dcmi_init, dcmi_get_card_list (or the older
//             dcmi_get_card_num_list), dcmi_get_device_num_in_card,
//             dcmi_get_device_logic_id, dcmi_get_device_pcie_info_v2,
//             dcmi_get_device_chip_info: a missing one fails Load() with
//             FailedPrecondition naming it;
//   optional  unit type, logic->physical id, HBM and DDR memory, health,
//             device IP, version: each missing one leaves its field empty
//             (missing_symbols() lists them).
//
// Thread-safety: safe for concurrent use; calls into the library are
// serialized (DCMI documents no thread-safety of its own).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "drivers/npu/dcmi.h"

namespace tessera::drivers::npu {

class DlopenDcmi final : public Dcmi {
 public:
  // `library` is passed to dlopen(): a bare soname uses the loader's search
  // path, a path containing '/' is opened as is. NotFound when it cannot be
  // found; FailedPrecondition when it cannot be loaded, lacks a required
  // symbol, or dcmi_init fails (the driver is not loaded).
  static absl::StatusOr<std::unique_ptr<DlopenDcmi>> Load(
      const std::string& library = std::string(kDefaultDcmiLibrary));

  ~DlopenDcmi() override;

  absl::StatusOr<std::vector<AscendChip>> ListChips() const override;
  std::string version() const override;

  const std::string& library() const { return library_; }
  const std::vector<std::string>& missing_symbols() const;

  struct Api;  // function table; defined in the .cc (keeps dlfcn.h out)

 private:
  DlopenDcmi(std::unique_ptr<Api> api, std::string library);

  const std::unique_ptr<Api> api_;
  const std::string library_;
};

}  // namespace tessera::drivers::npu
