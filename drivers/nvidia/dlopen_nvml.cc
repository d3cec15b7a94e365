#include "drivers/nvidia/dlopen_nvml.h"

#include <dlfcn.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <utility>

#include "spdlog/fmt/fmt.h"

#include "base/byte_units.h"
#include "base/log.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "drivers/nvidia/internal/nvml_abi.h"
#include "drivers/nvidia/internal/nvml_status.h"
#include "drivers/nvidia/mig_minors.h"

namespace tessera::drivers::nvidia {

namespace {

// Profile indices beyond abi::NVML_GPU_INSTANCE_PROFILE_COUNT exist on newer
// drivers (graphics profiles on Blackwell); probe generously, skipping the
// ones the driver rejects.
constexpr unsigned int kMaxGpuInstanceProfileIndex = 32;
constexpr unsigned int kMaxComputeInstanceProfileIndex = 16;
using base::kMiB;

std::shared_ptr<spdlog::logger> Log() {
  static const std::shared_ptr<spdlog::logger> log = base::log::Get("nvidia");
  return log;
}

// A fixed-size output struct with slack behind it: if a future driver ever
// wrote a larger struct than the layout we declared, it would scribble on our
// slack instead of the stack. (Unversioned NVML structs never grow, but this
// costs nothing.)
template <typename T>
struct Out {
  T value{};
  unsigned char slack[256]{};
};

// Text NVML wrote into a char buffer; stops at the first NUL, never reads past
// the buffer.
template <size_t N>
std::string CString(const char (&buffer)[N]) {
  return std::string(buffer, strnlen(buffer, N));
}

bool IsUnsupported(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnimplemented || s.code() == absl::StatusCode::kNotFound;
}

std::string PlacementText(MigPlacement p) { return fmt::format("{}:{}", p.start, p.size); }

}  // namespace

struct DlopenNvml::Api {
  void* handle = nullptr;
  std::vector<std::string> missing;
  bool mig = false;

  abi::nvmlInit_v2_fn init = nullptr;
  abi::nvmlShutdown_fn shutdown = nullptr;
  abi::nvmlErrorString_fn error_string = nullptr;
  abi::nvmlSystemGetDriverVersion_fn driver_version = nullptr;
  abi::nvmlSystemGetNVMLVersion_fn nvml_version = nullptr;
  abi::nvmlSystemGetCudaDriverVersion_fn cuda_version = nullptr;
  abi::nvmlDeviceGetCount_v2_fn count = nullptr;
  abi::nvmlDeviceGetHandleByIndex_v2_fn handle_by_index = nullptr;
  abi::nvmlDeviceGetUUID_fn uuid = nullptr;
  abi::nvmlDeviceGetName_fn name = nullptr;
  abi::nvmlDeviceGetPciInfo_v3_fn pci_info = nullptr;
  abi::nvmlDeviceGetMinorNumber_fn minor = nullptr;
  abi::nvmlDeviceGetMemoryInfo_fn memory = nullptr;
  abi::nvmlDeviceGetCudaComputeCapability_fn compute_capability = nullptr;
  abi::nvmlDeviceGetArchitecture_fn architecture = nullptr;
  abi::nvmlDeviceGetSerial_fn serial = nullptr;
  abi::nvmlDeviceGetBoardPartNumber_fn part_number = nullptr;
  abi::nvmlDeviceGetComputeMode_fn compute_mode = nullptr;

  abi::nvmlDeviceGetMigMode_fn mig_mode = nullptr;
  abi::nvmlDeviceGetGpuInstanceProfileInfo_fn gi_profile = nullptr;
  abi::nvmlDeviceGetGpuInstanceProfileInfoV_fn gi_profile_v = nullptr;
  abi::nvmlDeviceGetGpuInstancePossiblePlacements_v2_fn gi_placements = nullptr;
  abi::nvmlDeviceCreateGpuInstanceWithPlacement_fn gi_create = nullptr;
  abi::nvmlDeviceGetGpuInstances_fn gi_list = nullptr;
  abi::nvmlDeviceGetGpuInstanceById_fn gi_by_id = nullptr;
  abi::nvmlGpuInstanceGetInfo_fn gi_info = nullptr;
  abi::nvmlGpuInstanceDestroy_fn gi_destroy = nullptr;
  abi::nvmlGpuInstanceGetComputeInstanceProfileInfo_fn ci_profile = nullptr;
  abi::nvmlGpuInstanceCreateComputeInstance_fn ci_create = nullptr;
  abi::nvmlGpuInstanceGetComputeInstances_fn ci_list = nullptr;
  abi::nvmlGpuInstanceGetComputeInstanceById_fn ci_by_id = nullptr;
  abi::nvmlComputeInstanceGetInfo_v2_fn ci_info = nullptr;
  abi::nvmlComputeInstanceDestroy_fn ci_destroy = nullptr;
  abi::nvmlDeviceGetMaxMigDeviceCount_fn max_mig_devices = nullptr;
  abi::nvmlDeviceGetMigDeviceHandleByIndex_fn mig_device = nullptr;
  abi::nvmlDeviceGetGpuInstanceId_fn mig_gi_id = nullptr;
  abi::nvmlDeviceGetComputeInstanceId_fn mig_ci_id = nullptr;

  ~Api() {
    if (handle != nullptr) dlclose(handle);
  }

  // Status for an NVML return code, worded by the library itself.
  absl::Status Check(abi::nvmlReturn_t rc, std::string_view operation) const {
    if (rc == abi::NVML_SUCCESS) return absl::OkStatus();
    const char* text = error_string != nullptr ? error_string(rc) : nullptr;
    return internal::NvmlStatus(rc, operation, text != nullptr ? text : "");
  }

