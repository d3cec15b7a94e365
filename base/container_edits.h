// ContainerEdits: what a prepared device adds to a container, in the shape of
// CDI containerEdits (CDI spec v0.5.0 fields only; see kubelet/cdi/ for the
// writer). A plain value type, so drivers can return it without depending on
// the kubelet layer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tessera::base {

struct DeviceNode {
  std::string path;       // in the container, e.g. "/dev/nvidia0"
  std::string host_path;  // on the host; empty = same as path (CDI 0.5.0 hostPath)
  std::string type;       // "c", "b", "u", "p" or empty (runtime stats the node)
  std::optional<int64_t> major;
  std::optional<int64_t> minor;
  std::optional<uint32_t> file_mode;
  std::string permissions;  // "rwm" subset; empty = rwm
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  friend bool operator==(const DeviceNode&, const DeviceNode&) = default;
};

struct Mount {
  std::string host_path;
  std::string container_path;
  std::string type;  // e.g. "bind"; empty = runtime default
  std::vector<std::string> options;
  friend bool operator==(const Mount&, const Mount&) = default;
};

struct Hook {
  std::string hook_name;  // prestart, createRuntime, createContainer, startContainer, poststart, poststop
  std::string path;       // absolute
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int> timeout_seconds;
  friend bool operator==(const Hook&, const Hook&) = default;
};

struct ContainerEdits {
  std::vector<std::string> env;  // "KEY=VALUE"
  std::vector<DeviceNode> device_nodes;
  std::vector<Mount> mounts;
  std::vector<Hook> hooks;

  bool empty() const { return env.empty() && device_nodes.empty() && mounts.empty() && hooks.empty(); }
  // Appends `other`, skipping env entries, device nodes and mounts already present.
  void Merge(const ContainerEdits& other);
  friend bool operator==(const ContainerEdits&, const ContainerEdits&) = default;
};

}  // namespace tessera::base
