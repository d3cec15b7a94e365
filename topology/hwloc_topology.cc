#include "topology/hwloc_topology.h"

#include <fcntl.h>
#include <hwloc.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"

#include "base/status.h"
#include "base/strings.h"
#include "base/sysfs.h"
#include "topology/pci_tree.h"

namespace tessera::topology {
namespace {

// hwloc 2.x takes the Linux backend's filesystem root only from the
// HWLOC_FSROOT environment variable: hwloc_linux_component_instantiate() and
// the allowed-resources hook both call getenv("HWLOC_FSROOT") (topology-linux.c,
// hwloc 2.9); there is no API for it since hwloc 1.x's
// hwloc_topology_set_fsroot() was removed. This is therefore the one place in
// Tessera that writes the process environment. The write is serialized by
// this mutex, the previous value is restored after the load, and the variable
// is set even for "/" so that a stray HWLOC_FSROOT, HWLOC_XMLFILE or
// HWLOC_SYNTHETIC in the agent's environment cannot redirect discovery (an
// fsroot forces the linux component before hwloc looks at the others).
// Callers load topologies from the startup and rescan paths, where no other
// thread of ours reads the environment.
ABSL_CONST_INIT absl::Mutex env_mu(absl::kConstInit);

class ScopedFsRootEnv {
 public:
  explicit ScopedFsRootEnv(const std::string& root) ABSL_EXCLUSIVE_LOCKS_REQUIRED(env_mu) {
    if (const char* old = std::getenv("HWLOC_FSROOT")) previous_ = old;
    ::setenv("HWLOC_FSROOT", root.c_str(), 1);
  }
  ~ScopedFsRootEnv() {
    if (previous_) {
      ::setenv("HWLOC_FSROOT", previous_->c_str(), 1);
    } else {
      ::unsetenv("HWLOC_FSROOT");
    }
  }
  ScopedFsRootEnv(const ScopedFsRootEnv&) = delete;
  ScopedFsRootEnv& operator=(const ScopedFsRootEnv&) = delete;

 private:
  std::optional<std::string> previous_;
};

absl::Status CheckReadable(const std::string& path, std::string_view what) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return base::ErrnoStatus(errno, base::StrCat("open ", what, " ", path));
  ::close(fd);
  return absl::OkStatus();
}

// Filters: hwloc discovers only what the model uses. Caches, memory-side
// caches and Misc objects (DMI memory modules) are skipped. Packages, dies
// and groups are kept: hwloc attaches I/O objects below the smallest normal
// object covering their locality, and that object's cpuset is the device's
// locality; without them every device would look local to the whole machine.
void SetFilters(hwloc_topology_t topo, HwlocIo io) {
  hwloc_topology_set_cache_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_NONE);
  hwloc_topology_set_icache_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_NONE);
  hwloc_topology_set_type_filter(topo, HWLOC_OBJ_MEMCACHE, HWLOC_TYPE_FILTER_KEEP_NONE);
  hwloc_topology_set_type_filter(topo, HWLOC_OBJ_MISC, HWLOC_TYPE_FILTER_KEEP_NONE);
  if (io == HwlocIo::kPciAndOsDevices) {
    hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_ALL);
  } else {
    hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_NONE);
    // Without I/O nothing attaches below cores, so they can go too.
    hwloc_topology_set_type_filter(topo, HWLOC_OBJ_CORE, HWLOC_TYPE_FILTER_KEEP_NONE);
  }
}

base::CpuSet ToCpuSet(hwloc_const_bitmap_t bitmap) {
  base::CpuSet out;
  if (bitmap == nullptr || hwloc_bitmap_weight(bitmap) < 0) return out;
  for (int i = hwloc_bitmap_first(bitmap); i >= 0; i = hwloc_bitmap_next(bitmap, i)) {
    if (i >= base::CpuSet::kMaxCpus) break;
    out.Add(i);
  }
  return out;
}

