#include "base/strings.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::base {
namespace {

using ::testing::ElementsAre;

TEST(StringsTest, StrCatMixesTypes) {
  std::string_view sv = "view";
  EXPECT_EQ(StrCat("a", sv, std::string("s"), 42, -7, 'c', true, uint64_t{18446744073709551615ULL}),
            "aviews42-7ctrue18446744073709551615");
  std::string out = "x";
  StrAppend(&out, "=", 1.5);
  EXPECT_EQ(out, "x=1.5");
}

TEST(StringsTest, SplitKeepsOrSkipsEmpty) {
  EXPECT_THAT(Split("a,,b", ','), ElementsAre("a", "", "b"));
  EXPECT_THAT(Split("a,,b,", ',', SplitMode::kSkipEmpty), ElementsAre("a", "b"));
  EXPECT_THAT(Split("", ','), ElementsAre(""));
  auto p = SplitOnce("k=v=w", '=');
  EXPECT_TRUE(p.found);
  EXPECT_EQ(p.first, "k");
  EXPECT_EQ(p.second, "v=w");
  EXPECT_FALSE(SplitOnce("kv", '=').found);
}

TEST(StringsTest, JoinAndQuote) {
  std::vector<std::string> parts = {"a", "b"};
  EXPECT_EQ(Join(parts, ", "), "a, b");
  EXPECT_EQ(Quote(std::string("a\0\"b", 4)), "\"a\\x00\\\"b\"");
  EXPECT_EQ(Quote("abcdef", 3), "\"abc...\"");
}

}  // namespace
}  // namespace tessera::base
