#include "drivers/npu/npu_driver.h"

#include <algorithm>
#include <set>
#include <utility>

#include "spdlog/fmt/fmt.h"

#include "base/log.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "drivers/naming.h"
#include "drivers/npu/dlopen_dcmi.h"
#include "drivers/npu/dlopen_hlml.h"
#include "drivers/npu/internal/log.h"
#include "drivers/npu/npu_config.h"
#include "drivers/npu/vnpu.h"

namespace tessera::drivers::npu {

namespace {

using internal::Log;

// The shared management nodes every Ascend container needs next to its
// davinci nodes (mind-cluster ascend-docker-runtime and every documented
// `docker run` of an Ascend image pass these three).
constexpr std::string_view kAscendSharedNodes[] = {"/dev/davinci_manager", "/dev/devmm_svm",
                                                   "/dev/hisi_hdc"};
constexpr std::string_view kHccnConf = "/etc/hccn.conf";

// Visibility variables. ASCEND_* are read by the Ascend Docker Runtime and
// CANN, HABANA_* by habana-container-hook and the Gaudi runtime
// (intel-resource-drivers-for-kubernetes pkg/gaudi/device). The accel class
// has no vendor variable; Tessera sets its own.
constexpr std::string_view kAscendVisibleDevices = "ASCEND_VISIBLE_DEVICES";
constexpr std::string_view kAscendRuntimeOptions = "ASCEND_RUNTIME_OPTIONS";
constexpr std::string_view kHabanaVisibleDevices = "HABANA_VISIBLE_DEVICES";
constexpr std::string_view kHabanaVisibleModules = "HABANA_VISIBLE_MODULES";
constexpr std::string_view kAccelVisibleDevices = "TESSERA_ACCEL_VISIBLE_DEVICES";

// "/" + "/dev/x" -> "/dev/x"; "/host" + "/dev/x" -> "/host/dev/x".
std::string UnderRoot(std::string_view root, std::string_view path) {
  if (root.empty() || root == "/") return std::string(path);
  std::string out(root);
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return base::StrCat(out, path);
}

std::string JoinInts(const std::vector<int>& values) { return base::Join(values, ","); }

bool HasSlash(std::string_view s) { return s.find('/') != std::string_view::npos; }

// Whether `name` is one of our vNPU partition devices: "<npu name>-vir...".
bool IsPartitionName(std::string_view name) {
  std::optional<base::PciAddress> pci = PciFromDeviceName(name);
  if (!pci) return false;
  const std::string whole = DeviceNameForPci("npu", *pci);
  return base::StartsWith(name, whole) && base::StartsWith(name.substr(whole.size()), "-vir");
}

std::string Describe(const absl::Status& s) { return std::string(base::Std(s.message())); }

}  // namespace

std::optional<AbsentPolicy> ParseAbsentPolicy(std::string_view text) {
  if (text == "idle") return AbsentPolicy::kIdle;
  if (text == "skip") return AbsentPolicy::kSkip;
  return std::nullopt;
}

std::string_view AbsentPolicyName(AbsentPolicy policy) {
  return policy == AbsentPolicy::kSkip ? "skip" : "idle";
}

struct NpuDriver::Stats {
  explicit Stats(base::metrics::Registry& r)
      : dcmi_missing(r.GetGauge("tessera_npu_vendor_library_missing",
                                "1 while NPUs of the library's vendor exist and the library "
                                "cannot be used (devices listed from sysfs only)",
                                {{"library", "dcmi"}})),
        hlml_missing(r.GetGauge("tessera_npu_vendor_library_missing",
                                "1 while NPUs of the library's vendor exist and the library "
                                "cannot be used (devices listed from sysfs only)",
                                {{"library", "hlml"}})),
        create_ok(Op(r, "create", "success")),
        create_error(Op(r, "create", "error")),
        destroy_ok(Op(r, "destroy", "success")),
        destroy_error(Op(r, "destroy", "error")),
        ascend(Devices(r, "ascend")),
        gaudi(Devices(r, "gaudi")),
        accel(Devices(r, "accel")) {}

  static base::metrics::Counter& Op(base::metrics::Registry& r, std::string_view op,
                                    std::string_view result) {
    return r.GetCounter("tessera_npu_vnpu_operations_total", "npu-smi vNPU creations and removals",
                        {{"operation", std::string(op)}, {"result", std::string(result)}});
  }
  static base::metrics::Gauge& Devices(base::metrics::Registry& r, std::string_view family) {
    return r.GetGauge("tessera_npu_devices", "NPUs found by the last scan",
                      {{"family", std::string(family)}});
  }

