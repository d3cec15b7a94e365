#include "agent/claims/device_state.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <set>
#include <utility>

#include "agent/claims/select.h"
#include "base/log.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "kubelet/cdi/naming.h"

namespace tessera::agent {
namespace {

using base::StrCat;
using kubelet::checkpoint::Checkpoint;
using kubelet::checkpoint::ClaimRecord;
using kubelet::checkpoint::DeviceRecord;
using kubelet::checkpoint::OpenOptions;
using kubelet::checkpoint::Phase;
namespace cdi = kubelet::cdi;

spdlog::logger& Log() {
  static const std::shared_ptr<spdlog::logger> log = base::log::Get("claims");
  return *log;
}

double Seconds(base::Clock::MonoTime start, base::Clock::MonoTime end) {
  return std::chrono::duration<double>(end - start).count();
}

double Millis(double seconds) { return seconds * 1000.0; }

std::string ClaimName(const kubelet::ClaimRef& ref) {
  return StrCat(ref.namespace_, "/", ref.name);
}

std::string ClaimName(const ClaimRecord& record) {
  if (record.namespace_.empty() && record.name.empty()) return StrCat("uid ", record.uid);
  return StrCat(record.namespace_, "/", record.name);
}

// What the driver needs to undo or re-apply a recorded claim.
drivers::PreparedClaim ToPrepared(const ClaimRecord& record) {
  drivers::PreparedClaim out;
  for (const DeviceRecord& d : record.devices) {
    out.devices.push_back({.request = d.request_names.empty() ? "" : d.request_names.front(),
                           .device = d.device,
                           .share_id = d.share_id,
                           .edits = d.edits,
                           .state = d.state});
  }
  out.claim_edits = record.claim_edits;
  return out;
}

// The request's devices, without driver state: what a driver gets to undo
// a prepare that never returned a result.
drivers::PreparedClaim FromRequest(const drivers::ClaimPrepareRequest& request) {
  drivers::PreparedClaim out;
  for (const drivers::DeviceAllocation& d : request.devices) {
    out.devices.push_back({.request = d.request, .device = d.device, .share_id = d.share_id});
  }
  return out;
}

std::vector<kubelet::PreparedDeviceResult> Results(const ClaimRecord& record) {
  std::vector<kubelet::PreparedDeviceResult> out;
  for (const DeviceRecord& d : record.devices) {
    out.push_back({.request_names = d.request_names,
                   .pool_name = d.pool,
                   .device_name = d.device,
                   .cdi_device_ids = d.cdi_ids,
                   .share_id = d.share_id});
  }
  return out;
}

// CDI rejects a device without edits; give it one harmless, descriptive env
// entry ("TESSERA_DEVICE_GPU_0=gpu.tessera.dev/node-1/gpu-0").
std::string MarkerEnv(std::string_view driver, std::string_view pool, std::string_view device,
                      std::string_view share_id) {
  std::string key = "TESSERA_DEVICE_";
  auto append = [&key](std::string_view s) {
    for (char c : s) {
      if (c >= 'a' && c <= 'z') {
        key += static_cast<char>(c - 'a' + 'A');
      } else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        key += c;
      } else {
        key += '_';
      }
    }
  };
  append(device);
  if (!share_id.empty()) {
    key += '_';
    append(share_id.substr(0, 8));
  }
  return StrCat(key, "=", driver, "/", pool, "/", device);
}

std::string JoinStatus(const absl::Status& primary, const absl::Status& rollback) {
  if (rollback.ok()) return std::string(base::Std(primary.message()));
  return StrCat(base::Std(primary.message()), "; rollback failed: ", base::Std(rollback.message()));
}

}  // namespace

