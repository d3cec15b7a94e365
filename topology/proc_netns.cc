// ProcNetworkNamespaces: namespaces opened as nsfs files under /proc (or a
// bind mount such as /run/netns/<name>), identified by st_dev/st_ino as
// ip-netns(8) and lsns(8) do, and checked with NS_GET_NSTYPE (linux/nsfs.h,
// Linux 4.11) so a wrong path is refused instead of silently used.
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "topology/libnl_netlink.h"
#include "topology/netns.h"

namespace tessera::topology {

std::string NetnsId::ToString() const { return base::StrCat("net:[", inode, "]"); }

NetnsHandle::~NetnsHandle() {
  if (fd_ >= 0) ::close(fd_);
}

NetnsHandle::NetnsHandle(NetnsHandle&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      id_(other.id_),
      description_(std::move(other.description_)) {}

NetnsHandle& NetnsHandle::operator=(NetnsHandle&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    id_ = other.id_;
    description_ = std::move(other.description_);
  }
  return *this;
}

namespace {

absl::StatusOr<NetnsHandle> OpenNetnsFile(const std::string& path) {
  std::string what = base::StrCat("open netns ", path);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return base::ErrnoStatus(errno, what);
  struct Closer {
    int fd;
    ~Closer() {
      if (fd >= 0) ::close(fd);
    }
  } closer{fd};
  int type = ::ioctl(fd, NS_GET_NSTYPE);
  if (type < 0) {
    if (errno == ENOTTY || errno == EINVAL) {
      return absl::InvalidArgumentError(base::StrCat(what, ": not a namespace file"));
    }
    return base::ErrnoStatus(errno, base::StrCat(what, ": NS_GET_NSTYPE"));
  }
  if (type != CLONE_NEWNET) {
    return absl::InvalidArgumentError(base::StrCat(what, ": not a network namespace"));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) return base::ErrnoStatus(errno, base::StrCat(what, ": fstat"));
  closer.fd = -1;  // the handle owns it now
  return NetnsHandle(fd,
                     NetnsId{.device = static_cast<uint64_t>(st.st_dev),
                             .inode = static_cast<uint64_t>(st.st_ino)},
                     path);
}

}  // namespace

ProcNetworkNamespaces::ProcNetworkNamespaces(std::string proc_root)
    : proc_root_(std::move(proc_root)) {}

absl::StatusOr<NetnsHandle> ProcNetworkNamespaces::OpenCurrent() {
  return OpenNetnsFile(base::StrCat(proc_root_, "/self/ns/net"));
}

absl::StatusOr<NetnsHandle> ProcNetworkNamespaces::OpenProcess(int pid) {
  if (pid <= 0) {
    return absl::InvalidArgumentError(base::StrCat("open netns of process ", pid, ": bad pid"));
  }
  absl::StatusOr<NetnsHandle> h = OpenNetnsFile(base::StrCat(proc_root_, "/", pid, "/ns/net"));
  if (absl::IsNotFound(h.status())) {
    return absl::NotFoundError(base::StrCat("open netns of process ", pid, ": no such process"));
  }
  return h;
}

absl::StatusOr<NetnsHandle> ProcNetworkNamespaces::OpenPath(std::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("open netns: empty path");
  return OpenNetnsFile(std::string(path));
}

absl::StatusOr<std::unique_ptr<Netlink>> ProcNetworkNamespaces::Connect(const NetnsHandle& netns) {
  if (netns.fd() < 0) {
    return absl::InvalidArgumentError(
        base::StrCat("connect netlink in ", netns.description(), ": handle has no fd"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<LibnlNetlink> nl,
                   base::Annotate(LibnlNetlink::CreateInNetns(netns.fd()),
                                  base::StrCat("connect netlink in ", netns.description())));
  return std::unique_ptr<Netlink>(std::move(nl));
}

}  // namespace tessera::topology
