#include "kubelet/health_reporter.h"

#include <chrono>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "test/fakes/base/fake_clock.h"

namespace tessera::kubelet {
namespace {

using ::tessera::testing::FakeClock;
using namespace std::chrono_literals;

DeviceHealth Device(std::string pool, std::string device, HealthStatus health) {
  return DeviceHealth{
      .pool_name = std::move(pool), .device_name = std::move(device), .health = health};
}

TEST(HealthReporterTest, StartsEmptyAtVersionZero) {
  FakeClock clock;
  HealthReporter reporter(clock);
  EXPECT_EQ(reporter.Current().version, 0u);
  EXPECT_TRUE(reporter.Current().devices.empty());
}

TEST(HealthReporterTest, SortsDeduplicatesAndStampsDevices) {
  FakeClock clock;
  HealthReporter reporter(clock);
  const auto explicit_time = clock.Now() - 5min;
  DeviceHealth stamped = Device("pool-b", "gpu-0", HealthStatus::kHealthy);
  stamped.last_updated = explicit_time;
  reporter.Report({Device("pool-b", "gpu-1", HealthStatus::kHealthy), stamped,
                   Device("pool-a", "gpu-9", HealthStatus::kUnknown),
                   Device("pool-b", "gpu-1", HealthStatus::kUnhealthy)});

  HealthReporter::Snapshot s = reporter.Current();
  EXPECT_EQ(s.version, 1u);
  ASSERT_EQ(s.devices.size(), 3u);
  EXPECT_EQ(s.devices[0].device_name, "gpu-9");
  EXPECT_EQ(s.devices[1].device_name, "gpu-0");
  EXPECT_EQ(s.devices[1].last_updated, explicit_time);  // kept
  EXPECT_EQ(s.devices[2].device_name, "gpu-1");
  EXPECT_EQ(s.devices[2].health, HealthStatus::kUnhealthy);  // the last entry won
  EXPECT_EQ(s.devices[2].last_updated, clock.Now());         // stamped
}

TEST(HealthReporterTest, VersionMovesOnlyOnVisibleChanges) {
  FakeClock clock;
  HealthReporter reporter(clock);
  reporter.Report({Device("p", "d0", HealthStatus::kHealthy)});
  ASSERT_EQ(reporter.Current().version, 1u);

  clock.Advance(30s);
  reporter.Report({Device("p", "d0", HealthStatus::kHealthy)});
  EXPECT_EQ(reporter.Current().version, 1u);
  EXPECT_EQ(reporter.Current().devices[0].last_updated, clock.Now());  // refreshed anyway

  reporter.Report({Device("p", "d0", HealthStatus::kUnhealthy)});
  EXPECT_EQ(reporter.Current().version, 2u);

  DeviceHealth with_message = Device("p", "d0", HealthStatus::kUnhealthy);
  with_message.message = "xid 79";
  reporter.Report({with_message});
  EXPECT_EQ(reporter.Current().version, 3u);

  with_message.health_check_timeout = 60s;
  reporter.Report({with_message});
  EXPECT_EQ(reporter.Current().version, 4u);

  reporter.Report({with_message, Device("p", "d1", HealthStatus::kHealthy)});
  EXPECT_EQ(reporter.Current().version, 5u);
  reporter.Report({});
  EXPECT_EQ(reporter.Current().version, 6u);
}

TEST(HealthReporterTest, LimitsMessagesToValidUtf8Of1024Bytes) {
  FakeClock clock;
  HealthReporter reporter(clock);
  DeviceHealth d = Device("p", "d0", HealthStatus::kUnhealthy);
  d.message = std::string(2000, 'x') + "\xFF";
  reporter.Report({d});
  const std::string message = reporter.Current().devices[0].message;
  EXPECT_EQ(message.size(), kMaxHealthMessageBytes);
  EXPECT_TRUE(message.ends_with("..."));

  d.message = "bad \xFF byte";
  reporter.Report({d});
  EXPECT_EQ(reporter.Current().devices[0].message, "bad \xEF\xBF\xBD byte");
}

TEST(HealthReporterTest, WaitForChangeReturnsAtOnceWhenBehind) {
  FakeClock clock;
  HealthReporter reporter(clock);
  reporter.Report({Device("p", "d0", HealthStatus::kHealthy)});
  HealthReporter::Snapshot s = reporter.WaitForChange(0, clock.MonotonicNow() + 10s, {});
  EXPECT_EQ(s.version, 1u);
}

TEST(HealthReporterTest, WaitForChangeWakesOnReport) {
  FakeClock clock;
  HealthReporter reporter(clock);
  reporter.Report({Device("p", "d0", HealthStatus::kHealthy)});
  HealthReporter::Snapshot seen;
  std::jthread waiter([&] { seen = reporter.WaitForChange(1, clock.MonotonicNow() + 10s, {}); });
  clock.WaitForSleepers(1);
  reporter.Report({Device("p", "d0", HealthStatus::kUnhealthy)});
  waiter.join();
  EXPECT_EQ(seen.version, 2u);
  EXPECT_EQ(seen.devices[0].health, HealthStatus::kUnhealthy);
}

TEST(HealthReporterTest, WaitForChangeEndsAtDeadlineOrStop) {
  FakeClock clock;
  HealthReporter reporter(clock);
  reporter.Report({Device("p", "d0", HealthStatus::kHealthy)});
  HealthReporter::Snapshot seen;
  std::jthread waiter([&] { seen = reporter.WaitForChange(1, clock.MonotonicNow() + 10s, {}); });
  clock.WaitForSleepers(1);
  clock.Advance(10s);
  waiter.join();
  EXPECT_EQ(seen.version, 1u);  // unchanged: the caller re-sends periodically

  std::stop_source stop;
  std::jthread stopped(
      [&] { reporter.WaitForChange(1, clock.MonotonicNow() + 10s, stop.get_token()); });
  clock.WaitForSleepers(1);
  stop.request_stop();
  stopped.join();  // returns without any time passing
}

}  // namespace
}  // namespace tessera::kubelet
