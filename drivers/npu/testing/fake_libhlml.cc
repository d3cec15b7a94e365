// A fake libhlml.so: the HLML C ABI subset of ../internal/hlml_abi.h over a
// JSON description of a node's Gaudi devices (schema in README.md). Tests and
// simulated nodes load it through the real DlopenHlml.
//
// The description is (re)read from $TESSERA_FAKE_HLML_CONFIG at every
// hlml_init; without it hlml_init answers HLML_ERROR_DRIVER_NOT_LOADED, as on
// a host without the habanalabs driver. Thread-safe. Test-only.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

#include "drivers/npu/internal/hlml_abi.h"

namespace abi = tessera::drivers::npu::abi;

namespace {

struct Device {
  unsigned int index = 0;
  std::string name, uuid, serial, bus_id;
  unsigned int vendor_id = 0x1da3, device_id = 0;
  long long module_id = -1, minor = -1;  // -1: not supported
  unsigned long long memory_total = 0;   // 0: not supported
};

struct Error {
  std::string function;
  int rc = 0;
  long long device = -1;  // -1: any
};

struct State {
  std::mutex mu;
  bool initialized = false;
  std::string driver_version;
  std::vector<Device> devices;
  std::vector<Error> errors;
} g;

unsigned int Hex(const nlohmann::json& j, const char* key, unsigned int fallback) {
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (it->is_number_unsigned()) return it->get<unsigned int>();
  if (it->is_string())
    return static_cast<unsigned int>(std::strtoul(it->get<std::string>().c_str(), nullptr, 16));
  return fallback;
}

bool Load() {
  const char* path = std::getenv("TESSERA_FAKE_HLML_CONFIG");
  if (path == nullptr || *path == '\0') return false;
  std::ifstream in(path);
  if (!in) return false;
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return false;
  g.driver_version = j.value("driverVersion", "");
  g.devices.clear();
  g.errors.clear();
  unsigned int index = 0;
  for (const auto& x : j.value("devices", nlohmann::json::array())) {
    Device d;
    d.index = index++;
    d.name = x.value("name", "");
    d.uuid = x.value("uuid", "");
    d.serial = x.value("serial", "");
    d.bus_id = x.value("pciBusId", "");
    d.vendor_id = Hex(x, "pciVendorId", 0x1da3);
    d.device_id = Hex(x, "pciDeviceId", 0);
    d.module_id = x.value("moduleId", -1LL);
    d.minor = x.value("minorNumber", -1LL);
    d.memory_total = x.value("memoryTotalBytes", 0ULL);
    g.devices.push_back(d);
  }
  for (const auto& e : j.value("errors", nlohmann::json::array())) {
    g.errors.push_back({e.value("function", ""), e.value("return", abi::kHlmlErrorUnknown),
                        e.value("device", -1LL)});
  }
  return true;
}

int Injected(const char* function, long long device = -1) {
  for (const Error& e : g.errors) {
    if (e.function != function && e.function != "*") continue;
    if (e.device != -1 && e.device != device) continue;
    return e.rc;
  }
  return 0;
}

int Check(const char* function, abi::hlml_device_t handle, const Device** out) {
  if (!g.initialized) return abi::kHlmlErrorUninitialized;
  const auto* d = static_cast<const Device*>(handle);
  if (d == nullptr) return abi::kHlmlErrorInvalidArgument;
  if (int rc = Injected(function, d->index); rc != 0) return rc;
  *out = d;
  return 0;
}

int CopyString(const std::string& value, char* out, unsigned int length) {
  if (value.empty()) return abi::kHlmlErrorNotSupported;
  if (out == nullptr || length == 0) return abi::kHlmlErrorInvalidArgument;
  if (value.size() + 1 > length) return abi::kHlmlErrorInsufficientSize;
  std::memcpy(out, value.c_str(), value.size() + 1);
  return 0;
}

}  // namespace

// The exported names are the vendor ABI's.
// NOLINTBEGIN(readability-identifier-naming)
#define EXPORT extern "C" __attribute__((visibility("default")))

EXPORT int hlml_init() {
  std::lock_guard lock(g.mu);
  g.initialized = Load();
  if (!g.initialized) return abi::kHlmlErrorDriverNotLoaded;
  return Injected("hlml_init");
}

EXPORT int hlml_init_with_flags(unsigned int) { return hlml_init(); }

EXPORT int hlml_shutdown() {
  std::lock_guard lock(g.mu);
  g.initialized = false;
  return 0;
}

