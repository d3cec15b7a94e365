// The HLML C ABI subset Tessera calls, declared here so the build needs no
// Habana headers. Layouts and signatures follow hlml.h as published with
// HabanaAI/gohlml (PCI_ADDR_LEN = PCI_DOMAIN_LEN + 10 = 15). Newer releases
// append fields to hlml_pci_info_t (link caps, revision, subsystem id);
// callers pass buffers with slack behind the struct. Module-private: only
// dlopen_hlml.cc and the fake library include it.
#pragma once

namespace tessera::drivers::npu::abi {

inline constexpr int kHlmlSuccess = 0;
inline constexpr int kHlmlErrorUninitialized = 1;
inline constexpr int kHlmlErrorInvalidArgument = 2;
inline constexpr int kHlmlErrorNotSupported = 3;
inline constexpr int kHlmlErrorAlreadyInitialized = 5;
inline constexpr int kHlmlErrorNotFound = 6;
inline constexpr int kHlmlErrorInsufficientSize = 7;
inline constexpr int kHlmlErrorDriverNotLoaded = 9;
inline constexpr int kHlmlErrorTimeout = 10;
inline constexpr int kHlmlErrorAipIsLost = 15;
inline constexpr int kHlmlErrorMemory = 20;
inline constexpr int kHlmlErrorNoData = 21;
inline constexpr int kHlmlErrorUnknown = 49;

inline constexpr int kPciAddrLen = 15;      // PCI_ADDR_LEN
inline constexpr int kPciLinkInfoLen = 10;  // PCI_LINK_INFO_LEN
inline constexpr int kFieldMaxSize = 32;    // HL_FIELD_MAX_SIZE

using hlml_device_t = void*;

struct hlml_pci_cap_t {
  char link_speed[kPciLinkInfoLen];
  char link_width[kPciLinkInfoLen];
};

struct hlml_pci_info_t {
  unsigned int bus;
  char bus_id[kPciAddrLen];  // "domain:bus:device.function"
  unsigned int device;
  unsigned int domain;
  unsigned int pci_device_id;  // device id | vendor id << 16
  hlml_pci_cap_t caps;
};

struct hlml_memory_t {
  unsigned long long free;
  unsigned long long total;  // bytes
  unsigned long long used;
};

extern "C" {
using hlml_init_fn = int (*)();
using hlml_shutdown_fn = int (*)();
using hlml_device_get_count_fn = int (*)(unsigned int* device_count);
using hlml_device_get_handle_by_index_fn = int (*)(unsigned int index, hlml_device_t* device);
using hlml_device_get_pci_info_fn = int (*)(hlml_device_t device, hlml_pci_info_t* pci);
using hlml_device_get_string_fn = int (*)(hlml_device_t device, char* out, unsigned int length);
using hlml_device_get_uint_fn = int (*)(hlml_device_t device, unsigned int* value);
using hlml_device_get_memory_info_fn = int (*)(hlml_device_t device, hlml_memory_t* memory);
using hlml_get_driver_version_fn = int (*)(char* driver_version, unsigned int length);
}

}  // namespace tessera::drivers::npu::abi
