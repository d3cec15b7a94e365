// The node model: what a node *is* and how it is wired, as plain data.
//
// Built by topology/loader.h from one of three sources (live host, a captured
// sysfs root, an hwloc XML export) and read by the drivers, the publisher and
// node-debug. Everything here is a value; no handles to hwloc or sysfs remain.
//
// Indices (root, bridge, parent) point into the vectors of the same
// NodeTopology; -1 means "none".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/cpu_set.h"
#include "base/pci_address.h"

namespace tessera::topology {

// What a PCI function is, for the product. Decided by vendor, class, driver
// and OS devices together, never by class code alone (topology/classify.h).
enum class DeviceKind {
  kGpu,    // graphics/compute GPU (NVIDIA, AMD, Intel), not a BMC's VGA chip
  kNpu,    // AI accelerator that is not a GPU (Ascend, Gaudi, accel class, coprocessors)
  kRdma,   // NIC with an RDMA device or an IB/RoCE-capable controller
  kNic,    // other network controller
  kOther,  // storage, bridges' siblings, BMC VGA, ...
};
std::string_view DeviceKindName(DeviceKind kind);  // "gpu", "npu", "rdma", "nic", "other"
bool IsAccelerator(DeviceKind kind);               // gpu or npu
bool IsNetwork(DeviceKind kind);                   // rdma or nic

// How two devices are connected, with the meanings of `nvidia-smi topo -m`.
// Declared from closest to farthest; compare with < for "closer than".
enum class LinkType {
  kPix,   // one PCIe switch between them
  kPxb,   // several bridges, no host bridge
  kPhb,   // same PCIe host bridge (root complex)
  kNode,  // different host bridges, same NUMA node
  kSys,   // different NUMA nodes (crosses the inter-socket/SMP link)
};
std::string_view LinkTypeName(LinkType type);  // "PIX", "PXB", "PHB", "NODE", "SYS"

enum class OsDeviceType {
  kNetwork,      // netdev: eth0, ib0, ens6f0np0
  kOpenFabrics,  // RDMA device: mlx5_0, mlx4_0, hfi1_0, efa_0
  kGpu,          // DRM card/render node or vendor GPU handle: card0, renderD128, nvml0, rsmi0
  kCoprocessor,  // compute handle: cuda0, opencl0d0, accel0, davinci0
  kDma,
  kBlock,
  kOther,
};
std::string_view OsDeviceTypeName(OsDeviceType type);  // "network", "openfabrics", "gpu", ...

// The PCIe port type of a bridge, from the PCI Express capability in config
// space (PCIe Base Specification, "PCI Express Capabilities Register", device/
// port type field). kUnknown when config space was not readable (hwloc XML,
// a non-root read of a capture, a conventional PCI bridge).
enum class PciePortType {
  kUnknown,
  kRootPort,
  kSwitchUpstream,
  kSwitchDownstream,
  kPcieToPciBridge,  // e.g. the ASPEED AST1150 in front of a BMC's VGA chip
  kPciToPcieBridge,
  kOther,  // an endpoint type on a bridge-class function, or a reserved value
};
std::string_view PciePortTypeName(PciePortType type);  // "root-port", "switch-upstream", ...

struct OsDevice {
  std::string name;
  OsDeviceType type = OsDeviceType::kOther;
  // What hwloc or sysfs told about it: "NodeGUID", "Address", "Port", "GPUModel",
  // "NVIDIAUUID", "AMDUUID", "Backend", ... (hwloc info names where they exist).
  std::map<std::string, std::string> info;

  friend bool operator==(const OsDevice&, const OsDevice&) = default;
};

struct NumaNode {
  int id = -1;               // OS index (node<id> in sysfs)
  base::CpuSet cpus;
  uint64_t memory_bytes = 0;
  // SLIT distances to every NUMA node of the model, in the order of
  // NodeTopology::numa_nodes; empty when unknown.
  std::vector<int> distances;

  friend bool operator==(const NumaNode&, const NumaNode&) = default;
};

// A PCIe host bridge / root complex. Its name is the standard
// resource.kubernetes.io/pcieRoot value, "pci<domain>:<bus>".
struct PciRoot {
  std::string name;  // "pci0000:40"
  uint32_t domain = 0;
  uint8_t first_bus = 0;
  uint8_t last_bus = 0;

