#include "drivers/gpu/dev_nodes.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "base/status.h"
#include "base/strings.h"

namespace tessera::drivers::gpu {
namespace {

using base::StrCat;

// /dev/null (Documentation/admin-guide/devices.txt: char 1 = memory devices, 3 = null).
constexpr unsigned kNullMajor = 1;
constexpr unsigned kNullMinor = 3;

bool Safe(const std::string& rel) {
  if (rel.empty() || rel.front() == '/') return false;
  for (std::string_view part : base::Split(rel, '/')) {
    if (part.empty() || part == "." || part == "..") return false;
  }
  return true;
}

}  // namespace

absl::Status MaterializeDeviceNodes(const std::string& dev_root,
                                    const std::vector<std::string>& relative_paths) {
  if (dev_root.empty()) return absl::InvalidArgumentError("materialize device nodes: no dev root");
  for (const std::string& rel : relative_paths) {
    if (!Safe(rel)) {
      return absl::InvalidArgumentError(
          StrCat("materialize device nodes: invalid path ", base::Quote(rel)));
    }
  }
  for (const std::string& rel : relative_paths) {
    const std::string path = StrCat(dev_root, "/", rel);
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    if (ec) {
      return base::ErrnoStatus(ec.value(), StrCat("create directory for device node ", path));
    }
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
      if (S_ISCHR(st.st_mode)) continue;
      return absl::FailedPreconditionError(
          StrCat("materialize device node ", path, ": a non-device file is in the way"));
    }
    if (::mknod(path.c_str(), S_IFCHR | 0666, makedev(kNullMajor, kNullMinor)) != 0) {
      const int err = errno;
      if (err == EPERM) {
        return absl::PermissionDeniedError(
            StrCat("materialize device node ", path,
                   ": mknod needs root (CAP_MKNOD); run as root or create the node by hand"));
      }
      return base::ErrnoStatus(err, StrCat("materialize device node ", path));
    }
    // mknod applies the umask; make the node usable by the container's user.
    ::chmod(path.c_str(), 0666);
  }
  return absl::OkStatus();
}

}  // namespace tessera::drivers::gpu
