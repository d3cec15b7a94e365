// HostLedger: the GPU driver's own durable record of what it changed on the
// host: which claim devices use a time slice or an MPS daemon, and which MIG
// instances it made. One small JSON file, <state dir>/host-state.json,
// replaced atomically (temp, fsync, rename, fsync dir) on every change.
//
// Why, next to the claim checkpoint: an entry is written *before* the host is
// changed (an intent) and removed only after the change is undone, so that
// after a crash in the middle of a prepare (the checkpoint then holds the
// claim as PrepareStarted, without any driver state) the driver still knows
// exactly which MIG instance is its own to destroy, never an administrator's,
// and which daemon reference it held. The reference counts of MPS daemons and
// time slices are rebuilt from it at start even when nobody calls
// RestoreState.
//
// Format (versioned): {"apiVersion":"gpu.tessera.dev/v1","kind":"GpuHostState",
// "entries":[{"user","kind","gpu":{"key","smiId","cudaId"},"pciBusID",
// "interval","profileId","placementStart","placementSize","gpuInstanceId",
// "computeInstanceId"}]}. A missing file is empty; an unreadable or damaged
// one is reported (DataLoss) and the driver starts from the checkpoint alone.
//
// Thread-safety: safe for concurrent use. `fs` must outlive the ledger.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "base/filesystem.h"
#include "drivers/gpu/gpu_config.h"
#include "drivers/gpu/sharing.h"
#include "drivers/nvidia/nvml.h"

namespace tessera::drivers::gpu {

struct LedgerEntry {
  enum class Kind { kTimeSlice, kMps, kMig };
  std::string user;  // SharingUser(claim uid, device, share id)
  Kind kind = Kind::kMps;
  GpuTarget gpu;
  std::string pci_bus_id;
  TimeSliceInterval interval = TimeSliceInterval::kDefault;  // kTimeSlice
  // kMig: what is (to be) created; the ids once it exists.
  uint32_t profile_id = 0;
  nvidia::MigPlacement placement;
  std::optional<uint32_t> gpu_instance;
  std::optional<uint32_t> compute_instance;
  friend bool operator==(const LedgerEntry&, const LedgerEntry&) = default;
};

class HostLedger {
 public:
  // Reads `path` (absent: empty). A damaged file is DataLoss; the caller may
  // then OpenEmpty and carry on.
  static absl::StatusOr<std::unique_ptr<HostLedger>> Open(base::Filesystem& fs, std::string path);
  // A ledger that starts empty and overwrites `path` on the first change.
  static std::unique_ptr<HostLedger> OpenEmpty(base::Filesystem& fs, std::string path);

  std::vector<LedgerEntry> entries() const;
  std::vector<LedgerEntry> EntriesOf(std::string_view user) const;

  // Adds or replaces the entry of (user, kind), then persists.
  absl::Status Put(const LedgerEntry& entry);
  // Removes the entry of (user, kind) if present, then persists (no write
  // when there was nothing to remove).
  absl::Status Remove(std::string_view user, LedgerEntry::Kind kind);

 private:
  HostLedger(base::Filesystem& fs, std::string path) : fs_(fs), path_(std::move(path)) {}
  absl::Status Save() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  base::Filesystem& fs_;
  const std::string path_;
  mutable absl::Mutex mu_;
  std::vector<LedgerEntry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::drivers::gpu
