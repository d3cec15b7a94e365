#include "agent/app/lifecycle.h"

#include "base/log.h"
#include "base/status.h"
#include "base/strings.h"

namespace tessera::agent {
namespace {
std::shared_ptr<spdlog::logger> Log() {
  static auto log = base::log::Get("agent");
  return log;
}
}  // namespace

void Lifecycle::AddStep(std::string name, StartFn start, StopFn stop) {
  steps_.push_back({std::move(name), std::move(start), std::move(stop)});
}

absl::Status Lifecycle::Start() {
  for (; started_ < steps_.size(); ++started_) {
    Step& step = steps_[started_];
    auto begin = clock_.MonotonicNow();
    absl::Status status = step.start ? step.start() : absl::OkStatus();
    auto took = std::chrono::duration_cast<std::chrono::microseconds>(clock_.MonotonicNow() - begin);
    timings_.push_back({step.name, took, status.ok()});
    if (!status.ok()) {
      Log()->error("startup step failed step={} duration_ms={:.3f} error={}", step.name,
                   took.count() / 1000.0, base::Std(status.message()));
      return base::Annotate(status, base::StrCat("startup step ", step.name));
    }
    Log()->info("startup step ok step={} duration_ms={:.3f}", step.name, took.count() / 1000.0);
  }
  return absl::OkStatus();
}

void Lifecycle::Stop() {
  while (started_ > 0) {
    Step& step = steps_[--started_];
    if (!step.stop) continue;
    auto begin = clock_.MonotonicNow();
    step.stop();
    auto took = std::chrono::duration_cast<std::chrono::microseconds>(clock_.MonotonicNow() - begin);
    Log()->info("shutdown step done step={} duration_ms={:.3f}", step.name, took.count() / 1000.0);
  }
}

}  // namespace tessera::agent
