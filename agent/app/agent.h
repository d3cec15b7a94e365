// Agent: composes every layer into the running tessera-agent.
//
// One Agent holds, per enabled driver family, a DriverRuntime: the
// DeviceDriver, its DeviceState (checkpoint + CDI, the kubelet's
// ClaimHandler), its PluginServer (registration, DRA and health sockets),
// its HealthReporter and its ResourceSlice Publisher. Start() runs the named
// startup steps (Lifecycle) in this order:
//
//   open_host        state/CDI dirs, boot id, the sysfs the drivers read
//   discover         the node model (live host, --sysfs-root or --hwloc-xml)
//   create_drivers   drivers/registry.cc's explicit list, first inventory
//   connect_api      kubeconfig, in-cluster, or the standalone file store
//   restore_claims   per driver: checkpoint, reconcile, driver state
//   start_kubelet_plugins  DRA socket first, then registration
//   start_publishers slices for every pool; informers/watchers
//   start_rescan     the level-triggered rescan loop (interval + events)
//   serve_metrics    /metrics, /healthz, /readyz when --metrics-addr is set
//
// and Stop() tears them down in reverse. RunAgent() is what main() calls.
//
// Thread-safety: Start/Stop from one thread; Ready() and the accessors from
// any thread.
#pragma once

#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/config.h"
#include "base/clock.h"
#include "base/command_runner.h"
#include "base/filesystem.h"
#include "base/metrics.h"

namespace tessera::agent {

// The seams the agent runs on. Production builds them in RunAgent(); tests
// may pass a FakeClock or a FaultyFilesystem. All must outlive the Agent.
struct Host {
  base::Clock& clock;
  base::Filesystem& fs;
  base::CommandRunner& commands;
  base::metrics::Registry& metrics;
};

class Agent {
 public:
  static absl::StatusOr<std::unique_ptr<Agent>> Create(Config config, Host host);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Runs the startup steps; on failure the steps already started are torn
  // down by Stop() (also called by the destructor).
  absl::Status Start();
  void Stop();

  // Readiness: "" when every driver is registered with the kubelet and has
  // published its slices, else one reason per driver that is not.
  std::string NotReadyReason() const;
  // The driver names this agent serves ("gpu.tessera.dev", ...).
  std::vector<std::string> driver_names() const;
  // Forces a rescan of every driver now (tests, SIGHUP).
  void TriggerRescan();
  // The number of completed rescans (tests).
  uint64_t rescans() const;
  // The port /metrics, /healthz and /readyz are served on; 0 when
  // --metrics-addr is empty or before serve_metrics ran.
  int metrics_port() const;

 private:
  struct Impl;
  explicit Agent(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Builds the production Host, starts an Agent, waits for `stop`, stops it.
absl::Status RunAgent(const Config& config, std::stop_token stop);

}  // namespace tessera::agent