base::PciAddress AddressOf(hwloc_obj_t obj) {
  base::PciAddress a;
  a.domain = obj->attr->pcidev.domain;
  a.bus = obj->attr->pcidev.bus;
  a.device = obj->attr->pcidev.dev;
  a.function = obj->attr->pcidev.func;
  return a;
}

bool IsHostBridge(hwloc_obj_t obj) {
  return obj->type == HWLOC_OBJ_BRIDGE && obj->attr->bridge.upstream_type == HWLOC_OBJ_BRIDGE_HOST;
}

bool IsPciBridge(hwloc_obj_t obj) {
  return obj->type == HWLOC_OBJ_BRIDGE && obj->attr->bridge.upstream_type == HWLOC_OBJ_BRIDGE_PCI;
}

OsDeviceType OsTypeOf(hwloc_obj_t obj) {
  switch (obj->attr->osdev.type) {
    case HWLOC_OBJ_OSDEV_BLOCK:
      return OsDeviceType::kBlock;
    case HWLOC_OBJ_OSDEV_GPU:
      return OsDeviceType::kGpu;
    case HWLOC_OBJ_OSDEV_NETWORK:
      return OsDeviceType::kNetwork;
    case HWLOC_OBJ_OSDEV_OPENFABRICS:
      return OsDeviceType::kOpenFabrics;
    case HWLOC_OBJ_OSDEV_DMA:
      return OsDeviceType::kDma;
    case HWLOC_OBJ_OSDEV_COPROC:
      return OsDeviceType::kCoprocessor;
  }
  return OsDeviceType::kOther;
}

std::string InfoOf(hwloc_obj_t obj, const char* name) {
  const char* v = hwloc_obj_get_info_by_name(obj, name);
  return v ? v : "";
}

void ExtractNumaNodes(hwloc_topology_t topo, NodeTopology& out) {
  for (hwloc_obj_t n = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, nullptr); n;
       n = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, n)) {
    // An XML export may carry any os_index: the model needs node<id> ids.
    if (n->os_index == HWLOC_UNKNOWN_INDEX ||
        n->os_index > static_cast<unsigned>(std::numeric_limits<int>::max())) {
      out.warnings.push_back(
          base::StrCat("NUMA node without a usable os_index (", n->os_index, ") left out"));
      continue;
    }
    NumaNode node;
    node.id = static_cast<int>(n->os_index);
    node.cpus = ToCpuSet(n->cpuset);
    node.memory_bytes = n->attr->numanode.local_memory;
    out.numa_nodes.push_back(std::move(node));
  }
  std::stable_sort(out.numa_nodes.begin(), out.numa_nodes.end(),
                   [](const NumaNode& a, const NumaNode& b) { return a.id < b.id; });
  // Ids are unique in sysfs, but not in a hand-edited XML file (found by
  // hwloc_xml_fuzzer): keep the first node of each id.
  auto dup = std::adjacent_find(out.numa_nodes.begin(), out.numa_nodes.end(),
                                [](const NumaNode& a, const NumaNode& b) { return a.id == b.id; });
  if (dup != out.numa_nodes.end()) {
    out.warnings.push_back(
        base::StrCat("NUMA node ", dup->id, " appears more than once; only the first is used"));
    out.numa_nodes.erase(
        std::unique(out.numa_nodes.begin(), out.numa_nodes.end(),
                    [](const NumaNode& a, const NumaNode& b) { return a.id == b.id; }),
        out.numa_nodes.end());
  }

  // SLIT distances: Linux exposes them as "NUMALatency"; old XML exports
  // (hwloc 1.x) carry an unnamed latency matrix.
  unsigned nr = 1;
  hwloc_distances_s* dist = nullptr;
  if (hwloc_distances_get_by_name(topo, "NUMALatency", &nr, &dist, 0) != 0 || nr == 0) {
    nr = 1;
    dist = nullptr;
    if (hwloc_distances_get_by_type(topo, HWLOC_OBJ_NUMANODE, &nr, &dist,
                                    HWLOC_DISTANCES_KIND_MEANS_LATENCY, 0) != 0 ||
        nr == 0) {
      return;
    }
  }
  std::unordered_map<int, unsigned> column;  // os index -> row/column in dist
  for (unsigned i = 0; i < dist->nbobjs; ++i) {
    column[static_cast<int>(dist->objs[i]->os_index)] = i;
  }
  bool complete = true;
  for (const NumaNode& n : out.numa_nodes) complete = complete && column.count(n.id) > 0;
  if (complete) {
    for (NumaNode& row : out.numa_nodes) {
      for (const NumaNode& col : out.numa_nodes) {
        row.distances.push_back(
            static_cast<int>(dist->values[column[row.id] * dist->nbobjs + column[col.id]]));
      }
    }
  }
  hwloc_distances_release(topo, dist);
}

