// ProcNetworkNamespaces on this machine's /proc: opening and refusing
// namespace files needs no privileges.
#include <fcntl.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"
#include "topology/netns.h"

namespace tessera::topology {
namespace {

using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ProcNetworkNamespacesTest, OpensOwnNamespaceWithStableIdentity) {
  ProcNetworkNamespaces namespaces;
  ASSERT_OK_AND_ASSIGN(NetnsHandle a, namespaces.OpenCurrent());
  ASSERT_OK_AND_ASSIGN(NetnsHandle b, namespaces.OpenProcess(::getpid()));
  ASSERT_OK_AND_ASSIGN(NetnsHandle c, namespaces.OpenPath("/proc/thread-self/ns/net"));
  EXPECT_GE(a.fd(), 0);
  EXPECT_NE(a.id().inode, 0u);
  EXPECT_EQ(a.id(), b.id());
  EXPECT_EQ(a.id(), c.id());
  EXPECT_EQ(b.description(), "/proc/" + std::to_string(::getpid()) + "/ns/net");
}

TEST(ProcNetworkNamespacesTest, HandleClosesItsFdAndMoves) {
  ProcNetworkNamespaces namespaces;
  int fd = -1;
  {
    ASSERT_OK_AND_ASSIGN(NetnsHandle a, namespaces.OpenCurrent());
    NetnsHandle b = std::move(a);
    fd = b.fd();
    EXPECT_EQ(a.fd(), -1);  // NOLINT(bugprone-use-after-move): moved-from state is specified
    EXPECT_NE(::fcntl(fd, F_GETFD), -1);
  }
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);
}

TEST(ProcNetworkNamespacesTest, RefusesWhatIsNotANetworkNamespace) {
  ProcNetworkNamespaces namespaces;
  EXPECT_THAT(namespaces.OpenPath("/proc/self/ns/uts"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a network namespace")));
  tessera::testing::TempDir dir;
  std::string file = dir.Sub("plain");
  ASSERT_EQ(::close(::creat(file.c_str(), 0600)), 0);
  EXPECT_THAT(namespaces.OpenPath(file),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a namespace file")));
  EXPECT_THAT(namespaces.OpenPath(dir.Sub("missing")), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(namespaces.OpenPath(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(namespaces.OpenProcess(0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(namespaces.OpenProcess(2147483000),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no such process")));
}

TEST(ProcNetworkNamespacesTest, HonoursProcRoot) {
  tessera::testing::TempDir dir;
  ProcNetworkNamespaces namespaces(dir.path());
  EXPECT_THAT(namespaces.OpenCurrent(), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace tessera::topology
