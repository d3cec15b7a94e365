// libFuzzer harness for the RDMA driver's opaque configuration (RdmaConfig,
// rdma_config.h), as it arrives in a claim's or class's opaque parameters.
// The input is JSON: an object is one entry; an array is the entries of one
// device in order.
//
// Invariants: no crash; errors are InvalidArgument with a message; an
// accepted entry, written back in the documented form, decodes to the same
// fields (addresses in canonical text); a resolved config obeys the rules
// the netdev attach relies on (valid interface name, MTU in range and >= 1280
// with IPv6, distinct assignable addresses, netdev fields only with attach);
// resolving the entries twice in a row changes nothing.
#include <cstdint>
#include <string>
#include <vector>

#include "base/json_util.h"
#include "drivers/rdma/netdev_attach.h"
#include "drivers/rdma/rdma_config.h"
#include "test/fuzz/fuzz_check.h"

namespace {

namespace rdma = tessera::drivers::rdma;
namespace topology = tessera::topology;
using Json = nlohmann::json;
using tessera::fuzz::CheckCleanError;

constexpr std::string_view kDomain = "tessera.dev";
constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

Json Encode(const rdma::RdmaConfigPatch& p) {
  Json out = {{"apiVersion", rdma::ConfigApiVersion(kDomain)}, {"kind", rdma::kConfigKind}};
  if (p.ib_management) out["ibManagement"] = *p.ib_management;
  Json netdev = Json::object();
  if (p.attach) netdev["attach"] = *p.attach;
  if (p.name) netdev["name"] = *p.name;
  if (p.mtu) netdev["mtu"] = *p.mtu;
  if (p.addresses) {
    netdev["addresses"] = Json::array();
    for (const topology::IpPrefix& a : *p.addresses) netdev["addresses"].push_back(a.ToString());
  }
  if (!netdev.empty()) out["netdev"] = std::move(netdev);
  return out;
}

bool SamePatch(const rdma::RdmaConfigPatch& a, const rdma::RdmaConfigPatch& b) {
  return a.ib_management == b.ib_management && a.attach == b.attach && a.name == b.name &&
         a.mtu == b.mtu && a.addresses == b.addresses;
}

void CheckEntry(const Json& parameters) {
  absl::StatusOr<rdma::RdmaConfigPatch> p =
      rdma::ParseRdmaConfig(parameters, kDomain, "configs[0]");
  if (!p.ok()) return CheckCleanError(p.status(), {kInvalid}, "ParseRdmaConfig");
  if (p->addresses) {
    FUZZ_CHECK(p->addresses->size() <= 16, "more than 16 addresses accepted");
    for (const topology::IpPrefix& a : *p->addresses) {
      absl::StatusOr<topology::IpPrefix> again = topology::ParseIpPrefix(a.ToString());
      FUZZ_CHECK(again.ok() && *again == a, "address ", a.ToString(), " does not round-trip");
      FUZZ_CHECK(topology::ValidateInterfaceAddress(a).ok(), "unassignable address ", a.ToString(),
                 " accepted");
    }
  }
  const Json encoded = Encode(*p);
  absl::StatusOr<rdma::RdmaConfigPatch> again =
      rdma::ParseRdmaConfig(encoded, kDomain, "configs[0]");
  FUZZ_CHECK(again.ok(), "encoded config does not decode: ", encoded.dump(), ": ",
             again.ok() ? "" : tessera::base::Std(again.status().message()));
  FUZZ_CHECK(SamePatch(*again, *p), "round trip changed the config: ", encoded.dump());
}

void CheckResolved(const rdma::RdmaConfig& c) {
  const rdma::NetdevRequest& n = c.netdev;
  if (!n.attach) {
    FUZZ_CHECK(n.name == "net1" && !n.mtu && n.addresses.empty(),
               "netdev fields accepted without attach");
    return;
  }
  FUZZ_CHECK(rdma::ValidateInterfaceName(n.name, "name").ok(), "bad interface name ",
             tessera::base::Quote(n.name), " accepted");
  if (n.mtu) FUZZ_CHECK(*n.mtu >= rdma::kMinMtu && *n.mtu <= rdma::kMaxMtu, "mtu ", *n.mtu);
  for (size_t i = 0; i < n.addresses.size(); ++i) {
    if (n.addresses[i].family == topology::IpFamily::kIpv6 && n.mtu) {
      FUZZ_CHECK(*n.mtu >= rdma::kMinIpv6Mtu, "IPv6 address with mtu ", *n.mtu);
    }
    for (size_t j = 0; j < i; ++j) {
      FUZZ_CHECK(n.addresses[i].address != n.addresses[j].address, "duplicate address ",
                 n.addresses[i].address);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<Json> input =
      tessera::base::json::Parse(tessera::fuzz::AsText(data, size), "input");
  if (!input.ok()) return 0;
  std::vector<tessera::drivers::OpaqueConfig> entries;
  if (input->is_array()) {
    for (size_t i = 0; i < input->size() && i < 8; ++i) {
      entries.push_back(
          {.source = i % 2 == 0 ? "FromClass" : "FromClaim", .parameters = (*input)[i]});
    }
  } else {
    entries.push_back({.source = "FromClaim", .parameters = *input});
  }
  for (const auto& e : entries) CheckEntry(e.parameters);

  absl::StatusOr<rdma::RdmaConfig> resolved = rdma::ResolveRdmaConfig(entries, kDomain);
  if (!resolved.ok()) {
    CheckCleanError(resolved.status(), {kInvalid}, "ResolveRdmaConfig");
    return 0;
  }
  CheckResolved(*resolved);
  std::vector<tessera::drivers::OpaqueConfig> twice = entries;
  twice.insert(twice.end(), entries.begin(), entries.end());
  absl::StatusOr<rdma::RdmaConfig> again = rdma::ResolveRdmaConfig(twice, kDomain);
  FUZZ_CHECK(again.ok() && *again == *resolved, "resolving the entries twice changed the result");
  return 0;
}
