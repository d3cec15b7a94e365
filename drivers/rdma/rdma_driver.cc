#include "drivers/rdma/rdma_driver.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "base/json_util.h"
#include "base/log.h"
#include "base/parse.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "drivers/attributes.h"
#include "drivers/naming.h"
#include "drivers/rdma/internal/log.h"
#include "drivers/rdma/netns_hook.h"

namespace tessera::drivers::rdma {

using base::Quantity;
using base::StrCat;
using Json = nlohmann::json;

namespace {

using internal::Log;

// Attribute strings are at most 64 characters (resource.k8s.io/v1).
void PutString(Device& d, std::string_view name, std::string_view value) {
  if (value.empty()) return;
  d.attributes[std::string(name)] = std::string(value.substr(0, 64));
}

// "28.39.1002" as a semantic version (leading zeros dropped, as semver
// forbids them); nullopt for other shapes.
std::optional<std::string> FirmwareSemver(std::string_view text) {
  std::vector<std::string_view> parts = base::Split(text, '.');
  if (parts.size() != 3) return std::nullopt;
  std::vector<std::string> out;
  for (std::string_view p : parts) {
    if (p.empty() || p.size() > 9 ||
        !std::all_of(p.begin(), p.end(), [](unsigned char c) { return std::isdigit(c); })) {
      return std::nullopt;
    }
    out.push_back(std::to_string(*base::ParseUint64(p)));
  }
  return base::Join(out, ".");
}

std::string HostPath(std::string_view host_root, std::string_view path) {
  if (host_root.empty() || host_root == "/") return std::string(path);
  std::string root(host_root);
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return StrCat(root, path);
}

// Claim uids name files of ours (netdev attach records): RFC 4122 UUIDs in
// practice; anything that could leave the directory is refused.
absl::Status ValidateClaimUid(std::string_view uid, std::string_view op) {
  bool ok = !uid.empty() && uid.size() <= 128 && uid.front() != '-';
  for (unsigned char c : uid) ok = ok && (std::isalnum(c) || c == '-');
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      StrCat(op, ": claim uid ", base::Quote(uid), " is not a uid (letters, digits, '-')"));
}

bool ValidDomain(std::string_view domain) {
  if (domain.empty() || domain.size() > 63 - kFamily.size() - 1) return false;
  for (std::string_view label : base::Split(domain, '.')) {
    if (label.empty() || label.front() == '-' || label.back() == '-') return false;
    for (unsigned char c : label) {
      if (!(std::islower(c) || std::isdigit(c) || c == '-')) return false;
    }
  }
  return true;
}

// The record of one prepared device (PreparedDevice::state).
struct DeviceRecord {
  std::string rdma_device;
  std::string pci_bus_id;
  bool shared = false;
  std::string host_interface;  // netdev attach only
  std::string container_interface;
  std::string state_file;
};

Json ToJson(const DeviceRecord& r) {
  Json j = {{"rdmaDevice", r.rdma_device}, {"pciBusID", r.pci_bus_id}, {"shared", r.shared}};
  if (!r.state_file.empty()) {
    j["netdev"] = {{"hostInterface", r.host_interface},
                   {"containerInterface", r.container_interface},
                   {"stateFile", r.state_file}};
  }
  return j;
}

// Reads back what ToJson wrote; an empty or foreign state (a claim whose
// prepare never returned) gives an empty record. Never throws.
DeviceRecord FromJson(const Json& j) {
  DeviceRecord r;
  if (!j.is_object()) return r;
  auto str = [](const Json& o, const char* key) {
    auto it = o.find(key);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  r.rdma_device = str(j, "rdmaDevice");
  r.pci_bus_id = str(j, "pciBusID");
  if (auto it = j.find("shared"); it != j.end() && it->is_boolean()) r.shared = it->get<bool>();
  if (auto it = j.find("netdev"); it != j.end() && it->is_object()) {
    r.host_interface = str(*it, "hostInterface");
    r.container_interface = str(*it, "containerInterface");
    r.state_file = str(*it, "stateFile");
  }
  return r;
}

}  // namespace

struct RdmaDriver::Stats {
  explicit Stats(base::metrics::Registry& r)
      : netlink_degraded(r.GetCounter("tessera_rdma_discovery_degraded_total",
                                      "Scans that fell back to sysfs for link state or lost "
                                      "libibverbs, by reason",
                                      {{"reason", "netlink"}})),
        verbs_degraded(r.GetCounter("tessera_rdma_discovery_degraded_total",
                                    "Scans that fell back to sysfs for link state or lost "
                                    "libibverbs, by reason",
                                    {{"reason", "verbs"}})),
        links_down(r.GetGauge("tessera_rdma_links_down",
                              "RDMA devices whose link is down at the last scan")),
        restores_ok(r.GetCounter("tessera_rdma_netdev_restores_total",
                                 "Netdevs put back on the host at unprepare, by result",
                                 {{"result", "success"}})),
        restores_error(r.GetCounter("tessera_rdma_netdev_restores_total",
                                    "Netdevs put back on the host at unprepare, by result",
                                    {{"result", "error"}})) {}
  base::metrics::Counter& netlink_degraded;
  base::metrics::Counter& verbs_degraded;
  base::metrics::Gauge& links_down;
  base::metrics::Counter& restores_ok;
  base::metrics::Counter& restores_error;
};

struct RdmaDriver::Plan {
  const DeviceAllocation* allocation = nullptr;
  RdmaRecord record;
  RdmaConfig config;
  DeviceRecord state;
  base::ContainerEdits edits;
};

absl::StatusOr<RdmaNetnsMode> DetectRdmaNetnsMode(RdmaNetlink* rdma) {
  if (rdma == nullptr) return RdmaNetnsMode::kShared;
  absl::StatusOr<RdmaNetnsMode> mode = rdma->GetNetnsMode();
  if (absl::IsFailedPrecondition(mode.status())) return RdmaNetnsMode::kShared;
  return base::Annotate(mode, "read the rdma netns mode");
}

absl::StatusOr<std::unique_ptr<RdmaDriver>> RdmaDriver::Create(RdmaDriverOptions options,
                                                               RdmaDriverDeps deps) {
  if (!ValidDomain(options.domain)) {
    return absl::InvalidArgumentError(
        StrCat("create rdma driver: domain ", base::Quote(options.domain), " is not a DNS name"));
  }
  if (deps.topology == nullptr) {
    return absl::InvalidArgumentError("create rdma driver: no node topology");
  }
  if (options.state_dir.empty() || options.state_dir.front() != '/') {
    return absl::InvalidArgumentError(StrCat("create rdma driver: state dir ",
                                             base::Quote(options.state_dir), " is not absolute"));
  }
  if (!options.hook_path.empty() && options.hook_path.front() != '/') {
    return absl::InvalidArgumentError(StrCat("create rdma driver: hook path ",
                                             base::Quote(options.hook_path), " is not absolute"));
  }
  if (!options.dev_root.empty() && options.dev_root.front() != '/') {
    return absl::InvalidArgumentError(
        StrCat("create rdma driver: dev root ", base::Quote(options.dev_root), " is not absolute"));
  }
  if (options.max_connections < 1) {
    return absl::InvalidArgumentError("create rdma driver: max_connections must be at least 1");
  }
  return std::unique_ptr<RdmaDriver>(new RdmaDriver(std::move(options), std::move(deps)));
}

RdmaDriver::RdmaDriver(RdmaDriverOptions options, RdmaDriverDeps deps)
    : options_(std::move(options)),
      sysfs_(deps.sysfs),
      netlink_(deps.netlink),
      namespaces_(deps.namespaces),
      rdma_netlink_(deps.rdma_netlink),
      verbs_(deps.verbs),
      fs_(deps.fs),
      clock_(deps.clock),
      topology_(std::move(deps.topology)) {
  if (deps.metrics == nullptr) own_metrics_ = std::make_unique<base::metrics::Registry>();
  stats_ = std::make_unique<Stats>(deps.metrics != nullptr ? *deps.metrics : *own_metrics_);
}

RdmaDriver::~RdmaDriver() = default;

std::string RdmaDriver::driver_name() const { return StrCat(kFamily, ".", options_.domain); }

void RdmaDriver::UpdateTopology(std::shared_ptr<const topology::NodeTopology> topology) {
  if (topology == nullptr) return;
  absl::MutexLock lock(&topology_mu_);
  topology_ = std::move(topology);
}

RdmaDiscovery RdmaDriver::Discover() const {
  std::shared_ptr<const topology::NodeTopology> topology;
  {
    absl::MutexLock lock(&topology_mu_);
    topology = topology_;
  }
  const bool xml = topology->source.starts_with("hwloc-xml:");
  RdmaDiscovery d = DiscoverRdma(DiscoveryInputs{
      .topology = *topology,
      .sysfs = sysfs_,
      .netlink = netlink_,
      .verbs = verbs_,
      .synthesize_char_devices = options_.simulated && xml,
  });
  // A netdev attached to a pod is not visible on the host; it is still the
  // device's interface, and its absence is not a link problem.
  absl::MutexLock lock(&netdevs_mu_);
  for (RdmaRecord& r : d.records) {
    auto it = attached_.find(r.name);
    if (it == attached_.end()) continue;
    bool seen = std::any_of(r.netdevs.begin(), r.netdevs.end(),
                            [&](const RdmaNetdev& n) { return n.name == it->second; });
    if (!seen) r.netdevs.push_back(RdmaNetdev{.name = it->second});
    for (RdmaPort& p : r.ports) {
      if (p.netdev.empty() && r.ports.size() == 1) p.netdev = it->second;
    }
  }
  return d;
}

Device RdmaDriver::ToDevice(const RdmaRecord& r) const {
  Device d{.name = r.name};
  PutString(d, kAttrRdmaDevice, r.rdma_device);
  PutString(d, kAttrIfName, r.PrimaryNetdev());
  if (const RdmaPort* p = r.PrimaryPort()) {
    if (p->link_layer != LinkLayer::kUnknown)
      PutString(d, kAttrLinkLayer, LinkLayerName(p->link_layer));
    if (p->state != PortState::kUnknown) PutString(d, kAttrPortState, PortStateName(p->state));
    if (p->rate_mbps) d.attributes[std::string(kAttrSpeedGbps)] = int64_t(*p->rate_mbps / 1000);
    if (p->active_mtu) d.attributes[std::string(kAttrActiveMtu)] = int64_t{*p->active_mtu};
  }
  PutString(d, kAttrNodeGuid, r.node_guid);
  PutString(d, kAttrVendor, r.vendor);
  PutString(d, kAttrModel, r.model);
  if (std::optional<std::string> fw = FirmwareSemver(r.fw_version)) {
    d.attributes[std::string(kAttrFirmwareVersion)] = Version{*fw};
  }
  PutString(d, kAttrSriovRole, SriovRoleName(r.sriov_role));
  if (r.sriov_parent) PutString(d, kAttrSriovParent, r.sriov_parent->ToString());
  d.attributes[std::string(kAttrPciBusId)] = r.address.ToString();
  PutString(d, kAttrPcieRoot, r.pcie_root);
  if (r.numa_node) d.attributes[std::string(kAttrNumaNode)] = int64_t{*r.numa_node};
  if (r.pcie_switch) {
    d.attributes[AlignmentAttribute(options_.domain, kAlignPcieSwitch)] =
        PcieSwitchValue(*r.pcie_switch);
  }
  d.health = r.health;
  d.health_message = r.health_message;
  if (r.link_down) {
    d.taints.push_back(
        Taint{.key = StrCat(driver_name(), "/", kTaintLinkDown), .effect = "NoSchedule"});
  }
  if (options_.publish_consumable_capacity && r.preparable) {
    d.allow_multiple_allocations = true;
    d.capacity[std::string(kCapConnections)] = Capacity{
        .value = Quantity::FromInt(options_.max_connections),
        .request_policy = RequestPolicy{
            .default_value = Quantity::FromInt(1),
            .valid_range = ValidRange{.min = Quantity::FromInt(1), .step = Quantity::FromInt(1)}}};
    const RdmaPort* p = r.PrimaryPort();
    // Bits per second in whole Gbit/s steps; needs at least 2 Gbit/s to
    // allow one step above the minimum.
    if (p != nullptr && p->rate_mbps && *p->rate_mbps >= 2000) {
      const int64_t gbit = 1'000'000'000;
      d.capacity[std::string(kCapBandwidth)] =
          Capacity{.value = Quantity::FromInt(static_cast<int64_t>(*p->rate_mbps / 1000) * gbit),
                   .request_policy =
                       RequestPolicy{.default_value = Quantity::FromInt(gbit),
                                     .valid_range = ValidRange{.min = Quantity::FromInt(gbit),
                                                               .step = Quantity::FromInt(gbit)}}};
    }
  }
  return d;
}

absl::StatusOr<Inventory> RdmaDriver::Enumerate() {
  RdmaDiscovery discovery = Discover();
  if (discovery.netlink_degraded) stats_->netlink_degraded.Inc();
  if (discovery.verbs_degraded) stats_->verbs_degraded.Inc();
  for (const std::string& w : discovery.warnings) Log()->debug("rdma discovery: {}", w);
  Inventory inventory;
  int down = 0;
  std::set<std::string> netdevs;
  for (const RdmaRecord& r : discovery.records) {
    inventory.devices.push_back(ToDevice(r));
    down += r.link_down ? 1 : 0;
    for (const RdmaNetdev& n : r.netdevs) netdevs.insert(n.name);
  }
  stats_->links_down.Set(down);
  {
    absl::MutexLock lock(&netdevs_mu_);
    netdevs_ = std::move(netdevs);
  }
  return inventory;
}

bool RdmaDriver::IsRelevantLinkEvent(const topology::LinkEvent& event) const {
  if (event.type == topology::LinkEventType::kOverflow) return true;
  absl::MutexLock lock(&netdevs_mu_);
  return netdevs_.contains(event.name);
}

std::vector<DeviceNodeInfo> RdmaDriver::DeviceNodes() const {
  RdmaDiscovery d = Discover();
  std::vector<DeviceNodeInfo> out;
  for (const RdmaRecord& r : d.records) {
    if (r.uverbs) out.push_back({StrCat("infiniband/", r.uverbs->name), r.uverbs->dev});
    for (const auto* list : {&r.umad, &r.issm}) {
      for (const RdmaCharDev& c : *list) out.push_back({StrCat("infiniband/", c.name), c.dev});
    }
  }
  out.push_back({"infiniband/rdma_cm", d.rdma_cm});
  std::sort(out.begin(), out.end(),
            [](const DeviceNodeInfo& a, const DeviceNodeInfo& b) { return a.path < b.path; });
  return out;
}

base::DeviceNode RdmaDriver::Node(std::string_view rel) const {
  base::DeviceNode n{.path = StrCat("/dev/", rel), .type = "c"};
  if (!options_.dev_root.empty()) n.host_path = StrCat(options_.dev_root, "/", rel);
  return n;
}

std::vector<std::string> RdmaDriver::DeviceNodePaths() const {
  std::vector<std::string> out;
  for (DeviceNodeInfo& n : DeviceNodes()) out.push_back(std::move(n.path));
  return out;
}

std::string RdmaDriver::NodeCheckPath(std::string_view rel) const {
  if (!options_.dev_root.empty()) {
    return HostPath(options_.host_root, StrCat(options_.dev_root, "/", rel));
  }
  return HostPath(options_.host_root, StrCat("/dev/", rel));
}

std::string RdmaDriver::StateFile(std::string_view claim_uid, std::string_view device) const {
  return StrCat(options_.state_dir, "/netns/", claim_uid, "-", device, ".json");
}

absl::StatusOr<NetdevAttacher*> RdmaDriver::Attacher() {
  if (attacher_ != nullptr) return attacher_.get();
  if (namespaces_ == nullptr) {
    return absl::FailedPreconditionError(
        "the agent has no access to network namespaces on this node (simulated node, or "
        "netlink unavailable)");
  }
  absl::StatusOr<topology::NetnsHandle> host =
      options_.host_netns_path.empty() ? namespaces_->OpenCurrent()
                                       : namespaces_->OpenPath(options_.host_netns_path);
  if (!host.ok()) return base::Annotate(host.status(), "open the host network namespace");
  ASSIGN_OR_RETURN(attacher_,
                   NetdevAttacher::Create(*namespaces_, *std::move(host), fs_, rdma_netlink_));
  return attacher_.get();
}

absl::StatusOr<RdmaDriver::Plan> RdmaDriver::PlanDevice(const ClaimPrepareRequest& request,
                                                        const DeviceAllocation& a,
                                                        RdmaConfig config,
                                                        const RdmaDiscovery& discovery) {
  const std::string what = StrCat("request ", a.request, ", device ", a.device);
  auto it = std::find_if(discovery.records.begin(), discovery.records.end(),
                         [&](const RdmaRecord& r) { return r.name == a.device; });
  if (it == discovery.records.end()) {
    return absl::NotFoundError(StrCat(what, ": not an RDMA device of this node"));
  }
  Plan plan{.allocation = &a, .record = *it, .config = std::move(config)};
  const RdmaRecord& r = plan.record;
  if (!r.preparable) {
    return absl::FailedPreconditionError(StrCat(what, ": not preparable: ", r.health_message));
  }
  const bool shared = !a.share_id.empty();
  if (a.admin_access) plan.config.ib_management = true;
  plan.state = DeviceRecord{
      .rdma_device = r.rdma_device, .pci_bus_id = r.address.ToString(), .shared = shared};

  // Device nodes, checked on the host now so that the runtime cannot fail on
  // a missing one later.
  std::vector<std::string> nodes = {StrCat("infiniband/", r.uverbs->name)};
  if (plan.config.ib_management) {
    for (const auto* list : {&r.umad, &r.issm}) {
      for (const RdmaCharDev& c : *list) nodes.push_back(StrCat("infiniband/", c.name));
    }
  }
  for (const std::string& rel : nodes) {
    if (!fs_.Exists(NodeCheckPath(rel))) {
      return absl::FailedPreconditionError(StrCat(
          what, ": device node /dev/", rel, " is missing on the host (", NodeCheckPath(rel), ")"));
    }
    plan.edits.device_nodes.push_back(Node(rel));
  }

  if (!plan.config.netdev.attach) return plan;
  if (shared) {
    return absl::InvalidArgumentError(
        StrCat(what, ": netdev.attach on a shared allocation (share ", a.share_id,
               "): a shared HCA is used through its device nodes only; allocate it exclusively"));
  }
  if (a.admin_access) {
    return absl::InvalidArgumentError(
        StrCat(what, ": netdev.attach with adminAccess: admin access never moves a link"));
  }
  if (options_.hook_path.empty()) {
    return absl::FailedPreconditionError(
        StrCat(what,
               ": netdev attach is not enabled on this node (no tessera-netns-hook path "
               "configured)"));
  }
  if (!fs_.Exists(HostPath(options_.host_root, options_.hook_path))) {
    return absl::FailedPreconditionError(
        StrCat(what, ": netdev attach hook ", options_.hook_path, " is missing on the host"));
  }
  absl::StatusOr<NetdevAttacher*> attacher = Attacher();
  if (!attacher.ok()) {
    return absl::FailedPreconditionError(
        StrCat(what, ": netdev attach: ", base::Std(attacher.status().message())));
  }
  const std::string state_file = StateFile(request.claim_uid, a.device);
  ASSIGN_OR_RETURN(std::optional<AttachRecord> existing,
                   base::Annotate(ReadAttachRecord(fs_, state_file), what));
  std::string host_interface;
  if (existing.has_value()) {
    host_interface = existing->original.name;  // the hook already moved it
  } else {
    absl::MutexLock lock(&netdevs_mu_);
    auto held = attached_.find(a.device);
    host_interface = held != attached_.end() ? held->second : r.PrimaryNetdev();
  }
  if (host_interface.empty()) {
    return absl::FailedPreconditionError(
        StrCat(what, ": ", r.rdma_device, " has no network interface to attach"));
  }
  if (auto held = attachments_.find(a.device);
      held != attachments_.end() && held->second != request.claim_uid) {
    return absl::FailedPreconditionError(StrCat(what, ": its netdev ", host_interface,
                                                " is attached to claim ", held->second,
                                                ", not yet unprepared"));
  }
  NetdevConfig netdev{.host_interface = host_interface,
                      .container_interface = plan.config.netdev.name,
                      .mtu = plan.config.netdev.mtu,
                      .addresses = plan.config.netdev.addresses};
  ASSIGN_OR_RETURN(RdmaNetnsMode mode, base::Annotate(DetectRdmaNetnsMode(rdma_netlink_), what));
  if (mode == RdmaNetnsMode::kExclusive) netdev.rdma_device = r.rdma_device;
  if (!existing.has_value()) {
    RETURN_IF_ERROR(base::Annotate((*attacher)->CheckAttachable(netdev), what));
  }
  ASSIGN_OR_RETURN(
      base::ContainerEdits hook,
      base::Annotate(BuildNetdevHookEdits(netdev, state_file,
                                          HookEditsOptions{.hook_path = options_.hook_path,
                                                           .timeout_seconds = static_cast<int>(
                                                               options_.hook_timeout.count())}),
                     what));
  plan.edits.Merge(hook);
  plan.state.host_interface = host_interface;
  plan.state.container_interface = netdev.container_interface;
  plan.state.state_file = state_file;
  return plan;
}

absl::StatusOr<PreparedClaim> RdmaDriver::PrepareClaim(const ClaimPrepareRequest& request) {
  RETURN_IF_ERROR(ValidateClaimUid(request.claim_uid, "prepare rdma claim"));
  absl::MutexLock lock(&claims_mu_);
  const base::Clock::MonoTime start = clock_.MonotonicNow();
  const RdmaDiscovery discovery = Discover();
  // Configs first, for the whole claim: a bad claim is refused for what it
  // says before the host is asked anything.
  std::vector<std::pair<const DeviceAllocation*, RdmaConfig>> configs;
  for (const DeviceAllocation& a : request.devices) {
    absl::StatusOr<RdmaConfig> c = ResolveRdmaConfig(a.configs, options_.domain);
    if (!c.ok()) {
      return base::Annotate(c.status(), StrCat("request ", a.request, ", device ", a.device));
    }
    for (const auto& [other, oc] : configs) {
      if (c->netdev.attach && oc.netdev.attach && c->netdev.name == oc.netdev.name) {
        return absl::InvalidArgumentError(
            StrCat("request ", a.request, ", device ", a.device, ": netdev.name ", c->netdev.name,
                   " is also used by request ", other->request, ", device ", other->device));
      }
    }
    configs.emplace_back(&a, *std::move(c));
  }
  std::vector<Plan> plans;
  for (auto& [a, config] : configs) {
    ASSIGN_OR_RETURN(Plan plan, PlanDevice(request, *a, std::move(config), discovery));
    plans.push_back(std::move(plan));
  }

  PreparedClaim out;
  if (!plans.empty()) {
    if (fs_.Exists(NodeCheckPath("infiniband/rdma_cm"))) {
      out.claim_edits.device_nodes.push_back(Node("infiniband/rdma_cm"));
    } else {
      Log()->warn("rdma_cm is missing on the host, not injected (rdma_ucm not loaded?) path={}",
                  NodeCheckPath("infiniband/rdma_cm"));
    }
    // NCCL_IB_HCA with "=": exact names (a plain "mlx5_1" also matches
    // mlx5_10..mlx5_19). UCX_NET_DEVICES takes <device>:<port>.
    std::vector<std::string> hcas, devices;
    for (const Plan& p : plans) {
      for (uint32_t port : p.record.UsablePorts()) {
        std::string entry = StrCat(p.record.rdma_device, ":", port);
        if (std::find(hcas.begin(), hcas.end(), entry) == hcas.end()) hcas.push_back(entry);
      }
      if (std::find(devices.begin(), devices.end(), p.record.rdma_device) == devices.end()) {
        devices.push_back(p.record.rdma_device);
      }
    }
    out.claim_edits.env = {StrCat("NCCL_IB_HCA==", base::Join(hcas, ",")),
                           StrCat("UCX_NET_DEVICES=", base::Join(hcas, ",")),
                           StrCat("TESSERA_RDMA_DEVICES=", base::Join(devices, ","))};
  }
  if (std::any_of(plans.begin(), plans.end(),
                  [](const Plan& p) { return !p.state.state_file.empty(); })) {
    RETURN_IF_ERROR(base::Annotate(
        fs_.CreateDirectories(StrCat(options_.state_dir, "/netns"), 0700),
        StrCat("prepare claim ", request.claim_uid, ": create the netdev state directory")));
  }
  for (Plan& p : plans) {
    out.devices.push_back(PreparedDevice{.request = p.allocation->request,
                                         .device = p.allocation->device,
                                         .share_id = p.allocation->share_id,
                                         .edits = std::move(p.edits),
                                         .state = ToJson(p.state)});
    if (!p.state.state_file.empty()) {
      attachments_[p.allocation->device] = request.claim_uid;
      absl::MutexLock nl(&netdevs_mu_);
      attached_[p.allocation->device] = p.state.host_interface;
    }
  }
  // DeviceState logs the prepared claim (info); this is the driver's detail.
  Log()->debug(
      "planned rdma claim uid={} devices={} duration_ms={}", request.claim_uid, plans.size(),
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.MonotonicNow() - start).count());
  return out;
}

