// Where a DRA plugin's sockets and lock file live, as the kubelet and the
// upstream kubeletplugin helper name them (dra-api-facts.md §1 and §6):
//
//   <registry_dir>/<driver>-reg.sock               registration socket
//   <plugin_dir>/<driver>/dra.sock                 DRA + health services
//   <plugin_dir>/<driver>/serialize.lock           cross-instance prepare lock
//
// With a pod uid (rolling updates, kubelet >= 1.33) every instance gets unique
// names: <driver>-<uid>-reg.sock and dra-<uid>.sock. Because a Unix socket path
// holds at most 107 bytes, the registration name falls back to shorter hashed
// forms exactly as upstream does from 1.37 (RollingUpdateRegistrationSocketName).
//
// Pure functions: no file system access; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tessera::kubelet {

inline constexpr std::string_view kDefaultPluginDir = "/var/lib/kubelet/plugins";
inline constexpr std::string_view kDefaultRegistryDir = "/var/lib/kubelet/plugins_registry";
// sockaddr_un.sun_path is 108 bytes on Linux, including the terminating NUL.
inline constexpr size_t kMaxSocketPathBytes = 107;

struct SocketPathOptions {
  std::string driver_name;  // e.g. "gpu.tessera.dev"
  std::string plugin_dir{kDefaultPluginDir};
  std::string registry_dir{kDefaultRegistryDir};
  // The agent pod's uid (downward API) when rolling updates are enabled;
  // empty otherwise.
  std::string pod_uid;
};

struct PluginPaths {
  std::string plugin_data_dir;      // <plugin_dir>/<driver>
  std::string dra_socket;           // absolute; what GetInfo returns as endpoint
  std::string registration_socket;  // absolute, inside the registry dir
  std::string serialize_lock;       // <plugin_data_dir>/serialize.lock
};

// Computes the paths for `options`. Directories are cleaned lexically
// ("/a/./b/" -> "/a/b"). Returns InvalidArgument when the driver name is not a
// DNS subdomain of at most 63 characters, the pod uid has characters other
// than [A-Za-z0-9-], a directory is not absolute, or a socket path would not
// fit in kMaxSocketPathBytes.
absl::StatusOr<PluginPaths> ComputePluginPaths(const SocketPathOptions& options);

// The registration socket file name for one rolling-update instance: the first
// of these whose full path fits in kMaxSocketPathBytes, else the last:
//   <driver>-<pod_uid>-reg.sock
//   <driver>-<first 16 hex of sha256(pod_uid)>-reg.sock
//   dra-<first 32 hex of sha256(driver "\0" pod_uid)>-reg.sock
// `registry_dir` must already be clean (no trailing '/').
std::string RollingUpdateRegistrationSocketName(std::string_view registry_dir,
                                                std::string_view driver_name,
                                                std::string_view pod_uid);

// "/a//b/./c/" -> "/a/b/c"; "/" stays "/". Pure.
std::string CleanPath(std::string_view path);

}  // namespace tessera::kubelet
