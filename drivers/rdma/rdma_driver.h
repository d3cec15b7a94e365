// RdmaDriver: the "rdma" family (driver rdma.<domain>). Lists the node's RDMA
// NICs - every PCI function (PF or VF) of kind rdma in the node model - as
// ResourceSlice devices and prepares claims on them. docs/rdma.md is the user
// reference; drivers/rdma/README.md the module map.
//
// Devices are named "rdma-DDDD-BB-DD-F" (drivers/naming.h) and carry
// rdmaDevice, ifName, linkLayer, portState, speedGbps, activeMtu, nodeGUID,
// vendor, model, firmwareVersion, sriovRole, sriovParent (unqualified: in the
// rdma.<domain> domain), the standard pciBusID, pcieRoot and numaNode, and the
// shared alignment attribute <domain>/pcieSwitch. A link that is down makes a
// device unhealthy with the taint rdma.<domain>/link-down (NoSchedule).
// With `publish_consumable_capacity`, every preparable HCA is shared
// (KEP-5075): allowMultipleAllocations with the capacities `connections` and
// `bandwidth` (bits/s), each share getting device nodes only.
//
// Prepare gives a container /dev/infiniband/uverbs<N> of each device,
// /dev/infiniband/rdma_cm, umad<N>/issm<N> with `ibManagement: true`, and the
// env NCCL_IB_HCA / UCX_NET_DEVICES naming the claim's HCAs and ports. With
// `netdev.attach: true` (not on a shared allocation) the device's netdev is
// moved into the pod by the tessera-netns-hook createRuntime hook
// (netns_hook.h); PrepareClaim checks everything the host can tell now
// (NetdevAttacher::CheckAttachable: exists, no default route, MTU, addresses)
// and UnprepareClaim puts the link back (NetdevAttacher::RestoreFromFile).
// In the host's RDMA exclusive netns mode (detected at each prepare) the RDMA
// device moves with the netdev.
//
// PrepareClaim changes nothing on the host itself - the hook does, later -,
// so it is all-or-nothing by construction; it validates every device first.
// Errors are per claim and name the request and device: InvalidArgument
// (config, netdev attach on a shared allocation or with adminAccess, two
// devices attaching under one name), NotFound (device not on this node),
// FailedPrecondition (not preparable: no RDMA or uverbs device, a device node
// missing under the dev root, the device held by another claim, netdev
// attach impossible here), and the codes of CheckAttachable. It is
// idempotent: preparing a prepared claim again returns the same result, also
// after the hook moved the netdev.
//
// Thread-safety: safe for concurrent use; claim operations are serialized by
// an internal mutex, Enumerate runs beside them. Lifetime: every pointer and
// reference in RdmaDriverDeps must outlive the driver.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "base/clock.h"
#include "base/filesystem.h"
#include "base/metrics.h"
#include "base/sysfs.h"
#include "drivers/device_driver.h"
#include "drivers/rdma/discovery.h"
#include "drivers/rdma/netdev_attach.h"
#include "drivers/rdma/rdma_config.h"
#include "drivers/rdma/rdma_netlink.h"
#include "drivers/rdma/verbs.h"
#include "topology/model.h"
#include "topology/netlink.h"
#include "topology/netns.h"

namespace tessera::drivers::rdma {

inline constexpr std::string_view kFamily = "rdma";
// The taint of a device whose link is down: "rdma.<domain>/link-down".
inline constexpr std::string_view kTaintLinkDown = "link-down";

struct RdmaDriverOptions {
  std::string domain =
      "tessera.dev";  // driver rdma.<domain>, config apiVersion rdma.<domain>/v1alpha1
  // Host prefix of device nodes: a container's /dev/infiniband/uverbs0 is
  // <dev_root>/infiniband/uverbs0 on the host. Empty: the host's /dev (seen
  // by the agent under <host_root>/dev).
  std::string dev_root;
  std::string host_root = "/";
  // The driver's state directory, the same path on the host and in the
  // agent: netdev attach records live in <state_dir>/netns/.
  std::string state_dir = "/var/lib/tessera/rdma.tessera.dev";
  // A captured or simulated node (--sysfs-root / --hwloc-xml): no netlink or
  // verbs expected; for an hwloc XML node the uverbs/umad/issm names are
  // derived (discovery.h, synthesize_char_devices).
  bool simulated = false;
  // KEP-5075: publish HCAs as shared (allowMultipleAllocations) with the
  // capacities below.
  bool publish_consumable_capacity = false;
  int64_t max_connections = 128;  // `connections` capacity of one HCA
  // tessera-netns-hook as the container runtime sees it (a host path);
  // empty: netdev attach is refused.
  std::string hook_path;
  std::chrono::seconds hook_timeout{30};
  // The namespace netdevs are attached from and restored to; empty: the
  // agent's own (it runs with hostNetwork). Tests point it elsewhere.
  std::string host_netns_path;
};

struct RdmaDriverDeps {
  std::shared_ptr<const topology::NodeTopology> topology;
  const base::Sysfs* sysfs = nullptr;                 // null for an hwloc XML node
  topology::Netlink* netlink = nullptr;               // host namespace; null: sysfs link state
  topology::NetworkNamespaces* namespaces = nullptr;  // null: netdev attach refused
  RdmaNetlink* rdma_netlink = nullptr;                // null: RDMA netns mode taken as shared
  Verbs* verbs = nullptr;                             // null: no active MTU
  base::Filesystem& fs;
  base::Clock& clock;
  base::metrics::Registry* metrics = nullptr;  // null: a private registry
};

// A device node a container of this node may be given, relative to /dev.
struct DeviceNodeInfo {
  std::string path;  // "infiniband/uverbs0", "infiniband/rdma_cm"
  std::optional<DevNumber> dev;
  friend bool operator==(const DeviceNodeInfo&, const DeviceNodeInfo&) = default;
};

// The RDMA netns mode a prepare works with: `rdma` null, or reporting
// FailedPrecondition (a kernel without RDMA netlink), means shared; other
// errors are returned (Unavailable: retry).
absl::StatusOr<RdmaNetnsMode> DetectRdmaNetnsMode(RdmaNetlink* rdma);

class RdmaDriver final : public DeviceDriver {
 public:
  // InvalidArgument for a bad domain, a null topology, a relative state dir
  // or hook path, max_connections < 1.
  static absl::StatusOr<std::unique_ptr<RdmaDriver>> Create(RdmaDriverOptions options,
                                                            RdmaDriverDeps deps);
  ~RdmaDriver() override;

