// Helpers around absl::Status: context on the way up, errno conversion.
//
// Messages are lowercase, start with the operation and name the object:
//   return base::Annotate(s, "read numa_node of 0000:3b:00.0");
// gives "read numa_node of 0000:3b:00.0: open /sys/...: No such file or directory".
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tessera::base {

// Returns `status` with "<context>: " prepended to its message; the code and
// payloads are kept. An OK status is returned unchanged.
absl::Status Annotate(const absl::Status& status, std::string_view context);

template <typename T>
absl::StatusOr<T> Annotate(absl::StatusOr<T> value, std::string_view context) {
  if (value.ok()) return value;
  return Annotate(value.status(), context);
}

// Converts an errno value into a Status with a code that follows the table in
// house-style §2.3 (ENOENT -> NotFound, EACCES -> PermissionDenied, ...).
// The message is "<what>: <strerror>".
absl::Status ErrnoStatus(int error_number, std::string_view what);

}  // namespace tessera::base
