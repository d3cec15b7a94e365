// libFuzzer harness for the NPU driver's opaque configuration (NpuConfig,
// npu_config.h), as it arrives in a claim's or class's opaque parameters.
// The input is JSON: an object is one entry; an array is the entries of one
// device in order.
//
// Invariants: no crash; errors are InvalidArgument with a message that
// starts with the entry's path; an accepted entry, written back in the
// documented form, decodes to the same fields; only the documented runtime
// option (NODRV) gets through, never twice; applying entries follows "a
// later entry overrides the fields it sets".
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "base/json_util.h"
#include "drivers/npu/npu_config.h"
#include "test/fuzz/fuzz_check.h"

namespace {

namespace npu = tessera::drivers::npu;
using Json = nlohmann::json;
using tessera::fuzz::CheckCleanError;

constexpr std::string_view kDomain = "tessera.dev";
constexpr std::string_view kPath = "configs[0].parameters";

Json Encode(const npu::NpuConfigEntry& e) {
  Json out = {{"apiVersion", npu::NpuConfigApiVersion(kDomain)}, {"kind", npu::kNpuConfigKind}};
  if (e.ascend_runtime_options) out["ascendRuntimeOptions"] = *e.ascend_runtime_options;
  if (e.mount_hccn_conf) out["mountHccnConf"] = *e.mount_hccn_conf;
  if (e.habana_visible_modules) out["habanaVisibleModules"] = *e.habana_visible_modules;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<Json> input =
      tessera::base::json::Parse(tessera::fuzz::AsText(data, size), "input");
  if (!input.ok()) return 0;
  std::vector<Json> entries;
  if (input->is_array()) {
    for (size_t i = 0; i < input->size() && i < 8; ++i) entries.push_back((*input)[i]);
  } else {
    entries.push_back(*input);
  }
  npu::NpuConfig config;
  for (const Json& parameters : entries) {
    absl::StatusOr<npu::NpuConfigEntry> e = npu::ParseNpuConfig(parameters, kDomain, kPath);
    if (!e.ok()) {
      CheckCleanError(e.status(), {absl::StatusCode::kInvalidArgument}, "ParseNpuConfig");
      FUZZ_CHECK(tessera::base::Std(e.status().message()).starts_with(kPath),
                 "error does not name the entry: ", tessera::base::Std(e.status().message()));
      return 0;
    }
    if (e->ascend_runtime_options) {
      const std::vector<std::string>& o = *e->ascend_runtime_options;
      FUZZ_CHECK(std::all_of(o.begin(), o.end(), [](const std::string& v) { return v == "NODRV"; }),
                 "an undocumented runtime option got through");
      FUZZ_CHECK(o.size() <= 1, "a duplicate runtime option got through");
    }
    const Json encoded = Encode(*e);
    absl::StatusOr<npu::NpuConfigEntry> again = npu::ParseNpuConfig(encoded, kDomain, kPath);
    FUZZ_CHECK(again.ok(), "encoded entry does not decode: ", encoded.dump());
    FUZZ_CHECK(again->ascend_runtime_options == e->ascend_runtime_options &&
                   again->mount_hccn_conf == e->mount_hccn_conf &&
                   again->habana_visible_modules == e->habana_visible_modules,
               "round trip changed the entry: ", encoded.dump());

    const npu::NpuConfig before = config;
    config.Apply(*e);
    FUZZ_CHECK(config.mount_hccn_conf == e->mount_hccn_conf.value_or(before.mount_hccn_conf),
               "mountHccnConf not overridden as documented");
    FUZZ_CHECK(config.habana_visible_modules ==
                   e->habana_visible_modules.value_or(before.habana_visible_modules),
               "habanaVisibleModules not overridden as documented");
    FUZZ_CHECK(config.sets_gaudi_fields == (before.sets_gaudi_fields || e->habana_visible_modules),
               "sets_gaudi_fields");
    FUZZ_CHECK(config.sets_ascend_fields ==
                   (before.sets_ascend_fields || e->ascend_runtime_options || e->mount_hccn_conf),
               "sets_ascend_fields");
  }
  return 0;
}
