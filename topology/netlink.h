// Netlink: the node's network links, addresses and default routes, a stream of
// link events, and the few changes the RDMA driver's netdev attach makes
// (move a link to another network namespace, rename, MTU, up/down, addresses).
// All in our own types; rtnetlink and libnl stay in libnl_netlink.cc.
//
// One Netlink acts inside one network namespace: LibnlNetlink::Create() in the
// caller's, NetworkNamespaces::Connect() (netns.h) in any other.
//
// Degraded mode. When no netlink socket can be opened (seccomp, a sandbox
// without NETLINK_ROUTE), Create() and WatchLinks() return Unavailable. The
// caller logs that once at warn, sets NetlinkStats::available to 0 and rescans
// on its max poll interval only (OpenLinkEventsOrDegrade does exactly this).
// Rescans stay correct, only slower to notice changes: events never carry
// state, they only trigger a full rescan (house style §2.2, level-triggered).
//
// Thread-safety: implementations are safe for concurrent use; a
// LinkEventStream is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "base/metrics.h"
#include "topology/ip_prefix.h"
#include "topology/netns.h"

namespace tessera::topology {

// RFC 2863 operational state, as the kernel reports it (IF_OPER_* in
// linux/if.h, IFLA_OPERSTATE).
enum class OperState { kUnknown, kNotPresent, kDown, kLowerLayerDown, kTesting, kDormant, kUp };
std::string_view OperStateName(OperState state);  // "unknown", "notpresent", "down", ..., "up"

// A network interface. Named NetworkLink, not Link: topology::Link (model.h)
// is the relation between two PCI devices, and both headers meet in the
// drivers and the agent.
struct NetworkLink {
  int index = 0;          // ifindex, unique inside its namespace only
  std::string name;       // "ens6f0np0"
  std::string kind;       // IFLA_INFO_KIND: "veth", "ifb", "bridge"; empty for physical NICs
  bool up = false;        // IFF_UP: administratively up
  bool lower_up = false;  // IFF_LOWER_UP: carrier
  bool loopback = false;  // IFF_LOOPBACK
  uint32_t mtu = 0;
  uint32_t min_mtu = 0;       // IFLA_MIN_MTU; 0 when the kernel does not say
  uint32_t max_mtu = 0;       // IFLA_MAX_MTU; 0 when the kernel does not say (no limit known)
  std::string mac;            // "0c:42:a1:00:00:01", lowercase; empty without a hardware address
  std::string permanent_mac;  // IFLA_PERM_ADDRESS when the driver reports one
  OperState oper_state = OperState::kUnknown;
  int master_index = 0;  // IFLA_MASTER (bridge or bond it is enslaved to); 0 = none
  int parent_index = 0;  // IFLA_LINK (veth peer, macvlan lower device); 0 = none
  // IFLA_LINK_NETNSID: parent_index is an ifindex in that other namespace.
  std::optional<int> link_netnsid;
  friend bool operator==(const NetworkLink&, const NetworkLink&) = default;
};

struct Address {
  int link_index = 0;
  IpPrefix prefix;        // local address and prefix length
  std::string broadcast;  // IPv4 IFA_BROADCAST; empty when none (or IPv6)
  // RT_SCOPE_*: 0 universe (global), 253 link, 254 host.
  int scope = 0;
  friend bool operator==(const Address&, const Address&) = default;
};

enum class LinkEventType {
  kNewLink,   // RTM_NEWLINK: added or changed (flags, name, MTU, carrier, ...)
  kDelLink,   // RTM_DELLINK: removed or moved to another namespace
  kOverflow,  // the kernel dropped events (ENOBUFS); state is unknown: rescan
};
std::string_view LinkEventTypeName(LinkEventType type);

struct LinkEvent {
  LinkEventType type = LinkEventType::kNewLink;
  int index = 0;     // 0 for kOverflow
  std::string name;  // empty for kOverflow
  friend bool operator==(const LinkEvent&, const LinkEvent&) = default;
};

// A subscription to link events of one namespace, open from WatchLinks() until
// destroyed. Events that arrive while nobody reads are queued by the kernel
// (and reported as kOverflow when its buffer fills).
class LinkEventStream {
 public:
  virtual ~LinkEventStream() = default;
  LinkEventStream() = default;
  LinkEventStream(const LinkEventStream&) = delete;
  LinkEventStream& operator=(const LinkEventStream&) = delete;

