// What the kernel tells about RDMA devices in sysfs, read through the rooted
// base::Sysfs seam: the RDMA (InfiniBand core) devices of a PCI function, their
// ports, the uverbs/umad/issm character devices and the netdevs.
//
// Two views of the same objects are joined, because captures and kernels
// differ in which one they have:
//   - the PCI function's own directories, bus/pci/devices/<bdf>/{infiniband,
//     infiniband_verbs, infiniband_mad, net} (present in every capture seen,
//     including the ConnectX-3 one, which has no class/infiniband_verbs);
//   - the class directories class/{infiniband, infiniband_verbs,
//     infiniband_mad, net}, whose entries are matched to a function by
//     resolving their link and taking the nearest PCI address in the path
//     (RDMA devices of auxiliary or sub-function devices sit below the PCI
//     function, not directly in it).
//
// Authority: Documentation/ABI/stable/sysfs-class-infiniband (node_guid,
// ports/<n>/state, phys_state, rate, link_layer, gids, gid_attrs/ndevs),
// drivers/infiniband/core/sysfs.c (the text formats: "%d: %s" for states,
// "%d%s Gb/sec (%dX%s)" for rate), drivers/infiniband/core/user_mad.c and
// uverbs_main.c (umad<N>, issm<N>, uverbs<N>: ibdev, port, dev),
// Documentation/ABI/testing/sysfs-class-net (dev_port, operstate, mtu).
//
// Parsers are pure and answer InvalidArgument naming what they expected.
// Readers never fail as a whole: a missing directory is empty, a bad value is
// skipped and described in `problems`. Thread-safe (reentrant).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "base/pci_address.h"
#include "base/sysfs.h"

namespace tessera::drivers::rdma {

// enum ib_port_state (include/rdma/ib_verbs.h).
enum class PortState { kUnknown, kNop, kDown, kInit, kArmed, kActive, kActiveDefer };
// "NOP", "DOWN", "INIT", "ARMED", "ACTIVE", "ACTIVE_DEFER"; "UNKNOWN".
std::string_view PortStateName(PortState state);
// ACTIVE or ACTIVE_DEFER: the port passes traffic.
bool IsActive(PortState state);
// "4: ACTIVE" (sysfs) or "4" (hwloc's Port<N>State info).
absl::StatusOr<PortState> ParsePortState(std::string_view raw);

// ports/<n>/phys_state: "5: LinkUp", "3: Disabled", "2: Polling".
struct PhysState {
  int code = 0;
  std::string name;  // "LinkUp"; may be empty when the kernel printed only the number
  friend bool operator==(const PhysState&, const PhysState&) = default;
};
absl::StatusOr<PhysState> ParsePhysState(std::string_view raw);

enum class LinkLayer { kUnknown, kInfiniBand, kEthernet };
std::string_view LinkLayerName(LinkLayer layer);  // "InfiniBand", "Ethernet", "Unknown"
// ports/<n>/link_layer: "InfiniBand" or "Ethernet".
absl::StatusOr<LinkLayer> ParseLinkLayer(std::string_view raw);

// ports/<n>/rate, "400 Gb/sec (4X NDR)" or "2.5 Gb/sec (1X SDR)", in Mbit/s.
absl::StatusOr<uint64_t> ParseRateMbps(std::string_view raw);

// A character device number, "231:192".
struct DevNumber {
  uint32_t major = 0;
  uint32_t minor = 0;
  friend bool operator==(const DevNumber&, const DevNumber&) = default;
};
absl::StatusOr<DevNumber> ParseDevNumber(std::string_view raw);

// node_guid / sys_image_guid: four groups of four hex digits
// ("b83f:d203:00a1:0010"); returned in lower case.
absl::StatusOr<std::string> ParseGuid(std::string_view raw);

struct SysfsPort {
  uint32_t number = 0;
  PortState state = PortState::kUnknown;
  std::optional<PhysState> phys_state;
  LinkLayer link_layer = LinkLayer::kUnknown;
  std::optional<uint64_t> rate_mbps;
  std::string gid0;        // gids/0, "" when unreadable
  std::string gid_netdev;  // gid_attrs/ndevs/0: the RoCE netdev of this port
  friend bool operator==(const SysfsPort&, const SysfsPort&) = default;
};

struct SysfsIbDevice {
  std::string name;  // "mlx5_0"
  std::string node_guid;
  std::string sys_image_guid;
  std::string hca_type;  // "MT4129"
  std::string fw_ver;    // "28.39.1002"
  std::string board_id;
  std::vector<SysfsPort> ports;  // by number
  friend bool operator==(const SysfsIbDevice&, const SysfsIbDevice&) = default;
};

// uverbs<N>, umad<N> or issm<N>.
struct SysfsCharDev {
  std::string name;   // "uverbs0"
  std::string ibdev;  // the RDMA device it belongs to
  uint32_t port = 0;  // umad/issm only
  std::optional<DevNumber> dev;
  friend bool operator==(const SysfsCharDev&, const SysfsCharDev&) = default;
};

struct SysfsNetdev {
  std::string name;
  // The RDMA port it belongs to: dev_port + 1 (IPoIB and mlx4 set dev_port
  // to port - 1; older kernels used dev_id). nullopt when neither is readable.
  std::optional<uint32_t> port;
  std::string operstate;  // "up", "down", "unknown", ...; "" when unreadable
  std::optional<uint32_t> mtu;
  std::optional<int> addr_len;  // 20 for IPoIB, 6 for Ethernet
  friend bool operator==(const SysfsNetdev&, const SysfsNetdev&) = default;
};

// Everything RDMA about one PCI function.
struct SysfsRdmaFunction {
  std::vector<SysfsIbDevice> ib_devices;  // sorted by name
  std::vector<SysfsCharDev> uverbs;       // sorted by name
  std::vector<SysfsCharDev> umad;
  std::vector<SysfsCharDev> issm;
  std::vector<SysfsNetdev> netdevs;  // sorted by name
  bool pci_dir_present = false;      // bus/pci/devices/<bdf> exists
  // Values that could not be read or parsed, one line each.
  std::vector<std::string> problems;
};

// Reads the functions at `addresses` (the node model's RDMA functions) in one
// pass over the class directories. Every address gets an entry.
std::map<base::PciAddress, SysfsRdmaFunction> ReadRdmaFunctions(
    const base::Sysfs& sysfs, const std::vector<base::PciAddress>& addresses);

// class/misc/rdma_cm/dev (the RDMA CM's character device, rdma_ucm module),
// nullopt when absent or unreadable.
std::optional<DevNumber> ReadRdmaCmDevNumber(const base::Sysfs& sysfs);

// The PCI function a resolved sysfs path belongs to: the last path component
// that parses as an extended BDF ("devices/pci0000:15/.../0000:1b:00.0/
// infiniband/mlx5_0" -> 0000:1b:00.0); nullopt for virtual devices.
std::optional<base::PciAddress> PciFunctionOfPath(std::string_view resolved_path);

}  // namespace tessera::drivers::rdma
