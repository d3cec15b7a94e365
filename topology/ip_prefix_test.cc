#include "topology/ip_prefix.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "test/matchers/status_matchers.h"

namespace tessera::topology {
namespace {

using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;

TEST(IpPrefixTest, ParsesAndCanonicalizes) {
  struct Case {
    std::string in;
    IpFamily family;
    std::string address;
    int len;
  };
  for (const Case& c : std::vector<Case>{
           {"10.0.0.2/24", IpFamily::kIpv4, "10.0.0.2", 24},
           {"192.168.1.1/32", IpFamily::kIpv4, "192.168.1.1", 32},
           {"0.0.0.0/0", IpFamily::kIpv4, "0.0.0.0", 0},
           {"FD00:0:0::0002/64", IpFamily::kIpv6, "fd00::2", 64},
           {"2001:db8::1/128", IpFamily::kIpv6, "2001:db8::1", 128},
           {"::ffff:10.1.2.3/96", IpFamily::kIpv6, "::ffff:10.1.2.3", 96},
       }) {
    EXPECT_THAT(
        ParseIpPrefix(c.in),
        IsOkAndHolds(IpPrefix{.family = c.family, .address = c.address, .prefix_length = c.len}))
        << c.in;
  }
  EXPECT_EQ(ParseIpPrefix("FD00::2/64")->ToString(), "fd00::2/64");
}

TEST(IpPrefixTest, RejectsMalformedText) {
  for (std::string bad : {"", "10.0.0.2", "10.0.0.2/", "10.0.0.2/33", "10.0.0.2/024", "10.0.0.2/+4",
                          "10.0.0.2/ 24", "10.0.0/24", "010.0.0.2/24", "fd00::2/129",
                          "fd00::2%eth0/64", "host/24", "10.0.0.2/24/1", "1.2.3.4 /24"}) {
    EXPECT_THAT(ParseIpPrefix(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
  EXPECT_THAT(ParseIpPrefix("10.0.0.2/33"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("0..32")));
}

TEST(IpPrefixTest, ParsesBareAddressAsHostPrefix) {
  EXPECT_THAT(ParseIpAddress("10.1.1.1"),
              IsOkAndHolds(
                  IpPrefix{.family = IpFamily::kIpv4, .address = "10.1.1.1", .prefix_length = 32}));
  EXPECT_EQ(ParseIpAddress("fe80::1")->prefix_length, 128);
  EXPECT_THAT(ParseIpAddress("10.1.1.1/8"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(IpPrefixTest, LinkLocal) {
  EXPECT_TRUE(ParseIpPrefix("fe80::1/64")->IsLinkLocal());
  EXPECT_TRUE(ParseIpPrefix("febf::1/64")->IsLinkLocal());
  EXPECT_FALSE(ParseIpPrefix("fec0::1/64")->IsLinkLocal());
  EXPECT_TRUE(ParseIpPrefix("169.254.3.4/16")->IsLinkLocal());
  EXPECT_FALSE(ParseIpPrefix("10.0.0.1/8")->IsLinkLocal());
}

TEST(IpPrefixTest, ValidatesAssignableAddresses) {
  for (std::string ok : {"10.0.0.2/24", "10.0.0.1/31", "10.0.0.0/31", "10.0.0.5/32", "fd00::2/64",
                         "2001:db8::/64"}) {
    EXPECT_OK(ValidateInterfaceAddress(*ParseIpPrefix(ok))) << ok;
  }
  struct Bad {
    std::string in;
    std::string why;
  };
  for (const Bad& b : std::vector<Bad>{{"0.0.0.0/8", "unspecified"},
                                       {"127.0.0.2/8", "loopback"},
                                       {"224.0.0.5/24", "multicast"},
                                       {"255.255.255.255/32", "broadcast"},
                                       {"10.0.0.0/24", "network address"},
                                       {"10.0.0.255/24", "broadcast address"},
                                       {"::/64", "unspecified"},
                                       {"::1/128", "loopback"},
                                       {"ff02::1/64", "multicast"}}) {
    EXPECT_THAT(ValidateInterfaceAddress(*ParseIpPrefix(b.in)),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(b.why)))
        << b.in;
  }
}

}  // namespace
}  // namespace tessera::topology
