// fake-apiserver: the strict test API server as a process, for manual runs
// and benchmarks: `fake-apiserver --port 8080 --fault-rate 0.3 --node node-a`.
#include <csignal>
#include <iostream>

#include "CLI/CLI.hpp"
#include "test/fake_apiserver/cli.h"

int main(int argc, char** argv) {
  tessera::testing::FakeApiServerFlags flags;
  CLI::App app{"Strict fake Kubernetes API server (ResourceSlices, Nodes, ResourceClaims)"};
  tessera::testing::AddFlags(app, flags);
  CLI11_PARSE(app, argc, argv);
  try {
    return tessera::testing::RunFakeApiServer(flags, std::cout);
  } catch (const std::exception& e) {  // last resort: nothing in the server throws by design
    std::cerr << "fake-apiserver: " << e.what() << "\n";
    return 1;
  }
}
