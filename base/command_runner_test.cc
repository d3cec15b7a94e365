#include "base/command_runner.h"

#include "gtest/gtest.h"
#include "test/matchers/status_matchers.h"

namespace tessera::base {
namespace {

using ::tessera::testing::StatusIs;

TEST(ProcessCommandRunnerTest, CapturesOutputExitCodeAndStdin) {
  ProcessCommandRunner runner;
  ASSERT_OK_AND_ASSIGN(
      CommandResult r,
      runner.Run({.argv = {"/bin/sh", "-c", "read x; echo out:$x:$FOO; echo err >&2; exit 3"},
                  .env = {"FOO=bar"},
                  .stdin_data = "hello\n"}));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.stdout_data, "out:hello:bar\n");
  EXPECT_EQ(r.stderr_data, "err\n");
}

TEST(ProcessCommandRunnerTest, MissingExecutableIsNotFound) {
  ProcessCommandRunner runner;
  EXPECT_THAT(runner.Run({.argv = {"/nonexistent/tool"}}), StatusIs(absl::StatusCode::kNotFound));
}

TEST(ProcessCommandRunnerTest, KillsOnTimeout) {
  ProcessCommandRunner runner;
  EXPECT_THAT(runner.Run({.argv = {"/bin/sh", "-c", "sleep 30"},
                          .timeout = std::chrono::milliseconds(200)}),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
}

TEST(ProcessCommandRunnerTest, ChildThatIgnoresStdinDoesNotKillUs) {
  ProcessCommandRunner runner;
  ASSERT_OK_AND_ASSIGN(CommandResult r,
                       runner.Run({.argv = {"/bin/true"}, .stdin_data = std::string(1 << 20, 'x')}));
  EXPECT_EQ(r.exit_code, 0);
}

}  // namespace
}  // namespace tessera::base