  base::metrics::Gauge& dcmi_missing;
  base::metrics::Gauge& hlml_missing;
  base::metrics::Counter& create_ok;
  base::metrics::Counter& create_error;
  base::metrics::Counter& destroy_ok;
  base::metrics::Counter& destroy_error;
  base::metrics::Gauge& ascend;
  base::metrics::Gauge& gaudi;
  base::metrics::Gauge& accel;
};

struct NpuDriver::DeviceRef {
  const NpuRecord* npu = nullptr;
  const VnpuPartition* partition = nullptr;  // null: the whole NPU
};

struct NpuDriver::ChipUsage {
  uint32_t aicore = 0;
  uint32_t aicpu = 0;
  uint64_t memory_bytes = 0;
  std::map<std::string, std::string> partitions;  // partition device -> claim uid
  std::set<std::string> whole_claims;             // claims holding the whole chip
};

struct NpuDriver::VnpuOp {
  std::string npu;
  std::string device;
  std::string template_name;
  int card_id = 0;
  int chip_id = 0;
  int vnpu_id = 0;
};

namespace {

// The driver-private record of a prepared device (PreparedDevice::state).
nlohmann::json WholeState(const NpuRecord& npu, bool admin_access) {
  return {{"kind", "whole"},
          {"family", std::string(NpuFamilyName(npu.family))},
          {"index", *npu.index},
          {"adminAccess", admin_access}};
}

nlohmann::json VnpuState(const NpuRecord& npu, const VnpuPartition& p, bool adopted) {
  return {{"kind", "vnpu"},      {"npu", npu.name},        {"template", p.template_name},
          {"vnpuId", p.vnpu_id}, {"cardId", *npu.card_id}, {"chipId", *npu.chip_id},
          {"aicore", p.aicore},  {"aicpu", p.aicpu},       {"memoryBytes", p.memory_bytes},
          {"adopted", adopted}};
}

// Reads a vNPU state back; nullopt when `state` is not one (a whole device,
// or the empty state of a rollback after a crash).
struct VnpuRecord {
  std::string npu;
  std::string template_name;
  int vnpu_id = 0;
  int card_id = 0;
  int chip_id = 0;
  uint32_t aicore = 0;
  uint32_t aicpu = 0;
  uint64_t memory_bytes = 0;
};
std::optional<VnpuRecord> ParseVnpuState(const nlohmann::json& state) {
  if (!state.is_object() || state.value("kind", "") != "vnpu") return std::nullopt;
  auto integer = [&](const char* key) -> std::optional<int64_t> {
    auto it = state.find(key);
    if (it == state.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<int64_t>();
  };
  auto id = integer("vnpuId");
  auto card = integer("cardId");
  auto chip = integer("chipId");
  if (!id || !card || !chip || *id < kFirstVnpuId || *id > 1'000'000 || *card < 0 || *chip < 0) {
    return std::nullopt;
  }
  VnpuRecord r;
  r.npu = state.value("npu", "");
  r.template_name = state.value("template", "");
  r.vnpu_id = static_cast<int>(*id);
  r.card_id = static_cast<int>(*card);
  r.chip_id = static_cast<int>(*chip);
  r.aicore = static_cast<uint32_t>(std::max<int64_t>(0, integer("aicore").value_or(0)));
  r.aicpu = static_cast<uint32_t>(std::max<int64_t>(0, integer("aicpu").value_or(0)));
  r.memory_bytes = static_cast<uint64_t>(std::max<int64_t>(0, integer("memoryBytes").value_or(0)));
  return r;
}

}  // namespace

absl::StatusOr<std::unique_ptr<NpuDriver>> NpuDriver::Create(NpuDriverOptions options,
                                                             NpuDriverDeps deps) {
  if (options.domain.empty()) {
    return absl::InvalidArgumentError("create npu driver: options.domain is empty");
  }
  if (!deps.load_topology || deps.fs == nullptr || deps.runner == nullptr ||
      deps.metrics == nullptr) {
    return absl::InvalidArgumentError(
        "create npu driver: deps.load_topology, fs, runner and metrics are required");
  }
  return std::unique_ptr<NpuDriver>(new NpuDriver(std::move(options), std::move(deps)));
}

NpuDriver::NpuDriver(NpuDriverOptions options, NpuDriverDeps deps)
    : options_(std::move(options)),
      deps_(std::move(deps)),
      stats_(std::make_unique<Stats>(*deps_.metrics)) {}

NpuDriver::~NpuDriver() = default;

// ------------------------------------------------------------ libraries

absl::StatusOr<const Dcmi*> NpuDriver::EnsureDcmi() {
  if (dcmi_) return dcmi_.get();
  if (options_.dcmi_library.empty()) {
    return absl::FailedPreconditionError("dcmi library disabled (empty library path)");
  }
  if (options_.simulated && !HasSlash(options_.dcmi_library)) {
    return absl::FailedPreconditionError(base::StrCat(
        "simulated node: dcmi library ", options_.dcmi_library, " is not loaded (give a path)"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<DlopenDcmi> dcmi, DlopenDcmi::Load(options_.dcmi_library));
  Log()->info("loaded dcmi library={} version={}", options_.dcmi_library, dcmi->version());
  dcmi_ = std::move(dcmi);
  return dcmi_.get();
}

absl::StatusOr<const Hlml*> NpuDriver::EnsureHlml() {
  if (hlml_) return hlml_.get();
  if (options_.hlml_library.empty()) {
    return absl::FailedPreconditionError("hlml library disabled (empty library path)");
  }
  if (options_.simulated && !HasSlash(options_.hlml_library)) {
    return absl::FailedPreconditionError(base::StrCat(
        "simulated node: hlml library ", options_.hlml_library, " is not loaded (give a path)"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<DlopenHlml> hlml, DlopenHlml::Load(options_.hlml_library));
  Log()->info("loaded hlml library={} driver_version={}", options_.hlml_library,
              hlml->driver_version());
  hlml_ = std::move(hlml);
  return hlml_.get();
}

void NpuDriver::SetLibraryMissing(std::string_view library, bool missing, const absl::Status& why) {
  (library == "dcmi" ? stats_->dcmi_missing : stats_->hlml_missing).Set(missing ? 1 : 0);
  const std::string key(library);
  if (missing && warned_missing_.insert(key).second) {
    Log()->warn("npu vendor library unavailable, listing from sysfs without it library={} error={}",
                library, Describe(why));
  } else if (!missing && warned_missing_.erase(key) > 0) {
    Log()->info("npu vendor library available again library={}", library);
  }
}

// ------------------------------------------------------------ scan

absl::StatusOr<std::vector<NpuRecord>> NpuDriver::Scan() {
  ASSIGN_OR_RETURN(topology::NodeTopology topology,
                   base::Annotate(deps_.load_topology(), "enumerate npus: load node model"));
  const bool ascend = HasFamily(topology, NpuFamily::kAscend);
  const bool gaudi = HasFamily(topology, NpuFamily::kGaudi);

  std::optional<std::vector<AscendChip>> chips;
  std::optional<std::vector<GaudiDevice>> gaudis;
  {
    absl::MutexLock lock(&libs_mu_);
    if (ascend) {
      absl::StatusOr<const Dcmi*> dcmi = EnsureDcmi();
      absl::Status status = dcmi.status();
      if (dcmi.ok()) {
        absl::StatusOr<std::vector<AscendChip>> list = (*dcmi)->ListChips();
        if (list.ok()) chips = std::move(*list);
        status = list.status();
      }
      SetLibraryMissing("dcmi", !chips.has_value(), status);
    } else {
      SetLibraryMissing("dcmi", false, absl::OkStatus());
    }
    if (gaudi) {
      absl::StatusOr<const Hlml*> hlml = EnsureHlml();
      absl::Status status = hlml.status();
      if (hlml.ok()) {
        absl::StatusOr<std::vector<GaudiDevice>> list = (*hlml)->ListDevices();
        if (list.ok()) gaudis = std::move(*list);
        status = list.status();
      }
      SetLibraryMissing("hlml", !gaudis.has_value(), status);
    } else {
      SetLibraryMissing("hlml", false, absl::OkStatus());
    }
  }

  DiscoveryInput in;
  in.topology = &topology;
  in.sysfs = deps_.sysfs;
  in.dcmi_chips = chips ? &*chips : nullptr;
  in.hlml_devices = gaudis ? &*gaudis : nullptr;
  if (ascend) {
    const std::string path = UnderRoot(options_.host_root, kHccnConf);
    if (auto text = deps_.fs->ReadFile(path, 1 << 20); text.ok()) {
      in.hccn_addresses = ParseHccnConf(*text);
    } else if (!absl::IsNotFound(text.status())) {
      Log()->debug("read hccn.conf path={} error={}", path, Describe(text.status()));
    }
  }
  std::vector<NpuRecord> records = DiscoverNpus(in);

  int counts[3] = {0, 0, 0};
  for (const NpuRecord& r : records) ++counts[static_cast<int>(r.family)];
  stats_->ascend.Set(counts[static_cast<int>(NpuFamily::kAscend)]);
  stats_->gaudi.Set(counts[static_cast<int>(NpuFamily::kGaudi)]);
  stats_->accel.Set(counts[static_cast<int>(NpuFamily::kAccel)]);
  Log()->debug("npu scan ascend={} gaudi={} accel={}", counts[0], counts[1], counts[2]);

  absl::MutexLock lock(&mu_);
  records_.clear();
  partitions_.clear();
  for (NpuRecord& r : records) {
    for (size_t i = 0; i < r.partitions.size(); ++i) {
      partitions_[r.partitions[i].device_name] = {r.name, i};
    }
    records_.emplace(r.name, r);
  }
  scanned_ = true;
  return records;
}

absl::StatusOr<Inventory> NpuDriver::Enumerate() {
  ASSIGN_OR_RETURN(std::vector<NpuRecord> records, Scan());
  return BuildInventory(
      records, {.domain = options_.domain, .publish_partitions = options_.publish_partitions});
}

std::vector<std::string> NpuDriver::DeviceNodePaths() const {
  std::set<std::string> out;
  bool ascend = false;
  for (const NpuRecord& r : LastScan()) {
    ascend = ascend || r.family == NpuFamily::kAscend;
    for (const std::string& n : r.device_nodes) {
      if (n.starts_with("/dev/")) out.insert(n.substr(5));
    }
  }
  if (ascend) {
    for (std::string_view n : kAscendSharedNodes) out.insert(std::string(n.substr(5)));
  }
  return {out.begin(), out.end()};
}

std::vector<NpuRecord> NpuDriver::LastScan() const {
  absl::MutexLock lock(&mu_);
  std::vector<NpuRecord> out;
  for (const auto& [name, r] : records_) out.push_back(r);
  return out;
}

// ------------------------------------------------------------ claims

absl::StatusOr<NpuDriver::DeviceRef> NpuDriver::Resolve(std::string_view device) const {
  if (auto it = records_.find(std::string(device)); it != records_.end()) {
    return DeviceRef{.npu = &it->second};
  }
  if (auto it = partitions_.find(std::string(device)); it != partitions_.end()) {
    const NpuRecord& npu = records_.at(it->second.first);
    return DeviceRef{.npu = &npu, .partition = &npu.partitions[it->second.second]};
  }
  return absl::NotFoundError(base::StrCat("device ", device, " is not an npu of this node"));
}

bool NpuDriver::NeedsScan(const std::vector<std::string>& devices) const {
  if (!scanned_) return true;
  return std::any_of(devices.begin(), devices.end(),
                     [this](const std::string& d)
                         ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !Resolve(d).ok(); });
}

std::string NpuDriver::CheckPath(std::string_view container_path) const {
  if (!options_.dev_root.empty()) return UnderRoot(options_.dev_root, container_path);
  return UnderRoot(options_.host_root, container_path);
}

std::string NpuDriver::CdiHostPath(std::string_view container_path) const {
  if (options_.dev_root.empty()) return "";
  return UnderRoot(options_.dev_root, container_path);
}

bool NpuDriver::HasSideEffects(const ClaimPrepareRequest& request) const {
  return std::any_of(request.devices.begin(), request.devices.end(),
                     [](const DeviceAllocation& d) { return IsPartitionName(d.device); });
}

absl::Status NpuDriver::RunNpuSmi(const std::vector<std::string>& argv,
                                  std::string_view operation) {
  absl::StatusOr<base::CommandResult> result =
      deps_.runner->Run({.argv = argv, .timeout = options_.npu_smi_timeout});
  if (!result.ok()) {
    return absl::FailedPreconditionError(
        base::StrCat(operation, ": run ", argv.front(), ": ", Describe(result.status())));
  }
  if (result->exit_code != 0) {
    std::string_view why = base::StripWhitespace(result->stderr_data);
    if (why.empty()) why = base::StripWhitespace(result->stdout_data);
    return absl::FailedPreconditionError(fmt::format("{}: {} exited with {}: {}", operation,
                                                     argv.front(), result->exit_code,
                                                     base::Quote(why, 200)));
  }
  return absl::OkStatus();
}

absl::Status NpuDriver::CreateVnpu(const VnpuOp& op) {
  absl::Status s = RunNpuSmi(
      CreateVnpuArgv(options_.npu_smi, op.card_id, op.chip_id, op.template_name, op.vnpu_id),
      fmt::format("create vnpu {} ({} on {})", op.vnpu_id, op.template_name, op.npu));
  (s.ok() ? stats_->create_ok : stats_->create_error).Inc();
  if (s.ok()) {
    Log()->info("created vnpu id={} template={} npu={} device={}", op.vnpu_id, op.template_name,
                op.npu, op.device);
  }
  return s;
}

absl::Status NpuDriver::DestroyVnpu(const VnpuOp& op) {
  absl::Status s = RunNpuSmi(DestroyVnpuArgv(options_.npu_smi, op.card_id, op.chip_id, op.vnpu_id),
                             fmt::format("destroy vnpu {} on {}", op.vnpu_id, op.npu));
  (s.ok() ? stats_->destroy_ok : stats_->destroy_error).Inc();
  if (s.ok()) Log()->info("destroyed vnpu id={} npu={}", op.vnpu_id, op.npu);
  return s;
}

void NpuDriver::RebuildUsage() {
  usage_.clear();
  for (const auto& [uid, claim] : prepared_) {
    for (const PreparedDevice& d : claim.devices) {
      if (std::optional<VnpuRecord> v = ParseVnpuState(d.state)) {
        ChipUsage& u = usage_[v->npu];
        u.aicore += v->aicore;
        u.aicpu += v->aicpu;
        u.memory_bytes += v->memory_bytes;
        u.partitions[d.device] = uid;
      } else if (d.state.is_object() && d.state.value("kind", "") == "whole" &&
                 !d.state.value("adminAccess", false)) {
        usage_[d.device].whole_claims.insert(uid);
      }
    }
  }
}

absl::StatusOr<PreparedClaim> NpuDriver::PrepareClaim(const ClaimPrepareRequest& request) {
  const std::string op = base::StrCat("prepare claim ", request.claim_uid);
  std::vector<std::string> names;
  for (const DeviceAllocation& d : request.devices) names.push_back(d.device);
  bool scan = false;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = prepared_.find(request.claim_uid); it != prepared_.end()) return it->second;
    if (request.devices.empty()) {
      return absl::InvalidArgumentError(base::StrCat(op, ": no npu devices in the request"));
    }
    scan = NeedsScan(names);
  }
  // A device the last scan did not see (or no scan yet, right after a
  // restart): look again before refusing.
  if (scan) RETURN_IF_ERROR(base::Annotate(Scan().status(), op));
  absl::MutexLock lock(&mu_);
  if (auto it = prepared_.find(request.claim_uid); it != prepared_.end()) return it->second;

  // 1. Resolve and validate; nothing changes on the host before step 2.
  struct Planned {
    const DeviceAllocation* alloc;
    DeviceRef ref;
    NpuConfig config;
  };
  std::vector<Planned> planned;
  for (const DeviceAllocation& alloc : request.devices) {
    const std::string where = base::StrCat(op, ": request ", alloc.request);
    ASSIGN_OR_RETURN(DeviceRef ref, base::Annotate(Resolve(alloc.device), where));
    NpuConfig config;
    for (size_t i = 0; i < alloc.configs.size(); ++i) {
      ASSIGN_OR_RETURN(NpuConfigEntry entry,
                       base::Annotate(ParseNpuConfig(alloc.configs[i].parameters, options_.domain,
                                                     fmt::format("configs[{}].parameters", i)),
                                      where));
      config.Apply(entry);
    }
    const NpuFamily family = ref.npu->family;
    if (config.sets_ascend_fields && family != NpuFamily::kAscend) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: ascendRuntimeOptions and mountHccnConf apply to Ascend NPUs; device {} is {}", where,
          alloc.device, NpuFamilyName(family)));
    }
    if (config.sets_gaudi_fields && family != NpuFamily::kGaudi) {
      return absl::InvalidArgumentError(
          fmt::format("{}: habanaVisibleModules applies to Gaudi NPUs; device {} is {}", where,
                      alloc.device, NpuFamilyName(family)));
    }
    if (!ref.npu->index) {
      return absl::FailedPreconditionError(fmt::format(
          "{}: device {} cannot be prepared: {}", where, alloc.device, ref.npu->health_message));
    }
    if (ref.partition != nullptr && (!ref.npu->card_id || !ref.npu->chip_id)) {
      return absl::FailedPreconditionError(
          fmt::format("{}: device {}: card and chip ids unknown", where, alloc.device));
    }
    planned.push_back({&alloc, ref, config});
  }

