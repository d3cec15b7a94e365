#include "topology/classify.h"

#include <array>
#include <cstdint>
#include <span>

#include "base/strings.h"

namespace tessera::topology {
namespace {

// A device id of 0 in a table row matches every device of the vendor.
constexpr uint16_t kAnyDevice = 0;

struct DeviceMatch {
  uint16_t vendor;
  uint16_t device;
  std::string_view what;
};

bool Matches(std::span<const DeviceMatch> table, const PciDevice& d, std::string_view* what) {
  for (const DeviceMatch& m : table) {
    if (m.vendor == d.vendor_id && (m.device == kAnyDevice || m.device == d.device_id)) {
      *what = m.what;
      return true;
    }
  }
  return false;
}

uint32_t ClassOf(const PciDevice& d) { return d.class_code >> 8; }       // 0x0302
uint32_t BaseClassOf(const PciDevice& d) { return d.class_code >> 16; }  // 0x03

// Base classes and class codes: PCI Code and ID Assignment Specification
// rev 1.14 (PCI-SIG), section 1.
constexpr uint32_t kBaseNetwork = 0x02;
constexpr uint32_t kBaseDisplay = 0x03;
constexpr uint32_t kClassVga = 0x0300;
constexpr uint32_t kClass3d = 0x0302;
constexpr uint32_t kClassDisplayOther = 0x0380;
constexpr uint32_t kClassNetworkInfiniband = 0x0207;
constexpr uint32_t kClassCoprocessor = 0x0b40;
constexpr uint32_t kClassSerialInfiniband = 0x0c06;
constexpr uint32_t kClassProcessingAccelerator = 0x1200;

// 1. Display functions of baseboard management controllers and server
// chipsets: class 0x0300 but never a GPU. ASPEED AST2x00 (1a03:2000, seen
// behind its AST1150 bridge in every shared capture), Matrox G200e* (HPE
// iLO, Dell iDRAC, Lenovo XCC boards), Huawei iBMC Hi171x VGA (19e5:1711).
constexpr std::array kBmcDisplay = {
    DeviceMatch{0x1a03, kAnyDevice, "ASPEED BMC display"},
    DeviceMatch{0x102b, kAnyDevice, "Matrox server display"},
    DeviceMatch{0x19e5, 0x1711, "Huawei iBMC display"},
};

// 2. AI accelerators that are not GPUs.
constexpr std::array kNpuDevices = {
    // Habana Labs (Intel) Goya/Gaudi/Gaudi2/Gaudi3: every function of the
    // vendor is an accelerator (Linux drivers/accel/habanalabs/common/habanalabs_drv.c).
    DeviceMatch{0x1da3, kAnyDevice, "Habana Gaudi"},
    // Huawei Ascend: d801 is the Ascend 910, d802 the 910B (PaddlePaddle
    // PaddleCustomDevice backends/npu/README.md: "lspci | grep d801/d802");
    // d100 (310), d500 (310P) and d803 (910 A3) as listed by Huawei's npu-smi docs.
    DeviceMatch{0x19e5, 0xd100, "Huawei Ascend 310"},
    DeviceMatch{0x19e5, 0xd500, "Huawei Ascend 310P"},
    DeviceMatch{0x19e5, 0xd801, "Huawei Ascend 910"},
    DeviceMatch{0x19e5, 0xd802, "Huawei Ascend 910B"},
    DeviceMatch{0x19e5, 0xd803, "Huawei Ascend 910 A3"},
    // Intel NPU (Linux drivers/accel/ivpu/ivpu_drv.h: MTL 7d1d, ARL ad1d, LNL 643e).
    DeviceMatch{0x8086, 0x7d1d, "Intel NPU"},
    DeviceMatch{0x8086, 0xad1d, "Intel NPU"},
    DeviceMatch{0x8086, 0x643e, "Intel NPU"},
    // AMD XDNA NPU (Linux drivers/accel/amdxdna/amdxdna_pci_drv.c).
    DeviceMatch{0x1022, 0x1502, "AMD XDNA NPU"},
    DeviceMatch{0x1022, 0x17f0, "AMD XDNA NPU"},
    // Qualcomm Cloud AI 100 (Linux drivers/accel/qaic/qaic_drv.c, PCI_DEV_AIC100).
    DeviceMatch{0x17cb, 0xa100, "Qualcomm Cloud AI 100"},
    // Tenstorrent Grayskull/Wormhole/Blackhole: every function is an accelerator.
    DeviceMatch{0x1e52, kAnyDevice, "Tenstorrent"},
};

// 3. GPU vendors and the classes their GPUs use. NVIDIA compute GPUs are 3D
// controllers (0x0302); AMD Instinct MI50..MI250 are 0x0380 and MI300A/X are
// processing accelerators (0x1200) (shared captures' README; lspci on MI300);
// Intel Data Center GPU Max/Flex are 0x0380 or 0x0300. An Intel 0x1200
// function is its NPU, handled above.
struct GpuVendor {
  uint16_t vendor;
  std::array<uint32_t, 4> classes;  // 0 = unused slot
  std::string_view what;
};
constexpr std::array kGpuVendors = {
    GpuVendor{0x10de, {kClassVga, kClass3d, kClassDisplayOther, 0}, "NVIDIA GPU"},
    GpuVendor{0x1002, {kClassVga, kClass3d, kClassDisplayOther, kClassProcessingAccelerator},
              "AMD GPU"},
    GpuVendor{0x8086, {kClassVga, kClassDisplayOther, 0, 0}, "Intel GPU"},
};

// Kernel drivers that only bind GPUs.
constexpr std::array<std::string_view, 6> kGpuDrivers = {"nvidia", "nouveau", "amdgpu",
                                                          "radeon", "i915",    "xe"};

// 5. Controllers that do InfiniBand or RoCE even when no RDMA device is
// registered (driver not loaded, or an hwloc XML without OpenFabrics OS
// devices). Intel E810/X722 (irdma), Chelsio (iw_cxgb4), Huawei HNS and
// Microsoft MANA are not listed: whether they do RDMA depends on firmware and
// modules, so they count as RDMA only with an RDMA device.
struct NetworkMatch {
  uint16_t vendor;
  uint16_t device;  // kAnyDevice: every network (0x02) or InfiniBand (0x0c06) function
  std::string_view what;
};
constexpr std::array kRdmaControllers = {
    // Mellanox/NVIDIA ConnectX-3 and later, BlueField: every network
    // function is IB- or RoCE-capable (mlx4/mlx5 RDMA drivers bind them all;
    // ConnectX-3 reports class 0x0280, see the shared hwloc capture).
    NetworkMatch{0x15b3, kAnyDevice, "Mellanox/NVIDIA ConnectX/BlueField"},
    // QLogic/PathScale InfiniPath and TrueScale HCAs (qib, ipath).
    NetworkMatch{0x1fc1, kAnyDevice, "QLogic InfiniPath"},
    NetworkMatch{0x1077, 0x7220, "QLogic TrueScale"},
    NetworkMatch{0x1077, 0x7322, "QLogic TrueScale"},
    // Intel Omni-Path HFI (Linux drivers/infiniband/hw/hfi1/hfi.h, 0x24f0/0x24f1),
    // continued by Cornelis Networks.
    NetworkMatch{0x8086, 0x24f0, "Intel/Cornelis Omni-Path HFI"},
    NetworkMatch{0x8086, 0x24f1, "Intel/Cornelis Omni-Path HFI"},
    // AWS Elastic Fabric Adapter (Linux drivers/infiniband/hw/efa, efa_pci_id_tbl.h).
    NetworkMatch{0x1d0f, 0xefa0, "AWS EFA"},
    NetworkMatch{0x1d0f, 0xefa1, "AWS EFA"},
    NetworkMatch{0x1d0f, 0xefa2, "AWS EFA"},
    NetworkMatch{0x1d0f, 0xefa3, "AWS EFA"},
    // Broadcom NetXtreme-C/E with RoCE (bnxt_re): the functions pci.ids names
    // "RDMA", and the P5 (BCM575xx) family.
    NetworkMatch{0x14e4, 0x16d6, "Broadcom NetXtreme-E RoCE"},
    NetworkMatch{0x14e4, 0x16d7, "Broadcom NetXtreme-E RoCE"},
    NetworkMatch{0x14e4, 0x16d8, "Broadcom NetXtreme-E RoCE"},
    NetworkMatch{0x14e4, 0x16d9, "Broadcom NetXtreme-E RoCE"},
    NetworkMatch{0x14e4, 0x16df, "Broadcom NetXtreme-C RoCE"},
    NetworkMatch{0x14e4, 0x16e2, "Broadcom NetXtreme-E RoCE"},
    NetworkMatch{0x14e4, 0x16e3, "Broadcom NetXtreme-E RoCE"},
    NetworkMatch{0x14e4, 0x1605, "Broadcom NetXtreme-E RoCE partition"},
    NetworkMatch{0x14e4, 0x1606, "Broadcom NetXtreme-E RoCE VF"},
    NetworkMatch{0x14e4, 0x16c1, "Broadcom NetXtreme-E RoCE VF"},
    NetworkMatch{0x14e4, 0x1750, "Broadcom BCM57508 RoCE"},
    NetworkMatch{0x14e4, 0x1751, "Broadcom BCM57504 RoCE"},
    NetworkMatch{0x14e4, 0x1752, "Broadcom BCM57502 RoCE"},
    // Alibaba Elastic RDMA (Linux drivers/infiniband/hw/erdma).
    NetworkMatch{0x1ded, 0x107f, "Alibaba eRDMA"},
};

bool HasOsDevice(const PciDevice& d, OsDeviceType type) { return d.FindOsDevice(type) != nullptr; }

bool HasOsDeviceNamed(const PciDevice& d, std::string_view prefix) {
  for (const OsDevice& os : d.os_devices) {
    if (base::StartsWith(os.name, prefix)) return true;
  }
  return false;
}

bool HasSubsystem(const PciDevice& d, std::string_view subsystem) {
  for (const OsDevice& os : d.os_devices) {
    auto it = os.info.find("Subsystem");
    if (it != os.info.end() && it->second == subsystem) return true;
  }
  return false;
}

// A vendor GPU handle from hwloc's GPU backends (NVML, RSMI, CUDA, Level Zero)
// or our NVIDIA procfs reader.
bool HasGpuHandle(const PciDevice& d) {
  for (const OsDevice& os : d.os_devices) {
    if (os.type != OsDeviceType::kGpu && os.type != OsDeviceType::kCoprocessor) continue;
    for (std::string_view p : {"nvml", "rsmi", "cuda", "ze", "nvidia"}) {
      if (base::StartsWith(os.name, p)) return true;
    }
  }
  return false;
}

}  // namespace

Classification Classify(const PciDevice& d) {
  std::string_view what;
  const uint32_t cls = ClassOf(d);
  const uint32_t base_class = BaseClassOf(d);

  if (base_class == kBaseDisplay && Matches(kBmcDisplay, d, &what)) {
    return {DeviceKind::kOther, what};
  }

  if (Matches(kNpuDevices, d, &what)) return {DeviceKind::kNpu, what};
  if (HasSubsystem(d, "accel") || HasOsDeviceNamed(d, "accel")) {
    return {DeviceKind::kNpu, "accel OS device (Linux compute accelerator)"};
  }
  if (HasSubsystem(d, "habanalabs") || HasSubsystem(d, "mic") || HasOsDeviceNamed(d, "davinci")) {
    return {DeviceKind::kNpu, "accelerator OS device"};
  }

  for (const GpuVendor& v : kGpuVendors) {
    if (v.vendor != d.vendor_id) continue;
    for (uint32_t c : v.classes) {
      if (c != 0 && c == cls) return {DeviceKind::kGpu, v.what};
    }
  }
  for (std::string_view drv : kGpuDrivers) {
    if (d.driver == drv) return {DeviceKind::kGpu, "GPU driver"};
  }
  if (HasGpuHandle(d)) return {DeviceKind::kGpu, "GPU OS device"};
  if (base_class == kBaseDisplay && HasOsDeviceNamed(d, "renderD")) {
    return {DeviceKind::kGpu, "display function with a DRM render node"};
  }

  if (cls == kClassCoprocessor) return {DeviceKind::kNpu, "coprocessor class"};
  if (cls == kClassProcessingAccelerator) return {DeviceKind::kNpu, "processing accelerator class"};

  if (HasOsDevice(d, OsDeviceType::kOpenFabrics) || HasSubsystem(d, "infiniband_verbs")) {
    return {DeviceKind::kRdma, "RDMA OS device"};
  }
  const bool network_like = base_class == kBaseNetwork || cls == kClassSerialInfiniband;
  if (network_like) {
    for (const NetworkMatch& m : kRdmaControllers) {
      if (m.vendor == d.vendor_id && (m.device == kAnyDevice || m.device == d.device_id)) {
        return {DeviceKind::kRdma, m.what};
      }
    }
  }
  // The class itself says InfiniBand, which is RDMA by definition.
  if (cls == kClassNetworkInfiniband || cls == kClassSerialInfiniband) {
    return {DeviceKind::kRdma, "InfiniBand class"};
  }

  if (base_class == kBaseNetwork) return {DeviceKind::kNic, "network class"};
  if (HasOsDevice(d, OsDeviceType::kNetwork)) return {DeviceKind::kNic, "network OS device"};
  return {DeviceKind::kOther, "no rule matched"};
}

}  // namespace tessera::topology
