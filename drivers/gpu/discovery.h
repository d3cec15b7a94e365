// GPU discovery: every GPU of the node model joined with what its vendor
// tells about it, as one GpuRecord per physical GPU.
//
// Sources, per vendor, best first (docs/gpu.md, "Where identity comes from"):
//   NVIDIA  NVML (matched by PCI address): name, UUID, memory, minor, compute
//           capability, architecture, MIG mode, profiles and instances;
//           then the OS device infos hwloc recorded (nvml/cuda: GPUModel,
//           NVIDIAUUID, CUDAGlobalMemorySize) or the NVIDIA kernel driver's
//           proc file (minor, model, UUID); then the PCI id table.
//   AMD     amdgpu sysfs (product_name, unique_id, mem_info_vram_total on the
//           PCI function) and the KFD topology (gfx target version); hwloc's
//           rsmi/opencl OS devices (GPUModel, AMDUUID, OpenCLGlobalMemorySize);
//           the PCI id table.
//   Intel   i915/xe sysfs (lmem_total_bytes on the DRM card; xe's per-tile
//           physical_vram_size_bytes); the PCI id table.
// Topology fields (pcieRoot, NUMA, switch, nearest RDMA NIC) come from the
// node model alone.
//
// Health: on a live host an NVIDIA GPU without a usable NVML is listed but
// not preparable (kUnhealthy, message says why); a GPU NVML reports lost
// (Unavailable) likewise. On a simulated node (--sysfs-root / --hwloc-xml)
// GPUs are preparable without NVML.
//
// Thread-safety: DiscoverGpus is reentrant; `nvml` must be safe for
// concurrent use (DlopenNvml is).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/pci_address.h"
#include "base/sysfs.h"
#include "drivers/device_driver.h"
#include "drivers/nvidia/nvml.h"
#include "topology/model.h"

namespace tessera::drivers::gpu {

enum class Vendor { kNvidia, kAmd, kIntel, kOther };
std::string_view VendorName(Vendor vendor);  // "nvidia", "amd", "intel", "other"
Vendor VendorFromPciId(uint16_t vendor_id);

struct DrmNode {
  std::string name;  // "card1", "renderD128"
  std::optional<uint32_t> major;
  std::optional<uint32_t> minor;
  friend bool operator==(const DrmNode&, const DrmNode&) = default;
};

// The RDMA NIC closest to a GPU in the node model.
struct NearestRdma {
  base::PciAddress address;
  std::string rdma_device;  // kernel RDMA device, "mlx5_0"; "" when the model has none
  topology::LinkType link = topology::LinkType::kSys;
  friend bool operator==(const NearestRdma&, const NearestRdma&) = default;
};

struct GpuRecord {
  base::PciAddress address;
  Vendor vendor = Vendor::kOther;
  uint16_t pci_vendor_id = 0;
  uint16_t pci_device_id = 0;

  // Identity ("" / nullopt when unknown).
  std::string product_name;
  std::string model;
  std::string uuid;          // NVIDIA "GPU-..."; AMD the 64-bit unique id in hex
  std::string architecture;  // "Hopper", "gfx906", "Xe-HPG"
  std::optional<nvidia::ComputeCapability> compute_capability;
  std::optional<uint64_t> memory_bytes;
  std::string driver_version;       // "550.54.15"
  std::string cuda_driver_version;  // "12.4"
  // NVML index for NVIDIA with NVML; otherwise the ordinal among this
  // vendor's GPUs in PCI order (what NVML and ROCm use by default).
  int index = 0;
  std::optional<uint32_t> nvml_index;
  std::optional<uint32_t> nvidia_minor;  // /dev/nvidia<minor>
  std::vector<DrmNode> drm_nodes;        // card then render nodes
  std::string identity_source;           // "nvml", "hwloc", "sysfs", "pci-ids", "none"

  // Topology.
  std::string pcie_root;  // "pci0000:15"; "" when unknown
  std::optional<int> numa_node;
  std::optional<base::PciAddress> pcie_switch;
  std::optional<NearestRdma> nearest_rdma;

  // NVIDIA MIG (empty unless NVML reports MIG).
  std::optional<nvidia::MigMode> mig_mode;
  std::vector<nvidia::GpuInstanceProfile> mig_profiles;
  std::vector<nvidia::GpuInstance> mig_instances;

  // What can be done with it.
  bool preparable = true;
  Health health = Health::kHealthy;
  std::string health_message;

  bool mig_enabled() const { return mig_mode.has_value() && mig_mode->current; }
  // MPS with enforced limits: NVIDIA, Volta or newer (compute capability
  // >= 7.0), MIG off.
  bool mps_capable() const;
  friend bool operator==(const GpuRecord&, const GpuRecord&) = default;
};

struct DiscoveryOptions {
  // Simulated or captured node: GPUs are preparable without NVML, and AMD or
  // Intel GPUs the capture recorded no DRM nodes for get card<N> and
  // renderD<128+N>, N counting such GPUs in PCI order.
  bool simulated = false;
};

struct Discovery {
  std::vector<GpuRecord> gpus;  // sorted by PCI address
  // Degraded results, one line each (NVML errors, unreadable vendor files).
  std::vector<std::string> warnings;
  friend bool operator==(const Discovery&, const Discovery&) = default;
};

// `sysfs` is rooted at the sysfs root the model was read from (for an hwloc
// XML input, any tree: missing files are not errors). `nvml` may be null;
// `nvml_error` then says why (for the health message). Never fails: what
// cannot be read is a warning.
Discovery DiscoverGpus(const topology::NodeTopology& topology, const base::Sysfs& sysfs,
                       const nvidia::Nvml* nvml, std::string_view nvml_error,
                       const DiscoveryOptions& options);

// Semantic version from a vendor version string: "550.54.15" stays,
// "535.104.05" -> "535.104.5", "470.82" -> "470.82.0", "12.4" -> "12.4.0".
// nullopt when the text has no leading numeric part.
std::optional<std::string> NormalizeVersion(std::string_view text);

// "gfx906" from a KFD gfx_target_version (90006), "gfx90a" (90010),
// "gfx1030" (100300). nullopt for 0 or nonsense.
std::optional<std::string> GfxTargetName(uint64_t gfx_target_version);

}  // namespace tessera::drivers::gpu
