// FakeClaimHandler: an in-memory ClaimHandler for tests of kubelet/ (and of
// anything that drives a PluginServer). By default every claim prepares to
// one device {pool "pool-0", device "dev-<name>", CDI id
// "tessera.dev/test=<uid>"}; tests script per-uid results, make the handler
// "forget" a claim, or close a gate so calls block inside the handler (to
// observe serialization). Records every call. Safe for concurrent use.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"

#include "kubelet/claim_handler.h"

namespace tessera::testing {

class FakeClaimHandler final : public kubelet::ClaimHandler {
 public:
  std::map<std::string, kubelet::PrepareResult> Prepare(
      const std::vector<kubelet::ClaimRef>& claims) override {
    Enter();
    std::map<std::string, kubelet::PrepareResult> out;
    {
      std::lock_guard lock(mu_);
      prepare_calls_.push_back(claims);
      for (const kubelet::ClaimRef& c : claims) {
        if (omitted_.contains(c.uid)) continue;
        auto it = prepare_results_.find(c.uid);
        if (it != prepare_results_.end()) {
          out[c.uid] = it->second;
        } else {
          out[c.uid] = kubelet::PrepareResult{
              .status = absl::OkStatus(),
              .devices = {{.pool_name = "pool-0",
                           .device_name = "dev-" + c.name,
                           .cdi_device_ids = {"tessera.dev/test=" + c.uid}}}};
        }
        if (out[c.uid].status.ok()) prepared_.insert(c.uid);
      }
    }
    Leave();
    return out;
  }

  std::map<std::string, absl::Status> Unprepare(
      const std::vector<kubelet::ClaimRef>& claims) override {
    Enter();
    std::map<std::string, absl::Status> out;
    {
      std::lock_guard lock(mu_);
      unprepare_calls_.push_back(claims);
      for (const kubelet::ClaimRef& c : claims) {
        if (omitted_.contains(c.uid)) continue;
        auto it = unprepare_results_.find(c.uid);
        out[c.uid] = it != unprepare_results_.end() ? it->second : absl::OkStatus();
        if (out[c.uid].ok()) prepared_.erase(c.uid);
      }
    }
    Leave();
    return out;
  }

  void SetPrepareResult(const std::string& uid, kubelet::PrepareResult result) {
    std::lock_guard lock(mu_);
    prepare_results_[uid] = std::move(result);
  }
  void SetUnprepareResult(const std::string& uid, absl::Status status) {
    std::lock_guard lock(mu_);
    unprepare_results_[uid] = std::move(status);
  }
  // The handler leaves this claim out of its answers (a handler bug).
  void Omit(const std::string& uid) {
    std::lock_guard lock(mu_);
    omitted_.insert(uid);
  }

  // While the gate is closed, calls wait inside the handler.
  void CloseGate() {
    std::lock_guard lock(mu_);
    gate_open_ = false;
  }
  void OpenGate() {
    {
      std::lock_guard lock(mu_);
      gate_open_ = true;
    }
    cv_.notify_all();
  }
  // Waits (at most `timeout`) until `n` calls are inside the handler.
  bool WaitForActiveCalls(int n, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return active_ >= n; });
  }
  // Waits (at most `timeout`) until `n` calls have returned.
  bool WaitForCompletedCalls(int n, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return completed_ >= n; });
  }

  int max_concurrent_calls() const {
    std::lock_guard lock(mu_);
    return max_active_;
  }
  int active_calls() const {
    std::lock_guard lock(mu_);
    return active_;
  }
  std::vector<std::vector<kubelet::ClaimRef>> prepare_calls() const {
    std::lock_guard lock(mu_);
    return prepare_calls_;
  }
  std::vector<std::vector<kubelet::ClaimRef>> unprepare_calls() const {
    std::lock_guard lock(mu_);
    return unprepare_calls_;
  }
  std::set<std::string> prepared() const {
    std::lock_guard lock(mu_);
    return prepared_;
  }

 private:
  void Enter() {
    std::unique_lock lock(mu_);
    ++active_;
    max_active_ = std::max(max_active_, active_);
    cv_.notify_all();
    cv_.wait(lock, [&] { return gate_open_; });
  }
  void Leave() {
    {
      std::lock_guard lock(mu_);
      --active_;
      ++completed_;
    }
    cv_.notify_all();
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool gate_open_ = true;
  int active_ = 0;
  int max_active_ = 0;
  int completed_ = 0;
  std::map<std::string, kubelet::PrepareResult> prepare_results_;
  std::map<std::string, absl::Status> unprepare_results_;
  std::set<std::string> omitted_;
  std::set<std::string> prepared_;
  std::vector<std::vector<kubelet::ClaimRef>> prepare_calls_;
  std::vector<std::vector<kubelet::ClaimRef>> unprepare_calls_;
};

}  // namespace tessera::testing
