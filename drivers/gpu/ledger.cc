#include "drivers/gpu/ledger.h"

#include <algorithm>

#include "base/json_util.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace tessera::drivers::gpu {
namespace {

using base::StrCat;
using Json = nlohmann::json;
namespace json = base::json;

constexpr std::string_view kApiVersion = "gpu.tessera.dev/v1";
constexpr std::string_view kKind = "GpuHostState";

std::string_view KindName(LedgerEntry::Kind k) {
  switch (k) {
    case LedgerEntry::Kind::kTimeSlice:
      return "TimeSlice";
    case LedgerEntry::Kind::kMps:
      return "MPS";
    case LedgerEntry::Kind::kMig:
      return "MIG";
  }
  return "MPS";
}

Json ToJson(const LedgerEntry& e) {
  Json j = {{"user", e.user},
            {"kind", std::string(KindName(e.kind))},
            {"gpu", {{"key", e.gpu.key}, {"smiId", e.gpu.smi_id}, {"cudaId", e.gpu.cuda_id}}},
            {"pciBusID", e.pci_bus_id}};
  if (e.kind == LedgerEntry::Kind::kTimeSlice) {
    j["interval"] = std::string(TimeSliceIntervalName(e.interval));
  }
  if (e.kind == LedgerEntry::Kind::kMig) {
    j["profileId"] = e.profile_id;
    j["placementStart"] = e.placement.start;
    j["placementSize"] = e.placement.size;
    if (e.gpu_instance) j["gpuInstanceId"] = *e.gpu_instance;
    if (e.compute_instance) j["computeInstanceId"] = *e.compute_instance;
  }
  return j;
}

absl::StatusOr<uint32_t> U32(const Json& obj, std::string_view path, std::string_view key) {
  ASSIGN_OR_RETURN(int64_t v, json::GetInt(obj, path, key));
  if (v < 0 || v > UINT32_MAX) {
    return absl::InvalidArgumentError(StrCat(json::Field(path, key), ": out of range"));
  }
  return static_cast<uint32_t>(v);
}

absl::StatusOr<LedgerEntry> FromJson(const Json& j, const std::string& path) {
  if (!j.is_object()) return json::TypeError(path, "object", j);
  LedgerEntry e;
  ASSIGN_OR_RETURN(e.user, json::GetString(j, path, "user"));
  ASSIGN_OR_RETURN(std::string kind, json::GetString(j, path, "kind"));
  if (kind == "TimeSlice") {
    e.kind = LedgerEntry::Kind::kTimeSlice;
  } else if (kind == "MPS") {
    e.kind = LedgerEntry::Kind::kMps;
  } else if (kind == "MIG") {
    e.kind = LedgerEntry::Kind::kMig;
  } else {
    return absl::InvalidArgumentError(StrCat(json::Field(path, "kind"), ": ", base::Quote(kind)));
  }
  ASSIGN_OR_RETURN(const Json* gpu, json::GetObject(j, path, "gpu"));
  const std::string gpath = json::Field(path, "gpu");
  ASSIGN_OR_RETURN(e.gpu.key, json::GetString(*gpu, gpath, "key"));
  ASSIGN_OR_RETURN(e.gpu.smi_id, json::GetString(*gpu, gpath, "smiId"));
  ASSIGN_OR_RETURN(e.gpu.cuda_id, json::GetString(*gpu, gpath, "cudaId"));
  ASSIGN_OR_RETURN(e.pci_bus_id, json::GetString(j, path, "pciBusID"));
  if (e.kind == LedgerEntry::Kind::kTimeSlice) {
    ASSIGN_OR_RETURN(std::string interval, json::GetString(j, path, "interval"));
    std::optional<TimeSliceInterval> i = ParseTimeSliceInterval(interval);
    if (!i) return absl::InvalidArgumentError(StrCat(json::Field(path, "interval"), ": invalid"));
    e.interval = *i;
  }
  if (e.kind == LedgerEntry::Kind::kMig) {
    ASSIGN_OR_RETURN(e.profile_id, U32(j, path, "profileId"));
    ASSIGN_OR_RETURN(e.placement.start, U32(j, path, "placementStart"));
    ASSIGN_OR_RETURN(e.placement.size, U32(j, path, "placementSize"));
    if (j.contains("gpuInstanceId")) {
      ASSIGN_OR_RETURN(uint32_t gi, U32(j, path, "gpuInstanceId"));
      e.gpu_instance = gi;
    }
    if (j.contains("computeInstanceId")) {
      ASSIGN_OR_RETURN(uint32_t ci, U32(j, path, "computeInstanceId"));
      e.compute_instance = ci;
    }
  }
  return e;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HostLedger>> HostLedger::Open(base::Filesystem& fs,
                                                             std::string path) {
  std::unique_ptr<HostLedger> ledger(new HostLedger(fs, path));
  absl::StatusOr<std::string> text = fs.ReadFile(path, 16 << 20);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) return ledger;
    return base::Annotate(text.status(), StrCat("read gpu host state ", path));
  }
  absl::Status damaged;
  absl::StatusOr<Json> doc = json::Parse(*text, path);
  if (!doc.ok()) {
    damaged = doc.status();
  } else if (!doc->is_object() || doc->value("apiVersion", "") != kApiVersion ||
             doc->value("kind", "") != kKind) {
    damaged = absl::InvalidArgumentError(StrCat(path, ": not a ", kKind, " of ", kApiVersion));
  } else {
    absl::StatusOr<const Json*> list = json::GetArray(*doc, "", "entries");
    if (!list.ok()) {
      damaged = list.status();
    } else {
      absl::MutexLock lock(&ledger->mu_);
      for (size_t i = 0; i < (*list)->size() && damaged.ok(); ++i) {
        absl::StatusOr<LedgerEntry> e = FromJson((**list)[i], json::Index("entries", i));
        if (e.ok()) {
          ledger->entries_.push_back(std::move(*e));
        } else {
          damaged = e.status();
        }
      }
    }
  }
  if (!damaged.ok()) {
    return absl::DataLossError(
        StrCat("gpu host state ", path, " is damaged: ", base::Std(damaged.message())));
  }
  return ledger;
}

