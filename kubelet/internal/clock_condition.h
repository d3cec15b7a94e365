// ClockCondition: a condition variable whose waits run on base::Clock, so a
// FakeClock drives their timeouts in tests (no real sleeps) while NotifyAll
// still wakes waiters at once.
//
// Each waiter parks in Clock::SleepUntil with the token of its own
// std::stop_source; NotifyAll requests stop on every parked source. Waiters
// register while holding the caller's mutex, and NotifyAll is called with the
// same mutex held, so no wake-up is lost between the predicate check and the
// sleep.
//
// Thread-safety: every method REQUIRES the caller's `mu` to be held. The clock
// must outlive this object.
#pragma once

#include <list>
#include <stop_token>

#include "absl/synchronization/mutex.h"

#include "base/clock.h"

namespace tessera::kubelet::internal {

class ClockCondition {
 public:
  explicit ClockCondition(base::Clock& clock) : clock_(clock) {}
  ClockCondition(const ClockCondition&) = delete;
  ClockCondition& operator=(const ClockCondition&) = delete;

  base::Clock& clock() const { return clock_; }

  // Waits until `pred()` holds, `deadline` passes on the clock, or `stop` is
  // requested; `mu` is released while sleeping. Returns pred() at the end.
  // REQUIRES: `mu` held; `pred` reads only state guarded by `mu`.
  template <typename Pred>
  bool WaitUntil(absl::Mutex& mu, base::Clock::MonoTime deadline, std::stop_token stop, Pred pred)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    while (!Holds(pred)) {
      if (stop.stop_requested() || clock_.MonotonicNow() >= deadline) return false;
      std::stop_source wake;
      std::stop_callback forward(stop, [&wake] { wake.request_stop(); });
      auto it = waiters_.insert(waiters_.end(), &wake);
      mu.Unlock();
      clock_.SleepUntil(deadline, wake.get_token());
      mu.Lock();
      waiters_.erase(it);
    }
    return true;
  }

  // Wakes every waiter; each re-checks its predicate.
  // REQUIRES: the waiters' `mu` held.
  void NotifyAll() {
    for (std::stop_source* wake : waiters_) wake->request_stop();
  }

 private:
  // `pred` requires the caller's mutex under the caller's name for it (mu_),
  // which the analysis cannot match with `mu`; WaitUntil holds it.
  template <typename Pred>
  static bool Holds(Pred& pred) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return pred();
  }

  base::Clock& clock_;
  std::list<std::stop_source*> waiters_;  // guarded by the caller's mutex
};

}  // namespace tessera::kubelet::internal
