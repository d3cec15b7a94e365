#include "agent/kube/resource_slice_publisher.h"

#include <algorithm>
#include <set>
#include <thread>

#include "agent/kube/internal/log.h"
#include "agent/kube/slice_content.h"
#include "agent/kube/slice_validation.h"
#include "base/log.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace tessera::agent::kube {

using Json = nlohmann::json;

namespace {

using base::StrCat;

using internal::Log;

std::string MetaField(const Json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return "";
  const Json& m = obj["metadata"];
  return m.contains(key) && m[key].is_string() ? m[key].get<std::string>() : "";
}

}  // namespace

struct Publisher::Stats {
  Stats(base::metrics::Registry& r, const std::string& d)
      : registry(r),
        driver(d),
        syncs_ok(r.GetCounter("tessera_resourceslice_syncs_total", "ResourceSlice syncs by result",
                              {{"driver", d}, {"result", "success"}})),
        syncs_failed(r.GetCounter("tessera_resourceslice_syncs_total",
                                  "ResourceSlice syncs by result",
                                  {{"driver", d}, {"result", "error"}})),
        dropped_fields(r.GetCounter("tessera_resourceslice_dropped_fields_total",
                                    "ResourceSlices whose fields the API server dropped",
                                    {{"driver", d}})),
        slices(r.GetGauge("tessera_resourceslices", "Desired ResourceSlices of the driver's pool",
                          {{"driver", d}})),
        skipped(r.GetGauge("tessera_resourceslice_skipped_devices",
                           "Devices that cannot be published", {{"driver", d}})),
        duration(r.GetHistogram("tessera_resourceslice_sync_duration_seconds",
                                "Duration of ResourceSlice syncs", base::metrics::LatencyBuckets(),
                                {{"driver", d}})) {}

  base::metrics::Counter& Write(const char* op, bool ok) {
    return registry.GetCounter(
        "tessera_resourceslice_writes_total", "ResourceSlice writes by operation and result",
        {{"driver", driver}, {"op", op}, {"result", ok ? "success" : "error"}});
  }

  base::metrics::Registry& registry;
  const std::string driver;
  base::metrics::Counter& syncs_ok;
  base::metrics::Counter& syncs_failed;
  base::metrics::Counter& dropped_fields;
  base::metrics::Gauge& slices;
  base::metrics::Gauge& skipped;
  base::metrics::Histogram& duration;
};

Publisher::Publisher(KubeClient& client, base::Clock& clock, base::metrics::Registry& metrics,
                     PublisherOptions options)
    : client_(client),
      clock_(clock),
      options_(std::move(options)),
      selector_{options_.node_name, options_.driver},
      stats_(std::make_unique<Stats>(metrics, options_.driver)),
      cache_(clock, options_.mutation_ttl) {}

Publisher::~Publisher() = default;

absl::StatusOr<std::unique_ptr<Publisher>> Publisher::Create(KubeClient& client, base::Clock& clock,
                                                             base::metrics::Registry& metrics,
                                                             PublisherOptions options) {
  if (std::vector<std::string> e = IsDriverName(options.driver); !e.empty()) {
    return absl::InvalidArgumentError(
        StrCat("create publisher: driver ", base::Quote(options.driver), ": ", e.front()));
  }
  if (std::vector<std::string> e = IsDns1123Subdomain(options.node_name); !e.empty()) {
    return absl::InvalidArgumentError(
        StrCat("create publisher: node ", base::Quote(options.node_name), ": ", e.front()));
  }
  return std::unique_ptr<Publisher>(new Publisher(client, clock, metrics, std::move(options)));
}

