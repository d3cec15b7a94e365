// HwlocTopology: the hwloc adapter, the only file pair that knows hwloc.
//
// It loads a topology with hwloc from an XML export or from a filesystem root
// (the live host's "/" or a captured tree holding sys/ and proc/, read the way
// hwloc's own test-suite reads captures) and copies what the node model needs
// into plain topology/model.h values. No hwloc type leaves the .cc file.
//
// What it extracts:
//   - always: NUMA nodes (id, cpus, memory, SLIT distances) and the host name;
//   - with `io = HwlocIo::kPciAndOsDevices`: host bridges, PCI bridges, PCI
//     devices (ids, class, names, local cpus) and their OS devices with infos.
//     For an XML source this is the only source of PCI data; for sysfs sources
//     the loader reads PCI itself (topology/sysfs_pci.h) and asks hwloc for the
//     CPU/NUMA part only, so nothing is read twice.
//
// Thread-safety: Load() is safe to call from several threads; loads from a
// filesystem root are serialized process-wide (see the .cc: hwloc 2.x takes
// the root only from the HWLOC_FSROOT environment variable). A loaded
// HwlocTopology is immutable and safe for concurrent reads.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

#include "topology/model.h"

namespace tessera::topology {

enum class HwlocIo {
  kNone,             // CPU and NUMA only: the fastest load
  kPciAndOsDevices,  // also every PCI bridge, PCI device and OS device
};

struct HwlocSource {
  enum class Kind { kFsRoot, kXmlFile };
  Kind kind = Kind::kFsRoot;
  // kFsRoot: the directory holding sys/ (and proc/): "/" for the live host.
  // kXmlFile: the path of an hwloc XML export (v1 or v2 format).
  std::string path = "/";
  HwlocIo io = HwlocIo::kNone;
};

// Test-only: how long the child process importing an XML file may take
// (default 60 s; some malformed files take hwloc minutes). Thread-safe.
void SetXmlImportDeadlineForTest(std::chrono::milliseconds deadline);

class HwlocTopology final {
 public:
  // Loads the topology. Returns:
  //   NotFound          the file or root does not exist;
  //   InvalidArgument   hwloc could not use it (unparsable XML, a root without
  //                     sys/devices/system/cpu, an XML file hwloc crashes on, ...);
  //   DeadlineExceeded  hwloc did not finish reading an XML file in 60 s;
  //   Internal          hwloc failed to initialize.
  // An XML file is first imported by a spawned copy of this program, because
  // hwloc 2.9's importer crashes on some malformed files (see the .cc).
  // hwloc never falls back to the machine it runs on: for a root or XML that
  // fails, the load fails.
  static absl::StatusOr<std::unique_ptr<HwlocTopology>> Load(const HwlocSource& source);

  ~HwlocTopology();
  HwlocTopology(const HwlocTopology&) = delete;
  HwlocTopology& operator=(const HwlocTopology&) = delete;

  // The model parts hwloc knows: numa_nodes and hostname always; roots,
  // bridges and devices (sorted, with os_devices and local_cpus = the cpuset
  // of the device's first non-I/O ancestor) when loaded with kPciAndOsDevices.
  // Kinds, NUMA nodes of devices, switches and links are left to the loader.
  NodeTopology Extract() const;

  // The topology as hwloc XML (v2), as `lstopo --of xml` would write it for
  // the same filters. Internal when hwloc fails to export.
  absl::StatusOr<std::string> ExportXml() const;

 private:
  struct Impl;
  explicit HwlocTopology(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::topology