struct DeviceState::Stats {
  Stats(base::metrics::Registry& r, const std::string& driver)
      : prepare_success(r.GetCounter("tessera_prepare_claims_total",
                                     "Claims prepared, by driver and result.",
                                     {{"driver", driver}, {"result", "success"}})),
        prepare_error(r.GetCounter("tessera_prepare_claims_total",
                                   "Claims prepared, by driver and result.",
                                   {{"driver", driver}, {"result", "error"}})),
        prepare_duration_success(r.GetHistogram(
            "tessera_prepare_claim_duration_seconds", "Time to prepare one claim.",
            base::metrics::LatencyBuckets(), {{"driver", driver}, {"result", "success"}})),
        prepare_duration_error(r.GetHistogram(
            "tessera_prepare_claim_duration_seconds", "Time to prepare one claim.",
            base::metrics::LatencyBuckets(), {{"driver", driver}, {"result", "error"}})),
        unprepare_success(r.GetCounter("tessera_unprepare_claims_total",
                                       "Claims unprepared, by driver and result.",
                                       {{"driver", driver}, {"result", "success"}})),
        unprepare_error(r.GetCounter("tessera_unprepare_claims_total",
                                     "Claims unprepared, by driver and result.",
                                     {{"driver", driver}, {"result", "error"}})),
        unprepare_duration_success(r.GetHistogram(
            "tessera_unprepare_claim_duration_seconds", "Time to unprepare one claim.",
            base::metrics::LatencyBuckets(), {{"driver", driver}, {"result", "success"}})),
        unprepare_duration_error(r.GetHistogram(
            "tessera_unprepare_claim_duration_seconds", "Time to unprepare one claim.",
            base::metrics::LatencyBuckets(), {{"driver", driver}, {"result", "error"}})),
        checkpoint_write_duration(
            r.GetHistogram("tessera_checkpoint_write_duration_seconds",
                           "Time to append one record to the claim checkpoint.",
                           base::metrics::LatencyBuckets(), {{"driver", driver}})),
        cdi_write_duration(r.GetHistogram("tessera_cdi_write_duration_seconds",
                                          "Time to write one claim's CDI spec.",
                                          base::metrics::LatencyBuckets(), {{"driver", driver}})),
        reconcile_errors(r.GetCounter(
            "tessera_claim_reconcile_errors_total",
            "Problems the start-up reconcile of checkpoint, CDI specs and host state left for "
            "the next start.",
            {{"driver", driver}})),
        checkpoint_recoveries(
            r.GetCounter("tessera_checkpoint_recoveries_total",
                         "Damaged checkpoints quarantined and rebuilt from the CDI specs.",
                         {{"driver", driver}})) {}

  base::metrics::Counter& prepare_success;
  base::metrics::Counter& prepare_error;
  base::metrics::Histogram& prepare_duration_success;
  base::metrics::Histogram& prepare_duration_error;
  base::metrics::Counter& unprepare_success;
  base::metrics::Counter& unprepare_error;
  base::metrics::Histogram& unprepare_duration_success;
  base::metrics::Histogram& unprepare_duration_error;
  base::metrics::Histogram& checkpoint_write_duration;
  base::metrics::Histogram& cdi_write_duration;
  base::metrics::Counter& reconcile_errors;
  base::metrics::Counter& checkpoint_recoveries;
};

DeviceState::DeviceState(DeviceStateOptions options, drivers::DeviceDriver& driver,
                         ClaimSource& claims, base::Filesystem& fs, base::Clock& clock,
                         base::metrics::Registry& metrics)
    : options_(std::move(options)),
      kind_(cdi::ClaimKind(options_.driver_name)),
      driver_(driver),
      claims_(claims),
      fs_(fs),
      clock_(clock),
      stats_(std::make_unique<Stats>(metrics, options_.driver_name)),
      specs_(fs, options_.cdi_dir) {}

DeviceState::~DeviceState() = default;

