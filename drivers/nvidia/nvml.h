// Nvml: the part of NVIDIA's management library the GPU driver uses, in our
// own types. No NVML type, constant or header leaks through this interface.
//
// Production: DlopenNvml (dlopen_nvml.h) loads libnvidia-ml.so.1 at run time.
// Tests: the same DlopenNvml on the fake libnvidia-ml.so.1 this module builds
// (drivers/nvidia/testing/), driven by a JSON description of a machine.
//
// GPUs are addressed by NVML index (0..GetGpuCount()-1). Indices are stable
// for the life of one NVML session but can change across reboots: persist the
// UUID and map it back with FindGpuByUuid(). GPU instances are addressed by
// their GPU instance ID (unique per GPU), compute instances by their compute
// instance ID (unique per GPU instance), exactly as nvidia-smi shows them.
//
// Errors carry NVML's own error string and a code callers can branch on:
//   NotFound           no such GPU index / instance, or NVML_ERROR_NOT_FOUND
//   Unimplemented      NVML_ERROR_NOT_SUPPORTED (the GPU or driver lacks the
//                      feature), or the loaded driver lacks the needed symbols
//   FailedPrecondition MIG disabled, device in use (NVML_ERROR_IN_USE), reset
//                      required, driver not loaded, version mismatch
//   PermissionDenied   NVML_ERROR_NO_PERMISSION (MIG changes need root)
//   Unavailable        NVML_ERROR_GPU_IS_LOST: the GPU fell off the bus
//   ResourceExhausted  NVML_ERROR_INSUFFICIENT_RESOURCES: placement taken or
//                      no instance of that profile left
//   InvalidArgument    NVML_ERROR_INVALID_ARGUMENT, or bad values from NVML
// The full table is in internal/nvml_status.cc.
//
// Implementations are safe for concurrent use (NVML itself is thread-safe),
// but a MIG create/destroy is not atomic with respect to other NVML clients;
// the GPU driver serializes its own claim operations.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "base/pci_address.h"

