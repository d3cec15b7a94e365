// The subset of the NVML C ABI that Tessera calls, declared by us.
//
// No NVIDIA header is needed at build time: every constant, struct and
// function signature below was written from the public nvml.h of NVML 12.2.140
// (NVIDIA/go-nvml, pkg/nvml/nvml.h, "NVML VERSION: 12.2.140"), and each entry
// notes the NVML API generation it appeared in. Struct layouts are
// static_assert'ed against the sizes that header implies on LP64 (x86-64 and
// aarch64 Linux), because a wrong layout here is memory corruption on a real
// node.
//
// Handles. NVML 12.x declares handles as a struct wrapping one pointer
// (`typedef struct { struct nvmlDevice_st* handle; } nvmlDevice_t;`); NVML 11
// and older declare the bare pointer. Both are the same object in memory and,
// on the SysV x86-64 and AAPCS64 ABIs, are passed and returned in the same
// general-purpose register, so we use opaque pointer types.
//
// Enums (nvmlReturn_t, nvmlComputeMode_t, ...) are C enums, i.e. 4-byte ints,
// and are declared here as plain integers.
//
// Used by dlopen_nvml.cc (the client) and by the fake libnvidia-ml.so.1 built
// for tests (the provider), so both sides agree by construction. Module-private:
// nothing outside drivers/nvidia includes this file.
#pragma once

#include <cstddef>
#include <cstdint>

