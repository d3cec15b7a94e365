// FaultyFilesystem: wraps a Filesystem and fails chosen operations, to test a
// full disk (ENOSPC), a read-only state dir (EROFS) or I/O errors without root
// tricks (leveldb's ErrorEnv).
//
// The injector sees the operation name and the path: "read", "write",
// "remove", "list", "mkdir", "open_append", and for files opened with
// OpenAppend "append" and "sync". Thread-safe.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "base/filesystem.h"

namespace tessera::testing {

class FaultyFilesystem final : public base::Filesystem {
 public:
  // Decides per call: return a non-OK status to inject it.
  using Injector = std::function<absl::Status(std::string_view op, const std::string& path)>;

  explicit FaultyFilesystem(base::Filesystem& inner) : inner_(inner) {}

  void set_injector(Injector injector) {
    std::lock_guard lock(mu_);
    injector_ = std::move(injector);
  }

  // When an "append" is failed by the injector, first write this many bytes
  // of the data (as a disk that fills up part-way through a write would).
  void set_partial_append_bytes(size_t bytes) {
    std::lock_guard lock(mu_);
    partial_append_bytes_ = bytes;
  }

  absl::StatusOr<std::string> ReadFile(const std::string& path,
                                       size_t max_bytes = 64 << 20) const override {
    if (absl::Status s = Inject("read", path); !s.ok()) return s;
    return inner_.ReadFile(path, max_bytes);
  }
  absl::Status WriteFileAtomic(const std::string& path, std::string_view contents,
                               const base::WriteOptions& options) override {
    if (absl::Status s = Inject("write", path); !s.ok()) return s;
    return inner_.WriteFileAtomic(path, contents, options);
  }
  absl::Status RemoveFile(const std::string& path, bool durable) override {
    if (absl::Status s = Inject("remove", path); !s.ok()) return s;
    return inner_.RemoveFile(path, durable);
  }
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) const override {
    if (absl::Status s = Inject("list", path); !s.ok()) return s;
    return inner_.ListDir(path);
  }
  absl::Status CreateDirectories(const std::string& path, mode_t mode) override {
    if (absl::Status s = Inject("mkdir", path); !s.ok()) return s;
    return inner_.CreateDirectories(path, mode);
  }
  bool Exists(const std::string& path) const override { return inner_.Exists(path); }
  absl::StatusOr<std::unique_ptr<base::AppendFile>> OpenAppend(const std::string& path,
                                                               mode_t mode) override {
    if (absl::Status s = Inject("open_append", path); !s.ok()) return s;
    absl::StatusOr<std::unique_ptr<base::AppendFile>> inner = inner_.OpenAppend(path, mode);
    if (!inner.ok()) return inner.status();
    return std::unique_ptr<base::AppendFile>(
        std::make_unique<FaultyAppendFile>(*this, path, std::move(*inner)));
  }

 private:
  class FaultyAppendFile final : public base::AppendFile {
   public:
    FaultyAppendFile(const FaultyFilesystem& fs, std::string path,
                     std::unique_ptr<base::AppendFile> inner)
        : fs_(fs), path_(std::move(path)), inner_(std::move(inner)) {}

    absl::Status Append(std::string_view data) override {
      if (absl::Status s = fs_.Inject("append", path_); !s.ok()) {
        size_t partial = std::min(fs_.partial_append_bytes(), data.size());
        if (partial > 0) (void)inner_->Append(data.substr(0, partial));
        return s;
      }
      return inner_->Append(data);
    }
    absl::Status Sync() override {
      if (absl::Status s = fs_.Inject("sync", path_); !s.ok()) return s;
      return inner_->Sync();
    }

   private:
    const FaultyFilesystem& fs_;
    const std::string path_;
    std::unique_ptr<base::AppendFile> inner_;
  };

  size_t partial_append_bytes() const {
    std::lock_guard lock(mu_);
    return partial_append_bytes_;
  }

  absl::Status Inject(std::string_view op, const std::string& path) const {
    std::lock_guard lock(mu_);
    return injector_ ? injector_(op, path) : absl::OkStatus();
  }

  base::Filesystem& inner_;
  mutable std::mutex mu_;
  Injector injector_;
  size_t partial_append_bytes_ = 0;
};

}  // namespace tessera::testing