  // Claim-wide settings must agree.
  const Planned* first_ascend = nullptr;
  const Planned* first_gaudi = nullptr;
  bool ascend_whole = false;
  bool ascend_vnpu = false;
  for (const Planned& p : planned) {
    if (p.ref.npu->family == NpuFamily::kAscend) {
      (p.ref.partition ? ascend_vnpu : ascend_whole) = true;
      if (first_ascend == nullptr) {
        first_ascend = &p;
      } else if (p.config.ascend_runtime_options != first_ascend->config.ascend_runtime_options ||
                 p.config.mount_hccn_conf != first_ascend->config.mount_hccn_conf) {
        return absl::InvalidArgumentError(fmt::format(
            "{}: requests {} and {} disagree on ascendRuntimeOptions or mountHccnConf, which apply "
            "to the whole container",
            op, first_ascend->alloc->request, p.alloc->request));
      }
    }
    if (p.ref.npu->family == NpuFamily::kGaudi) {
      if (first_gaudi == nullptr) {
        first_gaudi = &p;
      } else if (p.config.habana_visible_modules != first_gaudi->config.habana_visible_modules) {
        return absl::InvalidArgumentError(
            fmt::format("{}: requests {} and {} disagree on habanaVisibleModules", op,
                        first_gaudi->alloc->request, p.alloc->request));
      }
    }
  }
  if (ascend_whole && ascend_vnpu) {
    return absl::InvalidArgumentError(base::StrCat(
        op,
        ": a claim cannot mix whole Ascend NPUs and vNPUs (ASCEND_VISIBLE_DEVICES holds "
        "either davinci or vNPU ids)"));
  }

