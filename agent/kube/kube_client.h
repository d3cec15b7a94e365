// KubeClient: the agent's narrow, typed view of the Kubernetes API server.
// Only what Tessera uses: ResourceSlices (list/watch with field selectors,
// create with generateName, update with resourceVersion, delete with
// preconditions), ResourceClaims (get) and Nodes (get, for the owner
// reference). Objects travel as nlohmann::json in their resource.k8s.io/v1
// (core/v1 for Node) wire form; ObjectMeta / SliceHeader are typed views.
//
// Implementations: RestKubeClient (cpp-httplib, in a cluster), FileKubeClient
// (standalone mode, files under <state-dir>/cluster), FakeKubeClient and the
// fake API server in tests. All are safe for concurrent use.
//
// Status codes (house style §2.3), the same for every implementation:
//   NotFound            the object does not exist (HTTP 404)
//   AlreadyExists       create of a name that exists (409 AlreadyExists)
//   Aborted             update/delete conflict: stale resourceVersion or a
//                       failed precondition (409 Conflict): re-read, retry
//   InvalidArgument     the server rejected the object (422, causes in the
//                       message; 400)
//   PermissionDenied    RBAC (403); Unauthenticated: bad credentials (401)
//   OutOfRange          the resourceVersion is too old (410 Gone / Expired):
//                       relist (see IsResourceExpired)
//   Unavailable         transient: 429, 5xx, connection failures, after the
//                       client's own retries; DeadlineExceeded: timed out
//   Cancelled           the stop token was triggered
//   Unimplemented       the backend cannot do this (FileKubeClient watch)
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace tessera::agent::kube {

// Field selectors supported on ResourceSlices. Empty fields select anything.
struct SliceSelector {
  std::string node_name;  // spec.nodeName
  std::string driver;     // spec.driver
  // "spec.driver=gpu.tessera.dev,spec.nodeName=node-a" (empty when none).
  std::string ToFieldSelector() const;
  // Whether `slice` (a ResourceSlice object) is selected.
  bool Matches(const nlohmann::json& slice) const;
};

struct ObjectList {
  std::vector<nlohmann::json> items;
  std::string resource_version;  // of the list: watch from here
};

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark };
std::string_view WatchEventTypeName(WatchEventType type);  // "ADDED", ...

struct WatchEvent {
  WatchEventType type = WatchEventType::kAdded;
  nlohmann::json object;  // for a bookmark, only metadata.resourceVersion is meaningful
};

struct WatchOptions {
  // Resume after this version (normally the list's). Empty: the server sends
  // the current objects as ADDED events first.
  std::string resource_version;
  // Server-side timeoutSeconds; the client's own deadline is a bit longer.
  std::chrono::seconds timeout{300};
};

// Called for every event, on the watching thread, in order.
using WatchHandler = std::function<void(const WatchEvent&)>;

// Delete preconditions (metav1.Preconditions); empty fields are not sent.
struct Preconditions {
  std::string uid;
  std::string resource_version;
};

class KubeClient {
 public:
  virtual ~KubeClient() = default;
  KubeClient() = default;
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  virtual absl::StatusOr<ObjectList> ListResourceSlices(const SliceSelector& selector) = 0;

  // Streams events until the server ends the watch (OK: watch again from the
  // last resourceVersion seen), the version is too old (OutOfRange: relist),
  // `stop` is requested (Cancelled) or the stream fails (Unavailable).
  virtual absl::Status WatchResourceSlices(const SliceSelector& selector,
                                           const WatchOptions& options, const WatchHandler& handler,
                                           std::stop_token stop) = 0;

  // `slice` carries metadata.generateName (or name); returns the stored object.
  virtual absl::StatusOr<nlohmann::json> CreateResourceSlice(const nlohmann::json& slice) = 0;
  // `slice` carries metadata.name and metadata.resourceVersion; returns the
  // stored object. Aborted when the version is stale.
  virtual absl::StatusOr<nlohmann::json> UpdateResourceSlice(const nlohmann::json& slice) = 0;
  virtual absl::Status DeleteResourceSlice(std::string_view name,
                                           const Preconditions& preconditions) = 0;

  virtual absl::StatusOr<nlohmann::json> GetResourceClaim(std::string_view namespace_,
                                                          std::string_view name) = 0;
  virtual absl::StatusOr<nlohmann::json> GetNode(std::string_view name) = 0;
};

// Typed view of the metadata we use.
struct ObjectMeta {
  std::string name;
  std::string uid;
  std::string resource_version;
  int64_t generation = 0;
};
// InvalidArgument naming the field when metadata is missing or mistyped.
absl::StatusOr<ObjectMeta> ParseObjectMeta(const nlohmann::json& object);

// Typed view of a ResourceSlice's identity and pool.
struct SliceHeader {
  ObjectMeta meta;
  std::string driver;
  std::string node_name;
  std::string pool;
  int64_t generation = 0;
  int64_t resource_slice_count = 0;
};
absl::StatusOr<SliceHeader> ParseSliceHeader(const nlohmann::json& slice);

// resourceVersions are opaque, but every real server (etcd revisions) and our
// fakes use decimal integers. <0, 0, >0 like strcmp when both parse; nullopt
// when either does not.
std::optional<int> CompareResourceVersions(std::string_view a, std::string_view b);

// Whether a watch/list failed because the resourceVersion is too old.
inline bool IsResourceExpired(const absl::Status& status) {
  return status.code() == absl::StatusCode::kOutOfRange;
}

}  // namespace tessera::agent::kube
