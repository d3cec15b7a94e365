// libFuzzer harness for building the node model from an hwloc XML export
// (LoadTopology(TopologySource::HwlocXml), what `node-debug --hwloc-xml`
// reads): the input is written to a temporary file and loaded through hwloc's
// XML import and Tessera's conversion, classification and locality steps.
//
// Invariants: no crash (hwloc 2.9's own crashes on malformed XML stay in the
// child process the import runs in); errors are InvalidArgument with a
// message naming the source; an accepted model is internally consistent (every index points
// into its vector or is -1, bridge parents form no cycle, vectors sorted as
// documented, a device's NUMA node exists, distances are square, links name
// distinct devices in order, CPU sets within limits), every pair relation can
// be asked for, and the JSON that node-debug prints is produced and
// serializable.
#include <cstdint>
#include <string>

#include "base/filesystem.h"
#include "test/fakes/base/temp_dir.h"
#include "test/fuzz/fuzz_check.h"
#include "topology/hwloc_topology.h"
#include "topology/json.h"
#include "topology/loader.h"

namespace {

namespace topology = tessera::topology;

void CheckIndex(int index, size_t size, std::string_view what) {
  FUZZ_CHECK(index >= -1 && index < static_cast<int>(size), what, " index ", index, " outside -1..",
             size);
}

void CheckModel(const topology::NodeTopology& t) {
  for (size_t i = 0; i < t.numa_nodes.size(); ++i) {
    const topology::NumaNode& n = t.numa_nodes[i];
    FUZZ_CHECK(i == 0 || t.numa_nodes[i - 1].id < n.id, "numa_nodes not sorted by unique id");
    FUZZ_CHECK(n.distances.empty() || n.distances.size() == t.numa_nodes.size(), "numa node ", n.id,
               " has ", n.distances.size(), " distances for ", t.numa_nodes.size(), " nodes");
    FUZZ_CHECK(t.FindNumaNode(n.id) == &n, "FindNumaNode(", n.id, ")");
  }
  for (size_t i = 1; i < t.roots.size(); ++i) {
    const auto key = [](const topology::PciRoot& r) { return std::pair(r.domain, r.first_bus); };
    FUZZ_CHECK(key(t.roots[i - 1]) <= key(t.roots[i]), "roots not sorted");
  }
  for (size_t i = 0; i < t.bridges.size(); ++i) {
    const topology::PciBridge& b = t.bridges[i];
    FUZZ_CHECK(i == 0 || t.bridges[i - 1].address <= b.address, "bridges not sorted");
    CheckIndex(b.root, t.roots.size(), "bridge root");
    CheckIndex(b.parent, t.bridges.size(), "bridge parent");
    // Walking up must end: at most one step per bridge.
    int at = b.parent;
    for (size_t steps = 0; at >= 0; ++steps) {
      FUZZ_CHECK(steps <= t.bridges.size(), "bridge parents of ", b.address.ToString(),
                 " form a cycle");
      at = t.bridges[static_cast<size_t>(at)].parent;
    }
  }
  for (size_t i = 0; i < t.devices.size(); ++i) {
    const topology::PciDevice& d = t.devices[i];
    FUZZ_CHECK(i == 0 || t.devices[i - 1].address <= d.address, "devices not sorted");
    CheckIndex(d.root, t.roots.size(), "device root");
    CheckIndex(d.parent_bridge, t.bridges.size(), "device parent bridge");
    if (d.numa_node) {
      FUZZ_CHECK(t.FindNumaNode(*d.numa_node) != nullptr, "device ", d.address.ToString(),
                 " on NUMA node ", *d.numa_node, " that the model lacks");
    }
    FUZZ_CHECK(d.local_cpus.count() <= tessera::base::CpuSet::kMaxCpus, "local_cpus");
    FUZZ_CHECK(d.sriov_numvfs >= 0 && d.sriov_totalvfs >= 0, "negative VF counts");
    (void)t.PcieRootName(d);
  }
  for (const topology::Link& l : t.links) {
    FUZZ_CHECK(l.a >= 0 && l.a < l.b && l.b < static_cast<int>(t.devices.size()), "link ", l.a, "-",
               l.b, " with ", t.devices.size(), " devices");
    FUZZ_CHECK(t.Relation(t.devices[static_cast<size_t>(l.a)],
                          t.devices[static_cast<size_t>(l.b)]) == l.type,
               "link type differs from Relation()");
  }
  // Relations of every pair of the first devices (bounded for slow inputs).
  const size_t n = std::min<size_t>(t.devices.size(), 32);
  for (size_t a = 0; a < n; ++a) {
    for (size_t b = 0; b < n; ++b) {
      topology::LinkType ab = t.Relation(t.devices[a], t.devices[b]);
      FUZZ_CHECK(ab == t.Relation(t.devices[b], t.devices[a]), "Relation is not symmetric");
    }
  }
  const nlohmann::json doc = topology::TopologyToJson(t);
  (void)doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* dir = new tessera::testing::TempDir();
  static auto* fs = new tessera::base::RealFilesystem();
  // hwloc takes minutes on some inputs (its problem, cut off by the deadline
  // as DeadlineExceeded); stay well below libFuzzer's per-input timeout.
  static const bool deadline_set = [] {
    topology::SetXmlImportDeadlineForTest(std::chrono::seconds(5));
    return true;
  }();
  (void)deadline_set;
  const std::string path = dir->Sub("topology.xml");
  FUZZ_CHECK(fs->WriteFileAtomic(path, tessera::fuzz::AsText(data, size), {.durable = false}).ok(),
             "write ", path);
  absl::StatusOr<topology::NodeTopology> t =
      topology::LoadTopology(topology::TopologySource::HwlocXml(path));
  if (!t.ok()) {
    tessera::fuzz::CheckCleanError(
        t.status(), {absl::StatusCode::kInvalidArgument, absl::StatusCode::kDeadlineExceeded},
        "LoadTopology");
    FUZZ_CHECK(tessera::base::Std(t.status().message()).find(path) != std::string::npos,
               "error does not name the file: ", tessera::base::Std(t.status().message()));
    return 0;
  }
  CheckModel(*t);
  return 0;
}
