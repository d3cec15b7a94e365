#include "kubelet/internal/socket_file.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <random>

#include "base/filesystem.h"
#include "base/status.h"
#include "base/strings.h"

namespace tessera::kubelet::internal {

absl::Status RemoveStaleSocket(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return base::ErrnoStatus(errno, base::StrCat("stat stale socket ", path));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        base::StrCat("remove stale socket ", path, ": not a socket, refusing to delete it"));
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return base::ErrnoStatus(errno, base::StrCat("remove stale socket ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> TempSocketPath(const std::string& final_path) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string dir = base::DirName(final_path);
  std::random_device random;
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::string name = ".";
    uint32_t bits = random();
    for (int i = 0; i < 6; ++i, bits /= 36) name.push_back(kAlphabet[bits % 36]);
    std::string candidate = dir == "/" ? "/" + name : base::StrCat(dir, "/", name);
    struct stat st;
    if (::lstat(candidate.c_str(), &st) != 0 && errno == ENOENT) return candidate;
  }
  return absl::AlreadyExistsError(
      base::StrCat("pick a temporary socket name next to ", final_path, ": all taken"));
}

absl::Status PublishSocket(const std::string& temp_path, const std::string& final_path) {
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    return base::ErrnoStatus(errno, base::StrCat("rename socket ", temp_path, " to ", final_path));
  }
  return absl::OkStatus();
}

absl::Status RestrictSocket(const std::string& path) {
  // bind() created the socket with the process umask; only root runs the
  // agent and the kubelet connects as root, so 0600 is enough.
  if (::chmod(path.c_str(), 0600) != 0) {
    return base::ErrnoStatus(errno, base::StrCat("chmod 0600 socket ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<SocketIdentity> IdentifySocket(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    return base::ErrnoStatus(errno, base::StrCat("stat socket ", path));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(base::StrCat("identify socket ", path, ": not a socket"));
  }
  return SocketIdentity{.device = st.st_dev, .inode = st.st_ino, .ctime = st.st_ctim};
}

absl::Status RemoveOwnSocket(const std::string& path, const SocketIdentity& identity) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return base::ErrnoStatus(errno, base::StrCat("stat socket ", path));
  }
  if (!S_ISSOCK(st.st_mode) || st.st_dev != identity.device || st.st_ino != identity.inode ||
      st.st_ctim.tv_sec != identity.ctime.tv_sec || st.st_ctim.tv_nsec != identity.ctime.tv_nsec) {
    return absl::OkStatus();  // replaced by someone else: theirs now
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return base::ErrnoStatus(errno, base::StrCat("remove socket ", path));
  }
  return absl::OkStatus();
}

}  // namespace tessera::kubelet::internal
