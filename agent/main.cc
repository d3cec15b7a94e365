// tessera-agent: parse flags, set up logging, run until SIGTERM/SIGINT.
#include <malloc.h>

#include <iostream>

#include "agent/app/agent.h"
#include "agent/app/signals.h"
#include "agent/flags.h"
#include "base/log.h"
#include "base/strings.h"

int main(int argc, char** argv) {
  // gRPC's and the publishers' threads would each get a glibc malloc arena
  // (up to 8 per core) and keep freed memory in it: two arenas bound the
  // footprint at no measurable cost for a daemon this size (BENCHMARKS.md).
  mallopt(M_ARENA_MAX, 2);
  // Fixed thresholds turn off glibc's dynamic ones, which after the first
  // large free (a checkpoint snapshot, a slice list) would serve every later
  // buffer of that size from the heap and keep it there: blocks of 128 KiB
  // and more are mmapped and given back on free, and a free heap top over
  // 128 KiB is returned at once.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  mallopt(M_TRIM_THRESHOLD, 128 * 1024);
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
    tessera::base::log::Get("agent")->critical("exiting error={}",
                                               tessera::base::Std(status.message()));
    return 1;
  }
  return 0;
}
