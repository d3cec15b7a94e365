#include "drivers/naming.h"

#include "gtest/gtest.h"

namespace tessera::drivers {
namespace {

TEST(NamingTest, RoundTripsPciAddresses) {
  base::PciAddress a = *base::PciAddress::Parse("0000:c4:1f.7");
  std::string name = DeviceNameForPci("gpu", a);
  EXPECT_EQ(name, "gpu-0000-c4-1f-7");
  EXPECT_EQ(PciFromDeviceName(name), a);
  EXPECT_EQ(PciFromDeviceName(name + "-mig-1g10gb-3"), a);
  EXPECT_EQ(PciFromDeviceName("rdma-10000-e1-00-0"), *base::PciAddress::Parse("10000:e1:00.0"));
}

TEST(NamingTest, RejectsOtherShapes) {
  EXPECT_EQ(PciFromDeviceName("gpu-0"), std::nullopt);
  EXPECT_EQ(PciFromDeviceName("gpu-00-44-00-0"), std::nullopt);
  EXPECT_EQ(PciFromDeviceName("gpu-0000-zz-00-0"), std::nullopt);
  EXPECT_EQ(PciFromDeviceName(""), std::nullopt);
}

}  // namespace
}  // namespace tessera::drivers
