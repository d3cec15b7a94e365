#include "drivers/registry.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "drivers/npu/testing/npu_test_env.h"
#include "drivers/nvidia/testing/fake_nvml_env.h"
#include "test/fakes/base/fake_clock.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"
#include "topology/loader.h"

namespace tessera::drivers {
namespace {

using ::tessera::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The bundled simulated node: 8 H100 and 8 ConnectX-7, no NPU.
class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<topology::NodeTopology> topo =
        topology::LoadTopology(topology::TopologySource::SysfsRoot(root_));
    ASSERT_OK(topo);
    topo_ = std::make_shared<const topology::NodeTopology>(std::move(*topo));
  }
  DriverDeps Deps() {
    DriverDeps d;
    d.domain = "example.com";
    d.topology = topo_;
    d.sysfs = &sysfs_;
    d.fs = &fs_;
    d.clock = &clock_;
    d.runner = &runner_;
    d.metrics = &metrics_;
    d.gpu.simulated = true;
    d.gpu.state_dir = state_.Sub("gpu");
    d.nvml_library = "";
    d.rdma.options.simulated = true;
    d.rdma.options.state_dir = state_.Sub("rdma");
    d.npu.simulated = true;
    return d;
  }
  const std::string root_ = std::string(TESSERA_SOURCE_DIR) + "/test/testdata/nodes/sim-8xh100-8xcx7";
  std::shared_ptr<const topology::NodeTopology> topo_;
  base::DirSysfs sysfs_{root_ + "/sys"};
  base::ProcessCommandRunner runner_;
  base::RealFilesystem fs_;
  base::metrics::Registry metrics_;
  tessera::testing::FakeClock clock_;
  tessera::testing::TempDir state_;
};

TEST_F(RegistryTest, BuildsEveryFamilyInOrderWithTheDomain) {
  DriverDeps deps = Deps();
  deps.families = {"rdma", "gpu", "npu"};
  ASSERT_OK_AND_ASSIGN(DriverSet set, MakeDrivers(deps));
  ASSERT_EQ(set.drivers.size(), 3u);
  EXPECT_EQ(set.drivers[0]->family(), "rdma");
  EXPECT_EQ(set.drivers[1]->family(), "gpu");
  EXPECT_EQ(set.drivers[2]->family(), "npu");
  ASSERT_OK_AND_ASSIGN(Inventory rdma, set.drivers[0]->Enumerate());
  ASSERT_EQ(rdma.devices.size(), 8u);
  ASSERT_OK_AND_ASSIGN(Inventory gpus, set.drivers[1]->Enumerate());
  ASSERT_EQ(gpus.devices.size(), 8u);
  // The domain reaches every driver's alignment attribute, with one value
  // for a GPU and the NIC under its switch.
  EXPECT_TRUE(rdma.devices[0].attributes.contains("example.com/pcieSwitch"));
  EXPECT_TRUE(gpus.devices[0].attributes.contains("example.com/pcieSwitch"));
  ASSERT_OK_AND_ASSIGN(Inventory npus, set.drivers[2]->Enumerate());
  EXPECT_TRUE(npus.devices.empty());  // idle on a node without NPUs
  EXPECT_THAT(KnownFamilies(), ElementsAre("gpu", "npu", "rdma"));
}

TEST_F(RegistryTest, BuildsTheGpuDriverWithTheNvmlItLoaded) {
  nvidia::testing::ScopedFakeNvmlEnv env(std::string(TESSERA_SOURCE_DIR) +
                                         "/test/testdata/gpu/nvml-sim-8xh100.json");
  DriverDeps deps = Deps();
  deps.families = {"gpu"};
  deps.nvml_library = nvidia::testing::FakeNvmlLibrary();
  ASSERT_OK_AND_ASSIGN(DriverSet set, MakeDrivers(deps));
  ASSERT_EQ(set.drivers.size(), 1u);
  EXPECT_NE(set.nvml, nullptr);
  EXPECT_EQ(set.nvml_error, "");
  ASSERT_OK_AND_ASSIGN(Inventory inv, set.drivers[0]->Enumerate());
  // With NVML the MIG GPUs show their instances: 6 whole GPUs + 2 instances.
  EXPECT_EQ(inv.devices.size(), 8u);
}

TEST_F(RegistryTest, AMissingNvmlIsADegradedDriverNotAnError) {
  DriverDeps deps = Deps();
  deps.families = {"gpu"};
  deps.gpu.simulated = false;
  deps.nvml_library = state_.Sub("libnvidia-ml.so.1");
  ASSERT_OK_AND_ASSIGN(DriverSet set, MakeDrivers(deps));
  EXPECT_EQ(set.nvml, nullptr);
  EXPECT_THAT(set.nvml_error, HasSubstr("libnvidia-ml.so.1"));
  ASSERT_OK_AND_ASSIGN(Inventory inv, set.drivers[0]->Enumerate());
  ASSERT_EQ(inv.devices.size(), 8u);
  EXPECT_EQ(inv.devices[0].health, Health::kUnhealthy);
}

