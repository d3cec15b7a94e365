#include "agent/app/lifecycle.h"

#include "gtest/gtest.h"
#include "test/fakes/base/fake_clock.h"
#include "test/matchers/status_matchers.h"

namespace tessera::agent {
namespace {

using ::tessera::testing::StatusIs;

TEST(LifecycleTest, StartsInOrderAndStopsInReverse) {
  tessera::testing::FakeClock clock;
  std::vector<std::string> log;
  Lifecycle lc(clock);
  for (std::string name : {"a", "b", "c"}) {
    lc.AddStep(name, [&, name] { log.push_back("start " + name); clock.Advance(std::chrono::milliseconds(5)); return absl::OkStatus(); },
               [&, name] { log.push_back("stop " + name); });
  }
  ASSERT_OK(lc.Start());
  lc.Stop();
  lc.Stop();  // idempotent
  EXPECT_EQ(log, (std::vector<std::string>{"start a", "start b", "start c", "stop c", "stop b", "stop a"}));
  ASSERT_EQ(lc.timings().size(), 3u);
  EXPECT_EQ(lc.timings()[1].duration, std::chrono::milliseconds(5));
}

TEST(LifecycleTest, FailedStepStopsStartupAndTearsDownStartedSteps) {
  tessera::testing::FakeClock clock;
  std::vector<std::string> log;
  Lifecycle lc(clock);
  lc.AddStep("open_host", [&] { log.push_back("start open_host"); return absl::OkStatus(); },
             [&] { log.push_back("stop open_host"); });
  lc.AddStep("discover", [&] { return absl::FailedPreconditionError("no sysfs"); },
             [&] { log.push_back("stop discover"); });
  lc.AddStep("never", [&] { log.push_back("start never"); return absl::OkStatus(); });
  EXPECT_THAT(lc.Start(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                   "startup step discover: no sysfs"));
  lc.Stop();
  EXPECT_EQ(log, (std::vector<std::string>{"start open_host", "stop open_host"}));
}

}  // namespace
}  // namespace tessera::agent