bool RdmaDriver::HasSideEffects(const ClaimPrepareRequest& request) const {
  for (const DeviceAllocation& a : request.devices) {
    absl::StatusOr<RdmaConfig> c = ResolveRdmaConfig(a.configs, options_.domain);
    if (c.ok() && c->netdev.attach) return true;
  }
  return false;
}

void RdmaDriver::Release(std::string_view claim_uid) {
  absl::MutexLock nl(&netdevs_mu_);
  for (auto it = attachments_.begin(); it != attachments_.end();) {
    if (it->second == claim_uid) {
      attached_.erase(it->first);
      it = attachments_.erase(it);
    } else {
      ++it;
    }
  }
}

absl::Status RdmaDriver::UnprepareClaim(std::string_view claim_uid, const PreparedClaim& prepared) {
  RETURN_IF_ERROR(ValidateClaimUid(claim_uid, "unprepare rdma claim"));
  absl::MutexLock lock(&claims_mu_);
  for (const PreparedDevice& d : prepared.devices) {
    DeviceRecord record = FromJson(d.state);
    // Without a record (a prepare that never returned) the file is where
    // PrepareClaim would have put it.
    std::string state_file =
        record.state_file.empty() ? StateFile(claim_uid, d.device) : record.state_file;
    if (!fs_.Exists(state_file)) continue;  // never attached, or already restored
    const std::string what = StrCat("unprepare claim ", claim_uid, ", device ", d.device);
    absl::StatusOr<NetdevAttacher*> attacher = Attacher();
    if (!attacher.ok()) {
      stats_->restores_error.Inc();
      return absl::FailedPreconditionError(StrCat(what, ": restore netdev from ", state_file, ": ",
                                                  base::Std(attacher.status().message())));
    }
    absl::StatusOr<RestoreOutcome> outcome = (*attacher)->RestoreFromFile(state_file);
    if (!outcome.ok()) {
      stats_->restores_error.Inc();
      return base::Annotate(outcome.status(), StrCat(what, ": restore netdev"));
    }
    stats_->restores_ok.Inc();
    Log()->info("restored rdma netdev claim={} device={} outcome={}", claim_uid, d.device,
                RestoreOutcomeName(*outcome));
  }
  Release(claim_uid);
  return absl::OkStatus();
}

