#include "drivers/npu/dlopen_hlml.h"

#include <array>
#include <mutex>
#include <utility>

#include "spdlog/fmt/fmt.h"

#include "base/log.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "drivers/npu/internal/dl_library.h"
#include "drivers/npu/internal/hlml_abi.h"
#include "drivers/npu/internal/log.h"

namespace tessera::drivers::npu {

namespace {

using internal::Log;

constexpr unsigned int kMaxDevices = 64;

using internal::Out;

std::string_view HlmlErrorName(int rc) {
  switch (rc) {
    case abi::kHlmlErrorUninitialized:
      return "uninitialized";
    case abi::kHlmlErrorInvalidArgument:
      return "invalid argument";
    case abi::kHlmlErrorNotSupported:
      return "not supported";
    case abi::kHlmlErrorAlreadyInitialized:
      return "already initialized";
    case abi::kHlmlErrorNotFound:
      return "not found";
    case abi::kHlmlErrorInsufficientSize:
      return "insufficient size";
    case abi::kHlmlErrorDriverNotLoaded:
      return "driver not loaded";
    case abi::kHlmlErrorTimeout:
      return "timeout";
    case abi::kHlmlErrorAipIsLost:
      return "device is lost";
    case abi::kHlmlErrorMemory:
      return "out of memory";
    case abi::kHlmlErrorNoData:
      return "no data";
    default:
      return "unknown error";
  }
}

}  // namespace

absl::Status HlmlStatus(int rc, std::string_view operation) {
  if (rc == abi::kHlmlSuccess) return absl::OkStatus();
  std::string message = fmt::format("{}: hlml error {} ({})", operation, rc, HlmlErrorName(rc));
  switch (rc) {
    case abi::kHlmlErrorInvalidArgument:
      return absl::InvalidArgumentError(message);
    case abi::kHlmlErrorNotSupported:
      return absl::UnimplementedError(message);
    case abi::kHlmlErrorNotFound:
      return absl::NotFoundError(message);
    case abi::kHlmlErrorTimeout:
      return absl::DeadlineExceededError(message);
    case abi::kHlmlErrorAipIsLost:
      return absl::UnavailableError(message);
    default:
      return absl::FailedPreconditionError(message);
  }
}

struct DlopenHlml::Api {
  std::unique_ptr<internal::DlLibrary> library;
  std::vector<std::string> missing;
  mutable std::mutex mu;
  bool initialized = false;

  abi::hlml_init_fn init = nullptr;
  abi::hlml_shutdown_fn shutdown = nullptr;
  abi::hlml_device_get_count_fn count = nullptr;
  abi::hlml_device_get_handle_by_index_fn handle = nullptr;
  abi::hlml_device_get_pci_info_fn pci_info = nullptr;

  abi::hlml_device_get_string_fn name = nullptr;
  abi::hlml_device_get_string_fn uuid = nullptr;
  abi::hlml_device_get_string_fn serial = nullptr;
  abi::hlml_device_get_uint_fn module_id = nullptr;
  abi::hlml_device_get_uint_fn minor = nullptr;
  abi::hlml_device_get_memory_info_fn memory = nullptr;
  abi::hlml_get_driver_version_fn driver_version = nullptr;

  std::string driver_version_text;