absl::StatusOr<std::unique_ptr<DeviceState>> DeviceState::Create(
    DeviceStateOptions options, drivers::DeviceDriver& driver, ClaimSource& claims,
    base::Filesystem& fs, base::Clock& clock, base::metrics::Registry& metrics) {
  const std::string what = StrCat("create device state for driver ", options.driver_name);
  // A driver name is a lower-case DNS subdomain of at most 63 characters
  // (validated like a CSI driver name), and becomes part of the CDI vendor.
  const std::string& driver_name = options.driver_name;
  const bool dns_subdomain =
      !driver_name.empty() && driver_name.size() <= 63 &&
      std::all_of(driver_name.begin(), driver_name.end(),
                  [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
                  }) &&
      std::isalnum(static_cast<unsigned char>(driver_name.front())) &&
      std::isalnum(static_cast<unsigned char>(driver_name.back()));
  if (!dns_subdomain) {
    return absl::InvalidArgumentError(
        StrCat(what, ": driver name must be a lower-case DNS subdomain of at most 63 characters"));
  }
  if (absl::Status s = cdi::ValidateKind(cdi::ClaimKind(options.driver_name)); !s.ok()) {
    return base::Annotate(s, StrCat(what, ": driver name"));
  }
  for (const auto& [field, value] :
       {std::pair<std::string_view, const std::string&>{"pool name", options.pool_name},
        {"cdi dir", options.cdi_dir},
        {"checkpoint dir", options.checkpoint_dir},
        {"boot id", options.boot_id}}) {
    if (value.empty()) return absl::InvalidArgumentError(StrCat(what, ": empty ", field));
  }
  std::unique_ptr<DeviceState> state(
      new DeviceState(std::move(options), driver, claims, fs, clock, metrics));
  RETURN_IF_ERROR(base::Annotate(fs.CreateDirectories(state->options_.cdi_dir, 0755), what));
  absl::MutexLock lock(&state->mu_);
  RETURN_IF_ERROR(base::Annotate(state->OpenCheckpoint(), what));
  state->Reconcile();
  return state;
}

absl::Status DeviceState::OpenCheckpoint() {
  const OpenOptions open_options{.mode = OpenOptions::Mode::kReadWrite,
                                 .compact_after_records = options_.compact_after_records};
  absl::StatusOr<std::unique_ptr<Checkpoint>> cp =
      Checkpoint::Open(fs_, options_.checkpoint_dir, open_options);
  if (absl::IsDataLoss(cp.status())) {
    // The CDI specs on disk are what running containers use: keep them, and
    // rebuild what we can from them, rather than refusing to start (the node
    // would get no new pods) or starting empty (every spec would be removed
    // as an orphan).
    const auto tag =
        std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
    Log().error(
        "checkpoint damaged, quarantining it and recovering claims from cdi specs driver={} "
        "dir={} error={}",
        options_.driver_name, options_.checkpoint_dir, base::Std(cp.status().message()));
    stats_->checkpoint_recoveries.Inc();
    RETURN_IF_ERROR(Checkpoint::Quarantine(fs_, options_.checkpoint_dir, StrCat(tag)));
    cp = Checkpoint::Open(fs_, options_.checkpoint_dir, open_options);
    if (!cp.ok()) return cp.status();
    checkpoint_ = std::move(*cp);
    report_.checkpoint_recovered = true;
    RecoverFromSpecs();
    return absl::OkStatus();
  }
  if (!cp.ok()) return cp.status();
  checkpoint_ = std::move(*cp);  // a dropped torn record was logged by the checkpoint
  return absl::OkStatus();
}

void DeviceState::ReconcileError(std::string_view step, std::string_view uid,
                                 const absl::Status& status) {
  ++report_.errors;
  stats_->reconcile_errors.Inc();
  Log().warn("reconcile step failed, retried at next start driver={} step={} uid={} error={}",
             options_.driver_name, step, uid, base::Std(status.message()));
}

