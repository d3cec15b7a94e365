// FakeDriver: a working in-memory DeviceDriver for tests of the claim
// machinery (agent/claims, kubelet services). It keeps a settable inventory,
// validates claims the way a real driver must (unknown device, unknown config
// kind, bad config fields), returns CDI edits, and tracks the host state it
// "changed" per claim so tests can assert rollback and re-apply.
//
// Config parameters it understands: {"kind": "FakeConfig", "mode": "<string>"}
// (apiVersion is allowed and ignored). Edits per device: env
// FAKE_<FAMILY>_DEVICE_<n>=<device>, device node /dev/fake-<device>; per
// claim: env FAKE_CLAIM=<uid>, and FAKE_PEERS=<driver>/<device>,... when the
// claim has peers. State per device: {"device": name, "mode": mode}.
//
// Thread-safe.
#pragma once

#include <cctype>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"

#include "drivers/device_driver.h"

namespace tessera::testing {

class FakeDriver final : public drivers::DeviceDriver {
 public:
  enum class Call { kEnumerate, kPrepare, kUnprepare, kReapply };

  explicit FakeDriver(std::string family = "gpu") : family_(std::move(family)) {}

  // Devices named `names` (healthy, no attributes).
  void SetDevices(const std::vector<std::string>& names) {
    drivers::Inventory inv;
    for (const std::string& n : names) inv.devices.push_back({.name = n});
    set_inventory(std::move(inv));
  }
  void set_inventory(drivers::Inventory inventory) {
    std::lock_guard lock(mu_);
    inventory_ = std::move(inventory);
  }
  // Whether prepares change host state (MIG, netdev moves, ...).
  void set_side_effects(bool on) {
    std::lock_guard lock(mu_);
    side_effects_ = on;
  }
  // The next `times` calls of `call` fail with `status` (before doing anything).
  void FailNext(Call call, absl::Status status, int times = 1) {
    std::lock_guard lock(mu_);
    for (int i = 0; i < times; ++i) failures_[call].push_back(status);
  }
  // Rewrites what a successful PrepareClaim returns (after the host state
  // was changed), e.g. to return invalid or empty edits.
  void set_result_mutator(std::function<void(drivers::PreparedClaim&)> mutator) {
    std::lock_guard lock(mu_);
    mutator_ = std::move(mutator);
  }

  int calls(Call call) const {
    std::lock_guard lock(mu_);
    auto it = calls_.find(call);
    return it == calls_.end() ? 0 : it->second;
  }
  // Host state: claim uid -> devices currently set up for it (only with side
  // effects on).
  std::map<std::string, std::set<std::string>> applied() const {
    std::lock_guard lock(mu_);
    return applied_;
  }
  // Claim uids passed to ReapplyClaim, in order.
  std::vector<std::string> reapplied() const {
    std::lock_guard lock(mu_);
    return reapplied_;
  }
  // The last PreparedClaim passed to UnprepareClaim.
  drivers::PreparedClaim last_unprepared() const {
    std::lock_guard lock(mu_);
    return last_unprepared_;
  }
  // The last request passed to PrepareClaim.
  drivers::ClaimPrepareRequest last_request() const {
    std::lock_guard lock(mu_);
    return last_request_;
  }

  std::string_view family() const override { return family_; }

  absl::StatusOr<drivers::Inventory> Enumerate() override {
    std::lock_guard lock(mu_);
    if (absl::Status s = Take(Call::kEnumerate); !s.ok()) return s;
    return inventory_;
  }

  bool HasSideEffects(const drivers::ClaimPrepareRequest&) const override {
    std::lock_guard lock(mu_);
    return side_effects_;
  }

