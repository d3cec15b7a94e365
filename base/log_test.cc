#include "base/log.h"

#include "gtest/gtest.h"
#include "test/matchers/status_matchers.h"

namespace tessera::base::log {
namespace {

using ::tessera::testing::StatusIs;

TEST(LogTest, ParsesDefaultAndModuleLevels) {
  ASSERT_OK_AND_ASSIGN(Options o, ParseLevels("warn,kubelet=debug,topology=trace"));
  EXPECT_EQ(o.level, "warn");
  EXPECT_EQ(o.module_levels.at("kubelet"), "debug");
  EXPECT_EQ(o.module_levels.at("topology"), "trace");
}

TEST(LogTest, RejectsUnknownLevels) {
  EXPECT_THAT(ParseLevels("loud"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseLevels("kubelet=shouty"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseLevels("=debug"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(LogTest, InitAppliesModuleLevelsToExistingAndNewLoggers) {
  auto early = Get("logtest-early");
  ASSERT_OK(Init(*ParseLevels("error,logtest-early=debug,logtest-late=trace")));
  EXPECT_EQ(early->level(), spdlog::level::debug);
  EXPECT_EQ(Get("logtest-late")->level(), spdlog::level::trace);
  EXPECT_EQ(Get("logtest-other")->level(), spdlog::level::err);
  ASSERT_OK(SetLevel("logtest-other", "info"));
  EXPECT_EQ(Get("logtest-other")->level(), spdlog::level::info);
  ASSERT_OK(Init(Options{}));
}

}  // namespace
}  // namespace tessera::base::log
