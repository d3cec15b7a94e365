// ConnectCluster: the one call the agent makes to get its KubeClient and
// ClaimSource for the mode it runs in (kube_config.h SelectClusterMode):
//   kubeconfig  RestKubeClient from --kubeconfig (and --context)
//   in-cluster  RestKubeClient from the service account
//   standalone  FileKubeClient + FileClaimSource on <state-dir>/cluster
// plus whether slices need the Node as owner (not in standalone mode).
// Errors are those of the config loaders and client factories, annotated.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"

#include "agent/claims/claim_source.h"
#include "agent/kube/kube_client.h"
#include "agent/kube/kube_config.h"
#include "agent/kube/rest_kube_client.h"
#include "base/clock.h"
#include "base/filesystem.h"
#include "base/metrics.h"

namespace tessera::agent::kube {

struct ClusterOptions {
  std::string kubeconfig;  // --kubeconfig; empty: in-cluster or standalone
  std::string context;     // --context; empty: current-context
  InClusterEnv env;        // KUBERNETES_SERVICE_HOST / _PORT as read by flags.cc
  std::string service_account_dir = kServiceAccountDir;
  std::string state_dir;  // standalone store: <state_dir>/cluster
  RestOptions rest;
};

struct Cluster {
  ClusterMode mode = ClusterMode::kStandalone;
  std::string description;  // for the startup log: "kubeconfig ... context ...", "standalone <dir>"
  bool require_node_owner = true;
  std::unique_ptr<KubeClient> client;
  std::unique_ptr<ClaimSource> claims;  // uses `client` or the files; destroyed first
};

// `fs`, `clock` and `metrics` must outlive the returned Cluster.
absl::StatusOr<Cluster> ConnectCluster(base::Filesystem& fs, base::Clock& clock,
                                       base::metrics::Registry& metrics,
                                       const ClusterOptions& options);

}  // namespace tessera::agent::kube