absl::Status RdmaDriver::RestoreState(
    const std::vector<std::pair<std::string, PreparedClaim>>& prepared_claims) {
  absl::MutexLock lock(&claims_mu_);
  absl::MutexLock nl(&netdevs_mu_);
  attachments_.clear();
  attached_.clear();
  for (const auto& [uid, claim] : prepared_claims) {
    for (const PreparedDevice& d : claim.devices) {
      DeviceRecord record = FromJson(d.state);
      if (record.state_file.empty()) continue;
      attachments_[d.device] = uid;
      attached_[d.device] = record.host_interface;
    }
  }
  return absl::OkStatus();
}

absl::Status RdmaDriver::ReapplyClaim(std::string_view claim_uid, const PreparedClaim& prepared) {
  // Nothing of a prepare lives in the kernel until the hook runs, and the
  // hook runs again when the pod's containers are created after the reboot.
  // What can be lost is a simulated node's dev root (a tmpfs): say so.
  for (const PreparedDevice& d : prepared.devices) {
    for (const base::DeviceNode& n : d.edits.device_nodes) {
      if (!n.path.starts_with("/dev/")) continue;
      const std::string rel = n.path.substr(5);
      if (!fs_.Exists(NodeCheckPath(rel))) {
        return absl::FailedPreconditionError(
            StrCat("reapply claim ", claim_uid, ", device ", d.device, ": device node ", n.path,
                   " is missing on the host (", NodeCheckPath(rel), ")"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace tessera::drivers::rdma
