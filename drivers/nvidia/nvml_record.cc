#include "drivers/nvidia/nvml_record.h"

#include <map>

#include "spdlog/fmt/fmt.h"

#include "base/byte_units.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace tessera::drivers::nvidia {
namespace {

using Json = nlohmann::json;
using base::kMiB;

std::string Hex(uint32_t value, int digits) { return fmt::format("0x{:0{}x}", value, digits); }

// A UUID-shaped stable hash of `uuid`, keeping its "GPU-"/"MIG-" prefix.
std::string RedactUuid(std::string_view uuid) {
  std::string_view prefix = uuid.substr(0, uuid.find('-') + 1);
  uint64_t a = 14695981039346656037ULL, b = 0x6c62272e07bb0142ULL;
  for (unsigned char c : uuid) {
    a = (a ^ c) * 1099511628211ULL;
    b = (b ^ c) * 1099511628211ULL;
  }
  return fmt::format("{}{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", prefix, a >> 32, (a >> 16) & 0xffff,
                     a & 0xffff, b >> 48, b & 0xffffffffffffULL);
}

Json PlacementJson(const MigPlacement& p) { return {{"start", p.start}, {"size", p.size}}; }

Json CiProfileJson(const ComputeInstanceProfile& p) {
  return {{"index", p.index},
          {"id", p.id},
          {"sliceCount", p.slice_count},
          {"instanceCount", p.instance_count},
          {"multiprocessorCount", p.multiprocessor_count},
          {"sharedCopyEngineCount", p.shared_copy_engine_count},
          {"sharedDecoderCount", p.shared_decoder_count},
          {"sharedEncoderCount", p.shared_encoder_count},
          {"sharedJpegCount", p.shared_jpeg_count},
          {"sharedOfaCount", p.shared_ofa_count}};
}

absl::StatusOr<Json> RecordMig(const Nvml& nvml, const GpuInfo& gpu, const RecordOptions& options) {
  Json mig = {{"current", gpu.mig_mode->current}, {"pending", gpu.mig_mode->pending}};
  absl::StatusOr<std::vector<GpuInstanceProfile>> profiles = nvml.GetGpuInstanceProfiles(gpu.index);
  if (!profiles.ok() && profiles.status().code() != absl::StatusCode::kUnimplemented) {
    return profiles.status();
  }
  if (!gpu.mig_mode->current) mig["queryWhileDisabled"] = profiles.ok();
  ASSIGN_OR_RETURN(std::vector<GpuInstance> instances, nvml.ListGpuInstances(gpu.index));

  // Compute instance profiles, asked of one existing instance per profile.
  std::map<uint32_t, Json> ci_profiles;
  for (const GpuInstance& gi : instances) {
    if (ci_profiles.contains(gi.profile_id)) continue;
    ASSIGN_OR_RETURN(std::vector<ComputeInstanceProfile> cps,
                     nvml.GetComputeInstanceProfiles(gpu.index, gi.id));
    Json list = Json::array();
    for (const ComputeInstanceProfile& cp : cps) list.push_back(CiProfileJson(cp));
    ci_profiles[gi.profile_id] = list;
  }

  Json profile_list = Json::array();
  if (profiles.ok()) {
    for (const GpuInstanceProfile& p : *profiles) {
      Json placements = Json::array();
      for (const MigPlacement& pl : p.placements) placements.push_back(PlacementJson(pl));
      Json j = {{"index", p.index},
                {"id", p.id},
                {"name", p.name},
                {"sliceCount", p.slice_count},
                {"instanceCount", p.instance_count},
                {"multiprocessorCount", p.multiprocessor_count},
                {"copyEngineCount", p.copy_engine_count},
                {"decoderCount", p.decoder_count},
                {"encoderCount", p.encoder_count},
                {"jpegCount", p.jpeg_count},
                {"ofaCount", p.ofa_count},
                {"memoryMiB", p.memory_bytes / kMiB},
                {"p2pSupported", p.p2p_supported},
                {"placements", placements}};
      if (auto it = ci_profiles.find(p.id); it != ci_profiles.end()) {
        j["computeInstanceProfiles"] = it->second;
      }
      profile_list.push_back(std::move(j));
    }
  }
  mig["profiles"] = profile_list;

  Json instance_list = Json::array();
  for (const GpuInstance& gi : instances) {
    Json cis = Json::array();
    for (const ComputeInstance& ci : gi.compute_instances) {
      cis.push_back({{"id", ci.id},
                     {"profileId", ci.profile_id},
                     {"placement", PlacementJson(ci.placement)},
                     {"uuid", options.redact ? RedactUuid(ci.uuid) : ci.uuid}});
    }
    instance_list.push_back({{"id", gi.id},
                             {"profileId", gi.profile_id},
                             {"placement", PlacementJson(gi.placement)},
                             {"computeInstances", cis}});
  }
  mig["instances"] = instance_list;
  return mig;
}

}  // namespace

