// ResourceSlice building: from what one driver enumerates (drivers::Inventory)
// to the desired slices of its pool, as resource.k8s.io/v1 JSON.
//
// One pool per driver and node: pool name = node name, spec.driver =
// "<family>.<domain>", spec.nodeName = node. The layout follows Kubernetes
// 1.35 (dra-api-facts.md §4, §5):
//   - counter sets (KEP-4815) in slices of their own, at most 8 per slice,
//     placed first;
//   - devices in name order, at most 128 per slice, 64 in a slice where any
//     device has taints or consumesCounters;
//   - an empty pool still gets one (empty) slice: "no devices" is not "no pool".
// Unset fields are omitted (never "" or false). Attribute names in the
// driver's own domain are emitted unqualified ("uuid", not
// "gpu.tessera.dev/uuid"), which upstream treats as the same name; other
// domains stay qualified ("resource.kubernetes.io/pcieRoot").
//
// Gated features are off by default, for 1.34/1.35 clusters:
//   - partitionable_devices off: no counter sets and no consumesCounters. A
//     device that consumes counters is published (without them) only when it
//     consumes every counter of each set it names in full, i.e. it is the
//     whole physical device, and no earlier device took those sets; the
//     partitions are skipped (they would overlap without counters).
//   - consumable_capacity off: allowMultipleAllocations and capacity
//     requestPolicy are omitted; such devices are published as exclusive.
//   - device_taints off: taints are omitted and unhealthy devices are skipped.
//     On: driver taints are published and an unhealthy device gets the taint
//     "<driver>/unhealthy" (NoSchedule).
// Devices that cannot be published (invalid name or attribute, too many
// attributes, a dangling counter reference, a duplicate name) are skipped and
// listed in DesiredPool::skipped with the reason; the rest is published.
//
// Pure functions; thread-safe. The output is deterministic: the same
// inventory and options give byte-identical JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "drivers/device_driver.h"
#include "nlohmann/json.hpp"

namespace tessera::agent::kube {

struct SliceBuildOptions {
  bool partitionable_devices = false;  // KEP-4815, gate DRAPartitionableDevices
  bool consumable_capacity = false;    // KEP-5075, gate DRAConsumableCapacity
  bool device_taints = false;          // gate DRADeviceTaints
};

struct SkippedDevice {
  std::string device;
  std::string reason;
  friend bool operator==(const SkippedDevice&, const SkippedDevice&) = default;
};

// The desired state of one pool.
struct DesiredPool {
  std::string driver;
  std::string pool;
  std::string node_name;
  // One entry per slice: the slice's content, either {"devices": [...]} or
  // {"sharedCounters": [...]} ({} for the slice of an empty pool).
  std::vector<nlohmann::json> slices;
  std::vector<SkippedDevice> skipped;
};

// The Node that owns the slices (controller owner reference).
struct NodeOwner {
  std::string name;
  std::string uid;
};

// "gpu" + "tessera.dev" -> "gpu.tessera.dev".
std::string DriverName(std::string_view family, std::string_view domain);

// generateName of new slices: "<node>-<driver>-" (upstream helper v0.35),
// cut to the 58 characters the API server keeps.
std::string SliceGenerateName(std::string_view node, std::string_view driver);

// Builds the desired slices. InvalidArgument when the driver or node name is
// not valid, or (a bug) when the result does not pass ValidateResourceSlice /
// ValidatePool.
absl::StatusOr<DesiredPool> BuildPool(std::string_view driver, std::string_view node,
                                      const drivers::Inventory& inventory,
                                      const SliceBuildOptions& options);

// Slice `index` of `pool` as a full ResourceSlice object, the way the
// publisher creates it: metadata.generateName, the owner reference when
// `owner` is set, spec.pool {name, generation, resourceSliceCount}.
// REQUIRES: index < pool.slices.size().
nlohmann::json RenderSlice(const DesiredPool& pool, size_t index, int64_t generation,
                           const std::optional<NodeOwner>& owner);

// BuildPool + RenderSlice for every slice at generation 1, no owner: what
// `node-debug slices` prints.
absl::StatusOr<std::vector<nlohmann::json>> BuildSlices(std::string_view driver,
                                                        std::string_view node,
                                                        const drivers::Inventory& inventory,
                                                        const SliceBuildOptions& options);

// One device as resource.k8s.io/v1 Device JSON, with the option rules above
// applied except the whole-device rule for counters (which needs the pool).
// Exposed for tests and node-debug.
nlohmann::json EncodeDevice(const drivers::Device& device, std::string_view driver,
                            const SliceBuildOptions& options);

}  // namespace tessera::agent::kube
