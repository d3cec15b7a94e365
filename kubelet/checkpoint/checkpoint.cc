#include "kubelet/checkpoint/checkpoint.h"

#include <malloc.h>

#include <cstdlib>
#include <utility>
#include <vector>

#include "spdlog/fmt/fmt.h"

#include "base/json_util.h"
#include "base/log.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "kubelet/checkpoint/crc32.h"

namespace tessera::kubelet::checkpoint {
namespace {

using base::StrAppend;
using base::StrCat;
using base::json::Json;
namespace json = base::json;

constexpr std::string_view kOpPrepareStarted = "PrepareStarted";
constexpr std::string_view kOpPrepared = "Prepared";
constexpr std::string_view kOpUnprepared = "Unprepared";

spdlog::logger& Log() {
  static const std::shared_ptr<spdlog::logger> log = base::log::Get("checkpoint");
  return *log;
}

// Claim names and driver state come from outside; never let invalid UTF-8
// throw out of dump().
std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

absl::Status DataLoss(std::string_view where, const absl::Status& cause) {
  return absl::DataLossError(StrCat(where, ": ", base::Std(cause.message())));
}

// A claim as the compact v1 JSON the snapshot and the journal hold.
std::string Encode(const ClaimRecord& claim) { return Dump(ClaimToJson(claim)); }

// The inverse, for texts Encode made from records that decoded: failing
// would be a bug, not bad input.
ClaimRecord Decode(std::string_view text) {
  absl::StatusOr<ClaimRecord> claim = ClaimFromJson(
      Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false), "claim");
  if (!claim.ok()) {
    Log().critical("checkpoint: a stored claim no longer decodes: {}",
                   base::Std(claim.status().message()));
    std::abort();
  }
  return *std::move(claim);
}

// `text` as a JSON string literal, escaped as nlohmann's dump() escapes
// (ensure_ascii off), appended to `out`.
void AppendJsonString(std::string_view text, std::string& out) {
  out.reserve(out.size() + text.size() + text.size() / 8 + 2);
  out += '"';
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

bool OnlyPadding(std::string_view rest) {
  // What a crash can leave after the last complete record: nothing, or the
  // zero-filled tail of an extended file.
  for (char c : rest) {
    if (c != '\0' && c != '\n' && c != ' ' && c != '\r' && c != '\t') return false;
  }
  return true;
}

// One journal line: "<crc32 hex8> <json>". InvalidArgument describing why not.
absl::StatusOr<Json> ParseRecordLine(std::string_view line) {
  if (line.size() < 10 || line[8] != ' ') {
    return absl::InvalidArgumentError("malformed record");
  }
  uint32_t stored = 0;
  for (size_t i = 0; i < 8; ++i) {
    char c = line[i];
    uint32_t v;
    if (c >= '0' && c <= '9') {
      v = static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      v = static_cast<uint32_t>(c - 'a' + 10);
    } else {
      return absl::InvalidArgumentError("malformed record checksum");
    }
    stored = (stored << 4) | v;
  }
  std::string_view payload = line.substr(9);
  uint32_t computed = Crc32Ieee(payload);
  if (computed != stored) {
    return absl::InvalidArgumentError(
        fmt::format("record checksum mismatch: stored {:08x}, computed {:08x}", stored, computed));
  }
  ASSIGN_OR_RETURN(Json record, json::Parse(payload, "record"));
  if (!record.is_object()) return json::TypeError("record", "object", record);
  return record;
}

}  // namespace

std::string Checkpoint::SnapshotPath() const { return StrCat(dir_, "/", kSnapshotFile); }
std::string Checkpoint::JournalPath() const { return StrCat(dir_, "/", kJournalFile); }

std::optional<ClaimRecord> Checkpoint::Find(std::string_view uid) const {
  auto it = encoded_.find(uid);
  if (it == encoded_.end()) return std::nullopt;
  return Decode(it->second);
}

Checkpoint::ClaimMap Checkpoint::claims() const {
  ClaimMap out;
  for (const auto& [uid, text] : encoded_) out.emplace_hint(out.end(), uid, Decode(text));
  return out;
}

absl::StatusOr<std::unique_ptr<Checkpoint>> Checkpoint::Open(base::Filesystem& fs, std::string dir,
                                                             OpenOptions options) {
  std::unique_ptr<Checkpoint> cp(new Checkpoint(fs, std::move(dir), options));
  const bool writable = options.mode == OpenOptions::Mode::kReadWrite;
  if (writable) {
    RETURN_IF_ERROR(
        base::Annotate(fs.CreateDirectories(cp->dir_, 0700), StrCat("open checkpoint ", cp->dir_)));
  }
  RETURN_IF_ERROR(cp->LoadSnapshot());
  RETURN_IF_ERROR(cp->ReplayJournal());
  if (writable) {
    // Temp files of a write interrupted by a crash.
    if (absl::StatusOr<std::vector<std::string>> names = fs.ListDir(cp->dir_); names.ok()) {
      for (const std::string& name : *names) {
        if (name.starts_with(StrCat(".", kSnapshotFile, ".tmp-")) ||
            name.starts_with(StrCat(".", kJournalFile, ".tmp-"))) {
          (void)fs.RemoveFile(StrCat(cp->dir_, "/", name), /*durable=*/false);
        }
      }
    }
    // Start from a clean journal: drops a torn tail for good and makes the
    // journal's directory entry durable before the first append.
    RETURN_IF_ERROR(base::Annotate(cp->Compact(), StrCat("open checkpoint ", cp->dir_)));
  }
  return cp;
}

absl::Status Checkpoint::LoadSnapshot() {
  const std::string path = SnapshotPath();
  absl::StatusOr<std::string> text = fs_.ReadFile(path);
  if (absl::IsNotFound(text.status())) return absl::OkStatus();
  if (!text.ok()) return base::Annotate(text.status(), "read checkpoint");
  const std::string where = StrCat("read checkpoint ", path);
  // The snapshot is replaced atomically, so anything unreadable is damage.
  absl::StatusOr<Json> doc = json::Parse(*text, "document");
  if (!doc.ok()) return DataLoss(where, doc.status());
  if (!doc->is_object()) return DataLoss(where, json::TypeError("document", "object", *doc));
  absl::StatusOr<std::string> api_version = json::GetString(*doc, "", "apiVersion");
  if (!api_version.ok()) return DataLoss(where, api_version.status());
  if (*api_version != kApiVersionV1) {
    return absl::FailedPreconditionError(
        StrCat(where, ": unsupported apiVersion ", base::Quote(*api_version), " (this agent reads ",
               kApiVersionV1, "); was it written by a newer agent?"));
  }
  // v1 from here on; a v2 reader keeps this branch.
  auto decode_v1 = [&]() -> absl::Status {
    RETURN_IF_ERROR(
        json::RejectUnknownFields(*doc, "", {"apiVersion", "kind", "data", "checksum"}));
    ASSIGN_OR_RETURN(std::string kind, json::GetString(*doc, "", "kind"));
    if (kind != kKind) {
      return absl::InvalidArgumentError(StrCat("kind: ", base::Quote(kind), " is not ", kKind));
    }
    ASSIGN_OR_RETURN(std::string data, json::GetString(*doc, "", "data"));
    ASSIGN_OR_RETURN(int64_t checksum, json::GetInt(*doc, "", "checksum"));
    const uint32_t computed = Crc32Ieee(data);
    if (checksum != static_cast<int64_t>(computed)) {
      return absl::InvalidArgumentError(
          StrCat("checksum mismatch: stored ", checksum, ", computed ", computed));
    }
    ASSIGN_OR_RETURN(Json d, json::Parse(data, "data"));
    if (!d.is_object()) return json::TypeError("data", "object", d);
    RETURN_IF_ERROR(json::RejectUnknownFields(d, "data", {"bootId", "seq", "claims"}));
    ASSIGN_OR_RETURN(boot_id_, json::GetString(d, "data", "bootId"));
    ASSIGN_OR_RETURN(int64_t seq, json::GetInt(d, "data", "seq"));
    if (seq < 0) return absl::InvalidArgumentError("data.seq: negative");
    seq_ = static_cast<uint64_t>(seq);
    ASSIGN_OR_RETURN(const Json* claims, json::GetArray(d, "data", "claims"));
    for (size_t i = 0; i < claims->size(); ++i) {
      const std::string cpath = json::Index("data.claims", i);
      if (!(*claims)[i].is_object()) return json::TypeError(cpath, "object", (*claims)[i]);
      ASSIGN_OR_RETURN(ClaimRecord claim, ClaimFromJson((*claims)[i], cpath));
      std::string uid = claim.uid;
      if (!encoded_.emplace(std::move(uid), Encode(claim)).second) {
        return absl::InvalidArgumentError(StrCat(cpath, ": duplicate claim uid"));
      }
    }
    return absl::OkStatus();
  };
  if (absl::Status s = decode_v1(); !s.ok()) {
    encoded_.clear();
    return DataLoss(where, s);
  }
  return absl::OkStatus();
}

absl::Status Checkpoint::ReplayJournal() {
  const std::string path = JournalPath();
  absl::StatusOr<std::string> text = fs_.ReadFile(path);
  if (absl::IsNotFound(text.status())) return absl::OkStatus();
  if (!text.ok()) return base::Annotate(text.status(), "read checkpoint journal");
  std::string_view rest = *text;
  if (rest.empty()) return absl::OkStatus();
  const std::string where = StrCat("read checkpoint journal ", path);
  size_t nl = rest.find('\n');
  std::string_view header = rest.substr(0, nl);
  if (header != kJournalHeaderV1) {
    if (header.starts_with("tessera-checkpoint-journal ")) {
      return absl::FailedPreconditionError(StrCat(where, ": unsupported journal version ",
                                                  base::Quote(header), " (this agent reads ",
                                                  base::Quote(kJournalHeaderV1), ")"));
    }
    // The header is written atomically with the empty journal; a wrong one
    // is damage, not a torn write.
    return absl::DataLossError(StrCat(where, ": bad header ", base::Quote(header)));
  }
  if (nl == std::string_view::npos) return absl::OkStatus();
  rest.remove_prefix(nl + 1);
  size_t line_no = 1;
  uint64_t last_seq = 0;
  while (!rest.empty()) {
    ++line_no;
    nl = rest.find('\n');
    const bool complete = nl != std::string_view::npos;
    std::string_view line = complete ? rest.substr(0, nl) : rest;
    std::string_view after = complete ? rest.substr(nl + 1) : std::string_view();
    absl::StatusOr<Json> record =
        complete ? ParseRecordLine(line) : absl::InvalidArgumentError("record without newline");
    if (!record.ok()) {
      if (OnlyPadding(after)) {
        // Never acknowledged: its sync had not returned when the process died.
        Log().warn("dropped torn checkpoint journal record path={} line={} reason={}", path,
                   line_no, base::Std(record.status().message()));
        dropped_torn_record_ = true;
        return absl::OkStatus();
      }
      return absl::DataLossError(StrCat(where, ": line ", line_no, ": ",
                                        base::Std(record.status().message()),
                                        " (valid records follow)"));
    }
    absl::StatusOr<int64_t> seq = json::GetInt(*record, "record", "seq");
    if (!seq.ok() || *seq <= 0) {
      return absl::DataLossError(StrCat(where, ": line ", line_no, ": bad sequence number"));
    }
    const auto s = static_cast<uint64_t>(*seq);
    if (s <= last_seq) {
      return absl::DataLossError(
          StrCat(where, ": line ", line_no, ": sequence ", s, " after ", last_seq));
    }
    last_seq = s;
    if (s > seq_) {
      // Records at or below the snapshot's sequence were folded into it by a
      // compaction that crashed before resetting the journal.
      if (s != seq_ + 1) {
        return absl::DataLossError(
            StrCat(where, ": line ", line_no, ": sequence gap: expected ", seq_ + 1, ", got ", s));
      }
      if (absl::Status applied = ApplyRecord(*record, StrCat("line ", line_no)); !applied.ok()) {
        return DataLoss(where, applied);
      }
      seq_ = s;
      ++journal_records_;
    }
    rest = after;
  }
  return absl::OkStatus();
}

absl::Status Checkpoint::ApplyRecord(const Json& record, std::string_view where) {
  ASSIGN_OR_RETURN(std::string op, json::GetString(record, where, "op"));
  if (op == kOpUnprepared) {
    RETURN_IF_ERROR(json::RejectUnknownFields(record, where, {"seq", "op", "uid"}));
    ASSIGN_OR_RETURN(std::string uid, json::GetString(record, where, "uid"));
    encoded_.erase(uid);
    return absl::OkStatus();
  }
  if (op != kOpPrepareStarted && op != kOpPrepared) {
    return absl::InvalidArgumentError(
        StrCat(json::Field(where, "op"), ": unknown operation ", base::Quote(op)));
  }
  RETURN_IF_ERROR(json::RejectUnknownFields(record, where, {"seq", "op", "claim"}));
  ASSIGN_OR_RETURN(const Json* claim_json, json::GetObject(record, where, "claim"));
  ASSIGN_OR_RETURN(ClaimRecord claim, ClaimFromJson(*claim_json, json::Field(where, "claim")));
  const Phase expected = op == kOpPrepared ? Phase::kPrepared : Phase::kPrepareStarted;
  if (claim.phase != expected) {
    return absl::InvalidArgumentError(
        StrCat(json::Field(where, "claim.phase"), ": does not match operation ", op));
  }
  std::string uid = claim.uid;
  encoded_.insert_or_assign(std::move(uid), Encode(claim));
  return absl::OkStatus();
}

absl::Status Checkpoint::WriteRecord(std::string_view op, Json body, bool sync) {
  const std::string what = StrCat("append ", op, " to checkpoint journal ", JournalPath());
  if (options_.mode == OpenOptions::Mode::kReadOnly) {
    return absl::FailedPreconditionError(StrCat(what, ": opened read-only"));
  }
  if (stale_) return absl::FailedPreconditionError(StrCat(what, ": the last reload failed"));
  if (needs_reset_ || journal_ == nullptr) {
    RETURN_IF_ERROR(base::Annotate(Compact(), what));
  }
  const uint64_t seq = seq_ + 1;
  body["seq"] = seq;
  body["op"] = op;
  const std::string payload = Dump(body);
  const std::string line = fmt::format("{:08x} {}\n", Crc32Ieee(payload), payload);
  absl::Status status = journal_->Append(line);
  if (status.ok() && sync) status = journal_->Sync();
  if (!status.ok()) {
    // The journal may now end in a partial record, or in a complete one
    // whose sync failed (and that we therefore never acknowledge). Replace
    // it with a snapshot of the state without this record; if even that
    // fails, the next append tries again before writing anything.
    needs_reset_ = true;
    if (absl::Status reset = Compact(); !reset.ok()) {
      Log().warn("checkpoint journal reset after failed append failed dir={} error={}", dir_,
                 base::Std(reset.message()));
    }
    return base::Annotate(status, what);
  }
  seq_ = seq;
  ++journal_records_;
  return absl::OkStatus();
}

void Checkpoint::MaybeCompact() {
  if (journal_records_ < options_.compact_after_records) return;
  // The record is durable (or, for PrepareStarted, need not be); a failed
  // compaction is retried after the next record.
  if (absl::Status s = Compact(); !s.ok()) {
    Log().warn("checkpoint compaction failed dir={} records={} error={}", dir_, journal_records_,
               base::Std(s.message()));
  }
}

absl::Status Checkpoint::AppendClaim(std::string_view op, ClaimRecord claim) {
  // A record that would not decode again would make the whole checkpoint
  // unreadable at the next start: refuse it before writing anything.
  Json encoded = ClaimToJson(claim);
  if (claim.uid.empty()) {
    return absl::InvalidArgumentError(StrCat("append ", op, " to checkpoint: empty claim uid"));
  }
  if (absl::StatusOr<ClaimRecord> back = ClaimFromJson(encoded, "claim"); !back.ok()) {
    return base::Annotate(back.status(),
                          StrCat("append ", op, " for claim ", claim.uid, " to checkpoint"));
  }
  std::string text = Dump(encoded);
  Json body = Json::object();
  body["claim"] = std::move(encoded);
  RETURN_IF_ERROR(WriteRecord(op, std::move(body), /*sync=*/op == kOpPrepared));
  encoded_.insert_or_assign(std::move(claim.uid), std::move(text));
  MaybeCompact();
  return absl::OkStatus();
}

absl::Status Checkpoint::AppendPrepareStarted(ClaimRecord claim) {
  claim.phase = Phase::kPrepareStarted;
  return AppendClaim(kOpPrepareStarted, std::move(claim));
}

absl::Status Checkpoint::AppendPrepared(ClaimRecord claim) {
  claim.phase = Phase::kPrepared;
  return AppendClaim(kOpPrepared, std::move(claim));
}

absl::Status Checkpoint::AppendUnprepared(std::string_view uid) {
  auto it = encoded_.find(uid);
  if (it == encoded_.end()) return absl::OkStatus();
  Json body = Json::object();
  body["uid"] = uid;
  RETURN_IF_ERROR(WriteRecord(kOpUnprepared, std::move(body), /*sync=*/true));
  encoded_.erase(it);
  MaybeCompact();
  return absl::OkStatus();
}

absl::Status Checkpoint::Compact() {
  const std::string what = StrCat("compact checkpoint ", dir_);
  if (options_.mode == OpenOptions::Mode::kReadOnly) {
    return absl::FailedPreconditionError(StrCat(what, ": opened read-only"));
  }
  if (stale_) return absl::FailedPreconditionError(StrCat(what, ": the last reload failed"));
  // The snapshot is written as text claim by claim, never as one JSON tree
  // of every claim: a thousand claims would briefly cost several MiB of heap
  // that glibc keeps. The text is what Dump() of the same tree would give
  // (keys in order, no spaces).
  std::string data_text = StrCat("{\"bootId\":", Dump(Json(boot_id_)), ",\"claims\":[");
  bool first = true;
  size_t size = 64;
  for (const auto& [uid, text] : encoded_) size += text.size() + 1;
  data_text.reserve(size);
  for (const auto& [uid, text] : encoded_) {
    if (!first) data_text += ',';
    first = false;
    data_text += text;
  }
  StrAppend(&data_text, "],\"seq\":", seq_, "}");
  std::string doc = StrCat("{\"apiVersion\":", Dump(Json(kApiVersionV1)),
                           ",\"checksum\":", Crc32Ieee(data_text), ",\"data\":");
  AppendJsonString(data_text, doc);
  StrAppend(&doc, ",\"kind\":", Dump(Json(kKind)), "}\n");
  data_text = std::string();
  const base::WriteOptions durable{.mode = 0600, .durable = true};
  // 1. The snapshot. A crash after this replays the old journal, whose
  //    records all have seq <= the snapshot's and are skipped.
  RETURN_IF_ERROR(base::Annotate(fs_.WriteFileAtomic(SnapshotPath(), doc, durable), what));
  // 2. An empty journal. Until it is reopened, appends would go to the old,
  //    unlinked file: drop the handle first.
  RETURN_IF_ERROR(base::Annotate(
      fs_.WriteFileAtomic(JournalPath(), StrCat(kJournalHeaderV1, "\n"), durable), what));
  journal_.reset();
  needs_reset_ = true;
  ASSIGN_OR_RETURN(journal_, base::Annotate(fs_.OpenAppend(JournalPath(), 0600), what));
  needs_reset_ = false;
  journal_records_ = 0;
  doc = std::string();
  // The encoding's small blocks are free again but scattered through the
  // heap: give their pages back to the kernel (a few microseconds per MiB).
  ::malloc_trim(0);
  return absl::OkStatus();
}

absl::Status Checkpoint::SetBootId(std::string boot_id) {
  std::string previous = std::exchange(boot_id_, std::move(boot_id));
  absl::Status s = Compact();
  if (!s.ok()) boot_id_ = std::move(previous);
  return s;
}

absl::Status Checkpoint::Reload() {
  // Until a reload succeeds, the in-memory state may be older than the files:
  // writing it (a record with a stale sequence number, or a compaction) could
  // destroy the other writer's records.
  stale_ = true;
  std::unique_ptr<Checkpoint> fresh(new Checkpoint(fs_, dir_, options_));
  RETURN_IF_ERROR(fresh->LoadSnapshot());
  RETURN_IF_ERROR(fresh->ReplayJournal());
  if (options_.mode == OpenOptions::Mode::kReadWrite) {
    // Another writer may have replaced the journal (compaction renames over
    // it): appends must go to the file that is there now.
    absl::StatusOr<std::unique_ptr<base::AppendFile>> journal = fs_.OpenAppend(JournalPath(), 0600);
    if (!journal.ok()) {
      return base::Annotate(journal.status(), StrCat("reload checkpoint ", dir_));
    }
    journal_ = std::move(*journal);
    // A torn tail left by the other writer must not get our records glued
    // to it.
    needs_reset_ = fresh->dropped_torn_record_;
  }
  boot_id_ = std::move(fresh->boot_id_);
  seq_ = fresh->seq_;
  encoded_ = std::move(fresh->encoded_);
  journal_records_ = fresh->journal_records_;
  dropped_torn_record_ = fresh->dropped_torn_record_;
  stale_ = false;
  return absl::OkStatus();
}

absl::Status Checkpoint::Quarantine(base::Filesystem& fs, const std::string& dir,
                                    std::string_view tag) {
  for (std::string_view name : {kSnapshotFile, kJournalFile}) {
    const std::string path = StrCat(dir, "/", name);
    absl::StatusOr<std::string> text = fs.ReadFile(path);
    if (absl::IsNotFound(text.status())) continue;
    const std::string what = StrCat("quarantine checkpoint file ", path);
    if (!text.ok()) return base::Annotate(text.status(), what);
    RETURN_IF_ERROR(base::Annotate(
        fs.WriteFileAtomic(StrCat(path, ".corrupt-", tag), *text, {.mode = 0600}), what));
    absl::Status removed = fs.RemoveFile(path, /*durable=*/true);
    if (!removed.ok() && !absl::IsNotFound(removed)) return base::Annotate(removed, what);
  }
  return absl::OkStatus();
}

}  // namespace tessera::kubelet::checkpoint
