#include "base/json_util.h"

#include "gtest/gtest.h"
#include "test/matchers/status_matchers.h"

namespace tessera::base::json {
namespace {

using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;

TEST(JsonUtilTest, ParseErrorsNameTheDocument) {
  EXPECT_THAT(Parse("{\"a\":", "claim default/c1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("claim default/c1")));
}

TEST(JsonUtilTest, RejectsDeepNestingAndOversize) {
  std::string deep(1000, '[');
  EXPECT_THAT(Parse(deep, "x"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nesting")));
  EXPECT_THAT(Parse("[1,2,3]", "x", 3),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("limit")));
}

TEST(JsonUtilTest, BracketsInsideStringsDoNotCountAsNesting) {
  std::string doc = "{\"a\":\"" + std::string(500, '[') + "\"}";
  EXPECT_OK(Parse(doc, "x"));
}

TEST(JsonUtilTest, TypedGettersNameTheFieldPath) {
  ASSERT_OK_AND_ASSIGN(Json doc, Parse(R"({"pool": 3, "name": "gpu-0", "n": 5, "o": {}})", "x"));
  EXPECT_THAT(GetString(doc, "results[2]", "name"), IsOkAndHolds("gpu-0"));
  EXPECT_THAT(GetString(doc, "results[2]", "pool"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "results[2].pool: expected string, got number"));
  EXPECT_THAT(GetString(doc, "results[2]", "device"),
              StatusIs(absl::StatusCode::kInvalidArgument, "results[2].device: required field missing"));
  EXPECT_THAT(GetInt(doc, "", "n"), IsOkAndHolds(5));
  EXPECT_THAT(GetOptionalString(doc, "", "missing"), IsOkAndHolds(std::nullopt));
  EXPECT_THAT(GetOptionalBool(doc, "", "name"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(GetOptionalArray(doc, "", "o"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(GetObject(doc, "", "o"), IsOkAndHolds(::testing::NotNull()));
}

TEST(JsonUtilTest, RejectsUnknownFields) {
  ASSERT_OK_AND_ASSIGN(Json doc, Parse(R"({"kind": "GpuConfig", "sharingg": {}})", "x"));
  EXPECT_THAT(RejectUnknownFields(doc, "parameters", {"kind", "apiVersion", "sharing"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "parameters.sharingg: unknown field"));
  EXPECT_OK(RejectUnknownFields(doc, "", {"kind", "sharingg"}));
}

}  // namespace
}  // namespace tessera::base::json
