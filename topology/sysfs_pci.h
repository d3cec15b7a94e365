// The sysfs reader: PCI functions, their place in the PCIe tree, their OS
// devices, and NVIDIA device minors, read through base::Sysfs.
//
// It reads what hwloc is not asked for (the loader asks hwloc for CPUs and NUMA
// only), each file once:
//   /sys/bus/pci/devices/<bdf>             the link gives root complex and upstream chain
//   <device>/config                        ids, class, subsystem, bus numbers (64 bytes;
//                                          256 for bridges, for the PCIe port type)
//   <device>/{vendor,device,class,...}     only when config is unreadable or short
//   <device>/numa_node, local_cpulist      (local_cpus when there is no list)
//   <device>/driver, physfn (links), sriov_totalvfs, sriov_numvfs
//   /sys/class/{infiniband,net,infiniband_verbs,infiniband_mad,drm,accel,habanalabs,mic}
//   <proc>/driver/nvidia/gpus/<bdf>/information
// Attributes are read through the canonical device path, never through a
// capture's absolute links (which would point at the host's /sys).
//
// Bad input never fails the scan: a function that vanishes mid-scan is
// dropped, a garbage value becomes "unknown", and each such case adds a line
// to `warnings` (documented in docs/topology.md).
//
// Thread-safety: stateless functions; `sys` and `proc` must be safe for
// concurrent reads only if the caller shares them across threads.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "base/sysfs.h"
#include "topology/model.h"
#include "topology/pci_tree.h"

namespace tessera::topology {

struct SysfsPciScan {
  std::vector<PciFunction> functions;  // sorted by address
  // OS devices with the PCI function that owns them, in the order they should
  // be listed on that function.
  std::vector<std::pair<base::PciAddress, OsDevice>> os_devices;
  std::vector<std::string> warnings;
};

// The /sys/class directories read for OS devices, in listing order.
const std::vector<std::string>& OsDeviceClasses();

// Reads every PCI function and its OS devices from `sys` (a tree rooted at
// the sysfs root, i.e. holding bus/, class/, devices/). `proc`, when not null,
// is the procfs root used for NVIDIA GPU minors. A tree without bus/pci gives
// an empty scan. Returns PermissionDenied (or the errno's code) only when
// bus/pci/devices exists but cannot be listed.
absl::StatusOr<SysfsPciScan> ReadSysfsPci(const base::Sysfs& sys, const base::Sysfs* proc);

}  // namespace tessera::topology