  // Device nodes must exist (vNPU nodes appear when the vNPU is created).
  std::vector<std::string> nodes;
  for (const Planned& p : planned) {
    if (p.ref.partition == nullptr) {
      nodes.insert(nodes.end(), p.ref.npu->device_nodes.begin(), p.ref.npu->device_nodes.end());
    }
  }
  if (first_ascend != nullptr)
    nodes.insert(nodes.end(), std::begin(kAscendSharedNodes), std::end(kAscendSharedNodes));
  for (const std::string& node : nodes) {
    const std::string path = CheckPath(node);
    if (!deps_.fs->Exists(path)) {
      return absl::FailedPreconditionError(
          fmt::format("{}: device node {} is missing (looked at {})", op, node, path));
    }
  }

  // vNPU slots and counters, against the claims prepared before.
  std::map<std::string, ChipUsage> after;
  for (const Planned& p : planned) {
    const NpuRecord& npu = *p.ref.npu;
    auto current = usage_.find(npu.name);
    if (p.ref.partition == nullptr) {
      if (!p.alloc->admin_access && current != usage_.end() &&
          !current->second.partitions.empty()) {
        return absl::FailedPreconditionError(
            fmt::format("{}: npu {} has vnpus of claim {}; it cannot be prepared whole", op,
                        npu.name, current->second.partitions.begin()->second));
      }
      continue;
    }
    const VnpuPartition& part = *p.ref.partition;
    if (!after.contains(npu.name)) {
      after[npu.name] = current != usage_.end() ? current->second : ChipUsage{};
    }
    ChipUsage& u = after[npu.name];
    if (auto holder = u.partitions.find(part.device_name); holder != u.partitions.end()) {
      return absl::FailedPreconditionError(
          fmt::format("{}: vnpu slot {} (id {}) is in use by claim {}", op, part.device_name,
                      part.vnpu_id, holder->second.empty() ? request.claim_uid : holder->second));
    }
    if (!u.whole_claims.empty()) {
      return absl::FailedPreconditionError(
          fmt::format("{}: npu {} is prepared whole for claim {}; no vnpu can be made on it", op,
                      npu.name, *u.whole_claims.begin()));
    }
    const VnpuBudget& b = npu.vnpu_budget;
    if (u.aicore + part.aicore > b.aicore || u.aicpu + part.aicpu > b.aicpu ||
        u.memory_bytes + part.memory_bytes > b.memory_bytes) {
      return absl::ResourceExhaustedError(fmt::format(
          "{}: vnpu {} ({}: aicore {}, aicpu {}, memory {} MiB) does not fit npu {}: aicore {}/{}, "
          "aicpu {}/{}, memory {}/{} MiB in use",
          op, part.device_name, part.template_name, part.aicore, part.aicpu,
          part.memory_bytes >> 20, npu.name, u.aicore, b.aicore, u.aicpu, b.aicpu,
          u.memory_bytes >> 20, b.memory_bytes >> 20));
    }
    u.aicore += part.aicore;
    u.aicpu += part.aicpu;
    u.memory_bytes += part.memory_bytes;
    u.partitions[part.device_name] = "";  // this claim
  }

