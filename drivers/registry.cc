#include "drivers/registry.h"

#include <algorithm>
#include <utility>

#include "base/status.h"
#include "base/strings.h"

namespace tessera::drivers {

absl::StatusOr<std::vector<std::unique_ptr<DeviceDriver>>> MakeDrivers(const DriverDeps& deps) {
  if (deps.topology == nullptr || deps.fs == nullptr || deps.clock == nullptr) {
    return absl::InvalidArgumentError("make drivers: topology, fs and clock are required");
  }
  std::vector<std::unique_ptr<DeviceDriver>> out;
  for (size_t i = 0; i < deps.families.size(); ++i) {
    const std::string& family = deps.families[i];
    if (std::find(deps.families.begin(), deps.families.begin() + i, family) !=
        deps.families.begin() + i) {
      return absl::InvalidArgumentError(
          base::StrCat("make drivers: family ", base::Quote(family), " is listed twice"));
    }
    if (family == rdma::kFamily) {
      if (!deps.rdma.has_value()) {
        return absl::FailedPreconditionError("make drivers: rdma is enabled but has no seams");
      }
      absl::StatusOr<std::unique_ptr<rdma::RdmaDriver>> d = rdma::RdmaDriver::Create(
          deps.rdma->options, rdma::RdmaDriverDeps{.topology = deps.topology,
                                                   .sysfs = deps.sysfs,
                                                   .netlink = deps.rdma->netlink,
                                                   .namespaces = deps.rdma->namespaces,
                                                   .rdma_netlink = deps.rdma->rdma_netlink,
                                                   .verbs = deps.rdma->verbs,
                                                   .fs = *deps.fs,
                                                   .clock = *deps.clock,
                                                   .metrics = deps.metrics});
      if (!d.ok()) return base::Annotate(d.status(), "make drivers: rdma");
      out.push_back(*std::move(d));
      continue;
    }
    if (family == "gpu" || family == "npu") {
      return absl::UnimplementedError(
          base::StrCat("make drivers: the ", family, " driver is not part of this build"));
    }
    return absl::InvalidArgumentError(
        base::StrCat("make drivers: unknown driver family ", base::Quote(family)));
  }
  return out;
}

}  // namespace tessera::drivers
