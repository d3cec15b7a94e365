#include "drivers/registry.h"

#include <set>

#include "base/log.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "drivers/nvidia/dlopen_nvml.h"

namespace tessera::drivers {
namespace {

using base::StrCat;

spdlog::logger& Log() {
  static const auto logger = base::log::Get("drivers");
  return *logger;
}

absl::Status AddGpu(const DriverDeps& deps, DriverSet& set) {
  if (!deps.nvml_library.empty()) {
    absl::StatusOr<std::unique_ptr<nvidia::DlopenNvml>> nvml = nvidia::DlopenNvml::Load(
        nvidia::DlopenNvmlOptions{.library = deps.nvml_library,
                                  .filesystem = &deps.fs,
                                  .mig_minors_path = deps.mig_minors_path});
    if (nvml.ok()) {
      set.nvml = std::move(*nvml);
    } else {
      set.nvml_error = std::string(base::Std(nvml.status().message()));
      // Degraded, not fatal: GPUs are still listed from sysfs.
      Log().warn("NVML not loaded library={} simulated={}: {}", deps.nvml_library,
                 deps.gpu.simulated, set.nvml_error);
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<gpu::GpuDriver> driver,
                   base::Annotate(gpu::GpuDriver::Create(
                                      deps.gpu, gpu::GpuDriverDeps{.topology = deps.topology,
                                                                   .sysfs = deps.sysfs,
                                                                   .nvml = set.nvml.get(),
                                                                   .nvml_error = set.nvml_error,
                                                                   .commands = deps.commands,
                                                                   .fs = deps.fs,
                                                                   .clock = deps.clock}),
                                  "gpu driver"));
  set.drivers.push_back(std::move(driver));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DriverSet> MakeDrivers(const DriverDeps& deps) {
  DriverSet set;
  std::set<std::string> seen;
  for (const std::string& family : deps.families) {
    if (!seen.insert(family).second) {
      return absl::InvalidArgumentError(StrCat("drivers: ", base::Quote(family), " listed twice"));
    }
    if (family == "gpu") {
      RETURN_IF_ERROR(AddGpu(deps, set));
    } else {
      // "rdma" (drivers/rdma) and "npu" hook in here when their drivers land.
      return absl::InvalidArgumentError(
          StrCat("drivers: unknown or not yet available family ", base::Quote(family)));
    }
  }
  return set;
}

}  // namespace tessera::drivers
