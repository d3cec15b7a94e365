#include "agent/claims/select.h"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "base/json_util.h"
#include "base/strings.h"

namespace tessera::agent {
namespace {

using base::StrCat;

constexpr std::string_view kResultsPath = "status.allocation.devices.results";
constexpr std::string_view kConfigPath = "status.allocation.devices.config";

// "gpu.tessera.dev" -> "tessera.dev"; "" when there is no '.'.
std::string_view DomainOf(std::string_view driver) {
  size_t dot = driver.find('.');
  return dot == std::string_view::npos ? std::string_view() : driver.substr(dot + 1);
}

bool Applies(const AllocationConfig& config, std::string_view request) {
  if (config.requests.empty()) return true;
  const std::string_view base_name = BaseRequestName(request);
  return std::any_of(config.requests.begin(), config.requests.end(),
                     [&](const std::string& r) { return r == base_name || r == request; });
}

}  // namespace

std::string_view BaseRequestName(std::string_view request) {
  return request.substr(0, request.find('/'));
}

absl::StatusOr<drivers::ClaimPrepareRequest> SelectForDriver(const ResourceClaim& claim,
                                                             const SelectOptions& options) {
  // Our configs, validated, in the order they apply.
  std::vector<const AllocationConfig*> ours;
  for (std::string_view source : {"FromClass", "FromClaim"}) {
    for (size_t i = 0; i < claim.configs.size(); ++i) {
      const AllocationConfig& c = claim.configs[i];
      if (c.driver != options.driver || c.source != source) continue;
      const std::string path = StrCat(base::json::Index(kConfigPath, i), ".opaque.parameters");
      if (!c.parameters.is_object()) {
        return base::json::TypeError(path, "object", c.parameters);
      }
      const size_t bytes =
          c.parameters.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).size();
      if (bytes > options.max_opaque_parameters_bytes) {
        return absl::InvalidArgumentError(StrCat(path, ": ", bytes, " bytes, more than the ",
                                                 options.max_opaque_parameters_bytes, " allowed"));
      }
      ours.push_back(&c);
    }
  }
  for (size_t i = 0; i < claim.configs.size(); ++i) {
    const AllocationConfig& c = claim.configs[i];
    if (c.driver == options.driver && c.source != "FromClass" && c.source != "FromClaim") {
      return absl::InvalidArgumentError(StrCat(base::json::Index(kConfigPath, i),
                                               ".source: ", base::Quote(c.source),
                                               " is not FromClass or FromClaim"));
    }
  }

  drivers::ClaimPrepareRequest request;
  request.claim_uid = claim.uid;
  request.claim_namespace = claim.namespace_;
  request.claim_name = claim.name;
  const std::string_view domain = DomainOf(options.driver);
  std::set<std::pair<std::string, std::string>> seen;  // (device, share id)
  for (size_t i = 0; i < claim.results.size(); ++i) {
    const AllocationResult& r = claim.results[i];
    const std::string path = base::json::Index(kResultsPath, i);
    if (r.driver != options.driver) {
      if (!domain.empty() && DomainOf(r.driver) == domain) {
        request.peers.push_back({.driver = r.driver,
                                 .device = r.device,
                                 .request = std::string(BaseRequestName(r.request))});
      }
      continue;
    }
    if (r.pool != options.pool) {
      return absl::InvalidArgumentError(StrCat(path, ".pool: ", base::Quote(r.pool),
                                               " is not this node's pool ",
                                               base::Quote(options.pool)));
    }
    if (r.device.empty()) return absl::InvalidArgumentError(StrCat(path, ".device: empty"));
    if (BaseRequestName(r.request).empty()) {
      return absl::InvalidArgumentError(StrCat(path, ".request: empty"));
    }
    // The share id ends up in CDI device names: a UUID, nothing else.
    if (!std::all_of(r.share_id.begin(), r.share_id.end(), [](char c) {
          return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 c == '-';
        })) {
      return absl::InvalidArgumentError(
          StrCat(path, ".shareID: ", base::Quote(r.share_id), " is not a UUID"));
    }
    if (!seen.emplace(r.device, r.share_id).second) {
      return absl::InvalidArgumentError(
          StrCat(path, ": device ", base::Quote(r.device), " is allocated twice"));
    }
    drivers::DeviceAllocation d;
    d.request = std::string(BaseRequestName(r.request));
    d.device = r.device;
    d.share_id = r.share_id;
    d.consumed_capacity = r.consumed_capacity;
    d.admin_access = r.admin_access;
    for (const AllocationConfig* c : ours) {
      if (Applies(*c, r.request)) {
        d.configs.push_back({.source = c->source, .parameters = c->parameters});
      }
    }
    request.devices.push_back(std::move(d));
  }
  if (request.devices.empty()) {
    return absl::FailedPreconditionError(
        StrCat("no device of the claim is allocated by driver ", options.driver));
  }
  return request;
}

}  // namespace tessera::agent
