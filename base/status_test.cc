#include "base/status.h"

#include <cerrno>

#include "base/status_macros.h"
#include "gtest/gtest.h"
#include "test/matchers/status_matchers.h"

namespace tessera::base {
namespace {

using ::tessera::testing::StatusIs;

absl::StatusOr<int> Half(int x) {
  if (x % 2) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int half, Half(x));
  ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

absl::Status CheckEven(int x) {
  RETURN_IF_ERROR(Half(x).status());
  return absl::OkStatus();
}

TEST(StatusTest, AnnotatePrependsContextAndKeepsCode) {
  absl::Status s = Annotate(absl::NotFoundError("open /sys/x: No such file"), "read numa_node of 0000:3b:00.0");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound,
                          "read numa_node of 0000:3b:00.0: open /sys/x: No such file"));
  EXPECT_TRUE(Annotate(absl::OkStatus(), "x").ok());
}

TEST(StatusTest, ErrnoMapsCodes) {
  EXPECT_THAT(ErrnoStatus(ENOENT, "open a"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(ErrnoStatus(EACCES, "open a"), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(ErrnoStatus(ENOSPC, "write a"),
              StatusIs(absl::StatusCode::kResourceExhausted, ::testing::HasSubstr("write a")));
}

TEST(StatusTest, MacrosPropagate) {
  EXPECT_THAT(Quarter(8), ::tessera::testing::IsOkAndHolds(2));
  EXPECT_THAT(Quarter(6), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_OK(CheckEven(2));
  EXPECT_THAT(CheckEven(3), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace tessera::base
