// PluginServer: one DRA driver's presence on the node, as the kubelet sees
// it. Create() brings up, in this order (dra-api-facts.md §1, §6.1):
//
//   1. <plugin-dir>/<driver>/ (created 0700 when missing), stale DRA socket
//      unlinked, the DRA gRPC server listening on dra[-<poduid>].sock (0600)
//      with v1.DRAPlugin, v1beta1.DRAPlugin and v1alpha1.DRAResourceHealth;
//   2. only then the registration server on <registry-dir>/<driver>-reg.sock
//      (stale socket unlinked first, 0600), so that the kubelet, which reacts
//      to the registration socket appearing, always finds every advertised
//      service already serving.
//
// Stop() undoes this in reverse: the registration socket goes first (the
// kubelet deregisters the plugin), then health streams end, the DRA server
// drains for at most `shutdown_grace`, and its socket goes. A socket is only
// unlinked while it is still the one this object created, so another
// instance's socket is never removed.
//
// With a pod uid (rolling updates) socket names carry the uid and prepare/
// unprepare calls are also serialized across instances with flock on
// <plugin-dir>/<driver>/serialize.lock (see serializer.h).
//
// Thread-safety: Stop() and the accessors are safe to call from any thread.
// The dependencies in PluginServerDeps must outlive the server.
#pragma once

#include <chrono>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "base/clock.h"
#include "base/filesystem.h"
#include "base/metrics.h"
#include "kubelet/claim_handler.h"
#include "kubelet/health_reporter.h"
#include "kubelet/health_service.h"
#include "kubelet/registration_service.h"
#include "kubelet/socket_paths.h"

namespace tessera::kubelet {

struct PluginServerOptions {
  std::string driver_name;  // e.g. "gpu.tessera.dev"
  std::string plugin_dir{kDefaultPluginDir};
  std::string registry_dir{kDefaultRegistryDir};
  // Non-empty enables rolling-update naming and the cross-instance flock.
  std::string pod_uid;
  // Serve and advertise v1alpha1.DRAResourceHealth.
  bool serve_health = true;
  std::chrono::nanoseconds health_resend_interval = kDefaultHealthResendInterval;
  // How long a prepare/unprepare waits for the serialization lock.
  std::chrono::milliseconds serialize_max_wait = std::chrono::seconds(40);
  // How long Stop() lets in-flight calls finish before cancelling them.
  std::chrono::milliseconds shutdown_grace = std::chrono::seconds(5);
};

struct PluginServerDeps {
  ClaimHandler& claims;
  HealthReporter& health;
  base::Clock& clock;
  base::Filesystem& fs;  // creates the plugin and registry directories
  base::metrics::Registry& metrics;
};

class PluginServer final {
 public:
  // Starts both servers as described above. Errors: InvalidArgument for bad
  // options (see ComputePluginPaths), FailedPrecondition when a non-socket
  // file sits at a socket path, the file system's code when a directory or
  // the lock file cannot be made, Unavailable when gRPC cannot listen.
  // Nothing is left listening or on disk when Create fails.
  static absl::StatusOr<std::unique_ptr<PluginServer>> Create(PluginServerOptions options,
                                                              PluginServerDeps deps);
  ~PluginServer();  // Stop()
  PluginServer(const PluginServer&) = delete;
  PluginServer& operator=(const PluginServer&) = delete;

  // Idempotent; blocks until both servers are down and the sockets removed.
  void Stop();

  const PluginPaths& paths() const { return paths_; }
  // What GetInfo answers.
  const PluginInfo& info() const;
  // The kubelet's last NotifyRegistrationStatus verdict.
  RegistrationState registration() const;
  // True once the kubelet reported a successful registration (and not a
  // failure since): the readiness condition "registered with the kubelet".
  bool registered() const;

 private:
  struct Impl;
  PluginServer(PluginServerOptions options, PluginServerDeps deps, PluginPaths paths);
  absl::Status Start();

  const PluginServerOptions options_;
  const PluginPaths paths_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::kubelet
