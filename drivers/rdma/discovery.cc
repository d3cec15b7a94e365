#include "drivers/rdma/discovery.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "spdlog/fmt/fmt.h"

#include "base/parse.h"
#include "base/strings.h"
#include "drivers/naming.h"

namespace tessera::drivers::rdma {
namespace {

using base::StrCat;
using topology::OperState;

struct ModelName {
  uint16_t device;
  std::string_view model;
};

// Mellanox/NVIDIA device ids (pci.ids, vendor 15b3).
constexpr ModelName kMellanoxModels[] = {
    {0x1003, "ConnectX-3"},       {0x1004, "ConnectX-3 VF"},    {0x1007, "ConnectX-3 Pro"},
    {0x1013, "ConnectX-4"},       {0x1014, "ConnectX-4 VF"},    {0x1015, "ConnectX-4 Lx"},
    {0x1016, "ConnectX-4 Lx VF"}, {0x1017, "ConnectX-5"},       {0x1018, "ConnectX-5 VF"},
    {0x1019, "ConnectX-5 Ex"},    {0x101a, "ConnectX-5 Ex VF"}, {0x101b, "ConnectX-6"},
    {0x101c, "ConnectX-6 VF"},    {0x101d, "ConnectX-6 Dx"},    {0x101e, "ConnectX VF"},
    {0x101f, "ConnectX-6 Lx"},    {0x1021, "ConnectX-7"},       {0x1023, "ConnectX-8"},
    {0xa2d2, "BlueField"},        {0xa2d6, "BlueField-2"},      {0xa2dc, "BlueField-3"},
};

OperState OperStateFromSysfs(std::string_view text) {
  // Documentation/ABI/testing/sysfs-class-net, operstate (RFC 2863 names).
  if (text == "up") return OperState::kUp;
  if (text == "down") return OperState::kDown;
  if (text == "lowerlayerdown") return OperState::kLowerLayerDown;
  if (text == "dormant") return OperState::kDormant;
  if (text == "testing") return OperState::kTesting;
  if (text == "notpresent") return OperState::kNotPresent;
  return OperState::kUnknown;
}

bool NetdevDown(OperState s) {
  return s == OperState::kDown || s == OperState::kLowerLayerDown || s == OperState::kNotPresent;
}

// The netdev of `port` among the function's netdevs: the one whose dev_port
// says so (a parent before its P_Key children "ib0.8001"), or the only one.
std::string NetdevForPort(const std::vector<RdmaNetdev>& netdevs, uint32_t port, size_t ports) {
  const RdmaNetdev* best = nullptr;
  for (const RdmaNetdev& n : netdevs) {
    if (n.port != port) continue;
    if (best == nullptr ||
        (best->name.find('.') != std::string::npos && n.name.find('.') == std::string::npos)) {
      best = &n;
    }
  }
  if (best != nullptr) return best->name;
  if (ports == 1 && netdevs.size() == 1) return netdevs.front().name;
  return "";
}

void FromSysfs(RdmaRecord& r, const SysfsRdmaFunction& fn, std::vector<std::string>& warnings) {
  r.source = "sysfs";
  for (const std::string& p : fn.problems)
    warnings.push_back(StrCat(r.address.ToString(), ": ", p));
  for (const SysfsNetdev& n : fn.netdevs) {
    r.netdevs.push_back({.name = n.name,
                         .port = n.port,
                         .oper_state = OperStateFromSysfs(n.operstate),
                         .mtu = n.mtu});
  }
  if (fn.ib_devices.empty()) return;
  const SysfsIbDevice& ib = fn.ib_devices.front();
  if (fn.ib_devices.size() > 1) {
    std::vector<std::string> names;
    for (const auto& d : fn.ib_devices) names.push_back(d.name);
    warnings.push_back(StrCat(r.address.ToString(), ": several rdma devices (",
                              base::Join(names, ", "), "); using ", ib.name));
  }
  r.rdma_device = ib.name;
  // A VF whose GUID the administrator never set reports zeros: no GUID.
  if (ib.node_guid != "0000:0000:0000:0000") r.node_guid = ib.node_guid;
  r.fw_version = ib.fw_ver;
  if (r.model.empty()) r.model = ib.hca_type;
  for (const SysfsPort& p : ib.ports) {
    RdmaPort port{.number = p.number,
                  .state = p.state,
                  .phys_state = p.phys_state ? p.phys_state->name : "",
                  .link_layer = p.link_layer,
                  .rate_mbps = p.rate_mbps,
                  .netdev = p.gid_netdev};
    if (port.netdev.empty()) port.netdev = NetdevForPort(r.netdevs, p.number, ib.ports.size());
    r.ports.push_back(std::move(port));
  }
  auto mine = [&](const SysfsCharDev& c, size_t count) {
    // An entry without ibdev (unreadable) is taken only when it is alone.
    return c.ibdev == ib.name || (c.ibdev.empty() && count == 1);
  };
  for (const SysfsCharDev& c : fn.uverbs) {
    if (mine(c, fn.uverbs.size())) {
      r.uverbs = RdmaCharDev{.name = c.name, .dev = c.dev};
      break;
    }
  }
  for (auto [from, to] : {std::pair{&fn.umad, &r.umad}, std::pair{&fn.issm, &r.issm}}) {
    for (const SysfsCharDev& c : *from) {
      if (mine(c, from->size())) to->push_back({.name = c.name, .port = c.port, .dev = c.dev});
    }
    std::sort(to->begin(), to->end(),
              [](const RdmaCharDev& a, const RdmaCharDev& b) { return a.port < b.port; });
  }
}

// "Port1State" -> 1; nullopt for other info names.
std::optional<uint32_t> PortOfInfo(std::string_view key, std::string_view suffix) {
  if (!key.starts_with("Port") || !key.ends_with(suffix)) return std::nullopt;
  std::string_view n = key.substr(4, key.size() - 4 - suffix.size());
  absl::StatusOr<uint64_t> v = base::ParseUint64(n);
  if (!v.ok() || *v == 0 || *v > 255 || n.empty()) return std::nullopt;
  return static_cast<uint32_t>(*v);
}

// An hwloc XML node: the OS devices hwloc recorded (topology-linux.c
// hwloc_linuxfs_infiniband_class_fillinfos: NodeGUID, SysImageGUID,
// Port<N>State, Port<N>LID, Port<N>GID<M>; network: Address, Port).
void FromModel(RdmaRecord& r, const topology::PciDevice& dev, std::vector<std::string>& warnings) {
  r.source = "hwloc";
  const topology::OsDevice* ib = nullptr;
  for (const topology::OsDevice& os : dev.os_devices) {
    if (os.type == topology::OsDeviceType::kOpenFabrics) {
      if (ib == nullptr || os.name < ib->name) ib = &os;
    }
  }
  std::map<uint32_t, LinkLayer> layer_by_port;
  LinkLayer any_layer = LinkLayer::kUnknown;
  for (const topology::OsDevice& os : dev.os_devices) {
    if (os.type != topology::OsDeviceType::kNetwork) continue;
    RdmaNetdev n{.name = os.name};
    if (auto it = os.info.find("Port"); it != os.info.end()) {
      absl::StatusOr<uint64_t> p = base::ParseUint64(it->second);
      if (p.ok() && *p >= 1 && *p <= 255) n.port = static_cast<uint32_t>(*p);
    }
    // The hardware address length tells the link layer: 20 bytes is IPoIB
    // (QPN + GID), 6 bytes Ethernet.
    if (auto it = os.info.find("Address"); it != os.info.end()) {
      size_t bytes = base::Split(it->second, ':').size();
      LinkLayer l = bytes == 20  ? LinkLayer::kInfiniBand
                    : bytes == 6 ? LinkLayer::kEthernet
                                 : LinkLayer::kUnknown;
      if (l != LinkLayer::kUnknown) {
        any_layer = l;
        if (n.port) layer_by_port[*n.port] = l;
      }
    }
    r.netdevs.push_back(std::move(n));
  }
  std::sort(r.netdevs.begin(), r.netdevs.end(),
            [](const RdmaNetdev& a, const RdmaNetdev& b) { return a.name < b.name; });
  if (ib == nullptr) return;
  r.rdma_device = ib->name;
  if (auto it = ib->info.find("NodeGUID"); it != ib->info.end()) {
    absl::StatusOr<std::string> guid = ParseGuid(it->second);
    if (guid.ok()) {
      r.node_guid = *guid;
    } else {
      warnings.push_back(StrCat(r.address.ToString(), ": ", base::Std(guid.status().message())));
    }
  }
  std::vector<uint32_t> numbers;
  for (const auto& [key, value] : ib->info) {
    if (std::optional<uint32_t> p = PortOfInfo(key, "State")) numbers.push_back(*p);
  }
  std::sort(numbers.begin(), numbers.end());
  for (uint32_t number : numbers) {
    RdmaPort port{.number = number};
    absl::StatusOr<PortState> s = ParsePortState(ib->info.at(StrCat("Port", number, "State")));
    if (s.ok()) {
      port.state = *s;
    } else {
      warnings.push_back(StrCat(r.address.ToString(), ": ", base::Std(s.status().message())));
    }
    auto layer = layer_by_port.find(number);
    port.link_layer = layer != layer_by_port.end() ? layer->second : any_layer;
    port.netdev = NetdevForPort(r.netdevs, number, numbers.size());
    r.ports.push_back(std::move(port));
  }
}

void ApplyLinkStates(RdmaRecord& r, const std::vector<topology::NetworkLink>* links) {
  if (links == nullptr) return;
  for (RdmaNetdev& n : r.netdevs) {
    const topology::NetworkLink* l = topology::FindLinkByName(*links, n.name);
    if (l == nullptr) continue;
    n.oper_state = l->oper_state;
    n.mtu = l->mtu;
  }
}

void ApplyVerbs(RdmaRecord& r, Verbs& verbs, const std::set<std::string>& visible,
                std::vector<std::string>& warnings) {
  if (r.rdma_device.empty() || !visible.contains(r.rdma_device)) return;
  for (RdmaPort& p : r.ports) {
    absl::StatusOr<VerbsPort> v = verbs.QueryPort(r.rdma_device, p.number);
    if (!v.ok()) {
      warnings.push_back(StrCat(r.address.ToString(), ": ", base::Std(v.status().message())));
      return;  // one line per device is enough
    }
    if (v->active_mtu != 0) p.active_mtu = v->active_mtu;
  }
}

void Assess(RdmaRecord& r) {
  if (r.rdma_device.empty()) {
    r.health = Health::kUnhealthy;
    r.preparable = false;
    r.health_message = StrCat("no RDMA device is registered for ", r.address.ToString(),
                              r.driver.empty() ? std::string() : StrCat(" (driver ", r.driver, ")"),
                              "; is the kernel's RDMA driver loaded (mlx5_ib for mlx5_core)?");
    return;
  }
  if (!r.uverbs.has_value()) {
    r.health = Health::kUnhealthy;
    r.preparable = false;
    r.health_message = StrCat("no uverbs device for ", r.rdma_device,
                              "; is ib_uverbs loaded? user space cannot open the device");
    return;
  }
  std::vector<std::string> problems;
  for (RdmaPort& p : r.ports) {
    const RdmaNetdev* n = nullptr;
    for (const RdmaNetdev& candidate : r.netdevs) {
      if (candidate.name == p.netdev) n = &candidate;
    }
    if (!IsActive(p.state)) {
      std::string why = StrCat("port ", p.number, " ", PortStateName(p.state));
      if (!p.phys_state.empty()) base::StrAppend(&why, " (", p.phys_state, ")");
      if (p.state == PortState::kInit && p.link_layer == LinkLayer::kInfiniBand) {
        base::StrAppend(&why, ": link up but not configured; is a subnet manager running?");
      }
      problems.push_back(std::move(why));
    } else if (p.link_layer == LinkLayer::kEthernet && n != nullptr && NetdevDown(n->oper_state)) {
      problems.push_back(StrCat("port ", p.number, " link ", n->name, " ",
                                topology::OperStateName(n->oper_state)));
    } else {
      p.usable = true;
    }
  }
  if (r.ports.empty() ||
      std::any_of(r.ports.begin(), r.ports.end(), [](const RdmaPort& p) { return p.usable; })) {
    return;
  }
  r.health = Health::kUnhealthy;
  r.link_down = true;
  r.health_message = StrCat(r.rdma_device, ": ", base::Join(problems, "; "));
}

// Names the character devices of a node that does not record them (hwloc
// XML): RDMA devices in name order get uverbs0.., their ports umad0../issm0...
void SynthesizeCharDevices(std::vector<RdmaRecord>& records) {
  std::vector<RdmaRecord*> by_device;
  for (RdmaRecord& r : records) {
    if (!r.rdma_device.empty() && r.source == "hwloc") by_device.push_back(&r);
  }
  std::sort(by_device.begin(), by_device.end(), [](const RdmaRecord* a, const RdmaRecord* b) {
    return a->rdma_device < b->rdma_device;
  });
  uint32_t mad = 0;
  for (size_t i = 0; i < by_device.size(); ++i) {
    RdmaRecord& r = *by_device[i];
    r.uverbs = RdmaCharDev{.name = StrCat("uverbs", i)};
    std::vector<RdmaPort> ports = r.ports;
    if (ports.empty()) ports.push_back(RdmaPort{.number = 1});
    for (const RdmaPort& p : ports) {
      r.umad.push_back({.name = StrCat("umad", mad), .port = p.number});
      // The subnet management interface exists for InfiniBand ports only.
      if (p.link_layer != LinkLayer::kEthernet) {
        r.issm.push_back({.name = StrCat("issm", mad), .port = p.number});
      }
      ++mad;
    }
  }
}

}  // namespace

std::string_view SriovRoleName(SriovRole role) {
  switch (role) {
    case SriovRole::kPf:
      return "pf";
    case SriovRole::kVf:
      return "vf";
    case SriovRole::kNone:
      break;
  }
  return "";
}

const RdmaPort* RdmaRecord::PrimaryPort() const {
  for (const RdmaPort& p : ports) {
    if (p.usable) return &p;
  }
  return ports.empty() ? nullptr : &ports.front();
}

std::string RdmaRecord::PrimaryNetdev() const {
  const RdmaPort* p = PrimaryPort();
  if (p != nullptr && !p->netdev.empty()) return p->netdev;
  return netdevs.empty() ? "" : netdevs.front().name;
}

std::vector<uint32_t> RdmaRecord::UsablePorts() const {
  std::vector<uint32_t> out;
  for (const RdmaPort& p : ports) {
    if (p.usable) out.push_back(p.number);
  }
  if (out.empty()) {
    for (const RdmaPort& p : ports) out.push_back(p.number);
  }
  if (out.empty()) out.push_back(1);
  return out;
}

std::string_view RdmaVendorName(uint16_t vendor_id) {
  switch (vendor_id) {
    case 0x15b3:
      return "mellanox";
    case 0x8086:
      return "intel";
    case 0x14e4:
      return "broadcom";
    case 0x1d0f:
      return "amazon";
    case 0x1077:
    case 0x1fc1:
      return "qlogic";
    case 0x1425:
      return "chelsio";
    case 0x19e5:
      return "huawei";
    case 0x1414:
      return "microsoft";
    case 0x434e:
      return "cornelis";
    default:
      return "";
  }
}

std::string_view RdmaModelName(uint16_t vendor_id, uint16_t device_id) {
  if (vendor_id != 0x15b3) return "";
  for (const ModelName& m : kMellanoxModels) {
    if (m.device == device_id) return m.model;
  }
  return "";
}

RdmaDiscovery DiscoverRdma(const DiscoveryInputs& in) {
  RdmaDiscovery out;
  std::vector<const topology::PciDevice*> devices =
      in.topology.DevicesOfKind(topology::DeviceKind::kRdma);
  std::vector<base::PciAddress> addresses;
  for (const topology::PciDevice* d : devices) addresses.push_back(d->address);

  std::map<base::PciAddress, SysfsRdmaFunction> sysfs;
  if (in.sysfs != nullptr) {
    sysfs = ReadRdmaFunctions(*in.sysfs, addresses);
    out.rdma_cm = ReadRdmaCmDevNumber(*in.sysfs);
  }
  std::optional<std::vector<topology::NetworkLink>> links;
  if (in.netlink != nullptr) {
    absl::StatusOr<std::vector<topology::NetworkLink>> l = in.netlink->ListLinks();
    if (l.ok()) {
      links = *std::move(l);
    } else {
      out.netlink_degraded = true;
      out.warnings.push_back(
          StrCat("netlink: ", base::Std(l.status().message()), "; link states from sysfs"));
    }
  }
  std::set<std::string> verbs_visible;
  if (in.verbs != nullptr) {
    absl::StatusOr<std::vector<VerbsDevice>> v = in.verbs->ListDevices();
    if (v.ok()) {
      for (const VerbsDevice& d : *v) verbs_visible.insert(d.name);
    } else if (!absl::IsFailedPrecondition(v.status())) {
      out.verbs_degraded = true;
      out.warnings.push_back(StrCat("verbs: ", base::Std(v.status().message())));
    }
  }

  for (const topology::PciDevice* d : devices) {
    RdmaRecord r{.address = d->address,
                 .name = DeviceNameForPci(kDevicePrefix, d->address),
                 .vendor_id = d->vendor_id,
                 .device_id = d->device_id,
                 .driver = d->driver};
    r.vendor = std::string(RdmaVendorName(d->vendor_id));
    if (r.vendor.empty()) r.vendor = fmt::format("{:04x}", d->vendor_id);
    r.model = std::string(RdmaModelName(d->vendor_id, d->device_id));
    if (r.model.empty()) r.model = d->device_name;
    if (d->physfn.has_value()) {
      r.sriov_role = SriovRole::kVf;
      r.sriov_parent = d->physfn;
    } else if (d->sriov_totalvfs > 0) {
      r.sriov_role = SriovRole::kPf;
    }
    r.sriov_numvfs = d->sriov_numvfs;
    r.sriov_totalvfs = d->sriov_totalvfs;
    r.numa_node = d->numa_node;
    r.pcie_root = in.topology.PcieRootName(*d);
    r.pcie_switch = d->pcie_switch;

    auto fn = sysfs.find(d->address);
    if (fn != sysfs.end() && fn->second.pci_dir_present) {
      FromSysfs(r, fn->second, out.warnings);
    } else {
      FromModel(r, *d, out.warnings);
    }
    if (r.model.empty()) r.model = fmt::format("{:04x}:{:04x}", d->vendor_id, d->device_id);
    ApplyLinkStates(r, links ? &*links : nullptr);
    if (in.verbs != nullptr) ApplyVerbs(r, *in.verbs, verbs_visible, out.warnings);
    out.records.push_back(std::move(r));
  }
  if (in.synthesize_char_devices) SynthesizeCharDevices(out.records);
  for (RdmaRecord& r : out.records) Assess(r);
  std::sort(out.records.begin(), out.records.end(),
            [](const RdmaRecord& a, const RdmaRecord& b) { return a.name < b.name; });
  return out;
}

}  // namespace tessera::drivers::rdma