// Names are NVML's own spelling on purpose, so that each line can be checked
// against nvml.h by eye.
// NOLINTBEGIN(readability-identifier-naming)
namespace tessera::drivers::nvidia::abi {

// --- Opaque handles (see the header comment). ---
struct nvmlDevice_st;
struct nvmlGpuInstance_st;
struct nvmlComputeInstance_st;
using nvmlDevice_t = nvmlDevice_st*;
using nvmlGpuInstance_t = nvmlGpuInstance_st*;
using nvmlComputeInstance_t = nvmlComputeInstance_st*;

// --- nvmlReturn_t (nvml.h "Return values for NVML API calls"). ---
using nvmlReturn_t = int;
inline constexpr nvmlReturn_t NVML_SUCCESS = 0;
inline constexpr nvmlReturn_t NVML_ERROR_UNINITIALIZED = 1;
inline constexpr nvmlReturn_t NVML_ERROR_INVALID_ARGUMENT = 2;
inline constexpr nvmlReturn_t NVML_ERROR_NOT_SUPPORTED = 3;
inline constexpr nvmlReturn_t NVML_ERROR_NO_PERMISSION = 4;
inline constexpr nvmlReturn_t NVML_ERROR_ALREADY_INITIALIZED = 5;
inline constexpr nvmlReturn_t NVML_ERROR_NOT_FOUND = 6;
inline constexpr nvmlReturn_t NVML_ERROR_INSUFFICIENT_SIZE = 7;
inline constexpr nvmlReturn_t NVML_ERROR_INSUFFICIENT_POWER = 8;
inline constexpr nvmlReturn_t NVML_ERROR_DRIVER_NOT_LOADED = 9;
inline constexpr nvmlReturn_t NVML_ERROR_TIMEOUT = 10;
inline constexpr nvmlReturn_t NVML_ERROR_IRQ_ISSUE = 11;
inline constexpr nvmlReturn_t NVML_ERROR_LIBRARY_NOT_FOUND = 12;
inline constexpr nvmlReturn_t NVML_ERROR_FUNCTION_NOT_FOUND = 13;
inline constexpr nvmlReturn_t NVML_ERROR_CORRUPTED_INFOROM = 14;
inline constexpr nvmlReturn_t NVML_ERROR_GPU_IS_LOST = 15;
inline constexpr nvmlReturn_t NVML_ERROR_RESET_REQUIRED = 16;
inline constexpr nvmlReturn_t NVML_ERROR_OPERATING_SYSTEM = 17;
inline constexpr nvmlReturn_t NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18;
inline constexpr nvmlReturn_t NVML_ERROR_IN_USE = 19;
inline constexpr nvmlReturn_t NVML_ERROR_MEMORY = 20;
inline constexpr nvmlReturn_t NVML_ERROR_NO_DATA = 21;
inline constexpr nvmlReturn_t NVML_ERROR_VGPU_ECC_NOT_SUPPORTED = 22;
inline constexpr nvmlReturn_t NVML_ERROR_INSUFFICIENT_RESOURCES = 23;
inline constexpr nvmlReturn_t NVML_ERROR_FREQ_NOT_SUPPORTED = 24;
inline constexpr nvmlReturn_t NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25;
inline constexpr nvmlReturn_t NVML_ERROR_DEPRECATED = 26;
inline constexpr nvmlReturn_t NVML_ERROR_NOT_READY = 27;
inline constexpr nvmlReturn_t NVML_ERROR_GPU_NOT_FOUND = 28;  // NVML 12.4+
inline constexpr nvmlReturn_t NVML_ERROR_INVALID_STATE = 29;  // NVML 12.4+
inline constexpr nvmlReturn_t NVML_ERROR_UNKNOWN = 999;

// --- Buffer sizes (nvml.h "Constants"). Larger buffers are always accepted. ---
inline constexpr unsigned int NVML_DEVICE_UUID_V2_BUFFER_SIZE = 96;
inline constexpr unsigned int NVML_DEVICE_NAME_V2_BUFFER_SIZE = 96;
inline constexpr unsigned int NVML_DEVICE_SERIAL_BUFFER_SIZE = 30;
inline constexpr unsigned int NVML_DEVICE_PART_NUMBER_BUFFER_SIZE = 80;
inline constexpr unsigned int NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE = 80;
inline constexpr unsigned int NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE = 80;
inline constexpr unsigned int NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE = 32;
inline constexpr unsigned int NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE = 16;

// --- nvmlComputeMode_t. ---
inline constexpr int NVML_COMPUTEMODE_DEFAULT = 0;
inline constexpr int NVML_COMPUTEMODE_EXCLUSIVE_THREAD = 1;  // support removed
inline constexpr int NVML_COMPUTEMODE_PROHIBITED = 2;
inline constexpr int NVML_COMPUTEMODE_EXCLUSIVE_PROCESS = 3;

// --- nvmlDeviceArchitecture_t (NVML 11.0+; BLACKWELL added in 12.8). ---
using nvmlDeviceArchitecture_t = unsigned int;
inline constexpr unsigned int NVML_DEVICE_ARCH_KEPLER = 2;
inline constexpr unsigned int NVML_DEVICE_ARCH_MAXWELL = 3;
inline constexpr unsigned int NVML_DEVICE_ARCH_PASCAL = 4;
inline constexpr unsigned int NVML_DEVICE_ARCH_VOLTA = 5;
inline constexpr unsigned int NVML_DEVICE_ARCH_TURING = 6;
inline constexpr unsigned int NVML_DEVICE_ARCH_AMPERE = 7;
inline constexpr unsigned int NVML_DEVICE_ARCH_ADA = 8;
inline constexpr unsigned int NVML_DEVICE_ARCH_HOPPER = 9;
inline constexpr unsigned int NVML_DEVICE_ARCH_BLACKWELL = 10;
inline constexpr unsigned int NVML_DEVICE_ARCH_UNKNOWN = 0xffffffffu;

// --- MIG (nvml.h "Multi Instance GPU Management", NVML 11.0 / R450+). ---
inline constexpr unsigned int NVML_DEVICE_MIG_DISABLE = 0x0;
inline constexpr unsigned int NVML_DEVICE_MIG_ENABLE = 0x1;

// GPU instance profile *indices*, passed to nvmlDeviceGetGpuInstanceProfileInfo.
// The call answers with the profile *ID* (info.id, e.g. 19 for 1g.10gb), which
// every other MIG call takes. Newer drivers know more indices than these.
inline constexpr unsigned int NVML_GPU_INSTANCE_PROFILE_1_SLICE = 0x0;
inline constexpr unsigned int NVML_GPU_INSTANCE_PROFILE_2_SLICE = 0x1;
inline constexpr unsigned int NVML_GPU_INSTANCE_PROFILE_3_SLICE = 0x2;
inline constexpr unsigned int NVML_GPU_INSTANCE_PROFILE_4_SLICE = 0x3;
inline constexpr unsigned int NVML_GPU_INSTANCE_PROFILE_7_SLICE = 0x4;
inline constexpr unsigned int NVML_GPU_INSTANCE_PROFILE_8_SLICE = 0x5;
inline constexpr unsigned int NVML_GPU_INSTANCE_PROFILE_6_SLICE = 0x6;
inline constexpr unsigned int NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1 = 0x7;
inline constexpr unsigned int NVML_GPU_INSTANCE_PROFILE_2_SLICE_REV1 = 0x8;
inline constexpr unsigned int NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV2 = 0x9;
inline constexpr unsigned int NVML_GPU_INSTANCE_PROFILE_COUNT = 0xA;  // as of 12.2

inline constexpr unsigned int NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE = 0x0;
inline constexpr unsigned int NVML_COMPUTE_INSTANCE_PROFILE_2_SLICE = 0x1;
inline constexpr unsigned int NVML_COMPUTE_INSTANCE_PROFILE_3_SLICE = 0x2;
inline constexpr unsigned int NVML_COMPUTE_INSTANCE_PROFILE_4_SLICE = 0x3;
inline constexpr unsigned int NVML_COMPUTE_INSTANCE_PROFILE_7_SLICE = 0x4;
inline constexpr unsigned int NVML_COMPUTE_INSTANCE_PROFILE_8_SLICE = 0x5;
inline constexpr unsigned int NVML_COMPUTE_INSTANCE_PROFILE_6_SLICE = 0x6;
inline constexpr unsigned int NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE_REV1 = 0x7;
inline constexpr unsigned int NVML_COMPUTE_INSTANCE_PROFILE_COUNT = 0x8;  // as of 12.2

inline constexpr unsigned int NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED = 0x0;

// --- Structs. ---

// nvmlPciInfo_t as filled by nvmlDeviceGetPciInfo_v3 (layout since NVML 9).
// busId is "%08X:%02X:%02X.0" (8-digit domain); busIdLegacy is "%04X:...".
struct nvmlPciInfo_t {
  char busIdLegacy[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE];
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pciDeviceId;     // (device id << 16) | vendor id
  unsigned int pciSubSystemId;  // (subsystem device id << 16) | subsystem vendor id
  char busId[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
};
static_assert(sizeof(nvmlPciInfo_t) == 68);
static_assert(offsetof(nvmlPciInfo_t, pciDeviceId) == 28);
static_assert(offsetof(nvmlPciInfo_t, busId) == 36);

// nvmlMemory_t (v1), filled by nvmlDeviceGetMemoryInfo.
struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
static_assert(sizeof(nvmlMemory_t) == 24);

// nvmlGpuInstancePlacement_t: memory-slice axis (start, size).
struct nvmlGpuInstancePlacement_t {
  unsigned int start;
  unsigned int size;
};
static_assert(sizeof(nvmlGpuInstancePlacement_t) == 8);

// nvmlGpuInstanceProfileInfo_t (v1), filled by nvmlDeviceGetGpuInstanceProfileInfo.
struct nvmlGpuInstanceProfileInfo_t {
  unsigned int id;  // profile ID
  unsigned int isP2pSupported;
  unsigned int sliceCount;     // compute slices
  unsigned int instanceCount;  // max instances of this profile
  unsigned int multiprocessorCount;
  unsigned int copyEngineCount;
  unsigned int decoderCount;
  unsigned int encoderCount;
  unsigned int jpegCount;
  unsigned int ofaCount;
  unsigned long long memorySizeMB;  // MiB
};
static_assert(sizeof(nvmlGpuInstanceProfileInfo_t) == 48);
static_assert(offsetof(nvmlGpuInstanceProfileInfo_t, memorySizeMB) == 40);

// nvmlGpuInstanceProfileInfo_v2_t (NVML 11.4 / R470+), filled by
// nvmlDeviceGetGpuInstanceProfileInfoV; adds `version` first and `name` last.
struct nvmlGpuInstanceProfileInfo_v2_t {
  unsigned int version;  // must be kGpuInstanceProfileInfoV2
  unsigned int id;
  unsigned int isP2pSupported;
  unsigned int sliceCount;
  unsigned int instanceCount;
  unsigned int multiprocessorCount;
  unsigned int copyEngineCount;
  unsigned int decoderCount;
  unsigned int encoderCount;
  unsigned int jpegCount;
  unsigned int ofaCount;
  unsigned long long memorySizeMB;
  char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];  // "MIG 1g.10gb"
};
static_assert(sizeof(nvmlGpuInstanceProfileInfo_v2_t) == 152);
static_assert(offsetof(nvmlGpuInstanceProfileInfo_v2_t, memorySizeMB) == 48);
static_assert(offsetof(nvmlGpuInstanceProfileInfo_v2_t, name) == 56);

// NVML_STRUCT_VERSION(data, ver) = sizeof(struct) | (ver << 24).
constexpr unsigned int NvmlStructVersion(size_t size, unsigned int version) {
  return static_cast<unsigned int>(size) | (version << 24U);
}
inline constexpr unsigned int kGpuInstanceProfileInfoV2 =
    NvmlStructVersion(sizeof(nvmlGpuInstanceProfileInfo_v2_t), 2);

// nvmlGpuInstanceInfo_t, filled by nvmlGpuInstanceGetInfo.
struct nvmlGpuInstanceInfo_t {
  nvmlDevice_t device;
  unsigned int id;
  unsigned int profileId;
  nvmlGpuInstancePlacement_t placement;
};
static_assert(sizeof(nvmlGpuInstanceInfo_t) == 24);
static_assert(offsetof(nvmlGpuInstanceInfo_t, placement) == 16);

// nvmlComputeInstancePlacement_t: compute-slice axis inside the GPU instance.
struct nvmlComputeInstancePlacement_t {
  unsigned int start;
  unsigned int size;
};

// nvmlComputeInstanceProfileInfo_t (v1), filled by
// nvmlGpuInstanceGetComputeInstanceProfileInfo.
struct nvmlComputeInstanceProfileInfo_t {
  unsigned int id;
  unsigned int sliceCount;
  unsigned int instanceCount;
  unsigned int multiprocessorCount;
  unsigned int sharedCopyEngineCount;
  unsigned int sharedDecoderCount;
  unsigned int sharedEncoderCount;
  unsigned int sharedJpegCount;
  unsigned int sharedOfaCount;
};
static_assert(sizeof(nvmlComputeInstanceProfileInfo_t) == 36);

// nvmlComputeInstanceInfo_t with `placement` (NVML 11.1+), filled by
// nvmlComputeInstanceGetInfo_v2. (v1 lacked placement; we never call v1.)
struct nvmlComputeInstanceInfo_t {
  nvmlDevice_t device;
  nvmlGpuInstance_t gpuInstance;
  unsigned int id;
  unsigned int profileId;
  nvmlComputeInstancePlacement_t placement;
};
static_assert(sizeof(nvmlComputeInstanceInfo_t) == 32);
static_assert(offsetof(nvmlComputeInstanceInfo_t, placement) == 24);

// --- Function signatures, named after their exported symbol. ---
// Init and teardown (nvmlInit_v2: NVML 5.319+).
using nvmlInit_v2_fn = nvmlReturn_t (*)();
using nvmlShutdown_fn = nvmlReturn_t (*)();
using nvmlErrorString_fn = const char* (*)(nvmlReturn_t);
// System queries.
using nvmlSystemGetDriverVersion_fn = nvmlReturn_t (*)(char*, unsigned int);
using nvmlSystemGetNVMLVersion_fn = nvmlReturn_t (*)(char*, unsigned int);
using nvmlSystemGetCudaDriverVersion_fn = nvmlReturn_t (*)(int*);  // e.g. 12040
// Device queries.
using nvmlDeviceGetCount_v2_fn = nvmlReturn_t (*)(unsigned int*);
using nvmlDeviceGetHandleByIndex_v2_fn = nvmlReturn_t (*)(unsigned int, nvmlDevice_t*);
using nvmlDeviceGetUUID_fn = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned int);
using nvmlDeviceGetName_fn = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned int);
using nvmlDeviceGetPciInfo_v3_fn = nvmlReturn_t (*)(nvmlDevice_t, nvmlPciInfo_t*);
using nvmlDeviceGetMinorNumber_fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*);
using nvmlDeviceGetMemoryInfo_fn = nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t*);
using nvmlDeviceGetCudaComputeCapability_fn = nvmlReturn_t (*)(nvmlDevice_t, int*, int*);
using nvmlDeviceGetArchitecture_fn = nvmlReturn_t (*)(nvmlDevice_t, nvmlDeviceArchitecture_t*);
using nvmlDeviceGetSerial_fn = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned int);
using nvmlDeviceGetBoardPartNumber_fn = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned int);
using nvmlDeviceGetComputeMode_fn = nvmlReturn_t (*)(nvmlDevice_t, int*);
// MIG.
using nvmlDeviceGetMigMode_fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*, unsigned int*);
using nvmlDeviceGetGpuInstanceProfileInfo_fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int,
                                                                nvmlGpuInstanceProfileInfo_t*);
