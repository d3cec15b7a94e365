#include "agent/debug/cli.h"

#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"

#include "agent/debug/command.h"
#include "base/log.h"
#include "base/strings.h"

namespace tessera::agent::debug {

int RunNodeDebug(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app(
      "Shows what the Tessera agent sees on this node: NUMA nodes, PCIe tree, GPUs, NPUs and "
      "NICs, and how they are connected.\n"
      "Every command reads the live host by default, a captured root with --sysfs-root, or an "
      "hwloc XML export with --hwloc-xml.",
      "node-debug");
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand
  std::string log_levels = "error";
  app.add_option(
         "--log-level", log_levels,
         "Log level, optionally per module: \"info\" or \"warn,topology=debug\"; logs go to stderr")
      ->capture_default_str();

  std::vector<std::unique_ptr<Command>> commands = AllCommands();
  std::vector<std::pair<CLI::App*, Command*>> subcommands;
  for (const std::unique_ptr<Command>& command : commands) {
    CLI::App* sub =
        app.add_subcommand(std::string(command->name()), std::string(command->summary()));
    command->AddOptions(*sub);
    subcommands.emplace_back(sub, command.get());
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    return code == 0 ? 0 : 2;
  }

  auto options = base::log::ParseLevels(log_levels);
  if (!options.ok()) {
    err << "node-debug: --log-level: " << base::Std(options.status().message()) << "\n";
    return 2;
  }
  if (absl::Status s = base::log::Init(*options); !s.ok()) {
    err << "node-debug: " << base::Std(s.message()) << "\n";
    return 1;
  }

  for (auto& [sub, command] : subcommands) {
    if (!sub->parsed()) continue;
    absl::Status status = command->Run(out);
    out.flush();
    if (!status.ok()) {
      err << "node-debug " << command->name() << ": " << base::Std(status.message()) << " ["
          << absl::StatusCodeToString(status.code()) << "]\n";
      return 1;
    }
    return 0;
  }
  return 2;  // unreachable: require_subcommand(1)
}

}  // namespace tessera::agent::debug
