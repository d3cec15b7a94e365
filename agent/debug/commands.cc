// The list of node-debug subcommands. Adding one: write <name>_command.cc
// defining Make<Name>Command(), add it to CMakeLists.txt, add X(<Name>) here.
#include "agent/debug/command.h"

#define NODE_DEBUG_COMMANDS(X) \
  X(Topology)                  \
  X(Matrix)                    \
  X(Devices)                   \
  X(Snapshot)

namespace tessera::agent::debug {

#define TESSERA_DECLARE_COMMAND(Name) std::unique_ptr<Command> Make##Name##Command();
NODE_DEBUG_COMMANDS(TESSERA_DECLARE_COMMAND)
#undef TESSERA_DECLARE_COMMAND

std::vector<std::unique_ptr<Command>> AllCommands() {
  std::vector<std::unique_ptr<Command>> out;
#define TESSERA_ADD_COMMAND(Name) out.push_back(Make##Name##Command());
  NODE_DEBUG_COMMANDS(TESSERA_ADD_COMMAND)
#undef TESSERA_ADD_COMMAND
  return out;
}

}  // namespace tessera::agent::debug
