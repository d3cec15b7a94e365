// Sysfs: read-only access to a sysfs tree, rooted, so that the same code reads
// the live host (/sys, or $HOST_ROOT/sys inside a container), a captured tree
// checked in as a fixture, or a capture from a bug report.
//
// Paths are relative to the sysfs root and use '/' ("bus/pci/devices/0000:44:00.0").
// Absolute symlink targets inside the tree are resolved against the root, never
// against the real "/", so a capture cannot escape into the host.
//
// Implementations are safe for concurrent use.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

struct stat;

namespace tessera::base {

class Sysfs {
 public:
  virtual ~Sysfs() = default;
  Sysfs() = default;
  Sysfs(const Sysfs&) = delete;
  Sysfs& operator=(const Sysfs&) = delete;

  // Reads an attribute file. Returns the raw bytes (callers trim and parse
  // with base/parse.h). NotFound when absent, PermissionDenied, or another code
  // from the errno. Reads at most 1 MiB.
  virtual absl::StatusOr<std::string> ReadAttribute(std::string_view path) const = 0;
  // Reads at most `max_bytes` of an attribute. For binary attributes such as
  // a PCI function's "config", where every byte read costs a config-space
  // access on real hardware. Same codes as ReadAttribute. The default reads
  // the whole attribute and truncates it.
  virtual absl::StatusOr<std::string> ReadAttributePrefix(std::string_view path,
                                                          size_t max_bytes) const {
    absl::StatusOr<std::string> all = ReadAttribute(path);
    if (all.ok() && all->size() > max_bytes) all->resize(max_bytes);
    return all;
  }
  // Lists the entry names of a directory (not "." or ".."), sorted.
  virtual absl::StatusOr<std::vector<std::string>> ListDir(std::string_view path) const = 0;
  // Returns a symlink's target as stored (may be relative). InvalidArgument if
  // `path` is not a link.
  virtual absl::StatusOr<std::string> ReadLink(std::string_view path) const = 0;
  // Resolves every symlink in `path` and returns the canonical path relative to
  // the root ("devices/pci0000:80/0000:80:02.2/0000:82:00.0"). NotFound when a
  // component is missing; FailedPrecondition on a loop or an escape above root.
  virtual absl::StatusOr<std::string> Resolve(std::string_view path) const = 0;
  virtual bool Exists(std::string_view path) const = 0;
  virtual bool IsDirectory(std::string_view path) const = 0;

  // The directory this tree is read from (for diagnostics and for handing the
  // same root to hwloc); empty for trees that have no directory.
  virtual std::string root() const = 0;
};

// Reads a real directory: "/sys" on the host, or a fixture's "<root>/sys".
class DirSysfs final : public Sysfs {
 public:
  explicit DirSysfs(std::string root);

  absl::StatusOr<std::string> ReadAttribute(std::string_view path) const override;
  absl::StatusOr<std::string> ReadAttributePrefix(std::string_view path,
                                                  size_t max_bytes) const override;
  absl::StatusOr<std::vector<std::string>> ListDir(std::string_view path) const override;
  absl::StatusOr<std::string> ReadLink(std::string_view path) const override;
  absl::StatusOr<std::string> Resolve(std::string_view path) const override;
  bool Exists(std::string_view path) const override;
  bool IsDirectory(std::string_view path) const override;
  std::string root() const override { return root_; }

 private:
  std::string Full(std::string_view path) const;
  absl::StatusOr<std::string> Read(std::string_view path, size_t max_bytes, bool truncate) const;
  bool StatPath(std::string_view path, struct stat* st) const;
  const std::string root_;
};

// Joins sysfs path components with '/', skipping empty ones.
std::string JoinPath(std::string_view a, std::string_view b);

}  // namespace tessera::base