void DeviceState::RecoverFromSpecs() {
  absl::StatusOr<std::vector<std::string>> names = specs_.List();
  if (!names.ok()) {
    ReconcileError("recover from cdi specs", "", names.status());
    return;
  }
  for (const std::string& name : *names) {
    std::optional<std::string> uid = cdi::ClaimUidFromSpecFileName(options_.driver_name, name);
    if (!uid.has_value()) continue;
    // An unreadable spec is useless to the runtime too; the orphan step
    // removes it.
    absl::StatusOr<cdi::Spec> spec = specs_.Read(name);
    if (!spec.ok() || spec->kind != kind_) continue;
    ClaimRecord record;
    record.uid = *uid;
    record.recovered = true;
    const std::string prefix = StrCat(*uid, "-");
    for (const cdi::Device& d : spec->devices) {
      DeviceRecord dr;
      dr.pool = options_.pool_name;
      dr.device = d.name.starts_with(prefix) ? d.name.substr(prefix.size()) : d.name;
      dr.cdi_ids = {cdi::QualifiedName(kind_, d.name)};
      dr.state = nullptr;
      dr.edits = d.edits;
      record.devices.push_back(std::move(dr));
    }
    record.claim_edits = spec->edits;
    if (absl::Status s = checkpoint_->AppendPrepared(std::move(record)); !s.ok()) {
      ReconcileError("recover from cdi specs", *uid, s);
      continue;
    }
    ++report_.claims_recovered_from_specs;
  }
  Log().warn("recovered claims from cdi specs driver={} claims={}", options_.driver_name,
             report_.claims_recovered_from_specs);
}

std::string DeviceState::SpecFileName(std::string_view uid) const {
  return cdi::ClaimSpecFileName(options_.driver_name, uid);
}

cdi::Spec DeviceState::SpecFor(const ClaimRecord& record) const {
  cdi::Spec spec;
  spec.kind = kind_;
  const std::string prefix = StrCat(kind_, "=");
  for (const DeviceRecord& d : record.devices) {
    // The recorded id is what the kubelet holds; the spec must define it.
    std::string name = !d.cdi_ids.empty() && d.cdi_ids.front().starts_with(prefix)
                           ? d.cdi_ids.front().substr(prefix.size())
                           : cdi::ClaimDeviceName(record.uid, d.device, d.share_id);
    spec.devices.push_back({.name = std::move(name), .edits = d.edits});
  }
  spec.edits = record.claim_edits;
  return spec;
}

absl::Status DeviceState::WriteSpec(const ClaimRecord& record) {
  const base::Clock::MonoTime start = clock_.MonotonicNow();
  absl::Status s = specs_.Write(SpecFileName(record.uid), SpecFor(record));
  stats_->cdi_write_duration.Observe(Seconds(start, clock_.MonotonicNow()));
  return s;
}

absl::Status DeviceState::TimedCheckpoint(absl::Status status, base::Clock::MonoTime start) {
  stats_->checkpoint_write_duration.Observe(Seconds(start, clock_.MonotonicNow()));
  return status;
}

