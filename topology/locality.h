// Locality rules of the node model (docs/topology.md states them for users):
//   - the NUMA node of a device;
//   - which bridges are PCIe switch upstream ports, and a device's nearest one;
//   - the relation of two devices, with the meanings of `nvidia-smi topo -m`.
//
// Pure functions on model values; thread-safe.
#pragma once

#include <optional>
#include <vector>

#include "base/cpu_set.h"
#include "base/pci_address.h"
#include "topology/model.h"

namespace tessera::topology {

// The NUMA rule. `sysfs_numa_node` is the kernel's numa_node (nullopt when
// there is none: an hwloc XML source, a kernel without NUMA, an unparsable
// value).
//   - numa_node >= 0 and a node of the model: that node;
//   - numa_node == -1 or absent: the single NUMA node whose CPUs cover every
//     CPU in `local_cpus` (none when local_cpus is empty or spans nodes);
//   - otherwise (a node the model does not have): none.
// A device local to several NUMA nodes or to none never gets one.
std::optional<int> ResolveNumaNode(std::optional<int> sysfs_numa_node,
                                   const base::CpuSet& local_cpus,
                                   const std::vector<NumaNode>& numa_nodes);

// Sets PciBridge::switch_upstream on every bridge.
//   - When a bridge's PCIe port type is known (config space), it decides.
//   - Otherwise the shape of the tree does, walking down from each root: a
//     bridge below a downstream-facing port (a root port, a switch downstream
//     port, or a top-level bridge of unknown type, taken for a root port) is a
//     switch upstream port when it has bridges below it, and a leaf bridge
//     (e.g. a PCIe-to-PCI bridge in front of a BMC's VGA) otherwise; bridges
//     below an upstream port are downstream ports. A bridge of unknown type
//     with bridges at two or more device numbers below it is an upstream port
//     wherever it sits (the root port is hidden on some platforms).
// REQUIRES: every PciBridge::parent is -1 or a valid index.
void MarkSwitchUpstreamPorts(std::vector<PciBridge>& bridges);

// The upstream port of the nearest switch above a device whose parent bridge
// is `parent_bridge` (-1: none), after MarkSwitchUpstreamPorts().
std::optional<base::PciAddress> NearestSwitchUpstream(const std::vector<PciBridge>& bridges,
                                                      int parent_bridge);

// The relation of two devices of `topology`:
//   same root, lowest common bridge C: PIX when each device has at most one
//     more bridge between it and C (one switch), PXB otherwise;
//   same root, no common bridge: PHB;
//   different or unknown roots: NODE when both have the same, non-empty NUMA
//     locality (the device's NUMA node, or the nodes its local CPUs touch
//     when it has none), SYS otherwise.
LinkType RelationBetween(const NodeTopology& topology, const PciDevice& a, const PciDevice& b);

// Links for every accelerator-NIC and accelerator-accelerator pair (NIC =
// rdma or nic), a < b, sorted. REQUIRES: kinds are set.
std::vector<Link> ComputeLinks(const NodeTopology& topology);

}  // namespace tessera::topology
