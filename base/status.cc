#include "base/status.h"
#include "base/strings.h"

#include <string>


namespace tessera::base {

absl::Status Annotate(const absl::Status& status, std::string_view context) {
  if (status.ok()) return status;
  absl::Status annotated(status.code(), StrCat(context, ": ", Std(status.message())));
  status.ForEachPayload([&annotated](absl::string_view url, const absl::Cord& payload) {
    annotated.SetPayload(url, payload);
  });
  return annotated;
}

absl::Status ErrnoStatus(int error_number, std::string_view what) {
  // absl appends ": <strerror>" and maps the code (ENOENT -> NotFound, ...).
  return absl::ErrnoToStatus(error_number, Absl(what));
}

}  // namespace tessera::base
