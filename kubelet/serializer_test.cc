#include "kubelet/serializer.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "test/fakes/base/fake_clock.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera::kubelet {
namespace {

using ::tessera::testing::FakeClock;
using ::tessera::testing::IsOk;
using ::tessera::testing::StatusIs;
using ::tessera::testing::TempDir;
using namespace std::chrono_literals;

// Runs Acquire on its own thread; `acquired` turns true once it holds the
// lease, which it keeps until Release().
class BackgroundAcquire {
 public:
  BackgroundAcquire(CallSerializer& serializer, std::stop_token stop = {})
      : thread_([this, &serializer, stop] {
          absl::StatusOr<CallSerializer::Lease> lease = serializer.Acquire(stop);
          result_ = lease.status();
          finished_ = true;
          if (lease.ok()) {
            acquired_ = true;
            while (!release_) std::this_thread::yield();
          }
        }) {}
  ~BackgroundAcquire() { Release(); }

  void Release() { release_ = true; }
  absl::Status Join() {
    if (thread_.joinable()) thread_.join();
    return result_;
  }
  bool acquired() const { return acquired_; }
  bool finished() const { return finished_; }

 private:
  std::atomic<bool> acquired_{false};
  std::atomic<bool> finished_{false};
  std::atomic<bool> release_{false};
  absl::Status result_;
  std::jthread thread_;
};

TEST(CallSerializerTest, InProcessCallsRunOneAtATime) {
  FakeClock clock;
  auto serializer = CallSerializer::Create(clock, {});
  ASSERT_THAT(serializer, IsOk());
  EXPECT_FALSE((*serializer)->uses_lock_file());

  std::optional<CallSerializer::Lease> first((*serializer)->Acquire({}).value());
  BackgroundAcquire second(**serializer);
  clock.WaitForSleepers(1);  // the second caller is parked, not holding the lock
  EXPECT_FALSE(second.acquired());

  first.reset();  // release wakes it at once; no time has to pass
  while (!second.acquired()) std::this_thread::yield();
  second.Release();
  EXPECT_THAT(second.Join(), IsOk());
}

TEST(CallSerializerTest, GivesUpAfterMaxWait) {
  FakeClock clock;
  auto serializer = CallSerializer::Create(clock, {.max_wait = 40s});
  ASSERT_THAT(serializer, IsOk());
  CallSerializer::Lease held = (*serializer)->Acquire({}).value();

  BackgroundAcquire waiter(**serializer);
  clock.WaitForSleepers(1);
  clock.Advance(39s);
  EXPECT_FALSE(waiter.acquired());
  clock.Advance(1s);
  EXPECT_THAT(waiter.Join(), StatusIs(absl::StatusCode::kDeadlineExceeded));
}

TEST(CallSerializerTest, StopCancelsAWaiter) {
  FakeClock clock;
  auto serializer = CallSerializer::Create(clock, {});
  ASSERT_THAT(serializer, IsOk());
  CallSerializer::Lease held = (*serializer)->Acquire({}).value();

  std::stop_source stop;
  BackgroundAcquire waiter(**serializer, stop.get_token());
  clock.WaitForSleepers(1);
  stop.request_stop();
  EXPECT_THAT(waiter.Join(), StatusIs(absl::StatusCode::kCancelled));
}

TEST(CallSerializerTest, LockFileExcludesAnotherInstance) {
  TempDir dir;
  FakeClock clock;
  const std::string lock = dir.Sub("serialize.lock");
  auto first = CallSerializer::Create(clock, {.lock_file = lock});
  auto second = CallSerializer::Create(clock, {.lock_file = lock});
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  EXPECT_TRUE((*first)->uses_lock_file());

  std::optional<CallSerializer::Lease> held((*first)->Acquire({}).value());
  // An independent open file description sees the lock too: it is flock(2).
  int probe = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(probe, 0);
  EXPECT_EQ(::flock(probe, LOCK_EX | LOCK_NB), -1);
  EXPECT_EQ(errno, EWOULDBLOCK);

  BackgroundAcquire other_instance(**second);
  clock.WaitForSleepers(1);  // polling the lock file
  clock.Advance(10ms);
  clock.WaitForSleepers(1);
  EXPECT_FALSE(other_instance.acquired());

  held.reset();
  clock.Advance(50ms);  // the next poll finds the file unlocked
  while (!other_instance.acquired()) std::this_thread::yield();
  EXPECT_EQ(::flock(probe, LOCK_EX | LOCK_NB), -1);  // now held by the second
  other_instance.Release();
  EXPECT_THAT(other_instance.Join(), IsOk());
  EXPECT_EQ(::flock(probe, LOCK_EX | LOCK_NB), 0);  // and released again
  ::close(probe);
}

TEST(CallSerializerTest, LockFileWaitIsBounded) {
  TempDir dir;
  FakeClock clock;
  const std::string lock = dir.Sub("serialize.lock");
  auto first = CallSerializer::Create(clock, {.lock_file = lock});
  auto second = CallSerializer::Create(clock, {.lock_file = lock, .max_wait = 1s});
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  CallSerializer::Lease held = (*first)->Acquire({}).value();

  BackgroundAcquire other_instance(**second);
  clock.WaitForSleepers(1);
  clock.Advance(999ms);
  EXPECT_FALSE(other_instance.acquired());
  // Keep time moving until it gives up; it cannot get the lock meanwhile.
  while (!other_instance.finished()) {
    clock.Advance(50ms);
    std::this_thread::yield();
  }
  EXPECT_THAT(other_instance.Join(), StatusIs(absl::StatusCode::kDeadlineExceeded));
}

TEST(CallSerializerTest, CreatesPrivateLockFileAndReportsMissingDirectory) {
  TempDir dir;
  FakeClock clock;
  ASSERT_THAT(CallSerializer::Create(clock, {.lock_file = dir.Sub("serialize.lock")}), IsOk());
  struct stat st;
  ASSERT_EQ(::stat(dir.Sub("serialize.lock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  EXPECT_THAT(CallSerializer::Create(clock, {.lock_file = dir.Sub("missing/serialize.lock")}),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace tessera::kubelet
