#include "topology/classify.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::topology {
namespace {

struct OsSpec {
  std::string name;
  OsDeviceType type;
  std::string subsystem;
};

PciDevice MakeDevice(uint16_t vendor, uint16_t device, uint32_t class_code, std::string driver = "",
                     std::vector<OsSpec> os = {}) {
  PciDevice d;
  d.vendor_id = vendor;
  d.device_id = device;
  d.class_code = class_code;
  d.driver = std::move(driver);
  for (OsSpec& o : os) {
    OsDevice od;
    od.name = o.name;
    od.type = o.type;
    if (!o.subsystem.empty()) od.info["Subsystem"] = o.subsystem;
    d.os_devices.push_back(od);
  }
  return d;
}

struct ClassifyCase {
  std::string_view what;
  PciDevice device;
  DeviceKind want;
};

TEST(ClassifyTest, DecidesByVendorClassDriverAndOsDevices) {
  const OsSpec mlx4{"mlx4_0", OsDeviceType::kOpenFabrics, "infiniband"};
  const ClassifyCase cases[] = {
      // Class codes that mislead on their own (shared captures' README).
      {"ConnectX-3 is class 0x0280", MakeDevice(0x15b3, 0x1003, 0x028000), DeviceKind::kRdma},
      {"ConnectX-3 with its RDMA device", MakeDevice(0x15b3, 0x1003, 0x028000, "mlx4_core", {mlx4}),
       DeviceKind::kRdma},
      {"QLogic InfiniBand is class 0x0c06", MakeDevice(0x1077, 0x7322, 0x0c0600),
       DeviceKind::kRdma},
      {"AMD MI50 is class 0x0380", MakeDevice(0x1002, 0x66a1, 0x038000), DeviceKind::kGpu},
      {"AMD MI300A is class 0x1200", MakeDevice(0x1002, 0x74a0, 0x120000), DeviceKind::kGpu},
      {"ASPEED BMC VGA is class 0x0300", MakeDevice(0x1a03, 0x2000, 0x030000), DeviceKind::kOther},
      {"ASPEED with its DRM card is still no GPU",
       MakeDevice(0x1a03, 0x2000, 0x030000, "ast", {{"card0", OsDeviceType::kGpu, "drm"}}),
       DeviceKind::kOther},
      {"Matrox G200eR on a Dell iDRAC", MakeDevice(0x102b, 0x0534, 0x030000, "mgag200"),
       DeviceKind::kOther},
      // GPUs.
      {"NVIDIA H100 SXM", MakeDevice(0x10de, 0x2330, 0x030200, "nvidia"), DeviceKind::kGpu},
      {"NVIDIA GPU bound to vfio-pci", MakeDevice(0x10de, 0x20b0, 0x030200, "vfio-pci"),
       DeviceKind::kGpu},
      {"NVIDIA HDMI audio function", MakeDevice(0x10de, 0x22bb, 0x040300), DeviceKind::kOther},
      {"NVIDIA NVSwitch (bridge class)", MakeDevice(0x10de, 0x22a3, 0x068000), DeviceKind::kOther},
      {"Intel Data Center GPU Max", MakeDevice(0x8086, 0x0bd5, 0x038000, "i915"), DeviceKind::kGpu},
      {"unknown vendor VGA with a render node",
       MakeDevice(0x1af4, 0x1050, 0x030000, "virtio-pci",
                  {{"renderD128", OsDeviceType::kGpu, "drm"}}),
       DeviceKind::kGpu},
      {"unknown vendor VGA without a render node", MakeDevice(0x1234, 0x1111, 0x030000),
       DeviceKind::kOther},
      {"a GPU seen only through hwloc's RSMI device",
       MakeDevice(0x1d94, 0x0001, 0x038000, "", {{"rsmi0", OsDeviceType::kGpu, ""}}),
       DeviceKind::kGpu},
      // NPUs.
      {"Habana Gaudi2", MakeDevice(0x1da3, 0x1020, 0x120000, "habanalabs"), DeviceKind::kNpu},
      {"Huawei Ascend 910B", MakeDevice(0x19e5, 0xd802, 0x120000), DeviceKind::kNpu},
      {"Huawei iBMC VGA is no NPU", MakeDevice(0x19e5, 0x1711, 0x030000), DeviceKind::kOther},
      {"Xeon Phi coprocessor (class 0x0b40)", MakeDevice(0x8086, 0x225c, 0x0b4000, "mic"),
       DeviceKind::kNpu},
      {"Intel NPU is Intel but no GPU", MakeDevice(0x8086, 0x7d1d, 0x120000, "intel_vpu"),
       DeviceKind::kNpu},
      {"any device with an accel node",
       MakeDevice(0x1234, 0x5678, 0x0b4000, "", {{"accel0", OsDeviceType::kCoprocessor, "accel"}}),
       DeviceKind::kNpu},
      {"Qualcomm Cloud AI 100", MakeDevice(0x17cb, 0xa100, 0x120000, "qaic"), DeviceKind::kNpu},
      {"unknown processing accelerator", MakeDevice(0x1e3e, 0x0001, 0x120000), DeviceKind::kNpu},
      // RDMA and plain NICs.
      {"ConnectX-7 in InfiniBand mode", MakeDevice(0x15b3, 0x1021, 0x020700, "mlx5_core"),
       DeviceKind::kRdma},
      {"ConnectX-6 Dx Ethernet (RoCE)", MakeDevice(0x15b3, 0x101d, 0x020000, "mlx5_core"),
       DeviceKind::kRdma},
      {"BlueField-3 network function", MakeDevice(0x15b3, 0xa2dc, 0x020000), DeviceKind::kRdma},
      {"BlueField management function is no NIC", MakeDevice(0x15b3, 0xc2d5, 0x058000),
       DeviceKind::kOther},
      {"Intel E810 without irdma", MakeDevice(0x8086, 0x1593, 0x020000, "ice"), DeviceKind::kNic},
      {"Intel E810 with an irdma device",
       MakeDevice(0x8086, 0x1593, 0x020000, "ice",
                  {{"irdma0", OsDeviceType::kOpenFabrics, "infiniband"}}),
       DeviceKind::kRdma},
      {"Intel E810 with only a uverbs node",
       MakeDevice(0x8086, 0x1593, 0x020000, "ice",
                  {{"uverbs0", OsDeviceType::kOther, "infiniband_verbs"}}),
       DeviceKind::kRdma},
      {"Broadcom BCM57414 RoCE", MakeDevice(0x14e4, 0x16d7, 0x020000, "bnxt_en"),
       DeviceKind::kRdma},
      {"Broadcom BCM5720 LOM", MakeDevice(0x14e4, 0x165f, 0x020000, "tg3"), DeviceKind::kNic},
      {"AWS EFA", MakeDevice(0x1d0f, 0xefa1, 0x020000, "efa"), DeviceKind::kRdma},
      {"AWS ENA", MakeDevice(0x1d0f, 0xec20, 0x020000, "ena"), DeviceKind::kNic},
      {"Intel Omni-Path HFI", MakeDevice(0x8086, 0x24f0, 0x020800, "hfi1"), DeviceKind::kRdma},
      {"InfiniBand class from an unknown vendor", MakeDevice(0x1234, 0x0001, 0x020700),
       DeviceKind::kRdma},
      {"Intel I350", MakeDevice(0x8086, 0x1521, 0x020000, "igb"), DeviceKind::kNic},
      {"virtio-net", MakeDevice(0x1af4, 0x1041, 0x020000, "virtio-pci"), DeviceKind::kNic},
      {"a netdev on a non-network class",
       MakeDevice(0x1234, 0x0002, 0x088000, "", {{"eth9", OsDeviceType::kNetwork, "net"}}),
       DeviceKind::kNic},
      {"Emulex FC HBA (class 0x0c04)", MakeDevice(0x10df, 0xf100, 0x0c0400, "lpfc"),
       DeviceKind::kOther},
      // Others.
      {"NVMe SSD", MakeDevice(0x144d, 0xa824, 0x010802, "nvme"), DeviceKind::kOther},
      {"host bridge", MakeDevice(0x8086, 0x09a2, 0x060000), DeviceKind::kOther},
  };
  for (const ClassifyCase& c : cases) {
    Classification got = Classify(c.device);
    EXPECT_EQ(got.kind, c.want) << c.what << " (reason: " << got.reason << ")";
    EXPECT_FALSE(got.reason.empty()) << c.what;
  }
}

}  // namespace
}  // namespace tessera::topology
