#include "drivers/gpu/mig.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "drivers/naming.h"

namespace tessera::drivers::gpu {
namespace {

using ::testing::Optional;

// Three H100 80GB profiles as `nvidia-smi mig -lgip` reports them (the
// memory slice axis has 8 slices; 1g.10gb fits 7 times).
std::vector<nvidia::GpuInstanceProfile> H100Profiles() {
  nvidia::GpuInstanceProfile small{.id = 19,
                                   .index = 0,
                                   .name = "1g.10gb",
                                   .slice_count = 1,
                                   .instance_count = 7,
                                   .multiprocessor_count = 16,
                                   .copy_engine_count = 1,
                                   .decoder_count = 1,
                                   .jpeg_count = 1,
                                   .memory_bytes = uint64_t{9984} << 20};
  for (uint32_t i = 0; i < 7; ++i) small.placements.push_back({i, 1});
  nvidia::GpuInstanceProfile media = small;
  media.id = 20;
  media.name = "1g.10gb+me";
  media.instance_count = 1;
  media.ofa_count = 1;
  nvidia::GpuInstanceProfile half{.id = 9,
                                  .index = 2,
                                  .name = "3g.40gb",
                                  .slice_count = 3,
                                  .instance_count = 2,
                                  .multiprocessor_count = 60,
                                  .copy_engine_count = 3,
                                  .decoder_count = 3,
                                  .jpeg_count = 3,
                                  .memory_bytes = uint64_t{40448} << 20,
                                  .placements = {{0, 4}, {4, 4}}};
  nvidia::GpuInstanceProfile full{.id = 0,
                                  .index = 4,
                                  .name = "7g.80gb",
                                  .slice_count = 7,
                                  .instance_count = 1,
                                  .multiprocessor_count = 132,
                                  .copy_engine_count = 8,
                                  .decoder_count = 7,
                                  .jpeg_count = 7,
                                  .ofa_count = 1,
                                  .memory_bytes = uint64_t{81152} << 20,
                                  .placements = {{0, 8}}};
  return {small, media, half, full};
}

base::Quantity N(int64_t n) { return base::Quantity::FromInt(n); }

TEST(MigTest, NamesAreDnsLabelsDerivedFromProfileAndPlacement) {
  EXPECT_EQ(MigProfileLabel("1g.10gb"), "1g10gb");
  EXPECT_EQ(MigProfileLabel("1g.10gb+me"), "1g10gb-me");
  EXPECT_EQ(MigProfileLabel("7g.80gb"), "7g80gb");
  const std::string gpu = DeviceNameForPci("gpu", {.domain = 0, .bus = 0xbe});
  EXPECT_EQ(MigDeviceName(gpu, "1g.10gb+me", 3), "gpu-0000-be-00-0-mig-1g10gb-me-3");
  EXPECT_EQ(MigCounterSetName(gpu), "gpu-0000-be-00-0-mig");
}

TEST(MigTest, DeviceNamesParseBackAndStillCarryTheParentsPciAddress) {
  std::optional<MigDeviceRef> ref = ParseMigDeviceName("gpu-0000-be-00-0-mig-1g10gb-me-3");
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->gpu_device, "gpu-0000-be-00-0");
  EXPECT_EQ(ref->profile_label, "1g10gb-me");
  EXPECT_EQ(ref->placement_start, 3u);
  EXPECT_THAT(PciFromDeviceName("gpu-0000-be-00-0-mig-1g10gb-me-3"),
              Optional(base::PciAddress{.domain = 0, .bus = 0xbe}));
  EXPECT_FALSE(ParseMigDeviceName("gpu-0000-be-00-0").has_value());
  EXPECT_FALSE(ParseMigDeviceName("gpu-0000-be-00-0-mig-1g10gb-x").has_value());
}

TEST(MigTest, CounterSetCoversEveryCombinationTheGpuAccepts) {
  const std::vector<nvidia::GpuInstanceProfile> profiles = H100Profiles();
  CounterSet set = MigCounterSet("gpu-0000-be-00-0", profiles);
  EXPECT_EQ(set.name, "gpu-0000-be-00-0-mig");
  for (int i = 0; i < 8; ++i) EXPECT_EQ(set.counters.at("memory-slice-" + std::to_string(i)), N(1));
  EXPECT_EQ(set.counters.count("memory-slice-8"), 0u);
  // 7 x 1g.10gb: 7 compute slices, 112 SMs, 7 copy engines - all within the
  // totals; the full profile's 132 SMs and 8 copy engines are larger still.
  EXPECT_EQ(set.counters.at("compute-slices"), N(7));
  EXPECT_EQ(set.counters.at("multiprocessors"), N(132));
  EXPECT_EQ(set.counters.at("copy-engines"), N(8));
  EXPECT_EQ(set.counters.at("ofa-engines"), N(1));
  EXPECT_EQ(set.counters.at("memory").Value(), int64_t{81152} << 20);
  int64_t seven_small_memory = 0;
  for (int i = 0; i < 7; ++i) {
    CounterConsumption c =
        MigConsumption("gpu-0000-be-00-0", profiles[0], profiles[0].placements[i]);
    seven_small_memory += c.counters.at("memory").Value();
  }
  EXPECT_LE(seven_small_memory, set.counters.at("memory").Value());
}

TEST(MigTest, APlacementConsumesTheMemorySlicesItCovers) {
  const std::vector<nvidia::GpuInstanceProfile> profiles = H100Profiles();
  CounterConsumption c = MigConsumption("gpu-0000-be-00-0", profiles[2], {4, 4});
  EXPECT_EQ(c.counter_set, "gpu-0000-be-00-0-mig");
  for (int i = 4; i < 8; ++i) EXPECT_EQ(c.counters.at("memory-slice-" + std::to_string(i)), N(1));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(c.counters.count("memory-slice-" + std::to_string(i)), 0u);
  EXPECT_EQ(c.counters.at("compute-slices"), N(3));
  EXPECT_EQ(c.counters.at("multiprocessors"), N(60));
  // Zero amounts are left out (3g.40gb has no encoders or OFA).
  EXPECT_EQ(c.counters.count("encoders"), 0u);
  EXPECT_EQ(c.counters.count("ofa-engines"), 0u);
  // The media profile takes the GPU's only OFA: two of them cannot be placed.
  CounterConsumption me = MigConsumption("gpu-0000-be-00-0", profiles[1], {0, 1});
  EXPECT_EQ(me.counters.at("ofa-engines"), N(1));
}

TEST(MigTest, CapacityShowsMemoryAndEngines) {
  std::map<std::string, Capacity> cap = MigCapacity(H100Profiles()[2]);
  EXPECT_EQ(cap.at("memory").value.Value(), int64_t{40448} << 20);
  EXPECT_EQ(cap.at("memory").value.ToString(), "40448Mi");
  EXPECT_EQ(cap.at("multiprocessors").value, N(60));
  EXPECT_EQ(cap.at("copyEngines").value, N(3));
}

TEST(MigTest, FullComputeInstanceProfileSpansTheGpuInstance) {
  std::vector<nvidia::ComputeInstanceProfile> cips = {
      {.id = 0, .slice_count = 1}, {.id = 1, .slice_count = 2}, {.id = 2, .slice_count = 3}};
  EXPECT_EQ(FullComputeInstanceProfile(cips, 3), std::optional<uint32_t>(2));
  EXPECT_EQ(FullComputeInstanceProfile(cips, 1), std::optional<uint32_t>(0));
  EXPECT_EQ(FullComputeInstanceProfile(cips, 7), std::nullopt);
}

TEST(MigTest, FindsProfilesByIdAndLabel) {
  const std::vector<nvidia::GpuInstanceProfile> profiles = H100Profiles();
  ASSERT_NE(FindProfile(profiles, 9), nullptr);
  EXPECT_EQ(FindProfile(profiles, 9)->name, "3g.40gb");
  EXPECT_EQ(FindProfile(profiles, 14), nullptr);
  ASSERT_NE(FindProfileByLabel(profiles, "1g10gb-me"), nullptr);
  EXPECT_EQ(FindProfileByLabel(profiles, "1g10gb-me")->id, 20u);
}

}  // namespace
}  // namespace tessera::drivers::gpu
