// FakeClock: time moves only when a test calls Advance(). Sleepers whose
// deadline has passed wake up (Envoy's SimulatedTimeSystem, simplified).
#pragma once

#include <condition_variable>
#include <mutex>
#include <set>

#include "base/clock.h"

namespace tessera::testing {

class FakeClock final : public base::Clock {
 public:
  FakeClock() : wall_(std::chrono::system_clock::from_time_t(1'780'000'000)) {}

  WallTime Now() const override {
    std::lock_guard lock(mu_);
    return wall_;
  }
  MonoTime MonotonicNow() const override {
    std::lock_guard lock(mu_);
    return mono_;
  }
  bool SleepUntil(MonoTime deadline, std::stop_token stop) override {
    std::unique_lock lock(mu_);
    ++sleepers_;
    auto entry = deadlines_.insert(deadline);
    sleepers_cv_.notify_all();
    bool reached = cv_.wait(lock, stop, [&] { return mono_ >= deadline; });
    deadlines_.erase(entry);
    --sleepers_;
    return reached;
  }

  void Advance(std::chrono::nanoseconds d) {
    {
      std::lock_guard lock(mu_);
      mono_ += d;
      wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
    }
    cv_.notify_all();
  }

  // Blocks until at least `n` threads are inside SleepUntil (for tests that
  // must know a background loop reached its wait before advancing time).
  void WaitForSleepers(int n) {
    std::unique_lock lock(mu_);
    sleepers_cv_.wait(lock, [&] { return sleepers_ >= n; });
  }

  // Blocks until at least `n` threads sleep with a deadline still in the
  // future: after Advance(), the threads it woke have done their work and
  // gone back to sleep.
  void WaitForPendingSleepers(int n) {
    std::unique_lock lock(mu_);
    sleepers_cv_.wait(lock, [&] {
      int pending = 0;
      for (MonoTime d : deadlines_) pending += d > mono_ ? 1 : 0;
      return pending >= n;
    });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  std::condition_variable sleepers_cv_;
  int sleepers_ = 0;
  std::multiset<MonoTime> deadlines_;
  WallTime wall_;
  MonoTime mono_{};
};

}  // namespace tessera::testing
