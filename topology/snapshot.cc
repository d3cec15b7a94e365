#include "topology/snapshot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/strings.h"
#include "topology/hwloc_topology.h"
#include "topology/loader.h"
#include "topology/sysfs_parse.h"
#include "topology/sysfs_pci.h"

namespace tessera::topology {
namespace {

using base::StrCat;

std::string Clean(std::string_view path) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  return std::string(path);
}

// What the sysfs reader touched, to be replayed into the snapshot.
struct Recorded {
  std::map<std::string, std::string> files;  // path -> longest content read
  std::map<std::string, std::string> links;  // path -> target
  std::set<std::string> dirs;
};

// A Sysfs that passes every call through and records what succeeded.
class RecordingSysfs final : public base::Sysfs {
 public:
  RecordingSysfs(const base::Sysfs& inner, Recorded& out) : inner_(inner), out_(out) {}

  absl::StatusOr<std::string> ReadAttribute(std::string_view path) const override {
    auto v = inner_.ReadAttribute(path);
    if (v.ok()) RecordFile(path, *v);
    return v;
  }
  absl::StatusOr<std::string> ReadAttributePrefix(std::string_view path,
                                                  size_t max_bytes) const override {
    auto v = inner_.ReadAttributePrefix(path, max_bytes);
    if (v.ok()) RecordFile(path, *v);
    return v;
  }
  absl::StatusOr<std::vector<std::string>> ListDir(std::string_view path) const override {
    auto v = inner_.ListDir(path);
    if (v.ok()) {
      std::lock_guard lock(mu_);
      out_.dirs.insert(Clean(path));
    }
    return v;
  }
  absl::StatusOr<std::string> ReadLink(std::string_view path) const override {
    auto v = inner_.ReadLink(path);
    if (v.ok()) {
      std::lock_guard lock(mu_);
      out_.links[Clean(path)] = *v;
    }
    return v;
  }
  absl::StatusOr<std::string> Resolve(std::string_view path) const override {
    return inner_.Resolve(path);
  }
  bool Exists(std::string_view path) const override { return inner_.Exists(path); }
  bool IsDirectory(std::string_view path) const override { return inner_.IsDirectory(path); }
  std::string root() const override { return inner_.root(); }

 private:
  void RecordFile(std::string_view path, const std::string& content) const {
    std::lock_guard lock(mu_);
    std::string& slot = out_.files[Clean(path)];
    if (content.size() >= slot.size()) slot = content;
  }
  const base::Sysfs& inner_;
  Recorded& out_;
  mutable std::mutex mu_;
};

// Writes the snapshot tree; remembers the first error and stops writing.
class Writer {
 public:
  explicit Writer(std::string root) : root_(std::move(root)) {}

  const absl::Status& status() const { return status_; }
  const SnapshotStats& stats() const { return stats_; }

  void Dir(std::string_view rel) {
    if (!status_.ok()) return;
    std::string path = root_;
    for (std::string_view part : base::Split(rel, '/', base::SplitMode::kSkipEmpty)) {
      path = StrCat(path, "/", part);
      if (made_.count(path)) continue;
      if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
        status_ = base::ErrnoStatus(errno, StrCat("write snapshot: mkdir ", path));
        return;
      }
      made_.insert(path);
      ++stats_.directories;
    }
  }

  void File(std::string_view rel, std::string_view content) {
    Parent(rel);
    if (!status_.ok()) return;
    const std::string path = StrCat(root_, "/", rel);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      status_ = base::ErrnoStatus(errno, StrCat("write snapshot: create ", path));
      return;
    }
    size_t done = 0;
    while (done < content.size()) {
      ssize_t n = ::write(fd, content.data() + done, content.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        status_ = base::ErrnoStatus(errno, StrCat("write snapshot: write ", path));
        ::close(fd);
        return;
      }
      done += static_cast<size_t>(n);
    }
    if (::close(fd) != 0) {
      status_ = base::ErrnoStatus(errno, StrCat("write snapshot: close ", path));
      return;
    }
    ++stats_.files;
    stats_.bytes += content.size();
  }

  void Link(std::string_view rel, std::string_view target) {
    Parent(rel);
    if (!status_.ok()) return;
    const std::string path = StrCat(root_, "/", rel);
    if (::symlink(std::string(target).c_str(), path.c_str()) != 0 && errno != EEXIST) {
      status_ = base::ErrnoStatus(errno, StrCat("write snapshot: symlink ", path));
      return;
    }
    ++stats_.links;
  }

 private:
  void Parent(std::string_view rel) {
    size_t slash = rel.rfind('/');
    if (slash != std::string_view::npos) Dir(rel.substr(0, slash));
  }

  const std::string root_;
  absl::Status status_;
  SnapshotStats stats_;
  std::set<std::string> made_;
};

// A link target that stays inside the snapshot: absolute targets (which name
// the host's /sys) become relative to the link's directory.
std::string PortableTarget(std::string_view link_path, std::string_view target) {
  if (target.empty() || target.front() != '/') return std::string(target);
  std::optional<std::string> anchored = NormalizeLinkTarget("", target);
  if (!anchored) return std::string(target);
  std::string out;
  const size_t depth = base::Split(link_path, '/', base::SplitMode::kSkipEmpty).size() - 1;
  for (size_t i = 0; i < depth; ++i) out += "../";
  return out + *anchored;
}