void DeviceState::Reconcile() {
  // 1. Claims a crash left in PrepareStarted: undo through the driver.
  std::vector<ClaimRecord> started;
  for (const auto& [uid, record] : checkpoint_->claims()) {
    if (record.phase == Phase::kPrepareStarted) started.push_back(record);
  }
  for (const ClaimRecord& record : started) {
    if (absl::Status s = driver_.UnprepareClaim(record.uid, ToPrepared(record)); !s.ok()) {
      ReconcileError("roll back PrepareStarted", record.uid, s);
      continue;
    }
    if (absl::Status s = specs_.Remove(SpecFileName(record.uid)); !s.ok()) {
      ReconcileError("roll back PrepareStarted", record.uid, s);
      continue;
    }
    if (absl::Status s = checkpoint_->AppendUnprepared(record.uid); !s.ok()) {
      ReconcileError("roll back PrepareStarted", record.uid, s);
      continue;
    }
    ++report_.prepare_started_rolled_back;
    Log().info("rolled back interrupted prepare driver={} uid={} claim={}", options_.driver_name,
               record.uid, ClaimName(record));
  }

  // 2. Specs of our kind without a checkpoint entry, and temp files of
  //    interrupted writes: the kubelet may never unprepare them.
  absl::StatusOr<std::vector<std::string>> names = specs_.List();
  if (!names.ok()) {
    ReconcileError("list cdi specs", "", names.status());
  } else {
    const std::string temp_prefix =
        StrCat(".", cdi::VendorForDriver(options_.driver_name), "-", cdi::kClaimClass, "_");
    for (const std::string& name : *names) {
      if (name.starts_with(temp_prefix) && name.find(".json.tmp-") != std::string::npos) {
        (void)fs_.RemoveFile(specs_.PathOf(name), /*durable=*/false);
        continue;
      }
      std::optional<std::string> uid = cdi::ClaimUidFromSpecFileName(options_.driver_name, name);
      if (!uid.has_value() || checkpoint_->Contains(*uid)) continue;
      if (absl::Status s = specs_.Remove(name); !s.ok()) {
        ReconcileError("remove orphan cdi spec", *uid, s);
        continue;
      }
      ++report_.orphan_specs_removed;
      Log().info("removed orphan cdi spec driver={} file={}", options_.driver_name, name);
    }
  }

  // 3. Prepared claims whose spec vanished (tmpfs after a reboot) or differs.
  for (const auto& [uid, record] : checkpoint_->claims()) {
    if (record.phase != Phase::kPrepared) continue;
    absl::StatusOr<cdi::Spec> current = specs_.Read(SpecFileName(uid));
    if (current.ok() && *current == SpecFor(record)) continue;
    if (absl::Status s = WriteSpec(record); !s.ok()) {
      ReconcileError("rewrite cdi spec", uid, s);
      continue;
    }
    ++report_.specs_rewritten;
    Log().info("rewrote cdi spec driver={} uid={} claim={}", options_.driver_name, uid,
               ClaimName(record));
  }

  // 4. Let the driver rebuild what it keeps in memory (MPS daemon and
  //    time-slice reference counts, moved links) from the prepared claims.
  {
    std::vector<std::pair<std::string, drivers::PreparedClaim>> prepared;
    for (const auto& [uid, record] : checkpoint_->claims()) {
      if (record.phase != Phase::kPrepared || record.recovered) continue;
      prepared.emplace_back(uid, ToPrepared(record));
    }
    if (absl::Status s = driver_.RestoreState(prepared); !s.ok()) {
      ReconcileError("restore driver state", "", s);
    }
  }

  // 5. After a reboot, host state (MIG instances, netdev moves, ...) is gone.
  if (checkpoint_->boot_id() == options_.boot_id) return;
  bool all_reapplied = true;
  if (!checkpoint_->boot_id().empty()) {
    report_.boot_id_changed = true;
    Log().info("boot id changed, re-applying prepared claims driver={} previous={} current={}",
               options_.driver_name, checkpoint_->boot_id(), options_.boot_id);
    for (const auto& [uid, record] : checkpoint_->claims()) {
      // Recovered claims have no driver state to re-apply from.
      if (record.phase != Phase::kPrepared || record.recovered) continue;
      if (absl::Status s = driver_.ReapplyClaim(uid, ToPrepared(record)); !s.ok()) {
        ReconcileError("re-apply claim after reboot", uid, s);
        all_reapplied = false;
        continue;
      }
      ++report_.claims_reapplied;
    }
  }
  // Keep the old boot id while anything failed, so the next start retries.
  if (!all_reapplied) return;
  if (absl::Status s = checkpoint_->SetBootId(options_.boot_id); !s.ok()) {
    ReconcileError("record boot id", "", s);
  }
}

absl::Status DeviceState::RefreshCheckpoint() {
  if (!options_.shared_with_other_instances) return absl::OkStatus();
  return base::Annotate(checkpoint_->Reload(), "reload checkpoint shared with other instances");
}

