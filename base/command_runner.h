// CommandRunner: runs host tools (nvidia-smi, nvidia-cuda-mps-control, npu-smi,
// hl-smi) behind a seam. Drivers build the argv; tests point the real runner at
// recording stand-in executables, or use a fake, and assert the exact commands.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tessera::base {

struct Command {
  std::vector<std::string> argv;  // argv[0] is a path or a name looked up in PATH
  std::vector<std::string> env;   // "K=V" added to (and overriding) the agent's environment
  std::string stdin_data;
  std::chrono::milliseconds timeout{10000};
};

struct CommandResult {
  int exit_code = 0;  // 128+N when killed by signal N
  std::string stdout_data;
  std::string stderr_data;
};

class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  CommandRunner() = default;
  CommandRunner(const CommandRunner&) = delete;
  CommandRunner& operator=(const CommandRunner&) = delete;

  // Runs the command to completion. A non-zero exit is not an error here: the
  // caller decides. Errors: NotFound (no such executable), DeadlineExceeded
  // (killed after the timeout), or the errno of a failed spawn. Thread-safe.
  virtual absl::StatusOr<CommandResult> Run(const Command& command) = 0;
};

// fork/exec with pipes; kills the whole process group on timeout. Output is
// capped at 4 MiB per stream.
class ProcessCommandRunner final : public CommandRunner {
 public:
  absl::StatusOr<CommandResult> Run(const Command& command) override;
};

}  // namespace tessera::base