absl::StatusOr<Json> RecordGpu(const Nvml& nvml, uint32_t index, const RecordOptions& options) {
  const std::string op = fmt::format("record gpu {}", index);
  absl::StatusOr<GpuInfo> read = nvml.GetGpu(index);
  if (!read.ok()) return base::Annotate(read.status(), op);
  const GpuInfo& gpu = *read;
  Json j = {{"index", gpu.index},
            {"uuid", options.redact ? RedactUuid(gpu.uuid) : gpu.uuid},
            {"name", gpu.name},
            {"pciBusId", gpu.pci_address.ToString()},
            {"pciVendorId", Hex(gpu.pci_vendor_id, 4)},
            {"pciDeviceId", Hex(gpu.pci_device_id, 4)},
            {"pciSubsystemVendorId", Hex(gpu.pci_subsystem_vendor_id, 4)},
            {"pciSubsystemDeviceId", Hex(gpu.pci_subsystem_device_id, 4)},
            {"minorNumber", gpu.minor_number},
            {"memoryTotalBytes", gpu.memory_total_bytes},
            {"memoryFreeBytes", gpu.memory_free_bytes},
            {"architecture", ArchitectureName(gpu.architecture)},
            {"computeMode", ComputeModeName(gpu.compute_mode)}};
  if (gpu.compute_capability) j["computeCapability"] = gpu.compute_capability->ToString();
  if (!gpu.serial.empty() && !options.redact) j["serial"] = gpu.serial;
  if (!gpu.board_part_number.empty()) j["boardPartNumber"] = gpu.board_part_number;
  if (gpu.mig_mode) {
    absl::StatusOr<Json> mig = RecordMig(nvml, gpu, options);
    if (!mig.ok()) return base::Annotate(mig.status(), op);
    j["mig"] = *std::move(mig);
  }
  return j;
}

absl::StatusOr<Json> RecordMachine(const Nvml& nvml, const RecordOptions& options) {
  ASSIGN_OR_RETURN(SystemInfo system, base::Annotate(nvml.GetSystemInfo(), "record system"));
  ASSIGN_OR_RETURN(uint32_t count, base::Annotate(nvml.GetGpuCount(), "record system"));
  Json out = {{"recordedBy", "nvml-record"}, {"driverVersion", system.driver_version}};
  if (system.cuda_driver_version > 0) out["cudaDriverVersion"] = system.cuda_driver_version;
  if (!system.nvml_version.empty()) out["nvmlVersion"] = system.nvml_version;
  Json gpus = Json::array();
  Json skipped = Json::array();
  for (uint32_t i = 0; i < count; ++i) {
    absl::StatusOr<Json> gpu = RecordGpu(nvml, i, options);
    if (gpu.ok()) {
      gpus.push_back(*std::move(gpu));
    } else if (options.keep_going) {
      skipped.push_back({{"index", i}, {"error", std::string(gpu.status().message())}});
    } else {
      return gpu.status();
    }
  }
  out["gpus"] = gpus;
  if (!skipped.empty()) out["skipped"] = skipped;
  return out;
}

}  // namespace tessera::drivers::nvidia