using nvmlDeviceGetGpuInstanceProfileInfoV_fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int,
                                                                 nvmlGpuInstanceProfileInfo_v2_t*);
using nvmlDeviceGetGpuInstancePossiblePlacements_v2_fn =
    nvmlReturn_t (*)(nvmlDevice_t, unsigned int, nvmlGpuInstancePlacement_t*, unsigned int*);
using nvmlDeviceCreateGpuInstanceWithPlacement_fn = nvmlReturn_t (*)(
    nvmlDevice_t, unsigned int, const nvmlGpuInstancePlacement_t*, nvmlGpuInstance_t*);
using nvmlDeviceGetGpuInstances_fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int,
                                                      nvmlGpuInstance_t*, unsigned int*);
using nvmlDeviceGetGpuInstanceById_fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int,
                                                         nvmlGpuInstance_t*);
using nvmlGpuInstanceGetInfo_fn = nvmlReturn_t (*)(nvmlGpuInstance_t, nvmlGpuInstanceInfo_t*);
using nvmlGpuInstanceDestroy_fn = nvmlReturn_t (*)(nvmlGpuInstance_t);
using nvmlGpuInstanceGetComputeInstanceProfileInfo_fn = nvmlReturn_t (*)(
    nvmlGpuInstance_t, unsigned int, unsigned int, nvmlComputeInstanceProfileInfo_t*);
