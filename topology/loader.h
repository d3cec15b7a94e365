// LoadTopology: the one entry point that builds the node model.
//
// Three sources, one result:
//   - the live host: hwloc (CPUs, NUMA nodes, distances) + our sysfs reader
//     (PCI tree, drivers, numa_node, SR-IOV, OS devices) on <host root>/sys,
//     and <host root>/proc for NVIDIA minors. The host root is "/" or, in a
//     container, where the host's root is mounted ($HOST_ROOT);
//   - a captured root (`--sysfs-root DIR`): the same readers on DIR, which
//     holds sys/ (and proc/) as `node-debug snapshot` and hwloc's test
//     captures lay them out; DIR may also be the sys directory itself;
//   - an hwloc XML export (`--hwloc-xml FILE`): everything from hwloc,
//     including OS devices (NVML, RSMI, OpenCL, OpenFabrics, network).
// Then the same steps for all: classification (classify.h), the NUMA rule,
// switch upstream ports and relations (locality.h). docs/topology.md
// documents the result.
//
// Thread-safety: LoadTopology may be called from several threads (hwloc loads
// of a filesystem root are serialized inside the hwloc adapter).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "base/sysfs.h"
#include "topology/model.h"

namespace tessera::topology {

struct TopologySource {
  enum class Kind { kLive, kSysfsRoot, kHwlocXml };
  Kind kind = Kind::kLive;
  // kLive: the host root ("/"); kSysfsRoot: the capture directory;
  // kHwlocXml: the XML file.
  std::string path = "/";

  static TopologySource Live(std::string host_root = "/");
  static TopologySource SysfsRoot(std::string dir);
  static TopologySource HwlocXml(std::string file);

  // NodeTopology::source for this source: "live", "sysfs:<dir>", "hwloc-xml:<file>".
  std::string Label() const;
};

// Builds the model. Returns
//   NotFound          the directory or file does not exist;
//   InvalidArgument   it is not a sysfs root / not an hwloc XML hwloc can load
//                     (or crashes on), or it lacks sys/devices/system/cpu;
//   DeadlineExceeded  hwloc did not finish reading an XML file in time;
//   PermissionDenied  bus/pci/devices cannot be listed;
// each annotated with the source. Bad values inside an otherwise usable
// source are not errors: they give the degraded results listed in
// NodeTopology::warnings (docs/topology.md, "Bad input").
absl::StatusOr<NodeTopology> LoadTopology(const TopologySource& source);

// The readers a sysfs-based load uses; for tests that wrap the sysfs tree
// (test/fakes/base/faulty_sysfs.h) and for callers that own their seams.
// `sys` and `proc` must outlive the call.
struct SysfsReaders {
  const base::Sysfs& sys;             // rooted at the sysfs root (bus/, class/, devices/)
  const base::Sysfs* proc = nullptr;  // rooted at the procfs root, or null
  std::string hwloc_root;             // the directory hwloc reads: it holds sys/
};
absl::StatusOr<NodeTopology> LoadTopologyFromSysfs(const SysfsReaders& readers,
                                                   std::string source_label);

// Where a --sysfs-root argument's trees are: the root holding sys/ (for
// hwloc), the sys directory and the proc directory ("" when absent).
// NotFound when `dir` is missing; InvalidArgument when it holds neither sys/
// nor a sysfs tree. `hwloc_root` may name a directory that only exists while
// the returned object lives (a sys tree not named "sys" is linked into a
// temporary root for hwloc).
class ResolvedSysfsRoot {
 public:
  static absl::StatusOr<ResolvedSysfsRoot> Resolve(const std::string& dir);
  ~ResolvedSysfsRoot();
  ResolvedSysfsRoot(ResolvedSysfsRoot&& other) noexcept;
  ResolvedSysfsRoot& operator=(ResolvedSysfsRoot&&) = delete;
  ResolvedSysfsRoot(const ResolvedSysfsRoot&) = delete;
  ResolvedSysfsRoot& operator=(const ResolvedSysfsRoot&) = delete;

  const std::string& hwloc_root() const { return hwloc_root_; }
  const std::string& sys_dir() const { return sys_dir_; }
  const std::string& proc_dir() const { return proc_dir_; }

 private:
  ResolvedSysfsRoot() = default;
  std::string hwloc_root_;
  std::string sys_dir_;
  std::string proc_dir_;
  std::string temp_dir_;  // removed on destruction when set
};

// The steps every source shares, applied to a model whose numa_nodes, roots,
// bridges and devices are filled and sorted: classification, the NUMA rule
// (`sysfs_numa_node[i]` is device i's numa_node as read, or nullopt; an empty
// vector means none for all), switch upstream ports, pcie_switch, links.
void FinalizeTopology(NodeTopology& topology,
                      const std::vector<std::optional<int>>& sysfs_numa_node);

}  // namespace tessera::topology
