// Command: one node-debug subcommand (topology, matrix, devices, snapshot,
// and later kubelet, slices, claims). Each lives in its own <name>_command.cc
// with a factory listed once in commands.cc (NODE_DEBUG_COMMANDS).
//
// Lifecycle: the CLI creates every command, lets each add its options to its
// own CLI::App, parses argv once, then calls Run() on the one selected.
// Single-threaded; owned by the CLI for the length of one invocation.
#pragma once

#include <memory>
#include <ostream>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace CLI {
class App;
}  // namespace CLI

namespace tessera::agent::debug {

class Command {
 public:
  virtual ~Command() = default;
  Command() = default;
  Command(const Command&) = delete;
  Command& operator=(const Command&) = delete;

  virtual std::string_view name() const = 0;     // "topology"
  virtual std::string_view summary() const = 0;  // one line for --help
  // Registers the command's options, flags and positionals on `app` (the
  // subcommand's own App); the values land in the command's members.
  virtual void AddOptions(CLI::App& app) = 0;
  // Does the work, writing results to `out`. A non-OK status is printed by
  // the CLI and becomes exit code 1.
  virtual absl::Status Run(std::ostream& out) = 0;
};

// Every subcommand, in --help order.
std::vector<std::unique_ptr<Command>> AllCommands();

}  // namespace tessera::agent::debug
