// Device classification: what a PCI function is for the product (gpu, npu,
// rdma, nic, other), decided from vendor, device, class, bound driver and OS
// devices together, never from the class code alone: a ConnectX-3 is class
// 0x0280, a QLogic InfiniBand HCA 0x0c06, an AMD MI50 0x0380, an MI300A
// 0x1200, and a BMC's ASPEED VGA chip is 0x0300 but no GPU.
//
// The vendor/device tables live in classify.cc, each row citing its source.
// Pure functions; thread-safe.
#pragma once

#include <string_view>

#include "topology/model.h"

namespace tessera::topology {

struct Classification {
  DeviceKind kind = DeviceKind::kOther;
  // Which rule decided, for node-debug and bug reports ("accel OS device",
  // "Mellanox/NVIDIA network function", ...). Points to static storage.
  std::string_view reason;
};

// Decides in this order (first match wins):
//  1. BMC and server-management display chips            -> other
//  2. known NPU vendors/devices, accel/habanalabs/mic OS devices -> npu
//  3. GPU vendors with a display/accelerator class, GPU drivers, GPU handles
//     (nvml, rsmi, cuda, levelzero), DRM render nodes on display functions -> gpu
//  4. coprocessor class 0x0b40, processing accelerator class 0x1200 -> npu
//  5. an RDMA OS device (infiniband, infiniband_verbs), a known IB/RoCE
//     controller, or an InfiniBand class (0x0207, 0x0c06) -> rdma
//  6. a network class (0x02) or a network OS device -> nic
//  7. anything else -> other
Classification Classify(const PciDevice& device);

}  // namespace tessera::topology
