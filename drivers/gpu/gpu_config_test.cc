#include "drivers/gpu/gpu_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "test/matchers/status_matchers.h"

namespace tessera::drivers::gpu {
namespace {

using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;
using Json = nlohmann::json;

constexpr std::string_view kDomain = "tessera.dev";

Json Config(Json sharing) {
  Json j = {{"apiVersion", "gpu.tessera.dev/v1alpha1"}, {"kind", "GpuConfig"}};
  if (!sharing.is_null()) j["sharing"] = std::move(sharing);
  return j;
}

TEST(GpuConfigTest, EmptyConfigIsExclusive) {
  EXPECT_THAT(ParseGpuConfig(Config(nullptr), kDomain), IsOkAndHolds(GpuConfig{}));
}

TEST(GpuConfigTest, ParsesTimeSlicing) {
  GpuConfig want{.strategy = SharingStrategy::kTimeSlicing,
                 .strategy_set = true,
                 .interval = TimeSliceInterval::kMedium};
  EXPECT_THAT(ParseGpuConfig(
                  Config({{"strategy", "TimeSlicing"}, {"timeSlicing", {{"interval", "Medium"}}}}),
                  kDomain),
              IsOkAndHolds(want));
}

TEST(GpuConfigTest, ParsesMpsLimitsAndRoundsMemoryDownToMiB) {
  absl::StatusOr<GpuConfig> c = ParseGpuConfig(
      Config(
          {{"strategy", "MPS"},
           {"mps", {{"activeThreadPercentage", 25}, {"pinnedDeviceMemoryLimit", "1500000000"}}}}),
      kDomain);
  ASSERT_OK(c);
  EXPECT_EQ(c->strategy, SharingStrategy::kMps);
  EXPECT_EQ(c->mps.active_thread_percentage, 25);
  // 1.5e9 bytes = 1430.5 MiB: MPS takes whole MiB.
  EXPECT_EQ(c->mps.pinned_device_memory_bytes, uint64_t{1430} << 20);
  c = ParseGpuConfig(Config({{"strategy", "MPS"}, {"mps", {{"pinnedDeviceMemoryLimit", "10Gi"}}}}),
                     kDomain);
  ASSERT_OK(c);
  EXPECT_EQ(c->mps.pinned_device_memory_bytes, uint64_t{10} << 30);
  EXPECT_FALSE(c->mps.active_thread_percentage.has_value());
}

struct BadCase {
  const char* name;
  Json parameters;
  const char* message;
};

class GpuConfigErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(GpuConfigErrorTest, IsInvalidArgumentNamingTheField) {
  EXPECT_THAT(ParseGpuConfig(GetParam().parameters, kDomain),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(GetParam().message)));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, GpuConfigErrorTest,
    ::testing::Values(
        BadCase{"NotAnObject", Json::array(), "parameters: expected object"},
        BadCase{"WrongKind",
                {{"apiVersion", "gpu.tessera.dev/v1alpha1"}, {"kind", "NicConfig"}},
                "kind: \"NicConfig\" is not supported"},
        BadCase{"WrongApiVersion",
                {{"apiVersion", "gpu.example.com/v1alpha1"}, {"kind", "GpuConfig"}},
                "apiVersion: \"gpu.example.com/v1alpha1\" is not supported"},
        BadCase{"MissingKind", {{"apiVersion", "gpu.tessera.dev/v1alpha1"}}, "kind"},
        BadCase{"UnknownTopLevelField",
                {{"apiVersion", "gpu.tessera.dev/v1alpha1"}, {"kind", "GpuConfig"}, {"x", 1}},
                "x"},
        BadCase{"UnknownSharingField", Config({{"strategy", "MPS"}, {"replicas", 4}}),
                "sharing.replicas"},
        BadCase{"UnknownStrategy", Config({{"strategy", "Fractional"}}),
                "sharing.strategy: \"Fractional\" is not one of"},
        BadCase{"UnknownInterval",
                Config({{"strategy", "TimeSlicing"}, {"timeSlicing", {{"interval", "Huge"}}}}),
                "sharing.timeSlicing.interval: \"Huge\""},
        BadCase{"TimeSlicingBlockWithMps",
                Config({{"strategy", "MPS"}, {"timeSlicing", {{"interval", "Short"}}}}),
                "sharing.timeSlicing: only allowed with strategy TimeSlicing, not MPS"},
        BadCase{"MpsBlockWithoutStrategy", Config({{"mps", {{"activeThreadPercentage", 10}}}}),
                "sharing.mps: only allowed with strategy MPS, not Exclusive"},
        BadCase{"PercentageAbove100",
                Config({{"strategy", "MPS"}, {"mps", {{"activeThreadPercentage", 150}}}}),
                "sharing.mps.activeThreadPercentage: 150 is out of range 1..100"},
        BadCase{"PercentageZero",
                Config({{"strategy", "MPS"}, {"mps", {{"activeThreadPercentage", 0}}}}),
                "out of range 1..100"},
        BadCase{"PercentageAsString",
                Config({{"strategy", "MPS"}, {"mps", {{"activeThreadPercentage", "50"}}}}),
                "sharing.mps.activeThreadPercentage: expected integer"},
        BadCase{"MemoryNotAQuantity",
                Config({{"strategy", "MPS"}, {"mps", {{"pinnedDeviceMemoryLimit", "lots"}}}}),
                "sharing.mps.pinnedDeviceMemoryLimit: invalid quantity"},
        BadCase{"MemoryBelowOneMiB",
                Config({{"strategy", "MPS"}, {"mps", {{"pinnedDeviceMemoryLimit", "512Ki"}}}}),
                "below the minimum 1Mi"},
        BadCase{"UnknownMpsField",
                Config({{"strategy", "MPS"}, {"mps", {{"defaultActiveThreadPercentage", 5}}}}),
                "sharing.mps.defaultActiveThreadPercentage"}),
    [](const ::testing::TestParamInfo<BadCase>& p) { return std::string(p.param.name); });

TEST(ResolveGpuConfigTest, TheLastEntryWinsSoTheClaimOverridesItsClass) {
  std::vector<OpaqueConfig> configs = {
      {.source = "FromClass", .parameters = Config({{"strategy", "TimeSlicing"}})},
      {.source = "FromClaim",
       .parameters = Config({{"strategy", "MPS"}, {"mps", {{"activeThreadPercentage", 40}}}})},
  };
  absl::StatusOr<GpuConfig> c = ResolveGpuConfig(configs, kDomain);
  ASSERT_OK(c);
  EXPECT_EQ(c->strategy, SharingStrategy::kMps);
  EXPECT_EQ(c->mps.active_thread_percentage, 40);
  EXPECT_THAT(ResolveGpuConfig({}, kDomain), IsOkAndHolds(GpuConfig{}));
}

TEST(ResolveGpuConfigTest, ABadEarlierEntryIsAnErrorNamingIt) {
  std::vector<OpaqueConfig> configs = {
      {.source = "FromClass", .parameters = Config({{"strategy", "Bogus"}})},
      {.source = "FromClaim", .parameters = Config({{"strategy", "MPS"}})},
  };
  EXPECT_THAT(ResolveGpuConfig(configs, kDomain),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("config 1 (FromClass): sharing.strategy")));
}

TEST(GpuConfigTest, ApiVersionFollowsTheDomain) {
  EXPECT_EQ(GpuConfigApiVersion("example.org"), "gpu.example.org/v1alpha1");
  Json j = {{"apiVersion", "gpu.example.org/v1alpha1"}, {"kind", "GpuConfig"}};
  EXPECT_OK(ParseGpuConfig(j, "example.org"));
  EXPECT_THAT(ParseGpuConfig(j, "tessera.dev"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace tessera::drivers::gpu
