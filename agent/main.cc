// tessera-agent: parse flags, set up logging, run until SIGTERM/SIGINT.
#include <iostream>

#include "agent/app/agent.h"
#include "agent/app/signals.h"
#include "agent/flags.h"
#include "base/log.h"
#include "base/strings.h"

int main(int argc, char** argv) {
  tessera::agent::SignalWatcher signals;  // before any thread starts
  auto config = tessera::agent::ParseAgentFlags(argc, argv, std::cout);
  if (!config.ok()) {
    std::cerr << "tessera-agent: " << tessera::base::Std(config.status().message()) << "\n";
    return 2;
  }
  if (!config->has_value()) return 0;  // --help / --version
  if (absl::Status s = tessera::base::log::Init((*config)->log); !s.ok()) return 2;
  absl::Status status = tessera::agent::RunAgent(**config, signals.token());
  if (!status.ok()) {
    tessera::base::log::Get("agent")->critical("exiting error={}", tessera::base::Std(status.message()));
    return 1;
  }
  return 0;
}
