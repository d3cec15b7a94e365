// Realistic drivers::Inventory values for the publisher's tests, the schema
// check and the benchmark: an 8-GPU HGX-like node, its RDMA NICs, and GPUs
// carved into partitions with counter sets (KEP-4815).
#pragma once

#include <algorithm>
#include <string>

#include "base/quantity.h"
#include "base/strings.h"
#include "drivers/attributes.h"
#include "drivers/device_driver.h"
#include "spdlog/fmt/fmt.h"

namespace tessera::testing {

inline base::Quantity Gi(int64_t n) {
  return base::Quantity::FromInt(n * (int64_t{1} << 30), base::Quantity::Format::kBinarySI);
}
inline base::Quantity Units(int64_t n) { return base::Quantity::FromInt(n); }

// One whole GPU as the GPU driver enumerates it.
inline drivers::Device Gpu(int index, int numa) {
  drivers::Device d;
  d.name = fmt::format("gpu-{}", index);
  std::string bdf = fmt::format("0000:{:02x}:00.0", 0x18 + index * 0x10);
  d.attributes[std::string(drivers::kAttrUuid)] =
      fmt::format("GPU-4b1c1e9a-77d2-4d1c-9b3e-00000000000{}", index);
  d.attributes[std::string(drivers::kAttrModel)] = std::string("NVIDIA H100 80GB HBM3");
  d.attributes[std::string(drivers::kAttrIndex)] = int64_t{index};
  d.attributes[std::string(drivers::kAttrArchitecture)] = std::string("Hopper");
  d.attributes[std::string(drivers::kAttrComputeCapability)] = drivers::Version{"9.0.0"};
  d.attributes[std::string(drivers::kAttrDriverVersion)] = drivers::Version{"550.54.15"};
  d.attributes[std::string(drivers::kAttrPciBusId)] = bdf;
  d.attributes[std::string(drivers::kAttrPcieRoot)] = fmt::format("pci0000:{:02x}", 0x10 + index * 0x10);
  d.attributes[std::string(drivers::kAttrNumaNode)] = int64_t{numa};
  d.attributes[drivers::AlignmentAttribute("tessera.dev", drivers::kAlignPcieSwitch)] =
      fmt::format("pcie-switch-{}", index / 2);
  d.capacity[std::string(drivers::kCapMemory)] = {Gi(80), std::nullopt};
  return d;
}

inline drivers::Device Nic(int index, int numa) {
  drivers::Device d;
  d.name = fmt::format("mlx5-{}", index);
  d.attributes[std::string(drivers::kAttrRdmaDevice)] = fmt::format("mlx5_{}", index);
  d.attributes[std::string(drivers::kAttrIfName)] = fmt::format("ibp{}s0", 0x1a + index * 0x10);
  d.attributes[std::string(drivers::kAttrLinkLayer)] = std::string("InfiniBand");
  d.attributes[std::string(drivers::kAttrSpeedGbps)] = int64_t{400};
  d.attributes[std::string(drivers::kAttrPciBusId)] =
      fmt::format("0000:{:02x}:00.0", 0x1a + index * 0x10);
  d.attributes[std::string(drivers::kAttrNumaNode)] = int64_t{numa};
  d.attributes[drivers::AlignmentAttribute("tessera.dev", drivers::kAlignPcieSwitch)] =
      fmt::format("pcie-switch-{}", index / 2);
  return d;
}

inline drivers::Inventory GpuNode(int gpus = 8) {
  drivers::Inventory inv;
  for (int i = 0; i < gpus; ++i) inv.devices.push_back(Gpu(i, i < gpus / 2 ? 0 : 1));
  return inv;
}

inline drivers::Inventory NicNode(int nics = 8) {
  drivers::Inventory inv;
  for (int i = 0; i < nics; ++i) inv.devices.push_back(Nic(i, i < nics / 2 ? 0 : 1));
  return inv;
}

// `gpus` GPUs, each with a counter set "gpu-<i>-counters" {memory, sm} and
// `partitions` devices: the whole GPU ("gpu-<i>", consuming everything) plus
// partitions-1 slices ("gpu-<i>-p<k>", each a share of memory and SMs).
inline drivers::Inventory PartitionedGpuNode(int gpus, int partitions) {
  drivers::Inventory inv;
  for (int g = 0; g < gpus; ++g) {
    std::string set = fmt::format("gpu-{}-counters", g);
    drivers::CounterSet cs{set, {{"memory", Gi(80)}, {"sm", Units(132)}}};
    inv.counter_sets.push_back(cs);
    drivers::Device whole = Gpu(g, g % 2);
    whole.consumes_counters = {{set, cs.counters}};
    inv.devices.push_back(whole);
    for (int p = 1; p < partitions; ++p) {
      drivers::Device part;
      part.name = fmt::format("gpu-{}-p{}", g, p);
      part.attributes[std::string(drivers::kAttrParentUuid)] =
          std::get<std::string>(whole.attributes.at(std::string(drivers::kAttrUuid)));
      part.attributes[std::string(drivers::kAttrMigProfile)] = std::string("1g.10gb");
      part.attributes[std::string(drivers::kAttrNumaNode)] = int64_t{g % 2};
      part.capacity[std::string(drivers::kCapMemory)] = {Gi(10), std::nullopt};
      part.consumes_counters = {{set, {{"memory", Gi(10)}, {"sm", Units(16)}}}};
      inv.devices.push_back(part);
    }
  }
  std::sort(inv.devices.begin(), inv.devices.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  std::sort(inv.counter_sets.begin(), inv.counter_sets.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return inv;
}

}  // namespace tessera::testing
