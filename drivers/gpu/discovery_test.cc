#include "drivers/gpu/discovery.h"

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "base/sysfs.h"
#include "test/fakes/base/temp_dir.h"

namespace tessera::drivers::gpu {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;
using topology::DeviceKind;
using topology::LinkType;
using topology::OsDevice;
using topology::OsDeviceType;
using topology::PciDevice;

base::PciAddress Bdf(uint8_t bus, uint8_t function = 0) {
  return {.domain = 0, .bus = bus, .device = 0, .function = function};
}

OsDevice Os(std::string name, OsDeviceType type, std::map<std::string, std::string> info = {}) {
  return {.name = std::move(name), .type = type, .info = std::move(info)};
}

// Two root complexes on two NUMA nodes: an AMD GPU, an NVIDIA GPU and an
// RDMA NIC (with a VF) on the first; an Intel GPU and a second NIC on the
// second.
topology::NodeTopology TwoSocketNode() {
  topology::NodeTopology t;
  t.roots = {{.name = "pci0000:00", .domain = 0, .first_bus = 0, .last_bus = 0x7f},
             {.name = "pci0000:80", .domain = 0, .first_bus = 0x80, .last_bus = 0xff}};
  auto dev = [](base::PciAddress a, uint16_t vendor, uint16_t device, DeviceKind kind, int root,
                int numa) {
    PciDevice d;
    d.address = a;
    d.vendor_id = vendor;
    d.device_id = device;
    d.kind = kind;
    d.root = root;
    d.numa_node = numa;
    return d;
  };
  PciDevice amd = dev(Bdf(0x03), 0x1002, 0x7400, DeviceKind::kGpu, 0, 0);
  amd.os_devices = {Os("card0", OsDeviceType::kGpu, {{"Dev", "226:0"}}),
                    Os("renderD128", OsDeviceType::kGpu, {{"Dev", "226:128"}})};
  PciDevice vf = dev(Bdf(0x03, 4), 0x15b3, 0x101e, DeviceKind::kRdma, 0, 0);
  vf.physfn = Bdf(0x04);
  vf.os_devices = {Os("mlx5_9", OsDeviceType::kOpenFabrics)};
  PciDevice nic0 = dev(Bdf(0x04), 0x15b3, 0x1021, DeviceKind::kRdma, 0, 0);
  nic0.os_devices = {Os("ib0", OsDeviceType::kNetwork), Os("mlx5_0", OsDeviceType::kOpenFabrics)};
  PciDevice nvidia = dev(Bdf(0x05), 0x10de, 0x20b0, DeviceKind::kGpu, 0, 0);
  nvidia.device_name = "GA100 [A100 SXM4 40GB]";
  nvidia.os_devices = {Os("nvidia3", OsDeviceType::kGpu,
                          {{"DeviceMinor", "3"},
                           {"GPUModel", "NVIDIA A100-SXM4-40GB"},
                           {"NVIDIAUUID", "GPU-0b5b1c2d-0000-1111-2222-333344445555"}})};
  PciDevice nic1 = dev(Bdf(0x81), 0x15b3, 0x1021, DeviceKind::kRdma, 1, 1);
  nic1.os_devices = {Os("mlx5_1", OsDeviceType::kOpenFabrics)};
  PciDevice intel = dev(Bdf(0x82), 0x8086, 0x56a0, DeviceKind::kGpu, 1, 1);
  intel.os_devices = {Os("card1", OsDeviceType::kGpu, {{"Dev", "226:1"}}),
                      Os("renderD129", OsDeviceType::kGpu, {{"Dev", "226:129"}})};
  t.devices = {amd, vf, nic0, nvidia, nic1, intel};
  return t;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

class DiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string amd = root_.Sub("bus/pci/devices/0000:03:00.0/");
    WriteFile(amd + "product_name", "AMD Instinct MI210\n");
    WriteFile(amd + "mem_info_vram_total", "68702699520\n");
    // KFD: node 0 is the CPU, node 1 the GPU at bus 3 (location_id 3 << 8).
    WriteFile(root_.Sub("class/kfd/kfd/topology/nodes/0/properties"),
              "cpu_cores_count 64\nsimd_count 0\ngfx_target_version 0\nlocation_id 0\n");
    WriteFile(root_.Sub("class/kfd/kfd/topology/nodes/1/properties"),
              "cpu_cores_count 0\nsimd_count 416\ngfx_target_version 90010\nlocation_id 768\n"
              "domain 0\nunique_id 6069212873487818593\n");
    WriteFile(root_.Sub("class/drm/card1/lmem_total_bytes"), "17179869184\n");
  }

