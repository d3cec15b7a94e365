#include "drivers/nvidia/nvml.h"

#include <array>
#include <utility>

#include "spdlog/fmt/fmt.h"

#include "base/parse.h"
#include "base/status.h"
#include "base/strings.h"

namespace tessera::drivers::nvidia {
namespace {

constexpr std::array<std::pair<Architecture, std::string_view>, 10> kArchitectureNames = {{
    {Architecture::kUnknown, "Unknown"},
    {Architecture::kKepler, "Kepler"},
    {Architecture::kMaxwell, "Maxwell"},
    {Architecture::kPascal, "Pascal"},
    {Architecture::kVolta, "Volta"},
    {Architecture::kTuring, "Turing"},
    {Architecture::kAmpere, "Ampere"},
    {Architecture::kAda, "Ada"},
    {Architecture::kHopper, "Hopper"},
    {Architecture::kBlackwell, "Blackwell"},
}};

constexpr std::array<std::pair<ComputeMode, std::string_view>, 4> kComputeModeNames = {{
    {ComputeMode::kUnknown, "Unknown"},
    {ComputeMode::kDefault, "Default"},
    {ComputeMode::kExclusiveProcess, "ExclusiveProcess"},
    {ComputeMode::kProhibited, "Prohibited"},
}};

}  // namespace

std::string_view ArchitectureName(Architecture architecture) {
  for (const auto& [value, name] : kArchitectureNames) {
    if (value == architecture) return name;
  }
  return "Unknown";
}

std::optional<Architecture> ParseArchitecture(std::string_view name) {
  const std::string lower = base::ToLower(name);
  for (const auto& [value, candidate] : kArchitectureNames) {
    if (base::ToLower(candidate) == lower) return value;
  }
  return std::nullopt;
}

std::string_view ComputeModeName(ComputeMode mode) {
  for (const auto& [value, name] : kComputeModeNames) {
    if (value == mode) return name;
  }
  return "Unknown";
}

std::optional<ComputeMode> ParseComputeMode(std::string_view name) {
  const std::string lower = base::ToLower(name);
  for (const auto& [value, candidate] : kComputeModeNames) {
    if (base::ToLower(candidate) == lower) return value;
  }
  return std::nullopt;
}

std::string CudaVersionString(int nvml_cuda_version) {
  if (nvml_cuda_version <= 0) return "";
  // NVML_CUDA_DRIVER_VERSION_MAJOR(v) = v / 1000, _MINOR(v) = (v % 1000) / 10.
  return fmt::format("{}.{}", nvml_cuda_version / 1000, (nvml_cuda_version % 1000) / 10);
}

Architecture ArchitectureFromComputeCapability(const ComputeCapability& cc) {
  switch (cc.major) {
    case 3:
      return Architecture::kKepler;
    case 5:
      return Architecture::kMaxwell;
    case 6:
      return Architecture::kPascal;
    case 7:
      return cc.minor >= 5 ? Architecture::kTuring : Architecture::kVolta;
    case 8:
      return cc.minor >= 9 ? Architecture::kAda : Architecture::kAmpere;
    case 9:
      return Architecture::kHopper;
    case 10:
    case 12:
      return Architecture::kBlackwell;
    default:
      return Architecture::kUnknown;
  }
}

std::string ComputeCapability::ToString() const { return fmt::format("{}.{}", major, minor); }

absl::StatusOr<uint32_t> FindGpuByUuid(const Nvml& nvml, std::string_view uuid) {
  absl::StatusOr<uint32_t> count = nvml.GetGpuCount();
  if (!count.ok()) return base::Annotate(count.status(), base::StrCat("find gpu ", uuid));
  for (uint32_t i = 0; i < *count; ++i) {
    absl::StatusOr<GpuInfo> gpu = nvml.GetGpu(i);
    // A GPU that cannot be read (lost, say) cannot be the one asked for in a
    // way we could use; keep looking rather than fail the whole search.
    if (gpu.ok() && gpu->uuid == uuid) return i;
  }
  return absl::NotFoundError(base::StrCat("find gpu ", uuid, ": no gpu has this uuid"));
}

absl::StatusOr<base::PciAddress> ParseNvmlBusId(std::string_view bus_id) {
  // NVML fills a fixed char buffer: the text ends at the first NUL.
  std::string_view text = bus_id.substr(0, bus_id.find('\0'));
  text = base::TrimValue(text);
  absl::StatusOr<base::PciAddress> parsed = base::PciAddress::Parse(text);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(base::StrCat("parse nvml pci bus id ", base::Quote(text),
                                                   ": ", base::Std(parsed.status().message())));
  }
  // Reject the short form: NVML always reports a domain, so a missing one
  // means we are reading something that is not a bus id.
  if (base::Split(text, ':').size() != 3) {
    return absl::InvalidArgumentError(
        base::StrCat("parse nvml pci bus id ", base::Quote(text), ": missing pci domain"));
  }
  return parsed;
}

}  // namespace tessera::drivers::nvidia