  std::string_view family() const override { return kFamily; }
  // infiniband/rdma_cm and each RDMA device's uverbs, umad and issm nodes.
  std::vector<std::string> DeviceNodePaths() const override;
  absl::StatusOr<Inventory> Enumerate() override;
  absl::StatusOr<PreparedClaim> PrepareClaim(const ClaimPrepareRequest& request) override;
  bool HasSideEffects(const ClaimPrepareRequest& request) const override;
  absl::Status UnprepareClaim(std::string_view claim_uid, const PreparedClaim& prepared) override;
  absl::Status RestoreState(
      const std::vector<std::pair<std::string, PreparedClaim>>& prepared_claims) override;
  absl::Status ReapplyClaim(std::string_view claim_uid, const PreparedClaim& prepared) override;

  // A new node model after a rescan. Thread-safe.
  void UpdateTopology(std::shared_ptr<const topology::NodeTopology> topology);
  // The NICs as discovered now (node-debug).
  RdmaDiscovery Discover() const;
  // Every device node a container of this node may be given: what a
  // simulated node's --dev-root needs (dev_nodes.h). With the numbers sysfs
  // reports; rdma_cm without numbers when sysfs does not list it.
  std::vector<DeviceNodeInfo> DeviceNodes() const;
  // Whether a link event concerns this driver's netdevs (or is an overflow),
  // for the rescan loop (rescan.h). Uses the netdevs of the last Enumerate.
  bool IsRelevantLinkEvent(const topology::LinkEvent& event) const;
  const RdmaDriverOptions& options() const { return options_; }
  // "rdma.<domain>".
  std::string driver_name() const;

  struct Plan;   // what PrepareClaim does for one device (defined in the .cc)
  struct Stats;  // metrics (defined in the .cc)

 private:
  RdmaDriver(RdmaDriverOptions options, RdmaDriverDeps deps);

  absl::StatusOr<Plan> PlanDevice(const ClaimPrepareRequest& request,
                                  const DeviceAllocation& allocation, RdmaConfig config,
                                  const RdmaDiscovery& discovery)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(claims_mu_);
  absl::StatusOr<NetdevAttacher*> Attacher() ABSL_EXCLUSIVE_LOCKS_REQUIRED(claims_mu_);
  Device ToDevice(const RdmaRecord& record) const;
  // /dev/<rel> for a container, with the host path under dev_root.
  base::DeviceNode Node(std::string_view rel) const;
  // Where the agent checks that /dev/<rel> exists on the host.
  std::string NodeCheckPath(std::string_view rel) const;
  std::string StateFile(std::string_view claim_uid, std::string_view device) const;
  void Release(std::string_view claim_uid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(claims_mu_);

  const RdmaDriverOptions options_;
  const base::Sysfs* const sysfs_;
  topology::Netlink* const netlink_;
  topology::NetworkNamespaces* const namespaces_;
  RdmaNetlink* const rdma_netlink_;
  Verbs* const verbs_;
  base::Filesystem& fs_;
  base::Clock& clock_;
  std::unique_ptr<base::metrics::Registry> own_metrics_;
  std::unique_ptr<Stats> stats_;

  mutable absl::Mutex topology_mu_;
  std::shared_ptr<const topology::NodeTopology> topology_ ABSL_GUARDED_BY(topology_mu_);

  mutable absl::Mutex netdevs_mu_;
  std::set<std::string> netdevs_ ABSL_GUARDED_BY(netdevs_mu_);  // of the last Enumerate
  // Device -> the host name of its netdev, while attached to a pod.
  std::map<std::string, std::string> attached_ ABSL_GUARDED_BY(netdevs_mu_);

  mutable absl::Mutex claims_mu_;  // serializes claim operations
  // Device -> the claim whose pod has its netdev.
  std::map<std::string, std::string> attachments_ ABSL_GUARDED_BY(claims_mu_);
  std::unique_ptr<NetdevAttacher> attacher_ ABSL_GUARDED_BY(claims_mu_);
};

}  // namespace tessera::drivers::rdma
