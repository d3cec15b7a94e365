#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <utility>

#include "base/filesystem.h"
#include "base/strings.h"
#include "spdlog/fmt/fmt.h"
#include "base/status.h"

namespace tessera::base {
namespace {

absl::Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, StrCat("write ", path));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

class RealAppendFile final : public AppendFile {
 public:
  RealAppendFile(int fd, std::string path, std::atomic<uint64_t>& fsyncs)
      : fd_(fd), path_(std::move(path)), fsyncs_(fsyncs) {}
  ~RealAppendFile() override { ::close(fd_); }

  absl::Status Append(std::string_view data) override { return WriteAll(fd_, data, path_); }

  absl::Status Sync() override {
    fsyncs_.fetch_add(1, std::memory_order_relaxed);
    if (::fdatasync(fd_) != 0) return ErrnoStatus(errno, StrCat("fdatasync ", path_));
    return absl::OkStatus();
  }

 private:
  const int fd_;
  const std::string path_;
  std::atomic<uint64_t>& fsyncs_;
};

std::string TempName(const std::string& path) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}/.{}.tmp-{}-{:016x}", DirName(path), BaseName(path), ::getpid(), rng());
}

}  // namespace

std::string DirName(std::string_view path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

std::string BaseName(std::string_view path) {
  size_t slash = path.find_last_of('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

absl::StatusOr<std::string> RealFilesystem::ReadFile(const std::string& path,
                                                     size_t max_bytes) const {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, StrCat("open ", path));
  std::string out;
  char buf[16384];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoStatus(err, StrCat("read ", path));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      ::close(fd);
      return absl::OutOfRangeError(
          StrCat("read ", path, ": larger than the limit of ", max_bytes, " bytes"));
    }
  }
  ::close(fd);
  return out;
}

absl::Status RealFilesystem::SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, StrCat("open directory ", dir));
  fsyncs_.fetch_add(1, std::memory_order_relaxed);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus(err, StrCat("fsync directory ", dir));
  return absl::OkStatus();
}

absl::Status RealFilesystem::WriteFileAtomic(const std::string& path, std::string_view contents,
                                             const WriteOptions& options) {
  const std::string tmp = TempName(path);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, options.mode);
  if (fd < 0) return ErrnoStatus(errno, StrCat("create ", tmp));
  absl::Status status = WriteAll(fd, contents, tmp);
  if (status.ok() && ::fchmod(fd, options.mode) != 0) {
    status = ErrnoStatus(errno, StrCat("chmod ", tmp));
  }
  if (status.ok() && options.durable) {
    fsyncs_.fetch_add(1, std::memory_order_relaxed);
    if (::fsync(fd) != 0) status = ErrnoStatus(errno, StrCat("fsync ", tmp));
  }
  if (::close(fd) != 0 && status.ok()) status = ErrnoStatus(errno, StrCat("close ", tmp));
  if (status.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    status = ErrnoStatus(errno, StrCat("rename ", tmp, " to ", path));
  }
  if (!status.ok()) {
    ::unlink(tmp.c_str());
    return status;
  }
  if (options.durable) return SyncDirectory(DirName(path));
  return absl::OkStatus();
}

absl::Status RealFilesystem::RemoveFile(const std::string& path, bool durable) {
  if (::unlink(path.c_str()) != 0) return ErrnoStatus(errno, StrCat("remove ", path));
  if (durable) return SyncDirectory(DirName(path));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> RealFilesystem::ListDir(const std::string& path) const {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return ErrnoStatus(errno, StrCat("list ", path));
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

absl::Status RealFilesystem::CreateDirectories(const std::string& path, mode_t mode) {
  if (path.empty()) return absl::InvalidArgumentError("create directory: empty path");
  std::string current;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    current = path.substr(0, next);
    pos = next + 1;
    if (current.empty()) continue;
    if (::mkdir(current.c_str(), mode) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, StrCat("create directory ", current));
    }
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus(errno, StrCat("stat ", path));
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(StrCat("create directory ", path, ": not a directory"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<AppendFile>> Filesystem::OpenAppend(const std::string& path,
                                                                   mode_t mode) {
  (void)mode;
  return absl::UnimplementedError(StrCat("open ", path, " for appending: not supported"));
}

absl::StatusOr<std::unique_ptr<AppendFile>> RealFilesystem::OpenAppend(const std::string& path,
                                                                       mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus(errno, StrCat("open ", path, " for appending"));
  return std::unique_ptr<AppendFile>(std::make_unique<RealAppendFile>(fd, path, fsyncs_));
}

bool RealFilesystem::Exists(const std::string& path) const {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace tessera::base
