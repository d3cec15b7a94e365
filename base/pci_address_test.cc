#include "base/pci_address.h"

#include "gtest/gtest.h"
#include "test/matchers/status_matchers.h"

namespace tessera::base {
namespace {

using ::tessera::testing::StatusIs;

TEST(PciAddressTest, ParsesExtendedBdf) {
  ASSERT_OK_AND_ASSIGN(PciAddress a, PciAddress::Parse("0000:44:00.0\n"));
  EXPECT_EQ(a.domain, 0u);
  EXPECT_EQ(a.bus, 0x44);
  EXPECT_EQ(a.device, 0);
  EXPECT_EQ(a.function, 0);
  EXPECT_EQ(a.ToString(), "0000:44:00.0");
}

TEST(PciAddressTest, ParsesAddressWithoutDomainAndUpperCase) {
  ASSERT_OK_AND_ASSIGN(PciAddress a, PciAddress::Parse("C4:1F.7"));
  EXPECT_EQ(a.ToString(), "0000:c4:1f.7");
}

TEST(PciAddressTest, ParsesVmdDomain) {
  ASSERT_OK_AND_ASSIGN(PciAddress a, PciAddress::Parse("10000:e1:00.0"));
  EXPECT_EQ(a.ToString(), "10000:e1:00.0");
}

TEST(PciAddressTest, RejectsGarbage) {
  for (const char* bad : {"", "0000:44:00", "0000:44:20.0", "0000:44:00.8", "zz:00.0",
                          "0000:144:00.0", "1:2:3:4", "0000:44:00.0.1"}) {
    EXPECT_THAT(PciAddress::Parse(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(PciAddressTest, OrdersByDomainBusDeviceFunction) {
  auto a = *PciAddress::Parse("0000:03:00.0");
  auto b = *PciAddress::Parse("0000:03:00.1");
  auto c = *PciAddress::Parse("0001:00:00.0");
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
}

TEST(PciAddressTest, NamesRootLikeTheKernel) {
  EXPECT_EQ(PciAddress::RootName(0, 0x40), "pci0000:40");
  EXPECT_EQ(fmt::format("{}", *PciAddress::Parse("44:00.0")), "0000:44:00.0");
}

}  // namespace
}  // namespace tessera::base
