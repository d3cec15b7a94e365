// Pure parts of the kubelet-side client: the kubelet's validation of GetInfo
// answers and of prepare/unprepare responses. The socket parts are covered by
// plugin_server_test.cc.
#include "kubelet/kubelet_client.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "test/matchers/status_matchers.h"

namespace tessera::kubelet {
namespace {

using ::tessera::testing::IsOk;
using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;

const std::string kRegSocket = "/var/lib/kubelet/plugins_registry/gpu.tessera.dev-reg.sock";

PluginInfo GoodInfo() {
  return PluginInfo{
      .type = "DRAPlugin",
      .name = "gpu.tessera.dev",
      .endpoint = "/var/lib/kubelet/plugins/gpu.tessera.dev/dra.sock",
      .supported_versions = {"v1.DRAPlugin", "v1beta1.DRAPlugin", "v1alpha1.DRAResourceHealth"}};
}

TEST(ValidatePluginInfoTest, AcceptsOurAnswer) {
  absl::StatusOr<ValidatedPlugin> v = ValidatePluginInfo(GoodInfo(), kRegSocket, "gpu.tessera.dev");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->api, DraApiVersion::kV1);
  EXPECT_TRUE(v->health);
  EXPECT_EQ(v->endpoint, GoodInfo().endpoint);
}

TEST(ValidatePluginInfoTest, TakesFirstKnownServiceInPluginOrder) {
  PluginInfo info = GoodInfo();
  info.supported_versions = {"v9.DRAPlugin", "v1beta1.DRAPlugin", "v1.DRAPlugin"};
  absl::StatusOr<ValidatedPlugin> v = ValidatePluginInfo(info, kRegSocket);
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->api, DraApiVersion::kV1beta1);
  EXPECT_FALSE(v->health);
}

TEST(ValidatePluginInfoTest, EmptyEndpointMeansRegistrationSocket) {
  PluginInfo info = GoodInfo();
  info.endpoint = "";
  absl::StatusOr<ValidatedPlugin> v = ValidatePluginInfo(info, kRegSocket);
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->endpoint, kRegSocket);
}

TEST(ValidatePluginInfoTest, RejectsWhatTheKubeletRejects) {
  PluginInfo wrong_type = GoodInfo();
  wrong_type.type = "CSIPlugin";
  EXPECT_THAT(ValidatePluginInfo(wrong_type, kRegSocket),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("type")));

  PluginInfo no_name = GoodInfo();
  no_name.name = "";
  EXPECT_THAT(ValidatePluginInfo(no_name, kRegSocket),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("name")));
  EXPECT_THAT(ValidatePluginInfo(GoodInfo(), kRegSocket, "rdma.tessera.dev"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rdma.tessera.dev")));

  PluginInfo relative = GoodInfo();
  relative.endpoint = "dra.sock";
  EXPECT_THAT(ValidatePluginInfo(relative, kRegSocket),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("absolute")));

  PluginInfo unknown = GoodInfo();
  unknown.supported_versions = {"v1alpha4.DRAPlugin", "v1alpha1.DRAResourceHealth"};
  EXPECT_THAT(ValidatePluginInfo(unknown, kRegSocket),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("v1alpha4.DRAPlugin")));
  PluginInfo none = GoodInfo();
  none.supported_versions.clear();
  EXPECT_THAT(ValidatePluginInfo(none, kRegSocket), StatusIs(absl::StatusCode::kInvalidArgument));
}

std::vector<ClaimRef> Claims() {
  return {{.uid = "u1", .namespace_ = "ns", .name = "a"},
          {.uid = "u2", .namespace_ = "ns", .name = "b"}};
}

TEST(CheckPrepareResponseTest, AcceptsOneCleanEntryPerClaim) {
  PrepareResponse r{{"u1", {}}, {"u2", {}}};
  EXPECT_THAT(CheckPrepareResponse(Claims(), r), IsOk());
}

TEST(CheckPrepareResponseTest, ReportsErrorsMissingAndUnknownClaims) {
  EXPECT_THAT(CheckPrepareResponse(Claims(), {{"u1", {}}, {"u2", {.error = "no such gpu"}}}),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("no such gpu")));
  EXPECT_THAT(CheckPrepareResponse(Claims(), {{"u1", {}}}),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("skipped 1 ResourceClaims")));
  EXPECT_THAT(CheckPrepareResponse(Claims(), {{"u1", {}}, {"u2", {}}, {"u3", {}}}),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("unknown claim u3")));
}

TEST(CheckUnprepareResponseTest, RequiresAnEntryPerClaim) {
  EXPECT_THAT(CheckUnprepareResponse(Claims(), {{"u1", ""}, {"u2", ""}}), IsOk());
  EXPECT_THAT(CheckUnprepareResponse(Claims(), {{"u1", ""}}),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("skipped 1")));
  EXPECT_THAT(CheckUnprepareResponse(Claims(), {{"u1", ""}, {"u2", "busy"}}),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("busy")));
}

}  // namespace
}  // namespace tessera::kubelet
