#include "drivers/gpu/gpu_driver.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "spdlog/fmt/fmt.h"

#include "base/byte_units.h"
#include "base/log.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "drivers/attributes.h"
#include "drivers/gpu/driver_files.h"
#include "drivers/gpu/internal/bytes_quantity.h"
#include "drivers/gpu/internal/log.h"
#include "drivers/gpu/mig.h"
#include "drivers/naming.h"

namespace tessera::drivers::gpu {
namespace {

using base::Quantity;
using base::StrCat;
using Json = nlohmann::json;

using base::kMiB;

using internal::Log;

enum class TargetKind { kWhole, kMigExisting, kMigPlacement };

std::string GpuDeviceName(const GpuRecord& g) { return DeviceNameForPci("gpu", g.address); }

GpuTarget TargetOf(const GpuRecord& g) {
  const std::string bus = g.address.ToString();
  return {.key = g.uuid.empty() ? bus : g.uuid,
          .smi_id = g.uuid.empty() ? bus : g.uuid,
          .cuda_id = g.uuid.empty() ? std::to_string(g.index) : g.uuid};
}

using internal::Bytes;

// "550.54.15"-style text as a semver Version attribute, when it is one.
void PutVersion(Device& d, std::string_view name, std::string_view text) {
  if (text.empty()) return;
  if (std::optional<std::string> v = NormalizeVersion(text)) {
    d.attributes[std::string(name)] = Version{*v};
  }
}

void PutString(Device& d, std::string_view name, std::string_view value) {
  if (!value.empty()) d.attributes[std::string(name)] = std::string(value);
}

// Attributes a GPU and its MIG partitions share: identity and placement.
void CommonAttributes(const GpuRecord& g, std::string_view domain, Device& d) {
  PutString(d, kAttrVendor, VendorName(g.vendor));
  PutString(d, kAttrProductName, g.product_name);
  PutString(d, kAttrModel, g.model);
  PutString(d, kAttrArchitecture, g.architecture);
  if (g.compute_capability) {
    PutVersion(d, kAttrComputeCapability, g.compute_capability->ToString());
  }
  PutVersion(d, kAttrDriverVersion, g.driver_version);
  PutVersion(d, kAttrCudaDriverVersion, g.cuda_driver_version);
  d.attributes[std::string(kAttrIndex)] = int64_t{g.index};
  PutString(d, kAttrPcieRoot, g.pcie_root);
  d.attributes[std::string(kAttrPciBusId)] = g.address.ToString();
  if (g.numa_node) d.attributes[std::string(kAttrNumaNode)] = int64_t{*g.numa_node};
  if (g.pcie_switch) {
    d.attributes[AlignmentAttribute(domain, kAlignPcieSwitch)] = PcieSwitchValue(*g.pcie_switch);
  }
  if (g.nearest_rdma) {
    d.attributes[std::string(kAttrNearestRdma)] = DeviceNameForPci("rdma", g.nearest_rdma->address);
    d.attributes[std::string(kAttrNearestRdmaLink)] =
        std::string(topology::LinkTypeName(g.nearest_rdma->link));
  }
  d.health = g.health;
  d.health_message = g.health_message;
}

// A prepared device's record of what was done (PreparedDevice::state).
struct DeviceState {
  std::string vendor;
  std::string pci_bus_id;
  GpuTarget target;
  SharingStrategy sharing = SharingStrategy::kExclusive;
  TimeSliceInterval interval = TimeSliceInterval::kDefault;
  std::optional<MpsDaemon> daemon;
  MpsLimits limits;
  struct Mig {
    uint32_t gpu_instance = 0;
    uint32_t compute_instance = 0;
    uint32_t profile = 0;
    nvidia::MigPlacement placement;
    bool created = false;  // by us, on demand: destroyed on unprepare
    std::string uuid;
  };
  std::optional<Mig> mig;
};

Json ToJson(const DeviceState& s) {
  Json j = {
      {"vendor", s.vendor},
      {"pciBusID", s.pci_bus_id},
      {"gpu", {{"key", s.target.key}, {"smiId", s.target.smi_id}, {"cudaId", s.target.cuda_id}}},
      {"sharing", std::string(SharingStrategyName(s.sharing))}};
  if (s.sharing == SharingStrategy::kTimeSlicing) {
    j["timeSliceInterval"] = std::string(TimeSliceIntervalName(s.interval));
  }
  if (s.daemon) {
    Json mps = {{"pipeDir", s.daemon->pipe_dir}, {"logDir", s.daemon->log_dir}};
    if (s.limits.active_thread_percentage) {
      mps["activeThreadPercentage"] = *s.limits.active_thread_percentage;
    }
    if (s.limits.pinned_device_memory_bytes) {
      mps["pinnedDeviceMemoryBytes"] = *s.limits.pinned_device_memory_bytes;
    }
    j["mps"] = mps;
  }
  if (s.mig) {
    j["mig"] = {{"gpuInstanceId", s.mig->gpu_instance},
                {"computeInstanceId", s.mig->compute_instance},
                {"profileId", s.mig->profile},
                {"placementStart", s.mig->placement.start},
                {"placementSize", s.mig->placement.size},
                {"created", s.mig->created},
                {"uuid", s.mig->uuid}};
  }
  return j;
}

// Reads back what ToJson wrote; nullopt for an empty or foreign state (a
// claim whose prepare never returned). Never throws.
std::optional<DeviceState> FromJson(const Json& j) {
  if (!j.is_object() || !j.contains("gpu") || !j.contains("sharing")) return std::nullopt;
  try {
    DeviceState s;
    s.vendor = j.value("vendor", "");
    s.pci_bus_id = j.value("pciBusID", "");
    const Json& g = j.at("gpu");
    s.target = {.key = g.at("key").get<std::string>(),
                .smi_id = g.at("smiId").get<std::string>(),
                .cuda_id = g.at("cudaId").get<std::string>()};
    std::optional<SharingStrategy> sharing =
        ParseSharingStrategy(j.at("sharing").get<std::string>());
    if (!sharing) return std::nullopt;
    s.sharing = *sharing;
    if (j.contains("timeSliceInterval")) {
      s.interval = ParseTimeSliceInterval(j.at("timeSliceInterval").get<std::string>())
                       .value_or(TimeSliceInterval::kDefault);
    }
    if (j.contains("mps")) {
      const Json& m = j.at("mps");
      s.daemon = MpsDaemon{.pipe_dir = m.at("pipeDir").get<std::string>(),
                           .log_dir = m.at("logDir").get<std::string>()};
      if (m.contains("activeThreadPercentage")) {
        s.limits.active_thread_percentage = m.at("activeThreadPercentage").get<int>();
      }
      if (m.contains("pinnedDeviceMemoryBytes")) {
        s.limits.pinned_device_memory_bytes = m.at("pinnedDeviceMemoryBytes").get<uint64_t>();
      }
    }
    if (j.contains("mig")) {
      const Json& m = j.at("mig");
      DeviceState::Mig mig;
      mig.gpu_instance = m.at("gpuInstanceId").get<uint32_t>();
      mig.compute_instance = m.at("computeInstanceId").get<uint32_t>();
      mig.profile = m.at("profileId").get<uint32_t>();
      mig.placement = {m.at("placementStart").get<uint32_t>(),
                       m.at("placementSize").get<uint32_t>()};
      mig.created = m.at("created").get<bool>();
      mig.uuid = m.value("uuid", "");
      s.mig = mig;
    }
    return s;
  } catch (const Json::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::string SharingUser(std::string_view claim_uid, std::string_view device,
                        std::string_view share_id) {
  return share_id.empty() ? StrCat(claim_uid, "/", device)
                          : StrCat(claim_uid, "/", device, "/", share_id);
}

// ---------------------------------------------------------------------------
// Snapshot: discovery, inventory, and what each device name stands for.

struct GpuDriver::Target {
  size_t gpu = 0;  // index into Discovery::gpus
  TargetKind kind = TargetKind::kWhole;
  nvidia::GpuInstanceProfile profile;           // MIG
  nvidia::MigPlacement placement;               // MIG
  std::optional<nvidia::GpuInstance> instance;  // kMigExisting: the instance
  bool shareable = false;                       // published with allowMultipleAllocations
};

struct GpuDriver::Snapshot {
  std::shared_ptr<const topology::NodeTopology> topology;
  Discovery discovery;
  Inventory inventory;
  std::map<std::string, Target> targets;
};

struct GpuDriver::Plan {
  const DeviceAllocation* alloc = nullptr;
  Target target;
  GpuRecord gpu;
  SharingStrategy strategy = SharingStrategy::kExclusive;
  TimeSliceInterval interval = TimeSliceInterval::kDefault;
  MpsLimits limits;
  bool share = false;
  std::string user;
  // kMigPlacement: an instance at exactly this placement to take over (a
  // crash left it behind, or this claim made it).
  std::optional<nvidia::GpuInstance> adopt;
  // Filled by Apply.
  DeviceState state;
  std::optional<nvidia::GpuInstance> mig_gi;
  std::optional<nvidia::ComputeInstance> mig_ci;
  bool applied = false;
};

absl::StatusOr<std::unique_ptr<GpuDriver>> GpuDriver::Create(GpuDriverOptions options,
                                                             GpuDriverDeps deps) {
  if (deps.topology == nullptr) {
    return absl::InvalidArgumentError("create gpu driver: no node model");
  }
  if (options.domain.empty() || options.domain.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(
        StrCat("create gpu driver: invalid domain ", base::Quote(options.domain)));
  }
  if (options.memory_share_step_bytes < kMiB) {
    return absl::InvalidArgumentError("create gpu driver: memory share step below 1Mi");
  }
  const std::string ledger_path = StrCat(options.state_dir, "/host-state.json");
  absl::StatusOr<std::unique_ptr<HostLedger>> ledger = HostLedger::Open(deps.fs, ledger_path);
  if (!ledger.ok()) {
    if (!absl::IsDataLoss(ledger.status())) {
      return base::Annotate(ledger.status(), "create gpu driver");
    }
    // The claim checkpoint (RestoreState) still carries what prepared claims did.
    Log().error("starting with an empty gpu host state: {}", ledger.status().ToString());
    ledger = HostLedger::OpenEmpty(deps.fs, ledger_path);
  }
  auto driver = std::unique_ptr<GpuDriver>(
      new GpuDriver(std::move(options), std::move(deps), std::move(*ledger)));
  // Reference counts of daemons and time slices survive a restart through the ledger.
  for (const LedgerEntry& e : driver->ledger_->entries()) {
    if (e.kind == LedgerEntry::Kind::kTimeSlice) {
      driver->sharing_->RestoreTimeSlice(e.gpu, e.interval, e.user);
    } else if (e.kind == LedgerEntry::Kind::kMps) {
      driver->sharing_->RestoreMps(e.gpu, e.user);
    }
  }
  return driver;
}

GpuDriver::GpuDriver(GpuDriverOptions options, GpuDriverDeps deps,
                     std::unique_ptr<HostLedger> ledger)
    : options_(std::move(options)),
      sysfs_(deps.sysfs),
      nvml_(deps.nvml),
      nvml_error_(std::move(deps.nvml_error)),
      fs_(deps.fs),
      clock_(deps.clock),
      sharing_(std::make_unique<SharingController>(deps.commands, deps.fs, options_.tools,
                                                   options_.state_dir)),
      topology_(std::move(deps.topology)),
      ledger_(std::move(ledger)) {}

GpuDriver::~GpuDriver() = default;

void GpuDriver::UpdateTopology(std::shared_ptr<const topology::NodeTopology> topology) {
  if (topology == nullptr) return;
  absl::MutexLock lock(&topology_mu_);
  topology_ = std::move(topology);
}

Discovery GpuDriver::Discover() const {
  std::shared_ptr<const topology::NodeTopology> topo;
  {
    absl::MutexLock lock(&topology_mu_);
    topo = topology_;
  }
  return DiscoverGpus(*topo, sysfs_, nvml_, nvml_error_, {.simulated = options_.simulated});
}

GpuDriver::Snapshot GpuDriver::TakeSnapshot() const {
  Snapshot snap;
  {
    absl::MutexLock lock(&topology_mu_);
    snap.topology = topology_;
  }
  snap.discovery =
      DiscoverGpus(*snap.topology, sysfs_, nvml_, nvml_error_, {.simulated = options_.simulated});
  for (const std::string& w : snap.discovery.warnings) Log().debug("gpu discovery: {}", w);

  for (size_t i = 0; i < snap.discovery.gpus.size(); ++i) {
    const GpuRecord& g = snap.discovery.gpus[i];
    const std::string name = GpuDeviceName(g);
    if (!g.mig_enabled()) {
      Device d;
      d.name = name;
      d.attributes[std::string(kAttrType)] = std::string("gpu");
      PutString(d, kAttrUuid, g.uuid);
      CommonAttributes(g, options_.domain, d);
      Target t{.gpu = i, .kind = TargetKind::kWhole};
      if (g.memory_bytes) {
        const uint64_t memory = *g.memory_bytes;
        if (options_.publish_consumable_capacity && g.mps_capable() && g.preparable &&
            memory >= options_.memory_share_step_bytes) {
          // KEP-5075: shares of memory and compute, each enforced by MPS.
          const uint64_t step = options_.memory_share_step_bytes;
          // validRange.max must lie on the step grid from min (KEP-5075).
          const uint64_t largest = step + (memory - step) / step * step;
          d.allow_multiple_allocations = true;
          t.shareable = true;
          d.capacity[std::string(kCapMemory)] = {
              Bytes(memory),
              RequestPolicy{.default_value = Bytes(largest),
                            .valid_range = ValidRange{
                                .min = Bytes(step), .max = Bytes(largest), .step = Bytes(step)}}};
          d.capacity[std::string(kCapCompute)] = {
              Quantity::FromInt(100),
              RequestPolicy{.default_value = Quantity::FromInt(100),
                            .valid_range = ValidRange{.min = Quantity::FromInt(1),
                                                      .max = Quantity::FromInt(100),
                                                      .step = Quantity::FromInt(1)}}};
        } else {
          d.capacity[std::string(kCapMemory)] = {Bytes(memory), std::nullopt};
        }
      }
      snap.targets[name] = t;
      snap.inventory.devices.push_back(std::move(d));
      continue;
    }

    // MIG enabled: the GPU itself runs no CUDA work; its partitions do.
    const std::string gpu_key = g.uuid.empty() ? g.address.ToString() : g.uuid;
    bool foreign = false;
    for (const nvidia::GpuInstance& gi : g.mig_instances) {
      if (!OwnsInstance(gpu_key, gi)) foreign = true;
    }
    const bool dynamic = options_.publish_partitionable && !g.mig_profiles.empty() && !foreign;
    auto mig_device = [&](const nvidia::GpuInstanceProfile& p, const nvidia::MigPlacement& pl) {
      Device d;
      d.name = MigDeviceName(name, p.name, pl.start);
      d.attributes[std::string(kAttrType)] = std::string("mig");
      d.attributes[std::string(kAttrMigProfile)] = p.name;
      PutString(d, kAttrParentUuid, g.uuid);
      CommonAttributes(g, options_.domain, d);
      d.capacity = MigCapacity(p);
      return d;
    };
    if (dynamic) {
      snap.inventory.counter_sets.push_back(MigCounterSet(name, g.mig_profiles));
      for (const nvidia::GpuInstanceProfile& p : g.mig_profiles) {
        for (const nvidia::MigPlacement& pl : p.placements) {
          Device d = mig_device(p, pl);
          d.consumes_counters.push_back(MigConsumption(name, p, pl));
          snap.targets[d.name] = {
              .gpu = i, .kind = TargetKind::kMigPlacement, .profile = p, .placement = pl};
          snap.inventory.devices.push_back(std::move(d));
        }
      }
      continue;
    }
    // The instances that exist, as ordinary devices.
    for (const nvidia::GpuInstance& gi : g.mig_instances) {
      const nvidia::GpuInstanceProfile* p = FindProfile(g.mig_profiles, gi.profile_id);
      if (p == nullptr || gi.compute_instances.size() != 1) {
        Log().debug("skipping MIG instance gpu={} gi={}: {}", g.address.ToString(), gi.id,
                    p == nullptr ? "unknown profile" : "not exactly one compute instance");
        continue;
      }
      Device d = mig_device(*p, gi.placement);
      PutString(d, kAttrUuid, gi.compute_instances.front().uuid);
      snap.targets[d.name] = {.gpu = i,
                              .kind = TargetKind::kMigExisting,
                              .profile = *p,
                              .placement = gi.placement,
                              .instance = gi};
      snap.inventory.devices.push_back(std::move(d));
    }
  }
  std::sort(snap.inventory.devices.begin(), snap.inventory.devices.end(),
            [](const Device& a, const Device& b) { return a.name < b.name; });
  std::sort(snap.inventory.counter_sets.begin(), snap.inventory.counter_sets.end(),
            [](const CounterSet& a, const CounterSet& b) { return a.name < b.name; });
  return snap;
}

absl::StatusOr<Inventory> GpuDriver::Enumerate() { return TakeSnapshot().inventory; }

std::vector<std::string> GpuDriver::DeviceNodePaths() const {
  Discovery d = Discover();
  std::set<std::string> out;
  bool nvidia = false, amd = false;
  for (const GpuRecord& g : d.gpus) {
    if (g.vendor == Vendor::kNvidia) {
      nvidia = true;
      if (g.nvidia_minor) out.insert(StrCat("nvidia", *g.nvidia_minor));
      for (const nvidia::GpuInstance& gi : g.mig_instances) {
        if (gi.caps_minor) out.insert(StrCat("nvidia-caps/nvidia-cap", *gi.caps_minor));
        for (const nvidia::ComputeInstance& ci : gi.compute_instances) {
          if (ci.caps_minor) out.insert(StrCat("nvidia-caps/nvidia-cap", *ci.caps_minor));
        }
      }
    } else {
      if (g.vendor == Vendor::kAmd) amd = true;
      for (const DrmNode& n : g.drm_nodes) out.insert(StrCat("dri/", n.name));
    }
  }
  if (nvidia) {
    out.insert("nvidiactl");
    out.insert("nvidia-uvm");
    out.insert("nvidia-uvm-tools");
  }
  if (amd) out.insert("kfd");
  return {out.begin(), out.end()};
}

// ---------------------------------------------------------------------------
// Planning: everything checked before anything changes.

namespace {

std::string RequestContext(const DeviceAllocation& a) {
  return StrCat("request ", base::Quote(a.request), " device ", a.device);
}

absl::Status ConsumedToLimits(const DeviceAllocation& a, const GpuRecord& g, MpsLimits& limits) {
  const uint64_t memory = g.memory_bytes.value_or(0);
  limits.active_thread_percentage = 100;
  limits.pinned_device_memory_bytes = memory / kMiB * kMiB;
  for (const auto& [name, q] : a.consumed_capacity) {
    const std::string field = StrCat("consumedCapacity.", name);
    if (name == kCapCompute) {
      const int64_t pct = q.Value();
      if (q.MilliValue() <= 0 || pct > 100) {
        return absl::InvalidArgumentError(
            StrCat(field, ": ", q.ToString(), " is out of range 1..100"));
      }
      limits.active_thread_percentage = static_cast<int>(pct);
    } else if (name == kCapMemory) {
      const int64_t bytes = q.Value();
      if (bytes < static_cast<int64_t>(kMiB) || static_cast<uint64_t>(bytes) > memory) {
        return absl::InvalidArgumentError(
            StrCat(field, ": ", q.ToString(), " is out of range 1Mi..", Bytes(memory).ToString()));
      }
      limits.pinned_device_memory_bytes = static_cast<uint64_t>(bytes) / kMiB * kMiB;
    } else {
      return absl::InvalidArgumentError(StrCat(field, ": not a capacity of this device"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<GpuDriver::Plan>> GpuDriver::PlanClaim(
    const ClaimPrepareRequest& request, const Snapshot& snap) const {
  std::vector<Plan> plans;
  std::optional<size_t> mps_plan;  // index into plans
  for (const DeviceAllocation& a : request.devices) {
    const std::string ctx = RequestContext(a);
    auto t = snap.targets.find(a.device);
    if (t == snap.targets.end()) {
      return absl::NotFoundError(StrCat(ctx, ": no such GPU device on this node"));
    }
    Plan p;
    p.alloc = &a;
    p.target = t->second;
    p.gpu = snap.discovery.gpus[p.target.gpu];
    p.share = !a.share_id.empty();
    p.user = SharingUser(request.claim_uid, a.device, a.share_id);
    if (!p.gpu.preparable) {
      return absl::FailedPreconditionError(StrCat(ctx, ": not preparable: ", p.gpu.health_message));
    }
    absl::StatusOr<GpuConfig> config = ResolveGpuConfig(a.configs, options_.domain);
    if (!config.ok()) return base::Annotate(config.status(), ctx);
    p.strategy = config->strategy;
    p.interval = config->interval;
    p.limits = config->mps;

    if (p.share) {
      if (!p.target.shareable) {
        return absl::InvalidArgumentError(
            StrCat(ctx, ": allocated as share ", a.share_id,
                   " but the GPU is not shared by capacity (it needs MPS: an NVIDIA GPU of compute "
                   "capability 7.0 or newer with MIG off, and --publish-consumable-capacity)"));
      }
      if (config->strategy_set && config->strategy != SharingStrategy::kMps) {
        return absl::InvalidArgumentError(
            StrCat(ctx, ": sharing.strategy: ", SharingStrategyName(config->strategy),
                   " is not allowed for a share; shares are always MPS clients"));
      }
      if (config->mps.active_thread_percentage || config->mps.pinned_device_memory_bytes) {
        return absl::InvalidArgumentError(
            StrCat(ctx, ": sharing.mps: limits of a share come from its consumed capacity"));
      }
      p.strategy = SharingStrategy::kMps;
      if (absl::Status s = ConsumedToLimits(a, p.gpu, p.limits); !s.ok()) {
        return base::Annotate(s, ctx);
      }
    }

    if (p.strategy != SharingStrategy::kExclusive) {
      if (p.gpu.vendor != Vendor::kNvidia) {
        return absl::InvalidArgumentError(
            StrCat(ctx, ": sharing.strategy: ", SharingStrategyName(p.strategy),
                   " needs an NVIDIA GPU; this GPU is ", VendorName(p.gpu.vendor)));
      }
      if (p.target.kind != TargetKind::kWhole) {
        return absl::InvalidArgumentError(
            StrCat(ctx, ": sharing.strategy: ", SharingStrategyName(p.strategy),
                   " is not supported on a MIG device (a MIG partition is already isolated)"));
      }
    }
    if (p.strategy == SharingStrategy::kMps) {
      if (!p.gpu.mps_capable()) {
        return absl::InvalidArgumentError(
            StrCat(ctx,
                   ": sharing.strategy: MPS with limits needs compute capability 7.0 or "
                   "newer; this GPU has ",
                   p.gpu.compute_capability ? p.gpu.compute_capability->ToString()
                                            : std::string("an unknown one")));
      }
      if (p.limits.pinned_device_memory_bytes && p.gpu.memory_bytes &&
          *p.limits.pinned_device_memory_bytes > *p.gpu.memory_bytes) {
        return absl::InvalidArgumentError(
            StrCat(ctx, ": sharing.mps.pinnedDeviceMemoryLimit: ",
                   Bytes(*p.limits.pinned_device_memory_bytes).ToString(),
                   " exceeds the GPU's memory ", Bytes(*p.gpu.memory_bytes).ToString()));
      }
      if (mps_plan) {
        return absl::InvalidArgumentError(
            StrCat(ctx, ": at most one MPS-shared GPU per claim (",
                   RequestContext(*plans[*mps_plan].alloc),
                   " is one already): each GPU has its own MPS daemon and a process reaches one"));
      }
      if (absl::Status s = sharing_->CheckMps(TargetOf(p.gpu), p.user); !s.ok()) {
        return base::Annotate(s, ctx);
      }
    }
    if (p.strategy == SharingStrategy::kTimeSlicing) {
      if (absl::Status s = sharing_->CheckTimeSlice(TargetOf(p.gpu), p.interval, p.user); !s.ok()) {
        return base::Annotate(s, ctx);
      }
    }

    if (p.target.kind == TargetKind::kMigPlacement) {
      if (p.gpu.nvml_index == std::nullopt || nvml_ == nullptr) {
        return absl::FailedPreconditionError(StrCat(ctx, ": MIG needs NVML"));
      }
      for (const nvidia::GpuInstance& gi : p.gpu.mig_instances) {
        if (!gi.placement.Overlaps(p.target.placement)) continue;
        if (gi.placement == p.target.placement && gi.profile_id == p.target.profile.id) {
          p.adopt = gi;
          continue;
        }
        const nvidia::GpuInstanceProfile* other = FindProfile(p.gpu.mig_profiles, gi.profile_id);
        return absl::FailedPreconditionError(
            StrCat(ctx, ": MIG placement ", p.target.placement.start, "+", p.target.placement.size,
                   " conflicts with GPU instance ", gi.id, " (",
                   other != nullptr ? other->name : StrCat("profile ", gi.profile_id), " at ",
                   gi.placement.start, "+", gi.placement.size, ")"));
      }
      if (p.adopt) {
        // Only an instance made for this very claim device is taken over.
        std::optional<std::string> owner = InstanceOwner(TargetOf(p.gpu).key, *p.adopt);
        if (owner != p.user) {
          return absl::FailedPreconditionError(
              StrCat(ctx, ": MIG placement is held by GPU instance ", p.adopt->id, " of ",
                     owner ? *owner : std::string("someone else")));
        }
      }
      for (const Plan& q : plans) {
        if (q.target.kind == TargetKind::kMigPlacement && q.gpu.address == p.gpu.address &&
            q.target.placement.Overlaps(p.target.placement)) {
          return absl::FailedPreconditionError(
              StrCat(ctx, ": MIG placement overlaps ", RequestContext(*q.alloc)));
        }
      }
    }
    if (p.strategy == SharingStrategy::kMps) mps_plan = plans.size();
    plans.push_back(std::move(p));
  }
  return plans;
}

// ---------------------------------------------------------------------------
// Device nodes.

base::DeviceNode GpuDriver::Node(std::string_view rel) const {
  base::DeviceNode n;
  n.path = StrCat("/dev/", rel);
  if (!options_.dev_root.empty()) n.host_path = StrCat(options_.dev_root, "/", rel);
  return n;
}

std::string GpuDriver::NodeCheckPath(std::string_view rel) const {
  if (!options_.dev_root.empty()) return StrCat(options_.dev_root, "/", rel);
  return HostPath(options_.host_root, StrCat("/dev/", rel));
}

namespace {

// The device nodes of one device that are known before anything is created
// (a MIG instance made on demand adds its capability nodes after creation).
std::vector<std::string> DeviceNodesOf(const GpuRecord& g,
                                       const std::optional<nvidia::GpuInstance>& instance) {
  std::vector<std::string> out;
  if (g.vendor == Vendor::kNvidia) {
    if (g.nvidia_minor) out.push_back(StrCat("nvidia", *g.nvidia_minor));
    if (instance) {
      if (instance->caps_minor)
        out.push_back(StrCat("nvidia-caps/nvidia-cap", *instance->caps_minor));
      if (!instance->compute_instances.empty() && instance->compute_instances.front().caps_minor) {
        out.push_back(
            StrCat("nvidia-caps/nvidia-cap", *instance->compute_instances.front().caps_minor));
      }
    }
    return out;
  }
  for (const DrmNode& n : g.drm_nodes) out.push_back(StrCat("dri/", n.name));
  return out;
}

}  // namespace

absl::Status GpuDriver::CheckDeviceNodes(const std::vector<Plan>& plans) const {
  std::vector<std::pair<std::string, std::string>> required;  // node, whose
  bool nvidia = false, amd = false;
  for (const Plan& p : plans) {
    std::optional<nvidia::GpuInstance> instance;
    if (p.target.kind == TargetKind::kMigExisting) instance = p.target.instance;
    for (std::string& n : DeviceNodesOf(p.gpu, instance)) {
      required.emplace_back(std::move(n), RequestContext(*p.alloc));
    }
    if (p.gpu.vendor == Vendor::kNvidia) {
      nvidia = true;
      if (!p.gpu.nvidia_minor) {
        return absl::FailedPreconditionError(
            StrCat(RequestContext(*p.alloc), ": the GPU's /dev/nvidia minor is unknown"));
      }
    }
    if (p.gpu.vendor == Vendor::kAmd) amd = true;
    if (p.gpu.vendor != Vendor::kNvidia && p.gpu.drm_nodes.empty()) {
      return absl::FailedPreconditionError(
          StrCat(RequestContext(*p.alloc), ": the GPU has no DRM device node"));
    }
  }
  if (nvidia) required.emplace_back("nvidiactl", "NVIDIA GPUs");
  if (amd) required.emplace_back("kfd", "AMD GPUs");
  for (const auto& [rel, whose] : required) {
    const std::string path = NodeCheckPath(rel);
    if (!fs_.Exists(path)) {
      return absl::FailedPreconditionError(StrCat(
          whose, ": device node ", path, " does not exist",
          options_.simulated ? " (materialize the simulated node's device nodes first)" : ""));
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Applying and undoing.

absl::StatusOr<uint32_t> GpuDriver::NvmlIndexFor(const std::string& gpu_key,
                                                 const std::string& pci_bus_id) const {
  if (nvml_ == nullptr) return absl::FailedPreconditionError("NVML is not loaded");
  if (base::StartsWith(gpu_key, "GPU-")) return nvidia::FindGpuByUuid(*nvml_, gpu_key);
  ASSIGN_OR_RETURN(base::PciAddress want, base::PciAddress::Parse(pci_bus_id));
  ASSIGN_OR_RETURN(uint32_t count, nvml_->GetGpuCount());
  for (uint32_t i = 0; i < count; ++i) {
    absl::StatusOr<nvidia::GpuInfo> g = nvml_->GetGpu(i);
    if (g.ok() && g->pci_address == want) return i;
  }
  return absl::NotFoundError(StrCat("no GPU at ", pci_bus_id, " in NVML"));
}

absl::Status GpuDriver::ApplyMig(Plan& p) {
  const uint32_t index = *p.gpu.nvml_index;
  const std::string where =
      StrCat("GPU ", p.gpu.address.ToString(), " profile ", p.target.profile.name, " placement ",
             p.target.placement.start, "+", p.target.placement.size);
  LedgerEntry entry{.user = p.user,
                    .kind = LedgerEntry::Kind::kMig,
                    .gpu = TargetOf(p.gpu),
                    .pci_bus_id = p.gpu.address.ToString(),
                    .profile_id = p.target.profile.id,
                    .placement = p.target.placement};
  bool created_gi = false;
  nvidia::GpuInstance gi;
  if (p.adopt) {
    gi = *p.adopt;
  } else {
    // The intent is durable before the GPU changes: a crash from here on
    // leaves a record saying which instance is ours.
    RETURN_IF_ERROR(ledger_->Put(entry));
    absl::StatusOr<nvidia::GpuInstance> made =
        nvml_->CreateGpuInstance(index, p.target.profile.id, p.target.placement);
    if (!made.ok()) {
      if (absl::Status r = ledger_->Remove(p.user, LedgerEntry::Kind::kMig); !r.ok()) {
        Log().warn("drop MIG intent after failed create: {}", r.ToString());
      }
      return base::Annotate(made.status(), StrCat("create GPU instance on ", where));
    }
    gi = *made;
    created_gi = true;
    entry.gpu_instance = gi.id;
    if (absl::Status s = ledger_->Put(entry); !s.ok()) {
      Log().warn("record GPU instance id gi={}: {}", gi.id, s.ToString());
    }
  }
  nvidia::ComputeInstance ci;
  if (!gi.compute_instances.empty()) {
    ci = gi.compute_instances.front();
  } else {
    absl::Status failed;
    absl::StatusOr<std::vector<nvidia::ComputeInstanceProfile>> cips =
        nvml_->GetComputeInstanceProfiles(index, gi.id);
    if (!cips.ok()) {
      failed = base::Annotate(cips.status(), StrCat("compute instance profiles on ", where));
    } else if (std::optional<uint32_t> cip =
                   FullComputeInstanceProfile(*cips, p.target.profile.slice_count);
               !cip) {
      failed = absl::FailedPreconditionError(
          StrCat("no compute instance profile spans GPU instance ", gi.id, " on ", where));
    } else if (absl::StatusOr<nvidia::ComputeInstance> made =
                   nvml_->CreateComputeInstance(index, gi.id, *cip);
               !made.ok()) {
      failed = base::Annotate(made.status(), StrCat("create compute instance on ", where));
    } else {
      ci = *made;
    }
    if (!failed.ok()) {
      if (created_gi) {
        absl::Status undo = nvml_->DestroyGpuInstance(index, gi.id);
        if (!undo.ok() && !absl::IsNotFound(undo)) {
          // The ledger keeps the entry: the claim's rollback tries again.
          Log().warn("undo of GPU instance after failed prepare failed gpu={} gi={}: {}",
                     p.gpu.address.ToString(), gi.id, undo.ToString());
        } else if (absl::Status r = ledger_->Remove(p.user, LedgerEntry::Kind::kMig); !r.ok()) {
          Log().warn("drop MIG record after undo: {}", r.ToString());
        }
      }
      return failed;
    }
    gi.compute_instances = {ci};
  }
  p.mig_gi = gi;
  p.mig_ci = ci;
  p.state.mig = DeviceState::Mig{.gpu_instance = gi.id,
                                 .compute_instance = ci.id,
                                 .profile = p.target.profile.id,
                                 .placement = p.target.placement,
                                 .created = true,
                                 .uuid = ci.uuid};
  entry.gpu_instance = gi.id;
  entry.compute_instance = ci.id;
  RETURN_IF_ERROR(ledger_->Put(entry));
  Log().info("{} MIG instance gpu={} gi={} ci={} profile={} placement={}",
             p.adopt ? "adopted" : "created", p.gpu.address.ToString(), gi.id, ci.id,
             p.target.profile.name, p.target.placement.start);
  // The capability nodes a container needs for this instance.
  for (std::optional<uint32_t> minor : {gi.caps_minor, ci.caps_minor}) {
    if (!minor) {
      return absl::FailedPreconditionError(
          StrCat("MIG capability minor of GPU instance ", gi.id, " on ", where,
                 " is unknown (is /proc/driver/nvidia-caps/mig-minors readable?)"));
    }
    const std::string path = NodeCheckPath(StrCat("nvidia-caps/nvidia-cap", *minor));
    if (!fs_.Exists(path)) {
      return absl::FailedPreconditionError(StrCat("device node ", path, " does not exist"));
    }
  }
  return absl::OkStatus();
}

absl::Status GpuDriver::Apply(Plan& p) {
  p.state.vendor = std::string(VendorName(p.gpu.vendor));
  p.state.pci_bus_id = p.gpu.address.ToString();
  p.state.target = TargetOf(p.gpu);
  p.state.sharing = p.strategy;
  p.state.interval = p.interval;
  p.state.limits = p.limits;
  if (p.target.kind == TargetKind::kMigPlacement) {
    p.applied = true;  // ApplyMig may leave an instance behind for Undo to take
    RETURN_IF_ERROR(ApplyMig(p));
  } else if (p.target.kind == TargetKind::kMigExisting) {
    const nvidia::GpuInstance& gi = *p.target.instance;
    p.mig_gi = gi;
    p.mig_ci = gi.compute_instances.front();
    p.state.mig = DeviceState::Mig{.gpu_instance = gi.id,
                                   .compute_instance = p.mig_ci->id,
                                   .profile = gi.profile_id,
                                   .placement = gi.placement,
                                   .created = false,
                                   .uuid = p.mig_ci->uuid};
  }
  switch (p.strategy) {
    case SharingStrategy::kExclusive:
      break;
    case SharingStrategy::kTimeSlicing: {
      LedgerEntry e{.user = p.user,
                    .kind = LedgerEntry::Kind::kTimeSlice,
                    .gpu = p.state.target,
                    .pci_bus_id = p.state.pci_bus_id,
                    .interval = p.interval};
      RETURN_IF_ERROR(ledger_->Put(e));
      if (absl::Status s = sharing_->AcquireTimeSlice(p.state.target, p.interval, p.user);
          !s.ok()) {
        (void)ledger_->Remove(p.user, e.kind);
        return s;
      }
      break;
    }
    case SharingStrategy::kMps: {
      LedgerEntry e{.user = p.user,
                    .kind = LedgerEntry::Kind::kMps,
                    .gpu = p.state.target,
                    .pci_bus_id = p.state.pci_bus_id};
      RETURN_IF_ERROR(ledger_->Put(e));
      absl::StatusOr<MpsDaemon> d = sharing_->AcquireMps(p.state.target, p.user);
      if (!d.ok()) {
        (void)ledger_->Remove(p.user, e.kind);
        return d.status();
      }
      p.state.daemon = *d;
      break;
    }
  }
  p.applied = true;
  return absl::OkStatus();
}

bool GpuDriver::OwnsInstance(const std::string& gpu_key, const nvidia::GpuInstance& gi) const {
  return InstanceOwner(gpu_key, gi).has_value();
}

std::optional<std::string> GpuDriver::InstanceOwner(const std::string& gpu_key,
                                                    const nvidia::GpuInstance& gi) const {
  for (const LedgerEntry& e : ledger_->entries()) {
    if (e.kind != LedgerEntry::Kind::kMig || e.gpu.key != gpu_key) continue;
    if (e.gpu_instance ? *e.gpu_instance == gi.id && e.placement == gi.placement
                       : e.placement == gi.placement && e.profile_id == gi.profile_id) {
      return e.user;
    }
  }
  return std::nullopt;
}

absl::Status GpuDriver::DestroyMig(const LedgerEntry& e) {
  absl::StatusOr<uint32_t> index = NvmlIndexFor(e.gpu.key, e.pci_bus_id);
  if (!index.ok()) {
    if (absl::IsNotFound(index.status())) return absl::OkStatus();  // the GPU is gone
    return base::Annotate(index.status(), StrCat("find GPU ", e.gpu.key));
  }
  ASSIGN_OR_RETURN(std::vector<nvidia::GpuInstance> gis,
                   base::Annotate(nvml_->ListGpuInstances(*index),
                                  StrCat("list MIG instances of ", e.pci_bus_id)));
  for (const nvidia::GpuInstance& gi : gis) {
    const bool match = e.gpu_instance
                           ? gi.id == *e.gpu_instance && gi.placement == e.placement
                           : gi.placement == e.placement && gi.profile_id == e.profile_id;
    if (!match) continue;
    for (const nvidia::ComputeInstance& ci : gi.compute_instances) {
      absl::Status s = nvml_->DestroyComputeInstance(*index, gi.id, ci.id);
      if (!s.ok() && !absl::IsNotFound(s)) {
        return base::Annotate(s, StrCat("destroy compute instance ", ci.id, " of GPU instance ",
                                        gi.id, " on ", e.pci_bus_id));
      }
    }
    absl::Status s = nvml_->DestroyGpuInstance(*index, gi.id);
    if (!s.ok() && !absl::IsNotFound(s)) {
      return base::Annotate(s, StrCat("destroy GPU instance ", gi.id, " on ", e.pci_bus_id));
    }
    Log().info("destroyed MIG instance gpu={} gi={}", e.pci_bus_id, gi.id);
  }
  return absl::OkStatus();
}

namespace {

// Ledger entries equivalent to a recorded device state (for claims prepared
// before the ledger existed, or with a lost ledger).
std::vector<LedgerEntry> EntriesFromState(const DeviceState& s, const std::string& user) {
  std::vector<LedgerEntry> out;
  LedgerEntry base{.user = user, .gpu = s.target, .pci_bus_id = s.pci_bus_id};
  if (s.sharing == SharingStrategy::kTimeSlicing) {
    LedgerEntry e = base;
    e.kind = LedgerEntry::Kind::kTimeSlice;
    e.interval = s.interval;
    out.push_back(e);
  } else if (s.sharing == SharingStrategy::kMps) {
    LedgerEntry e = base;
    e.kind = LedgerEntry::Kind::kMps;
    out.push_back(e);
  }
  if (s.mig && s.mig->created) {
    LedgerEntry e = base;
    e.kind = LedgerEntry::Kind::kMig;
    e.profile_id = s.mig->profile;
    e.placement = s.mig->placement;
    e.gpu_instance = s.mig->gpu_instance;
    e.compute_instance = s.mig->compute_instance;
    out.push_back(e);
  }
  return out;
}

}  // namespace

absl::Status GpuDriver::UndoUser(const std::string& user, const Json* recorded) {
  std::vector<LedgerEntry> entries = ledger_->EntriesOf(user);
  if (entries.empty() && recorded != nullptr) {
    if (std::optional<DeviceState> s = FromJson(*recorded)) entries = EntriesFromState(*s, user);
  }
  // Sharing first (the daemon lets go of the GPU), MIG after.
  std::stable_sort(entries.begin(), entries.end(), [](const LedgerEntry& a, const LedgerEntry& b) {
    return (a.kind == LedgerEntry::Kind::kMig) < (b.kind == LedgerEntry::Kind::kMig);
  });
  for (const LedgerEntry& e : entries) {
    switch (e.kind) {
      case LedgerEntry::Kind::kTimeSlice:
        RETURN_IF_ERROR(sharing_->ReleaseTimeSlice(e.gpu, user));
        break;
      case LedgerEntry::Kind::kMps:
        RETURN_IF_ERROR(sharing_->ReleaseMps(e.gpu, user));
        break;
      case LedgerEntry::Kind::kMig:
        RETURN_IF_ERROR(DestroyMig(e));
        break;
    }
    RETURN_IF_ERROR(ledger_->Remove(user, e.kind));
  }
  return absl::OkStatus();
}

absl::Status GpuDriver::Undo(std::string_view claim_uid, const PreparedDevice& device) {
  return UndoUser(SharingUser(claim_uid, device.device, device.share_id), &device.state);
}

// ---------------------------------------------------------------------------
// Container edits.

namespace {

struct AlignedNic {
  base::PciAddress address;
  std::string name;  // kernel RDMA device, or the DRA device name when unknown
  bool has_rdma_name = false;
  topology::LinkType best = topology::LinkType::kSys;
};

void AddAlignment(const topology::NodeTopology& topo, const std::vector<PeerDevice>& peers,
                  const std::vector<const GpuRecord*>& gpus, std::string_view domain,
                  base::ContainerEdits& edits) {
  const std::string rdma_driver = StrCat("rdma.", domain);
  std::vector<AlignedNic> nics;
  std::set<base::PciAddress> seen;
  for (const PeerDevice& peer : peers) {
    if (peer.driver != rdma_driver) continue;
    std::optional<base::PciAddress> a = PciFromDeviceName(peer.device);
    if (!a || !seen.insert(*a).second) continue;
    const topology::PciDevice* nic = topo.FindDevice(*a);
    if (nic == nullptr) continue;
    AlignedNic n{.address = *a, .name = peer.device};
    if (const topology::OsDevice* os = nic->FindOsDevice(topology::OsDeviceType::kOpenFabrics)) {
      n.name = os->name;
      n.has_rdma_name = true;
    }
    for (const GpuRecord* g : gpus) {
      if (const topology::PciDevice* gd = topo.FindDevice(g->address)) {
        n.best = std::min(n.best, topo.Relation(*gd, *nic));
      }
    }
    nics.push_back(std::move(n));
  }
  if (nics.empty() || gpus.empty()) return;
  std::sort(nics.begin(), nics.end(), [](const AlignedNic& a, const AlignedNic& b) {
    return std::tie(a.best, a.address) < std::tie(b.best, b.address);
  });
  std::vector<std::string> hcas, names;
  for (const AlignedNic& n : nics) {
    names.push_back(n.name);
    // "=" makes NCCL match names exactly (mlx5_1 must not select mlx5_10).
    if (n.has_rdma_name) hcas.push_back(n.name);
  }
  if (!hcas.empty()) edits.env.push_back(StrCat("NCCL_IB_HCA==", base::Join(hcas, ",")));
  edits.env.push_back(StrCat("TESSERA_ALIGNED_NICS=", base::Join(names, ",")));
  std::vector<std::string> pairs;
  for (const GpuRecord* g : gpus) {
    const topology::PciDevice* gd = topo.FindDevice(g->address);
    if (gd == nullptr) continue;
    const AlignedNic* best = nullptr;
    topology::LinkType best_link = topology::LinkType::kSys;
    for (const AlignedNic& n : nics) {
      const topology::LinkType l = topo.Relation(*gd, *topo.FindDevice(n.address));
      if (best == nullptr || l < best_link) {
        best = &n;
        best_link = l;
      }
    }
    pairs.push_back(StrCat(DeviceNameForPci("gpu", g->address), "=", best->name, ":",
                           topology::LinkTypeName(best_link)));
  }
  edits.env.push_back(StrCat("TESSERA_GPU_NIC_RELATION=", base::Join(pairs, ",")));
}

std::string SharingLabel(const GpuDriver::Plan& p);

}  // namespace

absl::StatusOr<PreparedClaim> GpuDriver::BuildResult(const ClaimPrepareRequest& request,
                                                     const std::vector<Plan>& plans,
                                                     const Snapshot& snap) const {
  PreparedClaim out;
  bool nvidia = false, amd = false, live_nvidia = false;
  std::vector<std::string> nvidia_ids, rocr_ids, names, uuids, sharing;
  bool rocr_complete = true;
  std::vector<const GpuRecord*> gpus;
  std::string driver_version;
  for (const Plan& p : plans) {
    PreparedDevice d{
        .request = p.alloc->request, .device = p.alloc->device, .share_id = p.alloc->share_id};
    base::ContainerEdits& e = d.edits;
    const GpuRecord& g = p.gpu;
    gpus.push_back(&g);
    names.push_back(p.alloc->device);
    sharing.push_back(SharingLabel(p));
    if (g.vendor == Vendor::kNvidia) {
      nvidia = true;
      if (!options_.simulated && g.nvml_index) {
        live_nvidia = true;
        driver_version = g.driver_version;
      }
      e.device_nodes.push_back(Node(StrCat("nvidia", *g.nvidia_minor)));
      std::string uuid = g.uuid;
      if (p.mig_gi && p.mig_ci) {
        for (std::optional<uint32_t> minor : {p.mig_gi->caps_minor, p.mig_ci->caps_minor}) {
          if (minor) e.device_nodes.push_back(Node(StrCat("nvidia-caps/nvidia-cap", *minor)));
        }
        uuid = p.mig_ci->uuid;
      }
      nvidia_ids.push_back(uuid.empty() ? std::to_string(g.index) : uuid);
      if (!uuid.empty()) uuids.push_back(uuid);
    } else {
      if (g.vendor == Vendor::kAmd) {
        amd = true;
        if (g.uuid.empty()) {
          rocr_complete = false;
        } else {
          rocr_ids.push_back(StrCat("GPU-", g.uuid));
        }
      }
      if (!g.uuid.empty()) uuids.push_back(g.uuid);
      for (const DrmNode& n : g.drm_nodes) e.device_nodes.push_back(Node(StrCat("dri/", n.name)));
    }
    if (p.state.daemon) {
      e.mounts.push_back({.host_path = p.state.daemon->pipe_dir,
                          .container_path = std::string(kMpsPipeContainerPath),
                          .type = "bind",
                          .options = {"rw", "nosuid", "nodev", "bind"}});
      if (!options_.mps_shm_dir.empty()) {
        e.mounts.push_back({.host_path = options_.mps_shm_dir,
                            .container_path = "/dev/shm",
                            .type = "bind",
                            .options = {"rw", "nosuid", "nodev", "bind"}});
      }
      e.env.push_back(StrCat("CUDA_MPS_PIPE_DIRECTORY=", kMpsPipeContainerPath));
      if (p.limits.active_thread_percentage) {
        e.env.push_back(
            StrCat("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=", *p.limits.active_thread_percentage));
      }
      if (p.limits.pinned_device_memory_bytes) {
        // Device 0 is the only GPU the container sees through this daemon.
        e.env.push_back(StrCat("CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=",
                               *p.limits.pinned_device_memory_bytes / kMiB, "M"));
      }
      if (p.share) {
        e.env.push_back(StrCat("TESSERA_GPU_SHARE_ID=", p.alloc->share_id));
        if (p.limits.pinned_device_memory_bytes) {
          e.env.push_back(
              StrCat("TESSERA_GPU_MEMORY_LIMIT_BYTES=", *p.limits.pinned_device_memory_bytes));
        }
        if (p.limits.active_thread_percentage) {
          e.env.push_back(
              StrCat("TESSERA_GPU_COMPUTE_PERCENT=", *p.limits.active_thread_percentage));
        }
      }
    }
    d.state = ToJson(p.state);
    out.devices.push_back(std::move(d));
  }

  base::ContainerEdits& c = out.claim_edits;
  if (nvidia) {
    c.device_nodes.push_back(Node("nvidiactl"));
    for (std::string_view optional : {"nvidia-uvm", "nvidia-uvm-tools"}) {
      if (fs_.Exists(NodeCheckPath(optional))) {
        c.device_nodes.push_back(Node(optional));
      } else {
        Log().debug("device node absent, not injected path={}", NodeCheckPath(optional));
      }
    }
    c.env.push_back(StrCat("NVIDIA_VISIBLE_DEVICES=", base::Join(nvidia_ids, ",")));
  }
  if (amd) {
    c.device_nodes.push_back(Node("kfd"));
    if (rocr_complete && !rocr_ids.empty()) {
      c.env.push_back(StrCat("ROCR_VISIBLE_DEVICES=", base::Join(rocr_ids, ",")));
    }
  }
  c.env.push_back(StrCat("TESSERA_CLAIM_UID=", request.claim_uid));
  c.env.push_back(StrCat("TESSERA_GPU_DEVICES=", base::Join(names, ",")));
  if (!uuids.empty()) c.env.push_back(StrCat("TESSERA_GPU_UUIDS=", base::Join(uuids, ",")));
  c.env.push_back(StrCat("TESSERA_GPU_SHARING=", base::Join(sharing, ",")));
  AddAlignment(*snap.topology, request.peers, gpus, options_.domain, c);
  if (live_nvidia && options_.inject_driver_files) {
    std::vector<std::string> first;
    if (std::optional<std::string> dir = LoadedNvmlDir(fs_, options_.host_root))
      first.push_back(*dir);
    std::vector<base::Mount> files =
        FindNvidiaDriverFiles(fs_, options_.host_root, driver_version, first);
    if (files.empty()) {
      Log().warn("no NVIDIA driver files found under host_root={} driver_version={}",
                 options_.host_root, driver_version);
    }
    for (base::Mount& m : files) c.mounts.push_back(std::move(m));
  }
  return out;
}

namespace {

std::string SharingLabel(const GpuDriver::Plan& p) {
  if (p.strategy == SharingStrategy::kTimeSlicing) {
    return StrCat("TimeSlicing:", TimeSliceIntervalName(p.interval));
  }
  return std::string(SharingStrategyName(p.strategy));
}

}  // namespace

// ---------------------------------------------------------------------------
// The DeviceDriver operations.

absl::StatusOr<PreparedClaim> GpuDriver::PrepareClaim(const ClaimPrepareRequest& request) {
  absl::MutexLock lock(&claims_mu_);
  const base::Clock::MonoTime start = clock_.MonotonicNow();
  Snapshot snap = TakeSnapshot();
  ASSIGN_OR_RETURN(std::vector<Plan> plans, PlanClaim(request, snap));
  RETURN_IF_ERROR(CheckDeviceNodes(plans));

  absl::Status failed;
  for (Plan& p : plans) {
    failed = Apply(p);
    if (!failed.ok()) {
      failed = base::Annotate(failed, RequestContext(*p.alloc));
      break;
    }
  }
  absl::StatusOr<PreparedClaim> result =
      failed.ok() ? BuildResult(request, plans, snap) : absl::StatusOr<PreparedClaim>(failed);
  if (!result.ok()) {
    // All or nothing: undo in reverse, including a device that failed half way.
    for (auto it = plans.rbegin(); it != plans.rend(); ++it) {
      if (!it->applied && ledger_->EntriesOf(it->user).empty()) continue;
      if (absl::Status u = UndoUser(it->user, nullptr); !u.ok()) {
        Log().error("rollback of failed prepare left host state claim={} device={}: {}",
                    request.claim_uid, it->alloc->device, u.ToString());
        return absl::Status(result.status().code(),
                            StrCat(base::Std(result.status().message()),
                                   "; rollback failed: ", base::Std(u.message())));
      }
    }
    return result.status();
  }
  Log().info(
      "prepared claim uid={} devices={} duration_ms={}", request.claim_uid, plans.size(),
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.MonotonicNow() - start).count());
  return result;
}

bool GpuDriver::HasSideEffects(const ClaimPrepareRequest& request) const {
  for (const DeviceAllocation& a : request.devices) {
    if (!a.share_id.empty() || ParseMigDeviceName(a.device)) return true;
    absl::StatusOr<GpuConfig> c = ResolveGpuConfig(a.configs, options_.domain);
    if (c.ok() && c->strategy != SharingStrategy::kExclusive) return true;
  }
  return false;
}

absl::Status GpuDriver::UnprepareClaim(std::string_view claim_uid, const PreparedClaim& prepared) {
  absl::MutexLock lock(&claims_mu_);
  for (auto it = prepared.devices.rbegin(); it != prepared.devices.rend(); ++it) {
    RETURN_IF_ERROR(base::Annotate(Undo(claim_uid, *it),
                                   StrCat("unprepare claim ", claim_uid, " device ", it->device)));
  }
  Log().info("unprepared claim uid={} devices={}", claim_uid, prepared.devices.size());
  return absl::OkStatus();
}

absl::Status GpuDriver::RestoreState(
    const std::vector<std::pair<std::string, PreparedClaim>>& prepared_claims) {
  absl::MutexLock lock(&claims_mu_);
  int restored = 0;
  for (const auto& [uid, claim] : prepared_claims) {
    for (const PreparedDevice& d : claim.devices) {
      std::optional<DeviceState> s = FromJson(d.state);
      if (!s) continue;
      const std::string user = SharingUser(uid, d.device, d.share_id);
      if (s->sharing == SharingStrategy::kTimeSlicing) {
        sharing_->RestoreTimeSlice(s->target, s->interval, user);
      } else if (s->sharing == SharingStrategy::kMps) {
        sharing_->RestoreMps(s->target, user);
      }
      // A claim recorded before the ledger knew it (or after it was lost).
      for (const LedgerEntry& e : EntriesFromState(*s, user)) {
        bool known = false;
        for (const LedgerEntry& have : ledger_->EntriesOf(user)) known |= have.kind == e.kind;
        if (!known) RETURN_IF_ERROR(base::Annotate(ledger_->Put(e), "restore gpu host state"));
      }
      ++restored;
    }
  }
  Log().info("restored gpu driver state claims={} devices={}", prepared_claims.size(), restored);
  return absl::OkStatus();
}

absl::Status GpuDriver::ReapplyClaim(std::string_view claim_uid, const PreparedClaim& prepared) {
  absl::MutexLock lock(&claims_mu_);
  for (const PreparedDevice& d : prepared.devices) {
    std::optional<DeviceState> s = FromJson(d.state);
    if (!s) continue;
    const std::string ctx = StrCat("re-apply claim ", claim_uid, " device ", d.device);
    if (s->mig && s->mig->created) {
      // MIG instances do not survive a reboot: make the same one again. The
      // driver hands out GPU instance ids by placement, so the capability
      // nodes in the claim's CDI spec stay right; a different id would not.
      ASSIGN_OR_RETURN(uint32_t index,
                       base::Annotate(NvmlIndexFor(s->target.key, s->pci_bus_id), ctx));
      ASSIGN_OR_RETURN(std::vector<nvidia::GpuInstance> gis,
                       base::Annotate(nvml_->ListGpuInstances(index), ctx));
      bool present = false;
      for (const nvidia::GpuInstance& gi : gis) {
        present |= gi.id == s->mig->gpu_instance && gi.placement == s->mig->placement;
      }
      if (!present) {
        ASSIGN_OR_RETURN(
            nvidia::GpuInstance gi,
            base::Annotate(nvml_->CreateGpuInstance(index, s->mig->profile, s->mig->placement),
                           ctx));
        if (gi.id != s->mig->gpu_instance) {
          (void)nvml_->DestroyGpuInstance(index, gi.id);
          return absl::FailedPreconditionError(StrCat(ctx, ": the GPU instance came back with id ",
                                                      gi.id, " instead of ", s->mig->gpu_instance));
        }
        ASSIGN_OR_RETURN(std::vector<nvidia::ComputeInstanceProfile> cips,
                         base::Annotate(nvml_->GetComputeInstanceProfiles(index, gi.id), ctx));
        const nvidia::GpuInstanceProfile* gip = nullptr;
        absl::StatusOr<std::vector<nvidia::GpuInstanceProfile>> gips =
            nvml_->GetGpuInstanceProfiles(index);
        if (gips.ok()) gip = FindProfile(*gips, s->mig->profile);
        std::optional<uint32_t> cip =
            gip != nullptr ? FullComputeInstanceProfile(cips, gip->slice_count) : std::nullopt;
        if (!cip)
          return absl::FailedPreconditionError(StrCat(ctx, ": no compute instance profile"));
        RETURN_IF_ERROR(
            base::Annotate(nvml_->CreateComputeInstance(index, gi.id, *cip).status(), ctx));
      }
      for (LedgerEntry& e : EntriesFromState(*s, SharingUser(claim_uid, d.device, d.share_id))) {
        if (e.kind == LedgerEntry::Kind::kMig)
          RETURN_IF_ERROR(base::Annotate(ledger_->Put(e), ctx));
      }
    }
    if (s->sharing != SharingStrategy::kExclusive) {
      RETURN_IF_ERROR(base::Annotate(sharing_->Reapply(s->target), ctx));
    }
  }
  return absl::OkStatus();
}

}  // namespace tessera::drivers::gpu
