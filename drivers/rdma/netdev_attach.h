// Netdev attachment: moving a NIC's network interface into a container's
// network namespace (renamed, with MTU and addresses from the claim's config)
// and putting it back afterwards, exactly as it was.
//
// The move happens inside the container runtime, in a CDI createRuntime hook
// (tessera-netns-hook, see netns_hook.h), because only then does the
// container's namespace exist. The hook calls NetdevAttacher::Attach; the RDMA
// driver's UnprepareClaim calls NetdevAttacher::RestoreFromFile. They share
// one durable record (AttachRecord, JSON, written before the move), so the
// link can be restored after an agent restart or a reboot of the agent's pod.
//
// Attach validates everything before it changes anything; a failure after the
// move moves the link back and restores it. Restore is idempotent.
//
// Thread-safety: a NetdevAttacher is safe for concurrent use on different
// links; callers serialize operations on one link (the kubelet contract does).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

#include "base/filesystem.h"
#include "drivers/rdma/rdma_netlink.h"
#include "topology/ip_prefix.h"
#include "topology/netlink.h"
#include "topology/netns.h"

namespace tessera::drivers::rdma {

inline constexpr std::string_view kDefaultContainerInterface = "net1";
// IPv4 minimum (RFC 791) and the largest MTU when a link reports no max_mtu.
inline constexpr uint32_t kMinMtu = 68;
inline constexpr uint32_t kMaxMtu = 65535;
// IPv6 needs at least this MTU (RFC 8200); the kernel disables IPv6 below it.
inline constexpr uint32_t kMinIpv6Mtu = 1280;

// What a claim asks for.
struct NetdevConfig {
  std::string host_interface;  // the NIC's netdev on the host, e.g. "ens6f0np0"
  std::string container_interface = std::string(kDefaultContainerInterface);
  std::optional<uint32_t> mtu;  // unset: keep the link's MTU
  std::vector<topology::IpPrefix> addresses;
  // The NIC's RDMA device ("mlx5_0"). Set it when the host's RDMA netns mode is
  // exclusive: the device then moves into the container with the netdev (the
  // attach re-checks the mode and skips the move in shared mode).
  std::string rdma_device;
  friend bool operator==(const NetdevConfig&, const NetdevConfig&) = default;
};

// Checks what can be checked without the host: interface names are valid
// Linux names (1..15 bytes, no '/', ':' or whitespace, not "." or ".."), the
// MTU is in kMinMtu..kMaxMtu (and >= kMinIpv6Mtu with IPv6 addresses), and
// the addresses are assignable and distinct, the RDMA device name (if any) is
// 1..63 bytes without '/' or whitespace. InvalidArgument naming the field.
absl::Status ValidateNetdevConfig(const NetdevConfig& config);
// The same name rule, for one name; `field` names it in the message.
absl::Status ValidateInterfaceName(std::string_view name, std::string_view field);

// A link's host-side settings before the attach: what Restore puts back.
struct LinkSettings {
  std::string name;
  int index = 0;
  std::string mac;   // finds the link again wherever it went (empty: by name)
  std::string kind;  // "" for a physical NIC; "veth", "ifb", ... die with their namespace
  uint32_t mtu = 0;
  bool up = false;
  std::vector<topology::Address> addresses;  // IPv6 link-local ones are regenerated, not restored
  friend bool operator==(const LinkSettings&, const LinkSettings&) = default;
};

// The durable record of one attach.
struct AttachRecord {
  LinkSettings original;
  std::string container_interface;
  int pid = 0;              // the container process the hook was given
  topology::NetnsId netns;  // that process's network namespace when the hook ran
  std::string rdma_device;  // config.rdma_device
  bool rdma_moved = false;  // the RDMA device was moved (exclusive mode)
  friend bool operator==(const AttachRecord&, const AttachRecord&) = default;
};

// JSON form: {"apiVersion": "rdma.tessera.dev/v1", "kind": "NetdevAttachRecord", ...}.
nlohmann::json AttachRecordToJson(const AttachRecord& record);
// InvalidArgument naming the field ("<what>.original.mtu: ...") on a bad
// document or another apiVersion/kind. Unknown fields are ignored.
absl::StatusOr<AttachRecord> AttachRecordFromJson(const nlohmann::json& json,
                                                  std::string_view what);
// nullopt when the file does not exist.
absl::StatusOr<std::optional<AttachRecord>> ReadAttachRecord(const base::Filesystem& fs,
                                                             const std::string& path);

enum class RestoreOutcome {
  kRestored,         // the link was moved back and/or its settings restored
  kAlreadyRestored,  // the link was on the host with its original settings
  kLinkGone,         // a virtual link (veth, ifb, ...) was destroyed with its namespace
};
std::string_view RestoreOutcomeName(RestoreOutcome outcome);

// Where Restore looks, besides the host namespace.
struct RestoreRequest {
  AttachRecord record;
  // A live process in the container's namespace. Unset: record.pid is used,
  // but only while that pid is still in the recorded namespace (pid reuse).
  std::optional<int> pid;
  // Or a namespace file (/run/netns/<name>, /proc/<pid>/ns/net). Wins over pid.
  std::string netns_path;
};

class NetdevAttacher {
 public:
  // `namespaces`, `fs` and `rdma` must outlive the attacher. `host` is the
  // namespace links come from and return to: NetworkNamespaces::OpenCurrent()
  // in the agent and the hook. `rdma` may be null when no config names an RDMA
  // device. Errors: those of connecting netlink in `host`.
  static absl::StatusOr<std::unique_ptr<NetdevAttacher>> Create(
      topology::NetworkNamespaces& namespaces, topology::NetnsHandle host, base::Filesystem& fs,
      RdmaNetlink* rdma = nullptr);