void ExtractPci(hwloc_topology_t topo, NodeTopology& out) {
  std::unordered_map<hwloc_obj_t, int> root_index;
  std::unordered_map<hwloc_obj_t, int> bridge_index;

  for (hwloc_obj_t b = hwloc_get_next_bridge(topo, nullptr); b;
       b = hwloc_get_next_bridge(topo, b)) {
    if (b->attr->bridge.downstream_type != HWLOC_OBJ_BRIDGE_PCI) continue;
    const auto& down = b->attr->bridge.downstream.pci;
    if (IsHostBridge(b)) {
      PciRoot root;
      root.domain = down.domain;
      root.first_bus = down.secondary_bus;
      root.last_bus = down.subordinate_bus;
      root.name = base::PciAddress::RootName(root.domain, root.first_bus);
      root_index[b] = static_cast<int>(out.roots.size());
      out.roots.push_back(std::move(root));
    } else if (IsPciBridge(b)) {
      PciBridge bridge;
      bridge.address = AddressOf(b);
      bridge.vendor_id = b->attr->pcidev.vendor_id;
      bridge.device_id = b->attr->pcidev.device_id;
      bridge.secondary_bus = down.secondary_bus;
      bridge.subordinate_bus = down.subordinate_bus;
      bridge_index[b] = static_cast<int>(out.bridges.size());
      out.bridges.push_back(bridge);
    }
  }

  // Parent bridge and root of an I/O object, from hwloc's tree.
  auto place = [&](hwloc_obj_t obj, int* root, int* parent_bridge) {
    *root = -1;
    *parent_bridge = -1;
    for (hwloc_obj_t p = obj->parent; p && p->type == HWLOC_OBJ_BRIDGE; p = p->parent) {
      if (auto it = bridge_index.find(p); it != bridge_index.end()) {
        if (*parent_bridge < 0) *parent_bridge = it->second;
      } else if (auto r = root_index.find(p); r != root_index.end()) {
        *root = r->second;
        break;
      }
    }
  };
  for (auto& [obj, index] : bridge_index) {
    PciBridge& bridge = out.bridges[static_cast<size_t>(index)];
    place(obj, &bridge.root, &bridge.parent);
  }

  for (hwloc_obj_t d = hwloc_get_next_pcidev(topo, nullptr); d;
       d = hwloc_get_next_pcidev(topo, d)) {
    PciDevice dev;
    dev.address = AddressOf(d);
    dev.vendor_id = d->attr->pcidev.vendor_id;
    dev.device_id = d->attr->pcidev.device_id;
    dev.subsystem_vendor_id = d->attr->pcidev.subvendor_id;
    dev.subsystem_device_id = d->attr->pcidev.subdevice_id;
    // hwloc keeps class and subclass only; the programming interface is lost.
    dev.class_code = static_cast<uint32_t>(d->attr->pcidev.class_id) << 8;
    dev.vendor_name = InfoOf(d, "PCIVendor");
    dev.device_name = InfoOf(d, "PCIDevice");
    place(d, &dev.root, &dev.parent_bridge);
    if (hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(topo, d)) {
      dev.local_cpus = ToCpuSet(anc->cpuset);
    }
    for (hwloc_obj_t c = d->io_first_child; c; c = c->next_sibling) {
      if (c->type != HWLOC_OBJ_OS_DEVICE || c->name == nullptr) continue;
      OsDevice os;
      os.name = c->name;
      os.type = OsTypeOf(c);
      for (unsigned i = 0; i < c->infos_count; ++i) {
        if (c->infos[i].name && c->infos[i].value) os.info[c->infos[i].name] = c->infos[i].value;
      }
      if (c->subtype) os.info["Subtype"] = c->subtype;
      dev.os_devices.push_back(std::move(os));
    }
    out.devices.push_back(std::move(dev));
  }
  SortPciTree(out);
}

