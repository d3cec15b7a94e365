#include "drivers/rdma/rescan.h"

#include <memory>
#include <utility>

#include "base/log.h"
#include "base/strings.h"
#include "drivers/rdma/internal/log.h"

namespace tessera::drivers::rdma {
namespace {

using internal::Log;

}  // namespace

RescanTrigger::RescanTrigger(base::Clock& clock, RescanTriggerOptions options)
    : clock_(clock), options_(options), last_(clock.MonotonicNow()) {}

void RescanTrigger::Notify() {
  absl::MutexLock lock(&mu_);
  pending_ = true;
  ++notifications_;
  if (wake_ != nullptr) wake_->request_stop();
}

RescanCause RescanTrigger::Wait(std::stop_token stop) {
  while (true) {
    std::stop_source wake;
    base::Clock::MonoTime deadline;
    {
      absl::MutexLock lock(&mu_);
      const base::Clock::MonoTime now = clock_.MonotonicNow();
      if (stop.stop_requested()) return RescanCause::kStopped;
      if (pending_ && now >= last_ + options_.min_interval) {
        pending_ = false;
        last_ = now;
        ++rescans_;
        return RescanCause::kEvent;
      }
      if (now >= last_ + options_.max_interval) {
        pending_ = false;
        last_ = now;
        ++rescans_;
        return RescanCause::kPoll;
      }
      deadline = last_ + (pending_ ? options_.min_interval : options_.max_interval);
      wake_ = &wake;
    }
    {
      // A stop of the caller also wakes the sleep.
      std::stop_callback forward(stop, [&wake] { wake.request_stop(); });
      clock_.SleepUntil(deadline, wake.get_token());
    }
    absl::MutexLock lock(&mu_);
    wake_ = nullptr;
  }
}

uint64_t RescanTrigger::notifications() const {
  absl::MutexLock lock(&mu_);
  return notifications_;
}

uint64_t RescanTrigger::rescans() const {
  absl::MutexLock lock(&mu_);
  return rescans_;
}

LinkEventWatcher::LinkEventWatcher(topology::Netlink& netlink, topology::NetlinkStats& stats,
                                   RescanTrigger& trigger, base::Clock& clock,
                                   std::function<bool(const topology::LinkEvent&)> relevant,
                                   std::chrono::seconds retry)
    : netlink_(netlink),
      stats_(stats),
      trigger_(trigger),
      clock_(clock),
      relevant_(std::move(relevant)),
      retry_(retry),
      thread_([this](std::stop_token stop) { Run(stop); }) {}

LinkEventWatcher::~LinkEventWatcher() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

uint64_t LinkEventWatcher::relevant_events() const {
  absl::MutexLock lock(&mu_);
  return relevant_events_;
}

void LinkEventWatcher::Run(std::stop_token stop) {
  bool first = true;
  while (!stop.stop_requested()) {
    std::unique_ptr<topology::LinkEventStream> stream;
    if (first) {
      stream = topology::OpenLinkEventsOrDegrade(netlink_, stats_);  // warns once
      first = false;
    } else {
      absl::StatusOr<std::unique_ptr<topology::LinkEventStream>> s = netlink_.WatchLinks();
      if (s.ok()) {
        stream = *std::move(s);
        stats_.available.Set(1);
        Log()->info("rdma link events available again");
      } else {
        Log()->debug("rdma link events still unavailable: {}", base::Std(s.status().message()));
      }
    }
    if (stream == nullptr) {
      clock_.SleepUntil(clock_.MonotonicNow() + retry_, stop);
      continue;
    }
    // Events may have been missed while there was no stream.
    trigger_.Notify();
    while (true) {
      absl::StatusOr<topology::LinkEvent> event = stream->Next(stop);
      if (!event.ok()) {
        if (stop.stop_requested()) return;
        Log()->warn("rdma link event stream broke, reopening: {}",
                    base::Std(event.status().message()));
        stats_.available.Set(0);
        trigger_.Notify();
        // Not straight back: a socket that keeps failing must not spin.
        clock_.SleepUntil(clock_.MonotonicNow() + std::chrono::seconds(1), stop);
        break;
      }
      if (event->type == topology::LinkEventType::kOverflow || relevant_(*event)) {
        {
          absl::MutexLock lock(&mu_);
          ++relevant_events_;
        }
        trigger_.Notify();
      }
    }
  }
}

}  // namespace tessera::drivers::rdma