  // Moves config.host_interface into `target` as config.container_interface,
  // sets the MTU, adds the addresses and brings it up. `pid` is recorded.
  // With a non-empty `state_file`, the original settings are written there
  // (atomically, fsynced) before anything changes.
  //
  // Refused, with the link untouched:
  //   InvalidArgument     bad config (see ValidateNetdevConfig); MTU outside
  //                       max(68, link min_mtu)..(link max_mtu or 65535); loopback
  //   NotFound            no such link on the host
  //   FailedPrecondition  the link carries a default route of the host (main
  //                       table, IPv4 or IPv6); it is enslaved to a bridge/bond;
  //                       the target is the host namespace itself
  //   AlreadyExists       the target has a link named container_interface; a
  //                       requested address is on another host link or in the target
  //   NotFound            config.rdma_device is not an RDMA device of the host
  //   FailedPrecondition  config.rdma_device is set but there is no RdmaNetlink
  // A failure after the move moves the link back and restores it, and returns
  // the failure (annotated "rolled back"; "rollback failed" when that failed too,
  // in which case the state file is kept for RestoreFromFile).
  //
  // Idempotent: when the link is already in `target` under its container name
  // (the record in `state_file` says it was moved there), returns that record.
  absl::StatusOr<AttachRecord> Attach(const NetdevConfig& config, int pid,
                                      const topology::NetnsHandle& target,
                                      const std::string& state_file);

  // Puts the recorded link back on the host as it was: finds it on the host
  // (by MAC, else by name) or in the container's namespace, moves it back
  // under its original name, restores MTU, addresses and up state.
  // Errors: FailedPrecondition when the host has another link with the
  // original name; Unavailable when a physical NIC is nowhere to be found yet
  // (the kernel returns it to the host when the dying namespace is cleaned
  // up: retry), and likewise when a moved RDMA device (exclusive mode) is not
  // back yet; netlink errors.
  absl::StatusOr<RestoreOutcome> Restore(const RestoreRequest& request);

  // Restore() with the record in `state_file`, which is removed (durably)
  // once the link is restored or gone. A missing file is kAlreadyRestored:
  // the hook never moved the link, or an earlier call finished.
  absl::StatusOr<RestoreOutcome> RestoreFromFile(const std::string& state_file,
                                                 std::optional<int> pid = std::nullopt,
                                                 std::string netns_path = "");

  // The host-side checks of Attach (link exists, not loopback, not enslaved,
  // no default route, MTU in range, addresses free on the host) without a
  // target, so the driver can refuse a claim at prepare time.
  absl::Status CheckAttachable(const NetdevConfig& config);

  NetdevAttacher(const NetdevAttacher&) = delete;
  NetdevAttacher& operator=(const NetdevAttacher&) = delete;

 private:
  NetdevAttacher(topology::NetworkNamespaces& namespaces, topology::NetnsHandle host,
                 std::unique_ptr<topology::Netlink> host_netlink, base::Filesystem& fs,
                 RdmaNetlink* rdma);

  // Host-side checks on a listed link; fills `settings` with what to record.
  absl::Status CheckHostSide(const NetdevConfig& config,
                             const std::vector<topology::NetworkLink>& links,
                             const topology::NetworkLink& link, LinkSettings* settings);
  // Whether the RDMA device has to move (exclusive mode); NotFound if absent.
  absl::StatusOr<bool> CheckRdmaDevice(const std::string& device);
  absl::StatusOr<AttachRecord> AlreadyAttached(const NetdevConfig& config,
                                               const topology::NetnsHandle& target,
                                               const std::string& state_file);
  absl::Status ConfigureInTarget(const NetdevConfig& config, const LinkSettings& original,
                                 topology::Netlink& target);
  // Moves the link from `from` (if found there) back to the host, then restores it.
  absl::StatusOr<RestoreOutcome> RestoreFrom(const AttachRecord& record, topology::Netlink* from);
  absl::StatusOr<bool> RestoreOnHost(const AttachRecord& record, const topology::NetworkLink& link);

  topology::NetworkNamespaces& namespaces_;
  const topology::NetnsHandle host_;
  const std::unique_ptr<topology::Netlink> host_netlink_;
  base::Filesystem& fs_;
  RdmaNetlink* const rdma_;
};

}  // namespace tessera::drivers::rdma