  friend bool operator==(const PciRoot&, const PciRoot&) = default;
};

// A PCI-to-PCI bridge: a root port, a switch upstream or downstream port, or a
// PCIe-to-PCI bridge.
struct PciBridge {
  base::PciAddress address;
  uint16_t vendor_id = 0;
  uint16_t device_id = 0;
  int root = -1;    // index into roots
  int parent = -1;  // index into bridges; -1 when directly below the host bridge (a root port)
  uint8_t secondary_bus = 0;
  uint8_t subordinate_bus = 0;
  PciePortType port_type = PciePortType::kUnknown;
  // True when this bridge is the upstream port of a PCIe switch, decided from
  // port_type when known and from the shape of the tree otherwise
  // (topology/locality.h, docs/topology.md).
  bool switch_upstream = false;

  friend bool operator==(const PciBridge&, const PciBridge&) = default;
};

struct PciDevice {
  base::PciAddress address;
  uint16_t vendor_id = 0;
  uint16_t device_id = 0;
  uint16_t subsystem_vendor_id = 0;
  uint16_t subsystem_device_id = 0;
  uint32_t class_code = 0;  // 24-bit class/subclass/prog-if, e.g. 0x030200
  std::string vendor_name;  // from hwloc's pci.ids lookup where known
  std::string device_name;
  std::string driver;       // bound kernel driver ("nvidia", "mlx5_core"); "" when unknown

  DeviceKind kind = DeviceKind::kOther;

  // NUMA node by the documented rule (docs/topology.md): sysfs numa_node when
  // >= 0; when -1, the single NUMA node whose CPUs cover local_cpus; otherwise
  // none. Never set for a device local to several nodes or to none.
  std::optional<int> numa_node;
  base::CpuSet local_cpus;

  int root = -1;           // index into roots; -1 if the device hangs off no host bridge
  int parent_bridge = -1;  // index into bridges; -1 when directly on the root bus
  // Upstream port of the nearest PCIe switch above the device, if any.
  std::optional<base::PciAddress> pcie_switch;

  // SR-IOV: for a VF, its PF's address; for a PF, how many VFs it may have.
  std::optional<base::PciAddress> physfn;
  int sriov_totalvfs = 0;
  int sriov_numvfs = 0;

  std::vector<OsDevice> os_devices;

  // Convenience: the first OS device of this type, or nullptr.
  const OsDevice* FindOsDevice(OsDeviceType type) const;

  friend bool operator==(const PciDevice&, const PciDevice&) = default;
};

// The relation of two devices, for every accelerator-NIC and
// accelerator-accelerator pair (a < b by index into devices).
struct Link {
  int a = -1;
  int b = -1;
  LinkType type = LinkType::kSys;

  friend bool operator==(const Link&, const Link&) = default;
};

struct NodeTopology {
  std::string source;  // "live", "sysfs:<dir>", "hwloc-xml:<file>"
  std::string hostname;
  std::vector<NumaNode> numa_nodes;  // sorted by id
  std::vector<PciRoot> roots;        // sorted by domain, bus
  std::vector<PciBridge> bridges;    // sorted by address
  std::vector<PciDevice> devices;    // every non-bridge PCI function, sorted by address
  std::vector<Link> links;
  // Degraded results met while loading, one line each ("0000:05:00.0: numa_node
  // \"x\" is not a number; NUMA node unknown"). Empty on a clean load.
  std::vector<std::string> warnings;

  const PciDevice* FindDevice(const base::PciAddress& address) const;
  const NumaNode* FindNumaNode(int id) const;
  // The root of a device as the pcieRoot attribute value, or "" when unknown.
  std::string PcieRootName(const PciDevice& device) const;
  // The relation between two devices of this model (also for pairs not in links).
  LinkType Relation(const PciDevice& a, const PciDevice& b) const;
  std::vector<const PciDevice*> DevicesOfKind(DeviceKind kind) const;

  friend bool operator==(const NodeTopology&, const NodeTopology&) = default;
};

}  // namespace tessera::topology
