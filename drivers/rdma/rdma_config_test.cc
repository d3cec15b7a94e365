#include "drivers/rdma/rdma_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "test/matchers/status_matchers.h"

namespace tessera::drivers::rdma {
namespace {

using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;
using Json = nlohmann::json;

OpaqueConfig Entry(std::string_view source, Json params) {
  Json j = {{"apiVersion", "rdma.tessera.dev/v1alpha1"}, {"kind", "RdmaConfig"}};
  if (params.is_object()) j.update(params);
  return OpaqueConfig{std::string(source), std::move(j)};
}

absl::StatusOr<RdmaConfig> Resolve(std::vector<OpaqueConfig> configs) {
  return ResolveRdmaConfig(configs, "tessera.dev");
}

TEST(RdmaConfigTest, NoConfigMeansDeviceNodesOnly) {
  ASSERT_OK_AND_ASSIGN(RdmaConfig c, Resolve({}));
  EXPECT_EQ(c, RdmaConfig{});
  EXPECT_FALSE(c.netdev.attach);
  EXPECT_EQ(c.netdev.name, "net1");
}

TEST(RdmaConfigTest, FullConfig) {
  ASSERT_OK_AND_ASSIGN(
      RdmaConfig c,
      Resolve({Entry("FromClaim", {{"ibManagement", true},
                                   {"netdev",
                                    {{"attach", true},
                                     {"name", "rdma0"},
                                     {"mtu", 4092},
                                     {"addresses", {"10.1.0.5/24", "fd00:1::5/64"}}}}})}));
  EXPECT_TRUE(c.ib_management);
  EXPECT_TRUE(c.netdev.attach);
  EXPECT_EQ(c.netdev.name, "rdma0");
  EXPECT_EQ(c.netdev.mtu, 4092u);
  ASSERT_EQ(c.netdev.addresses.size(), 2u);
  EXPECT_EQ(c.netdev.addresses[0].ToString(), "10.1.0.5/24");
  EXPECT_EQ(c.netdev.addresses[1].family, topology::IpFamily::kIpv6);
}

TEST(RdmaConfigTest, LaterEntriesOverrideFieldByField) {
  // The class turns management on and attach off; the claim attaches with
  // its own MTU and keeps the class's management setting.
  ASSERT_OK_AND_ASSIGN(
      RdmaConfig c,
      Resolve({Entry("FromClass", {{"ibManagement", true}, {"netdev", {{"attach", false}}}}),
               Entry("FromClaim", {{"netdev", {{"attach", true}, {"mtu", 2044}}}})}));
  EXPECT_TRUE(c.ib_management);
  EXPECT_TRUE(c.netdev.attach);
  EXPECT_EQ(c.netdev.mtu, 2044u);
  EXPECT_EQ(c.netdev.name, "net1");
}

TEST(RdmaConfigTest, StrictDecodingNamesTheField) {
  struct Case {
    Json params;
    std::string field;
  };
  const std::vector<Case> cases = {
      {{{"ibManagment", true}}, "configs[0].ibManagment"},
      {{{"ibManagement", "yes"}}, "configs[0].ibManagement: expected boolean"},
      {{{"netdev", {{"attach", true}, {"nmae", "x"}}}}, "configs[0].netdev.nmae"},
      {{{"netdev", "net1"}}, "configs[0].netdev: expected object"},
      {{{"netdev", {{"attach", true}, {"mtu", 9}}}},
       "configs[0].netdev.mtu: 9 is outside 68..65535"},
      {{{"netdev", {{"attach", true}, {"mtu", 1.5}}}}, "configs[0].netdev.mtu"},
      {{{"netdev", {{"attach", true}, {"name", "net/1"}}}}, "configs[0].netdev.name"},
      {{{"netdev", {{"attach", true}, {"name", "a-very-long-interface"}}}},
       "configs[0].netdev.name"},
      {{{"netdev", {{"attach", true}, {"addresses", {"10.1.0.5"}}}}},
       "configs[0].netdev.addresses[0]"},
      {{{"netdev", {{"attach", true}, {"addresses", {"127.0.0.1/8"}}}}},
       "configs[0].netdev.addresses[0]"},
      {{{"netdev", {{"attach", true}, {"addresses", {"10.1.0.5/24", "10.1.0.5/16"}}}}},
       "configs[0].netdev.addresses[1]: 10.1.0.5 is listed twice"},
      {{{"netdev", {{"attach", true}, {"addresses", {42}}}}},
       "configs[0].netdev.addresses[0]: expected string"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(Resolve({Entry("FromClaim", c.params)}),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.field)))
        << c.params.dump();
  }
}

TEST(RdmaConfigTest, ApiVersionAndKindMustBeOurs) {
  OpaqueConfig other = Entry("FromClaim", {});
  other.parameters["apiVersion"] = "gpu.tessera.dev/v1alpha1";
  EXPECT_THAT(Resolve({other}), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("configs[0].apiVersion: \"gpu.tessera.dev/"
                                                   "v1alpha1\" is not rdma.tessera.dev/v1alpha1")));
  OpaqueConfig kind = Entry("FromClaim", {});
  kind.parameters["kind"] = "GpuConfig";
  EXPECT_THAT(Resolve({kind}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("configs[0].kind")));
  OpaqueConfig missing{"FromClaim", Json{{"kind", "RdmaConfig"}}};
  EXPECT_THAT(Resolve({missing}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("configs[0].apiVersion")));
  // Another domain's driver.
  EXPECT_THAT(ResolveRdmaConfig({Entry("FromClaim", {})}, "example.com"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rdma.example.com")));
  EXPECT_THAT(Resolve({OpaqueConfig{"FromClaim", Json::array()}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("configs[0]")));
}

TEST(RdmaConfigTest, TheSecondEntryIsNamedInErrors) {
  EXPECT_THAT(Resolve({Entry("FromClass", {}), Entry("FromClaim", {{"bogus", 1}})}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("configs[1].bogus")));
}

TEST(RdmaConfigTest, NetdevSettingsNeedAttach) {
  EXPECT_THAT(Resolve({Entry("FromClaim", {{"netdev", {{"mtu", 1500}}}})}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("netdev.attach: true")));
  EXPECT_THAT(Resolve({Entry("FromClaim", {{"netdev", {{"attach", false}, {"name", "net2"}}}})}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("netdev.attach: true")));
  // Attach alone is fine; so is turning it off without settings.
  EXPECT_OK(Resolve({Entry("FromClaim", {{"netdev", {{"attach", true}}}})}).status());
  EXPECT_OK(Resolve({Entry("FromClaim", {{"netdev", {{"attach", false}}}})}).status());
}

TEST(RdmaConfigTest, Ipv6NeedsAnMtuOfAtLeast1280) {
  EXPECT_THAT(Resolve({Entry(
                  "FromClaim",
                  {{"netdev", {{"attach", true}, {"mtu", 1200}, {"addresses", {"fd00::5/64"}}}}})}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("IPv6 minimum")));
  // Set by different entries: still checked on the merged result.
  EXPECT_THAT(Resolve({Entry("FromClass", {{"netdev", {{"attach", true}, {"mtu", 1200}}}}),
                       Entry("FromClaim", {{"netdev", {{"addresses", {"fd00::5/64"}}}}})}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("IPv6 minimum")));
}

}  // namespace
}  // namespace tessera::drivers::rdma
