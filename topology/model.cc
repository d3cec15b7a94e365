#include "topology/model.h"

#include <algorithm>

#include "topology/locality.h"

namespace tessera::topology {

std::string_view DeviceKindName(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::kGpu:
      return "gpu";
    case DeviceKind::kNpu:
      return "npu";
    case DeviceKind::kRdma:
      return "rdma";
    case DeviceKind::kNic:
      return "nic";
    case DeviceKind::kOther:
      return "other";
  }
  return "other";
}

bool IsAccelerator(DeviceKind kind) { return kind == DeviceKind::kGpu || kind == DeviceKind::kNpu; }
bool IsNetwork(DeviceKind kind) { return kind == DeviceKind::kRdma || kind == DeviceKind::kNic; }

std::string_view LinkTypeName(LinkType type) {
  switch (type) {
    case LinkType::kPix:
      return "PIX";
    case LinkType::kPxb:
      return "PXB";
    case LinkType::kPhb:
      return "PHB";
    case LinkType::kNode:
      return "NODE";
    case LinkType::kSys:
      return "SYS";
  }
  return "SYS";
}

std::string_view OsDeviceTypeName(OsDeviceType type) {
  switch (type) {
    case OsDeviceType::kNetwork:
      return "network";
    case OsDeviceType::kOpenFabrics:
      return "openfabrics";
    case OsDeviceType::kGpu:
      return "gpu";
    case OsDeviceType::kCoprocessor:
      return "coprocessor";
    case OsDeviceType::kDma:
      return "dma";
    case OsDeviceType::kBlock:
      return "block";
    case OsDeviceType::kOther:
      return "other";
  }
  return "other";
}

std::string_view PciePortTypeName(PciePortType type) {
  switch (type) {
    case PciePortType::kUnknown:
      return "unknown";
    case PciePortType::kRootPort:
      return "root-port";
    case PciePortType::kSwitchUpstream:
      return "switch-upstream";
    case PciePortType::kSwitchDownstream:
      return "switch-downstream";
    case PciePortType::kPcieToPciBridge:
      return "pcie-to-pci";
    case PciePortType::kPciToPcieBridge:
      return "pci-to-pcie";
    case PciePortType::kOther:
      return "other";
  }
  return "unknown";
}

const OsDevice* PciDevice::FindOsDevice(OsDeviceType type) const {
  for (const OsDevice& os : os_devices) {
    if (os.type == type) return &os;
  }
  return nullptr;
}

const PciDevice* NodeTopology::FindDevice(const base::PciAddress& address) const {
  // devices is sorted by address (loader.h guarantees it).
  auto it = std::lower_bound(
      devices.begin(), devices.end(), address,
      [](const PciDevice& d, const base::PciAddress& a) { return d.address < a; });
  if (it != devices.end() && it->address == address) return &*it;
  return nullptr;
}

const NumaNode* NodeTopology::FindNumaNode(int id) const {
  for (const NumaNode& n : numa_nodes) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

std::string NodeTopology::PcieRootName(const PciDevice& device) const {
  if (device.root < 0 || device.root >= static_cast<int>(roots.size())) return "";
  return roots[static_cast<size_t>(device.root)].name;
}

LinkType NodeTopology::Relation(const PciDevice& a, const PciDevice& b) const {
  return RelationBetween(*this, a, b);
}

std::vector<const PciDevice*> NodeTopology::DevicesOfKind(DeviceKind kind) const {
  std::vector<const PciDevice*> out;
  for (const PciDevice& d : devices) {
    if (d.kind == kind) out.push_back(&d);
  }
  return out;
}

}  // namespace tessera::topology
