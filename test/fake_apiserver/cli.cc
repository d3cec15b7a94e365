#include "test/fake_apiserver/cli.h"

#include <pthread.h>

#include <csignal>
#include <fstream>
#include <sstream>

#include "CLI/CLI.hpp"
#include "test/fake_apiserver/fake_apiserver.h"

namespace tessera::testing {

void AddFlags(CLI::App& app, FakeApiServerFlags& flags) {
  app.add_option("--port", flags.port, "port on 127.0.0.1 (0: any)");
  app.add_option("--fault-rate", flags.fault_rate, "probability of an injected fault per request")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--node", flags.nodes, "create a Node with this name (repeatable)");
  app.add_option("--disable-gate", flags.disabled_gates,
                 "feature gate whose fields are dropped (DRADeviceTaints, DRAPartitionableDevices, "
                 "DRAConsumableCapacity, DRADeviceBindingConditions)");
  app.add_option("--claim", flags.claim_files, "ResourceClaim JSON file to serve (repeatable)");
  app.add_option("--token", flags.token, "bearer token every request must carry");
}

int RunFakeApiServer(const FakeApiServerFlags& flags, std::ostream& out) {
  // Block the signals before any thread starts so that sigwait gets them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  FakeApiServer::Options options;
  options.port = flags.port;
  options.bearer_token = flags.token;
  options.store.disabled_gates = {flags.disabled_gates.begin(), flags.disabled_gates.end()};
  absl::StatusOr<std::unique_ptr<FakeApiServer>> server = FakeApiServer::Start(options);
  if (!server.ok()) {
    out << "fake-apiserver: " << server.status() << "\n";
    return 1;
  }
  for (const std::string& node : flags.nodes) (*server)->store().AddNode(node);
  for (const std::string& file : flags.claim_files) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    nlohmann::json claim = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
    if (!in || claim.is_discarded() || !claim.is_object() || !claim.contains("metadata") ||
        !claim["metadata"].is_object()) {
      out << "fake-apiserver: " << file << ": not a ResourceClaim JSON object\n";
      return 2;
    }
    (*server)->store().PutClaim(claim);
  }
  (*server)->SetFaults(Faults{.rate = flags.fault_rate});
  out << (*server)->url() << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  (*server)->Stop();
  return 0;
}

}  // namespace tessera::testing
