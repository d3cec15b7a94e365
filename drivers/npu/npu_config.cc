#include "drivers/npu/npu_config.h"

#include <algorithm>

#include "base/json_util.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace tessera::drivers::npu {

namespace {

namespace json = base::json;

// ASCEND_RUNTIME_OPTIONS values a user may ask for (Ascend Docker Runtime:
// "NODRV" skips mounting the host's driver into the container). "VIRTUAL" is
// the driver's own business: it marks ASCEND_VISIBLE_DEVICES as vNPU ids.
constexpr std::string_view kUserRuntimeOptions[] = {"NODRV"};

}  // namespace

std::string NpuConfigApiVersion(std::string_view domain) {
  return base::StrCat("npu.", domain, "/v1alpha1");
}

void NpuConfig::Apply(const NpuConfigEntry& entry) {
  if (entry.ascend_runtime_options) {
    ascend_runtime_options = *entry.ascend_runtime_options;
    sets_ascend_fields = true;
  }
  if (entry.mount_hccn_conf) {
    mount_hccn_conf = *entry.mount_hccn_conf;
    sets_ascend_fields = true;
  }
  if (entry.habana_visible_modules) {
    habana_visible_modules = *entry.habana_visible_modules;
    sets_gaudi_fields = true;
  }
}

absl::StatusOr<NpuConfigEntry> ParseNpuConfig(const nlohmann::json& parameters,
                                              std::string_view domain, std::string_view path) {
  if (!parameters.is_object()) return json::TypeError(path, "object", parameters);
  RETURN_IF_ERROR(json::RejectUnknownFields(
      parameters, path,
      {"apiVersion", "kind", "ascendRuntimeOptions", "mountHccnConf", "habanaVisibleModules"}));
  ASSIGN_OR_RETURN(std::string api_version, json::GetString(parameters, path, "apiVersion"));
  const std::string want_version = NpuConfigApiVersion(domain);
  if (api_version != want_version) {
    return absl::InvalidArgumentError(base::StrCat(json::Field(path, "apiVersion"), ": ",
                                                   base::Quote(api_version), " is not ",
                                                   base::Quote(want_version)));
  }
  ASSIGN_OR_RETURN(std::string kind, json::GetString(parameters, path, "kind"));
  if (kind != kNpuConfigKind) {
    return absl::InvalidArgumentError(
        base::StrCat(json::Field(path, "kind"), ": ", base::Quote(kind), " is not \"NpuConfig\""));
  }

  NpuConfigEntry entry;
  ASSIGN_OR_RETURN(const nlohmann::json* options,
                   json::GetOptionalArray(parameters, path, "ascendRuntimeOptions"));
  if (options != nullptr) {
    const std::string field = json::Field(path, "ascendRuntimeOptions");
    std::vector<std::string> values;
    for (size_t i = 0; i < options->size(); ++i) {
      const nlohmann::json& v = (*options)[i];
      const std::string at = json::Index(field, i);
      if (!v.is_string()) return json::TypeError(at, "string", v);
      const std::string value = v.get<std::string>();
      if (std::find(std::begin(kUserRuntimeOptions), std::end(kUserRuntimeOptions), value) ==
          std::end(kUserRuntimeOptions)) {
        return absl::InvalidArgumentError(base::StrCat(
            at, ": ", base::Quote(value), " is not a supported Ascend runtime option (NODRV)"));
      }
      if (std::find(values.begin(), values.end(), value) != values.end()) {
        return absl::InvalidArgumentError(base::StrCat(at, ": duplicate ", base::Quote(value)));
      }
      values.push_back(value);
    }
    entry.ascend_runtime_options = std::move(values);
  }
  ASSIGN_OR_RETURN(entry.mount_hccn_conf, json::GetOptionalBool(parameters, path, "mountHccnConf"));
  ASSIGN_OR_RETURN(entry.habana_visible_modules,
                   json::GetOptionalBool(parameters, path, "habanaVisibleModules"));
  return entry;
}

}  // namespace tessera::drivers::npu