absl::Status Publisher::SetInventory(const drivers::Inventory& inventory) {
  ASSIGN_OR_RETURN(DesiredPool pool,
                   BuildPool(options_.driver, options_.node_name, inventory, options_.build));
  {
    absl::MutexLock lock(&mu_);
    // A rescan that found nothing new needs no sync: the informer, the retry
    // timer and the periodic resync cover drift on the server.
    if (desired_ && desired_->slices == pool.slices) return absl::OkStatus();
    if (pool.skipped != skipped_) {
      for (const SkippedDevice& s : pool.skipped) {
        Log()->warn("device not published driver={} device={} reason={}", options_.driver, s.device,
                    s.reason);
      }
      skipped_ = pool.skipped;
    }
    // Adopted contents of slices we no longer want are of no use.
    std::set<std::string> keys;
    for (const Json& content : pool.slices) keys.insert(ContentKey(content));
    std::erase_if(adopted_, [&](const auto& kv) { return !keys.contains(kv.first); });
    stats_->slices.Set(static_cast<double>(pool.slices.size()));
    stats_->skipped.Set(static_cast<double>(pool.skipped.size()));
    desired_ = std::move(pool);
  }
  Trigger(std::chrono::milliseconds(0));
  return absl::OkStatus();
}

bool Publisher::HasPublished() const {
  absl::MutexLock lock(&mu_);
  return published_;
}

bool Publisher::CacheSynced() const {
  absl::MutexLock lock(&mu_);
  return informer_synced_;
}

std::optional<DesiredPool> Publisher::desired() const {
  absl::MutexLock lock(&mu_);
  return desired_;
}

Publisher::Counters Publisher::counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}

absl::StatusOr<std::optional<NodeOwner>> Publisher::ResolveOwner() {
  {
    absl::MutexLock lock(&mu_);
    if (owner_known_) return owner_;
  }
  absl::StatusOr<Json> node = client_.GetNode(options_.node_name);
  std::optional<NodeOwner> owner;
  if (node.ok()) {
    std::string uid = MetaField(*node, "uid");
    if (uid.empty()) {
      return absl::InvalidArgumentError(
          StrCat("look up node ", options_.node_name, ": metadata.uid: required field missing"));
    }
    owner = NodeOwner{options_.node_name, uid};
  } else if (!(absl::IsNotFound(node.status()) && !options_.require_node_owner)) {
    return base::Annotate(node.status(),
                          StrCat("look up node ", options_.node_name, " for the owner reference"));
  }
  absl::MutexLock lock(&mu_);
  owner_known_ = true;
  owner_ = owner;
  return owner;
}

void Publisher::ReadBack(const DesiredPool& desired, size_t index, const Json& stored) {
  Json want = NormalizeContent(desired.slices[index]);
  Json got = NormalizeContent(stored);
  if (want == got) return;
  std::string key = ContentKey(desired.slices[index]);
  absl::MutexLock lock(&mu_);
  auto it = adopted_.find(key);
  if (it != adopted_.end() && it->second == got) return;
  adopted_[key] = got;
  ++counters_.adoptions;
  stats_->dropped_fields.Inc();
  Log()->warn(
      "api server dropped fields of resource slice, adopting what it stored (feature gate "
      "off?) driver={} slice={} first_difference={}",
      options_.driver, MetaField(stored, "name"), FirstDifference(want, got));
}

