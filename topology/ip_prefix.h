// IpPrefix: an interface address with its prefix length ("10.0.0.2/24",
// "fd00::2/64"), the value the netlink seam and the netns attach use for
// addresses. Parsing is pure and strict (inet_pton rules, no leading zeros in
// the prefix length, no zone ids); ToString() gives the canonical text
// (inet_ntop), so two spellings of one address compare equal after parsing.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tessera::topology {

enum class IpFamily { kIpv4, kIpv6 };
std::string_view IpFamilyName(IpFamily family);  // "ipv4", "ipv6"

struct IpPrefix {
  IpFamily family = IpFamily::kIpv4;
  std::string address;    // canonical text without the prefix: "10.0.0.2", "fd00::2"
  int prefix_length = 0;  // 0..32 (IPv4), 0..128 (IPv6)

  std::string ToString() const;  // "10.0.0.2/24"
  // Link-local: 169.254.0.0/16 or fe80::/10. The kernel generates IPv6
  // link-local addresses itself when a link comes up.
  bool IsLinkLocal() const;
  friend bool operator==(const IpPrefix&, const IpPrefix&) = default;
};

// Parses "<address>/<prefix length>". InvalidArgument naming the text when the
// address is not IPv4 or IPv6, the prefix is missing, out of range or not a
// plain decimal number.
absl::StatusOr<IpPrefix> ParseIpPrefix(std::string_view text);

// Parses an address without a prefix ("10.0.0.2"); the prefix length is the
// full length (32 or 128). InvalidArgument otherwise.
absl::StatusOr<IpPrefix> ParseIpAddress(std::string_view text);

// Checks that `prefix` names an address a host interface may carry: not the
// unspecified address, not loopback, not multicast, not IPv4 broadcast, and for
// IPv4 not the network or broadcast address of a /0../30 subnet.
// InvalidArgument naming the address and the reason.
absl::Status ValidateInterfaceAddress(const IpPrefix& prefix);

}  // namespace tessera::topology
