// FaultySysfs: wraps a Sysfs (normally DirSysfs on a fixture) and makes chosen
// paths fail or vanish, to test EACCES/EIO and devices disappearing mid-scan.
#pragma once

#include <functional>
#include <mutex>

#include "absl/status/status.h"
#include "base/sysfs.h"

namespace tessera::testing {

class FaultySysfs final : public base::Sysfs {
 public:
  // Return non-OK to fail the call on `path`; NotFound also makes Exists() false.
  using Injector = std::function<absl::Status(std::string_view op, std::string_view path)>;

  explicit FaultySysfs(const base::Sysfs& inner) : inner_(inner) {}
  void set_injector(Injector injector) {
    std::lock_guard lock(mu_);
    injector_ = std::move(injector);
  }

  absl::StatusOr<std::string> ReadAttribute(std::string_view path) const override {
    if (auto s = Inject("read", path); !s.ok()) return s;
    return inner_.ReadAttribute(path);
  }
  absl::StatusOr<std::vector<std::string>> ListDir(std::string_view path) const override {
    if (auto s = Inject("list", path); !s.ok()) return s;
    return inner_.ListDir(path);
  }
  absl::StatusOr<std::string> ReadLink(std::string_view path) const override {
    if (auto s = Inject("readlink", path); !s.ok()) return s;
    return inner_.ReadLink(path);
  }
  absl::StatusOr<std::string> Resolve(std::string_view path) const override {
    if (auto s = Inject("resolve", path); !s.ok()) return s;
    return inner_.Resolve(path);
  }
  bool Exists(std::string_view path) const override {
    if (auto s = Inject("exists", path); absl::IsNotFound(s)) return false;
    return inner_.Exists(path);
  }
  bool IsDirectory(std::string_view path) const override {
    if (auto s = Inject("exists", path); absl::IsNotFound(s)) return false;
    return inner_.IsDirectory(path);
  }
  std::string root() const override { return inner_.root(); }

 private:
  absl::Status Inject(std::string_view op, std::string_view path) const {
    std::lock_guard lock(mu_);
    return injector_ ? injector_(op, path) : absl::OkStatus();
  }
  const base::Sysfs& inner_;
  mutable std::mutex mu_;
  Injector injector_;
};

}  // namespace tessera::testing
