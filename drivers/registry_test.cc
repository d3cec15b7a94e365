#include "drivers/registry.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "drivers/npu/testing/npu_test_env.h"
#include "test/matchers/status_matchers.h"

namespace tessera::drivers {
namespace {

using npu::testing::SimNode;
using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;

class RegistryTest : public ::testing::Test {
 protected:
  DriverDeps Deps(const SimNode& node, npu::AbsentPolicy policy) {
    DriverDeps deps;
    deps.domain = "example.com";
    deps.families = {"npu"};
    deps.load_topology = node.Loader();
    deps.sysfs = &node.sysfs();
    deps.fs = &fs_;
    deps.runner = &runner_;
    deps.metrics = &registry_;
    deps.npu.simulated = true;
    deps.npu_when_absent = policy;
    return deps;
  }
  base::RealFilesystem fs_;
  base::ProcessCommandRunner runner_;
  base::metrics::Registry registry_;
};

TEST_F(RegistryTest, IdleRunsTheNpuDriverOnANodeWithoutNpus) {
  SimNode gpu_node(npu::testing::kGpuNode);
  ASSERT_OK_AND_ASSIGN(auto drivers, MakeDrivers(Deps(gpu_node, npu::AbsentPolicy::kIdle)));
  ASSERT_EQ(drivers.size(), 1u);
  EXPECT_EQ(drivers[0]->family(), "npu");
  ASSERT_OK_AND_ASSIGN(Inventory inv, drivers[0]->Enumerate());
  EXPECT_TRUE(inv.devices.empty());
}

TEST_F(RegistryTest, SkipLeavesTheNpuDriverOutOnlyWhereThereIsNoNpu) {
  SimNode gpu_node(npu::testing::kGpuNode);
  ASSERT_OK_AND_ASSIGN(auto none, MakeDrivers(Deps(gpu_node, npu::AbsentPolicy::kSkip)));
  EXPECT_TRUE(none.empty());
  SimNode accel_node(npu::testing::kAccelNode);
  ASSERT_OK_AND_ASSIGN(auto some, MakeDrivers(Deps(accel_node, npu::AbsentPolicy::kSkip)));
  ASSERT_EQ(some.size(), 1u);
  ASSERT_OK_AND_ASSIGN(Inventory inv, some[0]->Enumerate());
  EXPECT_EQ(inv.devices.size(), 1u);
}

TEST_F(RegistryTest, TheDomainReachesTheAlignmentAttribute) {
  SimNode node(npu::testing::kAscendNode);
  ASSERT_OK_AND_ASSIGN(auto drivers, MakeDrivers(Deps(node, npu::AbsentPolicy::kIdle)));
  ASSERT_OK_AND_ASSIGN(Inventory inv, drivers[0]->Enumerate());
  ASSERT_FALSE(inv.devices.empty());
  EXPECT_TRUE(inv.devices[0].attributes.contains("example.com/pcieSwitch"));
}

TEST_F(RegistryTest, RejectsUnknownAndRepeatedFamiliesAndMissingSeams) {
  SimNode node(npu::testing::kGpuNode);
  DriverDeps deps = Deps(node, npu::AbsentPolicy::kIdle);
  deps.families = {"npu", "fpga"};
  EXPECT_THAT(MakeDrivers(deps),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown family \"fpga\"")));
  deps.families = {"npu", "npu"};
  EXPECT_THAT(MakeDrivers(deps), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
  deps.families = {"npu"};
  deps.fs = nullptr;
  EXPECT_THAT(MakeDrivers(deps), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(KnownFamilies(), ::testing::Contains("npu"));
}

TEST_F(RegistryTest, SkipNeedsTheModelAndReportsItsFailure) {
  SimNode node(npu::testing::kGpuNode);
  DriverDeps deps = Deps(node, npu::AbsentPolicy::kSkip);
  deps.load_topology = []() -> absl::StatusOr<topology::NodeTopology> {
    return absl::NotFoundError("no such capture");
  };
  EXPECT_THAT(MakeDrivers(deps),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("make npu driver: load node model")));
}

}  // namespace
}  // namespace tessera::drivers
