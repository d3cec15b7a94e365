#include "agent/kube/claim_reader.h"

#include <cctype>

#include "agent/kube/slice_validation.h"
#include "agent/kube/yaml_json.h"
#include "base/json_util.h"
#include "base/quantity.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace tessera::agent::kube {

using Json = nlohmann::json;

namespace {

using base::StrCat;
namespace json = base::json;

absl::Status InvalidClaim(std::string_view path, std::string_view why) {
  return absl::InvalidArgumentError(StrCat(path, ": ", why));
}

// RFC 4122 normalized form: 8-4-4-4-12 lower-case hex.
bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
      return false;
    }
  }
  return true;
}

// "<req>" or "<req>/<subreq>", each a DNS label.
absl::Status CheckRequestName(std::string_view value, std::string_view path) {
  std::vector<std::string_view> parts = base::Split(value, '/');
  if (parts.size() > 2)
    return InvalidClaim(path, StrCat(base::Quote(value), ": more than one '/'"));
  for (std::string_view p : parts) {
    if (std::vector<std::string> e = IsDns1123Label(p); !e.empty()) {
      return InvalidClaim(path, StrCat(base::Quote(value), ": ", e.front()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<AllocationResult> ParseResult(const Json& r, const std::string& path) {
  if (!r.is_object()) return json::TypeError(path, "object", r);
  AllocationResult out;
  ASSIGN_OR_RETURN(out.request, json::GetString(r, path, "request"));
  RETURN_IF_ERROR(CheckRequestName(out.request, json::Field(path, "request")));
  ASSIGN_OR_RETURN(out.driver, json::GetString(r, path, "driver"));
  if (std::vector<std::string> e = IsDriverName(out.driver); !e.empty()) {
    return InvalidClaim(json::Field(path, "driver"),
                        StrCat(base::Quote(out.driver), ": ", e.front()));
  }
  ASSIGN_OR_RETURN(out.pool, json::GetString(r, path, "pool"));
  if (out.pool.empty()) return InvalidClaim(json::Field(path, "pool"), "must not be empty");
  for (std::string_view part : base::Split(out.pool, '/')) {
    if (std::vector<std::string> e = IsDns1123Subdomain(part); !e.empty()) {
      return InvalidClaim(json::Field(path, "pool"),
                          StrCat(base::Quote(out.pool), ": ", e.front()));
    }
  }
  ASSIGN_OR_RETURN(out.device, json::GetString(r, path, "device"));
  if (std::vector<std::string> e = IsDns1123Label(out.device); !e.empty()) {
    return InvalidClaim(json::Field(path, "device"),
                        StrCat(base::Quote(out.device), ": ", e.front()));
  }
  ASSIGN_OR_RETURN(std::optional<std::string> share, json::GetOptionalString(r, path, "shareID"));
  if (share) {
    if (!IsUuid(*share)) {
      return InvalidClaim(json::Field(path, "shareID"),
                          StrCat(base::Quote(*share), ": not a lower-case RFC 4122 UUID"));
    }
    out.share_id = *share;
  }
  ASSIGN_OR_RETURN(std::optional<bool> admin, json::GetOptionalBool(r, path, "adminAccess"));
  out.admin_access = admin.value_or(false);
  ASSIGN_OR_RETURN(const Json* consumed, json::GetOptionalObject(r, path, "consumedCapacity"));
  if (consumed != nullptr) {
    std::string cpath = json::Field(path, "consumedCapacity");
    for (auto it = consumed->begin(); it != consumed->end(); ++it) {
      std::string qpath = StrCat(cpath, "[", it.key(), "]");
      if (!it->is_string() && !it->is_number()) return json::TypeError(qpath, "quantity", *it);
      absl::StatusOr<base::Quantity> q =
          base::Quantity::Parse(it->is_string() ? it->get<std::string>() : it->dump());
      if (!q.ok()) return base::Annotate(q.status(), qpath);
      out.consumed_capacity[it.key()] = *q;
    }
  }
  return out;
}

// nullopt for config entries that are not opaque (other kinds may appear in
// later API versions; a driver ignores what it does not know).
absl::StatusOr<std::optional<AllocationConfig>> ParseConfig(const Json& c,
                                                            const std::string& path) {
  if (!c.is_object()) return json::TypeError(path, "object", c);
  AllocationConfig out;
  ASSIGN_OR_RETURN(out.source, json::GetString(c, path, "source"));
  if (out.source != "FromClass" && out.source != "FromClaim") {
    return InvalidClaim(json::Field(path, "source"),
                        StrCat(base::Quote(out.source), ": must be FromClass or FromClaim"));
  }
  ASSIGN_OR_RETURN(const Json* requests, json::GetOptionalArray(c, path, "requests"));
  if (requests != nullptr) {
    std::string rpath = json::Field(path, "requests");
    for (size_t i = 0; i < requests->size(); ++i) {
      const Json& r = (*requests)[i];
      if (!r.is_string()) return json::TypeError(json::Index(rpath, i), "string", r);
      RETURN_IF_ERROR(CheckRequestName(r.get<std::string>(), json::Index(rpath, i)));
      out.requests.push_back(r.get<std::string>());
    }
  }
  ASSIGN_OR_RETURN(const Json* opaque, json::GetOptionalObject(c, path, "opaque"));
  if (opaque == nullptr) return std::optional<AllocationConfig>();
  std::string opath = json::Field(path, "opaque");
  ASSIGN_OR_RETURN(out.driver, json::GetString(*opaque, opath, "driver"));
  if (std::vector<std::string> e = IsDriverName(out.driver); !e.empty()) {
    return InvalidClaim(json::Field(opath, "driver"),
                        StrCat(base::Quote(out.driver), ": ", e.front()));
  }
  ASSIGN_OR_RETURN(const Json* parameters, json::GetObject(*opaque, opath, "parameters"));
  out.parameters = *parameters;
  return std::optional<AllocationConfig>(std::move(out));
}

}  // namespace

absl::StatusOr<ResourceClaim> ParseResourceClaim(const Json& claim) {
  if (!claim.is_object()) return json::TypeError("resourceclaim", "object", claim);
  ASSIGN_OR_RETURN(std::optional<std::string> api_version,
                   json::GetOptionalString(claim, "", "apiVersion"));
  if (api_version && *api_version != "resource.k8s.io/v1") {
    return InvalidClaim("apiVersion",
                        StrCat(base::Quote(*api_version), ": want resource.k8s.io/v1"));
  }
  ASSIGN_OR_RETURN(std::optional<std::string> kind, json::GetOptionalString(claim, "", "kind"));
  if (kind && *kind != "ResourceClaim") {
    return InvalidClaim("kind", StrCat(base::Quote(*kind), ": want ResourceClaim"));
  }
  ResourceClaim out;
  ASSIGN_OR_RETURN(const Json* meta, json::GetObject(claim, "", "metadata"));
  ASSIGN_OR_RETURN(out.namespace_, json::GetString(*meta, "metadata", "namespace"));
  ASSIGN_OR_RETURN(out.name, json::GetString(*meta, "metadata", "name"));
  ASSIGN_OR_RETURN(out.uid, json::GetString(*meta, "metadata", "uid"));
  if (out.uid.empty()) return InvalidClaim("metadata.uid", "must not be empty");
  ASSIGN_OR_RETURN(std::optional<std::string> rv,
                   json::GetOptionalString(*meta, "metadata", "resourceVersion"));
  out.resource_version = rv.value_or("");

  ASSIGN_OR_RETURN(const Json* status, json::GetOptionalObject(claim, "", "status"));
  if (status == nullptr) return out;
  ASSIGN_OR_RETURN(const Json* allocation,
                   json::GetOptionalObject(*status, "status", "allocation"));
  if (allocation == nullptr) return out;
  out.allocated = true;
  ASSIGN_OR_RETURN(const Json* devices,
                   json::GetOptionalObject(*allocation, "status.allocation", "devices"));
  if (devices == nullptr) return out;
  constexpr char kDevices[] = "status.allocation.devices";
  ASSIGN_OR_RETURN(const Json* results, json::GetOptionalArray(*devices, kDevices, "results"));
  if (results != nullptr) {
    std::string path = json::Field(kDevices, "results");
    if (results->size() > kMaxAllocationResults) {
      return InvalidClaim(
          path, StrCat("too many entries: ", results->size(), " > ", kMaxAllocationResults));
    }
    for (size_t i = 0; i < results->size(); ++i) {
      ASSIGN_OR_RETURN(AllocationResult r, ParseResult((*results)[i], json::Index(path, i)));
      out.results.push_back(std::move(r));
    }
  }
  ASSIGN_OR_RETURN(const Json* configs, json::GetOptionalArray(*devices, kDevices, "config"));
  if (configs != nullptr) {
    std::string path = json::Field(kDevices, "config");
    if (configs->size() > kMaxAllocationConfigs) {
      return InvalidClaim(
          path, StrCat("too many entries: ", configs->size(), " > ", kMaxAllocationConfigs));
    }
    for (size_t i = 0; i < configs->size(); ++i) {
      ASSIGN_OR_RETURN(std::optional<AllocationConfig> c,
                       ParseConfig((*configs)[i], json::Index(path, i)));
      if (c) out.configs.push_back(*std::move(c));
    }
  }
  return out;
}

absl::StatusOr<ResourceClaim> RestClaimSource::GetClaim(std::string_view namespace_,
                                                        std::string_view name) {
  ASSIGN_OR_RETURN(Json claim, client_.GetResourceClaim(namespace_, name));
  return base::Annotate(ParseResourceClaim(claim),
                        StrCat("parse resourceclaim ", namespace_, "/", name));
}

absl::StatusOr<ResourceClaim> ReadClaimFile(const base::Filesystem& fs, const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, fs.ReadFile(path, 4 << 20));
  ASSIGN_OR_RETURN(Json claim, YamlToJson(text, StrCat("resourceclaim file ", path)));
  return base::Annotate(ParseResourceClaim(claim), StrCat("resourceclaim file ", path));
}

absl::StatusOr<ResourceClaim> FileClaimSource::GetClaim(std::string_view namespace_,
                                                        std::string_view name) {
  std::string what = StrCat("get resourceclaim ", namespace_, "/", name);
  // Both become path components: only valid Kubernetes names get that far.
  if (std::vector<std::string> e = IsDns1123Label(namespace_); !e.empty()) {
    return absl::InvalidArgumentError(StrCat(what, ": namespace: ", e.front()));
  }
  if (std::vector<std::string> e = IsDns1123Subdomain(name); !e.empty()) {
    return absl::InvalidArgumentError(StrCat(what, ": name: ", e.front()));
  }
  std::string base = StrCat(dir_, "/resourceclaims/", namespace_, "/", name);
  for (const char* ext : {".yaml", ".yml", ".json"}) {
    std::string path = StrCat(base, ext);
    if (!fs_.Exists(path)) continue;
    return ReadClaimFile(fs_, path);
  }
  return absl::NotFoundError(StrCat(what, ": no file ", base, ".yaml (or .yml, .json)"));
}

}  // namespace tessera::agent::kube
