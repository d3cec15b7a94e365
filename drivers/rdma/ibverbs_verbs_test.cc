// IbverbsVerbs over the real libibverbs (rdma-core 44).
//
// On a kernel without RDMA, ibv_get_device_list() returns NULL with ENOSYS
// (../shared/docs/test-peers.md §7): ListDevices must say FailedPrecondition.
// With a fake sysfs tree ($SYSFS_PATH) and a placeholder
// /dev/infiniband/uverbs0 (libibverbs only stat()s it; the path is fixed, so
// it is made in a private mount namespace over a tmpfs /dev), libibverbs
// lists a fake "rxe0" - the rxe provider matches it by name - whose GUID we
// read, while opening it fails (no kernel uverbs): QueryPort is Unavailable.
// That scenario runs in a fresh process (this binary, re-executed), because
// libibverbs caches the sysfs path at its first call.
#include "drivers/rdma/ibverbs_verbs.h"

#include <errno.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "base/command_runner.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera::drivers::rdma {
namespace {

using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kChildEnv[] = "TESSERA_IBV_FAKE_SYSFS_CHILD";

TEST(IbverbsVerbsTest, DeviceListErrorCodes) {
  EXPECT_THAT(DeviceListError(ENOSYS),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no RDMA support")));
  EXPECT_THAT(DeviceListError(EACCES), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_FALSE(DeviceListError(0).ok());
}

TEST(IbverbsVerbsTest, MtuEnum) {
  EXPECT_EQ(IbvMtuBytes(1), 256u);
  EXPECT_EQ(IbvMtuBytes(3), 1024u);
  EXPECT_EQ(IbvMtuBytes(5), 4096u);
  EXPECT_EQ(IbvMtuBytes(0), 0u);
  EXPECT_EQ(IbvMtuBytes(6), 0u);
}

TEST(IbverbsVerbsTest, KernelWithoutRdmaIsFailedPrecondition) {
  if (std::getenv(kChildEnv) != nullptr) GTEST_SKIP() << "inside the fake-sysfs child";
  if (std::filesystem::exists("/sys/class/infiniband_verbs/abi_version")) {
    GTEST_SKIP() << "this host has RDMA; the ENOSYS path is not reachable here";
  }
  IbverbsVerbs verbs;
  EXPECT_THAT(verbs.ListDevices(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(verbs.QueryPort("mlx5_0", 1), StatusIs(absl::StatusCode::kFailedPrecondition));
}

// Runs only in the child the next test starts.
TEST(IbverbsVerbsChildTest, ListsTheFakeDevice) {
  if (std::getenv(kChildEnv) == nullptr) {
    GTEST_SKIP() << "runs in the private mount namespace FakeSysfsTree sets up";
  }
  IbverbsVerbs verbs;
  EXPECT_THAT(verbs.ListDevices(),
              IsOkAndHolds(ElementsAre(VerbsDevice{"rxe0", "0200:0000:0000:0001"})));
  EXPECT_THAT(verbs.QueryPort("rxe0", 1), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(verbs.QueryPort("mlx5_9", 1), StatusIs(absl::StatusCode::kNotFound));
}

TEST(IbverbsVerbsTest, FakeSysfsTree) {
  if (std::getenv(kChildEnv) != nullptr) GTEST_SKIP() << "inside the fake-sysfs child";
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a private mount namespace";
  tessera::testing::TempDir dir;
  const std::string sys = dir.Sub("sys");
  auto file = [&](const std::string& rel, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(sys + "/" + rel).parent_path());
    std::ofstream(sys + "/" + rel) << text;
  };
  file("class/infiniband_verbs/abi_version", "6\n");
  file("class/infiniband_verbs/uverbs0/ibdev", "rxe0\n");
  file("class/infiniband_verbs/uverbs0/abi_version", "1\n");
  file("class/infiniband_verbs/uverbs0/dev", "231:192\n");
  file("class/infiniband/rxe0/node_type", "1\n");
  file("class/infiniband/rxe0/node_guid", "0200:0000:0000:0001\n");

  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    ::close(out[0]);
    // A mount namespace of our own; /dev replaced there only.
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) ||
        ::mount("tessera-ibv", "/dev", "tmpfs", 0, "mode=0755") != 0 ||
        ::mkdir("/dev/infiniband", 0755) != 0) {
      ::_exit(90);
    }
    std::ofstream("/dev/infiniband/uverbs0") << "";
    ::setenv("SYSFS_PATH", sys.c_str(), 1);
    ::setenv(kChildEnv, "1", 1);
    ::execl("/proc/self/exe", "ibverbs_verbs_test", "--gtest_filter=IbverbsVerbsChildTest.*",
            static_cast<char*>(nullptr));
    ::_exit(91);
  }
  ::close(out[1]);
  std::string output;
  char buf[4096];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof(buf))) > 0;) output.append(buf, n);
  ::close(out[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_NE(WEXITSTATUS(status), 90) << "could not set up the mount namespace";
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
  EXPECT_THAT(output, HasSubstr("[  PASSED  ] 1 test"));
  EXPECT_FALSE(std::filesystem::exists("/dev/infiniband/uverbs0")) << "leaked into the host /dev";
}

}  // namespace
}  // namespace tessera::drivers::rdma
