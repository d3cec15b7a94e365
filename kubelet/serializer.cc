#include "kubelet/serializer.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>

#include "base/status.h"
#include "base/strings.h"

namespace tessera::kubelet {

absl::StatusOr<std::unique_ptr<CallSerializer>> CallSerializer::Create(
    base::Clock& clock, CallSerializerOptions options) {
  int fd = -1;
  if (!options.lock_file.empty()) {
    fd = ::open(options.lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      return base::ErrnoStatus(errno, base::StrCat("open lock file ", options.lock_file));
    }
  }
  return std::unique_ptr<CallSerializer>(new CallSerializer(clock, std::move(options), fd));
}

CallSerializer::CallSerializer(base::Clock& clock, CallSerializerOptions options, int fd)
    : clock_(clock), options_(std::move(options)), fd_(fd), released_(clock) {}

CallSerializer::~CallSerializer() {
  if (fd_ >= 0) ::close(fd_);  // also drops a flock still held
}

absl::StatusOr<CallSerializer::Lease> CallSerializer::Acquire(std::stop_token stop) {
  const base::Clock::MonoTime deadline = clock_.MonotonicNow() + options_.max_wait;
  {
    absl::MutexLock lock(&mu_);
    if (!released_.WaitUntil(mu_, deadline, stop,
                             [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !busy_; })) {
      if (stop.stop_requested()) {
        return absl::CancelledError("serialize call: the plugin is stopping");
      }
      return absl::DeadlineExceededError(
          base::StrCat("serialize call: another call of this instance held the lock for more than ",
                       options_.max_wait.count(), " ms"));
    }
    busy_ = true;
  }
  Lease lease(this);  // releases the in-process lock on every error below
  if (fd_ < 0) return lease;

  std::chrono::milliseconds interval(1);
  while (true) {
    if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return lease;
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) {
      return base::ErrnoStatus(errno, base::StrCat("lock ", options_.lock_file));
    }
    base::Clock::MonoTime now = clock_.MonotonicNow();
    if (now >= deadline) {
      // The lease's destructor would flock(LOCK_UN) a lock we never got; that
      // is harmless (unlocking an unheld flock is a no-op).
      return absl::DeadlineExceededError(base::StrCat("serialize call: another instance held ",
                                                      options_.lock_file, " for more than ",
                                                      options_.max_wait.count(), " ms"));
    }
    if (!clock_.SleepUntil(std::min(now + interval, deadline), stop)) {
      return absl::CancelledError("serialize call: the plugin is stopping");
    }
    interval = std::min(interval * 2, options_.max_poll_interval);
  }
}

void CallSerializer::Release() {
  if (fd_ >= 0) ::flock(fd_, LOCK_UN);
  absl::MutexLock lock(&mu_);
  busy_ = false;
  released_.NotifyAll();
}

}  // namespace tessera::kubelet
