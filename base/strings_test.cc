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

namespace tessera::base {
namespace {

TEST(IsValidUtf8Test, AcceptsWellFormedText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("gr\xC3\xBC\xC3\x9F"));         // grüß
  EXPECT_TRUE(IsValidUtf8("\xE2\x82\xAC"));               // U+20AC
  EXPECT_TRUE(IsValidUtf8("\xF0\x9F\x98\x80"));           // U+1F600
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));           // U+10FFFF, the last
  EXPECT_TRUE(IsValidUtf8(std::string_view("a\0b", 3)));  // NUL is UTF-8
}

TEST(IsValidUtf8Test, RejectsMalformedSequences) {
  EXPECT_FALSE(IsValidUtf8("\x80"));              // stray continuation byte
  EXPECT_FALSE(IsValidUtf8("\xC3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\xC3\x28"));          // bad continuation
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));      // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  EXPECT_FALSE(IsValidUtf8("ok\xF8\x88\x80\x80\x80"));  // 5-byte form
}

}  // namespace
}  // namespace tessera::base
