#include "agent/kube/yaml_json.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "test/matchers/status_matchers.h"

namespace tessera::agent::kube {
namespace {

using Json = nlohmann::json;
using ::testing::HasSubstr;

TEST(YamlJsonTest, TypesPlainScalarsAndKeepsQuotedOnesAsStrings) {
  ASSERT_OK_AND_ASSIGN(Json j, YamlToJson(R"(
a: 1
b: -7
c: 1.5
d: true
e: "true"
f: null
g: ~
h: '42'
i: hello world
j: [1, two]
k: {x: 1e3}
l: 0x1f
m: 1.2.3
n: 18446744073709551615
)",
                                          "test"));
  EXPECT_EQ(j["a"], 1);
  EXPECT_EQ(j["b"], -7);
  EXPECT_EQ(j["c"], 1.5);
  EXPECT_EQ(j["d"], true);
  EXPECT_EQ(j["e"], "true");
  EXPECT_TRUE(j["f"].is_null());
  EXPECT_TRUE(j["g"].is_null());
  EXPECT_EQ(j["h"], "42");
  EXPECT_EQ(j["i"], "hello world");
  EXPECT_EQ(j["j"], (Json{1, "two"}));
  EXPECT_EQ(j["k"]["x"], 1000.0);
  EXPECT_EQ(j["l"], 31);
  EXPECT_EQ(j["m"], "1.2.3");
  EXPECT_EQ(j["n"].get<uint64_t>(), 18446744073709551615ULL);
}

TEST(YamlJsonTest, JsonDocumentsAreYaml) {
  ASSERT_OK_AND_ASSIGN(Json j, YamlToJson(R"({"a": {"b": [1, "x"]}})", "test"));
  EXPECT_EQ(j, (Json{{"a", {{"b", {1, "x"}}}}}));
}

TEST(YamlJsonTest, RoundTripsJsonValues) {
  Json value = {
      {"strings", {"true",   "false",       "null",     "~",       "",         " padded ",
                   "12",     "1.5",         "1e3",      "0x10",    "a: b",     "# not a comment",
                   "- dash", "multi\nline", "quote\"s", "ünïcode", "{braces}", "[brackets]",
                   "*alias", "&anchor",     "!tag",     "%pct",    "@at",      "`tick"}},
      {"numbers", {0, -1, 42, 3.25}},
      {"bools", {true, false}},
      {"nested", {{"empty_list", Json::array()}, {"empty_map", Json::object()}, {"null", nullptr}}},
      {"key with: colon", "v"},
  };
  std::string yaml = JsonToYaml(value);
  ASSERT_OK_AND_ASSIGN(Json back, YamlToJson(yaml, "roundtrip"));
  EXPECT_EQ(back, value) << yaml;
}

TEST(YamlJsonTest, SyntaxErrorsNameTheLine) {
  EXPECT_THAT(
      YamlToJson("a: [1, 2\nb: 3\n", "kubeconfig"),
      testing::StatusIs(absl::StatusCode::kInvalidArgument,
                        ::testing::AllOf(HasSubstr("kubeconfig: line"), HasSubstr("column"))));
}

TEST(YamlJsonTest, AliasBombIsRejected) {
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'i'; ++c) {
    bomb += std::string(1, c) + ": &" + c + " [*" + prev + ", *" + prev + ", *" + prev + ", *" +
            prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
            ", *" + prev + "]\n";
    prev = c;
  }
  EXPECT_THAT(YamlToJson(bomb, "bomb"),
              testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than")));
}

// Found by claim_reader_fuzzer: yaml-cpp passes bytes through, and a claim or
// slice file with a Latin-1 byte gave JSON that threw from dump() later (the
// publisher and pool planning serialize what they read).
TEST(YamlJsonTest, InvalidUtf8IsRejectedWithItsPosition) {
  EXPECT_THAT(YamlToJson("kind: ResourceClaim\nmetadata: {name: caf\xe9}\n", "claim file"),
              testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                HasSubstr("claim file: line 2, column 18: invalid UTF-8")));
  EXPECT_THAT(YamlToJson("status\xc6\xed: {}\n", "claim file"),
              testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                HasSubstr("line 1, column 1: invalid UTF-8")));
  // Overlong encodings and surrogates are not UTF-8 either.
  EXPECT_THAT(YamlToJson("a: \"\xc0\xaf\"\n", "x"),
              testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid UTF-8")));
  EXPECT_THAT(YamlToJson("a: \xed\xa0\x80\n", "x"),
              testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid UTF-8")));
  ASSERT_OK_AND_ASSIGN(Json ok, YamlToJson("name: \"caf\xc3\xa9 \xf0\x9f\x9a\x80\"\n", "x"));
  EXPECT_EQ(ok["name"], "caf\xc3\xa9 \xf0\x9f\x9a\x80");
  EXPECT_NO_THROW((void)ok.dump());
}

// Found by claim_reader_fuzzer: a key under 1024 bytes that yaml-cpp writes
// longer than YAML's 1024-character limit for implicit keys, once its control
// characters are escaped, could not be read back.
TEST(YamlJsonTest, RoundTripsLongKeysWithControlCharacters) {
  const Json value = {{std::string(300, '\x11'), "a"},
                      {std::string(2000, 'k'), "b"},
                      {"apsio" + std::string(600, '\'') + std::string(200, '\x11'), nullptr}};
  const std::string yaml = JsonToYaml(value);
  ASSERT_OK_AND_ASSIGN(Json back, YamlToJson(yaml, "roundtrip"));
  EXPECT_EQ(back, value);
  // Short keys keep the usual block form.
  EXPECT_EQ(JsonToYaml(Json{{"name", "x"}}), "name: x\n");
}

TEST(YamlJsonTest, EmptyDocumentIsNull) {
  ASSERT_OK_AND_ASSIGN(Json j, YamlToJson("", "empty"));
  EXPECT_TRUE(j.is_null());
}

}  // namespace
}  // namespace tessera::agent::kube