// hwloc 2.9.0's XML import crashes on some malformed files (a NULL
// dereference for an object without complete_cpuset, open-mpi/hwloc#783; a
// topology tag without '>', #787; both fixed upstream after 2.9) and leaks
// what it parsed when it rejects a file. An XML file is therefore imported
// by a child process first, which sends back hwloc's own export of what it
// loaded; the caller then loads that export, which hwloc's importer handles.
// A crash or a hang stays in the child and becomes an error; a child that
// hangs is killed at the deadline.
//
// The child is a new copy of this program (posix_spawn of /proc/self/exe),
// not a fork: a forked child of a process with other threads inherits every
// lock another thread held at that moment, and the import allocates. glibc's
// malloc survives that, but hwloc's component lock and a sanitizer's
// allocator do not (LLVM 14's ASan deadlocked in one agent test in six). The
// copy finds kImportChildEnv before main() and does only the import.
std::atomic<int64_t> xml_import_deadline_ms{60'000};
constexpr size_t kMaxXmlExportBytes = size_t{256} << 20;
constexpr char kImportChildEnv[] = "TESSERA_INTERNAL_HWLOC_XML_IMPORT";

[[noreturn]] void XmlImportChild(int fd, const std::string& path, HwlocIo io) {
  // A crash must end the child, not run handlers inherited from the parent.
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) ::signal(sig, SIG_DFL);
  auto fail = [fd](const char* stage) {
    const std::string msg = base::StrCat("E", stage, " (errno ", errno, ")");
    (void)!::write(fd, msg.data(), msg.size());
    ::_exit(1);
  };
  hwloc_topology_t topo = nullptr;
  if (hwloc_topology_init(&topo) != 0) fail("hwloc_topology_init failed");
  hwloc_topology_set_flags(topo, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
  SetFilters(topo, io);
  if (hwloc_topology_set_xml(topo, path.c_str()) != 0) fail("hwloc refused the file");
  if (hwloc_topology_load(topo) != 0) fail("hwloc could not build a topology from it");
  char* buffer = nullptr;
  int length = 0;
  if (hwloc_topology_export_xmlbuffer(topo, &buffer, &length, 0) != 0 || buffer == nullptr ||
      length <= 0) {
    fail("hwloc could not export what it loaded");
  }
  const char* p = buffer;
  size_t left = static_cast<size_t>(length - 1);  // without the final NUL
  if (::write(fd, "X", 1) != 1) ::_exit(1);
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(1);
    p += n;
    left -= static_cast<size_t>(n);
  }
  ::_exit(0);
}

// In the spawned copy, before main() and before most of the program's static
// initializers: "<io>:<path>" in kImportChildEnv means import that file and
// write the result to stdout. Every other process returns at once.
__attribute__((constructor)) void RunXmlImportChildIfAsked() {
  const char* spec = std::getenv(kImportChildEnv);
  if (spec == nullptr) return;
  const char* colon = std::strchr(spec, ':');
  if (colon == nullptr || colon == spec) ::_exit(2);
  const int io = std::atoi(spec);
  XmlImportChild(STDOUT_FILENO, std::string(colon + 1), static_cast<HwlocIo>(io));
}

