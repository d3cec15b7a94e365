// GpuConfig: the opaque configuration a ResourceClaim or DeviceClass hands
// the GPU driver (kind GpuConfig, apiVersion gpu.<domain>/v1alpha1), and how
// several entries for one device combine. docs/gpu.md is the user reference.
//
//   apiVersion: gpu.tessera.dev/v1alpha1
//   kind: GpuConfig
//   sharing:
//     strategy: Exclusive | TimeSlicing | MPS     # default Exclusive
//     timeSlicing:                                # only with TimeSlicing
//       interval: Default | Short | Medium | Long # default Default
//     mps:                                        # only with MPS
//       activeThreadPercentage: 50                # 1..100
//       pinnedDeviceMemoryLimit: 20Gi             # a quantity, >= 1Mi
//
// Decoding is strict: unknown fields, another kind or apiVersion, wrong
// types and out-of-range values are InvalidArgument naming the field
// ("sharing.mps.activeThreadPercentage: 150 is out of range 1..100"). What
// needs the device (a memory limit above the GPU's memory, MPS on an AMD GPU)
// is checked by the driver at prepare time.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

#include "drivers/device_driver.h"

namespace tessera::drivers::gpu {

inline constexpr std::string_view kGpuConfigKind = "GpuConfig";

enum class SharingStrategy { kExclusive, kTimeSlicing, kMps };
// "Exclusive", "TimeSlicing", "MPS".
std::string_view SharingStrategyName(SharingStrategy strategy);
std::optional<SharingStrategy> ParseSharingStrategy(std::string_view name);

// nvidia-smi compute-policy --set-timeslice values: Default 0, Short 1,
// Medium 2, Long 3.
enum class TimeSliceInterval { kDefault = 0, kShort = 1, kMedium = 2, kLong = 3 };
std::string_view TimeSliceIntervalName(TimeSliceInterval interval);
std::optional<TimeSliceInterval> ParseTimeSliceInterval(std::string_view name);

struct MpsLimits {
  std::optional<int> active_thread_percentage;         // 1..100
  std::optional<uint64_t> pinned_device_memory_bytes;  // >= 1 MiB, whole MiB (rounded down)
  friend bool operator==(const MpsLimits&, const MpsLimits&) = default;
};

struct GpuConfig {
  SharingStrategy strategy = SharingStrategy::kExclusive;
  bool strategy_set = false;  // the config named a strategy explicitly
  TimeSliceInterval interval = TimeSliceInterval::kDefault;
  MpsLimits mps;
  friend bool operator==(const GpuConfig&, const GpuConfig&) = default;
};

// "gpu.<domain>/v1alpha1".
std::string GpuConfigApiVersion(std::string_view domain);

// Decodes one opaque parameters object. InvalidArgument naming the field.
absl::StatusOr<GpuConfig> ParseGpuConfig(const nlohmann::json& parameters, std::string_view domain);

// The configuration of one device: every entry is decoded (a bad entry is an
// error even when a later one would replace it), and the last one wins, so a
// claim's config (FromClaim) overrides its class's (FromClass). No entries:
// the default (Exclusive). Errors name the entry: "config 2 (FromClaim): ...".
absl::StatusOr<GpuConfig> ResolveGpuConfig(const std::vector<OpaqueConfig>& configs,
                                           std::string_view domain);

}  // namespace tessera::drivers::gpu
