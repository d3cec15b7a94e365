// Filesystem: the files the agent owns (state dir, CDI dir, sockets' dirs),
// behind a seam so tests can inject ENOSPC, EROFS or EIO (FaultyFilesystem in
// test/fakes) while production uses the real calls.
//
// Paths are absolute host paths. Implementations are safe for concurrent use;
// callers serialize writes to the same file themselves.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace tessera::base {

struct WriteOptions {
  // 0644 by default; CDI specs must be readable by the runtime.
  mode_t mode = 0644;
  // fsync the file before the rename and the directory after it, so the write
  // survives a crash or power loss once this returns. Off only for caches.
  bool durable = true;
};

// A file opened for appending (the checkpoint journal). Not safe for
// concurrent use; owned by one writer. Must not outlive the Filesystem that
// opened it.
class AppendFile {
 public:
  virtual ~AppendFile() = default;
  AppendFile() = default;
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  // Appends all of `data` at the end of the file. On error a prefix of `data`
  // may have been written (a full disk part-way through).
  virtual absl::Status Append(std::string_view data) = 0;
  // fdatasync(2): everything appended so far, and the file size, is on stable
  // storage when this returns OK.
  virtual absl::Status Sync() = 0;
};

class Filesystem {
 public:
  virtual ~Filesystem() = default;
  Filesystem() = default;
  Filesystem(const Filesystem&) = delete;
  Filesystem& operator=(const Filesystem&) = delete;

  // Whole file. NotFound when absent. At most `max_bytes` (OutOfRange beyond).
  virtual absl::StatusOr<std::string> ReadFile(const std::string& path,
                                               size_t max_bytes = 64 << 20) const = 0;
  // Replaces `path` atomically: write a temp file in the same directory, fsync,
  // rename over `path`, fsync the directory. On any error the old contents stay
  // and the temp file is removed. Readers never see a partial file.
  virtual absl::Status WriteFileAtomic(const std::string& path, std::string_view contents,
                                       const WriteOptions& options) = 0;
  // Removes a file. NotFound when it does not exist. With `durable`, fsyncs the
  // directory afterwards.
  virtual absl::Status RemoveFile(const std::string& path, bool durable) = 0;
  // Names in a directory (no "." / ".."), sorted. NotFound when absent.
  virtual absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) const = 0;
  // mkdir -p with `mode` for the directories it creates. OK if they exist.
  virtual absl::Status CreateDirectories(const std::string& path, mode_t mode) = 0;
  virtual bool Exists(const std::string& path) const = 0;
  // Opens `path` for appending, creating it with `mode` when absent. The
  // directory entry of a newly created file is not synced: create the file
  // with WriteFileAtomic first when its existence must survive a crash.
  // The default implementation returns Unimplemented.
  virtual absl::StatusOr<std::unique_ptr<AppendFile>> OpenAppend(const std::string& path,
                                                                 mode_t mode);
};

// The real filesystem. Counts fsync calls, so the prepare path's durability
// cost can be measured and budgeted (see BENCHMARKS.md).
class RealFilesystem final : public Filesystem {
 public:
  absl::StatusOr<std::string> ReadFile(const std::string& path,
                                       size_t max_bytes = 64 << 20) const override;
  absl::Status WriteFileAtomic(const std::string& path, std::string_view contents,
                               const WriteOptions& options) override;
  absl::Status RemoveFile(const std::string& path, bool durable) override;
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) const override;
  absl::Status CreateDirectories(const std::string& path, mode_t mode) override;
  bool Exists(const std::string& path) const override;
  absl::StatusOr<std::unique_ptr<AppendFile>> OpenAppend(const std::string& path,
                                                         mode_t mode) override;

  // Number of fsync(2) and fdatasync(2) calls made so far (files, directories
  // and AppendFile::Sync).
  uint64_t fsync_count() const { return fsyncs_.load(std::memory_order_relaxed); }

 private:
  absl::Status SyncDirectory(const std::string& dir);
  std::atomic<uint64_t> fsyncs_{0};
};

// The directory part of `path` ("/a/b/c" -> "/a/b"; "c" -> ".").
std::string DirName(std::string_view path);
// The last component of `path`.
std::string BaseName(std::string_view path);

}  // namespace tessera::base
