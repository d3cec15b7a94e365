#include "drivers/registry.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "test/fakes/base/fake_clock.h"
#include "test/fakes/topology/sysfs_tree.h"
#include "test/matchers/status_matchers.h"
#include "topology/loader.h"

namespace tessera::drivers {
namespace {

using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = topology::LoadTopology(
        topology::TopologySource::SysfsRoot(tessera::testing::BundledNodeDir()));
    ASSERT_TRUE(t.ok()) << t.status();
    deps_.topology = std::make_shared<const topology::NodeTopology>(*std::move(t));
    deps_.sysfs = &sysfs_;
    deps_.fs = &fs_;
    deps_.clock = &clock_;
  }
  base::DirSysfs sysfs_{tessera::testing::BundledNodeDir() + "/sys"};
  base::RealFilesystem fs_;
  tessera::testing::FakeClock clock_;
  DriverDeps deps_;
};

TEST_F(RegistryTest, BuildsTheRdmaDriverForFamilyRdma) {
  deps_.families = {"rdma"};
  deps_.rdma = RdmaFamilyDeps{.options = {.simulated = true}};
  ASSERT_OK_AND_ASSIGN(auto drivers, MakeDrivers(deps_));
  ASSERT_EQ(drivers.size(), 1u);
  EXPECT_EQ(drivers[0]->family(), "rdma");
  ASSERT_OK_AND_ASSIGN(Inventory inv, drivers[0]->Enumerate());
  EXPECT_EQ(inv.devices.size(), 8u);
}

TEST_F(RegistryTest, RefusesWhatItCannotBuild) {
  deps_.families = {"rdma"};
  EXPECT_THAT(MakeDrivers(deps_), StatusIs(absl::StatusCode::kFailedPrecondition));
  deps_.rdma = RdmaFamilyDeps{};
  deps_.families = {"rdma", "rdma"};
  EXPECT_THAT(MakeDrivers(deps_), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
  deps_.families = {"fpga"};
  EXPECT_THAT(MakeDrivers(deps_), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("fpga")));
  deps_.families = {"rdma"};
  deps_.rdma->options.domain = "";
  EXPECT_THAT(MakeDrivers(deps_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("make drivers: rdma")));
  deps_.clock = nullptr;
  EXPECT_THAT(MakeDrivers(deps_), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace tessera::drivers
