#include "drivers/rdma/netdev_attach.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include "base/json_util.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace tessera::drivers::rdma {
namespace {

using topology::Address;
using topology::IpFamily;
using topology::IpPrefix;
using topology::NetworkLink;

constexpr std::string_view kApiVersion = "tessera.dev/v1";
constexpr std::string_view kKind = "NetdevAttachRecord";
// IFNAMSIZ (include/uapi/linux/if.h) includes the terminating NUL.
constexpr size_t kMaxInterfaceName = 15;

// The broadcast address "ip addr add ... brd +" would set: for /0../30 the
// all-ones host part; none for /31 (RFC 3021) and /32.
std::string Ipv4Broadcast(const IpPrefix& prefix) {
  if (prefix.family != IpFamily::kIpv4 || prefix.prefix_length > 30) return "";
  std::array<uint8_t, 4> b{};
  if (::inet_pton(AF_INET, prefix.address.c_str(), b.data()) != 1) return "";
  uint32_t v = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  uint32_t host_mask =
      prefix.prefix_length == 0 ? 0xffffffffu : (0xffffffffu >> prefix.prefix_length);
  v |= host_mask;
  return base::StrCat(v >> 24, ".", (v >> 16) & 0xff, ".", (v >> 8) & 0xff, ".", v & 0xff);
}

// Finds the link of a record: by MAC when known, else (and only then, or when
// `name_fallback` says the name is ours to trust) by name.
const NetworkLink* Locate(const std::vector<NetworkLink>& links, std::string_view mac,
                          std::string_view name, bool name_fallback) {
  if (!mac.empty()) {
    if (const NetworkLink* l = topology::FindLinkByMac(links, mac)) return l;
    if (!name_fallback) return nullptr;
  }
  return topology::FindLinkByName(links, name);
}

bool SameAddress(const Address& a, const IpPrefix& p) {
  return a.prefix.family == p.family && a.prefix.address == p.address;
}

std::string LinkName(const std::vector<NetworkLink>& links, int index) {
  const NetworkLink* l = topology::FindLinkByIndex(links, index);
  return l ? l->name : base::StrCat("#", index);
}

}  // namespace

