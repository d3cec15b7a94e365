#include "drivers/registry.h"

#include <algorithm>
#include <set>
#include <utility>

#include "base/log.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "drivers/npu/discovery.h"
#include "drivers/nvidia/dlopen_nvml.h"

namespace tessera::drivers {
namespace {

using base::StrCat;

spdlog::logger& Log() {
  static const auto logger = base::log::Get("drivers");
  return *logger;
}

// A directory that can never exist: the sysfs of a node known only from an
// hwloc XML export (drivers then rely on what hwloc recorded).
constexpr char kNoSysfs[] = "/dev/null/no-sysfs";

// Adds the family's driver to `set`, or nothing when the family declines to
// run on this node.
using Factory = absl::Status (*)(const DriverDeps& deps, DriverSet& set);

absl::Status AddGpu(const DriverDeps& deps, DriverSet& set) {
  if (!deps.nvml_library.empty()) {
    absl::StatusOr<std::unique_ptr<nvidia::DlopenNvml>> nvml = nvidia::DlopenNvml::Load(
        nvidia::DlopenNvmlOptions{.library = deps.nvml_library,
                                  .filesystem = deps.fs,
                                  .mig_minors_path = deps.mig_minors_path});
    if (nvml.ok()) {
      set.nvml = std::move(*nvml);
    } else {
      set.nvml_error = std::string(base::Std(nvml.status().message()));
      // Degraded, not fatal: GPUs are still listed from sysfs.
      Log().warn("nvml not loaded library={} simulated={} error={}", deps.nvml_library,
                 deps.gpu.simulated, set.nvml_error);
    }
  }
  const base::Sysfs* sysfs = deps.sysfs;
  if (sysfs == nullptr) {
    set.no_sysfs = std::make_unique<base::DirSysfs>(kNoSysfs);
    sysfs = set.no_sysfs.get();
  }
  gpu::GpuDriverOptions options = deps.gpu;
  options.domain = deps.domain;
  ASSIGN_OR_RETURN(std::unique_ptr<gpu::GpuDriver> driver,
                   gpu::GpuDriver::Create(options, gpu::GpuDriverDeps{.topology = deps.topology,
                                                                      .sysfs = *sysfs,
                                                                      .nvml = set.nvml.get(),
                                                                      .nvml_error = set.nvml_error,
                                                                      .commands = *deps.runner,
                                                                      .fs = *deps.fs,
                                                                      .clock = *deps.clock}));
  set.drivers.push_back(std::move(driver));
  return absl::OkStatus();
}

absl::Status AddRdma(const DriverDeps& deps, DriverSet& set) {
  rdma::RdmaDriverOptions options = deps.rdma.options;
  options.domain = deps.domain;
  ASSIGN_OR_RETURN(std::unique_ptr<rdma::RdmaDriver> driver,
                   rdma::RdmaDriver::Create(options,
                                            rdma::RdmaDriverDeps{.topology = deps.topology,
                                                                 .sysfs = deps.sysfs,
                                                                 .netlink = deps.rdma.netlink,
                                                                 .namespaces = deps.rdma.namespaces,
                                                                 .rdma_netlink = deps.rdma.rdma_netlink,
                                                                 .verbs = deps.rdma.verbs,
                                                                 .fs = *deps.fs,
                                                                 .clock = *deps.clock,
                                                                 .metrics = deps.metrics}));
  set.drivers.push_back(std::move(driver));
  return absl::OkStatus();
}

absl::Status AddNpu(const DriverDeps& deps, DriverSet& set) {
  std::function<absl::StatusOr<topology::NodeTopology>()> load = deps.load_topology;
  if (!load) {
    load = [topology = deps.topology]() -> absl::StatusOr<topology::NodeTopology> {
      return *topology;
    };
  }
  if (deps.npu_when_absent == npu::AbsentPolicy::kSkip) {
    ASSIGN_OR_RETURN(topology::NodeTopology model, base::Annotate(load(), "load node model"));
    if (!npu::HasNpuCandidates(model)) {
      Log().info("npu driver not started: no npu on this node policy=skip");
      return absl::OkStatus();
    }
  }
  npu::NpuDriverOptions options = deps.npu;
  options.domain = deps.domain;
  ASSIGN_OR_RETURN(std::unique_ptr<npu::NpuDriver> driver,
                   npu::NpuDriver::Create(std::move(options), {.load_topology = std::move(load),
                                                               .sysfs = deps.sysfs,
                                                               .fs = deps.fs,
                                                               .runner = deps.runner,
                                                               .metrics = deps.metrics}));
  set.drivers.push_back(std::move(driver));
  return absl::OkStatus();
}

struct Entry {
  std::string_view family;
  Factory add;
};

// The list. Keep it sorted by family.
constexpr Entry kDrivers[] = {
    {gpu::kFamily, &AddGpu},
    {npu::kFamily, &AddNpu},
    {rdma::kFamily, &AddRdma},
};

}  // namespace

std::vector<std::string> KnownFamilies() {
  std::vector<std::string> out;
  for (const Entry& e : kDrivers) out.emplace_back(e.family);
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<DriverSet> MakeDrivers(const DriverDeps& deps) {
  if (deps.topology == nullptr || deps.fs == nullptr || deps.clock == nullptr ||
      deps.runner == nullptr || deps.metrics == nullptr) {
    return absl::InvalidArgumentError(
        "make drivers: topology, fs, clock, runner and metrics are required");
  }
  DriverSet set;
  std::set<std::string> seen;
  for (const std::string& family : deps.families) {
    if (!seen.insert(family).second) {
      return absl::InvalidArgumentError(
          StrCat("make drivers: family ", base::Quote(family), " is listed twice"));
    }
    const Entry* entry = nullptr;
    for (const Entry& e : kDrivers) {
      if (e.family == family) entry = &e;
    }
    if (entry == nullptr) {
      return absl::InvalidArgumentError(StrCat("make drivers: unknown family ",
                                               base::Quote(family), " (known: ",
                                               base::Join(KnownFamilies(), ", "), ")"));
    }
    RETURN_IF_ERROR(base::Annotate(entry->add(deps, set), StrCat("make drivers: ", family)));
  }
  return set;
}

}  // namespace tessera::drivers