absl::Status Publisher::SyncOnce() {
  absl::MutexLock sync_lock(&sync_mu_);
  auto start = clock_.MonotonicNow();
  std::optional<DesiredPool> desired;
  AdoptedContents adopted;
  bool informer_synced;
  {
    absl::MutexLock lock(&mu_);
    desired = desired_;
    adopted = adopted_;
    informer_synced = informer_synced_;
  }
  if (!desired) return absl::OkStatus();  // nothing to publish yet

  auto fail = [&](absl::Status s) {
    absl::MutexLock lock(&mu_);
    ++counters_.syncs;
    ++counters_.failed_syncs;
    stats_->syncs_failed.Inc();
    stats_->duration.Observe(std::chrono::duration<double>(clock_.MonotonicNow() - start).count());
    return base::Annotate(s, StrCat("sync resource slices of driver ", options_.driver));
  };

  absl::StatusOr<std::optional<NodeOwner>> owner = ResolveOwner();
  if (!owner.ok()) return fail(owner.status());
  // Without a synced informer, list: a fresh list needs no overlay, and the
  // informer's cache is left to the informer.
  std::vector<Json> existing;
  if (informer_synced) {
    existing = cache_.View();
  } else {
    absl::StatusOr<ObjectList> list = client_.ListResourceSlices(selector_);
    if (!list.ok()) return fail(list.status());
    existing = std::move(list->items);
  }
  std::erase_if(existing, [&](const Json& s) { return !selector_.Matches(s); });
  PoolPlan plan = PlanPoolSync(*desired, existing, *owner, adopted);
  Counters done;
  for (const Json& obsolete : plan.deletes) {
    std::string name = MetaField(obsolete, "name");
    absl::Status s = client_.DeleteResourceSlice(
        name, Preconditions{MetaField(obsolete, "uid"), MetaField(obsolete, "resourceVersion")});
    bool ok = s.ok() || absl::IsNotFound(s);
    stats_->Write("delete", ok).Inc();
    if (!ok) return fail(s);
    if (s.ok()) ++done.deletes;
    cache_.Deleted(obsolete);
  }
  for (const PlannedWrite& w : plan.updates) {
    absl::StatusOr<Json> stored = client_.UpdateResourceSlice(w.object);
    stats_->Write("update", stored.ok()).Inc();
    if (!stored.ok()) return fail(stored.status());
    ++done.updates;
    cache_.Stored(*stored);
    ReadBack(*desired, w.desired_index, *stored);
  }
  for (const PlannedWrite& w : plan.creates) {
    absl::StatusOr<Json> stored = client_.CreateResourceSlice(w.object);
    stats_->Write("create", stored.ok()).Inc();
    if (!stored.ok()) return fail(stored.status());
    ++done.creates;
    cache_.Stored(*stored);
    ReadBack(*desired, w.desired_index, *stored);
  }
  {
    absl::MutexLock lock(&mu_);
    ++counters_.syncs;
    counters_.creates += done.creates;
    counters_.updates += done.updates;
    counters_.deletes += done.deletes;
    published_ = true;
  }
  stats_->syncs_ok.Inc();
  stats_->duration.Observe(std::chrono::duration<double>(clock_.MonotonicNow() - start).count());
  if (!plan.empty()) {
    Log()->info(
        "published resource slices driver={} pool={} generation={} slices={} created={} "
        "updated={} deleted={}",
        options_.driver, desired->pool, plan.generation, desired->slices.size(), done.creates,
        done.updates, done.deletes);
  }
  return absl::OkStatus();
}

absl::Status Publisher::Sync() {
  mu_.Lock();
  if (!running_) {
    mu_.Unlock();
    return SyncOnce();
  }
  uint64_t ticket = ++requested_;
  due_ = clock_.MonotonicNow();
  wake_.request_stop();
  auto done = [this, ticket]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return completed_ >= ticket || !running_; };
  mu_.Await(absl::Condition(&done));
  absl::Status result = completed_ >= ticket
                            ? last_result_
                            : absl::CancelledError("sync resource slices: publisher stopped");
  mu_.Unlock();
  return result;
}

void Publisher::Trigger(std::chrono::milliseconds delay) {
  absl::MutexLock lock(&mu_);
  base::Clock::MonoTime when = clock_.MonotonicNow() + delay;
  if (when < due_) {
    due_ = when;
    wake_.request_stop();
  }
}