  Discovery Discover(bool simulated) {
    return DiscoverGpus(topo_, sysfs_, nullptr, "libnvidia-ml.so.1: cannot open shared object file",
                        {.simulated = simulated});
  }

  const GpuRecord& Gpu(const Discovery& d, uint8_t bus) {
    for (const GpuRecord& g : d.gpus) {
      if (g.address.bus == bus) return g;
    }
    ADD_FAILURE() << "no GPU on bus " << int{bus};
    return d.gpus.front();
  }

  tessera::testing::TempDir root_;
  base::DirSysfs sysfs_{root_.path()};
  topology::NodeTopology topo_ = TwoSocketNode();
};

TEST_F(DiscoveryTest, FindsEveryGpuInPciOrderWithItsVendor) {
  Discovery d = Discover(/*simulated=*/false);
  ASSERT_EQ(d.gpus.size(), 3u);
  EXPECT_EQ(d.gpus[0].vendor, Vendor::kAmd);
  EXPECT_EQ(d.gpus[1].vendor, Vendor::kNvidia);
  EXPECT_EQ(d.gpus[2].vendor, Vendor::kIntel);
}

TEST_F(DiscoveryTest, AmdIdentityComesFromAmdgpuSysfsAndKfd) {
  Discovery d = Discover(false);
  const GpuRecord& g = Gpu(d, 0x03);
  EXPECT_EQ(g.product_name, "AMD Instinct MI210");
  EXPECT_EQ(g.memory_bytes, std::optional<uint64_t>(68702699520));
  EXPECT_EQ(g.architecture, "gfx90a");    // KFD's 90010
  EXPECT_EQ(g.uuid, "543a2cf3ce781f61");  // KFD's unique_id, in hex
  EXPECT_EQ(g.identity_source, "sysfs");
  EXPECT_THAT(g.drm_nodes, ElementsAre(DrmNode{"card0", 226, 0}, DrmNode{"renderD128", 226, 128}));
  EXPECT_TRUE(g.preparable);
  EXPECT_FALSE(g.mps_capable());
}

TEST_F(DiscoveryTest, IntelMemoryComesFromLmemTotalBytesAndTheModelFromPciIds) {
  Discovery d = Discover(false);
  const GpuRecord& g = Gpu(d, 0x82);
  EXPECT_EQ(g.memory_bytes, std::optional<uint64_t>(uint64_t{16} << 30));
  EXPECT_EQ(g.product_name, "Intel Arc A770");
  EXPECT_EQ(g.architecture, "Xe-HPG");
  EXPECT_TRUE(g.preparable);
}

TEST_F(DiscoveryTest, XeTileMemoryIsSummedWhenThereIsNoLmemFile) {
  std::filesystem::remove(root_.Sub("class/drm/card1/lmem_total_bytes"));
  WriteFile(root_.Sub("bus/pci/devices/0000:82:00.0/tile0/physical_vram_size_bytes"), "8589934592");
  WriteFile(root_.Sub("bus/pci/devices/0000:82:00.0/tile1/physical_vram_size_bytes"), "8589934592");
  Discovery d = Discover(false);
  EXPECT_EQ(Gpu(d, 0x82).memory_bytes, std::optional<uint64_t>(uint64_t{16} << 30));
}

TEST_F(DiscoveryTest, NvidiaWithoutNvmlOnALiveHostIsListedButNotPreparable) {
  Discovery d = Discover(/*simulated=*/false);
  const GpuRecord& g = Gpu(d, 0x05);
  EXPECT_FALSE(g.preparable);
  EXPECT_EQ(g.health, Health::kUnhealthy);
  EXPECT_THAT(g.health_message, HasSubstr("NVML unavailable: libnvidia-ml.so.1: cannot open"));
  // Identity still comes from what the kernel driver published.
  EXPECT_EQ(g.product_name, "NVIDIA A100-SXM4-40GB");
  EXPECT_EQ(g.uuid, "GPU-0b5b1c2d-0000-1111-2222-333344445555");
  EXPECT_EQ(g.nvidia_minor, std::optional<uint32_t>(3));
}

