#include "drivers/registry.h"

#include "base/command_runner.h"
#include "base/filesystem.h"
#include "drivers/nvidia/testing/fake_nvml_env.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/fakes/base/fake_clock.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"
#include "topology/loader.h"

namespace tessera::drivers {
namespace {

using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<topology::NodeTopology> topo = topology::LoadTopology(
        topology::TopologySource::SysfsRoot(root_));
    ASSERT_OK(topo);
    topo_ = std::make_shared<const topology::NodeTopology>(std::move(*topo));
  }
  DriverDeps Deps() {
    DriverDeps d{.topology = topo_, .sysfs = sysfs_, .commands = runner_, .fs = fs_, .clock = clock_};
    d.gpu.simulated = true;
    d.gpu.state_dir = state_.path();
    return d;
  }
  const std::string root_ = std::string(TESSERA_SOURCE_DIR) + "/test/testdata/nodes/sim-8xh100-8xcx7";
  std::shared_ptr<const topology::NodeTopology> topo_;
  base::DirSysfs sysfs_{root_ + "/sys"};
  base::ProcessCommandRunner runner_;
  base::RealFilesystem fs_;
  tessera::testing::FakeClock clock_;
  tessera::testing::TempDir state_;
};

TEST_F(RegistryTest, BuildsTheGpuDriverWithTheNvmlItLoaded) {
  nvidia::testing::ScopedFakeNvmlEnv env(std::string(TESSERA_SOURCE_DIR) +
                                         "/test/testdata/gpu/nvml-sim-8xh100.json");
  DriverDeps deps = Deps();
  deps.nvml_library = nvidia::testing::FakeNvmlLibrary();
  absl::StatusOr<DriverSet> set = MakeDrivers(deps);
  ASSERT_OK(set);
  ASSERT_EQ(set->drivers.size(), 1u);
  EXPECT_EQ(set->drivers[0]->family(), "gpu");
  EXPECT_NE(set->nvml, nullptr);
  EXPECT_EQ(set->nvml_error, "");
  absl::StatusOr<Inventory> inv = set->drivers[0]->Enumerate();
  ASSERT_OK(inv);
  // With NVML the MIG GPUs show their instances: 6 whole GPUs + 2 instances.
  EXPECT_EQ(inv->devices.size(), 8u);
}

TEST_F(RegistryTest, AMissingNvmlIsADegradedDriverNotAnError) {
  DriverDeps deps = Deps();
  deps.gpu.simulated = false;
  deps.nvml_library = state_.Sub("libnvidia-ml.so.1");
  absl::StatusOr<DriverSet> set = MakeDrivers(deps);
  ASSERT_OK(set);
  EXPECT_EQ(set->nvml, nullptr);
  EXPECT_THAT(set->nvml_error, HasSubstr("libnvidia-ml.so.1"));
  absl::StatusOr<Inventory> inv = set->drivers[0]->Enumerate();
  ASSERT_OK(inv);
  ASSERT_EQ(inv->devices.size(), 8u);
  EXPECT_EQ(inv->devices[0].health, Health::kUnhealthy);
}

TEST_F(RegistryTest, UnknownOrRepeatedFamiliesAreRefused) {
  DriverDeps deps = Deps();
  deps.nvml_library = "";
  deps.families = {"gpu", "gpu"};
  EXPECT_THAT(MakeDrivers(deps), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
  deps.families = {"fpga"};
  EXPECT_THAT(MakeDrivers(deps),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"fpga\"")));
}

}  // namespace
}  // namespace tessera::drivers
