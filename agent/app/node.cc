#include "agent/app/node.h"

#include <algorithm>

#include "agent/app/internal/log.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "drivers/rdma/ibverbs_verbs.h"
#include "topology/libnl_netlink.h"

namespace tessera::agent {
namespace {

using internal::Log;

// A path that can never be a directory: the sysfs of an hwloc XML input,
// which has none (drivers then rely on what hwloc recorded).
constexpr char kNoSysfs[] = "/dev/null/no-sysfs";

}  // namespace

std::string JoinHost(const std::string& root, std::string_view path) {
  if (root.empty() || root == "/") return std::string(path);
  return base::StrCat(root.back() == '/' ? root.substr(0, root.size() - 1) : root, path);
}

absl::StatusOr<NodeView> OpenNodeSysfs(const Config& config) {
  NodeView view;
  if (!config.sysfs_root.empty()) {
    ASSIGN_OR_RETURN(topology::ResolvedSysfsRoot resolved,
                     topology::ResolvedSysfsRoot::Resolve(config.sysfs_root));
    view.resolved_root.emplace(std::move(resolved));
    view.sysfs = std::make_unique<base::DirSysfs>(view.resolved_root->sys_dir());
    if (!view.resolved_root->proc_dir().empty()) {
      view.mig_minors_path =
          base::StrCat(view.resolved_root->proc_dir(), "/driver/nvidia-caps/mig-minors");
    }
  } else if (!config.hwloc_xml.empty()) {
    view.sysfs = std::make_unique<base::DirSysfs>(kNoSysfs);
  } else {
    view.sysfs = std::make_unique<base::DirSysfs>(JoinHost(config.host_root, "/sys"));
    view.mig_minors_path = JoinHost(config.host_root, "/proc/driver/nvidia-caps/mig-minors");
  }
  return view;
}

absl::Status LoadNodeTopology(const Config& config, NodeView& view) {
  topology::TopologySource source = topology::TopologySource::Live(config.host_root);
  if (!config.sysfs_root.empty()) source = topology::TopologySource::SysfsRoot(config.sysfs_root);
  if (!config.hwloc_xml.empty()) source = topology::TopologySource::HwlocXml(config.hwloc_xml);
  ASSIGN_OR_RETURN(topology::NodeTopology model, topology::LoadTopology(source));
  view.topology = std::make_shared<const topology::NodeTopology>(std::move(model));
  return absl::OkStatus();
}

void OpenRdmaHostSeams(const Config& config, NodeView& view) {
  if (config.simulated()) return;
  const bool wanted = std::find(config.drivers.begin(), config.drivers.end(),
                                drivers::rdma::kFamily) != config.drivers.end();
  if (!wanted) return;
  if (auto nl = topology::LibnlNetlink::Create(); nl.ok()) {
    view.netlink = *std::move(nl);
  } else {
    Log()->warn("rtnetlink unavailable, rdma link state from sysfs error={}",
                base::Std(nl.status().message()));
  }
  view.namespaces =
      std::make_unique<topology::ProcNetworkNamespaces>(JoinHost(config.host_root, "/proc"));
  if (auto rn = drivers::rdma::SocketRdmaNetlink::Open(); rn.ok()) {
    view.rdma_netlink = *std::move(rn);
  } else {
    Log()->info("rdma netlink unavailable, rdma netns mode taken as shared error={}",
                base::Std(rn.status().message()));
  }
  view.verbs = std::make_unique<drivers::rdma::IbverbsVerbs>();
}

absl::StatusOr<drivers::DriverSet> MakeNodeDrivers(const Config& config, const NodeView& view,
                                                   const Host& host) {
  drivers::DriverDeps deps;
  deps.domain = config.driver_domain;
  deps.families = config.drivers;
  deps.topology = view.topology;
  deps.sysfs = config.hwloc_xml.empty() ? view.sysfs.get() : nullptr;
  deps.fs = &host.fs;
  deps.clock = &host.clock;
  deps.runner = &host.commands;
  deps.metrics = &host.metrics;

  deps.gpu.dev_root = config.dev_root;
  deps.gpu.host_root = config.host_root;
  deps.gpu.state_dir = base::StrCat(config.state_dir, "/gpu");
  deps.gpu.simulated = config.simulated();
  deps.gpu.publish_partitionable = config.publish_partitionable;
  deps.gpu.publish_consumable_capacity = config.publish_consumable_capacity;
  deps.nvml_library = config.nvml_lib;
  deps.mig_minors_path = view.mig_minors_path;

  deps.rdma.options.dev_root = config.dev_root;
  deps.rdma.options.host_root = config.host_root;
  deps.rdma.options.state_dir = base::StrCat(config.state_dir, "/rdma");
  deps.rdma.options.simulated = config.simulated();
  deps.rdma.options.publish_consumable_capacity = config.publish_consumable_capacity;
  deps.rdma.options.hook_path = config.netns_hook;
  deps.rdma.netlink = view.netlink.get();
  deps.rdma.namespaces = view.namespaces.get();
  deps.rdma.rdma_netlink = view.rdma_netlink.get();
  deps.rdma.verbs = view.verbs.get();

  deps.npu.dev_root = config.dev_root;
  deps.npu.host_root = config.host_root;
  deps.npu.simulated = config.simulated();
  deps.npu.publish_partitions = config.publish_partitionable;
  deps.npu.dcmi_library = config.dcmi_lib;
  deps.npu.hlml_library = config.hlml_lib;
  deps.npu.npu_smi = config.npu_smi;
  std::optional<drivers::npu::AbsentPolicy> policy =
      drivers::npu::ParseAbsentPolicy(config.npu_when_absent);
  if (!policy.has_value()) {
    return absl::InvalidArgumentError(base::StrCat(
        "--npu-when-absent: ", base::Quote(config.npu_when_absent), " (want idle or skip)"));
  }
  deps.npu_when_absent = *policy;
  return drivers::MakeDrivers(deps);
}

}  // namespace tessera::agent
