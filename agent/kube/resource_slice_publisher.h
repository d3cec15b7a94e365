// Publisher: keeps one driver's ResourceSlices on the API server equal to
// what the driver enumerates, the C++ counterpart of the upstream helper's
// resourceslice.Controller (DRAlib v0.35; dra-api-facts.md §6.7). One per
// driver; pool = node name.
//
//   SetInventory(inv)  builds the desired slices (slice_builder.h) and asks
//                      for a sync; devices that cannot be published are
//                      skipped and reported (metric + warning).
//   Run(stop)          runs an informer (list + watch of the driver's slices
//                      on this node, field selectors spec.driver and
//                      spec.nodeName, relist on 410; a periodic relist for a
//                      client that cannot watch) and the sync loop: a sync
//                      right after SetInventory, `sync_delay` after any change
//                      seen by the informer (slices deleted behind our back,
//                      the kubelet's wipe), every `resync_period`, and with
//                      exponential backoff after a failure. A rejected slice
//                      (InvalidArgument) is reported and not retried before
//                      the next inventory change or resync.
//   Sync()             reconciles now and returns the result: on the Run
//                      loop's thread when Run is active, otherwise inline
//                      (listing the slices first).
//
// A sync plans with PlanPoolSync (pool_plan.h) against the informer cache
// overlaid with its own writes (slice_cache.h: no duplicate after a create),
// deletes with uid + resourceVersion preconditions (NotFound is success),
// then updates and creates. Every written slice is read back from the answer:
// fields the server dropped (a feature gate off) are adopted as the desired
// content for that slice and reported once, so they never cause an update
// loop. An unchanged resync makes no API call at all; a change to one slice
// makes one write.
//
// Owner: a controller reference to the Node, whose uid is read once (GetNode).
// With require_node_owner (cluster), a missing Node fails the sync; without
// (standalone), slices are published without an owner.
//
// Metrics (label driver): tessera_resourceslice_syncs_total{result},
// tessera_resourceslice_writes_total{op,result},
// tessera_resourceslice_dropped_fields_total, tessera_resourceslices,
// tessera_resourceslice_skipped_devices,
// tessera_resourceslice_sync_duration_seconds.
//
// Thread-safe. `client`, `clock` and `metrics` must outlive the publisher.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agent/kube/kube_client.h"
#include "agent/kube/pool_plan.h"
#include "agent/kube/slice_builder.h"
#include "agent/kube/slice_cache.h"
#include "base/clock.h"
#include "base/metrics.h"
#include "drivers/device_driver.h"

namespace tessera::agent::kube {

struct PublisherOptions {
  std::string driver;     // "gpu.tessera.dev"
  std::string node_name;  // also the pool name
  SliceBuildOptions build;
  bool require_node_owner = true;
  std::chrono::milliseconds sync_delay{30'000};  // upstream DefaultSyncDelay
  std::chrono::seconds mutation_ttl{60};         // upstream DefaultMutationCacheTTL
  std::chrono::milliseconds retry_initial{1'000};
  std::chrono::milliseconds retry_max{300'000};
  std::chrono::milliseconds resync_period{600'000};
  std::chrono::seconds watch_timeout{300};
  std::chrono::milliseconds poll_interval{10'000};  // relist period without watch support
};

class Publisher {
 public:
  // InvalidArgument when the driver or node name is not valid.
  static absl::StatusOr<std::unique_ptr<Publisher>> Create(KubeClient& client, base::Clock& clock,
                                                           base::metrics::Registry& metrics,
                                                           PublisherOptions options);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Sets what to publish. InvalidArgument (and the previous state stays)
  // only when nothing can be built; skipped devices are not an error.
  absl::Status SetInventory(const drivers::Inventory& inventory);

  // Reconciles now. OK when the server holds the desired slices (or nothing
  // is set yet); otherwise the first error, codes as KubeClient's.
  absl::Status Sync();

  // Blocks until `stop`; see above.
  void Run(std::stop_token stop);

  // Whether a sync succeeded since the first SetInventory (for /readyz).
  bool HasPublished() const;
  // Whether Run's informer has listed the slices (syncs then use its cache).
  bool CacheSynced() const;
  std::optional<DesiredPool> desired() const;

  struct Counters {
    uint64_t syncs = 0;
    uint64_t failed_syncs = 0;
    uint64_t creates = 0;
    uint64_t updates = 0;
    uint64_t deletes = 0;
    uint64_t adoptions = 0;  // slices whose dropped fields were adopted
    uint64_t writes() const { return creates + updates + deletes; }
  };
  Counters counters() const;

 private:
  struct Stats;
  Publisher(KubeClient& client, base::Clock& clock, base::metrics::Registry& metrics,
            PublisherOptions options);

  absl::Status SyncOnce();
  absl::StatusOr<std::optional<NodeOwner>> ResolveOwner();
  void ReadBack(const DesiredPool& desired, size_t index, const nlohmann::json& stored);
  void InformerLoop(std::stop_token stop);
  // Asks the loop for a sync no later than `delay` from now.
  void Trigger(std::chrono::milliseconds delay);

  KubeClient& client_;
  base::Clock& clock_;
  const PublisherOptions options_;
  const SliceSelector selector_;
  std::unique_ptr<Stats> stats_;
  SliceCache cache_;

  // Serializes syncs (the loop's and inline ones).
  absl::Mutex sync_mu_;

  mutable absl::Mutex mu_;
  std::optional<DesiredPool> desired_ ABSL_GUARDED_BY(mu_);
  std::vector<SkippedDevice> skipped_ ABSL_GUARDED_BY(mu_);
  AdoptedContents adopted_ ABSL_GUARDED_BY(mu_);
  bool owner_known_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<NodeOwner> owner_ ABSL_GUARDED_BY(mu_);
  bool published_ ABSL_GUARDED_BY(mu_) = false;
  Counters counters_ ABSL_GUARDED_BY(mu_);
  // Run loop state.
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool informer_synced_ ABSL_GUARDED_BY(mu_) = false;
  base::Clock::MonoTime due_ ABSL_GUARDED_BY(mu_);
  std::stop_source wake_ ABSL_GUARDED_BY(mu_);
  uint64_t requested_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t completed_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status last_result_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::agent::kube
