// ApiStore: the in-memory state and semantics of a strict, minimal
// Kubernetes API server for the resources Tessera uses. FakeApiServer serves
// it over HTTP; FakeKubeClient calls it in-process for unit tests.
//
// Upstream behaviour it reproduces (resource.k8s.io/v1, Kubernetes 1.35):
//   - one global resourceVersion counter (etcd revision), bumped per write;
//     a no-op update writes nothing;
//   - generateName: the prefix (cut to 58 characters) plus 5 random
//     characters; uid, creationTimestamp, metadata.generation set by the server;
//   - strict decoding (400 for unknown fields / wrong types) and full
//     ResourceSlice validation (422 with causes), via agent/kube's validator;
//   - update: 409 Conflict on a stale resourceVersion, 404 when absent,
//     immutable fields; delete: uid/resourceVersion preconditions (409);
//     deletecollection with field selectors (the kubelet's wipe);
//   - field selectors spec.nodeName and spec.driver (400 for others);
//   - watch from a resourceVersion with a bounded history: resuming from a
//     compacted version yields an ERROR event with a 410 Expired Status;
//   - quantities stored in canonical form; taint timeAdded set when absent;
//   - fields of disabled feature gates dropped on write, as the API server's
//     dropDisabledFields does (unless the stored object already uses them).
//
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace tessera::testing {

// Feature gates whose fields the store can drop.
inline constexpr char kGateDeviceTaints[] = "DRADeviceTaints";
inline constexpr char kGatePartitionableDevices[] = "DRAPartitionableDevices";
inline constexpr char kGateConsumableCapacity[] = "DRAConsumableCapacity";
inline constexpr char kGateBindingConditions[] = "DRADeviceBindingConditions";

// An HTTP answer: status code and JSON body (an object, a list or a Status).
struct ApiResponse {
  int code = 200;
  nlohmann::json body;
};

class ApiStore {
 public:
  struct Options {
    // Watch events kept for resuming; older versions answer 410.
    size_t watch_history = 100000;
    // Gates that are off: their fields are dropped on create/update.
    std::set<std::string> disabled_gates;
    uint64_t seed = 1;  // generateName suffixes and uids
  };

  explicit ApiStore(Options options);
  ApiStore() : ApiStore(Options{}) {}
  ~ApiStore();
  ApiStore(const ApiStore&) = delete;
  ApiStore& operator=(const ApiStore&) = delete;

  // --- ResourceSlices (field_selector as in the query string) ---
  ApiResponse ListSlices(const std::string& field_selector);
  ApiResponse GetSlice(const std::string& name);
  ApiResponse CreateSlice(const nlohmann::json& body);
  ApiResponse UpdateSlice(const std::string& name, const nlohmann::json& body);
  // `delete_options` is a metav1.DeleteOptions (may be null).
  ApiResponse DeleteSlice(const std::string& name, const nlohmann::json& delete_options);
  ApiResponse DeleteSliceCollection(const std::string& field_selector);

  // A watch stream. Next() blocks until an event is due, `deadline` passes
  // (nullopt) or `stop` / Shutdown() ends it (nullopt).
  class Watch {
   public:
    virtual ~Watch() = default;
    // A watch event {"type": ..., "object": ...}; an ERROR event carries a Status.
    virtual std::optional<nlohmann::json> Next(std::chrono::steady_clock::time_point deadline,
                                               std::stop_token stop) = 0;
    // The version up to which this watch has seen every event (for a bookmark).
    virtual std::string resource_version() const = 0;
  };
  // resource_version "" or "0": current objects as ADDED first. A version
  // older than the history: the first event is ERROR 410. A bad selector:
  // `error` is set (400) and `watch` is null.
  struct WatchStart {
    std::optional<ApiResponse> error;
    std::unique_ptr<Watch> watch;
  };
  WatchStart StartWatch(const std::string& field_selector, const std::string& resource_version);

  // --- Nodes and ResourceClaims (seeded by tests) ---
  ApiResponse GetNode(const std::string& name);
  // Adds a Node with a fresh uid; returns the stored object.
  nlohmann::json AddNode(const std::string& name);
  ApiResponse GetClaim(const std::string& namespace_, const std::string& name);
  // Stores `claim` as is (metadata.namespace and metadata.name required).
  void PutClaim(const nlohmann::json& claim);

  // --- Test controls; no validation, no faults ---
  // Every stored slice, sorted by name.
  std::vector<nlohmann::json> Slices() const;
  // Deletes a slice as another actor would (emits DELETED). False if absent.
  bool RemoveSlice(const std::string& name);
  // Replaces a stored slice's spec as another actor would (emits MODIFIED).
  bool ReplaceSliceSpec(const std::string& name, const nlohmann::json& spec);
  // Forgets the watch history: every resume from an older version gets 410.
  void CompactHistory();
  void SetDisabledGates(std::set<std::string> gates);
  // Ends every watch (server shutdown).
  void Shutdown();
  std::string resource_version() const;
  // Blocks until `predicate(Slices())` holds or `timeout` passes; returns
  // whether it held. Re-evaluated after every write.
  bool WaitFor(const std::function<bool(const std::vector<nlohmann::json>&)>& predicate,
               std::chrono::milliseconds timeout);

 private:
  struct Event {
    uint64_t rv;
    std::string type;
    nlohmann::json object;
  };
  class WatchImpl;

  uint64_t NextRvLocked() { return ++rv_; }
  void RecordLocked(std::string type, const nlohmann::json& object);
  std::string RandomSuffixLocked();
  std::string NewUidLocked();
  std::string NowLocked() const;
  void DropDisabledFieldsLocked(nlohmann::json& slice, const nlohmann::json* old) const;
  void SetTaintTimesLocked(nlohmann::json& slice, const nlohmann::json* old) const;

  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  Options options_;
  std::mt19937_64 rng_;
  uint64_t rv_ = 100;
  bool shutdown_ = false;
  std::map<std::string, nlohmann::json> slices_;
  std::map<std::string, nlohmann::json> nodes_;
  std::map<std::pair<std::string, std::string>, nlohmann::json> claims_;
  std::deque<Event> history_;
  uint64_t compacted_rv_ = 100;  // events with rv <= this are gone
};

// Parses a field selector for ResourceSlices. Supported: spec.nodeName,
// spec.driver, metadata.name with "=", "==" or "!=". nullopt with `error`
// set for anything else.
struct FieldRequirement {
  std::string field;
  std::string value;
  bool negate = false;
};
std::optional<std::vector<FieldRequirement>> ParseFieldSelector(const std::string& selector,
                                                               std::string* error);
bool MatchesFieldSelector(const std::vector<FieldRequirement>& requirements,
                          const nlohmann::json& slice);

}  // namespace tessera::testing