namespace tessera::drivers::nvidia {

// What dlopen() is asked for when no path is configured.
inline constexpr std::string_view kDefaultNvmlLibrary = "libnvidia-ml.so.1";
// Where the NVIDIA driver publishes the /dev/nvidia-caps minors of MIG
// instances (relative to the host root).
inline constexpr std::string_view kMigMinorsPath = "/proc/driver/nvidia-caps/mig-minors";

enum class Architecture {
  kUnknown,
  kKepler,
  kMaxwell,
  kPascal,
  kVolta,
  kTuring,
  kAmpere,
  kAda,
  kHopper,
  kBlackwell,
};
// "Volta", "Turing", "Ampere", "Ada", "Hopper", "Blackwell", ...; "Unknown".
std::string_view ArchitectureName(Architecture architecture);
// Inverse of ArchitectureName (case-insensitive); nullopt for unknown names.
std::optional<Architecture> ParseArchitecture(std::string_view name);

enum class ComputeMode { kUnknown, kDefault, kExclusiveProcess, kProhibited };
// "Default", "ExclusiveProcess", "Prohibited", "Unknown".
std::string_view ComputeModeName(ComputeMode mode);
std::optional<ComputeMode> ParseComputeMode(std::string_view name);

struct SystemInfo {
  std::string driver_version;  // "550.54.15"
  // NVML's encoding, 1000 * major + 10 * minor (12040 is CUDA 12.4); 0 when the
  // driver does not say.
  int cuda_driver_version = 0;
  std::string nvml_version;  // "12.550.54.15"; "" when the driver does not say
  friend bool operator==(const SystemInfo&, const SystemInfo&) = default;
};
// "12.4" for 12040; "" for 0.
std::string CudaVersionString(int nvml_cuda_version);

struct ComputeCapability {
  int major = 0;
  int minor = 0;
  std::string ToString() const;  // "9.0"
  friend auto operator<=>(const ComputeCapability&, const ComputeCapability&) = default;
};

// The architecture implied by a CUDA compute capability (7.0 Volta, 7.5
// Turing, 8.0/8.6/8.7 Ampere, 8.9 Ada, 9.0 Hopper, 10.x/12.x Blackwell), for
// drivers too old to report it (nvmlDeviceGetArchitecture is NVML 11+).
Architecture ArchitectureFromComputeCapability(const ComputeCapability& cc);

struct MigMode {
  bool current = false;  // MIG is on now
  bool pending = false;  // MIG will be on after the next GPU reset
  friend bool operator==(const MigMode&, const MigMode&) = default;
};

struct GpuInfo {
  uint32_t index = 0;
  std::string uuid;  // "GPU-ee87a9ad-4879-ad66-d02a-857389ebf52e"
  std::string name;  // product name, "NVIDIA H100 80GB HBM3"
  // Normalized to the kernel's form, "0000:1b:00.0" (NVML says "00000000:1B:00.0").
  base::PciAddress pci_address;
  uint16_t pci_vendor_id = 0;            // 0x10de
  uint16_t pci_device_id = 0;            // 0x2330
  uint16_t pci_subsystem_vendor_id = 0;  // 0x10de
  uint16_t pci_subsystem_device_id = 0;  // 0x16c1
  uint32_t minor_number = 0;             // /dev/nvidia<minor>
  uint64_t memory_total_bytes = 0;
  uint64_t memory_free_bytes = 0;
  std::optional<ComputeCapability> compute_capability;  // nullopt if not reported
  Architecture architecture = Architecture::kUnknown;
  std::string serial;             // "" when the board does not report one
  std::string board_part_number;  // "" when the board does not report one
  ComputeMode compute_mode = ComputeMode::kUnknown;
  std::optional<MigMode> mig_mode;  // nullopt: the GPU or driver has no MIG
  friend bool operator==(const GpuInfo&, const GpuInfo&) = default;
};

// A MIG placement: for GPU instances on the memory-slice axis (8 slices on
// A100/H100), for compute instances on the compute-slice axis of their GPU
// instance.
struct MigPlacement {
  uint32_t start = 0;
  uint32_t size = 0;
  bool Overlaps(const MigPlacement& other) const {
    return start < other.start + other.size && other.start < start + size;
  }
  friend auto operator<=>(const MigPlacement&, const MigPlacement&) = default;
};

struct GpuInstanceProfile {
  uint32_t id = 0;     // profile ID, as nvidia-smi prints it (19 for 1g.10gb)
  uint32_t index = 0;  // the NVML profile index it was read with (0 for 1 slice)
  // "1g.10gb", "1g.10gb+me". From the driver when it is recent enough to say
  // (R470+), else derived from slices and memory (may differ in rounding).
  std::string name;
  uint32_t slice_count = 0;     // compute slices: the "1" in 1g.10gb
  uint32_t instance_count = 0;  // at most this many at once on the GPU
  uint32_t multiprocessor_count = 0;
  uint32_t copy_engine_count = 0;
  uint32_t decoder_count = 0;
  uint32_t encoder_count = 0;
  uint32_t jpeg_count = 0;
  uint32_t ofa_count = 0;
  uint64_t memory_bytes = 0;
  bool p2p_supported = false;
  std::vector<MigPlacement> placements;  // every possible placement, driver order
  friend bool operator==(const GpuInstanceProfile&, const GpuInstanceProfile&) = default;
};

struct ComputeInstanceProfile {
  uint32_t id = 0;
  uint32_t index = 0;
  uint32_t slice_count = 0;
  uint32_t instance_count = 0;
  uint32_t multiprocessor_count = 0;
  uint32_t shared_copy_engine_count = 0;
  uint32_t shared_decoder_count = 0;
  uint32_t shared_encoder_count = 0;
  uint32_t shared_jpeg_count = 0;
  uint32_t shared_ofa_count = 0;
  friend bool operator==(const ComputeInstanceProfile&, const ComputeInstanceProfile&) = default;
};

struct ComputeInstance {
  uint32_t id = 0;
  uint32_t profile_id = 0;
  MigPlacement placement;
  std::string uuid;  // the MIG device UUID, "MIG-..."; "" if NVML has none yet
  // Minor of /dev/nvidia-caps/nvidia-cap<N> guarding this compute instance
  // (gpu<minor>/gi<id>/ci<id>/access); nullopt when the minors file is unknown.
  std::optional<uint32_t> caps_minor;
  friend bool operator==(const ComputeInstance&, const ComputeInstance&) = default;
};

struct GpuInstance {
  uint32_t id = 0;
  uint32_t profile_id = 0;
  MigPlacement placement;
  std::optional<uint32_t> caps_minor;              // gpu<minor>/gi<id>/access
  std::vector<ComputeInstance> compute_instances;  // sorted by id
  friend bool operator==(const GpuInstance&, const GpuInstance&) = default;
};

class Nvml {
 public:
  virtual ~Nvml() = default;
  Nvml() = default;
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  // Driver, CUDA driver and NVML versions.
  virtual absl::StatusOr<SystemInfo> GetSystemInfo() const = 0;

