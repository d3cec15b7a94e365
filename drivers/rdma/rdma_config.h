// RdmaConfig: the opaque device configuration of the RDMA driver, given in a
// DeviceClass or a ResourceClaim (docs/rdma.md, "Configuration"):
//
//   apiVersion: rdma.<domain>/v1alpha1
//   kind: RdmaConfig
//   ibManagement: true          # also umad<N> and issm<N> (MAD and SM access)
//   netdev:
//     attach: true              # move the NIC's netdev into the pod
//     name: net1                # its name there (default net1)
//     mtu: 4092                 # optional
//     addresses: [10.1.0.5/24]  # optional, IPv4 or IPv6 with prefix
//
// Decoding is strict: unknown fields, wrong types, another apiVersion or kind
// are InvalidArgument naming the field ("configs[1].netdev.mtu: ..."). Every
// entry that applies to a device is decoded, then merged in order (FromClass
// before FromClaim, as the agent hands them over): a field set by a later
// entry wins. netdev.name, mtu and addresses need netdev.attach: true.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "drivers/device_driver.h"
#include "topology/ip_prefix.h"

namespace tessera::drivers::rdma {

inline constexpr std::string_view kConfigKind = "RdmaConfig";
// "rdma.<domain>/v1alpha1".
std::string ConfigApiVersion(std::string_view domain);

struct NetdevRequest {
  bool attach = false;
  std::string name = "net1";
  std::optional<uint32_t> mtu;
  std::vector<topology::IpPrefix> addresses;
  friend bool operator==(const NetdevRequest&, const NetdevRequest&) = default;
};

struct RdmaConfig {
  bool ib_management = false;
  NetdevRequest netdev;
  friend bool operator==(const RdmaConfig&, const RdmaConfig&) = default;
};

// One entry, with only the fields it sets.
struct RdmaConfigPatch {
  std::optional<bool> ib_management;
  std::optional<bool> attach;
  std::optional<std::string> name;
  std::optional<uint32_t> mtu;
  std::optional<std::vector<topology::IpPrefix>> addresses;
};

// Decodes one opaque parameters object. `path` prefixes field names in
// errors.
absl::StatusOr<RdmaConfigPatch> ParseRdmaConfig(const nlohmann::json& parameters,
                                                std::string_view domain, std::string_view path);

// Decodes and merges the entries of one device, then checks the result
// (interface name, MTU 68..65535 and >= 1280 with IPv6, addresses
// assignable and distinct; netdev fields only with attach).
absl::StatusOr<RdmaConfig> ResolveRdmaConfig(const std::vector<OpaqueConfig>& configs,
                                             std::string_view domain);

}  // namespace tessera::drivers::rdma
