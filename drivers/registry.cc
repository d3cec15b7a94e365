#include "drivers/registry.h"

#include <algorithm>
#include <set>

#include "base/log.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "drivers/npu/discovery.h"

namespace tessera::drivers {

namespace {

std::shared_ptr<spdlog::logger> Log() {
  static const std::shared_ptr<spdlog::logger> log = base::log::Get("drivers");
  return log;
}

// nullptr with OK: the family is enabled but deliberately not started.
using Factory = absl::StatusOr<std::unique_ptr<DeviceDriver>> (*)(const DriverDeps& deps);

absl::StatusOr<std::unique_ptr<DeviceDriver>> MakeNpu(const DriverDeps& deps) {
  if (deps.npu_when_absent == npu::AbsentPolicy::kSkip) {
    ASSIGN_OR_RETURN(topology::NodeTopology model,
                     base::Annotate(deps.load_topology(), "make npu driver: load node model"));
    if (!npu::HasNpuCandidates(model)) {
      Log()->info("npu driver not started: no npu on this node policy=skip");
      return std::unique_ptr<DeviceDriver>();
    }
  }
  npu::NpuDriverOptions options = deps.npu;
  options.domain = deps.domain;
  ASSIGN_OR_RETURN(std::unique_ptr<npu::NpuDriver> driver,
                   npu::NpuDriver::Create(std::move(options), {.load_topology = deps.load_topology,
                                                               .sysfs = deps.sysfs,
                                                               .fs = deps.fs,
                                                               .runner = deps.runner,
                                                               .metrics = deps.metrics}));
  return std::unique_ptr<DeviceDriver>(std::move(driver));
}

struct Entry {
  std::string_view family;
  Factory make;
};

// The list. Keep it sorted by family.
constexpr Entry kDrivers[] = {
    {npu::kFamily, &MakeNpu},
};

}  // namespace

std::vector<std::string> KnownFamilies() {
  std::vector<std::string> out;
  for (const Entry& e : kDrivers) out.emplace_back(e.family);
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::vector<std::unique_ptr<DeviceDriver>>> MakeDrivers(const DriverDeps& deps) {
  if (!deps.load_topology || deps.fs == nullptr || deps.runner == nullptr ||
      deps.metrics == nullptr) {
    return absl::InvalidArgumentError(
        "make drivers: load_topology, fs, runner and metrics are required");
  }
  std::vector<std::unique_ptr<DeviceDriver>> out;
  std::set<std::string> seen;
  for (const std::string& family : deps.families) {
    if (!seen.insert(family).second) {
      return absl::InvalidArgumentError(
          base::StrCat("make drivers: family ", base::Quote(family), " is listed twice"));
    }
    const Entry* entry = nullptr;
    for (const Entry& e : kDrivers) {
      if (e.family == family) entry = &e;
    }
    if (entry == nullptr) {
      return absl::InvalidArgumentError(
          base::StrCat("make drivers: unknown family ", base::Quote(family),
                       " (known: ", base::Join(KnownFamilies(), ", "), ")"));
    }
    ASSIGN_OR_RETURN(std::unique_ptr<DeviceDriver> driver, entry->make(deps));
    if (driver) out.push_back(std::move(driver));
  }
  return out;
}

}  // namespace tessera::drivers