std::map<std::string, kubelet::PrepareResult> DeviceState::Prepare(
    const std::vector<kubelet::ClaimRef>& claims) {
  std::map<std::string, kubelet::PrepareResult> out;
  absl::MutexLock lock(&mu_);
  const absl::Status refreshed = RefreshCheckpoint();
  for (const kubelet::ClaimRef& ref : claims) {
    if (out.contains(ref.uid)) continue;
    const base::Clock::MonoTime start = clock_.MonotonicNow();
    absl::StatusOr<std::vector<kubelet::PreparedDeviceResult>> result =
        refreshed.ok() ? PrepareOne(ref)
                       : absl::StatusOr<std::vector<kubelet::PreparedDeviceResult>>(refreshed);
    const double seconds = Seconds(start, clock_.MonotonicNow());
    kubelet::PrepareResult& entry = out[ref.uid];
    if (result.ok()) {
      entry.devices = std::move(*result);
      stats_->prepare_success.Inc();
      stats_->prepare_duration_success.Observe(seconds);
      Log().info("prepared claim driver={} uid={} claim={} devices={} duration_ms={:.3f}",
                 options_.driver_name, ref.uid, ClaimName(ref), entry.devices.size(),
                 Millis(seconds));
    } else {
      entry.status = result.status();
      stats_->prepare_error.Inc();
      stats_->prepare_duration_error.Observe(seconds);
      Log().warn("prepare claim failed driver={} uid={} claim={} code={} error={}",
                 options_.driver_name, ref.uid, ClaimName(ref),
                 absl::StatusCodeToString(result.status().code()),
                 base::Std(result.status().message()));
    }
  }
  return out;
}

