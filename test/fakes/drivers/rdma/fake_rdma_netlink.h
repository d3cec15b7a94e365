// FakeRdmaNetlink: RDMA netlink in memory. A settable netns mode and device
// list; MoveDeviceToNetns removes the device from the list (it left this
// namespace) and records the move; ReturnDevice puts it back, as the kernel
// does when the namespace dies. FailNext injects errors. Thread-safe.
#pragma once

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "base/strings.h"
#include "drivers/rdma/rdma_netlink.h"

namespace tessera::testing {

class FakeRdmaNetlink final : public drivers::rdma::RdmaNetlink {
 public:
  enum class Op { kGetNetnsMode, kListDevices, kMove };

  void set_mode(drivers::rdma::RdmaNetnsMode mode) {
    std::lock_guard lock(mu_);
    mode_ = mode;
  }
  void AddDevice(std::string name) {
    std::lock_guard lock(mu_);
    devices_.push_back({next_index_++, std::move(name)});
  }
  // The device comes back to this namespace (its container namespace died).
  void ReturnDevice(const std::string& name) {
    std::lock_guard lock(mu_);
    for (auto it = moved_.begin(); it != moved_.end(); ++it) {
      if (it->name == name) {
        devices_.push_back(*it);
        moved_.erase(it);
        return;
      }
    }
  }
  // "mlx5_0 -> net:[1001]" for every successful move.
  std::vector<std::string> moves() const {
    std::lock_guard lock(mu_);
    return moves_;
  }
  void FailNext(Op op, absl::Status status) {
    std::lock_guard lock(mu_);
    failures_.push_back({op, std::move(status)});
  }

  absl::StatusOr<drivers::rdma::RdmaNetnsMode> GetNetnsMode() override {
    std::lock_guard lock(mu_);
    if (absl::Status s = Take(Op::kGetNetnsMode); !s.ok()) return s;
    return mode_;
  }
  absl::StatusOr<std::vector<drivers::rdma::RdmaDeviceRef>> ListDevices() override {
    std::lock_guard lock(mu_);
    if (absl::Status s = Take(Op::kListDevices); !s.ok()) return s;
    auto out = devices_;
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.index < b.index; });
    return out;
  }
  absl::Status MoveDeviceToNetns(std::string_view device,
                                 const topology::NetnsHandle& target) override {
    std::lock_guard lock(mu_);
    if (absl::Status s = Take(Op::kMove); !s.ok()) return s;
    auto it = std::find_if(devices_.begin(), devices_.end(),
                           [&](const auto& d) { return d.name == device; });
    if (it == devices_.end()) {
      return absl::NotFoundError(base::StrCat("move rdma device ", device, ": not found"));
    }
    if (mode_ == drivers::rdma::RdmaNetnsMode::kShared) {
      return absl::PermissionDeniedError("move rdma device: not allowed in shared mode");
    }
    moves_.push_back(base::StrCat(device, " -> ", target.id().ToString()));
    moved_.push_back(*it);
    devices_.erase(it);
    return absl::OkStatus();
  }

 private:
  absl::Status Take(Op op) {
    for (auto it = failures_.begin(); it != failures_.end(); ++it) {
      if (it->first == op) {
        absl::Status s = it->second;
        failures_.erase(it);
        return s;
      }
    }
    return absl::OkStatus();
  }

  mutable std::mutex mu_;
  drivers::rdma::RdmaNetnsMode mode_ = drivers::rdma::RdmaNetnsMode::kShared;
  uint32_t next_index_ = 1;
  std::vector<drivers::rdma::RdmaDeviceRef> devices_;
  std::vector<drivers::rdma::RdmaDeviceRef> moved_;
  std::vector<std::string> moves_;
  std::vector<std::pair<Op, absl::Status>> failures_;
};

}  // namespace tessera::testing