  absl::StatusOr<abi::nvmlDevice_t> Device(uint32_t index) const {
    abi::nvmlDevice_t device = nullptr;
    abi::nvmlReturn_t rc = handle_by_index(index, &device);
    if (rc == abi::NVML_ERROR_INVALID_ARGUMENT) {
      return absl::NotFoundError(fmt::format("get gpu {}: no such gpu index", index));
    }
    RETURN_IF_ERROR(Check(rc, fmt::format("get gpu {}", index)));
    return device;
  }

  absl::StatusOr<abi::nvmlGpuInstance_t> GpuInstanceById(abi::nvmlDevice_t device, uint32_t index,
                                                         uint32_t gi_id) const {
    abi::nvmlGpuInstance_t gi = nullptr;
    abi::nvmlReturn_t rc = gi_by_id(device, gi_id, &gi);
    if (rc == abi::NVML_ERROR_NOT_FOUND || rc == abi::NVML_ERROR_INVALID_ARGUMENT) {
      return absl::NotFoundError(
          fmt::format("get gpu instance {} on gpu {}: no such gpu instance", gi_id, index));
    }
    RETURN_IF_ERROR(Check(rc, fmt::format("get gpu instance {} on gpu {}", gi_id, index)));
    return gi;
  }

  absl::Status RequireMig(std::string_view operation) const {
    if (mig) return absl::OkStatus();
    std::string lacking;
    for (const char* symbol : abi::kMigSymbols) {
      if (std::find(missing.begin(), missing.end(), symbol) != missing.end()) {
        lacking = symbol;
        break;
      }
    }
    return absl::UnimplementedError(base::StrCat(
        operation, ": the loaded nvml library has no mig api (", lacking, " missing)"));
  }
};

namespace {

using Api = DlopenNvml::Api;

bool Resolve(Api& api, const char* symbol, void** out) {
  dlerror();
  void* address = dlsym(api.handle, symbol);
  if (address == nullptr) return false;
  *out = address;
  return true;
}

absl::Status ResolveAll(Api& api) {
  struct Entry {
    const char* symbol;
    void** slot;
  };
  // Function pointers and void* have the same size and representation on
  // every platform dlsym() exists on (POSIX requires it), so the table can
  // store them as void*.
  auto slot = [](auto& fn) { return reinterpret_cast<void**>(&fn); };
  const std::array required = {
      Entry{"nvmlInit_v2", slot(api.init)},
      Entry{"nvmlShutdown", slot(api.shutdown)},
      Entry{"nvmlErrorString", slot(api.error_string)},
      Entry{"nvmlSystemGetDriverVersion", slot(api.driver_version)},
      Entry{"nvmlDeviceGetCount_v2", slot(api.count)},
      Entry{"nvmlDeviceGetHandleByIndex_v2", slot(api.handle_by_index)},
      Entry{"nvmlDeviceGetUUID", slot(api.uuid)},
      Entry{"nvmlDeviceGetName", slot(api.name)},
      Entry{"nvmlDeviceGetPciInfo_v3", slot(api.pci_info)},
      Entry{"nvmlDeviceGetMinorNumber", slot(api.minor)},
      Entry{"nvmlDeviceGetMemoryInfo", slot(api.memory)},
  };
  const std::array mig = {
      Entry{"nvmlDeviceGetMigMode", slot(api.mig_mode)},
      Entry{"nvmlDeviceGetGpuInstanceProfileInfo", slot(api.gi_profile)},
      Entry{"nvmlDeviceGetGpuInstancePossiblePlacements_v2", slot(api.gi_placements)},
      Entry{"nvmlDeviceCreateGpuInstanceWithPlacement", slot(api.gi_create)},
      Entry{"nvmlDeviceGetGpuInstances", slot(api.gi_list)},
      Entry{"nvmlDeviceGetGpuInstanceById", slot(api.gi_by_id)},
      Entry{"nvmlGpuInstanceGetInfo", slot(api.gi_info)},
      Entry{"nvmlGpuInstanceDestroy", slot(api.gi_destroy)},
      Entry{"nvmlGpuInstanceGetComputeInstanceProfileInfo", slot(api.ci_profile)},
      Entry{"nvmlGpuInstanceCreateComputeInstance", slot(api.ci_create)},
      Entry{"nvmlGpuInstanceGetComputeInstances", slot(api.ci_list)},
      Entry{"nvmlGpuInstanceGetComputeInstanceById", slot(api.ci_by_id)},
      Entry{"nvmlComputeInstanceGetInfo_v2", slot(api.ci_info)},
      Entry{"nvmlComputeInstanceDestroy", slot(api.ci_destroy)},
      Entry{"nvmlDeviceGetMaxMigDeviceCount", slot(api.max_mig_devices)},
      Entry{"nvmlDeviceGetMigDeviceHandleByIndex", slot(api.mig_device)},
      Entry{"nvmlDeviceGetGpuInstanceId", slot(api.mig_gi_id)},
      Entry{"nvmlDeviceGetComputeInstanceId", slot(api.mig_ci_id)},
  };
  const std::array optional = {
      Entry{"nvmlSystemGetNVMLVersion", slot(api.nvml_version)},
      Entry{"nvmlSystemGetCudaDriverVersion", slot(api.cuda_version)},
      Entry{"nvmlDeviceGetCudaComputeCapability", slot(api.compute_capability)},
      Entry{"nvmlDeviceGetArchitecture", slot(api.architecture)},
      Entry{"nvmlDeviceGetSerial", slot(api.serial)},
      Entry{"nvmlDeviceGetBoardPartNumber", slot(api.part_number)},
      Entry{"nvmlDeviceGetComputeMode", slot(api.compute_mode)},
      Entry{"nvmlDeviceGetGpuInstanceProfileInfoV", slot(api.gi_profile_v)},
  };
  static_assert(required.size() == std::size(abi::kRequiredSymbols));
  static_assert(mig.size() == std::size(abi::kMigSymbols));
  static_assert(optional.size() == std::size(abi::kOptionalSymbols));

  for (const Entry& e : required) {
    if (!Resolve(api, e.symbol, e.slot)) {
      return absl::FailedPreconditionError(
          base::StrCat("resolve nvml symbol ", e.symbol, ": not exported by the library"));
    }
  }
  api.mig = true;
  for (const Entry& e : mig) {
    if (!Resolve(api, e.symbol, e.slot)) {
      api.mig = false;
      api.missing.emplace_back(e.symbol);
    }
  }
  if (!api.mig) {
    // All or nothing: never call half of the MIG API.
    for (const Entry& e : mig) *e.slot = nullptr;
  }
  for (const Entry& e : optional) {
    if (!Resolve(api, e.symbol, e.slot)) api.missing.emplace_back(e.symbol);
  }
  return absl::OkStatus();
}

// "MIG 1g.10gb" -> "1g.10gb".
std::string ProfileName(std::string_view nvml_name) {
  std::string_view name = base::StripWhitespace(nvml_name);
  if (name.starts_with("MIG ")) name.remove_prefix(4);
  return std::string(name);
}

// Fallback when the driver cannot tell us the name (pre-R470): "<slices>g.<GiB
// rounded up>gb", "+me" for the media-extension variant. NVIDIA's names round
// differently on some boards (H200 says 1g.18gb for 16 GiB); it is a label.
std::string DerivedProfileName(unsigned int index, unsigned int slices, uint64_t memory_mib) {
  std::string name = fmt::format("{}g.{}gb", slices, (memory_mib + 1023) / 1024);
  if (index == abi::NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1) name += "+me";
  return name;
}

Architecture ArchitectureFromNvml(abi::nvmlDeviceArchitecture_t arch) {
  switch (arch) {
    case abi::NVML_DEVICE_ARCH_KEPLER:
      return Architecture::kKepler;
    case abi::NVML_DEVICE_ARCH_MAXWELL:
      return Architecture::kMaxwell;
    case abi::NVML_DEVICE_ARCH_PASCAL:
      return Architecture::kPascal;
    case abi::NVML_DEVICE_ARCH_VOLTA:
      return Architecture::kVolta;
    case abi::NVML_DEVICE_ARCH_TURING:
      return Architecture::kTuring;
    case abi::NVML_DEVICE_ARCH_AMPERE:
      return Architecture::kAmpere;
    case abi::NVML_DEVICE_ARCH_ADA:
      return Architecture::kAda;
    case abi::NVML_DEVICE_ARCH_HOPPER:
      return Architecture::kHopper;
    case abi::NVML_DEVICE_ARCH_BLACKWELL:
      return Architecture::kBlackwell;
    default:
      return Architecture::kUnknown;
  }
}

ComputeMode ComputeModeFromNvml(int mode) {
  switch (mode) {
    case abi::NVML_COMPUTEMODE_DEFAULT:
      return ComputeMode::kDefault;
    case abi::NVML_COMPUTEMODE_EXCLUSIVE_PROCESS:
      return ComputeMode::kExclusiveProcess;
    case abi::NVML_COMPUTEMODE_PROHIBITED:
      return ComputeMode::kProhibited;
    default:
      return ComputeMode::kUnknown;
  }
}

// Reads a string attribute through `fn`; "" when the board does not have it.
template <typename Fn>
absl::StatusOr<std::string> OptionalString(const Api& api, Fn fn, abi::nvmlDevice_t device,
                                           std::string_view operation) {
  if (fn == nullptr) return std::string();
  char buffer[256] = {};
  absl::Status s = api.Check(fn(device, buffer, sizeof(buffer)), operation);
  if (IsUnsupported(s)) return std::string();
  RETURN_IF_ERROR(s);
  return CString(buffer);
}

struct RawGiProfile {
  unsigned int index = 0;
  Out<abi::nvmlGpuInstanceProfileInfo_t> info;
  std::string name;
};

// Every GPU instance profile the GPU answers for, in index order. Returns the
// NVML error of the first refused index when none answers.
absl::StatusOr<std::vector<RawGiProfile>> QueryGiProfiles(const Api& api, abi::nvmlDevice_t device,
                                                          uint32_t index) {
  std::vector<RawGiProfile> out;
  absl::Status first_refusal;
  const std::string op = fmt::format("get gpu instance profiles of gpu {}", index);
  bool use_v = api.gi_profile_v != nullptr;
  for (unsigned int p = 0; p < kMaxGpuInstanceProfileIndex; ++p) {
    RawGiProfile raw;
    raw.index = p;
    abi::nvmlReturn_t rc = abi::NVML_SUCCESS;
    if (use_v) {
      Out<abi::nvmlGpuInstanceProfileInfo_v2_t> v;
      v.value.version = abi::kGpuInstanceProfileInfoV2;
      rc = api.gi_profile_v(device, p, &v.value);
      if (rc == abi::NVML_ERROR_ARGUMENT_VERSION_MISMATCH ||
          rc == abi::NVML_ERROR_FUNCTION_NOT_FOUND) {
        use_v = false;  // the driver dislikes v2; fall back to v1 for all
      } else if (rc == abi::NVML_SUCCESS) {
        const abi::nvmlGpuInstanceProfileInfo_v2_t& i = v.value;
        raw.info.value = {i.id,
                          i.isP2pSupported,
                          i.sliceCount,
                          i.instanceCount,
                          i.multiprocessorCount,
                          i.copyEngineCount,
                          i.decoderCount,
                          i.encoderCount,
                          i.jpegCount,
                          i.ofaCount,
                          i.memorySizeMB};
        raw.name = ProfileName(CString(i.name));
      }
    }
    if (!use_v) rc = api.gi_profile(device, p, &raw.info.value);
    if (rc == abi::NVML_SUCCESS) {
      if (raw.name.empty()) {
        raw.name = DerivedProfileName(p, raw.info.value.sliceCount, raw.info.value.memorySizeMB);
      }
      out.push_back(std::move(raw));
      continue;
    }
    // Unknown or unsupported indices are refused with one of these two.
    if (rc == abi::NVML_ERROR_NOT_SUPPORTED || rc == abi::NVML_ERROR_INVALID_ARGUMENT) {
      if (first_refusal.ok()) first_refusal = api.Check(rc, op);
      continue;
    }
    return api.Check(rc, fmt::format("{} (profile index {})", op, p));
  }
  if (out.empty()) {
    if (first_refusal.code() == absl::StatusCode::kInvalidArgument) {
      return absl::UnimplementedError(base::StrCat(op, ": no profile index is supported"));
    }
    return first_refusal;
  }
  return out;
}

absl::StatusOr<std::vector<MigPlacement>> QueryPlacements(const Api& api, abi::nvmlDevice_t device,
                                                          uint32_t index, unsigned int profile_id) {
  const std::string op =
      fmt::format("get placements of gpu instance profile {} on gpu {}", profile_id, index);
  unsigned int count = 0;
  RETURN_IF_ERROR(api.Check(api.gi_placements(device, profile_id, nullptr, &count), op));
  if (count > 64) {
    return absl::InvalidArgumentError(base::StrCat(op, ": implausible count ", count));
  }
  std::vector<abi::nvmlGpuInstancePlacement_t> raw(count + 8);  // slack, as for Out<>
  unsigned int filled = count;
  RETURN_IF_ERROR(api.Check(api.gi_placements(device, profile_id, raw.data(), &filled), op));
  std::vector<MigPlacement> out;
  for (unsigned int i = 0; i < std::min(filled, count); ++i) {
    out.push_back({raw[i].start, raw[i].size});
  }
  return out;
}

ComputeInstanceProfile ToComputeInstanceProfile(unsigned int index,
                                                const abi::nvmlComputeInstanceProfileInfo_t& i) {
  return {.id = i.id,
          .index = index,
          .slice_count = i.sliceCount,
          .instance_count = i.instanceCount,
          .multiprocessor_count = i.multiprocessorCount,
          .shared_copy_engine_count = i.sharedCopyEngineCount,
          .shared_decoder_count = i.sharedDecoderCount,
          .shared_encoder_count = i.sharedEncoderCount,
          .shared_jpeg_count = i.sharedJpegCount,
          .shared_ofa_count = i.sharedOfaCount};
}

absl::StatusOr<std::vector<ComputeInstanceProfile>> QueryCiProfiles(const Api& api,
                                                                    abi::nvmlGpuInstance_t gi,
                                                                    std::string_view op) {
  std::vector<ComputeInstanceProfile> out;
  for (unsigned int p = 0; p < kMaxComputeInstanceProfileIndex; ++p) {
    Out<abi::nvmlComputeInstanceProfileInfo_t> info;
    abi::nvmlReturn_t rc =
        api.ci_profile(gi, p, abi::NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED, &info.value);
    if (rc == abi::NVML_ERROR_NOT_SUPPORTED || rc == abi::NVML_ERROR_INVALID_ARGUMENT) continue;
    RETURN_IF_ERROR(api.Check(rc, fmt::format("{} (profile index {})", op, p)));
    out.push_back(ToComputeInstanceProfile(p, info.value));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

// MIG device UUIDs by (GPU instance ID, compute instance ID).
absl::StatusOr<std::map<std::pair<uint32_t, uint32_t>, std::string>> QueryMigUuids(
    const Api& api, abi::nvmlDevice_t device, uint32_t index) {
  const std::string op = fmt::format("list mig devices of gpu {}", index);
  std::map<std::pair<uint32_t, uint32_t>, std::string> out;
  unsigned int max = 0;
  RETURN_IF_ERROR(api.Check(api.max_mig_devices(device, &max), op));
  for (unsigned int i = 0; i < max; ++i) {
    abi::nvmlDevice_t mig = nullptr;
    abi::nvmlReturn_t rc = api.mig_device(device, i, &mig);
    if (rc == abi::NVML_ERROR_NOT_FOUND || rc == abi::NVML_ERROR_INVALID_ARGUMENT)
      continue;  // empty slot
    RETURN_IF_ERROR(api.Check(rc, fmt::format("{} (mig device {})", op, i)));
    unsigned int gi = 0, ci = 0;
    RETURN_IF_ERROR(api.Check(api.mig_gi_id(mig, &gi), fmt::format("{} (mig device {})", op, i)));
    RETURN_IF_ERROR(api.Check(api.mig_ci_id(mig, &ci), fmt::format("{} (mig device {})", op, i)));
    char uuid[abi::NVML_DEVICE_UUID_V2_BUFFER_SIZE + 32] = {};
    RETURN_IF_ERROR(
        api.Check(api.uuid(mig, uuid, sizeof(uuid)), fmt::format("{} (mig device {})", op, i)));
    out[{gi, ci}] = CString(uuid);
  }
  return out;
}

ComputeInstance ToComputeInstance(const abi::nvmlComputeInstanceInfo_t& info) {
  return {.id = info.id,
          .profile_id = info.profileId,
          .placement = {info.placement.start, info.placement.size}};
}

GpuInstance ToGpuInstance(const abi::nvmlGpuInstanceInfo_t& info) {
  return {.id = info.id,
          .profile_id = info.profileId,
          .placement = {info.placement.start, info.placement.size}};
}

}  // namespace

DlopenNvml::DlopenNvml(std::unique_ptr<Api> api, DlopenNvmlOptions options)
    : api_(std::move(api)), options_(std::move(options)) {}

DlopenNvml::~DlopenNvml() {
  abi::nvmlReturn_t rc = api_->shutdown();
  if (rc != abi::NVML_SUCCESS) {
    Log()->warn("nvml shutdown failed library={} error={}", options_.library,
                base::Std(api_->Check(rc, "shutdown nvml").message()));
  }
  // Api's destructor dlclose()s.
}

absl::StatusOr<std::unique_ptr<DlopenNvml>> DlopenNvml::Load(const std::string& library) {
  DlopenNvmlOptions options;
  options.library = library;
  return Load(options);
}

absl::StatusOr<std::unique_ptr<DlopenNvml>> DlopenNvml::Load(const DlopenNvmlOptions& options) {
  const std::string op = base::StrCat("load nvml library ", options.library);
  auto api = std::make_unique<Api>();
  dlerror();
  api->handle = dlopen(options.library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (api->handle == nullptr) {
    const char* err = dlerror();
    std::string why = err != nullptr ? err : "unknown dlopen error";
    // glibc words an absent file "cannot open shared object file: No such
    // file or directory"; anything else (wrong ELF class, missing dependency
    // of the library) is a broken install rather than an absent driver.
    if (why.find("No such file") != std::string::npos) {
      return absl::NotFoundError(
          base::StrCat(op, ": not found (is the NVIDIA driver installed?): ", why));
    }
    return absl::FailedPreconditionError(base::StrCat(op, ": ", why));
  }
  RETURN_IF_ERROR(base::Annotate(ResolveAll(*api), op));

  abi::nvmlReturn_t rc = api->init();
  if (rc != abi::NVML_SUCCESS) {
    // api's destructor unloads the library; NVML was not initialized, so no
    // nvmlShutdown is due.
    return api->Check(rc, base::StrCat(op, ": initialize nvml"));
  }
  if (!api->missing.empty()) {
    Log()->warn("nvml library lacks symbols library={} mig_api={} missing={}", options.library,
                api->mig, base::Join(api->missing, ","));
  }
  return std::unique_ptr<DlopenNvml>(new DlopenNvml(std::move(api), options));
}

bool DlopenNvml::mig_api_available() const { return api_->mig; }

const std::vector<std::string>& DlopenNvml::missing_symbols() const { return api_->missing; }

absl::StatusOr<SystemInfo> DlopenNvml::GetSystemInfo() const {
  SystemInfo info;
  char buffer[256] = {};
  RETURN_IF_ERROR(
      api_->Check(api_->driver_version(buffer, sizeof(buffer)), "get nvidia driver version"));
  info.driver_version = CString(buffer);
  if (api_->nvml_version != nullptr) {
    char nvml[256] = {};
    absl::Status s = api_->Check(api_->nvml_version(nvml, sizeof(nvml)), "get nvml version");
    if (!IsUnsupported(s)) RETURN_IF_ERROR(s);
    info.nvml_version = CString(nvml);
  }
  if (api_->cuda_version != nullptr) {
    int cuda = 0;
    absl::Status s = api_->Check(api_->cuda_version(&cuda), "get cuda driver version");
    if (!IsUnsupported(s)) RETURN_IF_ERROR(s);
    info.cuda_driver_version = s.ok() ? cuda : 0;
  }
  return info;
}

absl::StatusOr<uint32_t> DlopenNvml::GetGpuCount() const {
  unsigned int count = 0;
  RETURN_IF_ERROR(api_->Check(api_->count(&count), "get gpu count"));
  return count;
}

absl::StatusOr<GpuInfo> DlopenNvml::GetGpu(uint32_t index) const {
  ASSIGN_OR_RETURN(abi::nvmlDevice_t device, api_->Device(index));
  const Api& api = *api_;
  auto op = [index](std::string_view what) { return fmt::format("get {} of gpu {}", what, index); };
  GpuInfo gpu;
  gpu.index = index;

  char text[256] = {};
  RETURN_IF_ERROR(api.Check(api.uuid(device, text, sizeof(text)), op("uuid")));
  gpu.uuid = CString(text);
  std::memset(text, 0, sizeof(text));
  RETURN_IF_ERROR(api.Check(api.name(device, text, sizeof(text)), op("name")));
  gpu.name = CString(text);

  Out<abi::nvmlPciInfo_t> pci;
  RETURN_IF_ERROR(api.Check(api.pci_info(device, &pci.value), op("pci info")));
  absl::StatusOr<base::PciAddress> address = ParseNvmlBusId(CString(pci.value.busId));
  if (!address.ok()) {
    // Older drivers fill only the legacy field; fall back to it.
    address = ParseNvmlBusId(CString(pci.value.busIdLegacy));
  }
  if (!address.ok()) return base::Annotate(address.status(), op("pci bus id"));
  gpu.pci_address = *address;
  gpu.pci_vendor_id = static_cast<uint16_t>(pci.value.pciDeviceId & 0xffff);
  gpu.pci_device_id = static_cast<uint16_t>(pci.value.pciDeviceId >> 16);
  gpu.pci_subsystem_vendor_id = static_cast<uint16_t>(pci.value.pciSubSystemId & 0xffff);
  gpu.pci_subsystem_device_id = static_cast<uint16_t>(pci.value.pciSubSystemId >> 16);

  unsigned int minor = 0;
  RETURN_IF_ERROR(api.Check(api.minor(device, &minor), op("minor number")));
  gpu.minor_number = minor;

  Out<abi::nvmlMemory_t> memory;
  RETURN_IF_ERROR(api.Check(api.memory(device, &memory.value), op("memory info")));
  gpu.memory_total_bytes = memory.value.total;
  gpu.memory_free_bytes = memory.value.free;
  if (gpu.memory_free_bytes > gpu.memory_total_bytes) {
    return absl::InvalidArgumentError(fmt::format("{}: free {} above total {}", op("memory info"),
                                                  gpu.memory_free_bytes, gpu.memory_total_bytes));
  }

  if (api.compute_capability != nullptr) {
    int major = 0, minor_cc = 0;
    absl::Status s =
        api.Check(api.compute_capability(device, &major, &minor_cc), op("compute capability"));
    if (!IsUnsupported(s)) RETURN_IF_ERROR(s);
    if (s.ok()) {
      if (major < 0 || major > 99 || minor_cc < 0 || minor_cc > 99) {
        return absl::InvalidArgumentError(
            fmt::format("{}: implausible {}.{}", op("compute capability"), major, minor_cc));
      }
      gpu.compute_capability = ComputeCapability{major, minor_cc};
    }
  }
  if (api.architecture != nullptr) {
    abi::nvmlDeviceArchitecture_t arch = abi::NVML_DEVICE_ARCH_UNKNOWN;
    absl::Status s = api.Check(api.architecture(device, &arch), op("architecture"));
    if (!IsUnsupported(s)) RETURN_IF_ERROR(s);
    if (s.ok()) gpu.architecture = ArchitectureFromNvml(arch);
  }
  if (gpu.architecture == Architecture::kUnknown && gpu.compute_capability.has_value()) {
    gpu.architecture = ArchitectureFromComputeCapability(*gpu.compute_capability);
  }
  ASSIGN_OR_RETURN(gpu.serial, OptionalString(api, api.serial, device, op("serial")));
  ASSIGN_OR_RETURN(gpu.board_part_number,
                   OptionalString(api, api.part_number, device, op("board part number")));
  if (api.compute_mode != nullptr) {
    int mode = 0;
    absl::Status s = api.Check(api.compute_mode(device, &mode), op("compute mode"));
    if (!IsUnsupported(s)) RETURN_IF_ERROR(s);
    if (s.ok()) gpu.compute_mode = ComputeModeFromNvml(mode);
  }
  if (api.mig) {
    unsigned int current = 0, pending = 0;
    absl::Status s = api.Check(api.mig_mode(device, &current, &pending), op("mig mode"));
    if (!IsUnsupported(s)) RETURN_IF_ERROR(s);
    if (s.ok()) {
      gpu.mig_mode = MigMode{.current = current == abi::NVML_DEVICE_MIG_ENABLE,
                             .pending = pending == abi::NVML_DEVICE_MIG_ENABLE};
    }
  }
  return gpu;
}

absl::Status DlopenNvml::CheckHealth(uint32_t index) const {
  ASSIGN_OR_RETURN(abi::nvmlDevice_t device, api_->Device(index));
  // Memory info is answered by the GPU's resource manager, not from a cache,
  // so a GPU that fell off the bus says abi::NVML_ERROR_GPU_IS_LOST here.
  Out<abi::nvmlMemory_t> memory;
  return api_->Check(api_->memory(device, &memory.value),
                     fmt::format("check health of gpu {}", index));
}

absl::StatusOr<std::vector<GpuInstanceProfile>> DlopenNvml::GetGpuInstanceProfiles(
    uint32_t index) const {
  RETURN_IF_ERROR(api_->RequireMig(fmt::format("get gpu instance profiles of gpu {}", index)));
  ASSIGN_OR_RETURN(abi::nvmlDevice_t device, api_->Device(index));
  ASSIGN_OR_RETURN(std::vector<RawGiProfile> raw, QueryGiProfiles(*api_, device, index));
  std::vector<GpuInstanceProfile> out;
  for (const RawGiProfile& r : raw) {
    const abi::nvmlGpuInstanceProfileInfo_t& i = r.info.value;
    GpuInstanceProfile profile{.id = i.id,
                               .index = r.index,
                               .name = r.name,
                               .slice_count = i.sliceCount,
                               .instance_count = i.instanceCount,
                               .multiprocessor_count = i.multiprocessorCount,
                               .copy_engine_count = i.copyEngineCount,
                               .decoder_count = i.decoderCount,
                               .encoder_count = i.encoderCount,
                               .jpeg_count = i.jpegCount,
                               .ofa_count = i.ofaCount,
                               .memory_bytes = i.memorySizeMB * kMiB,
                               .p2p_supported = i.isP2pSupported != 0};
    absl::StatusOr<std::vector<MigPlacement>> placements =
        QueryPlacements(*api_, device, index, i.id);
    // Some drivers describe profiles but only place them with MIG enabled.
    if (!placements.ok() && !IsUnsupported(placements.status())) return placements.status();
    if (placements.ok()) profile.placements = *std::move(placements);
    out.push_back(std::move(profile));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

absl::StatusOr<std::vector<ComputeInstanceProfile>> DlopenNvml::GetComputeInstanceProfiles(
    uint32_t index, uint32_t gpu_instance_id) const {
  const std::string op = fmt::format("get compute instance profiles of gpu instance {} on gpu {}",
                                     gpu_instance_id, index);
  RETURN_IF_ERROR(api_->RequireMig(op));
  ASSIGN_OR_RETURN(abi::nvmlDevice_t device, api_->Device(index));
  ASSIGN_OR_RETURN(abi::nvmlGpuInstance_t gi,
                   api_->GpuInstanceById(device, index, gpu_instance_id));
  return QueryCiProfiles(*api_, gi, op);
}

absl::StatusOr<std::vector<GpuInstance>> DlopenNvml::ListGpuInstances(uint32_t index) const {
  const std::string op = fmt::format("list gpu instances of gpu {}", index);
  RETURN_IF_ERROR(api_->RequireMig(op));
  const Api& api = *api_;
  ASSIGN_OR_RETURN(abi::nvmlDevice_t device, api.Device(index));
  unsigned int current = 0, pending = 0;
  absl::Status mode = api.Check(api.mig_mode(device, &current, &pending), op);
  if (IsUnsupported(mode)) return std::vector<GpuInstance>();
  RETURN_IF_ERROR(mode);
  if (current != abi::NVML_DEVICE_MIG_ENABLE) return std::vector<GpuInstance>();

  ASSIGN_OR_RETURN(std::vector<RawGiProfile> profiles, QueryGiProfiles(api, device, index));
  std::vector<GpuInstance> out;
  for (const RawGiProfile& profile : profiles) {
    const unsigned int capacity = std::min(profile.info.value.instanceCount, 64u);
    std::vector<abi::nvmlGpuInstance_t> handles(capacity + 8, nullptr);
    unsigned int count = capacity;
    RETURN_IF_ERROR(api.Check(api.gi_list(device, profile.info.value.id, handles.data(), &count),
                              fmt::format("{} (profile {})", op, profile.info.value.id)));
    for (unsigned int h = 0; h < std::min(count, capacity); ++h) {
      Out<abi::nvmlGpuInstanceInfo_t> info;
      RETURN_IF_ERROR(api.Check(api.gi_info(handles[h], &info.value), op));
      GpuInstance gi = ToGpuInstance(info.value);
      const std::string ci_op = fmt::format("{} (compute instances of gpu instance {})", op, gi.id);
      ASSIGN_OR_RETURN(std::vector<ComputeInstanceProfile> ci_profiles,
                       QueryCiProfiles(api, handles[h], ci_op));
      for (const ComputeInstanceProfile& cp : ci_profiles) {
        const unsigned int ci_capacity = std::min(cp.instance_count, 64u);
        std::vector<abi::nvmlComputeInstance_t> ci_handles(ci_capacity + 8, nullptr);
        unsigned int ci_count = ci_capacity;
        RETURN_IF_ERROR(
            api.Check(api.ci_list(handles[h], cp.id, ci_handles.data(), &ci_count), ci_op));
        for (unsigned int c = 0; c < std::min(ci_count, ci_capacity); ++c) {
          Out<abi::nvmlComputeInstanceInfo_t> ci_info;
          RETURN_IF_ERROR(api.Check(api.ci_info(ci_handles[c], &ci_info.value), ci_op));
          gi.compute_instances.push_back(ToComputeInstance(ci_info.value));
        }
      }
      out.push_back(std::move(gi));
    }
  }
  if (out.empty()) return out;

  ASSIGN_OR_RETURN(auto uuids, QueryMigUuids(api, device, index));
  std::optional<MigMinors> minors;
  unsigned int gpu_minor = 0;
  if (options_.filesystem != nullptr) {
    absl::StatusOr<MigMinors> read = ReadMigMinors(*options_.filesystem, options_.mig_minors_path);
    if (read.ok()) {
      minors = *std::move(read);
      RETURN_IF_ERROR(api.Check(api.minor(device, &gpu_minor), op));
    } else if (read.status().code() != absl::StatusCode::kNotFound) {
      return base::Annotate(read.status(), op);
    }
  }
  for (GpuInstance& gi : out) {
    std::sort(gi.compute_instances.begin(), gi.compute_instances.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    if (minors) gi.caps_minor = minors->GpuInstance(gpu_minor, gi.id);
    for (ComputeInstance& ci : gi.compute_instances) {
      auto it = uuids.find({gi.id, ci.id});
      if (it != uuids.end()) ci.uuid = it->second;
      if (minors) ci.caps_minor = minors->ComputeInstance(gpu_minor, gi.id, ci.id);
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

absl::StatusOr<GpuInstance> DlopenNvml::CreateGpuInstance(uint32_t index, uint32_t profile_id,
                                                          MigPlacement placement) {
  const std::string op = fmt::format("create gpu instance of profile {} at {} on gpu {}",
                                     profile_id, PlacementText(placement), index);
  RETURN_IF_ERROR(api_->RequireMig(op));
  const Api& api = *api_;
  ASSIGN_OR_RETURN(abi::nvmlDevice_t device, api.Device(index));
  unsigned int current = 0, pending = 0;
  RETURN_IF_ERROR(api.Check(api.mig_mode(device, &current, &pending), op));
  if (current != abi::NVML_DEVICE_MIG_ENABLE) {
    return absl::FailedPreconditionError(base::StrCat(op, ": mig mode is disabled"));
  }
  const abi::nvmlGpuInstancePlacement_t where{placement.start, placement.size};
  abi::nvmlGpuInstance_t gi = nullptr;
  RETURN_IF_ERROR(api.Check(api.gi_create(device, profile_id, &where, &gi), op));
  Out<abi::nvmlGpuInstanceInfo_t> info;
  absl::Status s = api.Check(api.gi_info(gi, &info.value), op);
  if (!s.ok()) {
    // Do not leak an instance we cannot describe (and so could never undo).
    abi::nvmlReturn_t undo = api.gi_destroy(gi);
    if (undo != abi::NVML_SUCCESS) {
      Log()->error("leaked gpu instance after failed create gpu={} profile={} error={}", index,
                   profile_id, base::Std(api.Check(undo, "destroy").message()));
    }
    return s;
  }
  GpuInstance out = ToGpuInstance(info.value);
  if (options_.filesystem != nullptr) {
    absl::StatusOr<MigMinors> minors =
        ReadMigMinors(*options_.filesystem, options_.mig_minors_path);
    unsigned int gpu_minor = 0;
    if (minors.ok() && api.minor(device, &gpu_minor) == abi::NVML_SUCCESS) {
      out.caps_minor = minors->GpuInstance(gpu_minor, out.id);
    }
  }
  return out;
}

absl::StatusOr<ComputeInstance> DlopenNvml::CreateComputeInstance(uint32_t index,
                                                                  uint32_t gpu_instance_id,
                                                                  uint32_t profile_id) {
  const std::string op = fmt::format(
      "create compute instance of profile {} in gpu instance {} "
      "on gpu {}",
      profile_id, gpu_instance_id, index);
  RETURN_IF_ERROR(api_->RequireMig(op));
  const Api& api = *api_;
  ASSIGN_OR_RETURN(abi::nvmlDevice_t device, api.Device(index));
  ASSIGN_OR_RETURN(abi::nvmlGpuInstance_t gi, api.GpuInstanceById(device, index, gpu_instance_id));
  abi::nvmlComputeInstance_t ci = nullptr;
  RETURN_IF_ERROR(api.Check(api.ci_create(gi, profile_id, &ci), op));
  Out<abi::nvmlComputeInstanceInfo_t> info;
  absl::Status s = api.Check(api.ci_info(ci, &info.value), op);
  if (!s.ok()) {
    abi::nvmlReturn_t undo = api.ci_destroy(ci);
    if (undo != abi::NVML_SUCCESS) {
      Log()->error("leaked compute instance after failed create gpu={} gi={} error={}", index,
                   gpu_instance_id, base::Std(api.Check(undo, "destroy").message()));
    }
    return s;
  }
  ComputeInstance out = ToComputeInstance(info.value);
  absl::StatusOr<std::map<std::pair<uint32_t, uint32_t>, std::string>> uuids =
      QueryMigUuids(api, device, index);
  if (!uuids.ok()) return base::Annotate(uuids.status(), op);
  if (auto it = uuids->find({gpu_instance_id, out.id}); it != uuids->end()) out.uuid = it->second;
  if (options_.filesystem != nullptr) {
    absl::StatusOr<MigMinors> minors =
        ReadMigMinors(*options_.filesystem, options_.mig_minors_path);
    unsigned int gpu_minor = 0;
    if (minors.ok() && api.minor(device, &gpu_minor) == abi::NVML_SUCCESS) {
      out.caps_minor = minors->ComputeInstance(gpu_minor, gpu_instance_id, out.id);
    }
  }
  return out;
}

absl::Status DlopenNvml::DestroyComputeInstance(uint32_t index, uint32_t gpu_instance_id,
                                                uint32_t compute_instance_id) {
  const std::string op = fmt::format("destroy compute instance {} of gpu instance {} on gpu {}",
                                     compute_instance_id, gpu_instance_id, index);
  RETURN_IF_ERROR(api_->RequireMig(op));
  const Api& api = *api_;
  ASSIGN_OR_RETURN(abi::nvmlDevice_t device, api.Device(index));
  absl::StatusOr<abi::nvmlGpuInstance_t> gi = api.GpuInstanceById(device, index, gpu_instance_id);
  if (!gi.ok()) return base::Annotate(gi.status(), op);
  abi::nvmlComputeInstance_t ci = nullptr;
  abi::nvmlReturn_t rc = api.ci_by_id(*gi, compute_instance_id, &ci);
  if (rc == abi::NVML_ERROR_NOT_FOUND || rc == abi::NVML_ERROR_INVALID_ARGUMENT) {
    return absl::NotFoundError(base::StrCat(op, ": no such compute instance"));
  }
  RETURN_IF_ERROR(api.Check(rc, op));
  return api.Check(api.ci_destroy(ci), op);
}

absl::Status DlopenNvml::DestroyGpuInstance(uint32_t index, uint32_t gpu_instance_id) {
  const std::string op = fmt::format("destroy gpu instance {} on gpu {}", gpu_instance_id, index);
  RETURN_IF_ERROR(api_->RequireMig(op));
  const Api& api = *api_;
  ASSIGN_OR_RETURN(abi::nvmlDevice_t device, api.Device(index));
  absl::StatusOr<abi::nvmlGpuInstance_t> gi = api.GpuInstanceById(device, index, gpu_instance_id);
  if (!gi.ok()) return base::Annotate(gi.status(), op);
  return api.Check(api.gi_destroy(*gi), op);
}

}  // namespace tessera::drivers::nvidia
