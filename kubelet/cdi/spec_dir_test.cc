#include "kubelet/cdi/spec_dir.h"

#include <sys/stat.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "test/fakes/base/faulty_filesystem.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera::kubelet::cdi {
namespace {

using ::tessera::testing::IsOk;
using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

Spec OneDevice(std::string env) {
  Spec spec;
  spec.kind = "k8s.gpu.tessera.dev/claim";
  spec.devices = {{.name = "uid-gpu-0", .edits = {.env = {std::move(env)}}}};
  return spec;
}

TEST(SpecDirTest, WritesReadableSpecWithoutSyncing) {
  tessera::testing::TempDir tmp;
  base::RealFilesystem fs;
  SpecDir dir(fs, tmp.path());
  ASSERT_OK(dir.Write("k8s.gpu.tessera.dev-claim_uid.json", OneDevice("A=1")));
  // Not durable: the checkpoint is the durable record.
  EXPECT_EQ(fs.fsync_count(), 0u);
  struct stat st;
  ASSERT_EQ(::stat(dir.PathOf("k8s.gpu.tessera.dev-claim_uid.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  EXPECT_THAT(dir.Read("k8s.gpu.tessera.dev-claim_uid.json"), IsOkAndHolds(OneDevice("A=1")));
  // Replaced in place; no temp files remain.
  ASSERT_OK(dir.Write("k8s.gpu.tessera.dev-claim_uid.json", OneDevice("A=2")));
  EXPECT_THAT(dir.Read("k8s.gpu.tessera.dev-claim_uid.json"), IsOkAndHolds(OneDevice("A=2")));
  EXPECT_THAT(dir.List(), IsOkAndHolds(ElementsAre("k8s.gpu.tessera.dev-claim_uid.json")));
}

TEST(SpecDirTest, RefusesInvalidSpecsAndNamesWithoutWriting) {
  tessera::testing::TempDir tmp;
  base::RealFilesystem fs;
  SpecDir dir(fs, tmp.path());
  EXPECT_THAT(dir.Write("a.json", OneDevice("NOEQUALS")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(dir.Write("../a.json", OneDevice("A=1")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(dir.Write(".hidden.json", OneDevice("A=1")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(dir.List(), IsOkAndHolds(IsEmpty()));
}

TEST(SpecDirTest, FailedWriteKeepsThePreviousSpec) {
  tessera::testing::TempDir tmp;
  base::RealFilesystem real;
  tessera::testing::FaultyFilesystem fs(real);
  SpecDir dir(fs, tmp.path());
  ASSERT_OK(dir.Write("s.json", OneDevice("A=1")));
  fs.set_injector([](std::string_view op, const std::string&) {
    return op == "write" ? absl::ResourceExhaustedError("no space left on device")
                         : absl::OkStatus();
  });
  EXPECT_THAT(dir.Write("s.json", OneDevice("A=2")),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(dir.Read("s.json"), IsOkAndHolds(OneDevice("A=1")));
}

TEST(SpecDirTest, RemoveIsIdempotentAndReadReportsProblems) {
  tessera::testing::TempDir tmp;
  base::RealFilesystem fs;
  SpecDir dir(fs, tmp.path());
  ASSERT_OK(dir.Write("s.json", OneDevice("A=1")));
  EXPECT_THAT(dir.Remove("s.json"), IsOk());
  EXPECT_THAT(dir.Remove("s.json"), IsOk());
  EXPECT_THAT(dir.Read("s.json"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK(fs.WriteFileAtomic(dir.PathOf("bad.json"), "{\"cdiVersion\":\"0.5.0\"}", {}));
  EXPECT_THAT(dir.Read("bad.json"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SpecDirTest, MissingDirectoryListsEmpty) {
  tessera::testing::TempDir tmp;
  base::RealFilesystem fs;
  SpecDir dir(fs, tmp.Sub("absent"));
  EXPECT_THAT(dir.List(), IsOkAndHolds(IsEmpty()));
}

}  // namespace
}  // namespace tessera::kubelet::cdi