TEST_F(DiscoveryTest, NvidiaOnASimulatedNodeIsPreparableWithPciIdFacts) {
  Discovery d = Discover(/*simulated=*/true);
  const GpuRecord& g = Gpu(d, 0x05);
  EXPECT_TRUE(g.preparable);
  EXPECT_EQ(g.health, Health::kHealthy);
  EXPECT_EQ(g.memory_bytes, std::optional<uint64_t>(uint64_t{40960} << 20));
  EXPECT_EQ(g.compute_capability, (std::optional<nvidia::ComputeCapability>({8, 0})));
  EXPECT_EQ(g.architecture, "Ampere");
  EXPECT_EQ(g.model, "A100-SXM4-40GB");
  EXPECT_TRUE(g.mps_capable());
}

TEST_F(DiscoveryTest, NearestRdmaIsTheClosestPhysicalFunction) {
  Discovery d = Discover(false);
  // The VF at 0000:03:00.4 sorts first but is not a NIC of its own.
  EXPECT_THAT(
      Gpu(d, 0x03).nearest_rdma,
      Optional(NearestRdma{.address = Bdf(0x04), .rdma_device = "mlx5_0", .link = LinkType::kPhb}));
  EXPECT_THAT(
      Gpu(d, 0x82).nearest_rdma,
      Optional(NearestRdma{.address = Bdf(0x81), .rdma_device = "mlx5_1", .link = LinkType::kPhb}));
  EXPECT_EQ(Gpu(d, 0x82).pcie_root, "pci0000:80");
  EXPECT_EQ(Gpu(d, 0x82).numa_node, std::optional<int>(1));
}

TEST_F(DiscoveryTest, SimulatedCapturesWithoutDrmNodesGetNumberedOnes) {
  for (PciDevice& dev : topo_.devices) {
    if (dev.kind == DeviceKind::kGpu && dev.vendor_id != 0x10de) dev.os_devices.clear();
  }
  Discovery live = Discover(false);
  EXPECT_TRUE(Gpu(live, 0x03).drm_nodes.empty());
  Discovery sim = Discover(true);
  EXPECT_THAT(Gpu(sim, 0x03).drm_nodes,
              ElementsAre(DrmNode{"card0", 226, 0}, DrmNode{"renderD128", 226, 128}));
  EXPECT_THAT(Gpu(sim, 0x82).drm_nodes,
              ElementsAre(DrmNode{"card1", 226, 1}, DrmNode{"renderD129", 226, 129}));
}

TEST_F(DiscoveryTest, AnUnknownVendorIsNotPreparable) {
  topo_.devices[0].vendor_id = 0x1d17;
  Discovery d = Discover(true);
  const GpuRecord& g = Gpu(d, 0x03);
  EXPECT_EQ(g.vendor, Vendor::kOther);
  EXPECT_FALSE(g.preparable);
  EXPECT_THAT(g.health_message, HasSubstr("unsupported GPU vendor 1d17"));
}

TEST(NormalizeVersionTest, MakesVendorVersionsSemantic) {
  EXPECT_EQ(NormalizeVersion("550.54.15"), "550.54.15");
  EXPECT_EQ(NormalizeVersion("535.104.05"), "535.104.5");
  EXPECT_EQ(NormalizeVersion("470.82"), "470.82.0");
  EXPECT_EQ(NormalizeVersion("12.4"), "12.4.0");
  EXPECT_EQ(NormalizeVersion(" 9.0\n"), "9.0.0");
  EXPECT_EQ(NormalizeVersion("1.2.3.4"), "1.2.3");
  EXPECT_EQ(NormalizeVersion("6.8.0-rc1"), "6.8.0");
  EXPECT_EQ(NormalizeVersion("unknown"), std::nullopt);
  EXPECT_EQ(NormalizeVersion(""), std::nullopt);
}

TEST(GfxTargetNameTest, FollowsLlvmProcessorNames) {
  EXPECT_EQ(GfxTargetName(90006), "gfx906");
  EXPECT_EQ(GfxTargetName(90008), "gfx908");
  EXPECT_EQ(GfxTargetName(90010), "gfx90a");
  EXPECT_EQ(GfxTargetName(90402), "gfx942");
  EXPECT_EQ(GfxTargetName(100300), "gfx1030");
  EXPECT_EQ(GfxTargetName(0), std::nullopt);
  EXPECT_EQ(GfxTargetName(91600), std::nullopt);
}

}  // namespace
}  // namespace tessera::drivers::gpu
