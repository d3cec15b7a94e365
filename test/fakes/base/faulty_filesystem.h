// FaultyFilesystem: wraps a Filesystem and fails chosen operations, to test a
// full disk (ENOSPC), a read-only state dir (EROFS) or I/O errors without root
// tricks (leveldb's ErrorEnv).
#pragma once

#include <functional>
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

  absl::StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes) const override {
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

 private:
  absl::Status Inject(std::string_view op, const std::string& path) const {
    std::lock_guard lock(mu_);
    return injector_ ? injector_(op, path) : absl::OkStatus();
  }

  base::Filesystem& inner_;
  mutable std::mutex mu_;
  Injector injector_;
};

}  // namespace tessera::testing
