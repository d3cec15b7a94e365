// DlopenNvml: the production Nvml. Loads libnvidia-ml.so.1 with dlopen(),
// resolves a pinned list of versioned symbols (internal/nvml_abi.h), calls
// nvmlInit_v2() and, on destruction, nvmlShutdown() and dlclose().
//
// Nothing NVIDIA is needed at build time; on a node without the NVIDIA driver
// Load() answers NotFound and the GPU driver runs degraded (GPUs listed from
// sysfs, not preparable). Tests load the fake library built in
// drivers/nvidia/testing/ through this same class.
//
// Symbols come in three groups:
//   required  (init, counts, uuid, name, PCI info, minor, memory): a missing
//             one fails Load() with FailedPrecondition naming it.
//   MIG       (R470+ drivers): all or nothing; without them the MIG methods
//             answer Unimplemented and mig_api_available() is false.
//   optional  (architecture, serial, part number, compute mode, CUDA and NVML
//             versions, profile names): each missing one leaves its field empty.
//
// Thread-safety: safe for concurrent use; the object is immutable after Load().
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "base/filesystem.h"
#include "drivers/nvidia/nvml.h"

namespace tessera::drivers::nvidia {

struct DlopenNvmlOptions {
  // Passed to dlopen(): a bare soname uses the loader's search path; a path
  // containing '/' is opened as is.
  std::string library = std::string(kDefaultNvmlLibrary);
  // When set, MIG instances get their /dev/nvidia-caps minors from
  // `mig_minors_path` read through it. Not owned; must outlive the DlopenNvml.
  const base::Filesystem* filesystem = nullptr;
  std::string mig_minors_path = std::string(kMigMinorsPath);
};

class DlopenNvml final : public Nvml {
 public:
  // NotFound when the library cannot be found; FailedPrecondition when it
  // cannot be loaded, lacks a required symbol, or nvmlInit_v2 fails because
  // the kernel driver is not loaded (other nvmlInit_v2 failures keep their
  // mapped code, e.g. PermissionDenied).
  static absl::StatusOr<std::unique_ptr<DlopenNvml>> Load(
      const std::string& library = std::string(kDefaultNvmlLibrary));
  static absl::StatusOr<std::unique_ptr<DlopenNvml>> Load(const DlopenNvmlOptions& options);

  ~DlopenNvml() override;

  const std::string& library() const { return options_.library; }
  // Whether the driver has every MIG symbol we call.
  bool mig_api_available() const;
  // The MIG and optional symbols this driver lacks, for diagnostics.
  const std::vector<std::string>& missing_symbols() const;

  absl::StatusOr<SystemInfo> GetSystemInfo() const override;
  absl::StatusOr<uint32_t> GetGpuCount() const override;
  absl::StatusOr<GpuInfo> GetGpu(uint32_t index) const override;
  absl::Status CheckHealth(uint32_t index) const override;
  absl::StatusOr<std::vector<GpuInstanceProfile>> GetGpuInstanceProfiles(
      uint32_t index) const override;
  absl::StatusOr<std::vector<ComputeInstanceProfile>> GetComputeInstanceProfiles(
      uint32_t index, uint32_t gpu_instance_id) const override;
  absl::StatusOr<std::vector<GpuInstance>> ListGpuInstances(uint32_t index) const override;
  absl::StatusOr<GpuInstance> CreateGpuInstance(uint32_t index, uint32_t profile_id,
                                                MigPlacement placement) override;
  absl::StatusOr<ComputeInstance> CreateComputeInstance(uint32_t index, uint32_t gpu_instance_id,
                                                        uint32_t profile_id) override;
  absl::Status DestroyComputeInstance(uint32_t index, uint32_t gpu_instance_id,
                                      uint32_t compute_instance_id) override;
  absl::Status DestroyGpuInstance(uint32_t index, uint32_t gpu_instance_id) override;

  struct Api;  // function table; defined in the .cc (keeps dlfcn.h and the ABI out)

 private:
  DlopenNvml(std::unique_ptr<Api> api, DlopenNvmlOptions options);

  const std::unique_ptr<Api> api_;
  const DlopenNvmlOptions options_;
};

}  // namespace tessera::drivers::nvidia