TEST_F(RegistryTest, SimulatedDriversListTheirDeviceNodes) {
  DriverDeps deps = Deps();
  deps.families = {"gpu", "rdma"};
  ASSERT_OK_AND_ASSIGN(DriverSet set, MakeDrivers(deps));
  EXPECT_THAT(set.drivers[0]->DeviceNodePaths(), ::testing::Contains("nvidiactl"));
  std::vector<std::string> rdma = set.drivers[1]->DeviceNodePaths();
  EXPECT_THAT(rdma, ::testing::Contains("infiniband/rdma_cm"));
  EXPECT_THAT(rdma, ::testing::Contains(::testing::StartsWith("infiniband/uverbs")));
}

TEST_F(RegistryTest, RefusesUnknownRepeatedFamiliesAndMissingSeams) {
  DriverDeps deps = Deps();
  deps.families = {"gpu", "gpu"};
  EXPECT_THAT(MakeDrivers(deps), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
  deps.families = {"npu", "fpga"};
  EXPECT_THAT(MakeDrivers(deps),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown family \"fpga\" (known: gpu, npu, rdma)")));
  deps.families = {"rdma"};
  deps.domain = "";
  EXPECT_THAT(MakeDrivers(deps),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("make drivers: rdma")));
  deps = Deps();
  deps.clock = nullptr;
  EXPECT_THAT(MakeDrivers(deps), StatusIs(absl::StatusCode::kInvalidArgument));
}

// --npu-when-absent, on the NPU test nodes.
class NpuRegistryTest : public ::testing::Test {
 protected:
  DriverDeps Deps(const npu::testing::SimNode& node, npu::AbsentPolicy policy) {
    DriverDeps deps;
    deps.domain = "example.com";
    deps.families = {"npu"};
    deps.load_topology = node.Loader();
    absl::StatusOr<topology::NodeTopology> t = node.Loader()();
    if (t.ok()) deps.topology = std::make_shared<const topology::NodeTopology>(*std::move(t));
    deps.sysfs = &node.sysfs();
    deps.fs = &fs_;
    deps.clock = &clock_;
    deps.runner = &runner_;
    deps.metrics = &registry_;
    deps.npu.simulated = true;
    deps.npu_when_absent = policy;
    return deps;
  }
  base::RealFilesystem fs_;
  base::ProcessCommandRunner runner_;
  base::metrics::Registry registry_;
  tessera::testing::FakeClock clock_;
};

TEST_F(NpuRegistryTest, SkipLeavesTheNpuDriverOutOnlyWhereThereIsNoNpu) {
  npu::testing::SimNode gpu_node(npu::testing::kGpuNode);
  ASSERT_OK_AND_ASSIGN(DriverSet none, MakeDrivers(Deps(gpu_node, npu::AbsentPolicy::kSkip)));
  EXPECT_TRUE(none.drivers.empty());
  npu::testing::SimNode accel_node(npu::testing::kAccelNode);
  ASSERT_OK_AND_ASSIGN(DriverSet some, MakeDrivers(Deps(accel_node, npu::AbsentPolicy::kSkip)));
  ASSERT_EQ(some.drivers.size(), 1u);
  ASSERT_OK_AND_ASSIGN(Inventory inv, some.drivers[0]->Enumerate());
  EXPECT_EQ(inv.devices.size(), 1u);
}

TEST_F(NpuRegistryTest, AscendNodeListsSharedDeviceNodesAfterAScan) {
  npu::testing::SimNode node(npu::testing::kAscendNode);
  ASSERT_OK_AND_ASSIGN(DriverSet set, MakeDrivers(Deps(node, npu::AbsentPolicy::kIdle)));
  ASSERT_OK(set.drivers[0]->Enumerate());
  std::vector<std::string> nodes = set.drivers[0]->DeviceNodePaths();
  EXPECT_THAT(nodes, ::testing::Contains("davinci_manager"));
  EXPECT_THAT(nodes, ::testing::Contains("davinci0"));
}

TEST_F(NpuRegistryTest, SkipNeedsTheModelAndReportsItsFailure) {
  npu::testing::SimNode node(npu::testing::kGpuNode);
  DriverDeps deps = Deps(node, npu::AbsentPolicy::kSkip);
  deps.load_topology = []() -> absl::StatusOr<topology::NodeTopology> {
    return absl::NotFoundError("no such capture");
  };
  EXPECT_THAT(MakeDrivers(deps), StatusIs(absl::StatusCode::kNotFound,
                                          HasSubstr("make drivers: npu: load node model")));
}

}  // namespace
}  // namespace tessera::drivers
