// SHA-256 (FIPS 180-4) for the few places that must reproduce an upstream
// name derived from a digest: the rolling-update registration socket name
// (socket_paths.cc). Not for security decisions; no OpenSSL dependency.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace tessera::kubelet::internal {

// The 32-byte digest of `data`. Pure; thread-safe.
std::array<uint8_t, 32> Sha256(std::string_view data);

// The digest as 64 lowercase hex characters.
std::string Sha256Hex(std::string_view data);

}  // namespace tessera::kubelet::internal
