// Checkpoint: the durable record of one driver's prepared claims
// (ARCHITECTURE.md, "Decisions"), in a directory of its own
// (<state-dir>/<driver>/):
//
//   checkpoint.json  snapshot: {"apiVersion": "checkpoint.tessera.dev/v1",
//                    "kind": "DeviceStateCheckpoint", "data": "<JSON text>",
//                    "checksum": <CRC-32 IEEE of data>}; data holds the node
//                    boot id, the sequence number of the last record folded
//                    in, and every claim. Replaced atomically (temp, fsync,
//                    rename, fsync dir).
//   checkpoint.log   journal: a header line "tessera-checkpoint-journal v1",
//                    then one record per line: "<crc32 hex8> <JSON>", the JSON
//                    carrying "seq" and "op" (PrepareStarted, Prepared,
//                    Unprepared) and the claim.
//
// Costs: PrepareStarted is appended without a sync (a crash that loses it
// lost nothing the driver had done durably either, and the following
// Prepared or Unprepared sync flushes it); Prepared and Unprepared cost one
// fdatasync each. Compact (at Open and every `compact_after_records`
// records) writes a snapshot and resets the journal: four fsyncs.
//
// Crash safety: records carry consecutive sequence numbers; replay skips
// records with seq <= the snapshot's, so a crash between the snapshot rename
// and the journal reset replays nothing twice. A torn final record (partial
// line, bad checksum at the very end) is dropped with a warning: it was never
// acknowledged. A bad record followed by valid ones, a sequence gap or a bad
// snapshot checksum is DataLoss: the caller decides how to recover (see
// Quarantine). After a failed append the journal may end in garbage, so the
// next append first compacts, and never writes after it.
//
// Versioning: Open dispatches on the snapshot's apiVersion and the journal
// header; a v2 writer adds a decoder and keeps reading v1.
//
// Not thread-safe: one owner (DeviceState, under its mutex). Two processes
// may share the directory only by taking turns under a lock and calling
// Reload at the start of each turn. `fs` must outlive the object.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "base/filesystem.h"
#include "kubelet/checkpoint/records.h"

namespace tessera::kubelet::checkpoint {

inline constexpr std::string_view kSnapshotFile = "checkpoint.json";
inline constexpr std::string_view kJournalFile = "checkpoint.log";
inline constexpr std::string_view kApiVersionV1 = "checkpoint.tessera.dev/v1";
inline constexpr std::string_view kKind = "DeviceStateCheckpoint";
inline constexpr std::string_view kJournalHeaderV1 = "tessera-checkpoint-journal v1";

struct OpenOptions {
  enum class Mode {
    kReadWrite,  // creates the directory (0700), compacts, accepts appends
    kReadOnly,   // for node-debug: reads only, appends are FailedPrecondition
  };
  Mode mode = Mode::kReadWrite;
  // Compact after this many journal records (amortizes the snapshot cost).
  size_t compact_after_records = 256;
};

class Checkpoint {
 public:
  using ClaimMap = std::map<std::string, ClaimRecord, std::less<>>;

  // Loads the snapshot and replays the journal; missing files mean an empty
  // checkpoint. Codes: DataLoss (bad checksum, unreadable snapshot, corrupt
  // journal record before the end, sequence gap), FailedPrecondition
  // (unsupported apiVersion or journal version: written by a newer agent),
  // and the Filesystem's codes (PermissionDenied, ...).
  static absl::StatusOr<std::unique_ptr<Checkpoint>> Open(base::Filesystem& fs, std::string dir,
                                                          OpenOptions options = {});

  // Moves a damaged checkpoint aside: copies each file that exists to
  // "<name>.corrupt-<tag>" and removes the original, so that Open starts
  // empty and the evidence stays for an operator.
  static absl::Status Quarantine(base::Filesystem& fs, const std::string& dir,
                                 std::string_view tag);

  Checkpoint(const Checkpoint&) = delete;
  Checkpoint& operator=(const Checkpoint&) = delete;

  const std::string& dir() const { return dir_; }
  const std::string& boot_id() const { return boot_id_; }
  uint64_t sequence() const { return seq_; }
  // The claims, decoded: a copy (O(n)); for start-up, reconciliation and
  // listing, not for a per-request path.
  ClaimMap claims() const;
  size_t size() const { return encoded_.size(); }
  bool Contains(std::string_view uid) const { return encoded_.contains(uid); }
  // The claim's record, decoded; nullopt when the checkpoint does not have it.
  std::optional<ClaimRecord> Find(std::string_view uid) const;
  // Whether Open dropped a torn final journal record.
  bool dropped_torn_record() const { return dropped_torn_record_; }
  // Records in the journal since the last compaction.
  size_t journal_records() const { return journal_records_; }

  // Records `claim` with phase PrepareStarted. Not synced. InvalidArgument
  // (nothing written) for a claim whose record would not decode again.
  absl::Status AppendPrepareStarted(ClaimRecord claim);
  // Records `claim` with phase Prepared. One fdatasync.
  absl::Status AppendPrepared(ClaimRecord claim);
  // Forgets the claim. One fdatasync; OK without I/O when the claim is unknown.
  absl::Status AppendUnprepared(std::string_view uid);
  // Writes a snapshot of the current state and resets the journal.
  absl::Status Compact();
  // Records a new node boot id (compacts).
  absl::Status SetBootId(std::string boot_id);

  // Re-reads the snapshot and journal, replacing the in-memory state, and
  // (read-write) reopens the journal so appends go to the current file. For
  // a directory another agent instance also writes (rolling update): call it
  // under the cross-instance lock before each operation. Codes as Open; on
  // error the in-memory state is unchanged, and appends and compactions are
  // FailedPrecondition until a Reload succeeds.
  absl::Status Reload();

  // All appends: FailedPrecondition in read-only mode; on a write or sync
  // failure the Filesystem's code, the record is not applied, and the
  // in-memory state still matches what a restart would read back.

 private:
  Checkpoint(base::Filesystem& fs, std::string dir, OpenOptions options)
      : fs_(fs), dir_(std::move(dir)), options_(options) {}

  std::string SnapshotPath() const;
  std::string JournalPath() const;
  absl::Status LoadSnapshot();
  absl::Status ReplayJournal();
  absl::Status ApplyRecord(const nlohmann::json& record, std::string_view where);
  // Writes one journal record (syncing it when `sync`); does not apply it.
  absl::Status WriteRecord(std::string_view op, nlohmann::json body, bool sync);
  absl::Status AppendClaim(std::string_view op, ClaimRecord claim);
  void MaybeCompact();

  base::Filesystem& fs_;
  const std::string dir_;
  const OpenOptions options_;
  std::string boot_id_;
  uint64_t seq_ = 0;
  // Each claim as its compact v1 JSON (what the snapshot holds), not as a
  // decoded ClaimRecord: a thousand prepared claims cost about 1 MiB instead
  // of 3 (strings, vectors and JSON trees of small blocks), and a compaction
  // only concatenates. Every text here decoded when it was added.
  std::map<std::string, std::string, std::less<>> encoded_;
  bool dropped_torn_record_ = false;
  size_t journal_records_ = 0;
  std::unique_ptr<base::AppendFile> journal_;
  // The journal may end in a partial record or was not reopened: compact
  // before the next append.
  bool needs_reset_ = true;
  // A Reload failed: refuse to write until one succeeds.
  bool stale_ = false;
};

}  // namespace tessera::kubelet::checkpoint
