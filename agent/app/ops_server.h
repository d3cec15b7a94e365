// OpsServer: the agent's operations endpoint on --metrics-addr.
//   /metrics  Prometheus text (base::metrics::Registry)
//   /healthz  200 while the process runs and its loops are alive
//   /readyz   200 once every driver is registered with the kubelet and its
//             slices are published; 503 with the reasons otherwise
// cpp-httplib is included only in ops_server.cc. Safe for concurrent use.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "base/metrics.h"

namespace tessera::agent {

// One readiness condition: returns "" when satisfied, else why not.
using ReadinessCheck = std::function<std::string()>;

class OpsServer {
 public:
  // Binds `address` ("127.0.0.1:9090", ":9090", "[::1]:0"; port 0 picks a free
  // one) and starts serving on a thread. `registry` must outlive the server.
  static absl::StatusOr<std::unique_ptr<OpsServer>> Start(const std::string& address,
                                                          base::metrics::Registry& registry);
  ~OpsServer();
  OpsServer(const OpsServer&) = delete;
  OpsServer& operator=(const OpsServer&) = delete;

  // Adds a named readiness condition. Thread-safe.
  void AddReadinessCheck(std::string name, ReadinessCheck check);
  // Liveness: an extra condition for /healthz (e.g. a loop's heartbeat).
  void AddLivenessCheck(std::string name, ReadinessCheck check);

  int port() const { return port_; }
  void Stop();

 private:
  struct Impl;
  explicit OpsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

// Splits "host:port" / ":port" / "[v6]:port". InvalidArgument when malformed.
absl::StatusOr<std::pair<std::string, int>> ParseHostPort(const std::string& address);

}  // namespace tessera::agent
