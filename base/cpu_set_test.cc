#include "base/cpu_set.h"

#include "gtest/gtest.h"
#include "test/matchers/status_matchers.h"

namespace tessera::base {
namespace {

using ::tessera::testing::StatusIs;

TEST(CpuSetTest, ParsesListRanges) {
  ASSERT_OK_AND_ASSIGN(CpuSet s, CpuSet::ParseList("0-15,128-143\n"));
  EXPECT_EQ(s.count(), 32);
  EXPECT_TRUE(s.Contains(0));
  EXPECT_TRUE(s.Contains(143));
  EXPECT_FALSE(s.Contains(16));
  EXPECT_EQ(s.ToListString(), "0-15,128-143");
}

TEST(CpuSetTest, ParsesKernelMaskMostSignificantWordFirst) {
  // local_cpus of a device local to CPUs 8-15 on a 16-CPU host.
  ASSERT_OK_AND_ASSIGN(CpuSet s, CpuSet::ParseMask("00000000,0000ff00\n"));
  EXPECT_EQ(s.ToListString(), "8-15");
  ASSERT_OK_AND_ASSIGN(CpuSet wide, CpuSet::ParseMask("0000ffff,00000000,00000000,00000000,0000ffff"));
  EXPECT_EQ(wide.ToListString(), "0-15,128-143");
}

TEST(CpuSetTest, AcceptsHwlocEmptyWords) {
  ASSERT_OK_AND_ASSIGN(CpuSet s, CpuSet::ParseMask("0x0000ffff,,,,0x0000ffff"));
  EXPECT_EQ(s.ToListString(), "0-15,128-143");
}

TEST(CpuSetTest, SubsetAndIntersection) {
  CpuSet a = *CpuSet::ParseList("0-7");
  CpuSet b = *CpuSet::ParseList("0-15");
  CpuSet c = *CpuSet::ParseList("16-31");
  EXPECT_TRUE(a.IsSubsetOf(b));
  EXPECT_FALSE(b.IsSubsetOf(a));
  EXPECT_TRUE(a.Intersects(b));
  EXPECT_FALSE(a.Intersects(c));
  EXPECT_TRUE(CpuSet().IsSubsetOf(a));
}

TEST(CpuSetTest, RejectsGarbage) {
  EXPECT_THAT(CpuSet::ParseList("3-1"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CpuSet::ParseList("a-b"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CpuSet::ParseList("0-99999999"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CpuSet::ParseMask("xyz"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CpuSet::ParseMask("1ffffffff"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(CpuSetTest, EmptyInputIsEmptySet) {
  ASSERT_OK_AND_ASSIGN(CpuSet s, CpuSet::ParseList("\n"));
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.ToListString(), "");
}

}  // namespace
}  // namespace tessera::base