// Starts the import of `path` in a new copy of this program whose stdout is
// `out_fd`; the pid, or the errno of the failure.
absl::StatusOr<pid_t> SpawnImportChild(const std::string& path, HwlocIo io, int out_fd) {
  const std::string spec = base::StrCat(kImportChildEnv, "=", static_cast<int>(io), ":", path);
  absl::MutexLock lock(&env_mu);  // environ is not changing under us
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, kImportChildEnv, sizeof(kImportChildEnv) - 1) != 0) envp.push_back(*e);
  }
  envp.push_back(const_cast<char*>(spec.c_str()));
  envp.push_back(nullptr);
  char arg0[] = "tessera-hwloc-xml-import";
  char* argv[] = {arg0, nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawnattr_init(&attr);
  // The pipe is close-on-exec; dup2 onto stdout clears that for the copy.
  ::posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
  // Default dispositions and no blocked signals, whatever this thread has.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  ::posix_spawnattr_setsigmask(&attr, &none);
  ::posix_spawnattr_setsigdefault(&attr, &all);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, "/proc/self/exe", &actions, &attr, argv, envp.data());
  ::posix_spawnattr_destroy(&attr);
  ::posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return base::ErrnoStatus(rc, "start the import process (/proc/self/exe)");
  return pid;
}

// The XML hwloc exports after importing `path` in a child process (see
// above). InvalidArgument when hwloc rejects the file or crashes on it,
// DeadlineExceeded when it does not finish in time, Internal when the child
// cannot be started.
absl::StatusOr<std::string> ImportXmlIsolated(const std::string& path, HwlocIo io,
                                              const std::string& what) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return base::ErrnoStatus(errno, base::StrCat("load ", what, ": pipe"));
  }
  absl::StatusOr<pid_t> spawned = SpawnImportChild(path, io, fds[1]);
  ::close(fds[1]);
  if (!spawned.ok()) {
    ::close(fds[0]);
    return base::Annotate(spawned.status(), base::StrCat("load ", what));
  }
  const pid_t pid = *spawned;
  std::string out;
  bool timed_out = false;
  bool too_big = false;
  const auto limit = std::chrono::milliseconds(xml_import_deadline_ms.load());
  const auto deadline = std::chrono::steady_clock::now() + limit;
  char chunk[1 << 16];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{.fd = fds[0], .events = POLLIN, .revents = 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      timed_out = true;
      break;
    }
    const ssize_t n = ::read(fds[0], chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(chunk, static_cast<size_t>(n));
    if (out.size() > kMaxXmlExportBytes) {
      too_big = true;
      break;
    }
  }
  ::close(fds[0]);
  if (timed_out || too_big) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const std::string load = base::StrCat("load ", what);
  if (timed_out) {
    return absl::DeadlineExceededError(
        base::StrCat(load, ": hwloc did not finish reading it within ", limit.count(), " ms"));
  }
  if (too_big) {
    return absl::InvalidArgumentError(
        base::StrCat(load, ": the topology is larger than ", kMaxXmlExportBytes, " bytes"));
  }
  if (WIFSIGNALED(status)) {
    return absl::InvalidArgumentError(
        base::StrCat(load, ": hwloc crashed reading it (signal ", WTERMSIG(status), ", ",
                     ::strsignal(WTERMSIG(status)), "); is it an hwloc XML export?"));
  }
  if (!out.empty() && out.front() == 'E') {
    return absl::InvalidArgumentError(base::StrCat(load, ": ", std::string_view(out).substr(1)));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || out.empty() || out.front() != 'X') {
    return absl::InvalidArgumentError(base::StrCat(load, ": hwloc failed reading it (exit status ",
                                                   WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                                                   ")"));
  }
  out.erase(0, 1);
  return out;
}

}  // namespace

struct HwlocTopology::Impl {
  hwloc_topology_t topo = nullptr;
  HwlocIo io = HwlocIo::kNone;
  ~Impl() {
    if (topo) hwloc_topology_destroy(topo);
  }
};

void SetXmlImportDeadlineForTest(std::chrono::milliseconds deadline) {
  xml_import_deadline_ms.store(deadline.count());
}

