#include "drivers/gpu/ledger.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "test/fakes/base/faulty_filesystem.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera::drivers::gpu {
namespace {

using ::tessera::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

LedgerEntry Mig(std::string user) {
  return {.user = std::move(user),
          .kind = LedgerEntry::Kind::kMig,
          .gpu = {.key = "GPU-a", .smi_id = "GPU-a", .cuda_id = "GPU-a"},
          .pci_bus_id = "0000:be:00.0",
          .profile_id = 9,
          .placement = {4, 4},
          .gpu_instance = 2,
          .compute_instance = 0};
}
LedgerEntry Slice(std::string user) {
  return {.user = std::move(user),
          .kind = LedgerEntry::Kind::kTimeSlice,
          .gpu = {.key = "0000:1a:00.0", .smi_id = "0000:1a:00.0", .cuda_id = "0"},
          .pci_bus_id = "0000:1a:00.0",
          .interval = TimeSliceInterval::kLong};
}

class LedgerTest : public ::testing::Test {
 protected:
  std::string Path() const { return dir_.Sub("gpu/host-state.json"); }
  tessera::testing::TempDir dir_;
  base::RealFilesystem real_;
};

TEST_F(LedgerTest, AMissingFileIsAnEmptyLedger) {
  absl::StatusOr<std::unique_ptr<HostLedger>> l = HostLedger::Open(real_, Path());
  ASSERT_OK(l);
  EXPECT_THAT((*l)->entries(), IsEmpty());
}

TEST_F(LedgerTest, EntriesSurviveReopening) {
  {
    std::unique_ptr<HostLedger> l = *HostLedger::Open(real_, Path());
    ASSERT_OK(l->Put(Mig("c1/gpu-a")));
    ASSERT_OK(l->Put(Slice("c2/gpu-b")));
    LedgerEntry intent = Mig("c3/gpu-c");
    intent.gpu_instance.reset();
    intent.compute_instance.reset();
    ASSERT_OK(l->Put(intent));
  }
  std::unique_ptr<HostLedger> again = *HostLedger::Open(real_, Path());
  LedgerEntry intent = Mig("c3/gpu-c");
  intent.gpu_instance.reset();
  intent.compute_instance.reset();
  EXPECT_THAT(again->entries(), ElementsAre(Mig("c1/gpu-a"), Slice("c2/gpu-b"), intent));
  ASSERT_OK(again->Remove("c1/gpu-a", LedgerEntry::Kind::kMig));
  ASSERT_OK(again->Remove("c1/gpu-a", LedgerEntry::Kind::kMig));  // nothing left: fine
  EXPECT_THAT((*HostLedger::Open(real_, Path()))->EntriesOf("c1/gpu-a"), IsEmpty());
}

TEST_F(LedgerTest, PutReplacesTheEntryOfTheSameUserAndKind) {
  std::unique_ptr<HostLedger> l = *HostLedger::Open(real_, Path());
  LedgerEntry e = Mig("c1/gpu-a");
  e.gpu_instance.reset();
  ASSERT_OK(l->Put(e));
  ASSERT_OK(l->Put(Mig("c1/gpu-a")));
  EXPECT_THAT(l->entries(), ElementsAre(Mig("c1/gpu-a")));
}

TEST_F(LedgerTest, ADamagedFileIsDataLoss) {
  std::filesystem::create_directories(dir_.Sub("gpu"));
  std::ofstream(Path()) << R"({"apiVersion":"gpu.tessera.dev/v1","kind":"GpuHostState",)"
                        << R"("entries":[{"user":"x","kind":"Teleport"}]})";
  EXPECT_THAT(HostLedger::Open(real_, Path()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("entries[0].kind")));
  std::ofstream(Path()) << "[1,2";
  EXPECT_THAT(HostLedger::Open(real_, Path()), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(LedgerTest, AFailedWriteLeavesTheLedgerAsItWas) {
  tessera::testing::FaultyFilesystem faulty(real_);
  std::unique_ptr<HostLedger> l = *HostLedger::Open(faulty, Path());
  ASSERT_OK(l->Put(Mig("c1/gpu-a")));
  faulty.set_injector([](std::string_view op, const std::string&) {
    return op == "write" ? absl::ResourceExhaustedError("no space left on device")
                         : absl::OkStatus();
  });
  EXPECT_THAT(l->Put(Slice("c2/gpu-b")), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(l->Remove("c1/gpu-a", LedgerEntry::Kind::kMig),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(l->entries(), ElementsAre(Mig("c1/gpu-a")));
  faulty.set_injector(nullptr);
  EXPECT_THAT((*HostLedger::Open(real_, Path()))->entries(), ElementsAre(Mig("c1/gpu-a")));
}

}  // namespace
}  // namespace tessera::drivers::gpu
