// libFuzzer harness for checkpoint replay (built with -DTESSERA_FUZZ=ON and
// clang): the input is the journal file. Invariants: Open never crashes and
// fails only with DataLoss or FailedPrecondition; what it accepts survives a
// compaction unchanged.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/filesystem.h"
#include "kubelet/checkpoint/checkpoint.h"
#include "test/fakes/base/temp_dir.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace cp = tessera::kubelet::checkpoint;
  static tessera::testing::TempDir* dir = new tessera::testing::TempDir();
  static tessera::base::RealFilesystem* fs = new tessera::base::RealFilesystem();
  const std::string journal = dir->Sub(std::string(cp::kJournalFile));
  const std::string snapshot = dir->Sub(std::string(cp::kSnapshotFile));
  (void)fs->RemoveFile(snapshot, false);
  if (!fs->WriteFileAtomic(journal, std::string_view(reinterpret_cast<const char*>(data), size),
                           {.durable = false})
           .ok()) {
    std::abort();
  }
  absl::StatusOr<std::unique_ptr<cp::Checkpoint>> read =
      cp::Checkpoint::Open(*fs, dir->path(), {.mode = cp::OpenOptions::Mode::kReadOnly});
  if (!read.ok()) {
    if (read.status().code() != absl::StatusCode::kDataLoss &&
        read.status().code() != absl::StatusCode::kFailedPrecondition) {
      std::abort();
    }
    return 0;
  }
  // A read-write open compacts; reading that back must give the same state.
  absl::StatusOr<std::unique_ptr<cp::Checkpoint>> rw = cp::Checkpoint::Open(*fs, dir->path());
  if (!rw.ok() || (*rw)->claims() != (*read)->claims()) std::abort();
  absl::StatusOr<std::unique_ptr<cp::Checkpoint>> back =
      cp::Checkpoint::Open(*fs, dir->path(), {.mode = cp::OpenOptions::Mode::kReadOnly});
  if (!back.ok() || (*back)->claims() != (*read)->claims() ||
      (*back)->sequence() != (*read)->sequence()) {
    std::abort();
  }
  return 0;
}
