#include "agent/kube/cluster.h"

#include "agent/kube/claim_reader.h"
#include "agent/kube/file_kube_client.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace tessera::agent::kube {

absl::StatusOr<Cluster> ConnectCluster(base::Filesystem& fs, base::Clock& clock,
                                       base::metrics::Registry& metrics,
                                       const ClusterOptions& options) {
  Cluster cluster;
  cluster.mode =
      SelectClusterMode(fs, options.kubeconfig, options.env, options.service_account_dir);
  if (cluster.mode == ClusterMode::kStandalone) {
    if (options.state_dir.empty()) {
      return absl::InvalidArgumentError("connect cluster: standalone mode needs a state directory");
    }
    std::string dir = base::StrCat(options.state_dir, "/cluster");
    ASSIGN_OR_RETURN(std::unique_ptr<FileKubeClient> files, FileKubeClient::Create(fs, clock, dir));
    cluster.description = base::StrCat("standalone ", dir);
    cluster.require_node_owner = false;
    cluster.client = std::move(files);
    cluster.claims = std::make_unique<FileClaimSource>(fs, dir);
    return cluster;
  }
  KubeConfig config;
  if (cluster.mode == ClusterMode::kKubeconfig) {
    ASSIGN_OR_RETURN(config, LoadKubeconfig(fs, options.kubeconfig, options.context));
  } else {
    ASSIGN_OR_RETURN(config, InClusterConfig(fs, options.env, options.service_account_dir));
  }
  cluster.description = base::StrCat(config.source, " server ", config.server);
  ASSIGN_OR_RETURN(std::unique_ptr<RestKubeClient> rest,
                   base::Annotate(RestKubeClient::Create(config, fs, clock, metrics, options.rest),
                                  "connect cluster"));
  cluster.client = std::move(rest);
  cluster.claims = std::make_unique<RestClaimSource>(*cluster.client);
  return cluster;
}

}  // namespace tessera::agent::kube
