// FakeVerbs: libibverbs in memory. Tests add devices and port attributes;
// ListDevices can be made to fail as on a kernel without RDMA (ENOSYS ->
// FailedPrecondition) or otherwise, and QueryPort fails per call with
// FailNextQuery. Counts calls. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

#include "base/strings.h"
#include "drivers/rdma/verbs.h"

namespace tessera::testing {

class FakeVerbs final : public drivers::rdma::Verbs {
 public:
  void AddDevice(std::string name, std::string node_guid = "") {
    std::lock_guard lock(mu_);
    devices_.push_back({std::move(name), std::move(node_guid)});
  }
  void SetPort(const std::string& device, drivers::rdma::VerbsPort port) {
    std::lock_guard lock(mu_);
    ports_[{device, port.number}] = port;
  }
  // Every ListDevices fails with `status` until cleared with OkStatus().
  void SetListError(absl::Status status) {
    std::lock_guard lock(mu_);
    list_error_ = std::move(status);
  }
  void FailNextQuery(absl::Status status) {
    std::lock_guard lock(mu_);
    query_failures_.push_back(std::move(status));
  }
  int list_calls() const {
    std::lock_guard lock(mu_);
    return list_calls_;
  }
  int query_calls() const {
    std::lock_guard lock(mu_);
    return query_calls_;
  }

  absl::StatusOr<std::vector<drivers::rdma::VerbsDevice>> ListDevices() override {
    std::lock_guard lock(mu_);
    ++list_calls_;
    if (!list_error_.ok()) return list_error_;
    return devices_;
  }
  absl::StatusOr<drivers::rdma::VerbsPort> QueryPort(std::string_view device,
                                                     uint32_t port) override {
    std::lock_guard lock(mu_);
    ++query_calls_;
    if (!query_failures_.empty()) {
      absl::Status s = query_failures_.front();
      query_failures_.erase(query_failures_.begin());
      return s;
    }
    auto it = ports_.find({std::string(device), port});
    if (it == ports_.end()) {
      return absl::NotFoundError(
          base::StrCat("query port ", port, " of rdma device ", device, ": no such port"));
    }
    return it->second;
  }

 private:
  mutable std::mutex mu_;
  std::vector<drivers::rdma::VerbsDevice> devices_;
  std::map<std::pair<std::string, uint32_t>, drivers::rdma::VerbsPort> ports_;
  absl::Status list_error_;
  std::vector<absl::Status> query_failures_;
  int list_calls_ = 0;
  int query_calls_ = 0;
};

}  // namespace tessera::testing
