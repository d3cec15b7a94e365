#include "drivers/gpu/dev_nodes.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera::drivers::gpu {
namespace {

using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;

TEST(DevNodesTest, RefusesPathsThatLeaveTheDevRoot) {
  tessera::testing::TempDir dev;
  for (const char* bad : {"../etc/passwd", "/nvidia0", "dri/../../x", "", "a//b"}) {
    EXPECT_THAT(MaterializeDeviceNodes(dev.path(), {"nvidia0", bad}),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid path")))
        << bad;
  }
  // Checked before anything is made.
  EXPECT_FALSE(std::filesystem::exists(dev.Sub("nvidia0")));
  EXPECT_THAT(MaterializeDeviceNodes("", {"nvidia0"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(DevNodesTest, AFileInTheWayIsReported) {
  tessera::testing::TempDir dev;
  std::ofstream(dev.Sub("nvidiactl")) << "not a device";
  EXPECT_THAT(MaterializeDeviceNodes(dev.path(), {"nvidiactl"}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("non-device file")));
}

TEST(DevNodesTest, MakesCharacterDevicesWithTheNumbersOfDevNull) {
  if (::geteuid() != 0) GTEST_SKIP() << "mknod needs root";
  tessera::testing::TempDir dev;
  const std::vector<std::string> nodes = {"nvidia0", "nvidia-caps/nvidia-cap12", "dri/renderD128"};
  ASSERT_OK(MaterializeDeviceNodes(dev.path(), nodes));
  ASSERT_OK(MaterializeDeviceNodes(dev.path(), nodes));  // again: left as they are
  for (const std::string& n : nodes) {
    struct stat st {};
    ASSERT_EQ(::stat(dev.Sub(n).c_str(), &st), 0) << n;
    EXPECT_TRUE(S_ISCHR(st.st_mode)) << n;
    EXPECT_EQ(major(st.st_rdev), 1u) << n;
    EXPECT_EQ(minor(st.st_rdev), 3u) << n;
    EXPECT_EQ(st.st_mode & 0777, 0666u) << n;
  }
}

}  // namespace
}  // namespace tessera::drivers::gpu
