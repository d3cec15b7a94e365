// RDMA discovery: every RDMA function of the node model joined with what the
// kernel says about it, as one RdmaRecord per PCI function (PF or VF).
//
// Sources, best first (docs/rdma.md, "Where the facts come from"):
//   sysfs     the RDMA device, its ports (state, phys_state, link layer,
//             rate, GID 0), uverbs/umad/issm character devices, netdevs
//             (sysfs_rdma.h); on a live host and on captured/simulated
//             sysfs roots;
//   netlink   the netdevs' operational state and MTU (topology::Netlink, in
//             the host's namespace; live hosts only);
//   verbs     a port's active MTU (verbs.h; live hosts with RDMA only);
//   model     placement (NUMA node, pcieRoot, nearest switch, SR-IOV
//             parent) always; and, for an hwloc XML node, the OS devices
//             hwloc recorded (OpenFabrics name, NodeGUID, Port<N>State,
//             network names and addresses).
//
// Health (docs/rdma.md, "Health"): unhealthy when the function has no RDMA
// device (kernel RDMA driver not loaded) or no uverbs device (ib_uverbs not
// loaded) - then also not preparable -, when no port is ACTIVE, or when the
// netdev of a RoCE port is down ("link down": also a device taint). An IPoIB
// netdev that is down does not make an InfiniBand port unhealthy: RDMA does
// not use it.
//
// Thread-safety: DiscoverRdma is reentrant; the seams it is given must be
// safe for concurrent use (they are).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/pci_address.h"
#include "base/sysfs.h"
#include "drivers/device_driver.h"
#include "drivers/rdma/sysfs_rdma.h"
#include "drivers/rdma/verbs.h"
#include "topology/model.h"
#include "topology/netlink.h"

namespace tessera::drivers::rdma {

inline constexpr std::string_view kDevicePrefix = "rdma";

enum class SriovRole { kNone, kPf, kVf };
std::string_view SriovRoleName(SriovRole role);  // "", "pf", "vf"

struct RdmaPort {
  uint32_t number = 1;
  PortState state = PortState::kUnknown;
  std::string phys_state;  // "LinkUp", "Disabled"; "" when unknown
  LinkLayer link_layer = LinkLayer::kUnknown;
  std::optional<uint64_t> rate_mbps;
  std::optional<uint32_t> active_mtu;  // bytes, from verbs
  std::string netdev;                  // the port's netdev; "" when none
  // Passes traffic: ACTIVE, and for a RoCE port its netdev is not down.
  bool usable = false;
  friend bool operator==(const RdmaPort&, const RdmaPort&) = default;
};

struct RdmaNetdev {
  std::string name;
  std::optional<uint32_t> port;
  topology::OperState oper_state = topology::OperState::kUnknown;
  std::optional<uint32_t> mtu;
  friend bool operator==(const RdmaNetdev&, const RdmaNetdev&) = default;
};

// A character device under /dev/infiniband.
struct RdmaCharDev {
  std::string name;   // "uverbs0", "umad0", "issm0"
  uint32_t port = 0;  // umad/issm
  std::optional<DevNumber> dev;
  friend bool operator==(const RdmaCharDev&, const RdmaCharDev&) = default;
};

struct RdmaRecord {
  base::PciAddress address;
  std::string name;  // DeviceNameForPci("rdma", address)
  uint16_t vendor_id = 0;
  uint16_t device_id = 0;
  std::string vendor;  // "mellanox", "broadcom", ...; the hex id when unknown
  std::string model;   // "ConnectX-7"; hca_type or the hex ids when unknown
  std::string driver;  // bound kernel driver, "mlx5_core"

  std::string rdma_device;  // "mlx5_0"; "" when no RDMA device is registered
  std::string node_guid;
  std::string fw_version;
  std::vector<RdmaPort> ports;  // by number
  std::vector<RdmaNetdev> netdevs;
  std::optional<RdmaCharDev> uverbs;
  std::vector<RdmaCharDev> umad;  // by port
  std::vector<RdmaCharDev> issm;  // by port

  SriovRole sriov_role = SriovRole::kNone;
  std::optional<base::PciAddress> sriov_parent;  // a VF's PF
  int sriov_numvfs = 0;
  int sriov_totalvfs = 0;

  std::optional<int> numa_node;
  std::string pcie_root;  // "pci0000:15"; "" when unknown
  std::optional<base::PciAddress> pcie_switch;

  Health health = Health::kHealthy;
  std::string health_message;
  bool link_down = false;  // no active port, or a RoCE netdev down
  bool preparable = true;  // has an RDMA device and a uverbs device
  std::string source;      // "sysfs" or "hwloc"

  // The port published and used for env: the first ACTIVE one, else the first.
  const RdmaPort* PrimaryPort() const;
  // The netdev of the primary port, else the function's first netdev; "" when none.
  std::string PrimaryNetdev() const;
  // Ports that pass traffic ("mlx5_0:1"-style entries use these); all ports
  // when none does.
  std::vector<uint32_t> UsablePorts() const;

  friend bool operator==(const RdmaRecord&, const RdmaRecord&) = default;
};

struct RdmaDiscovery {
  std::vector<RdmaRecord> records;   // sorted by name
  std::optional<DevNumber> rdma_cm;  // class/misc/rdma_cm/dev
  // Degraded results met on the way, one line each.
  std::vector<std::string> warnings;
  // Netlink could not list links (states came from sysfs), or libibverbs
  // failed for another reason than a kernel without RDMA.
  bool netlink_degraded = false;
  bool verbs_degraded = false;
};

struct DiscoveryInputs {
  const topology::NodeTopology& topology;
  // The host's sysfs (or a capture's); null for an hwloc XML node.
  const base::Sysfs* sysfs = nullptr;
  // Link state in the host namespace; null on captured and simulated nodes.
  topology::Netlink* netlink = nullptr;
  // Null when libibverbs is not used (simulated nodes).
  Verbs* verbs = nullptr;
  // For a node whose character devices are not recorded (hwloc XML), name
  // them as the kernel would on a node where RDMA devices registered in
  // name order: uverbs<i> for the i-th RDMA device, umad<j>/issm<j> for the
  // j-th port. Simulated nodes only; never on a live host.
  bool synthesize_char_devices = false;
};

RdmaDiscovery DiscoverRdma(const DiscoveryInputs& inputs);

// Vendor and model names for a PCI id ("mellanox", "ConnectX-7"); "" when
// the id is not in the table.
std::string_view RdmaVendorName(uint16_t vendor_id);
std::string_view RdmaModelName(uint16_t vendor_id, uint16_t device_id);

}  // namespace tessera::drivers::rdma
