// What the NPU driver enumerates on the fixtures, turned into ResourceSlices
// by agent/kube's builder, which validates every slice and the pool against
// the Kubernetes 1.35 rules (names, attribute limits, counter sets and their
// references, devices per slice). A test-only edge to the agent layer.
#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "agent/kube/slice_builder.h"
#include "base/status_macros.h"
#include "drivers/npu/npu_driver.h"
#include "drivers/npu/testing/npu_test_env.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera::drivers::npu {
namespace {

using agent::kube::BuildPool;
using agent::kube::DesiredPool;
using agent::kube::SliceBuildOptions;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::NpuFixture;
using testing::ScopedEnv;
using testing::SimNode;

constexpr char kDriver[] = "npu.tessera.dev";

class NpuSlicesTest : public ::testing::Test {
 protected:
  absl::StatusOr<Inventory> Enumerate(std::string_view node, bool partitions) {
    SimNode sim(node);
    NpuDriverOptions o;
    o.host_root = sim.root();
    o.simulated = true;
    o.publish_partitions = partitions;
    o.dcmi_library = testing::FakeDcmiLibrary();
    o.hlml_library = testing::FakeHlmlLibrary();
    ASSIGN_OR_RETURN(auto driver, NpuDriver::Create(o, {.load_topology = sim.Loader(),
                                                        .sysfs = &sim.sysfs(),
                                                        .fs = &fs_,
                                                        .runner = &runner_,
                                                        .metrics = &registry_}));
    return driver->Enumerate();
  }

  size_t Devices(const DesiredPool& pool) {
    size_t n = 0;
    for (const nlohmann::json& s : pool.slices)
      n += s.value("devices", nlohmann::json::array()).size();
    return n;
  }

  ScopedEnv dcmi_{"TESSERA_FAKE_DCMI_CONFIG", NpuFixture("dcmi-8x910b3.json")};
  ScopedEnv hlml_{"TESSERA_FAKE_HLML_CONFIG", NpuFixture("hlml-8xgaudi2.json")};
  base::RealFilesystem fs_;
  base::ProcessCommandRunner runner_;
  base::metrics::Registry registry_;
};

TEST_F(NpuSlicesTest, TheAscendNodeWithVnpusIsAValidPartitionablePool) {
  ASSERT_OK_AND_ASSIGN(Inventory inv, Enumerate(testing::kAscendNode, /*partitions=*/true));
  ASSERT_OK_AND_ASSIGN(DesiredPool pool, BuildPool(kDriver, "sim-atlas-01", inv,
                                                   SliceBuildOptions{.partitionable_devices = true,
                                                                     .device_taints = true}));
  EXPECT_THAT(pool.skipped, IsEmpty());
  // 8 counter sets in their own slice, then the 56 devices.
  ASSERT_EQ(pool.slices.size(), 2u);
  EXPECT_EQ(pool.slices[0]["sharedCounters"].size(), 8u);
  EXPECT_EQ(Devices(pool), 56u);
  const nlohmann::json& part = pool.slices[1]["devices"][1];
  EXPECT_EQ(part["name"], "npu-0000-03-00-0-vir05-1c-16g-0");
  EXPECT_EQ(part["consumesCounters"][0]["counterSet"], "npu-0000-03-00-0-counters");
  EXPECT_EQ(part["attributes"]["tessera.dev/pcieSwitch"]["string"], "0000:01:00.0");
}

TEST_F(NpuSlicesTest, WithoutTheGateOnlyWholeNpusArePublished) {
  ASSERT_OK_AND_ASSIGN(Inventory inv, Enumerate(testing::kAscendNode, /*partitions=*/true));
  ASSERT_OK_AND_ASSIGN(DesiredPool pool,
                       BuildPool(kDriver, "sim-atlas-01", inv, SliceBuildOptions{}));
  // The unhealthy chip (physical id 6) is left out without taints, and
  // vNPUs need counters.
  EXPECT_EQ(Devices(pool), 7u);
  ASSERT_FALSE(pool.skipped.empty());
  EXPECT_THAT(pool.skipped[0].reason, HasSubstr("DRAPartitionableDevices"));
}

TEST_F(NpuSlicesTest, GaudiAndAccelPoolsAreValid) {
  ASSERT_OK_AND_ASSIGN(Inventory gaudi, Enumerate(testing::kGaudiNode, false));
  ASSERT_OK_AND_ASSIGN(DesiredPool g, BuildPool(kDriver, "sim-hls2-01", gaudi,
                                                SliceBuildOptions{.device_taints = true}));
  EXPECT_EQ(Devices(g), 8u);
  EXPECT_THAT(g.skipped, IsEmpty());
  ASSERT_OK_AND_ASSIGN(Inventory accel, Enumerate(testing::kAccelNode, false));
  ASSERT_OK_AND_ASSIGN(DesiredPool a,
                       BuildPool(kDriver, "sim-laptop-01", accel, SliceBuildOptions{}));
  EXPECT_EQ(Devices(a), 1u);
}

TEST_F(NpuSlicesTest, ANodeWithoutNpusStillPublishesAnEmptyPool) {
  ASSERT_OK_AND_ASSIGN(Inventory inv, Enumerate(testing::kGpuNode, true));
  EXPECT_TRUE(inv.devices.empty());
  ASSERT_OK_AND_ASSIGN(DesiredPool pool,
                       BuildPool(kDriver, "sim-hgx-01", inv, SliceBuildOptions{}));
  ASSERT_EQ(pool.slices.size(), 1u);  // "no devices" is not "no pool"
  EXPECT_EQ(Devices(pool), 0u);
}

}  // namespace
}  // namespace tessera::drivers::npu
