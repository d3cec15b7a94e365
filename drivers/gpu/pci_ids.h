// A small table of GPU models by PCI vendor:device id, for nodes where no
// vendor library tells the identity (an hwloc XML capture, a sysfs capture,
// a live host whose NVML is missing).
//
// Only what the id settles is listed: the architecture always, the product
// name, model and memory only where one id means one board (10de:20b0 is the
// A100-SXM4-40GB; 1002:66a1 is an MI50, an MI60 or a Radeon Pro VII, so it
// carries the architecture only). Memory is the total the vendor tool reports
// for the board (nvidia-smi's "Total" FB memory), not the marketing figure.
//
// Pure data; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tessera::drivers::gpu {

inline constexpr uint16_t kPciVendorNvidia = 0x10de;
inline constexpr uint16_t kPciVendorAmd = 0x1002;
inline constexpr uint16_t kPciVendorIntel = 0x8086;

struct KnownGpu {
  uint16_t vendor_id = 0;
  uint16_t device_id = 0;
  std::string_view product_name;  // "" when the id covers several boards
  std::string_view model;         // short, stable: "A100-SXM4-40GB"; "" as above
  std::string_view architecture;  // "Ampere", "Hopper", "gfx906", "Xe-HPG"
  int cc_major = 0;               // NVIDIA CUDA compute capability; 0 = not NVIDIA
  int cc_minor = 0;
  uint64_t memory_bytes = 0;  // 0 when the id does not settle it
};

// nullopt for ids not in the table.
std::optional<KnownGpu> LookupGpu(uint16_t vendor_id, uint16_t device_id);

}  // namespace tessera::drivers::gpu
