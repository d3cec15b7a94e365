// The explicit list of device drivers (house style §2.12.8: no static
// self-registration). The agent enables families by name (--drivers) and
// gets one DeviceDriver per enabled family, built from the seams it owns.
//
// Each family adds one entry in registry.cc and, when it has options, one
// field in DriverDeps. Present: "npu" (drivers/npu). The GPU and RDMA
// drivers add theirs when they land.
//
// Thread-safety: MakeDrivers is a pure factory; the drivers document their
// own. Lifetime: the seams in DriverDeps must outlive the drivers.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "base/command_runner.h"
#include "base/filesystem.h"
#include "base/metrics.h"
#include "base/sysfs.h"
#include "drivers/device_driver.h"
#include "drivers/npu/npu_driver.h"
#include "topology/model.h"

namespace tessera::drivers {

struct DriverDeps {
  std::string domain = "tessera.dev";  // drivers are "<family>.<domain>"
  std::vector<std::string> families;   // enabled, e.g. {"gpu", "rdma", "npu"}

  // Seams shared by the drivers (not owned).
  std::function<absl::StatusOr<topology::NodeTopology>()> load_topology;
  const base::Sysfs* sysfs = nullptr;  // null for an hwloc XML model
  base::Filesystem* fs = nullptr;
  base::CommandRunner* runner = nullptr;
  base::metrics::Registry* metrics = nullptr;

  // Family options. npu.domain is taken from `domain`.
  npu::NpuDriverOptions npu;
  // --npu-when-absent: with kSkip, a node whose model has no NPU gets no NPU
  // driver at all (no plugin, no pool); kIdle runs it with an empty pool.
  npu::AbsentPolicy npu_when_absent = npu::AbsentPolicy::kIdle;
};

// One driver per enabled family, in the order given. InvalidArgument for an
// unknown or repeated family or a missing seam; a factory's own error
// otherwise (for example the model failing to load when a policy needs it).
absl::StatusOr<std::vector<std::unique_ptr<DeviceDriver>>> MakeDrivers(const DriverDeps& deps);

// The families this build knows, sorted.
std::vector<std::string> KnownFamilies();

}  // namespace tessera::drivers
