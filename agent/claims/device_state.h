// DeviceState: prepares and unprepares claims for ONE driver, implementing
// kubelet::ClaimHandler ("Life of a claim" in ARCHITECTURE.md). It joins the
// ClaimSource (what was allocated), the DeviceDriver (doing it), the CDI spec
// directory (what the runtime injects) and the checkpoint (what survives a
// crash).
//
// Prepare, per claim:
//   1. already Prepared in the checkpoint: answer the recorded result (the
//      spec is rewritten if it vanished); no API call, no driver call;
//   2. GET the claim, check uid ("claim ns/name was replaced: uid X != Y"),
//      allocation, and select this driver's results and configs
//      (SelectForDriver: FromClass before FromClaim, 10 KiB opaque limit);
//   3. append PrepareStarted when the driver has side effects (no sync);
//   4. DeviceDriver::PrepareClaim; write the CDI spec (atomic, not synced);
//   5. append Prepared (one fdatasync) and answer pool, device, base request
//      names, fully qualified CDI ids and share id per device.
// A failure after the driver returned rolls back (UnprepareClaim, spec
// removed, checkpoint entry dropped): a failed prepare leaves nothing behind.
// One claim's failure is that claim's status only.
//
// Unprepare: unknown claim is OK; otherwise UnprepareClaim with the recorded
// PreparedClaim, remove the spec, append Unprepared (one fdatasync).
//
// Create() reconciles before serving: a damaged checkpoint (DataLoss) is
// quarantined and claims are recovered from this driver's CDI specs;
// PrepareStarted claims are rolled back through the driver and dropped; CDI
// specs of our kind without a checkpoint entry are removed; Prepared claims
// whose spec is missing or differs get it rewritten; when the boot id
// changed, ReapplyClaim runs for every Prepared claim and then the new boot
// id is recorded. Reconcile problems are logged (warn), counted in
// tessera_claim_reconcile_errors_total, and retried at the next start; they
// do not stop the agent.
//
// Device names in specs are "<claim uid>-<device>[-<share id[:8]>]"; a device
// whose driver edits are empty gets one env entry
// TESSERA_DEVICE_<DEVICE>=<driver>/<pool>/<device> because CDI rejects
// devices without edits.
//
// Metrics (labels driver and, where named, result = success|error):
//   tessera_prepare_claims_total, tessera_prepare_claim_duration_seconds,
//   tessera_unprepare_claims_total, tessera_unprepare_claim_duration_seconds,
//   tessera_checkpoint_write_duration_seconds, tessera_cdi_write_duration_seconds,
//   tessera_claim_reconcile_errors_total, tessera_checkpoint_recoveries_total.
//
// Thread-safety: safe for concurrent use; claim operations are serialized by
// an internal mutex. Per-claim failures are logged here (warn), once.
// Lifetime: `driver`, `claims`, `fs`, `clock` and `metrics` must outlive the
// DeviceState.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "agent/claims/claim_source.h"
#include "base/clock.h"
#include "base/filesystem.h"
#include "base/metrics.h"
#include "drivers/device_driver.h"
#include "kubelet/cdi/spec_dir.h"
#include "kubelet/checkpoint/checkpoint.h"
#include "kubelet/claim_handler.h"