absl::StatusOr<std::vector<kubelet::PreparedDeviceResult>> DeviceState::PrepareOne(
    const kubelet::ClaimRef& ref) {
  const std::string claim_name = ClaimName(ref);
  RETURN_IF_ERROR(
      base::Annotate(cdi::ValidateClaimUid(ref.uid), StrCat("prepare claim ", claim_name)));
  if (ref.namespace_.empty() || ref.name.empty()) {
    return absl::InvalidArgumentError(
        StrCat("prepare claim uid ", ref.uid, ": namespace and name are required"));
  }

  const std::optional<ClaimRecord> existing = checkpoint_->Find(ref.uid);
  if (existing.has_value() && existing->phase == Phase::kPrepared && !existing->recovered) {
    // Idempotent: the kubelet asks again after its own restart, or because
    // our answer was lost. The spec may have been lost with a tmpfs.
    if (!fs_.Exists(specs_.PathOf(SpecFileName(ref.uid)))) {
      RETURN_IF_ERROR(
          base::Annotate(WriteSpec(*existing), StrCat("rewrite cdi spec for claim ", claim_name)));
    }
    return Results(*existing);
  }
  const bool had_record = existing.has_value();

  ASSIGN_OR_RETURN(ResourceClaim claim, base::Annotate(claims_.GetClaim(ref.namespace_, ref.name),
                                                       StrCat("get claim ", claim_name)));
  if (claim.uid != ref.uid) {
    return absl::FailedPreconditionError(
        StrCat("claim ", claim_name, " was replaced: uid ", claim.uid, " != ", ref.uid));
  }
  if (!claim.allocated) {
    return absl::FailedPreconditionError(StrCat("claim ", claim_name, " is not allocated"));
  }
  ASSIGN_OR_RETURN(
      drivers::ClaimPrepareRequest request,
      base::Annotate(
          SelectForDriver(claim,
                          {.driver = options_.driver_name,
                           .pool = options_.pool_name,
                           .max_opaque_parameters_bytes = options_.max_opaque_parameters_bytes}),
          StrCat("select devices of claim ", claim_name, " for ", options_.driver_name)));

  ClaimRecord record;
  record.uid = ref.uid;
  record.namespace_ = ref.namespace_;
  record.name = ref.name;
  for (const drivers::DeviceAllocation& d : request.devices) {
    record.devices.push_back({.request_names = {d.request},
                              .pool = options_.pool_name,
                              .device = d.device,
                              .share_id = d.share_id});
  }

  const bool side_effects = driver_.HasSideEffects(request);
  if (side_effects) {
    const base::Clock::MonoTime start = clock_.MonotonicNow();
    RETURN_IF_ERROR(
        base::Annotate(TimedCheckpoint(checkpoint_->AppendPrepareStarted(record), start),
                       StrCat("record prepare start of claim ", claim_name)));
  }
  const bool recorded = side_effects || had_record;

  absl::StatusOr<drivers::PreparedClaim> prepared = driver_.PrepareClaim(request);
  if (!prepared.ok()) {
    absl::Status primary = base::Annotate(
        prepared.status(), StrCat("prepare claim ", claim_name, " with ", options_.driver_name));
    absl::Status rollback = recorded ? RollBack(request, nullptr, had_record) : absl::OkStatus();
    return absl::Status(primary.code(), JoinStatus(primary, rollback));
  }

  // The driver must answer for exactly the devices it was given.
  absl::Status mismatch;
  if (prepared->devices.size() != request.devices.size()) {
    mismatch = absl::InternalError(StrCat("driver ", options_.driver_name, " returned ",
                                          prepared->devices.size(), " devices for ",
                                          request.devices.size(), " allocated"));
  }
  for (size_t i = 0; mismatch.ok() && i < record.devices.size(); ++i) {
    DeviceRecord& dr = record.devices[i];
    auto it = std::find_if(prepared->devices.begin(), prepared->devices.end(),
                           [&dr](const drivers::PreparedDevice& p) {
                             return p.device == dr.device && p.share_id == dr.share_id;
                           });
    if (it == prepared->devices.end()) {
      mismatch = absl::InternalError(
          StrCat("driver ", options_.driver_name, " returned no result for device ", dr.device));
      break;
    }
    dr.state = it->state;
    dr.edits = it->edits;
    if (dr.edits.empty()) {
      dr.edits.env = {MarkerEnv(options_.driver_name, dr.pool, dr.device, dr.share_id)};
    }
    dr.cdi_ids = {cdi::QualifiedName(kind_, cdi::ClaimDeviceName(ref.uid, dr.device, dr.share_id))};
  }
  record.claim_edits = prepared->claim_edits;
  if (!mismatch.ok()) {
    absl::Status primary = base::Annotate(mismatch, StrCat("prepare claim ", claim_name));
    return absl::Status(primary.code(), JoinStatus(primary, RollBack(request, &*prepared, true)));
  }

  if (absl::Status s = WriteSpec(record); !s.ok()) {
    absl::Status primary = base::Annotate(
        s,
        StrCat("write cdi spec ", specs_.PathOf(SpecFileName(ref.uid)), " for claim ", claim_name));
    return absl::Status(primary.code(), JoinStatus(primary, RollBack(request, &*prepared, true)));
  }
  const base::Clock::MonoTime start = clock_.MonotonicNow();
  if (absl::Status s = TimedCheckpoint(checkpoint_->AppendPrepared(record), start); !s.ok()) {
    absl::Status primary = base::Annotate(s, StrCat("record prepared claim ", claim_name));
    return absl::Status(primary.code(), JoinStatus(primary, RollBack(request, &*prepared, true)));
  }
  return Results(record);
}

absl::Status DeviceState::RollBack(const drivers::ClaimPrepareRequest& request,
                                   const drivers::PreparedClaim* prepared, bool had_record) {
  const std::string& uid = request.claim_uid;
  // UnprepareClaim is idempotent; after a failed PrepareClaim it cleans up
  // whatever an earlier, interrupted attempt may have left.
  absl::Status s = driver_.UnprepareClaim(uid, prepared ? *prepared : FromRequest(request));
  if (!s.ok()) {
    // Keep the PrepareStarted entry (if any): the next start rolls it back.
    return base::Annotate(s, StrCat("unprepare with ", options_.driver_name));
  }
  RETURN_IF_ERROR(base::Annotate(specs_.Remove(SpecFileName(uid)), "remove cdi spec"));
  if (had_record || checkpoint_->Contains(uid)) {
    const base::Clock::MonoTime start = clock_.MonotonicNow();
    RETURN_IF_ERROR(base::Annotate(TimedCheckpoint(checkpoint_->AppendUnprepared(uid), start),
                                   "record unprepared"));
  }
  return absl::OkStatus();
}

