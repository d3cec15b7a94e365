// Pure parsers for the small values the kernel and devices hand us.
//
// Sysfs values end in "\n", sometimes in NUL bytes (seen in real captures),
// sometimes carry padding. Every parser here takes the raw text, never throws,
// and answers InvalidArgument naming what it expected.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tessera::base {

// Strips trailing and leading whitespace and NUL bytes.
std::string_view TrimValue(std::string_view raw);

// Decimal integer, optionally signed ("-1", "42"). Surrounding whitespace/NULs ignored.
absl::StatusOr<int64_t> ParseInt64(std::string_view raw);
// Unsigned decimal integer.
absl::StatusOr<uint64_t> ParseUint64(std::string_view raw);
// Hexadecimal with or without "0x" ("0x10de", "10de"); at most 64 bits.
absl::StatusOr<uint64_t> ParseHex(std::string_view raw);
// Boolean as the kernel and users write it: 1/0, true/false, yes/no, on/off.
absl::StatusOr<bool> ParseBool(std::string_view raw);
// Byte quantity with an optional binary or decimal suffix:
// "1024", "64Ki", "80Gi", "16G", "512 MB", "40960 MiB", "65536 kB" (meminfo style, KiB).
absl::StatusOr<uint64_t> ParseBytes(std::string_view raw);

}  // namespace tessera::base