namespace tessera::agent {

struct DeviceStateOptions {
  std::string driver_name;     // "gpu.tessera.dev"
  std::string pool_name;       // the node name
  std::string cdi_dir;         // --cdi-dir, e.g. /var/run/cdi
  std::string checkpoint_dir;  // <state-dir>/<driver>
  std::string boot_id;         // /proc/sys/kernel/random/boot_id, read by the caller
  size_t max_opaque_parameters_bytes = 10 * 1024;
  size_t compact_after_records = 256;
};

// What Create() found and did.
struct ReconcileReport {
  bool checkpoint_recovered = false;  // damaged checkpoint quarantined
  int claims_recovered_from_specs = 0;
  int prepare_started_rolled_back = 0;
  int orphan_specs_removed = 0;
  int specs_rewritten = 0;
  bool boot_id_changed = false;
  int claims_reapplied = 0;
  int errors = 0;  // each also logged and counted in the metric
};

class DeviceState final : public kubelet::ClaimHandler {
 public:
  // Opens the checkpoint, reconciles, and returns a ready DeviceState.
  // InvalidArgument for bad options; FailedPrecondition when the checkpoint
  // was written by a newer agent; the Filesystem's code when the state or
  // CDI directory cannot be created or written (PermissionDenied, ...).
  static absl::StatusOr<std::unique_ptr<DeviceState>> Create(
      DeviceStateOptions options, drivers::DeviceDriver& driver, ClaimSource& claims,
      base::Filesystem& fs, base::Clock& clock, base::metrics::Registry& metrics);

  ~DeviceState() override;

  std::map<std::string, kubelet::PrepareResult> Prepare(
      const std::vector<kubelet::ClaimRef>& claims) override;
  std::map<std::string, absl::Status> Unprepare(
      const std::vector<kubelet::ClaimRef>& claims) override;

  // The claims in the checkpoint now, by uid.
  std::vector<kubelet::checkpoint::ClaimRecord> Claims() const;
  const ReconcileReport& reconcile_report() const { return report_; }
  const DeviceStateOptions& options() const { return options_; }

 private:
  struct Stats;
  DeviceState(DeviceStateOptions options, drivers::DeviceDriver& driver, ClaimSource& claims,
              base::Filesystem& fs, base::Clock& clock, base::metrics::Registry& metrics);

  absl::Status OpenCheckpoint() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecoverFromSpecs() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Reconcile() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReconcileError(std::string_view step, std::string_view uid, const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::StatusOr<std::vector<kubelet::PreparedDeviceResult>> PrepareOne(
      const kubelet::ClaimRef& ref) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status UnprepareOne(const kubelet::ClaimRef& ref) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Undoes a prepare that failed after PrepareStarted was recorded or the
  // driver returned; returns why the undo itself failed, if it did.
  absl::Status RollBack(const drivers::ClaimPrepareRequest& request,
                        const drivers::PreparedClaim* prepared, bool had_record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  kubelet::cdi::Spec SpecFor(const kubelet::checkpoint::ClaimRecord& record) const;
  std::string SpecFileName(std::string_view uid) const;
  absl::Status WriteSpec(const kubelet::checkpoint::ClaimRecord& record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status TimedCheckpoint(absl::Status status, base::Clock::MonoTime start);

  const DeviceStateOptions options_;
  const std::string kind_;
  drivers::DeviceDriver& driver_;
  ClaimSource& claims_;
  base::Filesystem& fs_;
  base::Clock& clock_;
  std::unique_ptr<Stats> stats_;
  kubelet::cdi::SpecDir specs_;

  mutable absl::Mutex mu_;
  std::unique_ptr<kubelet::checkpoint::Checkpoint> checkpoint_ ABSL_GUARDED_BY(mu_);
  ReconcileReport report_;  // written only during Create
};

// Read-only view of a driver's checkpoint for `node-debug claims`: needs no
// driver and writes nothing, so it is safe to run beside a live agent.
struct CheckpointedClaim {
  kubelet::checkpoint::ClaimRecord record;
  std::string spec_path;
  bool spec_present = false;
};
struct CheckpointView {
  std::string boot_id;
  uint64_t sequence = 0;
  std::vector<CheckpointedClaim> claims;  // by uid
};
// Codes as Checkpoint::Open (DataLoss, FailedPrecondition, Filesystem codes);
// an absent directory is an empty view.
absl::StatusOr<CheckpointView> ReadCheckpoint(base::Filesystem& fs,
                                              const std::string& checkpoint_dir,
                                              const std::string& cdi_dir,
                                              std::string_view driver_name);

}  // namespace tessera::agent
