// node-debug: shows what the Tessera agent sees on this node. See
// agent/debug/README.md and `node-debug --help`.
#include <iostream>

#include "agent/debug/cli.h"

int main(int argc, char** argv) {
  return tessera::agent::debug::RunNodeDebug(argc, argv, std::cout, std::cerr);
}