EXPORT int hlml_device_get_count(unsigned int* count) {
  std::lock_guard lock(g.mu);
  if (!g.initialized) return abi::kHlmlErrorUninitialized;
  if (int rc = Injected("hlml_device_get_count"); rc != 0) return rc;
  if (count == nullptr) return abi::kHlmlErrorInvalidArgument;
  *count = static_cast<unsigned int>(g.devices.size());
  return 0;
}

EXPORT int hlml_device_get_handle_by_index(unsigned int index, abi::hlml_device_t* device) {
  std::lock_guard lock(g.mu);
  if (!g.initialized) return abi::kHlmlErrorUninitialized;
  if (int rc = Injected("hlml_device_get_handle_by_index", index); rc != 0) return rc;
  if (device == nullptr || index >= g.devices.size()) return abi::kHlmlErrorInvalidArgument;
  *device = &g.devices[index];
  return 0;
}

EXPORT int hlml_device_get_pci_info(abi::hlml_device_t handle, abi::hlml_pci_info_t* pci) {
  std::lock_guard lock(g.mu);
  const Device* d = nullptr;
  if (int rc = Check("hlml_device_get_pci_info", handle, &d); rc != 0) return rc;
  std::memset(pci, 0, sizeof(*pci));
  std::snprintf(pci->bus_id, sizeof(pci->bus_id), "%s", d->bus_id.c_str());
  unsigned int domain = 0, bus = 0, dev = 0, fn = 0;
  std::sscanf(d->bus_id.c_str(), "%x:%x:%x.%x", &domain, &bus, &dev, &fn);
  pci->bus = bus;
  pci->device = dev;
  pci->domain = domain;
  pci->pci_device_id = d->device_id | (d->vendor_id << 16);
  return 0;
}

EXPORT int hlml_device_get_name(abi::hlml_device_t handle, char* name, unsigned int length) {
  std::lock_guard lock(g.mu);
  const Device* d = nullptr;
  if (int rc = Check("hlml_device_get_name", handle, &d); rc != 0) return rc;
  return CopyString(d->name, name, length);
}

EXPORT int hlml_device_get_uuid(abi::hlml_device_t handle, char* uuid, unsigned int length) {
  std::lock_guard lock(g.mu);
  const Device* d = nullptr;
  if (int rc = Check("hlml_device_get_uuid", handle, &d); rc != 0) return rc;
  return CopyString(d->uuid, uuid, length);
}

EXPORT int hlml_device_get_serial(abi::hlml_device_t handle, char* serial, unsigned int length) {
  std::lock_guard lock(g.mu);
  const Device* d = nullptr;
  if (int rc = Check("hlml_device_get_serial", handle, &d); rc != 0) return rc;
  return CopyString(d->serial, serial, length);
}

EXPORT int hlml_device_get_module_id(abi::hlml_device_t handle, unsigned int* module_id) {
  std::lock_guard lock(g.mu);
  const Device* d = nullptr;
  if (int rc = Check("hlml_device_get_module_id", handle, &d); rc != 0) return rc;
  if (d->module_id < 0) return abi::kHlmlErrorNotSupported;
  *module_id = static_cast<unsigned int>(d->module_id);
  return 0;
}

EXPORT int hlml_device_get_minor_number(abi::hlml_device_t handle, unsigned int* minor) {
  std::lock_guard lock(g.mu);
  const Device* d = nullptr;
  if (int rc = Check("hlml_device_get_minor_number", handle, &d); rc != 0) return rc;
  if (d->minor < 0) return abi::kHlmlErrorNotSupported;
  *minor = static_cast<unsigned int>(d->minor);
  return 0;
}

EXPORT int hlml_device_get_memory_info(abi::hlml_device_t handle, abi::hlml_memory_t* memory) {
  std::lock_guard lock(g.mu);
  const Device* d = nullptr;
  if (int rc = Check("hlml_device_get_memory_info", handle, &d); rc != 0) return rc;
  if (d->memory_total == 0) return abi::kHlmlErrorNotSupported;
  memory->total = d->memory_total;
  memory->used = 0;
  memory->free = d->memory_total;
  return 0;
}

EXPORT int hlml_get_driver_version(char* version, unsigned int length) {
  std::lock_guard lock(g.mu);
  if (int rc = Injected("hlml_get_driver_version"); rc != 0) return rc;
  return CopyString(g.driver_version, version, length);
}
// NOLINTEND(readability-identifier-naming)
