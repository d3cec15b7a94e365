#include "drivers/rdma/rdma_config.h"

#include <utility>

#include "base/json_util.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "drivers/rdma/netdev_attach.h"

namespace tessera::drivers::rdma {
namespace {

namespace json = base::json;
using base::StrCat;

}  // namespace

std::string ConfigApiVersion(std::string_view domain) {
  return StrCat("rdma.", domain, "/v1alpha1");
}

absl::StatusOr<RdmaConfigPatch> ParseRdmaConfig(const nlohmann::json& parameters,
                                                std::string_view domain, std::string_view path) {
  if (!parameters.is_object()) return json::TypeError(path, "object", parameters);
  RETURN_IF_ERROR(json::RejectUnknownFields(parameters, path,
                                            {"apiVersion", "kind", "ibManagement", "netdev"}));
  ASSIGN_OR_RETURN(std::string api_version, json::GetString(parameters, path, "apiVersion"));
  const std::string want = ConfigApiVersion(domain);
  if (api_version != want) {
    return absl::InvalidArgumentError(
        StrCat(json::Field(path, "apiVersion"), ": ", base::Quote(api_version), " is not ", want));
  }
  ASSIGN_OR_RETURN(std::string kind, json::GetString(parameters, path, "kind"));
  if (kind != kConfigKind) {
    return absl::InvalidArgumentError(
        StrCat(json::Field(path, "kind"), ": ", base::Quote(kind), " is not ", kConfigKind));
  }
  RdmaConfigPatch patch;
  ASSIGN_OR_RETURN(patch.ib_management, json::GetOptionalBool(parameters, path, "ibManagement"));
  ASSIGN_OR_RETURN(const nlohmann::json* netdev,
                   json::GetOptionalObject(parameters, path, "netdev"));
  if (netdev == nullptr) return patch;

  const std::string np = json::Field(path, "netdev");
  RETURN_IF_ERROR(json::RejectUnknownFields(*netdev, np, {"attach", "name", "mtu", "addresses"}));
  ASSIGN_OR_RETURN(patch.attach, json::GetOptionalBool(*netdev, np, "attach"));
  ASSIGN_OR_RETURN(patch.name, json::GetOptionalString(*netdev, np, "name"));
  if (patch.name) RETURN_IF_ERROR(ValidateInterfaceName(*patch.name, json::Field(np, "name")));
  ASSIGN_OR_RETURN(std::optional<int64_t> mtu, json::GetOptionalInt(*netdev, np, "mtu"));
  if (mtu) {
    if (*mtu < kMinMtu || *mtu > kMaxMtu) {
      return absl::InvalidArgumentError(
          StrCat(json::Field(np, "mtu"), ": ", *mtu, " is outside ", kMinMtu, "..", kMaxMtu));
    }
    patch.mtu = static_cast<uint32_t>(*mtu);
  }
  ASSIGN_OR_RETURN(const nlohmann::json* addresses,
                   json::GetOptionalArray(*netdev, np, "addresses"));
  if (addresses != nullptr) {
    const std::string ap = json::Field(np, "addresses");
    if (addresses->size() > 16) {
      return absl::InvalidArgumentError(
          StrCat(ap, ": ", addresses->size(), " addresses, at most 16"));
    }
    std::vector<topology::IpPrefix> parsed;
    for (size_t i = 0; i < addresses->size(); ++i) {
      const nlohmann::json& a = (*addresses)[i];
      const std::string item = json::Index(ap, i);
      if (!a.is_string()) return json::TypeError(item, "string", a);
      absl::StatusOr<topology::IpPrefix> prefix = topology::ParseIpPrefix(a.get<std::string>());
      if (!prefix.ok()) return base::Annotate(prefix.status(), item);
      RETURN_IF_ERROR(base::Annotate(topology::ValidateInterfaceAddress(*prefix), item));
      for (size_t j = 0; j < parsed.size(); ++j) {
        if (parsed[j].address == prefix->address) {
          return absl::InvalidArgumentError(StrCat(
              item, ": ", prefix->address, " is listed twice (also ", json::Index(ap, j), ")"));
        }
      }
      parsed.push_back(*std::move(prefix));
    }
    patch.addresses = std::move(parsed);
  }
  return patch;
}

absl::StatusOr<RdmaConfig> ResolveRdmaConfig(const std::vector<OpaqueConfig>& configs,
                                             std::string_view domain) {
  RdmaConfig config;
  bool netdev_fields = false;
  for (size_t i = 0; i < configs.size(); ++i) {
    ASSIGN_OR_RETURN(RdmaConfigPatch patch,
                     ParseRdmaConfig(configs[i].parameters, domain, json::Index("configs", i)));
    if (patch.ib_management) config.ib_management = *patch.ib_management;
    if (patch.attach) config.netdev.attach = *patch.attach;
    if (patch.name) config.netdev.name = *patch.name;
    if (patch.mtu) config.netdev.mtu = patch.mtu;
    if (patch.addresses) config.netdev.addresses = *patch.addresses;
    netdev_fields = netdev_fields || patch.name || patch.mtu || patch.addresses;
  }
  if (!config.netdev.attach) {
    if (netdev_fields) {
      return absl::InvalidArgumentError(
          "netdev: name, mtu and addresses apply only with netdev.attach: true");
    }
    return config;
  }
  for (size_t i = 0; i < config.netdev.addresses.size(); ++i) {
    const topology::IpPrefix& a = config.netdev.addresses[i];
    if (a.family == topology::IpFamily::kIpv6 && config.netdev.mtu &&
        *config.netdev.mtu < kMinIpv6Mtu) {
      return absl::InvalidArgumentError(StrCat("netdev.mtu: ", *config.netdev.mtu, " is below ",
                                               kMinIpv6Mtu, ", the IPv6 minimum, and ",
                                               "netdev.addresses[", i, "] is IPv6"));
    }
  }
  return config;
}

}  // namespace tessera::drivers::rdma
