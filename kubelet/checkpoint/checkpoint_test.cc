#include "kubelet/checkpoint/checkpoint.h"

#include <sys/stat.h>

#include <random>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/fmt/fmt.h"

#include "kubelet/checkpoint/crc32.h"
#include "test/fakes/base/faulty_filesystem.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/golden.h"
#include "test/matchers/status_matchers.h"

namespace tessera::kubelet::checkpoint {
namespace {

using ::tessera::testing::FaultyFilesystem;
using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;
using ::tessera::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

ClaimRecord Claim(std::string uid, std::string device = "gpu-0") {
  ClaimRecord c;
  c.uid = std::move(uid);
  c.namespace_ = "team-a";
  c.name = "train-" + c.uid.substr(0, 4);
  DeviceRecord d;
  d.request_names = {"gpu"};
  d.pool = "node-1";
  d.device = device;
  d.cdi_ids = {"k8s.gpu.tessera.dev/claim=" + c.uid + "-" + device};
  d.state = nlohmann::json{{"migInstance", 3}, {"device", device}};
  d.edits.env = {"TESSERA_GPU=" + device};
  d.edits.device_nodes = {{.path = "/dev/nvidia0"}};
  c.devices = {d};
  c.claim_edits.device_nodes = {{.path = "/dev/nvidiactl"}};
  return c;
}

Checkpoint::ClaimMap Map(std::initializer_list<ClaimRecord> claims) {
  Checkpoint::ClaimMap m;
  for (const ClaimRecord& c : claims) m.emplace(c.uid, c);
  return m;
}

std::string Journal(const TempDir& dir) { return dir.Sub(std::string(kJournalFile)); }
std::string Snapshot(const TempDir& dir) { return dir.Sub(std::string(kSnapshotFile)); }

std::unique_ptr<Checkpoint> OpenOrDie(base::Filesystem& fs, const TempDir& dir,
                                      OpenOptions options = {}) {
  absl::StatusOr<std::unique_ptr<Checkpoint>> cp = Checkpoint::Open(fs, dir.path(), options);
  EXPECT_TRUE(cp.ok()) << cp.status();
  return cp.ok() ? std::move(*cp) : nullptr;
}

absl::StatusOr<std::unique_ptr<Checkpoint>> OpenReadOnly(base::Filesystem& fs,
                                                         const std::string& dir) {
  return Checkpoint::Open(fs, dir, {.mode = OpenOptions::Mode::kReadOnly});
}

// A journal line as the writer formats it.
std::string RecordLine(const std::string& payload) {
  return fmt::format("{:08x} {}\n", Crc32Ieee(payload), payload);
}

TEST(Crc32Test, MatchesIeeeCheckValue) {
  // The standard check value of CRC-32/ISO-HDLC (zlib, Go's ChecksumIEEE).
  EXPECT_EQ(Crc32Ieee("123456789"), 0xCBF43926u);
  EXPECT_EQ(Crc32Ieee(""), 0u);
  EXPECT_EQ(Crc32Ieee("The quick brown fox jumps over the lazy dog"), 0x414FA339u);
}

TEST(CheckpointTest, FreshDirectoryIsEmptyAndPrivate) {
  TempDir tmp;
  base::RealFilesystem fs;
  const std::string dir = tmp.Sub("gpu.tessera.dev");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Checkpoint> cp, Checkpoint::Open(fs, dir));
  EXPECT_THAT(cp->claims(), IsEmpty());
  EXPECT_EQ(cp->boot_id(), "");
  EXPECT_EQ(cp->sequence(), 0u);
  struct stat st;
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_THAT(fs.ListDir(dir), IsOkAndHolds(ElementsAre("checkpoint.json", "checkpoint.log")));
  EXPECT_THAT(fs.ReadFile(dir + "/checkpoint.log"),
              IsOkAndHolds("tessera-checkpoint-journal v1\n"));
}

TEST(CheckpointTest, ReadOnlyOpenOfMissingDirectoryCreatesNothing) {
  TempDir tmp;
  base::RealFilesystem fs;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Checkpoint> cp, OpenReadOnly(fs, tmp.Sub("absent")));
  EXPECT_THAT(cp->claims(), IsEmpty());
  EXPECT_FALSE(fs.Exists(tmp.Sub("absent")));
  EXPECT_THAT(cp->AppendPrepared(Claim("a1")), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(cp->Compact(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(CheckpointTest, JournalRecordsSurviveReopen) {
  TempDir tmp;
  base::RealFilesystem fs;
  {
    std::unique_ptr<Checkpoint> cp = OpenOrDie(fs, tmp);
    ASSERT_OK(cp->SetBootId("boot-1"));
    ASSERT_OK(cp->AppendPrepareStarted(Claim("a1")));
    ASSERT_OK(cp->AppendPrepared(Claim("a1")));
    ASSERT_OK(cp->AppendPrepareStarted(Claim("b2")));
    ASSERT_OK(cp->AppendPrepared(Claim("c3")));
    ASSERT_OK(cp->AppendUnprepared("c3"));
    EXPECT_EQ(cp->journal_records(), 5u);
  }
  ClaimRecord started = Claim("b2");
  started.phase = Phase::kPrepareStarted;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Checkpoint> ro, OpenReadOnly(fs, tmp.path()));
  EXPECT_EQ(ro->claims(), Map({Claim("a1"), started}));
  EXPECT_EQ(ro->boot_id(), "boot-1");
  EXPECT_EQ(ro->sequence(), 5u);
  EXPECT_FALSE(ro->dropped_torn_record());
  // A read-write open folds the journal into the snapshot and keeps counting.
  std::unique_ptr<Checkpoint> rw = OpenOrDie(fs, tmp);
  EXPECT_EQ(rw->claims(), ro->claims());
  EXPECT_EQ(rw->journal_records(), 0u);
  ASSERT_OK(rw->AppendUnprepared("a1"));
  EXPECT_EQ(rw->sequence(), 6u);
  ASSERT_OK_AND_ASSIGN(ro, OpenReadOnly(fs, tmp.path()));
  EXPECT_EQ(ro->claims(), Map({started}));
}

// The v1 snapshot format is frozen: this file must stay readable by every
// later agent, and what we write must not drift without review.
TEST(CheckpointTest, SnapshotV1MatchesGoldenAndReadsBack) {
  TempDir tmp;
  base::RealFilesystem fs;
  ClaimRecord shared = Claim("5e0c7a4d-8b1f-4c2e-9d3a-6f7e8a9b0c1d", "gpu-1");
  shared.devices[0].share_id = "3a9e1c04-5b6d-4e7f-8a90-b1c2d3e4f5a6";
  shared.devices[0].request_names = {"gpu", "gpu-extra"};
  ClaimRecord recovered;
  recovered.uid = "9a8b7c6d-0000-4000-8000-000000000001";
  recovered.recovered = true;
  recovered.devices = {{.pool = "node-1",
                        .device = "9a8b7c6d-0000-4000-8000-000000000001-gpu-2",
                        .cdi_ids = {"k8s.gpu.tessera.dev/claim=9a8b7c6d-0000-4000-8000-"
                                    "000000000001-gpu-2"},
                        .state = nullptr,
                        .edits = {.env = {"A=1"}}}};
  {
    std::unique_ptr<Checkpoint> cp = OpenOrDie(fs, tmp);
    ASSERT_OK(cp->SetBootId("0f6e5d4c-3b2a-4190-8877-665544332211"));
    ASSERT_OK(cp->AppendPrepared(Claim("1b2c3d4e-5f60-4718-a9b0-c1d2e3f4a5b6")));
    ASSERT_OK(cp->AppendPrepared(shared));
    ASSERT_OK(cp->AppendPrepared(recovered));
    ASSERT_OK(cp->Compact());
  }
  ASSERT_OK_AND_ASSIGN(std::string text, fs.ReadFile(Snapshot(tmp)));
  EXPECT_GOLDEN(text, "checkpoint/checkpoint_v1.json");

  TempDir golden_dir;
  ASSERT_OK_AND_ASSIGN(std::string golden,
                       fs.ReadFile(tessera::testing::GoldenPath("checkpoint/checkpoint_v1.json")));
  ASSERT_OK(fs.WriteFileAtomic(Snapshot(golden_dir), golden, {}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Checkpoint> ro, OpenReadOnly(fs, golden_dir.path()));
  EXPECT_EQ(ro->boot_id(), "0f6e5d4c-3b2a-4190-8877-665544332211");
  EXPECT_EQ(ro->sequence(), 3u);
  EXPECT_EQ(ro->claims(), Map({Claim("1b2c3d4e-5f60-4718-a9b0-c1d2e3f4a5b6"), shared, recovered}));
}

TEST(CheckpointTest, TornFinalRecordIsDroppedAndCleanedUp) {
  TempDir tmp;
  base::RealFilesystem fs;
  {
    std::unique_ptr<Checkpoint> cp = OpenOrDie(fs, tmp);
    ASSERT_OK(cp->AppendPrepared(Claim("a1")));
    ASSERT_OK(cp->AppendPrepared(Claim("b2")));
  }
  ASSERT_OK_AND_ASSIGN(std::string journal, fs.ReadFile(Journal(tmp)));
  // Cut the last record in half, as a crash during its write would.
  const size_t last_start = journal.rfind('\n', journal.size() - 2) + 1;
  const std::string torn = journal.substr(0, last_start + (journal.size() - last_start) / 2);
  ASSERT_OK(fs.WriteFileAtomic(Journal(tmp), torn, {}));
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Checkpoint> ro, OpenReadOnly(fs, tmp.path()));
    EXPECT_TRUE(ro->dropped_torn_record());
    EXPECT_EQ(ro->claims(), Map({Claim("a1")}));
  }
  // A read-write open compacts: the torn bytes are gone and appends continue
  // with the sequence number the lost record had.
  std::unique_ptr<Checkpoint> rw = OpenOrDie(fs, tmp);
  EXPECT_TRUE(rw->dropped_torn_record());
  ASSERT_OK(rw->AppendPrepared(Claim("c3")));
  EXPECT_EQ(rw->sequence(), 2u);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Checkpoint> ro, OpenReadOnly(fs, tmp.path()));
  EXPECT_FALSE(ro->dropped_torn_record());
  EXPECT_EQ(ro->claims(), Map({Claim("a1"), Claim("c3")}));
}

TEST(CheckpointTest, ZeroFilledTailAfterCrashIsTorn) {
  TempDir tmp;
  base::RealFilesystem fs;
  {
    std::unique_ptr<Checkpoint> cp = OpenOrDie(fs, tmp);
    ASSERT_OK(cp->AppendPrepared(Claim("a1")));
  }
  ASSERT_OK_AND_ASSIGN(std::string journal, fs.ReadFile(Journal(tmp)));
  ASSERT_OK(fs.WriteFileAtomic(Journal(tmp), journal + std::string(4096, '\0'), {}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Checkpoint> ro, OpenReadOnly(fs, tmp.path()));
  EXPECT_TRUE(ro->dropped_torn_record());
  EXPECT_EQ(ro->claims(), Map({Claim("a1")}));
}

TEST(CheckpointTest, CorruptRecordBeforeValidOnesIsDataLoss) {
  TempDir tmp;
  base::RealFilesystem fs;
  {
    std::unique_ptr<Checkpoint> cp = OpenOrDie(fs, tmp);
    ASSERT_OK(cp->AppendPrepared(Claim("a1")));
    ASSERT_OK(cp->AppendPrepared(Claim("b2")));
  }
  ASSERT_OK_AND_ASSIGN(std::string journal, fs.ReadFile(Journal(tmp)));
  const size_t pos = journal.find("a1");  // inside the first record (line 2)
  journal[pos] = 'z';
  ASSERT_OK(fs.WriteFileAtomic(Journal(tmp), journal, {}));
  EXPECT_THAT(OpenReadOnly(fs, tmp.path()),
              StatusIs(absl::StatusCode::kDataLoss,
                       ::testing::AllOf(HasSubstr("line 2"), HasSubstr("checksum mismatch"))));
  EXPECT_THAT(Checkpoint::Open(fs, tmp.path()), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(CheckpointTest, BadSnapshotChecksumIsDataLoss) {
  TempDir tmp;
  base::RealFilesystem fs;
  {
    std::unique_ptr<Checkpoint> cp = OpenOrDie(fs, tmp);
    ASSERT_OK(cp->AppendPrepared(Claim("a1")));
    ASSERT_OK(cp->Compact());
  }
  ASSERT_OK_AND_ASSIGN(std::string text, fs.ReadFile(Snapshot(tmp)));
  const size_t pos = text.find("team-a");
  text.replace(pos, 6, "team-b");
  ASSERT_OK(fs.WriteFileAtomic(Snapshot(tmp), text, {}));
  EXPECT_THAT(OpenReadOnly(fs, tmp.path()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("checksum mismatch")));
  ASSERT_OK(fs.WriteFileAtomic(Snapshot(tmp), "{\"apiVersion\": ", {}));
  EXPECT_THAT(OpenReadOnly(fs, tmp.path()), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(CheckpointTest, NewerVersionsAreRefusedNotDiscarded) {
  TempDir tmp;
  base::RealFilesystem fs;
  ASSERT_OK(fs.WriteFileAtomic(
      Snapshot(tmp),
      R"({"apiVersion":"checkpoint.tessera.dev/v2","kind":"DeviceStateCheckpoint","data":"{}","checksum":0})",
      {}));
  EXPECT_THAT(OpenReadOnly(fs, tmp.path()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("v2")));
  ASSERT_OK(fs.RemoveFile(Snapshot(tmp), false));
  ASSERT_OK(fs.WriteFileAtomic(Journal(tmp), "tessera-checkpoint-journal v2\n", {}));
  EXPECT_THAT(OpenReadOnly(fs, tmp.path()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("journal version")));
}

TEST(CheckpointTest, SequenceGapIsDataLoss) {
  TempDir tmp;
  base::RealFilesystem fs;
  const std::string r1 = R"({"op":"Unprepared","seq":1,"uid":"a1"})";
  const std::string r3 = R"({"op":"Unprepared","seq":3,"uid":"a1"})";
  ASSERT_OK(fs.WriteFileAtomic(
      Journal(tmp), "tessera-checkpoint-journal v1\n" + RecordLine(r1) + RecordLine(r3), {}));
  EXPECT_THAT(OpenReadOnly(fs, tmp.path()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("sequence gap")));
}

// Compact = (1) new snapshot, (2) empty journal. A crash between the two
// leaves a new snapshot next to the old journal; replay must skip the
// records the snapshot already holds.
TEST(CheckpointTest, CrashBetweenSnapshotAndJournalResetReplaysNothingTwice) {
  TempDir tmp;
  base::RealFilesystem real;
  FaultyFilesystem fs(real);
  {
    std::unique_ptr<Checkpoint> cp = OpenOrDie(fs, tmp);
    ASSERT_OK(cp->AppendPrepared(Claim("a1")));
    ASSERT_OK(cp->AppendPrepared(Claim("b2")));
    ASSERT_OK(cp->AppendUnprepared("a1"));
    const std::string journal = Journal(tmp);
    fs.set_injector([journal](std::string_view op, const std::string& path) {
      return op == "write" && path == journal ? absl::UnavailableError("crash") : absl::OkStatus();
    });
    EXPECT_THAT(cp->Compact(), StatusIs(absl::StatusCode::kUnavailable));
  }  // the process "dies" here
  fs.set_injector(nullptr);
  // The old journal, with records 1..3, is still there beside snapshot seq 3.
  ASSERT_OK_AND_ASSIGN(std::string journal, fs.ReadFile(Journal(tmp)));
  EXPECT_NE(journal.find("\"seq\":3"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Checkpoint> ro, OpenReadOnly(fs, tmp.path()));
  EXPECT_EQ(ro->sequence(), 3u);
  EXPECT_EQ(ro->claims(), Map({Claim("b2")}));
  std::unique_ptr<Checkpoint> rw = OpenOrDie(fs, tmp);
  ASSERT_OK(rw->AppendPrepared(Claim("c3")));
  EXPECT_EQ(rw->sequence(), 4u);
  ASSERT_OK_AND_ASSIGN(ro, OpenReadOnly(fs, tmp.path()));
  EXPECT_EQ(ro->claims(), Map({Claim("b2"), Claim("c3")}));
}

TEST(CheckpointTest, CrashBeforeSnapshotRenameKeepsJournalState) {
  TempDir tmp;
  base::RealFilesystem real;
  FaultyFilesystem fs(real);
  {
    std::unique_ptr<Checkpoint> cp = OpenOrDie(fs, tmp);
    ASSERT_OK(cp->AppendPrepared(Claim("a1")));
    ASSERT_OK(cp->AppendPrepareStarted(Claim("b2")));
    fs.set_injector([](std::string_view op, const std::string&) {
      return op == "write" ? absl::UnavailableError("crash") : absl::OkStatus();
    });
    EXPECT_THAT(cp->Compact(), StatusIs(absl::StatusCode::kUnavailable));
    // The journal handle is still good: appends keep working after a failed
    // compaction.
    fs.set_injector(nullptr);
    ASSERT_OK(cp->AppendPrepared(Claim("b2")));
  }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Checkpoint> ro, OpenReadOnly(fs, tmp.path()));
  EXPECT_EQ(ro->claims(), Map({Claim("a1"), Claim("b2")}));
}

TEST(CheckpointTest, FailedAppendLeavesNoGarbageBehind) {
  TempDir tmp;
  base::RealFilesystem real;
  FaultyFilesystem fs(real);
  std::unique_ptr<Checkpoint> cp = OpenOrDie(fs, tmp);
  ASSERT_OK(cp->AppendPrepared(Claim("a1")));
  // The disk fills up part-way through the next record, and stays full
  // while the checkpoint tries to reset its journal.
  fs.set_partial_append_bytes(25);
  fs.set_injector([](std::string_view op, const std::string&) {
    return op == "append" || op == "write" ? absl::ResourceExhaustedError("no space left")
                                           : absl::OkStatus();
  });
  EXPECT_THAT(cp->AppendPrepared(Claim("b2")), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(cp->claims(), Map({Claim("a1")}));
  EXPECT_EQ(cp->sequence(), 1u);
  // Another failure while full changes nothing either.
  EXPECT_THAT(cp->AppendUnprepared("a1"), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(cp->claims(), Map({Claim("a1")}));
  {
    // A crash now: the partial record is a torn tail.
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Checkpoint> ro, OpenReadOnly(fs, tmp.path()));
    EXPECT_EQ(ro->claims(), Map({Claim("a1")}));
  }
  // Space comes back: the next append first replaces the damaged journal,
  // so its record does not land behind the partial one.
  fs.set_injector(nullptr);
  ASSERT_OK(cp->AppendPrepared(Claim("c3")));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Checkpoint> ro, OpenReadOnly(fs, tmp.path()));
  EXPECT_FALSE(ro->dropped_torn_record());
  EXPECT_EQ(ro->claims(), Map({Claim("a1"), Claim("c3")}));
}

TEST(CheckpointTest, FailedSyncIsNeverAcknowledged) {
  TempDir tmp;
  base::RealFilesystem real;
  FaultyFilesystem fs(real);
  std::unique_ptr<Checkpoint> cp = OpenOrDie(fs, tmp);
  fs.set_injector([](std::string_view op, const std::string&) {
    return op == "sync" ? absl::DataLossError("fdatasync: input/output error") : absl::OkStatus();
  });
  EXPECT_THAT(cp->AppendPrepared(Claim("a1")), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(cp->claims(), IsEmpty());
  // The complete but unsynced record was replaced by a snapshot without it.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Checkpoint> ro, OpenReadOnly(fs, tmp.path()));
  EXPECT_THAT(ro->claims(), IsEmpty());
}

TEST(CheckpointTest, FsyncBudgetPerRecord) {
  TempDir tmp;
  base::RealFilesystem fs;
  std::unique_ptr<Checkpoint> cp = OpenOrDie(fs, tmp);
  uint64_t before = fs.fsync_count();
  ASSERT_OK(cp->AppendPrepareStarted(Claim("a1")));
  EXPECT_EQ(fs.fsync_count() - before, 0u);
  ASSERT_OK(cp->AppendPrepared(Claim("a1")));
  EXPECT_EQ(fs.fsync_count() - before, 1u);
  ASSERT_OK(cp->AppendUnprepared("a1"));
  EXPECT_EQ(fs.fsync_count() - before, 2u);
  ASSERT_OK(cp->AppendUnprepared("unknown"));
  EXPECT_EQ(fs.fsync_count() - before, 2u);
  // Compaction: file + directory for the snapshot and for the journal.
  before = fs.fsync_count();
  ASSERT_OK(cp->Compact());
  EXPECT_EQ(fs.fsync_count() - before, 4u);
}

TEST(CheckpointTest, CompactsAfterConfiguredRecords) {
  TempDir tmp;
  base::RealFilesystem fs;
  std::unique_ptr<Checkpoint> cp = OpenOrDie(fs, tmp, {.compact_after_records = 3});
  ASSERT_OK(cp->AppendPrepared(Claim("a1")));
  ASSERT_OK(cp->AppendPrepared(Claim("b2")));
  EXPECT_EQ(cp->journal_records(), 2u);
  ASSERT_OK(cp->AppendPrepared(Claim("c3")));
  EXPECT_EQ(cp->journal_records(), 0u);
  EXPECT_THAT(fs.ReadFile(Journal(tmp)), IsOkAndHolds("tessera-checkpoint-journal v1\n"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Checkpoint> ro, OpenReadOnly(fs, tmp.path()));
  EXPECT_EQ(ro->claims(), Map({Claim("a1"), Claim("b2"), Claim("c3")}));
  EXPECT_EQ(ro->sequence(), 3u);
}

TEST(CheckpointTest, RefusesRecordsThatWouldNotReadBack) {
  TempDir tmp;
  base::RealFilesystem fs;
  std::unique_ptr<Checkpoint> cp = OpenOrDie(fs, tmp);
  ClaimRecord bad = Claim("a1");
  bad.devices[0].edits.env = {"NOT-AN-ASSIGNMENT"};
  EXPECT_THAT(cp->AppendPrepared(bad), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(cp->AppendPrepared(Claim("")), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(cp->sequence(), 0u);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Checkpoint> ro, OpenReadOnly(fs, tmp.path()));
  EXPECT_THAT(ro->claims(), IsEmpty());
}

TEST(CheckpointTest, BootIdIsDurableAndFailedUpdateKeepsTheOldOne) {
  TempDir tmp;
  base::RealFilesystem real;
  FaultyFilesystem fs(real);
  std::unique_ptr<Checkpoint> cp = OpenOrDie(fs, tmp);
  ASSERT_OK(cp->SetBootId("boot-1"));
  fs.set_injector([](std::string_view op, const std::string&) {
    return op == "write" ? absl::PermissionDeniedError("read-only file system") : absl::OkStatus();
  });
  EXPECT_THAT(cp->SetBootId("boot-2"), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(cp->boot_id(), "boot-1");
  fs.set_injector(nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Checkpoint> ro, OpenReadOnly(fs, tmp.path()));
  EXPECT_EQ(ro->boot_id(), "boot-1");
}

TEST(CheckpointTest, ReadOnlyStateDirFailsOpenCleanly) {
  TempDir tmp;
  base::RealFilesystem real;
  FaultyFilesystem fs(real);
  {
    std::unique_ptr<Checkpoint> cp = OpenOrDie(fs, tmp);
    ASSERT_OK(cp->AppendPrepared(Claim("a1")));
  }
  fs.set_injector([](std::string_view op, const std::string&) {
    return op == "write" || op == "open_append" || op == "remove"
               ? absl::PermissionDeniedError("read-only file system")
               : absl::OkStatus();
  });
  EXPECT_THAT(Checkpoint::Open(fs, tmp.path()), StatusIs(absl::StatusCode::kPermissionDenied));
  fs.set_injector(nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Checkpoint> ro, OpenReadOnly(fs, tmp.path()));
  EXPECT_EQ(ro->claims(), Map({Claim("a1")}));
}

TEST(CheckpointTest, QuarantineMovesDamagedFilesAside) {
  TempDir tmp;
  base::RealFilesystem fs;
  {
    std::unique_ptr<Checkpoint> cp = OpenOrDie(fs, tmp);
    ASSERT_OK(cp->AppendPrepared(Claim("a1")));
  }
  ASSERT_OK(fs.WriteFileAtomic(Snapshot(tmp), "garbage", {}));
  ASSERT_THAT(Checkpoint::Open(fs, tmp.path()), StatusIs(absl::StatusCode::kDataLoss));
  ASSERT_OK(Checkpoint::Quarantine(fs, tmp.path(), "1780000000"));
  EXPECT_THAT(fs.ReadFile(Snapshot(tmp) + ".corrupt-1780000000"), IsOkAndHolds("garbage"));
  EXPECT_TRUE(fs.Exists(Journal(tmp) + ".corrupt-1780000000"));
  std::unique_ptr<Checkpoint> cp = OpenOrDie(fs, tmp);
  EXPECT_THAT(cp->claims(), IsEmpty());
}

// Damaged journals of every shape: Open never crashes and either succeeds
// with a prefix of the records or reports DataLoss.
TEST(CheckpointTest, SurvivesMutatedJournals) {
  TempDir tmp;
  base::RealFilesystem fs;
  {
    std::unique_ptr<Checkpoint> cp = OpenOrDie(fs, tmp);
    for (int i = 0; i < 6; ++i) ASSERT_OK(cp->AppendPrepared(Claim("c" + std::to_string(i))));
  }
  ASSERT_OK_AND_ASSIGN(const std::string journal, fs.ReadFile(Journal(tmp)));
  std::mt19937 rng(7);
  for (int i = 0; i < 400; ++i) {
    std::string text = journal;
    if (i % 2 == 0) {
      text.resize(rng() % text.size());
    } else {
      for (int k = 0; k < 2; ++k) text[rng() % text.size()] = static_cast<char>(rng());
    }
    ASSERT_OK(fs.WriteFileAtomic(Journal(tmp), text, {.durable = false}));
    absl::StatusOr<std::unique_ptr<Checkpoint>> cp = OpenReadOnly(fs, tmp.path());
    if (cp.ok()) {
      for (const auto& [uid, claim] : (*cp)->claims()) EXPECT_EQ(claim, Claim(uid));
    } else {
      EXPECT_THAT(cp.status().code(), ::testing::AnyOf(absl::StatusCode::kDataLoss,
                                                       absl::StatusCode::kFailedPrecondition))
          << cp.status();
    }
  }
}

}  // namespace
}  // namespace tessera::kubelet::checkpoint
