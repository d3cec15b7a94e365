// Device nodes for a simulated node: makes the /dev/infiniband entries an
// RDMA claim's CDI spec points at (RdmaDriver::DeviceNodes) under a
// --dev-root directory, so that a container runtime (podman + runc in the
// tests and the demo) injects them like real ones.
//
// Each node is a character device with the numbers sysfs reports for it
// (231:192 for uverbs0 on a real node: opening it without the kernel module
// fails with ENXIO, which is what a simulation should do), or, when sysfs has
// none (rdma_cm on the bundled node), the numbers of /dev/null (1:3). mknod
// needs CAP_MKNOD (root); without it the call fails with PermissionDenied
// saying so.
//
// This is the adapter for mknod(2); thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

#include "drivers/rdma/rdma_driver.h"

namespace tessera::drivers::rdma {

// Creates <dev_root>/<node.path> for every entry, with parent directories
// (0755) and mode 0666. An existing character device is left as it is;
// anything else at a path is FailedPrecondition. InvalidArgument for an
// entry with "..", an absolute path, or a relative or empty dev_root.
absl::Status MaterializeRdmaDeviceNodes(const std::string& dev_root,
                                        const std::vector<DeviceNodeInfo>& nodes);

}  // namespace tessera::drivers::rdma