std::unique_ptr<HostLedger> HostLedger::OpenEmpty(base::Filesystem& fs, std::string path) {
  return std::unique_ptr<HostLedger>(new HostLedger(fs, std::move(path)));
}

std::vector<LedgerEntry> HostLedger::entries() const {
  absl::MutexLock lock(&mu_);
  return entries_;
}

std::vector<LedgerEntry> HostLedger::EntriesOf(std::string_view user) const {
  absl::MutexLock lock(&mu_);
  std::vector<LedgerEntry> out;
  for (const LedgerEntry& e : entries_) {
    if (e.user == user) out.push_back(e);
  }
  return out;
}

absl::Status HostLedger::Put(const LedgerEntry& entry) {
  absl::MutexLock lock(&mu_);
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const LedgerEntry& e) {
    return e.user == entry.user && e.kind == entry.kind;
  });
  if (it != entries_.end()) {
    if (*it == entry) return absl::OkStatus();
    const LedgerEntry old = *it;
    *it = entry;
    absl::Status s = Save();
    if (!s.ok()) *it = old;
    return s;
  }
  entries_.push_back(entry);
  absl::Status s = Save();
  if (!s.ok()) entries_.pop_back();
  return s;
}

absl::Status HostLedger::Remove(std::string_view user, LedgerEntry::Kind kind) {
  absl::MutexLock lock(&mu_);
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const LedgerEntry& e) { return e.user == user && e.kind == kind; });
  if (it == entries_.end()) return absl::OkStatus();
  const LedgerEntry old = *it;
  const auto pos = it - entries_.begin();
  entries_.erase(it);
  absl::Status s = Save();
  if (!s.ok()) entries_.insert(entries_.begin() + pos, old);
  return s;
}

absl::Status HostLedger::Save() {
  Json list = Json::array();
  for (const LedgerEntry& e : entries_) list.push_back(ToJson(e));
  Json doc = {
      {"apiVersion", std::string(kApiVersion)}, {"kind", std::string(kKind)}, {"entries", list}};
  RETURN_IF_ERROR(base::Annotate(fs_.CreateDirectories(base::DirName(path_), 0700),
                                 StrCat("create directory of ", path_)));
  return base::Annotate(fs_.WriteFileAtomic(path_, doc.dump(1), {.mode = 0600, .durable = true}),
                        StrCat("write gpu host state ", path_));
}

}  // namespace tessera::drivers::gpu
