// Clock: the only way code reads time or waits. SystemClock in production;
// test/fakes/base/fake_clock.h advances time by hand so nothing sleeps in tests.
#pragma once

#include <chrono>
#include <stop_token>

namespace tessera::base {

class Clock {
 public:
  using WallTime = std::chrono::system_clock::time_point;
  using MonoTime = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  Clock() = default;
  Clock(const Clock&) = delete;
  Clock& operator=(const Clock&) = delete;

  virtual WallTime Now() const = 0;
  virtual MonoTime MonotonicNow() const = 0;
  // Blocks until MonotonicNow() >= deadline or `stop` is requested.
  // Returns true when the deadline was reached, false when stopped.
  // Safe for concurrent use.
  virtual bool SleepUntil(MonoTime deadline, std::stop_token stop) = 0;
};

class SystemClock final : public Clock {
 public:
  WallTime Now() const override { return std::chrono::system_clock::now(); }
  MonoTime MonotonicNow() const override { return std::chrono::steady_clock::now(); }
  bool SleepUntil(MonoTime deadline, std::stop_token stop) override;
};

}  // namespace tessera::base
