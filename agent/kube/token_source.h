// TokenSource: the bearer token of every API request. A fixed token, or a
// token file (the projected service account token, which the kubelet
// rotates by replacing the file) re-read at least every `refresh` and at
// once after Invalidate() (the client calls it on a 401), as client-go does.
//
// A failed re-read keeps the last good token (the rotation may be mid-way);
// the first read's failure is returned. Thread-safe; `fs` and `clock` must
// outlive the object.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "base/filesystem.h"

namespace tessera::agent::kube {

class TokenSource {
 public:
  TokenSource(std::string fixed_token, std::string token_file, const base::Filesystem& fs,
              base::Clock& clock, std::chrono::seconds refresh);

  // "" when there is neither a token nor a file (no Authorization header).
  absl::StatusOr<std::string> Token();
  // The next Token() reads the file again.
  void Invalidate();
  bool from_file() const { return !file_.empty(); }

 private:
  const std::string fixed_;
  const std::string file_;
  const base::Filesystem& fs_;
  base::Clock& clock_;
  const std::chrono::seconds refresh_;
  absl::Mutex mu_;
  std::optional<std::string> cached_ ABSL_GUARDED_BY(mu_);
  base::Clock::MonoTime read_at_ ABSL_GUARDED_BY(mu_);
  bool stale_ ABSL_GUARDED_BY(mu_) = true;
};

}  // namespace tessera::agent::kube
