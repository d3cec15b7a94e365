#include "agent/app/node.h"

#include "base/status_macros.h"
#include "base/strings.h"

namespace tessera::agent {
namespace {

// A path that can never be a directory: the sysfs of an hwloc XML input,
// which has none (drivers then rely on what hwloc recorded).
constexpr char kNoSysfs[] = "/dev/null/no-sysfs";

std::string JoinHost(const std::string& root, std::string_view path) {
  if (root.empty() || root == "/") return std::string(path);
  return base::StrCat(root.back() == '/' ? root.substr(0, root.size() - 1) : root, path);
}

}  // namespace

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

absl::StatusOr<drivers::DriverSet> MakeNodeDrivers(const Config& config, const NodeView& view,
                                                   const Host& host) {
  drivers::DriverDeps deps{.families = config.drivers,
                           .topology = view.topology,
                           .sysfs = *view.sysfs,
                           .commands = host.commands,
                           .fs = host.fs,
                           .clock = host.clock};
  deps.gpu.domain = config.driver_domain;
  deps.gpu.dev_root = config.dev_root;
  deps.gpu.host_root = config.host_root;
  deps.gpu.state_dir = base::StrCat(config.state_dir, "/gpu");
  deps.gpu.simulated = config.simulated();
  deps.gpu.publish_partitionable = config.publish_partitionable;
  deps.gpu.publish_consumable_capacity = config.publish_consumable_capacity;
  deps.nvml_library = config.nvml_lib;
  deps.mig_minors_path = view.mig_minors_path;
  return drivers::MakeDrivers(deps);
}

}  // namespace tessera::agent
