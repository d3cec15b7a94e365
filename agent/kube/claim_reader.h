// Reading ResourceClaims for prepare: the resource.k8s.io/v1 JSON parser and
// the two ClaimSources (agent/claims/claim_source.h) built on it.
//
//   RestClaimSource   GET /apis/resource.k8s.io/v1/namespaces/<ns>/resourceclaims/<name>
//                     through any KubeClient (RestKubeClient in a cluster).
//   FileClaimSource   standalone mode: <cluster-dir>/resourceclaims/<ns>/<name>.yaml
//                     (or .yml, .json), written by the user (docs/standalone.md).
//
// Both return the claim parsed but unfiltered; DeviceState checks uid and
// allocation and keeps its driver's results. Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

#include "agent/claims/claim_source.h"
#include "agent/kube/kube_client.h"
#include "base/filesystem.h"

namespace tessera::agent::kube {

// Limits of status.allocation.devices in resource.k8s.io/v1.
inline constexpr size_t kMaxAllocationResults = 32;
inline constexpr size_t kMaxAllocationConfigs = 64;

// Parses a ResourceClaim. InvalidArgument naming the field for anything
// malformed: a missing or mistyped field, a request name or shareID of the
// wrong form, a quantity that does not parse, opaque parameters that are not
// a JSON object, more results or configs than the API allows, another
// apiVersion/kind. Config entries of kinds other than `opaque` are skipped.
absl::StatusOr<ResourceClaim> ParseResourceClaim(const nlohmann::json& claim);

class RestClaimSource final : public ClaimSource {
 public:
  // `client` must outlive the source.
  explicit RestClaimSource(KubeClient& client) : client_(client) {}
  absl::StatusOr<ResourceClaim> GetClaim(std::string_view namespace_,
                                         std::string_view name) override;

 private:
  KubeClient& client_;
};

class FileClaimSource final : public ClaimSource {
 public:
  // `fs` must outlive the source; `cluster_dir` is <state-dir>/cluster.
  FileClaimSource(const base::Filesystem& fs, std::string cluster_dir)
      : fs_(fs), dir_(std::move(cluster_dir)) {}
  // InvalidArgument for a namespace/name that is not a valid Kubernetes name
  // (they become path components); NotFound when no file exists.
  absl::StatusOr<ResourceClaim> GetClaim(std::string_view namespace_,
                                         std::string_view name) override;

 private:
  const base::Filesystem& fs_;
  const std::string dir_;
};

// Reads a claim file (YAML or JSON) and parses it; errors name the file.
absl::StatusOr<ResourceClaim> ReadClaimFile(const base::Filesystem& fs, const std::string& path);

}  // namespace tessera::agent::kube
