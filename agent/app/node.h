// The node as the agent reads it: where sysfs is, the node model, and the
// drivers built on it. Shared by tessera-agent's startup steps and node-debug
// (`slices`), so the CLI shows exactly what the agent would publish.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "agent/app/agent.h"
#include "agent/config.h"
#include "base/sysfs.h"
#include "drivers/rdma/rdma_netlink.h"
#include "drivers/rdma/verbs.h"
#include "drivers/registry.h"
#include "topology/loader.h"
#include "topology/model.h"
#include "topology/netlink.h"
#include "topology/netns.h"

namespace tessera::agent {

struct NodeView {
  std::optional<topology::ResolvedSysfsRoot> resolved_root;  // --sysfs-root
  std::unique_ptr<base::Sysfs> sysfs;  // what drivers read; empty tree for --hwloc-xml
  std::string mig_minors_path;         // "" when the source has no procfs
  std::shared_ptr<const topology::NodeTopology> topology;

  // Host seams of the RDMA driver, live nodes only; each is null when the
  // host does not offer it (no rtnetlink, no RDMA in the kernel, no verbs),
  // and the driver then says what it cannot do.
  std::unique_ptr<topology::Netlink> netlink;
  std::unique_ptr<topology::NetworkNamespaces> namespaces;
  std::unique_ptr<drivers::rdma::RdmaNetlink> rdma_netlink;
  std::unique_ptr<drivers::rdma::Verbs> verbs;
};

// `path` (absolute) on the host mounted at `root` (--host-root; "" or "/"
// for the agent's own root).
std::string JoinHost(const std::string& root, std::string_view path);

// Picks the sysfs tree for the configured source (live host under
// --host-root, --sysfs-root, or none for --hwloc-xml). NotFound /
// InvalidArgument for a bad --sysfs-root.
absl::StatusOr<NodeView> OpenNodeSysfs(const Config& config);

// Opens the RDMA host seams of a live node into `view` (nothing for a
// simulated one). Never fails: what cannot be opened is logged and left null.
void OpenRdmaHostSeams(const Config& config, NodeView& view);

// Builds the node model into `view.topology`.
absl::Status LoadNodeTopology(const Config& config, NodeView& view);

// The drivers of config.drivers on `view` (drivers/registry.cc's list). A
// missing vendor library is not an error (DriverSet::nvml_error says why).
absl::StatusOr<drivers::DriverSet> MakeNodeDrivers(const Config& config, const NodeView& view,
                                                   const Host& host);

}  // namespace tessera::agent
