// The explicit list of Tessera's device drivers (house style: no static
// self-registration; a static library would silently drop a self-registering
// object). The agent and node-debug build their drivers here, from seams they
// own; each driver then gets its own plugin sockets, CDI kind, checkpoint and
// ResourceSlice pool from the agent.
//
// Families: "gpu" (drivers/gpu), "rdma" (drivers/rdma), "npu" (drivers/npu).
// A new family adds one factory to kDrivers in registry.cc and one block of
// options to DriverDeps.
//
// Thread-safety: MakeDrivers is reentrant. Lifetime: every pointer in
// DriverDeps must outlive the returned DriverSet; the DriverSet owns what it
// loaded for the drivers (the NVML library) and destroys the drivers first.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "base/clock.h"
#include "base/command_runner.h"
#include "base/filesystem.h"
#include "base/metrics.h"
#include "base/sysfs.h"
#include "drivers/device_driver.h"
#include "drivers/gpu/gpu_driver.h"
#include "drivers/npu/npu_driver.h"
#include "drivers/nvidia/nvml.h"
#include "drivers/rdma/rdma_driver.h"
#include "topology/model.h"

namespace tessera::drivers {

// The host seams of the RDMA driver; each may be null where RdmaDriverDeps
// allows it (a simulated node has neither netlink nor verbs).
struct RdmaFamilyDeps {
  rdma::RdmaDriverOptions options;  // options.domain is taken from DriverDeps::domain
  topology::Netlink* netlink = nullptr;
  topology::NetworkNamespaces* namespaces = nullptr;
  rdma::RdmaNetlink* rdma_netlink = nullptr;
  rdma::Verbs* verbs = nullptr;
};

struct DriverDeps {
  std::string domain = "tessera.dev";  // drivers are "<family>.<domain>"
  // --drivers, built in this order; unknown or repeated ones are an error.
  std::vector<std::string> families = {"gpu", "rdma", "npu"};

  // Seams shared by the drivers (not owned). topology, fs, clock, runner
  // and metrics are required.
  std::shared_ptr<const topology::NodeTopology> topology;
  // Re-reads the node model (the NPU driver does on each enumeration).
  // Empty: the NPU driver sees `topology`.
  std::function<absl::StatusOr<topology::NodeTopology>()> load_topology;
  const base::Sysfs* sysfs = nullptr;  // null for an hwloc XML node (no sysfs)
  base::Filesystem* fs = nullptr;
  base::Clock* clock = nullptr;
  base::CommandRunner* runner = nullptr;
  base::metrics::Registry* metrics = nullptr;

  // GPU family. gpu.domain is taken from `domain`.
  gpu::GpuDriverOptions gpu;
  // dlopen() target (--nvml-lib); "" skips NVML. A load failure is not an
  // error: the GPU driver runs degraded (listed, not preparable) and says why.
  std::string nvml_library = "libnvidia-ml.so.1";
  // /proc/driver/nvidia-caps/mig-minors as the agent sees it.
  std::string mig_minors_path = "/proc/driver/nvidia-caps/mig-minors";

  // RDMA family.
  RdmaFamilyDeps rdma;

  // NPU family. npu.domain is taken from `domain`. --npu-when-absent: with
  // kSkip a node whose model has no NPU gets no NPU driver at all (no plugin,
  // no pool); kIdle runs it with an empty pool.
  npu::NpuDriverOptions npu;
  npu::AbsentPolicy npu_when_absent = npu::AbsentPolicy::kIdle;
};

struct DriverSet {
  // Declared before the drivers so that they are destroyed after them: the
  // drivers hold pointers into these.
  std::unique_ptr<nvidia::Nvml> nvml;
  std::string nvml_error;  // why nvml is null; "" when loaded or not asked for
  std::unique_ptr<base::Sysfs> no_sysfs;  // the GPU driver's sysfs on an hwloc XML node
  std::vector<std::unique_ptr<DeviceDriver>> drivers;
};

// Builds the enabled drivers, in `families` order. InvalidArgument for an
// unknown or repeated family or a missing required seam; a driver's own
// Create() error otherwise, annotated with the family. A family that
// declines to run here (npu with kSkip on a node without NPUs) is left out.
absl::StatusOr<DriverSet> MakeDrivers(const DriverDeps& deps);

// The families this build has, sorted.
std::vector<std::string> KnownFamilies();

}  // namespace tessera::drivers
