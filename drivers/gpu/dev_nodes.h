// Device nodes for a simulated node: makes the /dev entries a GPU claim's CDI
// spec points at (GpuDriver::DeviceNodePaths) under a --dev-root directory,
// so that a container runtime (podman + runc in the tests and the demo)
// injects them like real ones.
//
// Each node is a character device with the major/minor of /dev/null (1:3):
// harmless to read and write, and enough for the runtime to stat it, add a
// devices-cgroup rule and create it in the container. mknod needs
// CAP_MKNOD (root); without it the call fails with PermissionDenied saying
// so, and nothing else is changed.
//
// This is the adapter for mknod(2); thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace tessera::drivers::gpu {

// Creates <dev_root>/<rel> for every entry ("nvidia0", "dri/card1",
// "nvidia-caps/nvidia-cap12"), with parent directories (0755). An existing
// character device is left as it is; anything else at a path is
// FailedPrecondition. InvalidArgument for an entry with "..", an absolute
// path, or an empty dev_root.
absl::Status MaterializeDeviceNodes(const std::string& dev_root,
                                    const std::vector<std::string>& relative_paths);

}  // namespace tessera::drivers::gpu