  // Blocks until the next event or until `stop` is requested. Cancelled when
  // stopped; Unavailable when the socket failed (open a new stream and rescan).
  virtual absl::StatusOr<LinkEvent> Next(std::stop_token stop) = 0;
};

class Netlink {
 public:
  virtual ~Netlink() = default;
  Netlink() = default;
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;

  // --- Reading. Errors: Unavailable (socket), Aborted (a dump kept being
  // interrupted by concurrent changes, after retries), or the kernel's errno.

  // Every link of the namespace, sorted by index.
  virtual absl::StatusOr<std::vector<NetworkLink>> ListLinks() = 0;
  // Addresses of link `link_index`, or of every link with kAllLinks; sorted by
  // link index, then family, then address. An unknown index gives an empty list.
  static constexpr int kAllLinks = 0;
  virtual absl::StatusOr<std::vector<Address>> ListAddresses(int link_index) = 0;
  // Indexes of the links that carry a default route (destination /0, type
  // unicast) of `family` in the main routing table, multipath next hops
  // included; sorted, without duplicates. Policy-routing tables are not
  // considered: a NIC with a default route only in its own table is a
  // normal secondary NIC.
  virtual absl::StatusOr<std::vector<int>> DefaultRouteLinks(IpFamily family) = 0;
  // Subscribes to link events of this namespace.
  virtual absl::StatusOr<std::unique_ptr<LinkEventStream>> WatchLinks() = 0;

  // --- Changing. Each is one rtnetlink request; errors carry the kernel's
  // errno code (NotFound for ENODEV, AlreadyExists for EEXIST,
  // InvalidArgument for EINVAL/ERANGE, FailedPrecondition for EBUSY,
  // PermissionDenied for EPERM) and its extended-ack text when it gave one.

  // Moves link `index` into `target`. With a non-empty `name_in_target` the
  // link is renamed as part of the move (also avoiding a clash with its old
  // name there). The link is down after a move and has no addresses: the
  // kernel flushes them. Its index may change if taken in the target.
  virtual absl::Status MoveLinkToNetns(int index, const NetnsHandle& target,
                                       std::string_view name_in_target) = 0;
  // FailedPrecondition when the link is up and the kernel refuses to rename a
  // running link (kernels before 6.2 do; callers set it down first).
  virtual absl::Status RenameLink(int index, std::string_view name) = 0;
  virtual absl::Status SetMtu(int index, uint32_t mtu) = 0;
  virtual absl::Status SetUp(int index, bool up) = 0;
  // AlreadyExists when the link already has this address.
  virtual absl::Status AddAddress(const Address& address) = 0;
  // NotFound when the link does not have it.
  virtual absl::Status DeleteAddress(const Address& address) = 0;
};

// Lookups over a ListLinks() result.
const NetworkLink* FindLinkByName(const std::vector<NetworkLink>& links, std::string_view name);
const NetworkLink* FindLinkByIndex(const std::vector<NetworkLink>& links, int index);
// Matches `mac` against mac and permanent_mac. Returns nullptr when no link or
// more than one link has it (veth pairs can share a MAC); empty `mac` never matches.
const NetworkLink* FindLinkByMac(const std::vector<NetworkLink>& links, std::string_view mac);

// The netlink module's metrics, bound to a registry.
struct NetlinkStats {
  explicit NetlinkStats(base::metrics::Registry& registry);
  // 1 while link events are being received, 0 in degraded (poll-only) mode.
  base::metrics::Gauge& available;
  base::metrics::Counter& events_total;           // link events delivered
  base::metrics::Counter& event_overflows_total;  // ENOBUFS: events lost, rescan forced
  base::metrics::Counter& dump_retries_total;     // dumps restarted after NLE_DUMP_INTR
};

// Opens a link-event stream for a rescan loop. On failure it logs one warn
// line (module "netlink"), sets stats.available to 0 and returns nullptr: the
// caller then rescans on its poll interval only. On success it sets
// stats.available to 1.
std::unique_ptr<LinkEventStream> OpenLinkEventsOrDegrade(Netlink& netlink, NetlinkStats& stats);

}  // namespace tessera::topology