  ~Api() {
    if (initialized && shutdown != nullptr) shutdown();
  }
};

namespace {

using HlmlApi = DlopenHlml::Api;

absl::Status ResolveHlmlSymbols(HlmlApi& api) {
  const internal::DlLibrary& lib = *api.library;
  auto require = [&](const char* name, auto* fn) -> absl::Status {
    if (lib.Resolve(name, fn)) return absl::OkStatus();
    return absl::FailedPreconditionError(
        base::StrCat("resolve hlml symbol ", name, ": not exported by the library"));
  };
  RETURN_IF_ERROR(require("hlml_init", &api.init));
  RETURN_IF_ERROR(require("hlml_shutdown", &api.shutdown));
  RETURN_IF_ERROR(require("hlml_device_get_count", &api.count));
  RETURN_IF_ERROR(require("hlml_device_get_handle_by_index", &api.handle));
  RETURN_IF_ERROR(require("hlml_device_get_pci_info", &api.pci_info));
  auto optional = [&](const char* name, auto* fn) {
    if (!lib.Resolve(name, fn)) api.missing.emplace_back(name);
  };
  optional("hlml_device_get_name", &api.name);
  optional("hlml_device_get_uuid", &api.uuid);
  optional("hlml_device_get_serial", &api.serial);
  optional("hlml_device_get_module_id", &api.module_id);
  optional("hlml_device_get_minor_number", &api.minor);
  optional("hlml_device_get_memory_info", &api.memory);
  optional("hlml_get_driver_version", &api.driver_version);
  return absl::OkStatus();
}

std::string OptionalString(abi::hlml_device_get_string_fn fn, abi::hlml_device_t device) {
  if (fn == nullptr) return "";
  std::array<char, 256> buffer{};
  if (fn(device, buffer.data(), static_cast<unsigned int>(buffer.size())) != abi::kHlmlSuccess) {
    return "";
  }
  return std::string(base::StripWhitespace(internal::CString(buffer.data(), buffer.size())));
}

std::optional<uint32_t> OptionalUint(abi::hlml_device_get_uint_fn fn, abi::hlml_device_t device) {
  if (fn == nullptr) return std::nullopt;
  unsigned int value = 0;
  if (fn(device, &value) != abi::kHlmlSuccess) return std::nullopt;
  return value;
}

absl::StatusOr<GaudiDevice> ReadDevice(const HlmlApi& api, unsigned int index) {
  const std::string what = fmt::format("gaudi {}", index);
  abi::hlml_device_t handle = nullptr;
  RETURN_IF_ERROR(HlmlStatus(api.handle(index, &handle), base::StrCat("get handle of ", what)));

  Out<abi::hlml_pci_info_t> pci;
  RETURN_IF_ERROR(
      HlmlStatus(api.pci_info(handle, &pci.value), base::StrCat("get pci info of ", what)));
  GaudiDevice d;
  d.index = index;
  std::string bus_id = internal::CString(pci.value.bus_id, sizeof(pci.value.bus_id));
  ASSIGN_OR_RETURN(d.pci_address, base::Annotate(base::PciAddress::Parse(bus_id),
                                                 base::StrCat("get pci info of ", what, ": bus id ",
                                                              base::Quote(bus_id))));
  d.pci_device_id = static_cast<uint16_t>(pci.value.pci_device_id & 0xffff);
  d.pci_vendor_id = static_cast<uint16_t>(pci.value.pci_device_id >> 16);

  d.name = OptionalString(api.name, handle);
  d.uuid = OptionalString(api.uuid, handle);
  d.serial = OptionalString(api.serial, handle);
  d.module_id = OptionalUint(api.module_id, handle);
  d.minor_number = OptionalUint(api.minor, handle);
  if (api.memory != nullptr) {
    Out<abi::hlml_memory_t> mem;
    if (api.memory(handle, &mem.value) == abi::kHlmlSuccess && mem.value.total > 0) {
      d.memory_total_bytes = mem.value.total;
    }
  }
  return d;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DlopenHlml>> DlopenHlml::Load(const std::string& library) {
  const std::string op = base::StrCat("load hlml library ", library);
  auto api = std::make_unique<Api>();
  ASSIGN_OR_RETURN(api->library,
                   internal::DlLibrary::Open(library, "is the Gaudi software stack installed?"));
  RETURN_IF_ERROR(base::Annotate(ResolveHlmlSymbols(*api), op));
  if (int rc = api->init(); rc != abi::kHlmlSuccess) {
    absl::Status s = HlmlStatus(rc, base::StrCat(op, ": initialize hlml"));
    return absl::FailedPreconditionError(s.message());
  }
  api->initialized = true;
  if (api->driver_version != nullptr) {
    std::array<char, 128> buffer{};
    if (api->driver_version(buffer.data(), static_cast<unsigned int>(buffer.size())) ==
        abi::kHlmlSuccess) {
      api->driver_version_text =
          std::string(base::StripWhitespace(internal::CString(buffer.data(), buffer.size())));
    }
  }
  if (!api->missing.empty()) {
    Log()->debug("hlml library lacks optional symbols library={} missing={}", library,
                 base::Join(api->missing, ","));
  }
  return std::unique_ptr<DlopenHlml>(new DlopenHlml(std::move(api), library));
}

DlopenHlml::DlopenHlml(std::unique_ptr<Api> api, std::string library)
    : api_(std::move(api)), library_(std::move(library)) {}

DlopenHlml::~DlopenHlml() = default;

const std::vector<std::string>& DlopenHlml::missing_symbols() const { return api_->missing; }

std::string DlopenHlml::driver_version() const { return api_->driver_version_text; }

absl::StatusOr<std::vector<GaudiDevice>> DlopenHlml::ListDevices() const {
  std::lock_guard lock(api_->mu);
  unsigned int count = 0;
  RETURN_IF_ERROR(HlmlStatus(api_->count(&count), "count gaudi devices"));
  if (count > kMaxDevices) {
    return absl::InvalidArgumentError(
        fmt::format("count gaudi devices: hlml reported {} devices", count));
  }
  std::vector<GaudiDevice> out;
  for (unsigned int i = 0; i < count; ++i) {
    ASSIGN_OR_RETURN(GaudiDevice d, ReadDevice(*api_, i));
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace tessera::drivers::npu