void Publisher::InformerLoop(std::stop_token stop) {
  std::chrono::milliseconds backoff = options_.retry_initial;
  bool need_list = true;
  bool first = true;
  bool polling = false;
  int watch_failures = 0;
  auto sleep = [&](std::chrono::milliseconds d) {
    return clock_.SleepUntil(clock_.MonotonicNow() + d, stop);
  };
  while (!stop.stop_requested()) {
    if (need_list) {
      absl::StatusOr<ObjectList> list = client_.ListResourceSlices(selector_);
      if (!list.ok()) {
        if (stop.stop_requested()) return;
        Log()->warn("list resource slices failed, retrying driver={} delay_ms={} error={}",
                    options_.driver, backoff.count(), base::Std(list.status().message()));
        if (!sleep(backoff)) return;
        backoff = std::min(backoff * 2, options_.retry_max);
        continue;
      }
      cache_.Replace(std::move(list->items), list->resource_version);
      {
        absl::MutexLock lock(&mu_);
        informer_synced_ = true;
      }
      need_list = false;
      backoff = options_.retry_initial;
      Trigger(first || polling ? std::chrono::milliseconds(0) : options_.sync_delay);
      first = false;
    }
    if (polling) {
      if (!sleep(options_.poll_interval)) return;
      need_list = true;
      continue;
    }
    absl::Status s = client_.WatchResourceSlices(
        selector_, WatchOptions{cache_.resource_version(), options_.watch_timeout},
        [this](const WatchEvent& e) {
          cache_.Apply(e);
          if (e.type != WatchEventType::kBookmark) Trigger(options_.sync_delay);
        },
        stop);
    if (stop.stop_requested()) return;
    if (s.ok()) {
      watch_failures = 0;
      continue;  // the server ended the watch: resume from the last version
    }
    if (IsResourceExpired(s)) {
      Log()->info("resource slice watch expired, relisting driver={}", options_.driver);
      need_list = true;
      continue;
    }
    if (absl::IsUnimplemented(s)) {
      Log()->info("client cannot watch resource slices, polling driver={} interval_ms={}",
                  options_.driver, options_.poll_interval.count());
      polling = true;
      continue;
    }
    ++watch_failures;
    Log()->warn("watch resource slices failed, retrying driver={} delay_ms={} error={}",
                options_.driver, backoff.count(), base::Std(s.message()));
    if (!sleep(backoff)) return;
    backoff = std::min(backoff * 2, options_.retry_max);
    if (watch_failures >= 3) {
      need_list = true;
      watch_failures = 0;
    }
  }
}

void Publisher::Run(std::stop_token stop) {
  {
    absl::MutexLock lock(&mu_);
    running_ = true;
    informer_synced_ = false;
    due_ = clock_.MonotonicNow() + options_.resync_period;
  }
  std::stop_source informer_stop;
  std::stop_callback chain(stop, [&] { informer_stop.request_stop(); });
  std::jthread informer([this, token = informer_stop.get_token()] { InformerLoop(token); });

  std::chrono::milliseconds backoff = options_.retry_initial;
  while (!stop.stop_requested()) {
    std::stop_source wake;
    base::Clock::MonoTime due;
    {
      absl::MutexLock lock(&mu_);
      wake_ = wake;
      due = due_;
    }
    if (clock_.MonotonicNow() < due) {
      std::stop_callback on_stop(stop, [&] { wake.request_stop(); });
      clock_.SleepUntil(due, wake.get_token());
      continue;  // re-check: woken early, or due
    }
    uint64_t covering;
    {
      absl::MutexLock lock(&mu_);
      covering = requested_;
      due_ = clock_.MonotonicNow() + options_.resync_period;
    }
    absl::Status s = SyncOnce();
    base::Clock::MonoTime next;
    if (s.ok()) {
      backoff = options_.retry_initial;
      next = clock_.MonotonicNow() + options_.resync_period;
    } else if (absl::IsInvalidArgument(s)) {
      Log()->error(
          "resource slices rejected, not retrying until the devices change driver={} "
          "error={}",
          options_.driver, base::Std(s.message()));
      next = clock_.MonotonicNow() + options_.resync_period;
    } else {
      Log()->warn("sync resource slices failed, retrying driver={} delay_ms={} error={}",
                  options_.driver, backoff.count(), base::Std(s.message()));
      next = clock_.MonotonicNow() + backoff;
      backoff = std::min(backoff * 2, options_.retry_max);
    }
    absl::MutexLock lock(&mu_);
    completed_ = covering;
    last_result_ = s;
    due_ = std::min(due_, next);
  }
  informer_stop.request_stop();
  informer.join();
  absl::MutexLock lock(&mu_);
  running_ = false;
  informer_synced_ = false;
}

}  // namespace tessera::agent::kube
