// Names of Tessera's per-claim CDI specs (ARCHITECTURE.md, "Decisions").
//
// For driver "gpu.tessera.dev" and claim uid U:
//   kind        k8s.gpu.tessera.dev/claim
//   file        k8s.gpu.tessera.dev-claim_U.json   (CDI's transient spec name)
//   device      U-<device>[-<first 8 characters of the share id>]
//   qualified   k8s.gpu.tessera.dev/claim=U-<device>
// Device names contain the claim uid because runtimes cache specs and reload
// only on a miss: a name must never be reused for another claim. The share id
// prefix keeps two shares of one device in one claim apart (KEP-5075).
//
// Pure functions; thread-compatible.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace tessera::kubelet::cdi {

inline constexpr std::string_view kClaimClass = "claim";

// "k8s.<driver>".
std::string VendorForDriver(std::string_view driver);
// "k8s.<driver>/claim".
std::string ClaimKind(std::string_view driver);
// "k8s.<driver>-claim_<claim_uid>.json".
std::string ClaimSpecFileName(std::string_view driver, std::string_view claim_uid);
// The claim uid of a file named by ClaimSpecFileName for `driver`, or nullopt
// for any other name (another driver's spec, a temp file, a static spec).
std::optional<std::string> ClaimUidFromSpecFileName(std::string_view driver,
                                                    std::string_view file_name);
// "<claim_uid>-<device>[-<share_id[:8]>]".
std::string ClaimDeviceName(std::string_view claim_uid, std::string_view device,
                            std::string_view share_id);
// "<kind>=<name>".
std::string QualifiedName(std::string_view kind, std::string_view name);

// A claim uid we accept in file and device names: 1 to 128 characters of
// [A-Za-z0-9-], starting and ending with a letter or digit (Kubernetes uids
// are RFC 4122 UUIDs). Rejects anything that could escape the CDI directory.
// InvalidArgument naming the uid.
absl::Status ValidateClaimUid(std::string_view claim_uid);

}  // namespace tessera::kubelet::cdi
