#include "drivers/npu/npu_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "test/matchers/status_matchers.h"

namespace tessera::drivers::npu {
namespace {

using ::tessera::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::json;

Json Config(const Json& extra = Json::object()) {
  Json j = {{"apiVersion", "npu.tessera.dev/v1alpha1"}, {"kind", "NpuConfig"}};
  j.update(extra);
  return j;
}

TEST(NpuConfigTest, ApiVersionFollowsTheDomain) {
  EXPECT_EQ(NpuConfigApiVersion("tessera.dev"), "npu.tessera.dev/v1alpha1");
  EXPECT_EQ(NpuConfigApiVersion("example.com"), "npu.example.com/v1alpha1");
  EXPECT_OK(ParseNpuConfig({{"apiVersion", "npu.example.com/v1alpha1"}, {"kind", "NpuConfig"}},
                           "example.com", "p")
                .status());
}

TEST(NpuConfigTest, ParsesEveryField) {
  ASSERT_OK_AND_ASSIGN(NpuConfigEntry e, ParseNpuConfig(Config({{"ascendRuntimeOptions", {"NODRV"}},
                                                                {"mountHccnConf", false},
                                                                {"habanaVisibleModules", false}}),
                                                        "tessera.dev", "configs[0].parameters"));
  ASSERT_TRUE(e.ascend_runtime_options.has_value());
  EXPECT_THAT(*e.ascend_runtime_options, ElementsAre("NODRV"));
  EXPECT_EQ(e.mount_hccn_conf, false);
  EXPECT_EQ(e.habana_visible_modules, false);
}

TEST(NpuConfigTest, AnEmptyConfigSetsNothing) {
  ASSERT_OK_AND_ASSIGN(NpuConfigEntry e, ParseNpuConfig(Config(), "tessera.dev", "p"));
  NpuConfig c;
  c.Apply(e);
  EXPECT_EQ(c, NpuConfig{});
  EXPECT_TRUE(c.mount_hccn_conf);
  EXPECT_TRUE(c.habana_visible_modules);
}

TEST(NpuConfigTest, RejectsAnotherApiVersionOrKind) {
  EXPECT_THAT(
      ParseNpuConfig({{"apiVersion", "gpu.tessera.dev/v1alpha1"}, {"kind", "NpuConfig"}},
                     "tessera.dev", "configs[1].parameters"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("configs[1].parameters.apiVersion")));
  EXPECT_THAT(ParseNpuConfig({{"apiVersion", "npu.tessera.dev/v1"}, {"kind", "NpuConfig"}},
                             "tessera.dev", "p"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("npu.tessera.dev/v1alpha1")));
  EXPECT_THAT(ParseNpuConfig({{"apiVersion", "npu.tessera.dev/v1alpha1"}, {"kind", "GpuConfig"}},
                             "tessera.dev", "p"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("p.kind")));
  EXPECT_THAT(ParseNpuConfig({{"kind", "NpuConfig"}}, "tessera.dev", "p"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("p.apiVersion")));
}

TEST(NpuConfigTest, IsStrictAboutUnknownFieldsAndTypes) {
  EXPECT_THAT(ParseNpuConfig(Config({{"sharing", "timeSlicing"}}), "tessera.dev", "p"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sharing")));
  EXPECT_THAT(ParseNpuConfig(Config({{"mountHccnConf", "yes"}}), "tessera.dev", "p"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("p.mountHccnConf")));
  EXPECT_THAT(ParseNpuConfig(Config({{"ascendRuntimeOptions", "NODRV"}}), "tessera.dev", "p"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("p.ascendRuntimeOptions")));
  EXPECT_THAT(ParseNpuConfig(Config({{"ascendRuntimeOptions", {1}}}), "tessera.dev", "p"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("p.ascendRuntimeOptions[0]")));
  EXPECT_THAT(ParseNpuConfig(Json::array(), "tessera.dev", "p"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(NpuConfigTest, RuntimeOptionsAreLimitedToWhatUsersMayAskFor) {
  // VIRTUAL is the driver's to set (it marks vNPU ids).
  EXPECT_THAT(ParseNpuConfig(Config({{"ascendRuntimeOptions", {"VIRTUAL"}}}), "tessera.dev", "p"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"VIRTUAL\"")));
  EXPECT_THAT(
      ParseNpuConfig(Config({{"ascendRuntimeOptions", {"NODRV", "NODRV"}}}), "tessera.dev", "p"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("duplicate")));
}

TEST(NpuConfigTest, LaterEntriesOverrideOnlyTheFieldsTheySet) {
  NpuConfig c;
  c.Apply({.ascend_runtime_options = std::vector<std::string>{"NODRV"}, .mount_hccn_conf = false});
  c.Apply({.mount_hccn_conf = true});
  EXPECT_THAT(c.ascend_runtime_options, ElementsAre("NODRV"));
  EXPECT_TRUE(c.mount_hccn_conf);
  EXPECT_TRUE(c.sets_ascend_fields);
  EXPECT_FALSE(c.sets_gaudi_fields);
}

}  // namespace
}  // namespace tessera::drivers::npu