  // Number of GPUs NVML sees (MIG devices are not counted).
  virtual absl::StatusOr<uint32_t> GetGpuCount() const = 0;

  // Everything about one GPU. Fields NVML marks optional (serial, part number,
  // architecture, ...) are left empty when the board or driver does not
  // report them; any other failure fails the call.
  virtual absl::StatusOr<GpuInfo> GetGpu(uint32_t index) const = 0;

  // Cheap reachability probe (one query that reaches the GPU). OK when the GPU
  // answers; Unavailable when it fell off the bus.
  virtual absl::Status CheckHealth(uint32_t index) const = 0;

  // The GPU instance profiles the GPU supports, with their placements, sorted
  // by profile ID. Unimplemented when the GPU or driver has no MIG (and on
  // drivers that only answer with MIG mode enabled).
  virtual absl::StatusOr<std::vector<GpuInstanceProfile>> GetGpuInstanceProfiles(
      uint32_t index) const = 0;

  // The compute instance profiles available inside one GPU instance, by ID.
  // NotFound when the GPU instance does not exist.
  virtual absl::StatusOr<std::vector<ComputeInstanceProfile>> GetComputeInstanceProfiles(
      uint32_t index, uint32_t gpu_instance_id) const = 0;

  // Existing GPU instances with their compute instances, sorted by ID. Empty
  // when MIG is disabled or the GPU has no MIG; Unimplemented when the loaded
  // driver lacks the MIG API.
  virtual absl::StatusOr<std::vector<GpuInstance>> ListGpuInstances(uint32_t index) const = 0;

  // Creates a GPU instance of `profile_id` at `placement` (one of the profile's
  // placements). FailedPrecondition when MIG is disabled; ResourceExhausted
  // when the placement overlaps an existing instance or the profile's instance
  // count is used up.
  virtual absl::StatusOr<GpuInstance> CreateGpuInstance(uint32_t index, uint32_t profile_id,
                                                        MigPlacement placement) = 0;

  // Creates a compute instance of `profile_id` in a GPU instance (the driver
  // picks the placement) and returns it with its MIG device UUID.
  virtual absl::StatusOr<ComputeInstance> CreateComputeInstance(uint32_t index,
                                                                uint32_t gpu_instance_id,
                                                                uint32_t profile_id) = 0;

  // NotFound when the instance does not exist (callers undoing a prepare may
  // treat that as done). FailedPrecondition when processes still use it, or
  // (for a GPU instance) while it still has compute instances.
  virtual absl::Status DestroyComputeInstance(uint32_t index, uint32_t gpu_instance_id,
                                              uint32_t compute_instance_id) = 0;
  virtual absl::Status DestroyGpuInstance(uint32_t index, uint32_t gpu_instance_id) = 0;
};

// The index of the GPU with `uuid`; NotFound when no GPU has it.
absl::StatusOr<uint32_t> FindGpuByUuid(const Nvml& nvml, std::string_view uuid);

// Parses NVML's PCI bus id ("00000000:1B:00.0", or the legacy
// "0000:1B:00.0") into our form. InvalidArgument on anything else.
absl::StatusOr<base::PciAddress> ParseNvmlBusId(std::string_view bus_id);

}  // namespace tessera::drivers::nvidia
