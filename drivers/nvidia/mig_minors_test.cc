#include "drivers/nvidia/mig_minors.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "base/filesystem.h"
#include "drivers/nvidia/testing/fake_nvml_env.h"
#include "test/fakes/base/faulty_filesystem.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera::drivers::nvidia {
namespace {

using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ParseMigMinorsTest, ReadsEveryKindOfLine) {
  ASSERT_OK_AND_ASSIGN(MigMinors m, ParseMigMinors("config 1\n"
                                                   "monitor 2\n"
                                                   "gpu0/gi0/access 3\n"
                                                   "gpu0/gi0/ci0/access 4\n"
                                                   "\n"
                                                   "gpu3/gi14/access 4000\n"
                                                   "gpu3/gi14/ci7/access 4008\n"
                                                   "fabric-imex-mgmt 9\n"));
  EXPECT_EQ(m.config(), 1u);
  EXPECT_EQ(m.monitor(), 2u);
  EXPECT_EQ(m.GpuInstance(0, 0), 3u);
  EXPECT_EQ(m.ComputeInstance(0, 0, 0), 4u);
  EXPECT_EQ(m.GpuInstance(3, 14), 4000u);
  EXPECT_EQ(m.ComputeInstance(3, 14, 7), 4008u);
  // Keyed by GPU minor, GPU instance and compute instance: no cross-talk.
  EXPECT_EQ(m.GpuInstance(0, 14), std::nullopt);
  EXPECT_EQ(m.ComputeInstance(3, 14, 0), std::nullopt);
  EXPECT_EQ(m.size(), 6u);
}

TEST(ParseMigMinorsTest, EmptyFileHasNothing) {
  ASSERT_OK_AND_ASSIGN(MigMinors m, ParseMigMinors(""));
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.config(), std::nullopt);
}

TEST(ParseMigMinorsTest, RejectsMalformedLinesNamingThem) {
  struct Case {
    std::string_view text;
    std::string_view why;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"config\n", "line 1"},
           {"config 1\ngpu0/gi0/access x\n", "line 2"},
           {"gpu0/gi0/access -3\n", "decimal"},
           {"gpu0/gi/access 3\n", "gpu<N>/gi<N>"},
           {"gpu0/gi0/ci0 3\n", "gpu<N>/gi<N>"},
           {"gpu0/gi0/ci0/access/x 3\n", "gpu<N>/gi<N>"},
           {"gpu0/gi0/access 3\ngpu0/gi0/access 5\n", "twice"},
           {"gpu0/gi0/access 99999999\n", "2^20"},
       }) {
    EXPECT_THAT(ParseMigMinors(c.text),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(std::string(c.why))))
        << c.text;
  }
}

TEST(ReadMigMinorsTest, ReadsTheRealLayoutFixture) {
  base::RealFilesystem fs;
  ASSERT_OK_AND_ASSIGN(MigMinors m, ReadMigMinors(fs, testing::NvmlFixture("mig-minors-8gpu")));
  // 2 + 8 GPUs x 15 GPU instances x (1 + 8 compute instances), as R580 lays it out.
  EXPECT_EQ(m.size(), 1082u);
  EXPECT_EQ(m.GpuInstance(1, 0), 138u);
  EXPECT_EQ(m.ComputeInstance(7, 14, 7), 1082u);
}

TEST(ReadMigMinorsTest, AbsentFileIsNotFoundAndReadErrorsKeepTheirCode) {
  base::RealFilesystem fs;
  ::tessera::testing::TempDir dir;
  EXPECT_THAT(ReadMigMinors(fs, dir.Sub("absent")), StatusIs(absl::StatusCode::kNotFound));
  ::tessera::testing::FaultyFilesystem faulty(fs);
  faulty.set_injector([](std::string_view, const std::string&) {
    return absl::PermissionDeniedError("open: permission denied");
  });
  EXPECT_THAT(ReadMigMinors(faulty, testing::NvmlFixture("mig-minors-8gpu")),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("read mig minors")));
}

}  // namespace
}  // namespace tessera::drivers::nvidia
