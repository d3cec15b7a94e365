// The explicit list of device drivers the agent runs (house style §2.12.8:
// no static self-registration). MakeDrivers builds every enabled family from
// the agent's seams and options; each driver gets its own plugin sockets,
// CDI kind and checkpoint from the agent.
//
// Families: "gpu" (drivers/gpu). "rdma" and "npu" are listed here when their
// drivers land: add a case to MakeDrivers and a field block to DriverDeps.
//
// Thread-safety: MakeDrivers is reentrant. Lifetime: every reference in
// DriverDeps must outlive the returned DriverSet; the DriverSet owns what it
// loaded for the drivers (the NVML library) and destroys the drivers first.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "base/clock.h"
#include "base/command_runner.h"
#include "base/filesystem.h"
#include "base/sysfs.h"
#include "drivers/device_driver.h"
#include "drivers/gpu/gpu_driver.h"
#include "drivers/nvidia/nvml.h"
#include "topology/model.h"

namespace tessera::drivers {

struct DriverDeps {
  std::vector<std::string> families = {"gpu"};  // --drivers; unknown ones are an error
  std::shared_ptr<const topology::NodeTopology> topology;
  const base::Sysfs& sysfs;
  base::CommandRunner& commands;
  base::Filesystem& fs;
  base::Clock& clock;

  // GPU family.
  gpu::GpuDriverOptions gpu;  // domain, roots, state dir, flags, tools
  // dlopen() target (--nvml-lib); "" skips NVML. A load failure is not an
  // error: the GPU driver runs degraded and says why.
  std::string nvml_library = "libnvidia-ml.so.1";
  // /proc/driver/nvidia-caps/mig-minors as the agent sees it.
  std::string mig_minors_path = "/proc/driver/nvidia-caps/mig-minors";
};

struct DriverSet {
  // Declared first so it is destroyed last: the GPU driver holds a pointer.
  std::unique_ptr<nvidia::Nvml> nvml;
  std::string nvml_error;  // why nvml is null, "" when loaded or not asked for
  std::vector<std::unique_ptr<DeviceDriver>> drivers;
};

// InvalidArgument for an unknown or duplicate family; a driver's own Create
// error otherwise (annotated with the family).
absl::StatusOr<DriverSet> MakeDrivers(const DriverDeps& deps);

}  // namespace tessera::drivers
