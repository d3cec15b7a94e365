#include "drivers/gpu/pci_ids.h"

#include <array>

#include "base/byte_units.h"

namespace tessera::drivers::gpu {
namespace {

using base::kMiB;

// Sources: the PCI ID Repository (pci-ids.ucw.cz) for names, NVIDIA's CUDA
// GPUs page for compute capabilities, `nvidia-smi -q` of each board for the
// memory totals (A100 40GB: 40960 MiB, H100 SXM5/PCIe: 81559 MiB, T4: 15360
// MiB), AMD's LLVM AMDGPU processor table and Intel's ark for architectures.
constexpr std::array kTable = {
    // NVIDIA.
    KnownGpu{kPciVendorNvidia, 0x1db1, "Tesla V100-SXM2-16GB", "V100-SXM2-16GB", "Volta", 7, 0,
             16160 * kMiB},
    KnownGpu{kPciVendorNvidia, 0x1db5, "Tesla V100-SXM2-32GB", "V100-SXM2-32GB", "Volta", 7, 0,
             32510 * kMiB},
    KnownGpu{kPciVendorNvidia, 0x1eb8, "Tesla T4", "T4", "Turing", 7, 5, 15360 * kMiB},
    KnownGpu{kPciVendorNvidia, 0x20b0, "NVIDIA A100-SXM4-40GB", "A100-SXM4-40GB", "Ampere", 8, 0,
             40960 * kMiB},
    KnownGpu{kPciVendorNvidia, 0x20b2, "NVIDIA A100-SXM4-80GB", "A100-SXM4-80GB", "Ampere", 8, 0,
             81920 * kMiB},
    KnownGpu{kPciVendorNvidia, 0x20b5, "NVIDIA A100 80GB PCIe", "A100-PCIE-80GB", "Ampere", 8, 0,
             81920 * kMiB},
    KnownGpu{kPciVendorNvidia, 0x20f1, "NVIDIA A100-PCIE-40GB", "A100-PCIE-40GB", "Ampere", 8, 0,
             40960 * kMiB},
    KnownGpu{kPciVendorNvidia, 0x2235, "NVIDIA A40", "A40", "Ampere", 8, 6, 46068 * kMiB},
    KnownGpu{kPciVendorNvidia, 0x25b6, "NVIDIA A16", "A16", "Ampere", 8, 6, 0},
    KnownGpu{kPciVendorNvidia, 0x26b5, "NVIDIA L40", "L40", "Ada", 8, 9, 46068 * kMiB},
    KnownGpu{kPciVendorNvidia, 0x26b9, "NVIDIA L40S", "L40S", "Ada", 8, 9, 46068 * kMiB},
    KnownGpu{kPciVendorNvidia, 0x27b8, "NVIDIA L4", "L4", "Ada", 8, 9, 23034 * kMiB},
    KnownGpu{kPciVendorNvidia, 0x2330, "NVIDIA H100 80GB HBM3", "H100-SXM5-80GB", "Hopper", 9, 0,
             81559 * kMiB},
    KnownGpu{kPciVendorNvidia, 0x2331, "NVIDIA H100 PCIe", "H100-PCIE-80GB", "Hopper", 9, 0,
             81559 * kMiB},
    KnownGpu{kPciVendorNvidia, 0x2335, "NVIDIA H200", "H200-SXM-141GB", "Hopper", 9, 0, 0},
    // AMD: several boards share most ids; architecture only.
    KnownGpu{kPciVendorAmd, 0x66a0, "", "", "gfx906", 0, 0, 0},  // Vega 20: MI60
    KnownGpu{kPciVendorAmd, 0x66a1, "", "", "gfx906", 0, 0, 0},  // Vega 20: MI50, Pro VII
    KnownGpu{kPciVendorAmd, 0x738c, "AMD Instinct MI100", "MI100", "gfx908", 0, 0, 0},
    KnownGpu{kPciVendorAmd, 0x7408, "AMD Instinct MI250X", "MI250X", "gfx90a", 0, 0, 0},
    KnownGpu{kPciVendorAmd, 0x740c, "AMD Instinct MI250X / MI250", "", "gfx90a", 0, 0, 0},
    KnownGpu{kPciVendorAmd, 0x74a1, "AMD Instinct MI300X", "MI300X", "gfx942", 0, 0, 0},
    // Intel.
    KnownGpu{kPciVendorIntel, 0x56a0, "Intel Arc A770", "Arc-A770", "Xe-HPG", 0, 0, 0},
    KnownGpu{kPciVendorIntel, 0x56c0, "Intel Data Center GPU Flex 170", "Flex-170", "Xe-HPG", 0, 0,
             0},
    KnownGpu{kPciVendorIntel, 0x0bd5, "Intel Data Center GPU Max 1550", "Max-1550", "Xe-HPC", 0, 0,
             0},
    KnownGpu{kPciVendorIntel, 0x0bda, "Intel Data Center GPU Max 1100", "Max-1100", "Xe-HPC", 0, 0,
             0},
};

}  // namespace

std::optional<KnownGpu> LookupGpu(uint16_t vendor_id, uint16_t device_id) {
  for (const KnownGpu& g : kTable) {
    if (g.vendor_id == vendor_id && g.device_id == device_id) return g;
  }
  return std::nullopt;
}

}  // namespace tessera::drivers::gpu
