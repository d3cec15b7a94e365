// PCI tree building: from a flat list of PCI functions, each carrying the
// chain of functions above it (as the kernel's device path shows it), to the
// model's roots, bridges and devices with their cross-indices.
//
// Pure functions on values; the sysfs reader (sysfs_pci.h) produces the input,
// the loader (loader.h) consumes the output. The hwloc adapter builds the same
// vectors from hwloc's tree and only needs SortPciTree().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/cpu_set.h"
#include "base/pci_address.h"
#include "topology/model.h"

namespace tessera::topology {

// One PCI function as read from sysfs, before it is placed in the tree.
struct PciFunction {
  base::PciAddress address;
  // Root complex from the device path ("pci0000:80"); "" when unknown.
  std::string root_name;
  // The PCI functions above it in the device path, top first (root port
  // first), excluding itself.
  std::vector<base::PciAddress> upstream;

  bool is_bridge = false;  // a PCI-to-PCI bridge (type 1 header)
  uint16_t vendor_id = 0;
  uint16_t device_id = 0;
  uint16_t subsystem_vendor_id = 0;
  uint16_t subsystem_device_id = 0;
  uint32_t class_code = 0;
  uint8_t secondary_bus = 0;    // bridges only
  uint8_t subordinate_bus = 0;  // bridges only
  PciePortType port_type = PciePortType::kUnknown;  // bridges only

  std::string driver;
  // sysfs numa_node as read; nullopt when absent or unparsable.
  std::optional<int> sysfs_numa_node;
  base::CpuSet local_cpus;
  std::optional<base::PciAddress> physfn;
  int sriov_totalvfs = 0;
  int sriov_numvfs = 0;
};

struct PciTree {
  std::vector<PciRoot> roots;      // sorted by domain, first bus
  std::vector<PciBridge> bridges;  // sorted by address
  std::vector<PciDevice> devices;  // sorted by address; kind, numa_node unset
  // sysfs numa_node of devices[i], for the NUMA rule.
  std::vector<std::optional<int>> sysfs_numa_node;
  std::vector<std::string> warnings;
};

// Places every function: bridges get their parent bridge and root, devices
// their parent bridge and root. A function listed twice is kept once. A
// function whose device path names an upstream function that is not in the
// list (hidden, or vanished during the scan) is attached to the nearest
// upstream bridge that is, with a warning.
PciTree BuildPciTree(std::vector<PciFunction> functions);

// Sorts roots, bridges and devices of `topology` into the model's order and
// rewrites the indices that point into them.
void SortPciTree(NodeTopology& topology);

// Parses a root complex name "pci0000:80" (also "pci10000:e0" for VMD
// domains). InvalidArgument otherwise.
struct RootName {
  uint32_t domain = 0;
  uint8_t bus = 0;
};
absl::StatusOr<RootName> ParseRootName(std::string_view name);

}  // namespace tessera::topology