absl::Status ValidateInterfaceName(std::string_view name, std::string_view field) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        base::StrCat(field, ": interface name ", base::Quote(name), " ", why));
  };
  if (name.empty()) return absl::InvalidArgumentError(base::StrCat(field, ": required"));
  if (name.size() > kMaxInterfaceName) return bad("is longer than 15 bytes");
  if (name == "." || name == "..") return bad("is not allowed");
  for (unsigned char c : name) {
    // The kernel's dev_valid_name() refuses '/', ':' and whitespace; '%' would
    // make it a template ("net%d") that the kernel expands.
    if (c == '/' || c == ':' || c == '%' || std::isspace(c) || !std::isprint(c)) {
      return bad("contains a character Linux does not allow ('/', ':', '%', space or control)");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateNetdevConfig(const NetdevConfig& config) {
  RETURN_IF_ERROR(ValidateInterfaceName(config.host_interface, "hostInterface"));
  RETURN_IF_ERROR(ValidateInterfaceName(config.container_interface, "containerInterface"));
  if (config.mtu.has_value() && (*config.mtu < kMinMtu || *config.mtu > kMaxMtu)) {
    return absl::InvalidArgumentError(
        base::StrCat("mtu: ", *config.mtu, " is outside ", kMinMtu, "..", kMaxMtu));
  }
  if (!config.rdma_device.empty()) {
    // IB_DEVICE_NAME_MAX is 64 with the NUL (include/rdma/ib_verbs.h).
    bool ok = config.rdma_device.size() < 64;
    for (unsigned char c : config.rdma_device) {
      ok = ok && c != '/' && !std::isspace(c) && std::isprint(c);
    }
    if (!ok) {
      return absl::InvalidArgumentError(base::StrCat(
          "rdmaDevice: ", base::Quote(config.rdma_device), " is not an RDMA device name"));
    }
  }
  for (size_t i = 0; i < config.addresses.size(); ++i) {
    const IpPrefix& a = config.addresses[i];
    RETURN_IF_ERROR(
        base::Annotate(topology::ValidateInterfaceAddress(a), base::StrCat("addresses[", i, "]")));
    if (a.family == IpFamily::kIpv6 && config.mtu.has_value() && *config.mtu < kMinIpv6Mtu) {
      return absl::InvalidArgumentError(
          base::StrCat("mtu: ", *config.mtu, " is below ", kMinIpv6Mtu,
                       ", the IPv6 minimum, and addresses[", i, "] is IPv6"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (SameAddress(Address{.prefix = config.addresses[j]}, a)) {
        return absl::InvalidArgumentError(base::StrCat(
            "addresses[", i, "]: ", a.address, " is listed twice (also addresses[", j, "])"));
      }
    }
  }
  return absl::OkStatus();
}

std::string_view RestoreOutcomeName(RestoreOutcome outcome) {
  switch (outcome) {
    case RestoreOutcome::kRestored:
      return "restored";
    case RestoreOutcome::kAlreadyRestored:
      return "already-restored";
    case RestoreOutcome::kLinkGone:
      return "link-gone";
  }
  return "unknown";
}

// --- Record (de)serialization.

nlohmann::json AttachRecordToJson(const AttachRecord& r) {
  nlohmann::json addresses = nlohmann::json::array();
  for (const Address& a : r.original.addresses) {
    nlohmann::json j = {{"address", a.prefix.ToString()}, {"scope", a.scope}};
    if (!a.broadcast.empty()) j["broadcast"] = a.broadcast;
    addresses.push_back(std::move(j));
  }
  return {
      {"apiVersion", kApiVersion},
      {"kind", kKind},
      {"original",
       {{"name", r.original.name},
        {"index", r.original.index},
        {"mac", r.original.mac},
        {"kind", r.original.kind},
        {"mtu", r.original.mtu},
        {"up", r.original.up},
        {"addresses", std::move(addresses)}}},
      {"containerInterface", r.container_interface},
      {"pid", r.pid},
      {"netns", {{"device", r.netns.device}, {"inode", r.netns.inode}}},
      {"rdmaDevice", r.rdma_device},
      {"rdmaMoved", r.rdma_moved},
  };
}

absl::StatusOr<AttachRecord> AttachRecordFromJson(const nlohmann::json& json,
                                                  std::string_view what) {
  namespace j = base::json;
  if (!json.is_object()) return j::TypeError(what, "object", json);
  ASSIGN_OR_RETURN(std::string api, j::GetString(json, what, "apiVersion"));
  ASSIGN_OR_RETURN(std::string kind, j::GetString(json, what, "kind"));
  if (api != kApiVersion || kind != kKind) {
    return absl::InvalidArgumentError(base::StrCat(what, ": expected ", kApiVersion, " ", kKind,
                                                   ", got ", base::Quote(api), " ",
                                                   base::Quote(kind)));
  }
  AttachRecord r;
  const std::string orig_path = j::Field(what, "original");
  ASSIGN_OR_RETURN(const nlohmann::json* o, j::GetObject(json, what, "original"));
  ASSIGN_OR_RETURN(r.original.name, j::GetString(*o, orig_path, "name"));
  RETURN_IF_ERROR(ValidateInterfaceName(r.original.name, j::Field(orig_path, "name")));
  ASSIGN_OR_RETURN(int64_t index, j::GetInt(*o, orig_path, "index"));
  ASSIGN_OR_RETURN(std::optional<std::string> mac, j::GetOptionalString(*o, orig_path, "mac"));
  ASSIGN_OR_RETURN(std::optional<std::string> link_kind,
                   j::GetOptionalString(*o, orig_path, "kind"));
  ASSIGN_OR_RETURN(int64_t mtu, j::GetInt(*o, orig_path, "mtu"));
  ASSIGN_OR_RETURN(std::optional<bool> up, j::GetOptionalBool(*o, orig_path, "up"));
  if (index < 0 || index > INT32_MAX) {
    return absl::InvalidArgumentError(base::StrCat(j::Field(orig_path, "index"), ": out of range"));
  }
  if (mtu < 0 || mtu > UINT32_MAX) {
    return absl::InvalidArgumentError(base::StrCat(j::Field(orig_path, "mtu"), ": out of range"));
  }
  if (!up.has_value()) {
    return absl::InvalidArgumentError(
        base::StrCat(j::Field(orig_path, "up"), ": required field missing"));
  }
  r.original.index = static_cast<int>(index);
  r.original.mac = base::ToLower(mac.value_or(""));
  r.original.kind = link_kind.value_or("");
  r.original.mtu = static_cast<uint32_t>(mtu);
  r.original.up = *up;
  ASSIGN_OR_RETURN(const nlohmann::json* addrs, j::GetOptionalArray(*o, orig_path, "addresses"));
  if (addrs != nullptr) {
    for (size_t i = 0; i < addrs->size(); ++i) {
      const std::string p = j::Index(j::Field(orig_path, "addresses"), i);
      const nlohmann::json& a = (*addrs)[i];
      if (!a.is_object()) return j::TypeError(p, "object", a);
      ASSIGN_OR_RETURN(std::string text, j::GetString(a, p, "address"));
      ASSIGN_OR_RETURN(IpPrefix prefix,
                       base::Annotate(topology::ParseIpPrefix(text), j::Field(p, "address")));
      ASSIGN_OR_RETURN(std::optional<std::string> brd, j::GetOptionalString(a, p, "broadcast"));
      ASSIGN_OR_RETURN(std::optional<int64_t> scope, j::GetOptionalInt(a, p, "scope"));
      if (scope.value_or(0) < 0 || scope.value_or(0) > 255) {
        return absl::InvalidArgumentError(base::StrCat(j::Field(p, "scope"), ": out of range"));
      }
      r.original.addresses.push_back(Address{.link_index = r.original.index,
                                             .prefix = std::move(prefix),
                                             .broadcast = brd.value_or(""),
                                             .scope = static_cast<int>(scope.value_or(0))});
    }
  }
  ASSIGN_OR_RETURN(r.container_interface, j::GetString(json, what, "containerInterface"));
  RETURN_IF_ERROR(
      ValidateInterfaceName(r.container_interface, j::Field(what, "containerInterface")));
  ASSIGN_OR_RETURN(std::optional<int64_t> pid, j::GetOptionalInt(json, what, "pid"));
  if (pid.value_or(0) < 0 || pid.value_or(0) > INT32_MAX) {
    return absl::InvalidArgumentError(base::StrCat(j::Field(what, "pid"), ": out of range"));
  }
  r.pid = static_cast<int>(pid.value_or(0));
  ASSIGN_OR_RETURN(const nlohmann::json* ns, j::GetOptionalObject(json, what, "netns"));
  if (ns != nullptr) {
    const std::string p = j::Field(what, "netns");
    ASSIGN_OR_RETURN(int64_t dev, j::GetInt(*ns, p, "device"));
    ASSIGN_OR_RETURN(int64_t ino, j::GetInt(*ns, p, "inode"));
    if (dev < 0 || ino < 0) {
      return absl::InvalidArgumentError(base::StrCat(p, ": negative device or inode"));
    }
    r.netns = topology::NetnsId{.device = static_cast<uint64_t>(dev),
                                .inode = static_cast<uint64_t>(ino)};
  }
  ASSIGN_OR_RETURN(std::optional<std::string> rdma_device,
                   j::GetOptionalString(json, what, "rdmaDevice"));
  ASSIGN_OR_RETURN(std::optional<bool> rdma_moved, j::GetOptionalBool(json, what, "rdmaMoved"));
  r.rdma_device = rdma_device.value_or("");
  r.rdma_moved = rdma_moved.value_or(false);
  if (r.rdma_moved && r.rdma_device.empty()) {
    return absl::InvalidArgumentError(
        base::StrCat(j::Field(what, "rdmaDevice"), ": required when rdmaMoved is true"));
  }
  return r;
}

absl::StatusOr<std::optional<AttachRecord>> ReadAttachRecord(const base::Filesystem& fs,
                                                             const std::string& path) {
  absl::StatusOr<std::string> text = fs.ReadFile(path, 1 << 20);
  if (absl::IsNotFound(text.status())) return std::optional<AttachRecord>();
  if (!text.ok()) return base::Annotate(text.status(), "read attach record");
  ASSIGN_OR_RETURN(nlohmann::json json, base::json::Parse(*text, path));
  ASSIGN_OR_RETURN(AttachRecord r, AttachRecordFromJson(json, path));
  return std::optional<AttachRecord>(std::move(r));
}

// --- NetdevAttacher.

NetdevAttacher::NetdevAttacher(topology::NetworkNamespaces& namespaces, topology::NetnsHandle host,
                               std::unique_ptr<topology::Netlink> host_netlink,
                               base::Filesystem& fs, RdmaNetlink* rdma)
    : namespaces_(namespaces),
      host_(std::move(host)),
      host_netlink_(std::move(host_netlink)),
      fs_(fs),
      rdma_(rdma) {}

absl::StatusOr<std::unique_ptr<NetdevAttacher>> NetdevAttacher::Create(
    topology::NetworkNamespaces& namespaces, topology::NetnsHandle host, base::Filesystem& fs,
    RdmaNetlink* rdma) {
  ASSIGN_OR_RETURN(std::unique_ptr<topology::Netlink> nl, namespaces.Connect(host));
  return std::unique_ptr<NetdevAttacher>(
      new NetdevAttacher(namespaces, std::move(host), std::move(nl), fs, rdma));
}

absl::Status NetdevAttacher::CheckHostSide(const NetdevConfig& config,
                                           const std::vector<NetworkLink>& links,
                                           const NetworkLink& link, LinkSettings* settings) {
  if (link.loopback) {
    return absl::InvalidArgumentError(base::StrCat("link ", link.name, " is a loopback interface"));
  }
  if (link.master_index != 0) {
    return absl::FailedPreconditionError(
        base::StrCat("link ", link.name, " is enslaved to ", LinkName(links, link.master_index),
                     "; moving it would change the host's bridge or bond"));
  }
  for (IpFamily family : {IpFamily::kIpv4, IpFamily::kIpv6}) {
    ASSIGN_OR_RETURN(std::vector<int> defaults, host_netlink_->DefaultRouteLinks(family));
    if (std::find(defaults.begin(), defaults.end(), link.index) != defaults.end()) {
      return absl::FailedPreconditionError(
          base::StrCat("link ", link.name, " carries the host's ", IpFamilyName(family),
                       " default route; moving it would cut the node off the network"));
    }
  }
  if (config.mtu.has_value()) {
    uint32_t lo = std::max(kMinMtu, link.min_mtu);
    uint32_t hi = link.max_mtu != 0 ? std::min(kMaxMtu, link.max_mtu) : kMaxMtu;
    if (*config.mtu < lo || *config.mtu > hi) {
      return absl::InvalidArgumentError(base::StrCat("mtu: ", *config.mtu, " is outside ", lo, "..",
                                                     hi, ", the range link ", link.name,
                                                     " supports"));
    }
  }
  ASSIGN_OR_RETURN(std::vector<Address> host_addresses,
                   host_netlink_->ListAddresses(topology::Netlink::kAllLinks));
  for (const IpPrefix& want : config.addresses) {
    for (const Address& have : host_addresses) {
      if (have.link_index != link.index && SameAddress(have, want)) {
        return absl::AlreadyExistsError(base::StrCat("address ", want.address,
                                                     " is already in use on host link ",
                                                     LinkName(links, have.link_index)));
      }
    }
  }
  settings->name = link.name;
  settings->index = link.index;
  settings->mac = link.mac;
  settings->kind = link.kind;
  settings->mtu = link.mtu;
  settings->up = link.up;
  settings->addresses.clear();
  for (const Address& a : host_addresses) {
    if (a.link_index == link.index) settings->addresses.push_back(a);
  }
  return absl::OkStatus();
}

absl::Status NetdevAttacher::CheckAttachable(const NetdevConfig& config) {
  const std::string what = base::StrCat("check attach of ", config.host_interface);
  RETURN_IF_ERROR(base::Annotate(ValidateNetdevConfig(config), what));
  ASSIGN_OR_RETURN(std::vector<NetworkLink> links,
                   base::Annotate(host_netlink_->ListLinks(), what));
  const NetworkLink* link = topology::FindLinkByName(links, config.host_interface);
  if (link == nullptr) {
    return absl::NotFoundError(
        base::StrCat(what, ": no link named ", config.host_interface, " in the host namespace"));
  }
  LinkSettings ignored;
  return base::Annotate(CheckHostSide(config, links, *link, &ignored), what);
}

absl::StatusOr<bool> NetdevAttacher::CheckRdmaDevice(const std::string& device) {
  if (rdma_ == nullptr) {
    return absl::FailedPreconditionError(
        base::StrCat("rdma device ", device, " requested but RDMA netlink is not available"));
  }
  ASSIGN_OR_RETURN(RdmaNetnsMode mode, rdma_->GetNetnsMode());
  ASSIGN_OR_RETURN(std::vector<RdmaDeviceRef> devices, rdma_->ListDevices());
  if (std::none_of(devices.begin(), devices.end(),
                   [&](const RdmaDeviceRef& d) { return d.name == device; })) {
    return absl::NotFoundError(
        base::StrCat("no rdma device named ", device, " in the host namespace"));
  }
  // In shared mode every namespace sees the device already.
  return mode == RdmaNetnsMode::kExclusive;
}

absl::StatusOr<AttachRecord> NetdevAttacher::AlreadyAttached(const NetdevConfig& config,
                                                             const topology::NetnsHandle& target,
                                                             const std::string& state_file) {
  absl::Status not_found = absl::NotFoundError(
      base::StrCat("no link named ", config.host_interface, " in the host namespace"));
  if (state_file.empty()) return not_found;
  ASSIGN_OR_RETURN(std::optional<AttachRecord> record, ReadAttachRecord(fs_, state_file));
  if (!record.has_value() || record->original.name != config.host_interface ||
      record->container_interface != config.container_interface) {
    return not_found;
  }
  ASSIGN_OR_RETURN(std::unique_ptr<topology::Netlink> nl, namespaces_.Connect(target));
  ASSIGN_OR_RETURN(std::vector<NetworkLink> links, nl->ListLinks());
  const NetworkLink* l = Locate(links, record->original.mac, config.container_interface, false);
  if (l == nullptr || l->name != config.container_interface) return not_found;
  return *std::move(record);
}

absl::Status NetdevAttacher::ConfigureInTarget(const NetdevConfig& config,
                                               const LinkSettings& original,
                                               topology::Netlink& target) {
  ASSIGN_OR_RETURN(std::vector<NetworkLink> links, target.ListLinks());
  const NetworkLink* l = Locate(links, original.mac, config.container_interface, true);
  if (l == nullptr || l->name != config.container_interface) {
    return absl::InternalError(base::StrCat("moved link ", config.container_interface,
                                            " not found in the target namespace"));
  }
  const int index = l->index;
  if (config.mtu.has_value() && l->mtu != *config.mtu) {
    RETURN_IF_ERROR(target.SetMtu(index, *config.mtu));
  }
  for (const IpPrefix& p : config.addresses) {
    RETURN_IF_ERROR(target.AddAddress(
        Address{.link_index = index, .prefix = p, .broadcast = Ipv4Broadcast(p)}));
  }
  return target.SetUp(index, true);
}

absl::StatusOr<AttachRecord> NetdevAttacher::Attach(const NetdevConfig& config, int pid,
                                                    const topology::NetnsHandle& target,
                                                    const std::string& state_file) {
  const std::string what = base::StrCat("attach link ", config.host_interface, " to ",
                                        target.description(), " as ", config.container_interface);
  RETURN_IF_ERROR(base::Annotate(ValidateNetdevConfig(config), what));
  if (target.id() == host_.id()) {
    return absl::FailedPreconditionError(
        base::StrCat(what, ": the container shares the host network namespace (hostNetwork)"));
  }
  ASSIGN_OR_RETURN(std::vector<NetworkLink> links,
                   base::Annotate(host_netlink_->ListLinks(), what));
  const NetworkLink* link = topology::FindLinkByName(links, config.host_interface);
  if (link == nullptr) return base::Annotate(AlreadyAttached(config, target, state_file), what);

  AttachRecord record{.container_interface = config.container_interface,
                      .pid = pid,
                      .netns = target.id(),
                      .rdma_device = config.rdma_device};
  RETURN_IF_ERROR(base::Annotate(CheckHostSide(config, links, *link, &record.original), what));
  if (!config.rdma_device.empty()) {
    ASSIGN_OR_RETURN(record.rdma_moved, base::Annotate(CheckRdmaDevice(config.rdma_device), what));
  }

  ASSIGN_OR_RETURN(std::unique_ptr<topology::Netlink> target_nl,
                   base::Annotate(namespaces_.Connect(target), what));
  ASSIGN_OR_RETURN(
      std::vector<NetworkLink> target_links,
      base::Annotate(target_nl->ListLinks(), base::StrCat(what, ": list target links")));
  if (const NetworkLink* clash =
          topology::FindLinkByName(target_links, config.container_interface)) {
    return absl::AlreadyExistsError(
        base::StrCat(what, ": the target namespace already has a link named ", clash->name));
  }
  ASSIGN_OR_RETURN(std::vector<Address> target_addresses,
                   base::Annotate(target_nl->ListAddresses(topology::Netlink::kAllLinks), what));
  for (const IpPrefix& want : config.addresses) {
    for (const Address& have : target_addresses) {
      if (SameAddress(have, want)) {
        return absl::AlreadyExistsError(base::StrCat(
            what, ": address ", want.address, " is already in use in the target namespace on link ",
            LinkName(target_links, have.link_index)));
      }
    }
  }

  if (!state_file.empty()) {
    RETURN_IF_ERROR(base::Annotate(fs_.CreateDirectories(base::DirName(state_file), 0700), what));
    RETURN_IF_ERROR(
        base::Annotate(fs_.WriteFileAtomic(state_file, AttachRecordToJson(record).dump(2) + "\n",
                                           base::WriteOptions{.mode = 0600, .durable = true}),
                       base::StrCat(what, ": record original settings")));
  }

  // From here on the host changes; any failure is rolled back.
  absl::Status status =
      host_netlink_->MoveLinkToNetns(record.original.index, target, config.container_interface);
  if (status.ok()) status = ConfigureInTarget(config, record.original, *target_nl);
  // Last, so a failure here only has the netdev to roll back.
  if (status.ok() && record.rdma_moved)
    status = rdma_->MoveDeviceToNetns(config.rdma_device, target);
  if (status.ok()) return record;

  absl::StatusOr<RestoreOutcome> rollback = RestoreFrom(record, target_nl.get());
  if (!rollback.ok()) {
    return absl::Status(
        status.code(),
        base::StrCat(what, ": ", base::Std(status.message()),
                     "; rollback failed: ", base::Std(rollback.status().message()),
                     state_file.empty()
                         ? std::string()
                         : base::StrCat("; original settings kept in ", state_file)));
  }
  if (!state_file.empty()) (void)fs_.RemoveFile(state_file, /*durable=*/true);
  return absl::Status(status.code(),
                      base::StrCat(what, ": ", base::Std(status.message()), " (rolled back)"));
}

absl::StatusOr<bool> NetdevAttacher::RestoreOnHost(const AttachRecord& record,
                                                   const NetworkLink& link) {
  const LinkSettings& o = record.original;
  const int index = link.index;
  bool changed = false;
  bool up = link.up;
  if (link.name != o.name) {
    ASSIGN_OR_RETURN(std::vector<NetworkLink> links, host_netlink_->ListLinks());
    if (const NetworkLink* other = topology::FindLinkByName(links, o.name);
        other != nullptr && other->index != index) {
      return absl::FailedPreconditionError(
          base::StrCat("the host has another link named ", o.name, " (index ", other->index, ")"));
    }
    if (up) {
      RETURN_IF_ERROR(host_netlink_->SetUp(index, false));
      up = false;
    }
    RETURN_IF_ERROR(host_netlink_->RenameLink(index, o.name));
    changed = true;
  }
  if (o.mtu != 0 && link.mtu != o.mtu) {
    RETURN_IF_ERROR(host_netlink_->SetMtu(index, o.mtu));
    changed = true;
  }
  ASSIGN_OR_RETURN(std::vector<Address> current, host_netlink_->ListAddresses(index));
  for (const Address& a : o.addresses) {
    if (a.prefix.family == IpFamily::kIpv6 && a.prefix.IsLinkLocal()) continue;
    bool present = std::any_of(current.begin(), current.end(), [&](const Address& c) {
      return SameAddress(c, a.prefix) && c.prefix.prefix_length == a.prefix.prefix_length;
    });
    if (present) continue;
    Address add = a;
    add.link_index = index;
    absl::Status s = host_netlink_->AddAddress(add);
    if (!s.ok() && !absl::IsAlreadyExists(s)) return s;
    changed = true;
  }
  if (up != o.up) {
    RETURN_IF_ERROR(host_netlink_->SetUp(index, o.up));
    changed = true;
  }
  return changed;
}

absl::StatusOr<RestoreOutcome> NetdevAttacher::RestoreFrom(const AttachRecord& record,
                                                           topology::Netlink* from) {
  const LinkSettings& o = record.original;
  ASSIGN_OR_RETURN(std::vector<NetworkLink> host_links, host_netlink_->ListLinks());
  if (const NetworkLink* l = Locate(host_links, o.mac, o.name, false)) {
    ASSIGN_OR_RETURN(bool changed, RestoreOnHost(record, *l));
    return changed ? RestoreOutcome::kRestored : RestoreOutcome::kAlreadyRestored;
  }
  if (from != nullptr) {
    ASSIGN_OR_RETURN(std::vector<NetworkLink> links, from->ListLinks());
    if (const NetworkLink* l = Locate(links, o.mac, record.container_interface, true)) {
      if (const NetworkLink* clash = topology::FindLinkByName(host_links, o.name)) {
        return absl::FailedPreconditionError(base::StrCat("move ", l->name,
                                                          " back: the host has another link named ",
                                                          o.name, " (index ", clash->index, ")"));
      }
      RETURN_IF_ERROR(from->MoveLinkToNetns(l->index, host_, o.name));
      ASSIGN_OR_RETURN(host_links, host_netlink_->ListLinks());
      const NetworkLink* back = Locate(host_links, o.mac, o.name, true);
      if (back == nullptr) {
        return absl::InternalError(
            base::StrCat("link ", o.name, " not found after moving it back"));
      }
      ASSIGN_OR_RETURN(bool changed, RestoreOnHost(record, *back));
      (void)changed;
      return RestoreOutcome::kRestored;
    }
  }
  if (!o.kind.empty()) return RestoreOutcome::kLinkGone;
  return absl::UnavailableError(base::StrCat(
      "link ", o.name, " (mac ", o.mac.empty() ? "unknown" : o.mac,
      ") is neither on the host nor in the container namespace; a physical NIC returns to the "
      "host when its namespace is cleaned up: retry"));
}

absl::StatusOr<RestoreOutcome> NetdevAttacher::Restore(const RestoreRequest& request) {
  const AttachRecord& record = request.record;
  const std::string what = base::StrCat("restore link ", record.original.name);
  absl::StatusOr<topology::NetnsHandle> ns = absl::NotFoundError("no container namespace given");
  if (!request.netns_path.empty()) {
    ns = namespaces_.OpenPath(request.netns_path);
  } else if (request.pid.has_value()) {
    ns = namespaces_.OpenProcess(*request.pid);
  } else if (record.pid > 0) {
    ns = namespaces_.OpenProcess(record.pid);
    // The pid may have been reused by a process in another namespace.
    if (ns.ok() && !(ns->id() == record.netns)) ns = absl::NotFoundError("pid was reused");
  }
  if (!ns.ok() && !absl::IsNotFound(ns.status())) return base::Annotate(ns.status(), what);
  std::unique_ptr<topology::Netlink> from;
  if (ns.ok() && !(ns->id() == host_.id())) {
    absl::StatusOr<std::unique_ptr<topology::Netlink>> nl = namespaces_.Connect(*ns);
    if (!nl.ok() && !absl::IsNotFound(nl.status())) return base::Annotate(nl.status(), what);
    if (nl.ok()) from = std::move(nl).value();
  }
  ASSIGN_OR_RETURN(RestoreOutcome outcome, base::Annotate(RestoreFrom(record, from.get()), what));
  if (record.rdma_moved) {
    // The kernel returns an RDMA device to the initial namespace when the
    // namespace it was moved to dies (ib_core rdma_dev_exit_net).
    if (rdma_ == nullptr) {
      return absl::FailedPreconditionError(
          base::StrCat(what, ": rdma device ", record.rdma_device,
                       " was moved but RDMA netlink is not available"));
    }
    ASSIGN_OR_RETURN(std::vector<RdmaDeviceRef> devices,
                     base::Annotate(rdma_->ListDevices(), what));
    if (std::none_of(devices.begin(), devices.end(),
                     [&](const RdmaDeviceRef& d) { return d.name == record.rdma_device; })) {
      return absl::UnavailableError(base::StrCat(
          what, ": rdma device ", record.rdma_device,
          " is not back in the host namespace yet; the kernel returns it when the container's "
          "namespace is cleaned up: retry"));
    }
  }
  return outcome;
}

absl::StatusOr<RestoreOutcome> NetdevAttacher::RestoreFromFile(const std::string& state_file,
                                                               std::optional<int> pid,
                                                               std::string netns_path) {
  ASSIGN_OR_RETURN(std::optional<AttachRecord> record, ReadAttachRecord(fs_, state_file));
  if (!record.has_value()) return RestoreOutcome::kAlreadyRestored;
  ASSIGN_OR_RETURN(
      RestoreOutcome outcome,
      Restore(RestoreRequest{
          .record = *std::move(record), .pid = pid, .netns_path = std::move(netns_path)}));
  absl::Status removed = fs_.RemoveFile(state_file, /*durable=*/true);
  if (!removed.ok() && !absl::IsNotFound(removed)) {
    return base::Annotate(removed, base::StrCat("remove attach record ", state_file));
  }
  return outcome;
}

}  // namespace tessera::drivers::rdma