  absl::StatusOr<drivers::PreparedClaim> PrepareClaim(
      const drivers::ClaimPrepareRequest& request) override {
    std::lock_guard lock(mu_);
    last_request_ = request;
    if (absl::Status s = Take(Call::kPrepare); !s.ok()) return s;
    // Validate everything before changing anything.
    std::vector<std::string> modes;
    for (const drivers::DeviceAllocation& d : request.devices) {
      bool known = false;
      for (const drivers::Device& dev : inventory_.devices) known = known || dev.name == d.device;
      if (!known) {
        return absl::NotFoundError("request " + d.request + ": device \"" + d.device +
                                   "\" is not on this node");
      }
      std::string mode = "default";
      for (const drivers::OpaqueConfig& c : d.configs) {
        const nlohmann::json& p = c.parameters;
        std::string kind =
            p.contains("kind") && p["kind"].is_string() ? p["kind"].get<std::string>() : "";
        if (kind != "FakeConfig") {
          return absl::InvalidArgumentError("request " + d.request + ": unknown config kind \"" +
                                            kind + "\"");
        }
        for (auto it = p.begin(); it != p.end(); ++it) {
          if (it.key() != "kind" && it.key() != "apiVersion" && it.key() != "mode") {
            return absl::InvalidArgumentError("request " + d.request + ": config field \"" +
                                              it.key() + "\" is not known");
          }
        }
        if (p.contains("mode")) {
          if (!p["mode"].is_string()) {
            return absl::InvalidArgumentError("request " + d.request +
                                              ": config field \"mode\" must be a string");
          }
          mode = p["mode"].get<std::string>();  // FromClaim overrides FromClass
        }
      }
      modes.push_back(mode);
    }
    drivers::PreparedClaim out;
    std::string upper_family;
    for (char c : family_) upper_family += static_cast<char>(std::toupper(c));
    for (size_t i = 0; i < request.devices.size(); ++i) {
      const drivers::DeviceAllocation& d = request.devices[i];
      drivers::PreparedDevice p;
      p.request = d.request;
      p.device = d.device;
      p.share_id = d.share_id;
      p.edits.env = {"FAKE_" + upper_family + "_DEVICE_" + std::to_string(i) + "=" + d.device};
      p.edits.device_nodes = {{.path = "/dev/fake-" + d.device}};
      p.state = {{"device", d.device}, {"mode", modes[i]}};
      out.devices.push_back(std::move(p));
      if (side_effects_) applied_[request.claim_uid].insert(d.device);
    }
    out.claim_edits.env = {"FAKE_CLAIM=" + request.claim_uid};
    if (!request.peers.empty()) {
      std::string peers;
      for (const drivers::PeerDevice& p : request.peers) {
        peers += (peers.empty() ? "" : ",") + p.driver + "/" + p.device;
      }
      out.claim_edits.env.push_back("FAKE_PEERS=" + peers);
    }
    if (mutator_) mutator_(out);
    return out;
  }

  absl::Status UnprepareClaim(std::string_view claim_uid,
                              const drivers::PreparedClaim& prepared) override {
    std::lock_guard lock(mu_);
    last_unprepared_ = prepared;
    if (absl::Status s = Take(Call::kUnprepare); !s.ok()) return s;
    auto it = applied_.find(std::string(claim_uid));
    if (it != applied_.end()) {
      for (const drivers::PreparedDevice& d : prepared.devices) it->second.erase(d.device);
      if (it->second.empty()) applied_.erase(it);
    }
    return absl::OkStatus();
  }

  absl::Status ReapplyClaim(std::string_view claim_uid,
                            const drivers::PreparedClaim& prepared) override {
    std::lock_guard lock(mu_);
    if (absl::Status s = Take(Call::kReapply); !s.ok()) return s;
    reapplied_.emplace_back(claim_uid);
    if (side_effects_) {
      for (const drivers::PreparedDevice& d : prepared.devices) {
        applied_[std::string(claim_uid)].insert(d.device);
      }
    }
    return absl::OkStatus();
  }

  // Simulates a reboot: host state set up by prepares is gone.
  void ForgetHostStateForTest() {
    std::lock_guard lock(mu_);
    applied_.clear();
  }

 private:
  // Counts the call and pops an injected failure. REQUIRES: mu_ held.
  absl::Status Take(Call call) {
    ++calls_[call];
    auto it = failures_.find(call);
    if (it == failures_.end() || it->second.empty()) return absl::OkStatus();
    absl::Status s = it->second.front();
    it->second.erase(it->second.begin());
    return s;
  }

  const std::string family_;
  mutable std::mutex mu_;
  drivers::Inventory inventory_;
  bool side_effects_ = false;
  std::map<Call, std::vector<absl::Status>> failures_;
  std::map<Call, int> calls_;
  std::function<void(drivers::PreparedClaim&)> mutator_;
  std::map<std::string, std::set<std::string>> applied_;
  std::vector<std::string> reapplied_;
  drivers::PreparedClaim last_unprepared_;
  drivers::ClaimPrepareRequest last_request_;
};

}  // namespace tessera::testing
