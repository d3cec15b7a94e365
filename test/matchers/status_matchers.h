// gMock matchers for absl::Status / absl::StatusOr (Envoy's status_utility.h,
// leveldb's IsOK): IsOk(), IsOkAndHolds(m), StatusIs(code[, message matcher]),
// and ASSERT_OK / EXPECT_OK.
#pragma once

#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = GetStatus(arg);
  if (!s.ok()) *result_listener << "status is " << s;
  return s.ok();
}

MATCHER_P(IsOkAndHolds, inner, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(inner, *arg, result_listener);
}

MATCHER_P(StatusIs, code, "has code " + absl::StatusCodeToString(code)) {
  const absl::Status& s = GetStatus(arg);
  if (s.code() != code) {
    *result_listener << "status is " << s;
    return false;
  }
  return true;
}

MATCHER_P2(StatusIs, code, message_matcher,
           "has code " + absl::StatusCodeToString(code) + " and a message that " +
               ::testing::DescribeMatcher<std::string>(message_matcher)) {
  const absl::Status& s = GetStatus(arg);
  if (s.code() != code) {
    *result_listener << "status is " << s;
    return false;
  }
  return ::testing::ExplainMatchResult(message_matcher, std::string(s.message()),
                                       result_listener);
}

}  // namespace tessera::testing

#define EXPECT_OK(expr) EXPECT_THAT((expr), ::tessera::testing::IsOk())
#define ASSERT_OK(expr) ASSERT_THAT((expr), ::tessera::testing::IsOk())
// ASSERT_OK_AND_ASSIGN(auto x, MakeX()): asserts OK and moves the value out.
#define TESSERA_TEST_CONCAT_INNER_(a, b) a##b
#define TESSERA_TEST_CONCAT_(a, b) TESSERA_TEST_CONCAT_INNER_(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr)                                    \
  auto TESSERA_TEST_CONCAT_(statusor_, __LINE__) = (rexpr);                 \
  ASSERT_TRUE(TESSERA_TEST_CONCAT_(statusor_, __LINE__).ok())               \
      << TESSERA_TEST_CONCAT_(statusor_, __LINE__).status();                \
  lhs = std::move(TESSERA_TEST_CONCAT_(statusor_, __LINE__)).value()