  // 2. Create the vNPUs, undoing ours if one fails.
  std::vector<VnpuOp> created;
  std::map<std::string, bool> adopted;
  for (const Planned& p : planned) {
    if (p.ref.partition == nullptr) continue;
    VnpuOp vop{.npu = p.ref.npu->name,
               .device = p.ref.partition->device_name,
               .template_name = p.ref.partition->template_name,
               .card_id = *p.ref.npu->card_id,
               .chip_id = *p.ref.npu->chip_id,
               .vnpu_id = p.ref.partition->vnpu_id};
    if (deps_.fs->Exists(CheckPath(VnpuDevicePath(vop.vnpu_id)))) {
      // Left by an earlier attempt of this claim that crashed before its
      // result was recorded: the slot is this device's alone (fixed ids), so
      // the vNPU is the one we want.
      Log()->info("adopting existing vnpu id={} device={} claim={}", vop.vnpu_id, vop.device,
                  request.claim_uid);
      adopted[vop.device] = true;
      continue;
    }
    if (absl::Status s = CreateVnpu(vop); !s.ok()) {
      for (auto it = created.rbegin(); it != created.rend(); ++it) {
        if (absl::Status undo = DestroyVnpu(*it); !undo.ok()) {
          Log()->error("roll back vnpu failed claim={} vnpu={} error={}", request.claim_uid,
                       it->vnpu_id, Describe(undo));
        }
      }
      return base::Annotate(s, op);
    }
    created.push_back(vop);
  }

