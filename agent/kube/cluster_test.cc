#include "agent/kube/cluster.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "base/filesystem.h"
#include "base/strings.h"
#include "test/fakes/base/fake_clock.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera::agent::kube {
namespace {

using base::StrCat;
using tessera::testing::StatusIs;
using ::testing::HasSubstr;

class ClusterTest : public ::testing::Test {
 protected:
  ClusterOptions Options() {
    ClusterOptions o;
    o.state_dir = dir_.Sub("state");
    o.service_account_dir = dir_.Sub("sa");
    return o;
  }
  testing::TempDir dir_;
  base::RealFilesystem fs_;
  testing::FakeClock clock_;
  base::metrics::Registry metrics_;
};

TEST_F(ClusterTest, StandaloneUsesTheFileStore) {
  ASSERT_OK_AND_ASSIGN(Cluster c, ConnectCluster(fs_, clock_, metrics_, Options()));
  EXPECT_EQ(c.mode, ClusterMode::kStandalone);
  EXPECT_FALSE(c.require_node_owner);
  EXPECT_THAT(c.description, HasSubstr(dir_.Sub("state/cluster")));
  EXPECT_TRUE(fs_.Exists(dir_.Sub("state/cluster/resourceslices")));
  ASSERT_OK(fs_.CreateDirectories(dir_.Sub("state/cluster/resourceclaims/ns"), 0755));
  ASSERT_OK(fs_.WriteFileAtomic(dir_.Sub("state/cluster/resourceclaims/ns/c.yaml"),
                                "metadata: {namespace: ns, name: c, uid: u-1}\n",
                                {.durable = false}));
  ASSERT_OK_AND_ASSIGN(ResourceClaim claim, c.claims->GetClaim("ns", "c"));
  EXPECT_EQ(claim.uid, "u-1");
  EXPECT_FALSE(claim.allocated);
  ASSERT_OK(c.client->ListResourceSlices({}).status());
}

TEST_F(ClusterTest, StandaloneNeedsAStateDir) {
  ClusterOptions o = Options();
  o.state_dir.clear();
  EXPECT_THAT(ConnectCluster(fs_, clock_, metrics_, o),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ClusterTest, KubeconfigAndInCluster) {
  ASSERT_OK(fs_.WriteFileAtomic(dir_.Sub("kubeconfig"), R"(
current-context: c
clusters: [{name: k, cluster: {server: "http://127.0.0.1:1"}}]
contexts: [{name: c, context: {cluster: k}}]
)",
                                {.durable = false}));
  ClusterOptions o = Options();
  o.kubeconfig = dir_.Sub("kubeconfig");
  ASSERT_OK_AND_ASSIGN(Cluster k, ConnectCluster(fs_, clock_, metrics_, o));
  EXPECT_EQ(k.mode, ClusterMode::kKubeconfig);
  EXPECT_TRUE(k.require_node_owner);
  EXPECT_THAT(k.description, HasSubstr("server http://127.0.0.1:1"));

  o = Options();
  o.env = {"10.96.0.1", "443"};
  ASSERT_OK(fs_.CreateDirectories(dir_.Sub("sa"), 0755));
  ASSERT_OK(fs_.WriteFileAtomic(dir_.Sub("sa/token"), "t", {.durable = false}));
  ASSERT_OK_AND_ASSIGN(std::string ca,
                       fs_.ReadFile(StrCat(TESSERA_SOURCE_DIR, "/test/testdata/tls/test-ca.crt")));
  ASSERT_OK(fs_.WriteFileAtomic(dir_.Sub("sa/ca.crt"), ca, {.durable = false}));
  ASSERT_OK_AND_ASSIGN(Cluster in, ConnectCluster(fs_, clock_, metrics_, o));
  EXPECT_EQ(in.mode, ClusterMode::kInCluster);
  EXPECT_THAT(in.description, HasSubstr("in-cluster server https://10.96.0.1:443"));

  o.kubeconfig = dir_.Sub("missing");
  EXPECT_THAT(ConnectCluster(fs_, clock_, metrics_, o), StatusIs(absl::StatusCode::kNotFound));
}

// A mounted CA bundle that is not PEM can never work: the agent says so at
// start instead of failing every request.
TEST_F(ClusterTest, InClusterCaThatIsNotPemFailsAtStart) {
  ClusterOptions o = Options();
  o.env = {"10.96.0.1", "443"};
  ASSERT_OK(fs_.CreateDirectories(dir_.Sub("sa"), 0755));
  ASSERT_OK(fs_.WriteFileAtomic(dir_.Sub("sa/token"), "t", {.durable = false}));
  ASSERT_OK(fs_.WriteFileAtomic(dir_.Sub("sa/ca.crt"), "not a certificate", {.durable = false}));
  EXPECT_THAT(ConnectCluster(fs_, clock_, metrics_, o),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("certificate authority: no PEM certificate")));
}

}  // namespace
}  // namespace tessera::agent::kube
