// Text that goes on the wire to the kubelet. Proto3 `string` fields must be
// valid UTF-8: Go's protobuf (the kubelet) rejects the whole message
// otherwise, which would turn one claim's odd error text into a failed call.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tessera::kubelet::internal {

// `text` with every invalid UTF-8 sequence replaced by U+FFFD.
std::string SanitizeUtf8(std::string_view text);

// At most `max_bytes` of valid UTF-8 `text`, cut on a character boundary; when
// cut, the result ends with "..." and still fits in `max_bytes`.
std::string TruncateUtf8(std::string_view text, size_t max_bytes);

// "gpu/large" -> "gpu": the kubelet matches containers to devices by base
// request name (DRA prioritized-list subrequests are "<request>/<sub>").
std::string_view BaseRequestName(std::string_view request_name);

}  // namespace tessera::kubelet::internal
