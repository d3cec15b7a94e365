// libFuzzer harness for the GPU driver's opaque configuration (GpuConfig,
// gpu_config.h), as it arrives in a claim's or class's opaque parameters.
// The input is JSON: an object is one entry; an array is the entries of one
// device in order (FromClass, FromClaim, alternating).
//
// Invariants: no crash; errors are InvalidArgument with a message naming the
// entry for ResolveGpuConfig; an accepted entry, written back as the
// documented YAML/JSON form, decodes to the same GpuConfig; the last entry
// wins in ResolveGpuConfig, and resolving an entry twice changes nothing.
#include <cstdint>
#include <string>
#include <vector>

#include "base/json_util.h"
#include "drivers/gpu/gpu_config.h"
#include "test/fuzz/fuzz_check.h"

namespace {

namespace gpu = tessera::drivers::gpu;
using Json = nlohmann::json;
using tessera::fuzz::CheckCleanError;

constexpr std::string_view kDomain = "tessera.dev";
constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

Json Encode(const gpu::GpuConfig& c) {
  Json out = {{"apiVersion", gpu::GpuConfigApiVersion(kDomain)}, {"kind", gpu::kGpuConfigKind}};
  if (!c.strategy_set) return out;
  Json sharing = {{"strategy", gpu::SharingStrategyName(c.strategy)}};
  if (c.strategy == gpu::SharingStrategy::kTimeSlicing) {
    sharing["timeSlicing"] = {{"interval", gpu::TimeSliceIntervalName(c.interval)}};
  }
  if (c.strategy == gpu::SharingStrategy::kMps) {
    Json mps = Json::object();
    if (c.mps.active_thread_percentage) {
      mps["activeThreadPercentage"] = *c.mps.active_thread_percentage;
    }
    if (c.mps.pinned_device_memory_bytes) {
      mps["pinnedDeviceMemoryLimit"] = tessera::base::StrCat(*c.mps.pinned_device_memory_bytes);
    }
    sharing["mps"] = std::move(mps);
  }
  out["sharing"] = std::move(sharing);
  return out;
}

void CheckEntry(const Json& parameters) {
  absl::StatusOr<gpu::GpuConfig> c = gpu::ParseGpuConfig(parameters, kDomain);
  if (!c.ok()) return CheckCleanError(c.status(), {kInvalid}, "ParseGpuConfig");
  FUZZ_CHECK(c->strategy_set || c->strategy == gpu::SharingStrategy::kExclusive,
             "a strategy other than the default without strategy_set");
  FUZZ_CHECK(!c->mps.active_thread_percentage ||
                 (*c->mps.active_thread_percentage >= 1 && *c->mps.active_thread_percentage <= 100),
             "activeThreadPercentage ", c->mps.active_thread_percentage.value_or(0));
  FUZZ_CHECK(
      !c->mps.pinned_device_memory_bytes || (*c->mps.pinned_device_memory_bytes >= (1u << 20) &&
                                             *c->mps.pinned_device_memory_bytes % (1u << 20) == 0),
      "pinnedDeviceMemoryLimit ", c->mps.pinned_device_memory_bytes.value_or(0),
      " is not whole MiB >= 1Mi");
  const Json encoded = Encode(*c);
  absl::StatusOr<gpu::GpuConfig> again = gpu::ParseGpuConfig(encoded, kDomain);
  FUZZ_CHECK(again.ok(), "encoded config does not decode: ", encoded.dump(), ": ",
             again.ok() ? "" : tessera::base::Std(again.status().message()));
  FUZZ_CHECK(*again == *c, "round trip changed the config: ", encoded.dump());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<Json> input =
      tessera::base::json::Parse(tessera::fuzz::AsText(data, size), "input");
  if (!input.ok()) return 0;
  std::vector<tessera::drivers::OpaqueConfig> entries;
  if (input->is_array()) {
    for (size_t i = 0; i < input->size() && i < 8; ++i) {
      entries.push_back(
          {.source = i % 2 == 0 ? "FromClass" : "FromClaim", .parameters = (*input)[i]});
    }
  } else {
    entries.push_back({.source = "FromClaim", .parameters = *input});
  }
  for (const auto& e : entries) CheckEntry(e.parameters);

  absl::StatusOr<gpu::GpuConfig> resolved = gpu::ResolveGpuConfig(entries, kDomain);
  if (!resolved.ok()) {
    CheckCleanError(resolved.status(), {kInvalid}, "ResolveGpuConfig");
    FUZZ_CHECK(tessera::base::Std(resolved.status().message()).starts_with("config "),
               "ResolveGpuConfig error does not name the entry: ",
               tessera::base::Std(resolved.status().message()));
    return 0;
  }
  if (!entries.empty()) {
    absl::StatusOr<gpu::GpuConfig> last = gpu::ParseGpuConfig(entries.back().parameters, kDomain);
    FUZZ_CHECK(last.ok() && *last == *resolved, "ResolveGpuConfig is not the last entry");
    std::vector<tessera::drivers::OpaqueConfig> twice = entries;
    twice.insert(twice.end(), entries.begin(), entries.end());
    absl::StatusOr<gpu::GpuConfig> again = gpu::ResolveGpuConfig(twice, kDomain);
    FUZZ_CHECK(again.ok() && *again == *resolved, "resolving the entries twice changed the result");
  } else {
    FUZZ_CHECK(*resolved == gpu::GpuConfig{}, "no entries must give the default");
  }
  return 0;
}
