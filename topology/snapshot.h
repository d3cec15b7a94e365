// Snapshot: copies the part of a node's /sys and /proc that topology
// discovery reads, plus an hwloc XML export, into a directory that
// `--sysfs-root DIR` (and `lstopo -i DIR`) load again. A node thus becomes a
// test fixture or a bug report attachment.
//
// What is copied (docs/topology.md, "Snapshots"):
//   - every file, directory listing and link our sysfs reader touches, found
//     by running the reader over a recording wrapper of the source tree, so
//     the copy follows the reader as it evolves;
//   - what hwloc reads for CPUs and NUMA nodes: sys/devices/system/{cpu,node}
//     (topology, caches, node cpumaps, meminfo, distances), proc/cpuinfo and
//     proc/meminfo;
//   - proc/sys/kernel/hostname;
//   - <out>/hwloc.xml: hwloc's export of the source with every I/O object.
// Links keep their targets; absolute ones are rewritten relative so the copy
// never points back into the host's /sys. Serial numbers and other files
// outside these lists are not copied.
//
// Thread-safety: single-threaded; the source must not be written meanwhile
// (a device that vanishes mid-copy is simply missing from the snapshot).
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "base/sysfs.h"

namespace tessera::topology {

struct SnapshotStats {
  size_t files = 0;
  size_t links = 0;
  size_t directories = 0;
  size_t bytes = 0;
};

// Snapshots the root `source_root` ("/" for the live host, or a captured
// root) into `out_dir`, which must not exist or be empty. Returns
//   FailedPrecondition  out_dir exists and is not empty;
//   NotFound / InvalidArgument as LoadTopology for an unusable source;
//   the errno's code when writing fails (PermissionDenied, ...).
absl::StatusOr<SnapshotStats> WriteSnapshot(const std::string& source_root,
                                            const std::string& out_dir);

// The same from explicit readers (`sys` rooted at the sysfs root, `proc` at
// procfs or null, `hwloc_root` holding sys/ for hwloc). For tests.
absl::StatusOr<SnapshotStats> WriteSnapshotFrom(const base::Sysfs& sys, const base::Sysfs* proc,
                                                const std::string& hwloc_root,
                                                const std::string& out_dir);

}  // namespace tessera::topology
