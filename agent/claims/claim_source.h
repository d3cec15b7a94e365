// ClaimSource: where prepare reads a ResourceClaim from. The API server in a
// cluster (agent/kube: RestClaimSource), the file-backed store in standalone
// mode (agent/kube: FileClaimSource), an in-memory fake in tests.
//
// The claim is returned parsed but unfiltered; DeviceState checks the uid and
// allocation and keeps this driver's results and configs (SelectForDriver).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/quantity.h"
#include "nlohmann/json.hpp"

namespace tessera::agent {

// status.allocation.devices.results[] of resource.k8s.io/v1.
struct AllocationResult {
  std::string request;  // "<req>" or "<req>/<subreq>"
  std::string driver;
  std::string pool;
  std::string device;
  std::string share_id;  // shareID, "" when absent
  std::map<std::string, base::Quantity> consumed_capacity;
  bool admin_access = false;
};

// status.allocation.devices.config[] with an opaque entry.
struct AllocationConfig {
  std::string source;                 // "FromClass" or "FromClaim"
  std::vector<std::string> requests;  // empty = all requests
  std::string driver;                 // opaque.driver
  nlohmann::json parameters;          // opaque.parameters (a JSON object)
};

struct ResourceClaim {
  std::string namespace_;
  std::string name;
  std::string uid;
  std::string resource_version;
  bool allocated = false;  // status.allocation present
  std::vector<AllocationResult> results;
  std::vector<AllocationConfig> configs;
};

class ClaimSource {
 public:
  virtual ~ClaimSource() = default;
  ClaimSource() = default;
  ClaimSource(const ClaimSource&) = delete;
  ClaimSource& operator=(const ClaimSource&) = delete;

  // NotFound when the claim does not exist; Unavailable / DeadlineExceeded for
  // transient API failures (after the client's own retries); InvalidArgument
  // when the object cannot be parsed (naming the field). Thread-safe.
  virtual absl::StatusOr<ResourceClaim> GetClaim(std::string_view namespace_,
                                                 std::string_view name) = 0;
};

}  // namespace tessera::agent
