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

  // Number of fsync(2) calls made so far (files and directories).
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