  // 3. Container edits.
  PreparedClaim out;
  std::vector<int> ascend_ids;
  std::vector<std::pair<int, std::optional<uint32_t>>> gaudi;  // accel index, module id
  std::vector<int> accel;
  for (const Planned& p : planned) {
    const NpuRecord& npu = *p.ref.npu;
    PreparedDevice pd{
        .request = p.alloc->request, .device = p.alloc->device, .share_id = p.alloc->share_id};
    std::vector<std::string> own_nodes;
    if (p.ref.partition != nullptr) {
      own_nodes.push_back(VnpuDevicePath(p.ref.partition->vnpu_id));
      ascend_ids.push_back(p.ref.partition->vnpu_id);
      pd.state = VnpuState(npu, *p.ref.partition, adopted[p.alloc->device]);
    } else {
      own_nodes = npu.device_nodes;
      pd.state = WholeState(npu, p.alloc->admin_access);
      switch (npu.family) {
        case NpuFamily::kAscend:
          ascend_ids.push_back(*npu.index);
          break;
        case NpuFamily::kGaudi:
          gaudi.emplace_back(*npu.index, npu.module_id);
          break;
        case NpuFamily::kAccel:
          accel.push_back(*npu.index);
          break;
      }
    }
    for (const std::string& node : own_nodes) {
      pd.edits.device_nodes.push_back({.path = node, .host_path = CdiHostPath(node)});
    }
    out.devices.push_back(std::move(pd));
  }
  base::ContainerEdits& claim = out.claim_edits;
  if (first_ascend != nullptr) {
    for (std::string_view node : kAscendSharedNodes) {
      claim.device_nodes.push_back({.path = std::string(node), .host_path = CdiHostPath(node)});
    }
    std::sort(ascend_ids.begin(), ascend_ids.end());
    claim.env.push_back(base::StrCat(kAscendVisibleDevices, "=", JoinInts(ascend_ids)));
    std::vector<std::string> runtime_options;
    if (ascend_vnpu) runtime_options.emplace_back("VIRTUAL");
    for (const std::string& o : first_ascend->config.ascend_runtime_options) {
      runtime_options.push_back(o);
    }
    if (!runtime_options.empty()) {
      claim.env.push_back(
          base::StrCat(kAscendRuntimeOptions, "=", base::Join(runtime_options, ",")));
    }
    const std::string hccn = UnderRoot(options_.host_root, kHccnConf);
    if (first_ascend->config.mount_hccn_conf && deps_.fs->Exists(hccn)) {
      claim.mounts.push_back({.host_path = options_.simulated ? hccn : std::string(kHccnConf),
                              .container_path = std::string(kHccnConf),
                              .type = "bind",
                              .options = {"ro", "nosuid", "nodev", "bind"}});
    }
  }
  if (!gaudi.empty()) {
    std::sort(gaudi.begin(), gaudi.end());
    std::vector<int> indices;
    std::vector<int> modules;
    for (const auto& [index, module] : gaudi) {
      indices.push_back(index);
      if (module) modules.push_back(static_cast<int>(*module));
    }
    claim.env.push_back(base::StrCat(kHabanaVisibleDevices, "=", JoinInts(indices)));
    if (first_gaudi->config.habana_visible_modules && modules.size() == indices.size()) {
      claim.env.push_back(base::StrCat(kHabanaVisibleModules, "=", JoinInts(modules)));
    }
  }
  if (!accel.empty()) {
    std::sort(accel.begin(), accel.end());
    claim.env.push_back(base::StrCat(kAccelVisibleDevices, "=", JoinInts(accel)));
  }

