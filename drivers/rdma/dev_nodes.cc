#include "drivers/rdma/dev_nodes.h"

#include <errno.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <system_error>

#include "base/status.h"
#include "base/strings.h"

namespace tessera::drivers::rdma {

absl::Status MaterializeRdmaDeviceNodes(const std::string& dev_root,
                                        const std::vector<DeviceNodeInfo>& nodes) {
  if (dev_root.empty() || dev_root.front() != '/') {
    return absl::InvalidArgumentError(base::StrCat("materialize rdma device nodes: dev root ",
                                                   base::Quote(dev_root), " is not absolute"));
  }
  for (const DeviceNodeInfo& n : nodes) {
    bool bad = n.path.empty() || n.path.front() == '/';
    for (std::string_view part : base::Split(n.path, '/'))
      bad = bad || part == ".." || part.empty();
    if (bad) {
      return absl::InvalidArgumentError(base::StrCat(
          "materialize rdma device nodes: ", base::Quote(n.path), " is not a relative path"));
    }
  }
  for (const DeviceNodeInfo& n : nodes) {
    const std::string path = base::StrCat(dev_root, "/", n.path);
    const std::string what = base::StrCat("create device node ", path);
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    if (ec) return base::ErrnoStatus(ec.value(), base::StrCat(what, ": create parent"));
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0) {
      if (S_ISCHR(st.st_mode)) continue;
      return absl::FailedPreconditionError(
          base::StrCat(what, ": something that is not a character device is there"));
    }
    const unsigned major = n.dev ? n.dev->major : 1;
    const unsigned minor = n.dev ? n.dev->minor : 3;
    if (::mknod(path.c_str(), S_IFCHR | 0666, makedev(major, minor)) != 0) {
      const int e = errno;
      if (e == EPERM) {
        return absl::PermissionDeniedError(
            base::StrCat(what, ": mknod needs CAP_MKNOD (run as root)"));
      }
      return base::ErrnoStatus(e, base::StrCat(what, ": mknod"));
    }
    // mknod applies the umask; the runtime copies the mode into the container.
    ::chmod(path.c_str(), 0666);
  }
  return absl::OkStatus();
}

}  // namespace tessera::drivers::rdma
