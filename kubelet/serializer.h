// CallSerializer: runs NodePrepareResources and NodeUnprepareResources one at
// a time, as the kubelet plugin helper does (dra-api-facts.md §6.5).
//
// Within one agent an in-process lock orders the calls. With rolling updates
// two agent pods serve the same driver at once, so the serializer also holds
// flock(2) on <plugin-dir>/<driver>/serialize.lock for the duration of a call;
// the two instances then exclude each other. flock locks belong to an open
// file description, so two serializers in one process on the same file also
// exclude each other (which is how the tests run two "instances").
//
// Waiting is bounded: Acquire gives up after `max_wait` (DeadlineExceeded) or
// when `stop` is requested (Cancelled). All waits run on base::Clock.
//
// Thread-safety: safe for concurrent use. The clock must outlive the object.
#pragma once

#include <chrono>
#include <memory>
#include <stop_token>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "base/clock.h"
#include "kubelet/internal/clock_condition.h"

namespace tessera::kubelet {

struct CallSerializerOptions {
  // Lock file shared with other instances; empty = in-process lock only.
  std::string lock_file;
  // The kubelet abandons a call after 45 s; give up a little earlier.
  std::chrono::milliseconds max_wait = std::chrono::seconds(40);
  // The flock is polled (LOCK_NB) with backoff up to this interval.
  std::chrono::milliseconds max_poll_interval = std::chrono::milliseconds(50);
};

class CallSerializer final {
 public:
  // Opens (creating, mode 0600) the lock file when one is configured. Its
  // directory must exist. Errors carry the errno-derived code.
  static absl::StatusOr<std::unique_ptr<CallSerializer>> Create(base::Clock& clock,
                                                                CallSerializerOptions options);
  ~CallSerializer();
  CallSerializer(const CallSerializer&) = delete;
  CallSerializer& operator=(const CallSerializer&) = delete;

  // Proof of holding the serializer; releases it when destroyed.
  class Lease {
   public:
    Lease(Lease&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    ~Lease() {
      if (owner_ != nullptr) owner_->Release();
    }

   private:
    friend class CallSerializer;
    explicit Lease(CallSerializer* owner) : owner_(owner) {}
    CallSerializer* owner_;
  };

  // Blocks until the caller holds both locks. Returns DeadlineExceeded after
  // max_wait, Cancelled when `stop` is requested first, or the flock error.
  absl::StatusOr<Lease> Acquire(std::stop_token stop);

  bool uses_lock_file() const { return fd_ >= 0; }

 private:
  CallSerializer(base::Clock& clock, CallSerializerOptions options, int fd);
  void Release();

  base::Clock& clock_;
  const CallSerializerOptions options_;
  const int fd_;  // lock file, -1 when none

  absl::Mutex mu_;
  internal::ClockCondition released_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace tessera::kubelet
