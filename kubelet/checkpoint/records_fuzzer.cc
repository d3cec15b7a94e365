// libFuzzer harness for the checkpoint's record decoding behind its
// checksums (built with -DTESSERA_FUZZ=ON and clang). journal_fuzzer.cc feeds
// raw files, where almost every mutation only breaks a CRC; here the harness
// writes the checksums, so mutations reach the JSON decoding of claims.
//
// The first byte selects what the rest is:
//   0  journal records, one JSON per line: written with the v1 header and a
//      correct "<crc32> " prefix per line (a last line without "\n" stays torn);
//   1  the snapshot's data text: wrapped in a v1 envelope with its checksum;
//   2  one claim record (ClaimFromJson).
// Invariants: no crash; Open fails only with DataLoss or FailedPrecondition,
// with a message; what Open accepts survives a compaction and a reopen
// unchanged; every claim it holds (and every record ClaimFromJson accepts)
// encodes with ClaimToJson and decodes back to the same value.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "spdlog/fmt/fmt.h"

#include "base/filesystem.h"
#include "kubelet/checkpoint/checkpoint.h"
#include "kubelet/checkpoint/crc32.h"
#include "test/fakes/base/temp_dir.h"
#include "test/fuzz/fuzz_check.h"

namespace {

namespace cp = tessera::kubelet::checkpoint;
using Json = nlohmann::json;
using tessera::fuzz::CheckCleanError;

void CheckRoundTrip(const cp::ClaimRecord& claim) {
  Json encoded = cp::ClaimToJson(claim);
  absl::StatusOr<cp::ClaimRecord> back = cp::ClaimFromJson(encoded, "claim");
  FUZZ_CHECK(back.ok(), "ClaimFromJson(ClaimToJson(claim ", claim.uid,
             ")): ", back.ok() ? "" : tessera::base::Std(back.status().message()));
  FUZZ_CHECK(*back == claim, "claim ", claim.uid, " changed in a ClaimToJson round trip");
}

// `text` as it would be stored in a JSON string (invalid UTF-8 replaced, as
// the writer could not have written it otherwise).
std::string Storable(std::string_view text) {
  Json j = std::string(text);
  return Json::parse(j.dump(-1, ' ', false, Json::error_handler_t::replace)).get<std::string>();
}

void OpenAndCheck(tessera::base::Filesystem& fs, const std::string& dir) {
  absl::StatusOr<std::unique_ptr<cp::Checkpoint>> read =
      cp::Checkpoint::Open(fs, dir, {.mode = cp::OpenOptions::Mode::kReadOnly});
  if (!read.ok()) {
    return CheckCleanError(read.status(),
                           {absl::StatusCode::kDataLoss, absl::StatusCode::kFailedPrecondition},
                           "Checkpoint::Open");
  }
  for (const auto& [uid, claim] : (*read)->claims()) {
    FUZZ_CHECK(uid == claim.uid, "claim map key ", uid, " holds claim ", claim.uid);
    CheckRoundTrip(claim);
  }
  // A read-write open compacts: what it wrote must read back the same.
  absl::StatusOr<std::unique_ptr<cp::Checkpoint>> rw = cp::Checkpoint::Open(fs, dir);
  FUZZ_CHECK(rw.ok(), "read-write open after a good read-only open: ",
             rw.ok() ? "" : tessera::base::Std(rw.status().message()));
  FUZZ_CHECK((*rw)->claims() == (*read)->claims(), "claims changed by opening read-write");
  absl::StatusOr<std::unique_ptr<cp::Checkpoint>> back =
      cp::Checkpoint::Open(fs, dir, {.mode = cp::OpenOptions::Mode::kReadOnly});
  FUZZ_CHECK(back.ok(), "reopen after compaction: ",
             back.ok() ? "" : tessera::base::Std(back.status().message()));
  FUZZ_CHECK((*back)->claims() == (*read)->claims(), "claims changed by a compaction");
  FUZZ_CHECK((*back)->sequence() == (*read)->sequence(), "sequence changed by a compaction");
  FUZZ_CHECK((*back)->boot_id() == (*read)->boot_id(), "boot id changed by a compaction");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* dir = new tessera::testing::TempDir();
  static auto* fs = new tessera::base::RealFilesystem();
  const std::string journal = dir->Sub(std::string(cp::kJournalFile));
  const std::string snapshot = dir->Sub(std::string(cp::kSnapshotFile));
  (void)fs->RemoveFile(journal, false);
  (void)fs->RemoveFile(snapshot, false);

  tessera::fuzz::Input in(data, size);
  switch (in.Byte() % 3) {
    case 0: {
      std::string text = tessera::base::StrCat(cp::kJournalHeaderV1, "\n");
      std::string_view rest = in.Rest();
      while (!rest.empty()) {
        const size_t nl = rest.find('\n');
        const std::string_view line = rest.substr(0, nl);
        tessera::base::StrAppend(&text, fmt::format("{:08x} ", cp::Crc32Ieee(line)), line);
        if (nl == std::string_view::npos) break;  // a torn last record
        text += '\n';
        rest.remove_prefix(nl + 1);
      }
      FUZZ_CHECK(fs->WriteFileAtomic(journal, text, {.durable = false}).ok(), "write journal");
      OpenAndCheck(*fs, dir->path());
      break;
    }
    case 1: {
      const std::string text = Storable(in.Rest());
      Json doc = {{"apiVersion", cp::kApiVersionV1},
                  {"kind", cp::kKind},
                  {"data", text},
                  {"checksum", cp::Crc32Ieee(text)}};
      FUZZ_CHECK(fs->WriteFileAtomic(snapshot, doc.dump(), {.durable = false}).ok(),
                 "write snapshot");
      OpenAndCheck(*fs, dir->path());
      break;
    }
    case 2: {
      Json j = Json::parse(in.Rest(), nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded()) return 0;
      absl::StatusOr<cp::ClaimRecord> claim = cp::ClaimFromJson(j, "claim");
      if (!claim.ok()) {
        CheckCleanError(claim.status(), {absl::StatusCode::kInvalidArgument}, "ClaimFromJson");
        return 0;
      }
      CheckRoundTrip(*claim);
      break;
    }
  }
  return 0;
}
