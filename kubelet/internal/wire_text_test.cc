#include "kubelet/internal/wire_text.h"

#include <string>

#include "gtest/gtest.h"

namespace tessera::kubelet::internal {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";

TEST(SanitizeUtf8Test, KeepsValidText) {
  EXPECT_EQ(SanitizeUtf8("plain"), "plain");
  const std::string mixed = "gr\xC3\xBC\xC3\x9F \xE2\x82\xAC \xF0\x9F\x9A\x80";  // grüß € 🚀
  EXPECT_EQ(SanitizeUtf8(mixed), mixed);
}

TEST(SanitizeUtf8Test, ReplacesEachInvalidByte) {
  EXPECT_EQ(SanitizeUtf8("a\xFF"
                         "b"),
            std::string("a") + kReplacement + "b");
  // Overlong encoding of '/' (C0 AF): both bytes are invalid.
  EXPECT_EQ(SanitizeUtf8("\xC0\xAF"), std::string(kReplacement) + kReplacement);
  // UTF-16 surrogate U+D800 encoded as UTF-8 is not valid UTF-8.
  EXPECT_EQ(SanitizeUtf8("\xED\xA0\x80"), std::string(kReplacement) + kReplacement + kReplacement);
  // Truncated 3-byte sequence at the end.
  EXPECT_EQ(SanitizeUtf8("x\xE2\x82"), std::string("x") + kReplacement + kReplacement);
  // Above U+10FFFF.
  EXPECT_EQ(SanitizeUtf8("\xF4\x90\x80\x80").substr(0, 3), kReplacement);
}

TEST(TruncateUtf8Test, CutsOnCharacterBoundaryWithEllipsis) {
  EXPECT_EQ(TruncateUtf8("short", 10), "short");
  EXPECT_EQ(TruncateUtf8("0123456789", 10), "0123456789");
  EXPECT_EQ(TruncateUtf8("0123456789abc", 10), "0123456...");
  // "é" is 2 bytes: a cut inside it steps back before it.
  std::string cut = TruncateUtf8(
      "abcd\xC3\xA9"
      "fghij",
      8);
  EXPECT_EQ(cut, "abcd...");
  EXPECT_LE(cut.size(), 8u);
}

TEST(BaseRequestNameTest, StripsSubrequest) {
  EXPECT_EQ(BaseRequestName("gpu"), "gpu");
  EXPECT_EQ(BaseRequestName("gpu/large"), "gpu");
  EXPECT_EQ(BaseRequestName(""), "");
}

}  // namespace
}  // namespace tessera::kubelet::internal