void Replay(const Recorded& r, std::string_view prefix, Writer& w) {
  // Links first: a recorded link path must not become a directory.
  for (const auto& [path, target] : r.links) {
    w.Link(StrCat(prefix, "/", path), PortableTarget(path, target));
  }
  for (const std::string& dir : r.dirs) {
    if (r.links.count(dir)) continue;
    w.Dir(StrCat(prefix, "/", dir));
  }
  for (const auto& [path, content] : r.files) w.File(StrCat(prefix, "/", path), content);
}

// hwloc's CPU/NUMA inputs, minus what it does not read and what is slow,
// write-only or noisy to read.
constexpr std::string_view kSkippedNames[] = {
    "cpufreq",          "cpuidle",         "power",        "hotplug",
    "microcode",        "uevent",          "crash_notes",  "crash_notes_size",
    "thermal_throttle", "vulnerabilities", "intel_pstate", "amd_pstate",
    "compact",          "reclaim",         "vmstat",       "numastat",
    "modalias"};

bool SkippedName(std::string_view name) {
  return std::find(std::begin(kSkippedNames), std::end(kSkippedNames), name) !=
         std::end(kSkippedNames);
}

void CopyTree(const base::Sysfs& src, const std::string& rel, int depth, std::string_view prefix,
              Writer& w) {
  auto entries = src.ListDir(rel);
  if (!entries.ok()) return;
  w.Dir(StrCat(prefix, "/", rel));
  for (const std::string& name : *entries) {
    if (!w.status().ok()) return;
    if (SkippedName(name)) continue;
    const std::string path = StrCat(rel, "/", name);
    if (src.ReadLink(path).ok()) continue;  // node<N>/cpu<M>, memory<N>, subsystem, ...
    if (src.IsDirectory(path)) {
      if (depth > 0) CopyTree(src, path, depth - 1, prefix, w);
      continue;
    }
    if (auto content = src.ReadAttribute(path); content.ok()) {
      w.File(StrCat(prefix, "/", path), *content);
    }
  }
}

absl::Status PrepareOutDir(const std::string& out_dir) {
  struct stat st;
  if (::stat(out_dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          StrCat("write snapshot: ", out_dir, " exists and is not a directory"));
    }
    base::DirSysfs existing(out_dir);
    auto entries = existing.ListDir("");
    if (!entries.ok()) return base::Annotate(entries.status(), "write snapshot");
    if (!entries->empty()) {
      return absl::FailedPreconditionError(
          StrCat("write snapshot: ", out_dir, " is not empty; refusing to mix snapshots"));
    }
    return absl::OkStatus();
  }
  Writer w(out_dir.front() == '/' ? "" : ".");
  w.Dir(out_dir);
  return w.status();
}

}  // namespace

absl::StatusOr<SnapshotStats> WriteSnapshotFrom(const base::Sysfs& sys, const base::Sysfs* proc,
                                                const std::string& hwloc_root,
                                                const std::string& out_dir) {
  // The hwloc export first: it fails on a root hwloc cannot use, before
  // anything is written.
  auto hwloc = HwlocTopology::Load(
      {.kind = HwlocSource::Kind::kFsRoot, .path = hwloc_root, .io = HwlocIo::kPciAndOsDevices});
  if (!hwloc.ok()) return base::Annotate(hwloc.status(), "write snapshot");
  auto xml = (*hwloc)->ExportXml();
  if (!xml.ok()) return base::Annotate(xml.status(), "write snapshot");

  Recorded sys_reads;
  Recorded proc_reads;
  RecordingSysfs recording_sys(sys, sys_reads);
  std::optional<RecordingSysfs> recording_proc;
  if (proc != nullptr) recording_proc.emplace(*proc, proc_reads);
  auto scan = ReadSysfsPci(recording_sys, recording_proc ? &*recording_proc : nullptr);
  if (!scan.ok()) return base::Annotate(scan.status(), "write snapshot");

  if (absl::Status s = PrepareOutDir(out_dir); !s.ok()) return s;
  Writer w(out_dir);
  Replay(sys_reads, "sys", w);
  CopyTree(sys, "devices/system/cpu", 3, "sys", w);
  CopyTree(sys, "devices/system/node", 3, "sys", w);
  if (proc != nullptr) {
    Replay(proc_reads, "proc", w);
    for (std::string_view file : {"cpuinfo", "meminfo", "sys/kernel/hostname"}) {
      if (auto content = proc->ReadAttribute(file); content.ok()) {
        w.File(StrCat("proc/", file), *content);
      }
    }
  }
  w.File("hwloc.xml", *xml);
  w.File("SNAPSHOT.txt",
         StrCat("Tessera node snapshot of ", hwloc_root,
                ".\nLoad it with: node-debug topology --sysfs-root <this directory>\n"
                "or: lstopo -i <this directory>, lstopo -i <this directory>/hwloc.xml\n"));
  if (!w.status().ok()) return w.status();
  return w.stats();
}

absl::StatusOr<SnapshotStats> WriteSnapshot(const std::string& source_root,
                                            const std::string& out_dir) {
  auto resolved = ResolvedSysfsRoot::Resolve(source_root);
  if (!resolved.ok()) return base::Annotate(resolved.status(), "write snapshot");
  base::DirSysfs sys(resolved->sys_dir());
  std::optional<base::DirSysfs> proc;
  if (!resolved->proc_dir().empty()) proc.emplace(resolved->proc_dir());
  return WriteSnapshotFrom(sys, proc ? &*proc : nullptr, resolved->hwloc_root(), out_dir);
}

}  // namespace tessera::topology
