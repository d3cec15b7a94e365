// SelectForDriver: turns an allocated ResourceClaim into what one of our
// drivers prepares (DeviceDriver::PrepareClaim's request).
//
// Rules (dra-api-facts.md §3, §4; kubeletplugin helper behaviour):
//   - devices: the results whose driver is ours, in claim order; each result
//     must come from our pool (the node's) and name a device; the request is
//     reduced to its base name ("gpu/small" -> "gpu");
//   - configs: the opaque configs whose driver is ours, FromClass before
//     FromClaim, claim order within each; a config applies to a result when
//     its requests list is empty or names the result's base request or its
//     full "req/sub" name; parameters must be a JSON object of at most
//     `max_opaque_parameters_bytes` (10 KiB, the API limit) when serialized;
//   - peers: results of the same claim from our other drivers, i.e. drivers
//     "<family>.<our domain>" (a GPU driver sees the NICs it must pair with).
// Other drivers' configs are not ours to judge and are ignored.
//
// Pure function; thread-compatible.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

#include "agent/claims/claim_source.h"
#include "drivers/device_driver.h"

namespace tessera::agent {

struct SelectOptions {
  std::string driver;  // "gpu.tessera.dev"
  std::string pool;    // this node's pool, the node name
  size_t max_opaque_parameters_bytes = 10 * 1024;
};

// "gpu/small" -> "gpu"; "gpu" -> "gpu".
std::string_view BaseRequestName(std::string_view request);

// Fills claim_uid/namespace/name from `claim`. Errors name the field, e.g.
// InvalidArgument "status.allocation.devices.config[2].opaque.parameters: 12288
// bytes, more than the 10240 allowed"; FailedPrecondition when no result is
// ours (the kubelet should not have sent the claim to this driver).
absl::StatusOr<drivers::ClaimPrepareRequest> SelectForDriver(const ResourceClaim& claim,
                                                             const SelectOptions& options);

}  // namespace tessera::agent