using nvmlGpuInstanceCreateComputeInstance_fn = nvmlReturn_t (*)(nvmlGpuInstance_t, unsigned int,
                                                                 nvmlComputeInstance_t*);
using nvmlGpuInstanceGetComputeInstances_fn = nvmlReturn_t (*)(nvmlGpuInstance_t, unsigned int,
                                                               nvmlComputeInstance_t*,
                                                               unsigned int*);
using nvmlGpuInstanceGetComputeInstanceById_fn = nvmlReturn_t (*)(nvmlGpuInstance_t, unsigned int,
                                                                  nvmlComputeInstance_t*);
using nvmlComputeInstanceGetInfo_v2_fn = nvmlReturn_t (*)(nvmlComputeInstance_t,
                                                          nvmlComputeInstanceInfo_t*);
using nvmlComputeInstanceDestroy_fn = nvmlReturn_t (*)(nvmlComputeInstance_t);
using nvmlDeviceGetMaxMigDeviceCount_fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*);
using nvmlDeviceGetMigDeviceHandleByIndex_fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int,
                                                                nvmlDevice_t*);
using nvmlDeviceGetGpuInstanceId_fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*);
using nvmlDeviceGetComputeInstanceId_fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*);

// The symbols DlopenNvml resolves. Required ones must all be present (else
// Load fails with FailedPrecondition naming the first missing one); a missing
// optional one disables the feature that needs it.
inline constexpr const char* kRequiredSymbols[] = {
    "nvmlInit_v2",
    "nvmlShutdown",
    "nvmlErrorString",
    "nvmlSystemGetDriverVersion",
    "nvmlDeviceGetCount_v2",
    "nvmlDeviceGetHandleByIndex_v2",
    "nvmlDeviceGetUUID",
    "nvmlDeviceGetName",
    "nvmlDeviceGetPciInfo_v3",
    "nvmlDeviceGetMinorNumber",
    "nvmlDeviceGetMemoryInfo",
};

