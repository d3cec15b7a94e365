// The hook the agent's rescan loop uses for RDMA NICs: link and port changes
// trigger a rescan, rate-limited and coalesced, with a maximum poll interval
// as the floor (house style §2.2: events never carry state, they only make a
// full rescan happen sooner).
//
//   RescanTrigger trigger(clock, {.min_interval = 1s, .max_interval = 60s});
//   LinkEventWatcher watcher(netlink, netlink_stats, trigger, clock,
//                            [&](const LinkEvent& e) { return driver.IsRelevantLinkEvent(e); });
//   driver.Enumerate() ...;                       // the first scan, at start
//   while (trigger.Wait(stop) != RescanCause::kStopped) publish(driver.Enumerate());
//
// IB port state changes have no netlink event of their own; on an IPoIB or
// RoCE port they show as a carrier change of the netdev (RTM_NEWLINK), and
// otherwise the poll interval catches them.
//
// Thread-safety: RescanTrigger is safe for concurrent use (Notify from any
// thread, Wait from one). LinkEventWatcher owns one thread, stopped and
// joined by its destructor. Lifetime: the references given must outlive them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <stop_token>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

#include "base/clock.h"
#include "topology/netlink.h"

namespace tessera::drivers::rdma {

struct RescanTriggerOptions {
  // At most one event-triggered rescan per min_interval; events in between
  // are coalesced into the next one.
  std::chrono::milliseconds min_interval{1000};
  // A rescan at least this often, events or not.
  std::chrono::milliseconds max_interval{60000};
};

enum class RescanCause { kEvent, kPoll, kStopped };

class RescanTrigger {
 public:
  // The last rescan counts as "now": the caller scans once at start.
  RescanTrigger(base::Clock& clock, RescanTriggerOptions options);
  RescanTrigger(const RescanTrigger&) = delete;
  RescanTrigger& operator=(const RescanTrigger&) = delete;

  // Something changed: rescan no earlier than min_interval after the last
  // rescan. Cheap; never blocks on the waiter.
  void Notify();
  // Blocks until a rescan is due and returns why (kEvent when notified,
  // kPoll when max_interval passed), or kStopped when `stop` is requested.
  RescanCause Wait(std::stop_token stop);

  uint64_t notifications() const;
  uint64_t rescans() const;

 private:
  base::Clock& clock_;
  const RescanTriggerOptions options_;
  mutable absl::Mutex mu_;
  bool pending_ ABSL_GUARDED_BY(mu_) = false;
  base::Clock::MonoTime last_ ABSL_GUARDED_BY(mu_);
  std::stop_source* wake_ ABSL_GUARDED_BY(mu_) = nullptr;  // the waiter's, while it sleeps
  uint64_t notifications_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t rescans_ ABSL_GUARDED_BY(mu_) = 0;
};

// Reads link events on its own thread and notifies `trigger` for those
// `relevant` accepts (overflows always: events were lost). When no event
// stream can be opened it degrades to polling (OpenLinkEventsOrDegrade: one
// warn line, NetlinkStats::available 0) and tries again every `retry`; when
// a stream breaks it notifies once (state unknown) and reopens.
class LinkEventWatcher {
 public:
  LinkEventWatcher(topology::Netlink& netlink, topology::NetlinkStats& stats,
                   RescanTrigger& trigger, base::Clock& clock,
                   std::function<bool(const topology::LinkEvent&)> relevant,
                   std::chrono::seconds retry = std::chrono::seconds(30));
  ~LinkEventWatcher();
  LinkEventWatcher(const LinkEventWatcher&) = delete;
  LinkEventWatcher& operator=(const LinkEventWatcher&) = delete;

  // Events that notified the trigger so far.
  uint64_t relevant_events() const;

 private:
  void Run(std::stop_token stop);

  topology::Netlink& netlink_;
  topology::NetlinkStats& stats_;
  RescanTrigger& trigger_;
  base::Clock& clock_;
  const std::function<bool(const topology::LinkEvent&)> relevant_;
  const std::chrono::seconds retry_;
  mutable absl::Mutex mu_;
  uint64_t relevant_events_ ABSL_GUARDED_BY(mu_) = 0;
  std::jthread thread_;  // last: started after everything above exists
};

}  // namespace tessera::drivers::rdma