  prepared_[request.claim_uid] = out;
  RebuildUsage();
  Log()->debug("prepared npu claim uid={} devices={} vnpus_created={}", request.claim_uid,
               out.devices.size(), created.size());
  return out;
}

absl::Status NpuDriver::UnprepareClaim(std::string_view claim_uid, const PreparedClaim& prepared) {
  const std::string op = base::StrCat("unprepare claim ", claim_uid);
  // Partitions without a record (a prepare interrupted by a crash) are found
  // by name, which needs a scan after a restart.
  std::vector<std::string> unrecorded;
  for (const PreparedDevice& d : prepared.devices) {
    if (!ParseVnpuState(d.state) && IsPartitionName(d.device)) unrecorded.push_back(d.device);
  }
  bool scan = false;
  if (!unrecorded.empty()) {
    absl::MutexLock lock(&mu_);
    scan = NeedsScan(unrecorded);
  }
  if (scan) RETURN_IF_ERROR(base::Annotate(Scan().status(), op));
  absl::MutexLock lock(&mu_);
  std::vector<VnpuOp> ops;
  for (auto it = prepared.devices.rbegin(); it != prepared.devices.rend(); ++it) {
    if (std::optional<VnpuRecord> v = ParseVnpuState(it->state)) {
      ops.push_back({.npu = v->npu,
                     .device = it->device,
                     .template_name = v->template_name,
                     .card_id = v->card_id,
                     .chip_id = v->chip_id,
                     .vnpu_id = v->vnpu_id});
      continue;
    }
    if (!IsPartitionName(it->device)) continue;
    ASSIGN_OR_RETURN(DeviceRef ref, base::Annotate(Resolve(it->device), op));
    if (ref.partition == nullptr || !ref.npu->card_id || !ref.npu->chip_id) {
      return absl::FailedPreconditionError(
          fmt::format("{}: cannot locate vnpu of device {}", op, it->device));
    }
    ops.push_back({.npu = ref.npu->name,
                   .device = it->device,
                   .template_name = ref.partition->template_name,
                   .card_id = *ref.npu->card_id,
                   .chip_id = *ref.npu->chip_id,
                   .vnpu_id = ref.partition->vnpu_id});
  }
  absl::Status first_error;
  for (const VnpuOp& v : ops) {
    if (!deps_.fs->Exists(CheckPath(VnpuDevicePath(v.vnpu_id)))) continue;  // already gone
    if (absl::Status s = DestroyVnpu(v); !s.ok() && first_error.ok()) first_error = s;
  }
  // Keep the claim (and its slots) while a vNPU could not be removed, so a
  // retry finds them and nothing else takes the slot meanwhile.
  RETURN_IF_ERROR(base::Annotate(first_error, op));
  prepared_.erase(std::string(claim_uid));
  RebuildUsage();
  return absl::OkStatus();
}

