#include "topology/loader.h"

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <system_error>
#include <utility>

#include "base/log.h"
#include "base/parse.h"
#include "base/status.h"
#include "base/strings.h"
#include "topology/classify.h"
#include "topology/hwloc_topology.h"
#include "topology/internal/log.h"
#include "topology/locality.h"
#include "topology/pci_tree.h"
#include "topology/sysfs_parse.h"
#include "topology/sysfs_pci.h"

namespace tessera::topology {
namespace {

using base::StrCat;
namespace fs = std::filesystem;

using internal::Log;

bool IsDir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

void LogLoaded(const NodeTopology& t, std::chrono::steady_clock::time_point start) {
  const auto ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
  Log()->debug("loaded topology source={} numa_nodes={} devices={} links={} duration_ms={:.2f}",
               t.source, t.numa_nodes.size(), t.devices.size(), t.links.size(), ms.count());
  if (!t.warnings.empty()) {
    Log()->warn("topology loaded with degraded results source={} warnings={}", t.source,
                t.warnings.size());
    for (const std::string& w : t.warnings) Log()->debug("topology warning: {}", w);
  }
}

}  // namespace

TopologySource TopologySource::Live(std::string host_root) {
  return {Kind::kLive, std::move(host_root)};
}
TopologySource TopologySource::SysfsRoot(std::string dir) {
  return {Kind::kSysfsRoot, std::move(dir)};
}
TopologySource TopologySource::HwlocXml(std::string file) {
  return {Kind::kHwlocXml, std::move(file)};
}

std::string TopologySource::Label() const {
  switch (kind) {
    case Kind::kLive:
      return path == "/" ? "live" : StrCat("live:", path);
    case Kind::kSysfsRoot:
      return StrCat("sysfs:", path);
    case Kind::kHwlocXml:
      return StrCat("hwloc-xml:", path);
  }
  return "";
}

absl::StatusOr<ResolvedSysfsRoot> ResolvedSysfsRoot::Resolve(const std::string& dir) {
  std::error_code ec;
  const fs::path root(dir);
  if (!fs::exists(root, ec)) {
    return absl::NotFoundError(StrCat("sysfs root ", dir, ": no such directory"));
  }
  if (!IsDir(root))
    return absl::InvalidArgumentError(StrCat("sysfs root ", dir, ": not a directory"));
  ResolvedSysfsRoot out;
  if (IsDir(root / "sys")) {
    out.hwloc_root_ = dir;
    out.sys_dir_ = (root / "sys").string();
    if (IsDir(root / "proc")) out.proc_dir_ = (root / "proc").string();
    return out;
  }
  if (!IsDir(root / "devices") && !IsDir(root / "bus")) {
    return absl::InvalidArgumentError(
        StrCat("sysfs root ", dir, ": holds neither sys/ nor a sysfs tree (devices/, bus/)"));
  }
  // DIR is the sys directory itself.
  out.sys_dir_ = dir;
  const fs::path canonical = fs::weakly_canonical(root, ec);
  const fs::path parent = (ec ? root : canonical).parent_path();
  if ((ec ? root : canonical).filename() == "sys") {
    out.hwloc_root_ = parent.string();
    if (IsDir(parent / "proc")) out.proc_dir_ = (parent / "proc").string();
    return out;
  }
  // hwloc wants <root>/sys: link the tree into a temporary root. This is the
  // only case that writes anything, and it is removed with this object.
  std::string tmpl = (fs::temp_directory_path(ec) / "tessera-sysroot-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return base::ErrnoStatus(errno, StrCat("sysfs root ", dir, ": create a temporary root"));
  }
  out.temp_dir_ = tmpl;
  fs::create_directory_symlink(fs::absolute(root, ec), fs::path(tmpl) / "sys", ec);
  if (ec) {
    return absl::InternalError(
        StrCat("sysfs root ", dir, ": link it into ", tmpl, ": ", ec.message()));
  }
  out.hwloc_root_ = tmpl;
  return out;
}

ResolvedSysfsRoot::ResolvedSysfsRoot(ResolvedSysfsRoot&& other) noexcept
    : hwloc_root_(std::move(other.hwloc_root_)),
      sys_dir_(std::move(other.sys_dir_)),
      proc_dir_(std::move(other.proc_dir_)),
      temp_dir_(std::exchange(other.temp_dir_, "")) {}

ResolvedSysfsRoot::~ResolvedSysfsRoot() {
  if (temp_dir_.empty()) return;
  std::error_code ec;
  fs::remove(fs::path(temp_dir_) / "sys", ec);  // the link, not its target
  fs::remove(temp_dir_, ec);
}

void FinalizeTopology(NodeTopology& t, const std::vector<std::optional<int>>& sysfs_numa_node) {
  for (size_t i = 0; i < t.devices.size(); ++i) {
    PciDevice& d = t.devices[i];
    d.kind = Classify(d).kind;
    const std::optional<int> raw =
        i < sysfs_numa_node.size() ? sysfs_numa_node[i] : std::optional<int>();
    d.numa_node = ResolveNumaNode(raw, d.local_cpus, t.numa_nodes);
    if (raw && *raw >= 0 && !d.numa_node) {
      t.warnings.push_back(StrCat(d.address.ToString(), ": numa_node ", *raw,
                                  " is not a NUMA node of this machine; NUMA node unknown"));
    }
  }
  MarkSwitchUpstreamPorts(t.bridges);
  for (PciDevice& d : t.devices) d.pcie_switch = NearestSwitchUpstream(t.bridges, d.parent_bridge);
  t.links = ComputeLinks(t);
  // Keep the first occurrence of each warning, in order.
  std::set<std::string> seen;
  std::vector<std::string> unique;
  for (std::string& w : t.warnings) {
    if (seen.insert(w).second) unique.push_back(std::move(w));
  }
  t.warnings = std::move(unique);
}

absl::StatusOr<NodeTopology> LoadTopologyFromSysfs(const SysfsReaders& readers,
                                                   std::string source_label) {
  const auto start = std::chrono::steady_clock::now();
  const std::string context = StrCat("load topology from ", source_label);
  auto hwloc = HwlocTopology::Load(
      {.kind = HwlocSource::Kind::kFsRoot, .path = readers.hwloc_root, .io = HwlocIo::kNone});
  if (!hwloc.ok()) return base::Annotate(hwloc.status(), context);
  NodeTopology t = (*hwloc)->Extract();
  t.source = std::move(source_label);

  auto scan = ReadSysfsPci(readers.sys, readers.proc);
  if (!scan.ok()) return base::Annotate(scan.status(), context);
  PciTree tree = BuildPciTree(std::move(scan->functions));
  t.roots = std::move(tree.roots);
  t.bridges = std::move(tree.bridges);
  t.devices = std::move(tree.devices);
  t.warnings = std::move(scan->warnings);
  t.warnings.insert(t.warnings.end(), tree.warnings.begin(), tree.warnings.end());

  for (auto& [owner, os] : scan->os_devices) {
    auto it = std::lower_bound(
        t.devices.begin(), t.devices.end(), owner,
        [](const PciDevice& d, const base::PciAddress& a) { return d.address < a; });
    if (it == t.devices.end() || it->address != owner)
      continue;  // a bridge's, or a vanished device's
    it->os_devices.push_back(std::move(os));
  }

  if (t.hostname.empty() && readers.proc != nullptr) {
    if (auto h = readers.proc->ReadAttribute("sys/kernel/hostname"); h.ok()) {
      if (std::string_view name = base::TrimValue(*h); IsPrintableText(name)) {
        t.hostname = std::string(name);
      }
    }
  }
  FinalizeTopology(t, tree.sysfs_numa_node);
  LogLoaded(t, start);
  return t;
}

absl::StatusOr<NodeTopology> LoadTopology(const TopologySource& source) {
  switch (source.kind) {
    case TopologySource::Kind::kHwlocXml: {
      const auto start = std::chrono::steady_clock::now();
      auto hwloc = HwlocTopology::Load({.kind = HwlocSource::Kind::kXmlFile,
                                        .path = source.path,
                                        .io = HwlocIo::kPciAndOsDevices});
      if (!hwloc.ok())
        return base::Annotate(hwloc.status(), StrCat("load topology from ", source.Label()));
      NodeTopology t = (*hwloc)->Extract();
      t.source = source.Label();
      FinalizeTopology(t, {});
      LogLoaded(t, start);
      return t;
    }
    case TopologySource::Kind::kLive: {
      const fs::path root(source.path.empty() ? "/" : source.path);
      base::DirSysfs sys((root / "sys").string());
      base::DirSysfs proc((root / "proc").string());
      return LoadTopologyFromSysfs({.sys = sys, .proc = &proc, .hwloc_root = root.string()},
                                   source.Label());
    }
    case TopologySource::Kind::kSysfsRoot: {
      auto resolved = ResolvedSysfsRoot::Resolve(source.path);
      if (!resolved.ok()) return base::Annotate(resolved.status(), "load topology");
      base::DirSysfs sys(resolved->sys_dir());
      std::optional<base::DirSysfs> proc;
      if (!resolved->proc_dir().empty()) proc.emplace(resolved->proc_dir());
      return LoadTopologyFromSysfs(
          {.sys = sys, .proc = proc ? &*proc : nullptr, .hwloc_root = resolved->hwloc_root()},
          source.Label());
    }
  }
  return absl::InvalidArgumentError("load topology: unknown source kind");
}

}  // namespace tessera::topology