// MIG needs all of these (R470+ drivers have them).
inline constexpr const char* kMigSymbols[] = {
    "nvmlDeviceGetMigMode",
    "nvmlDeviceGetGpuInstanceProfileInfo",
    "nvmlDeviceGetGpuInstancePossiblePlacements_v2",
    "nvmlDeviceCreateGpuInstanceWithPlacement",
    "nvmlDeviceGetGpuInstances",
    "nvmlDeviceGetGpuInstanceById",
    "nvmlGpuInstanceGetInfo",
    "nvmlGpuInstanceDestroy",
    "nvmlGpuInstanceGetComputeInstanceProfileInfo",
    "nvmlGpuInstanceCreateComputeInstance",
    "nvmlGpuInstanceGetComputeInstances",
    "nvmlGpuInstanceGetComputeInstanceById",
    "nvmlComputeInstanceGetInfo_v2",
    "nvmlComputeInstanceDestroy",
    "nvmlDeviceGetMaxMigDeviceCount",
    "nvmlDeviceGetMigDeviceHandleByIndex",
    "nvmlDeviceGetGpuInstanceId",
    "nvmlDeviceGetComputeInstanceId",
};

// Each of these enables one field or nicety on its own.
inline constexpr const char* kOptionalSymbols[] = {
    "nvmlSystemGetNVMLVersion",
    "nvmlSystemGetCudaDriverVersion",
    "nvmlDeviceGetCudaComputeCapability",
    "nvmlDeviceGetArchitecture",
    "nvmlDeviceGetSerial",
    "nvmlDeviceGetBoardPartNumber",
    "nvmlDeviceGetComputeMode",
    "nvmlDeviceGetGpuInstanceProfileInfoV",  // profile names ("1g.10gb")
};

}  // namespace tessera::drivers::nvidia::abi
// NOLINTEND(readability-identifier-naming)
