#include "agent/kube/token_source.h"

#include "base/filesystem.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/fakes/base/fake_clock.h"
#include "test/fakes/base/faulty_filesystem.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera::agent::kube {
namespace {

using tessera::testing::IsOkAndHolds;

class TokenSourceTest : public ::testing::Test {
 protected:
  void WriteToken(const std::string& t) {
    ASSERT_OK(fs_.WriteFileAtomic(path_, t, {.durable = false}));
  }
  testing::TempDir dir_;
  base::RealFilesystem fs_;
  testing::FakeClock clock_;
  std::string path_ = dir_.Sub("token");
};

TEST_F(TokenSourceTest, FixedToken) {
  TokenSource tokens("fixed", "", fs_, clock_, std::chrono::seconds(60));
  EXPECT_THAT(tokens.Token(), IsOkAndHolds(std::string("fixed")));
  EXPECT_FALSE(tokens.from_file());
}

TEST_F(TokenSourceTest, RereadsARotatedFileAfterTheRefreshPeriod) {
  WriteToken("first\n");
  TokenSource tokens("", path_, fs_, clock_, std::chrono::seconds(60));
  EXPECT_THAT(tokens.Token(), IsOkAndHolds(std::string("first")));
  WriteToken("second");  // the kubelet rotated it
  clock_.Advance(std::chrono::seconds(30));
  EXPECT_THAT(tokens.Token(), IsOkAndHolds(std::string("first")));
  clock_.Advance(std::chrono::seconds(31));
  EXPECT_THAT(tokens.Token(), IsOkAndHolds(std::string("second")));
}

TEST_F(TokenSourceTest, InvalidateRereadsAtOnce) {
  WriteToken("first");
  TokenSource tokens("", path_, fs_, clock_, std::chrono::seconds(60));
  EXPECT_THAT(tokens.Token(), IsOkAndHolds(std::string("first")));
  WriteToken("second");
  tokens.Invalidate();  // a 401
  EXPECT_THAT(tokens.Token(), IsOkAndHolds(std::string("second")));
}

TEST_F(TokenSourceTest, FailedRereadKeepsTheLastToken) {
  WriteToken("first");
  testing::FaultyFilesystem faulty(fs_);
  TokenSource tokens("", path_, faulty, clock_, std::chrono::seconds(60));
  EXPECT_THAT(tokens.Token(), IsOkAndHolds(std::string("first")));
  faulty.set_injector([](std::string_view, const std::string&) { return absl::UnavailableError("EIO"); });
  tokens.Invalidate();
  EXPECT_THAT(tokens.Token(), IsOkAndHolds(std::string("first")));
}

TEST_F(TokenSourceTest, MissingFileOnFirstReadIsAnError) {
  TokenSource tokens("", path_, fs_, clock_, std::chrono::seconds(60));
  EXPECT_THAT(tokens.Token(), testing::StatusIs(absl::StatusCode::kNotFound,
                                                ::testing::HasSubstr("read token file")));
}

}  // namespace
}  // namespace tessera::agent::kube
