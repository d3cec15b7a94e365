#include "drivers/rdma/rescan.h"

#include <future>
#include <mutex>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "test/fakes/base/fake_clock.h"
#include "test/fakes/topology/fake_netlink.h"

namespace tessera::drivers::rdma {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::tessera::testing::FakeClock;
using ::tessera::testing::FakeNetlink;
using topology::LinkEvent;
using topology::LinkEventType;

constexpr RescanTriggerOptions kOptions{.min_interval = milliseconds(1000),
                                        .max_interval = milliseconds(60000)};

// Waits on another thread; the future says how it returned.
std::future<RescanCause> WaitAsync(RescanTrigger& trigger, std::stop_token stop) {
  return std::async(std::launch::async, [&trigger, stop] { return trigger.Wait(stop); });
}

TEST(RescanTriggerTest, EventsAreCoalescedAndRateLimited) {
  FakeClock clock;
  RescanTrigger trigger(clock, kOptions);
  std::stop_source stop;
  // Three events right after a scan: one rescan, one interval later.
  trigger.Notify();
  trigger.Notify();
  trigger.Notify();
  std::future<std::pair<RescanCause, base::Clock::MonoTime>> first =
      std::async(std::launch::async, [&] {
        RescanCause cause = trigger.Wait(stop.get_token());
        return std::make_pair(cause, clock.MonotonicNow());
      });
  clock.WaitForSleepers(1);
  clock.Advance(milliseconds(999));
  clock.Advance(milliseconds(1));
  auto [cause, at] = first.get();
  EXPECT_EQ(cause, RescanCause::kEvent);
  EXPECT_EQ(at.time_since_epoch(), milliseconds(1000));  // not before the rate limit
  EXPECT_EQ(trigger.rescans(), 1u);
  EXPECT_EQ(trigger.notifications(), 3u);

  // Nothing pending now: the next one is the poll.
  std::future<RescanCause> r = WaitAsync(trigger, stop.get_token());
  clock.WaitForSleepers(1);
  clock.Advance(milliseconds(60000));
  EXPECT_EQ(r.get(), RescanCause::kPoll);
}

TEST(RescanTriggerTest, AnEventWakesAWaiterSleepingTowardsThePoll) {
  FakeClock clock;
  RescanTrigger trigger(clock, kOptions);
  std::stop_source stop;
  clock.Advance(seconds(5));  // well past the rate limit
  std::future<RescanCause> r = WaitAsync(trigger, stop.get_token());
  clock.WaitForSleepers(1);  // asleep until the 60 s poll
  trigger.Notify();
  EXPECT_EQ(r.get(), RescanCause::kEvent);  // at once, without time passing
  EXPECT_EQ(clock.MonotonicNow().time_since_epoch(), seconds(5));
}

TEST(RescanTriggerTest, DueImmediatelyDoesNotSleep) {
  FakeClock clock;
  RescanTrigger trigger(clock, kOptions);
  clock.Advance(seconds(2));
  trigger.Notify();
  EXPECT_EQ(trigger.Wait(std::stop_token()), RescanCause::kEvent);
  clock.Advance(seconds(61));
  EXPECT_EQ(trigger.Wait(std::stop_token()), RescanCause::kPoll);
}

TEST(RescanTriggerTest, StopEndsTheWait) {
  FakeClock clock;
  RescanTrigger trigger(clock, kOptions);
  std::stop_source stop;
  std::future<RescanCause> r = WaitAsync(trigger, stop.get_token());
  clock.WaitForSleepers(1);
  stop.request_stop();
  EXPECT_EQ(r.get(), RescanCause::kStopped);
  EXPECT_EQ(trigger.rescans(), 0u);
}

class LinkEventWatcherTest : public ::testing::Test {
 protected:
  // The predicate the driver would give: our netdevs only. Records what it saw.
  bool Relevant(const LinkEvent& e) {
    std::lock_guard lock(mu_);
    seen_.push_back(e.name);
    return e.name == "ibp27s0";
  }
  std::vector<std::string> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

  FakeClock clock_;
  FakeNetlink netlink_;
  base::metrics::Registry registry_;
  topology::NetlinkStats stats_{registry_};
  RescanTrigger trigger_{clock_, kOptions};
  std::mutex mu_;
  std::vector<std::string> seen_;
};

TEST_F(LinkEventWatcherTest, OnlyRelevantEventsAndOverflowsTriggerARescan) {
  LinkEventWatcher watcher(netlink_, stats_, trigger_, clock_,
                           [this](const LinkEvent& e) { return Relevant(e); });
  clock_.Advance(seconds(1));
  // Opening the stream asks for a rescan (events may have been missed).
  EXPECT_EQ(trigger_.Wait(std::stop_token()), RescanCause::kEvent);
  EXPECT_EQ(stats_.available.value(), 1);

  netlink_.PushEvent({LinkEventType::kNewLink, 40, "veth1234"});  // a pod's veth
  netlink_.PushEvent({LinkEventType::kNewLink, 4, "ibp27s0"});
  clock_.Advance(seconds(1));
  EXPECT_EQ(trigger_.Wait(std::stop_token()), RescanCause::kEvent);
  EXPECT_THAT(seen(), ::testing::ElementsAre("veth1234", "ibp27s0"));
  EXPECT_EQ(watcher.relevant_events(), 1u);

  netlink_.PushEvent({LinkEventType::kOverflow, 0, ""});
  clock_.Advance(seconds(1));
  EXPECT_EQ(trigger_.Wait(std::stop_token()), RescanCause::kEvent);
  EXPECT_EQ(watcher.relevant_events(), 2u);
  EXPECT_THAT(seen(), ::testing::SizeIs(2));  // overflows skip the predicate
}

TEST_F(LinkEventWatcherTest, WithoutEventsItPollsAndRetries) {
  netlink_.FailNext(FakeNetlink::Op::kWatchLinks,
                    absl::UnavailableError("netlink: operation not permitted"));
  LinkEventWatcher watcher(
      netlink_, stats_, trigger_, clock_, [this](const LinkEvent& e) { return Relevant(e); },
      std::chrono::seconds(30));
  clock_.WaitForSleepers(1);               // the watcher, waiting to retry
  EXPECT_EQ(stats_.available.value(), 0);  // degraded: poll only
  clock_.Advance(seconds(30));
  // The retry opens a stream and asks for a rescan.
  EXPECT_EQ(trigger_.Wait(std::stop_token()), RescanCause::kEvent);
  EXPECT_EQ(stats_.available.value(), 1);
}

}  // namespace
}  // namespace tessera::drivers::rdma