absl::Status NpuDriver::RestoreState(
    const std::vector<std::pair<std::string, PreparedClaim>>& prepared_claims) {
  absl::MutexLock lock(&mu_);
  prepared_.clear();
  for (const auto& [uid, claim] : prepared_claims) prepared_[uid] = claim;
  RebuildUsage();
  return absl::OkStatus();
}

absl::Status NpuDriver::ReapplyClaim(std::string_view claim_uid, const PreparedClaim& prepared) {
  const std::string op = base::StrCat("re-apply claim ", claim_uid);
  absl::MutexLock lock(&mu_);
  for (const PreparedDevice& d : prepared.devices) {
    std::optional<VnpuRecord> v = ParseVnpuState(d.state);
    if (!v) continue;
    if (deps_.fs->Exists(CheckPath(VnpuDevicePath(v->vnpu_id)))) continue;  // recovered by npu-smi
    RETURN_IF_ERROR(base::Annotate(CreateVnpu({.npu = v->npu,
                                               .device = d.device,
                                               .template_name = v->template_name,
                                               .card_id = v->card_id,
                                               .chip_id = v->chip_id,
                                               .vnpu_id = v->vnpu_id}),
                                   op));
  }
  if (!prepared_.contains(std::string(claim_uid))) {
    prepared_[std::string(claim_uid)] = prepared;
    RebuildUsage();
  }
  return absl::OkStatus();
}

}  // namespace tessera::drivers::npu
