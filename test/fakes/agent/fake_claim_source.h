// FakeClaimSource: an in-memory ClaimSource. Tests put claims in, remove them,
// and inject errors (a transient API failure, a parse error) per call.
// Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

#include "agent/claims/claim_source.h"

namespace tessera::testing {

class FakeClaimSource final : public agent::ClaimSource {
 public:
  void Put(agent::ResourceClaim claim) {
    std::lock_guard lock(mu_);
    std::string key = claim.namespace_ + "/" + claim.name;
    claims_[key] = std::move(claim);
  }
  void Remove(const std::string& namespace_, const std::string& name) {
    std::lock_guard lock(mu_);
    claims_.erase(namespace_ + "/" + name);
  }
  // The next `times` GetClaim calls fail with `status`.
  void FailNext(absl::Status status, int times = 1) {
    std::lock_guard lock(mu_);
    for (int i = 0; i < times; ++i) failures_.push_back(status);
  }
  int get_calls() const {
    std::lock_guard lock(mu_);
    return get_calls_;
  }

  absl::StatusOr<agent::ResourceClaim> GetClaim(std::string_view namespace_,
                                                std::string_view name) override {
    std::lock_guard lock(mu_);
    ++get_calls_;
    if (!failures_.empty()) {
      absl::Status s = failures_.front();
      failures_.erase(failures_.begin());
      return s;
    }
    std::string key = std::string(namespace_) + "/" + std::string(name);
    auto it = claims_.find(key);
    if (it == claims_.end()) {
      return absl::NotFoundError("resourceclaims \"" + std::string(name) + "\" not found in " +
                                 std::string(namespace_));
    }
    return it->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, agent::ResourceClaim> claims_;
  std::vector<absl::Status> failures_;
  int get_calls_ = 0;
};

}  // namespace tessera::testing
