#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/strings.h"
#include "base/sysfs.h"

namespace tessera::base {
namespace {

constexpr size_t kMaxAttributeBytes = 1 << 20;
constexpr int kMaxLinkHops = 40;  // as the kernel's MAXSYMLINKS

// Normalizes a relative path lexically: drops ".", "" and resolves "..".
// Returns false if ".." would climb above the root.
bool Normalize(const std::vector<std::string>& parts, std::vector<std::string>* out) {
  for (const std::string& p : parts) {
    if (p.empty() || p == ".") continue;
    if (p == "..") {
      if (out->empty()) return false;
      out->pop_back();
    } else {
      out->push_back(p);
    }
  }
  return true;
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  for (std::string_view p : Split(path, '/', SplitMode::kSkipEmpty)) out.emplace_back(p);
  return out;
}

}  // namespace

std::string JoinPath(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  if (a.back() == '/') return StrCat(a, b);
  return StrCat(a, "/", b);
}

DirSysfs::DirSysfs(std::string root) : root_(std::move(root)) {}

std::string DirSysfs::Full(std::string_view path) const {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  return JoinPath(root_, path);
}

absl::StatusOr<std::string> DirSysfs::ReadAttribute(std::string_view path) const {
  return Read(path, kMaxAttributeBytes, /*truncate=*/false);
}

absl::StatusOr<std::string> DirSysfs::ReadAttributePrefix(std::string_view path,
                                                          size_t max_bytes) const {
  return Read(path, std::min(max_bytes, kMaxAttributeBytes), /*truncate=*/true);
}

absl::StatusOr<std::string> DirSysfs::Read(std::string_view path, size_t max_bytes,
                                           bool truncate) const {
  std::string full = Full(path);
  int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    // An absolute link inside a captured tree points at the host's /sys;
    // resolve it against our root and try again.
    if (auto resolved = Resolve(path); resolved.ok()) {
      full = Full(*resolved);
      fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC);
    } else {
      errno = ENOENT;
    }
  }
  if (fd < 0) return ErrnoStatus(errno, StrCat("open ", full));
  std::string out;
  char buf[4096];
  while (true) {
    // With truncate, never ask for more than is wanted: binary attributes
    // (config space) do work per byte read.
    size_t want = sizeof(buf);
    if (truncate) {
      if (out.size() >= max_bytes) break;
      want = std::min(want, max_bytes - out.size());
    }
    ssize_t n = ::read(fd, buf, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoStatus(err, StrCat("read ", full));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (!truncate && out.size() > max_bytes) {
      ::close(fd);
      return absl::OutOfRangeError(StrCat("read ", full, ": larger than 1 MiB"));
    }
  }
  ::close(fd);
  return out;
}

absl::StatusOr<std::vector<std::string>> DirSysfs::ListDir(std::string_view path) const {
  std::string full = Full(path);
  DIR* dir = ::opendir(full.c_str());
  if (dir == nullptr && errno == ENOENT) {
    if (auto resolved = Resolve(path); resolved.ok()) {
      full = Full(*resolved);
      dir = ::opendir(full.c_str());
    } else {
      errno = ENOENT;
    }
  }
  if (dir == nullptr) return ErrnoStatus(errno, StrCat("list ", full));
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<std::string> DirSysfs::ReadLink(std::string_view path) const {
  const std::string full = Full(path);
  char buf[4096];
  ssize_t n = ::readlink(full.c_str(), buf, sizeof(buf) - 1);
  if (n < 0) {
    if (errno == EINVAL) {
      return absl::InvalidArgumentError(StrCat("readlink ", full, ": not a symlink"));
    }
    return ErrnoStatus(errno, StrCat("readlink ", full));
  }
  return std::string(buf, static_cast<size_t>(n));
}

absl::StatusOr<std::string> DirSysfs::Resolve(std::string_view path) const {
  // Walk component by component, expanding links relative to the root (a
  // chroot-style realpath), so absolute links in captures stay inside the tree.
  std::vector<std::string> pending = SplitPath(path);
  std::reverse(pending.begin(), pending.end());
  std::vector<std::string> done;
  int hops = 0;
  while (!pending.empty()) {
    std::string part = std::move(pending.back());
    pending.pop_back();
    if (part == ".") continue;
    if (part == "..") {
      if (done.empty()) {
        return absl::FailedPreconditionError(StrCat("resolve ", path, ": escapes the root"));
      }
      done.pop_back();
      continue;
    }
    done.push_back(part);
    std::string current = Full(Join(done, "/"));
    struct stat st;
    if (::lstat(current.c_str(), &st) != 0) {
      return ErrnoStatus(errno, StrCat("resolve ", Full(path)));
    }
    if (!S_ISLNK(st.st_mode)) continue;
    if (++hops > kMaxLinkHops) {
      return absl::FailedPreconditionError(StrCat("resolve ", path, ": too many links"));
    }
    char buf[4096];
    ssize_t n = ::readlink(current.c_str(), buf, sizeof(buf) - 1);
    if (n < 0) return ErrnoStatus(errno, StrCat("readlink ", current));
    std::string_view target(buf, static_cast<size_t>(n));
    done.pop_back();
    if (!target.empty() && target.front() == '/') {
      // An absolute link in a capture names the host's /sys; re-anchor it.
      done.clear();
      std::vector<std::string> t = SplitPath(target);
      if (!t.empty() && t.front() == "sys") t.erase(t.begin());
      for (auto it = t.rbegin(); it != t.rend(); ++it) pending.push_back(*it);
    } else {
      std::vector<std::string> t = SplitPath(target);
      for (auto it = t.rbegin(); it != t.rend(); ++it) pending.push_back(*it);
    }
  }
  std::vector<std::string> normalized;
  if (!Normalize(done, &normalized)) {
    return absl::FailedPreconditionError(StrCat("resolve ", path, ": escapes the root"));
  }
  return Join(normalized, "/");
}

bool DirSysfs::StatPath(std::string_view path, struct stat* st) const {
  if (::stat(Full(path).c_str(), st) == 0) return true;
  if (errno != ENOENT) return false;
  auto resolved = Resolve(path);
  return resolved.ok() && ::stat(Full(*resolved).c_str(), st) == 0;
}

bool DirSysfs::Exists(std::string_view path) const {
  struct stat st;
  return StatPath(path, &st);
}

bool DirSysfs::IsDirectory(std::string_view path) const {
  struct stat st;
  return StatPath(path, &st) && S_ISDIR(st.st_mode);
}

}  // namespace tessera::base