HwlocTopology::HwlocTopology(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HwlocTopology::~HwlocTopology() = default;

absl::StatusOr<std::unique_ptr<HwlocTopology>> HwlocTopology::Load(const HwlocSource& source) {
  const bool xml = source.kind == HwlocSource::Kind::kXmlFile;
  const std::string what = xml ? base::StrCat("hwloc xml ", source.path)
                               : base::StrCat("hwloc topology of root ", source.path);
  if (xml) {
    if (absl::Status s = CheckReadable(source.path, "hwloc xml"); !s.ok()) {
      return base::Annotate(s, "load topology");
    }
  } else {
    // Without this check hwloc would quietly describe the machine it runs on.
    const std::string cpu_dir = base::JoinPath(source.path, "sys/devices/system/cpu");
    if (absl::Status s = CheckReadable(cpu_dir, "cpu directory"); !s.ok()) {
      return base::Annotate(s, base::StrCat("load ", what));
    }
  }

  auto impl = std::make_unique<Impl>();
  impl->io = source.io;
  if (hwloc_topology_init(&impl->topo) != 0) {
    impl->topo = nullptr;
    return absl::InternalError(base::StrCat("load ", what, ": hwloc_topology_init failed"));
  }
  // The whole machine, even when our cgroup is restricted to part of it.
  hwloc_topology_set_flags(impl->topo, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
  SetFilters(impl->topo, source.io);

  int rc = 0;
  int err = 0;
  if (xml) {
    absl::StatusOr<std::string> exported = ImportXmlIsolated(source.path, source.io, what);
    if (!exported.ok()) return exported.status();
    // hwloc's own export of a topology it loaded: safe to import here. The
    // size passed includes the terminating NUL, as the exporter reports it.
    if (hwloc_topology_set_xmlbuffer(impl->topo, exported->c_str(),
                                     static_cast<int>(exported->size() + 1)) != 0) {
      return absl::InternalError(
          base::StrCat("load ", what, ": hwloc refused its own export (errno ", errno, ")"));
    }
    rc = hwloc_topology_load(impl->topo);
    err = errno;
  } else {
    // Only the linux component: "x86" would run CPUID on this machine and
    // "no_os" would invent a topology from sysconf() when the root is unusable
    // (hwloc's own tests use HWLOC_COMPONENTS=linux,stop for the same reason).
    hwloc_topology_set_components(impl->topo, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "x86");
    hwloc_topology_set_components(impl->topo, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "no_os");
    absl::MutexLock lock(&env_mu);
    ScopedFsRootEnv env(source.path);
    rc = hwloc_topology_load(impl->topo);
    err = errno;
  }
  if (rc != 0 && xml) {
    return absl::InternalError(
        base::StrCat("load ", what, ": hwloc could not load its own export (errno ", err, ")"));
  }
  if (rc != 0) {
    return absl::InvalidArgumentError(base::StrCat(
        "load ", what, ": hwloc could not build a topology from it (errno ", err, ")"));
  }
  return std::unique_ptr<HwlocTopology>(new HwlocTopology(std::move(impl)));
}

NodeTopology HwlocTopology::Extract() const {
  NodeTopology out;
  hwloc_obj_t root = hwloc_get_root_obj(impl_->topo);
  out.hostname = InfoOf(root, "HostName");
  ExtractNumaNodes(impl_->topo, out);
  if (impl_->io == HwlocIo::kPciAndOsDevices) ExtractPci(impl_->topo, out);
  return out;
}

absl::StatusOr<std::string> HwlocTopology::ExportXml() const {
  char* buffer = nullptr;
  int length = 0;
  if (hwloc_topology_export_xmlbuffer(impl_->topo, &buffer, &length, 0) != 0 || buffer == nullptr) {
    return absl::InternalError("export hwloc xml: hwloc_topology_export_xmlbuffer failed");
  }
  // length counts the terminating NUL.
  std::string xml(buffer, length > 0 ? static_cast<size_t>(length - 1) : 0);
  hwloc_free_xmlbuffer(impl_->topo, buffer);
  return xml;
}

}  // namespace tessera::topology
