// NpuConfig: the opaque device configuration of the NPU driver, as a
// DeviceClass or ResourceClaim carries it:
//
//   config:
//   - opaque:
//       driver: npu.tessera.dev
//       parameters:
//         apiVersion: npu.tessera.dev/v1alpha1   # npu.<driver domain>/v1alpha1
//         kind: NpuConfig
//         ascendRuntimeOptions: ["NODRV"]        # Ascend only
//         mountHccnConf: true                    # Ascend only
//         habanaVisibleModules: true             # Gaudi only
//
// Decoding is strict: apiVersion and kind must match exactly, unknown fields
// and wrong types are InvalidArgument naming the field. A field that belongs
// to another vendor than the device's is InvalidArgument too (a config meant
// for Gaudi on an Ascend request is a mistake, not a no-op).
//
// Fields:
//   ascendRuntimeOptions  values for ASCEND_RUNTIME_OPTIONS, read by the
//                         Ascend Docker Runtime hook when it is installed;
//                         only "NODRV" (do not mount the host driver) is
//                         accepted: "VIRTUAL" is set by the driver itself
//                         for vNPUs. Default: none.
//   mountHccnConf         mount the host's /etc/hccn.conf (the NPUs' RoCE
//                         addresses, read by HCCL) read-only when it exists.
//                         Default true.
//   habanaVisibleModules  set HABANA_VISIBLE_MODULES (OAM slots) next to
//                         HABANA_VISIBLE_DEVICES. Default true.
//
// Several entries apply in order (FromClass before FromClaim); a later entry
// overrides the fields it sets. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace tessera::drivers::npu {

inline constexpr std::string_view kNpuConfigKind = "NpuConfig";

// "npu.<domain>/v1alpha1".
std::string NpuConfigApiVersion(std::string_view domain);

// One decoded entry: only the fields it sets.
struct NpuConfigEntry {
  std::optional<std::vector<std::string>> ascend_runtime_options;
  std::optional<bool> mount_hccn_conf;
  std::optional<bool> habana_visible_modules;
};

// The effective configuration of one device.
struct NpuConfig {
  std::vector<std::string> ascend_runtime_options;
  bool mount_hccn_conf = true;
  bool habana_visible_modules = true;
  // Which vendor-specific fields were set by any entry, for the vendor check.
  bool sets_ascend_fields = false;
  bool sets_gaudi_fields = false;

  void Apply(const NpuConfigEntry& entry);
  friend bool operator==(const NpuConfig&, const NpuConfig&) = default;
};

// Decodes one opaque parameters object. `path` prefixes error messages
// ("configs[1].parameters"). InvalidArgument on any violation above.
absl::StatusOr<NpuConfigEntry> ParseNpuConfig(const nlohmann::json& parameters,
                                              std::string_view domain, std::string_view path);

}  // namespace tessera::drivers::npu
