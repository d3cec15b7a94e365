// The fake-apiserver binary's flags and run loop, kept out of main().
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace tessera::testing {

struct FakeApiServerFlags {
  int port = 0;
  double fault_rate = 0;
  std::vector<std::string> nodes;           // Nodes to create
  std::vector<std::string> disabled_gates;  // e.g. DRADeviceTaints
  std::vector<std::string> claim_files;     // ResourceClaim JSON files to seed
  std::string token;                        // required bearer token
};

void AddFlags(CLI::App& app, FakeApiServerFlags& flags);

// Starts the server, prints its URL, serves until SIGINT/SIGTERM. Exit code.
int RunFakeApiServer(const FakeApiServerFlags& flags, std::ostream& out);

}  // namespace tessera::testing
