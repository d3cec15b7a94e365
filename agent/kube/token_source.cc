#include "agent/kube/token_source.h"

#include "base/log.h"
#include "base/status.h"
#include "base/strings.h"

namespace tessera::agent::kube {

TokenSource::TokenSource(std::string fixed_token, std::string token_file,
                         const base::Filesystem& fs, base::Clock& clock,
                         std::chrono::seconds refresh)
    : fixed_(std::move(fixed_token)),
      file_(std::move(token_file)),
      fs_(fs),
      clock_(clock),
      refresh_(refresh) {}

absl::StatusOr<std::string> TokenSource::Token() {
  if (file_.empty()) return fixed_;
  absl::MutexLock lock(&mu_);
  base::Clock::MonoTime now = clock_.MonotonicNow();
  if (cached_ && !stale_ && now - read_at_ < refresh_) return *cached_;
  absl::StatusOr<std::string> text = fs_.ReadFile(file_, 64 << 10);
  if (!text.ok()) {
    if (cached_) {
      // Keep serving the last token; the file may be in the middle of a swap.
      static auto log = base::log::Get("kube");
      log->warn("re-read token file failed, keeping the last token file={} error={}", file_,
                base::Std(text.status().message()));
      read_at_ = now;
      stale_ = false;
      return *cached_;
    }
    return base::Annotate(text.status(), base::StrCat("read token file ", file_));
  }
  cached_ = std::string(base::StripWhitespace(*text));
  read_at_ = now;
  stale_ = false;
  return *cached_;
}

void TokenSource::Invalidate() {
  absl::MutexLock lock(&mu_);
  stale_ = true;
}

}  // namespace tessera::agent::kube
