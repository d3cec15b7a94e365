// The explicit list of Tessera's device drivers (no static self-registration:
// a static library would silently drop a self-registering object). The agent
// and node-debug build their drivers here, from seams they own.
//
// Each family has one block in MakeDrivers and one optional field of seams
// in DriverDeps; a family's driver is built only when it is enabled and its
// seams are given.
//
// Thread-compatible: call from one thread at start.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "base/clock.h"
#include "base/filesystem.h"
#include "base/metrics.h"
#include "base/sysfs.h"
#include "drivers/device_driver.h"
#include "drivers/rdma/rdma_driver.h"
#include "topology/model.h"

namespace tessera::drivers {

// The seams and options of the RDMA driver (family "rdma"); see
// drivers/rdma/rdma_driver.h. Pointers may be null where RdmaDriverDeps
// allows it.
struct RdmaFamilyDeps {
  rdma::RdmaDriverOptions options;
  topology::Netlink* netlink = nullptr;
  topology::NetworkNamespaces* namespaces = nullptr;
  rdma::RdmaNetlink* rdma_netlink = nullptr;
  rdma::Verbs* verbs = nullptr;
};

struct DriverDeps {
  // Families to build, in this order ("gpu", "rdma", "npu").
  std::vector<std::string> families;
  std::shared_ptr<const topology::NodeTopology> topology;
  const base::Sysfs* sysfs = nullptr;  // null for an hwloc XML node
  base::Filesystem* fs = nullptr;
  base::Clock* clock = nullptr;
  base::metrics::Registry* metrics = nullptr;
  std::optional<RdmaFamilyDeps> rdma;
};

// Builds the enabled drivers. InvalidArgument for an unknown family, a
// family listed twice, or missing common seams (topology, fs, clock);
// FailedPrecondition for an enabled family whose seams are not given;
// Unimplemented for a family this build has no driver for yet; a driver's
// own Create() errors, annotated with the family.
absl::StatusOr<std::vector<std::unique_ptr<DeviceDriver>>> MakeDrivers(const DriverDeps& deps);

}  // namespace tessera::drivers
