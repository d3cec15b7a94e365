// SignalWatcher: turns SIGTERM and SIGINT into a std::stop_source request,
// from a dedicated sigwait thread (no async-signal-unsafe code in a handler).
//
// REQUIRES: constructed in main() before any other thread starts, because it
// blocks the signals in the calling thread and every thread created later
// inherits that mask.
#pragma once

#include <atomic>
#include <stop_token>
#include <thread>

namespace tessera::agent {

class SignalWatcher {
 public:
  SignalWatcher();
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  std::stop_token token() const { return source_.get_token(); }
  std::stop_source& source() { return source_; }
  // The signal that requested the stop, or 0.
  int received() const { return received_.load(); }

 private:
  std::stop_source source_;
  std::atomic<int> received_{0};
  std::jthread thread_;
};

}  // namespace tessera::agent
