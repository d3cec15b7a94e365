// Lifecycle: the agent's ordered, named startup steps and their teardown
// (falco's action list). Each step returns a Status; Start() runs them in
// order, logs `step=<name> ok duration_ms=<n>` and stops at the first error.
// Stop() tears down every started step in reverse order, always, also after a
// failed start. Single-threaded: owned by the agent's main thread.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/clock.h"

namespace tessera::agent {

class Lifecycle {
 public:
  using StartFn = std::function<absl::Status()>;
  using StopFn = std::function<void()>;

  explicit Lifecycle(base::Clock& clock) : clock_(clock) {}
  ~Lifecycle() { Stop(); }
  Lifecycle(const Lifecycle&) = delete;
  Lifecycle& operator=(const Lifecycle&) = delete;

  // REQUIRES: Start() not yet called.
  void AddStep(std::string name, StartFn start, StopFn stop = {});

  // Runs the steps; returns the first failure annotated with the step name.
  absl::Status Start();
  // Runs the stop functions of started steps in reverse. Idempotent.
  void Stop();

  struct StepTiming {
    std::string name;
    std::chrono::microseconds duration;
    bool ok;
  };
  const std::vector<StepTiming>& timings() const { return timings_; }

 private:
  struct Step {
    std::string name;
    StartFn start;
    StopFn stop;
  };
  base::Clock& clock_;
  std::vector<Step> steps_;
  size_t started_ = 0;
  std::vector<StepTiming> timings_;
};

}  // namespace tessera::agent
