#include <sys/stat.h>

#include <filesystem>
#include <memory>

#include "base/filesystem.h"
#include "gtest/gtest.h"
#include "test/fakes/base/faulty_filesystem.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera::base {
namespace {

using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;
using ::testing::ElementsAre;

TEST(RealFilesystemTest, AtomicWriteReplacesAndSyncsTwice) {
  tessera::testing::TempDir dir;
  RealFilesystem fs;
  const std::string path = dir.Sub("state.json");
  ASSERT_OK(fs.WriteFileAtomic(path, "one", {}));
  ASSERT_OK(fs.WriteFileAtomic(path, "two", {.mode = 0600}));
  EXPECT_THAT(fs.ReadFile(path), IsOkAndHolds("two"));
  // One fsync of the file and one of the directory per durable write.
  EXPECT_EQ(fs.fsync_count(), 4u);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // No temp files left behind.
  EXPECT_THAT(fs.ListDir(dir.path()), IsOkAndHolds(ElementsAre("state.json")));
}

TEST(RealFilesystemTest, NonDurableWriteDoesNotSync) {
  tessera::testing::TempDir dir;
  RealFilesystem fs;
  ASSERT_OK(fs.WriteFileAtomic(dir.Sub("cache"), "x", {.durable = false}));
  EXPECT_EQ(fs.fsync_count(), 0u);
}

TEST(RealFilesystemTest, FailedWriteKeepsOldContents) {
  tessera::testing::TempDir dir;
  RealFilesystem fs;
  EXPECT_THAT(fs.WriteFileAtomic(dir.Sub("missing-dir/file"), "x", {}),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(RealFilesystemTest, RemoveMissingIsNotFound) {
  tessera::testing::TempDir dir;
  RealFilesystem fs;
  EXPECT_THAT(fs.RemoveFile(dir.Sub("nope"), true), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(fs.ReadFile(dir.Sub("nope")), StatusIs(absl::StatusCode::kNotFound));
}

TEST(RealFilesystemTest, ReadRefusesOversizedFiles) {
  tessera::testing::TempDir dir;
  RealFilesystem fs;
  ASSERT_OK(fs.WriteFileAtomic(dir.Sub("big"), std::string(100, 'x'), {.durable = false}));
  EXPECT_THAT(fs.ReadFile(dir.Sub("big"), 10), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST(RealFilesystemTest, CreatesNestedDirectoriesIdempotently) {
  tessera::testing::TempDir dir;
  RealFilesystem fs;
  const std::string nested = dir.Sub("a/b/c");
  ASSERT_OK(fs.CreateDirectories(nested, 0700));
  ASSERT_OK(fs.CreateDirectories(nested, 0700));
  EXPECT_TRUE(std::filesystem::is_directory(nested));
  ASSERT_OK(fs.WriteFileAtomic(dir.Sub("a/file"), "x", {}));
  EXPECT_THAT(fs.CreateDirectories(dir.Sub("a/file"), 0700),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(RealFilesystemTest, FaultyFilesystemInjectsDiskFull) {
  tessera::testing::TempDir dir;
  RealFilesystem real;
  tessera::testing::FaultyFilesystem fs(real);
  fs.set_injector([](std::string_view op, const std::string&) {
    return op == "write" ? absl::ResourceExhaustedError("no space left on device")
                         : absl::OkStatus();
  });
  EXPECT_THAT(fs.WriteFileAtomic(dir.Sub("x"), "data", {}),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_FALSE(fs.Exists(dir.Sub("x")));
}

TEST(RealFilesystemTest, AppendFileAppendsAndCountsDataSyncs) {
  tessera::testing::TempDir dir;
  RealFilesystem fs;
  const std::string path = dir.Sub("journal");
  ASSERT_OK(fs.WriteFileAtomic(path, "head\n", {.mode = 0600, .durable = false}));
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<AppendFile> file, fs.OpenAppend(path, 0600));
    ASSERT_OK(file->Append("one\n"));
    ASSERT_OK(file->Append("two\n"));
    EXPECT_EQ(fs.fsync_count(), 0u);
    ASSERT_OK(file->Sync());
    EXPECT_EQ(fs.fsync_count(), 1u);
  }
  EXPECT_THAT(fs.ReadFile(path), IsOkAndHolds("head\none\ntwo\n"));
  // Reopening appends after the existing data; a missing file is created.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<AppendFile> again, fs.OpenAppend(path, 0600));
  ASSERT_OK(again->Append("three\n"));
  EXPECT_THAT(fs.ReadFile(path), IsOkAndHolds("head\none\ntwo\nthree\n"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<AppendFile> fresh, fs.OpenAppend(dir.Sub("new"), 0600));
  EXPECT_THAT(fs.ReadFile(dir.Sub("new")), IsOkAndHolds(""));
}

TEST(RealFilesystemTest, OpenAppendInMissingDirectoryIsNotFound) {
  tessera::testing::TempDir dir;
  RealFilesystem fs;
  EXPECT_THAT(fs.OpenAppend(dir.Sub("missing/journal"), 0600),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(FaultyFilesystemTest, FailedAppendCanLeaveAPartialWrite) {
  tessera::testing::TempDir dir;
  RealFilesystem real;
  tessera::testing::FaultyFilesystem fs(real);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<AppendFile> file, fs.OpenAppend(dir.Sub("j"), 0600));
  fs.set_partial_append_bytes(3);
  fs.set_injector([](std::string_view op, const std::string&) {
    return op == "append" ? absl::ResourceExhaustedError("no space left on device")
                          : absl::OkStatus();
  });
  EXPECT_THAT(file->Append("abcdef"), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(fs.ReadFile(dir.Sub("j")), IsOkAndHolds("abc"));
  fs.set_injector([](std::string_view op, const std::string&) {
    return op == "sync" ? absl::DataLossError("io error") : absl::OkStatus();
  });
  EXPECT_THAT(file->Sync(), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(PathTest, DirNameAndBaseName) {
  EXPECT_EQ(DirName("/a/b/c"), "/a/b");
  EXPECT_EQ(DirName("/c"), "/");
  EXPECT_EQ(DirName("c"), ".");
  EXPECT_EQ(BaseName("/a/b/c.json"), "c.json");
}

}  // namespace
}  // namespace tessera::base
