#include "base/quantity.h"

#include "gtest/gtest.h"
#include "test/matchers/status_matchers.h"

namespace tessera::base {
namespace {

using ::tessera::testing::StatusIs;

TEST(QuantityTest, ParsesBinaryDecimalAndExponentForms) {
  EXPECT_EQ(Quantity::Parse("80Gi")->Value(), 80LL << 30);
  EXPECT_EQ(Quantity::Parse("40G")->Value(), 40'000'000'000LL);
  EXPECT_EQ(Quantity::Parse("100")->Value(), 100);
  EXPECT_EQ(Quantity::Parse("500m")->MilliValue(), 500);
  EXPECT_EQ(Quantity::Parse("1e3")->Value(), 1000);
  EXPECT_EQ(Quantity::Parse("1.5Gi")->Value(), 3LL << 29);
  EXPECT_EQ(Quantity::Parse("-2k")->Value(), -2000);
  EXPECT_EQ(Quantity::Parse("0.5")->MilliValue(), 500);
}

TEST(QuantityTest, RoundsUpBelowMilliPrecision) {
  EXPECT_EQ(Quantity::Parse("1n")->MilliValue(), 1);
  EXPECT_EQ(Quantity::Parse("1500u")->MilliValue(), 2);
}

TEST(QuantityTest, RejectsGarbageAndOverflow) {
  for (const char* bad : {"", "Gi", "1Qi", "1.2.3", "--1", "1e", "1e9999", "99999999999999999999",
                          "9Ei", " 1"}) {
    EXPECT_THAT(Quantity::Parse(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(QuantityTest, CanonicalTextKeepsFormat) {
  EXPECT_EQ(Quantity::FromInt(80LL << 30, Quantity::Format::kBinarySI).ToString(), "80Gi");
  EXPECT_EQ(Quantity::FromInt(81559LL << 20, Quantity::Format::kBinarySI).ToString(), "81559Mi");
  EXPECT_EQ(Quantity::FromInt(1000).ToString(), "1k");
  EXPECT_EQ(Quantity::FromInt(100).ToString(), "100");
  EXPECT_EQ(Quantity::FromInt(0).ToString(), "0");
  EXPECT_EQ(Quantity::FromMilli(1500).ToString(), "1500m");
  EXPECT_EQ(Quantity::Parse("1024Mi")->ToString(), "1Gi");
}

TEST(QuantityTest, ComparesByValue) {
  EXPECT_EQ(*Quantity::Parse("1Gi"), *Quantity::Parse("1073741824"));
  EXPECT_LT(*Quantity::Parse("1G"), *Quantity::Parse("1Gi"));
}

}  // namespace
}  // namespace tessera::base