std::map<std::string, absl::Status> DeviceState::Unprepare(
    const std::vector<kubelet::ClaimRef>& claims) {
  std::map<std::string, absl::Status> out;
  absl::MutexLock lock(&mu_);
  const absl::Status refreshed = RefreshCheckpoint();
  for (const kubelet::ClaimRef& ref : claims) {
    if (out.contains(ref.uid)) continue;
    const base::Clock::MonoTime start = clock_.MonotonicNow();
    absl::Status status = refreshed.ok() ? UnprepareOne(ref) : refreshed;
    const double seconds = Seconds(start, clock_.MonotonicNow());
    if (status.ok()) {
      stats_->unprepare_success.Inc();
      stats_->unprepare_duration_success.Observe(seconds);
    } else {
      stats_->unprepare_error.Inc();
      stats_->unprepare_duration_error.Observe(seconds);
      Log().warn("unprepare claim failed driver={} uid={} claim={} code={} error={}",
                 options_.driver_name, ref.uid, ClaimName(ref),
                 absl::StatusCodeToString(status.code()), base::Std(status.message()));
    }
    out[ref.uid] = std::move(status);
  }
  return out;
}

absl::Status DeviceState::UnprepareOne(const kubelet::ClaimRef& ref) {
  const std::string claim_name = ClaimName(ref);
  RETURN_IF_ERROR(
      base::Annotate(cdi::ValidateClaimUid(ref.uid), StrCat("unprepare claim ", claim_name)));
  const std::string spec_file = SpecFileName(ref.uid);
  const std::optional<ClaimRecord> record = checkpoint_->Find(ref.uid);
  if (!record.has_value()) {
    // Not prepared here (or already unprepared): success. A spec without an
    // entry can only be debris; it must not outlive the claim.
    return base::Annotate(specs_.Remove(spec_file),
                          StrCat("remove cdi spec of unknown claim ", claim_name));
  }
  if (record->recovered) {
    // Rebuilt from a spec after checkpoint loss: the driver's record of what
    // it did is gone, so there is nothing exact to undo.
    Log().warn("unpreparing recovered claim without driver state driver={} uid={} claim={}",
               options_.driver_name, ref.uid, claim_name);
  } else {
    RETURN_IF_ERROR(
        base::Annotate(driver_.UnprepareClaim(ref.uid, ToPrepared(*record)),
                       StrCat("unprepare claim ", claim_name, " with ", options_.driver_name)));
  }
  RETURN_IF_ERROR(base::Annotate(
      specs_.Remove(spec_file),
      StrCat("remove cdi spec ", specs_.PathOf(spec_file), " of claim ", claim_name)));
  const base::Clock::MonoTime start = clock_.MonotonicNow();
  return base::Annotate(TimedCheckpoint(checkpoint_->AppendUnprepared(ref.uid), start),
                        StrCat("record unprepared claim ", claim_name));
}

std::vector<ClaimRecord> DeviceState::Claims() const {
  absl::MutexLock lock(&mu_);
  std::vector<ClaimRecord> out;
  for (const auto& [uid, record] : checkpoint_->claims()) out.push_back(record);
  return out;
}

absl::StatusOr<CheckpointView> ReadCheckpoint(base::Filesystem& fs,
                                              const std::string& checkpoint_dir,
                                              const std::string& cdi_dir,
                                              std::string_view driver_name) {
  ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> cp,
                   Checkpoint::Open(fs, checkpoint_dir, {.mode = OpenOptions::Mode::kReadOnly}));
  CheckpointView view;
  view.boot_id = cp->boot_id();
  view.sequence = cp->sequence();
  for (const auto& [uid, record] : cp->claims()) {
    CheckpointedClaim c;
    c.record = record;
    c.spec_path = StrCat(cdi_dir, "/", cdi::ClaimSpecFileName(driver_name, uid));
    c.spec_present = fs.Exists(c.spec_path);
    view.claims.push_back(std::move(c));
  }
  return view;
}

}  // namespace tessera::agent
