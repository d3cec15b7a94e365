#include "topology/ip_prefix.h"

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <cstring>

#include "base/strings.h"

namespace tessera::topology {
namespace {

struct Parsed {
  IpFamily family;
  std::array<uint8_t, 16> bytes{};
};

absl::StatusOr<Parsed> ParseBytes(std::string_view text, std::string_view what) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) {
    return absl::InvalidArgumentError(
        base::StrCat("parse ", what, " ", base::Quote(text), ": not an IPv4 or IPv6 address"));
  }
  std::string buf(text);
  Parsed p;
  if (::inet_pton(AF_INET, buf.c_str(), p.bytes.data()) == 1) {
    p.family = IpFamily::kIpv4;
    return p;
  }
  if (::inet_pton(AF_INET6, buf.c_str(), p.bytes.data()) == 1) {
    p.family = IpFamily::kIpv6;
    return p;
  }
  return absl::InvalidArgumentError(
      base::StrCat("parse ", what, " ", base::Quote(text), ": not an IPv4 or IPv6 address"));
}

std::string Canonical(const Parsed& p) {
  char out[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(p.family == IpFamily::kIpv4 ? AF_INET : AF_INET6, p.bytes.data(), out, sizeof(out));
  return out;
}

int MaxPrefix(IpFamily family) { return family == IpFamily::kIpv4 ? 32 : 128; }

}  // namespace

std::string_view IpFamilyName(IpFamily family) {
  return family == IpFamily::kIpv4 ? "ipv4" : "ipv6";
}

std::string IpPrefix::ToString() const { return base::StrCat(address, "/", prefix_length); }

bool IpPrefix::IsLinkLocal() const {
  absl::StatusOr<Parsed> p = ParseBytes(address, "address");
  if (!p.ok()) return false;
  if (p->family == IpFamily::kIpv4) return p->bytes[0] == 169 && p->bytes[1] == 254;
  return p->bytes[0] == 0xfe && (p->bytes[1] & 0xc0) == 0x80;
}

absl::StatusOr<IpPrefix> ParseIpPrefix(std::string_view text) {
  base::SplitPair parts = base::SplitOnce(text, '/');
  if (!parts.found) {
    return absl::InvalidArgumentError(
        base::StrCat("parse address ", base::Quote(text), ": expected <address>/<prefix length>"));
  }
  absl::StatusOr<Parsed> p = ParseBytes(parts.first, "address");
  if (!p.ok()) return p.status();
  std::string_view len = parts.second;
  // Plain decimal: no sign, no spaces, no leading zeros ("024" is rejected).
  bool digits = !len.empty() && len.size() <= 3 && (len.size() == 1 || len[0] != '0');
  for (char c : len) digits = digits && c >= '0' && c <= '9';
  int value = 0;
  if (digits) {
    for (char c : len) value = value * 10 + (c - '0');
  }
  if (!digits || value > MaxPrefix(p->family)) {
    return absl::InvalidArgumentError(base::StrCat(
        "parse address ", base::Quote(text), ": prefix length must be 0..", MaxPrefix(p->family)));
  }
  return IpPrefix{.family = p->family, .address = Canonical(*p), .prefix_length = value};
}

absl::StatusOr<IpPrefix> ParseIpAddress(std::string_view text) {
  absl::StatusOr<Parsed> p = ParseBytes(text, "address");
  if (!p.ok()) return p.status();
  return IpPrefix{
      .family = p->family, .address = Canonical(*p), .prefix_length = MaxPrefix(p->family)};
}

absl::Status ValidateInterfaceAddress(const IpPrefix& prefix) {
  absl::StatusOr<Parsed> p = ParseBytes(prefix.address, "address");
  if (!p.ok()) return p.status();
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(base::StrCat("address ", prefix.ToString(), ": ", why));
  };
  if (prefix.prefix_length < 0 || prefix.prefix_length > MaxPrefix(p->family)) {
    return bad("prefix length out of range");
  }
  const std::array<uint8_t, 16>& b = p->bytes;
  if (p->family == IpFamily::kIpv4) {
    uint32_t v = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
    if (v == 0) return bad("the unspecified address cannot be assigned");
    if (b[0] == 127) return bad("loopback addresses cannot be assigned");
    if (b[0] >= 224 && b[0] <= 239) return bad("multicast addresses cannot be assigned");
    if (v == 0xffffffffu) return bad("the broadcast address cannot be assigned");
    if (prefix.prefix_length <= 30) {
      uint32_t host_mask =
          prefix.prefix_length == 0 ? 0xffffffffu : (0xffffffffu >> prefix.prefix_length);
      if ((v & host_mask) == 0) return bad("is the network address of its subnet");
      if ((v & host_mask) == host_mask) return bad("is the broadcast address of its subnet");
    }
    return absl::OkStatus();
  }
  bool all_zero = true;
  for (uint8_t x : b) all_zero = all_zero && x == 0;
  if (all_zero) return bad("the unspecified address cannot be assigned");
  bool loopback = b[15] == 1;
  for (int i = 0; i < 15; ++i) loopback = loopback && b[i] == 0;
  if (loopback) return bad("loopback addresses cannot be assigned");
  if (b[0] == 0xff) return bad("multicast addresses cannot be assigned");
  return absl::OkStatus();
}

}  // namespace tessera::topology
