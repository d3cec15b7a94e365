#include "base/parse.h"

#include <string>

#include "gtest/gtest.h"
#include "test/matchers/status_matchers.h"

namespace tessera::base {
namespace {

using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ParseTest, TrimsNewlinesAndNulBytes) {
  EXPECT_EQ(TrimValue("  1\n"), "1");
  EXPECT_EQ(TrimValue(std::string("0x10de\0\0", 8)), "0x10de");
  EXPECT_EQ(TrimValue("\n\n"), "");
}

TEST(ParseTest, ParsesSignedIntegers) {
  EXPECT_THAT(ParseInt64("-1\n"), IsOkAndHolds(-1));
  EXPECT_THAT(ParseInt64(std::string("3\0", 2)), IsOkAndHolds(3));
  EXPECT_THAT(ParseInt64("+7"), IsOkAndHolds(7));
  EXPECT_THAT(ParseInt64(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseInt64("12abc"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("12abc")));
  EXPECT_THAT(ParseInt64("99999999999999999999"), StatusIs(absl::StatusCode::kInvalidArgument));
  // Found by sysfs_values_fuzzer: '+' was stripped before a '-' as well.
  EXPECT_THAT(ParseInt64("+-7"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("+-7")));
  EXPECT_THAT(ParseInt64("+"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseInt64("++7"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseTest, RejectsNegativeUnsigned) {
  EXPECT_THAT(ParseUint64("-1"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseUint64("18446744073709551615"), IsOkAndHolds(18446744073709551615ULL));
}

TEST(ParseTest, ParsesHexWithAndWithoutPrefix) {
  EXPECT_THAT(ParseHex("0x10de\n"), IsOkAndHolds(0x10de));
  EXPECT_THAT(ParseHex("15B3"), IsOkAndHolds(0x15b3));
  EXPECT_THAT(ParseHex("0x"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseHex("0xzz"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseTest, ParsesBooleans) {
  EXPECT_THAT(ParseBool("1"), IsOkAndHolds(true));
  EXPECT_THAT(ParseBool("False"), IsOkAndHolds(false));
  EXPECT_THAT(ParseBool("maybe"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseTest, ParsesByteQuantities) {
  EXPECT_THAT(ParseBytes("1024"), IsOkAndHolds(1024u));
  EXPECT_THAT(ParseBytes("80Gi"), IsOkAndHolds(80ULL << 30));
  EXPECT_THAT(ParseBytes("65536 kB"), IsOkAndHolds(65536ULL << 10));
  EXPECT_THAT(ParseBytes("40960 MiB"), IsOkAndHolds(40960ULL << 20));
  EXPECT_THAT(ParseBytes("16G"), IsOkAndHolds(16'000'000'000ULL));
  EXPECT_THAT(ParseBytes("12 parsecs"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unit")));
  EXPECT_THAT(ParseBytes("99999999999Ti"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("range")));
  EXPECT_THAT(ParseBytes("Gi"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace tessera::base
