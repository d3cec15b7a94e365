#include "base/clock.h"

#include <condition_variable>
#include <mutex>

namespace tessera::base {

bool SystemClock::SleepUntil(MonoTime deadline, std::stop_token stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  // wait_until with a stop_token returns early (false) when a stop is requested.
  cv.wait_until(lock, stop, deadline, [] { return false; });
  return !stop.stop_requested();
}

}  // namespace tessera::base
