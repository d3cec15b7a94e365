#include "drivers/gpu/discovery.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "spdlog/fmt/fmt.h"

#include "base/byte_units.h"
#include "base/log.h"
#include "base/parse.h"
#include "base/status.h"
#include "base/strings.h"
#include "drivers/gpu/internal/log.h"
#include "drivers/gpu/pci_ids.h"

namespace tessera::drivers::gpu {
namespace {

using base::StrCat;
using topology::NodeTopology;
using topology::OsDevice;
using topology::OsDeviceType;
using topology::PciDevice;

using base::kKiB;

using internal::Log;

std::string Msg(const absl::Status& s) { return std::string(base::Std(s.message())); }

// The first info value named `key` among the device's OS devices (hwloc's
// infos or what our sysfs reader recorded).
std::string OsInfo(const PciDevice& d, std::string_view key) {
  for (const OsDevice& os : d.os_devices) {
    auto it = os.info.find(std::string(key));
    if (it != os.info.end() && !it->second.empty()) return it->second;
  }
  return "";
}

// The info value of the OS devices whose "Backend" is `backend` (hwloc's
// NVML, RSMI, CUDA, OpenCL backends).
std::string BackendInfo(const PciDevice& d, std::string_view backend, std::string_view key) {
  for (const OsDevice& os : d.os_devices) {
    auto b = os.info.find("Backend");
    if (b == os.info.end() || b->second != backend) continue;
    auto it = os.info.find(std::string(key));
    if (it != os.info.end() && !it->second.empty()) return it->second;
  }
  return "";
}

std::optional<uint64_t> KiBInfo(const PciDevice& d, std::string_view backend,
                                std::string_view key) {
  std::string v = BackendInfo(d, backend, key);
  if (v.empty()) return std::nullopt;
  absl::StatusOr<uint64_t> kib = base::ParseUint64(v);
  if (!kib.ok() || *kib == 0) return std::nullopt;
  return *kib * kKiB;
}

// hwloc 2.5's RSMI backend cut the first two characters of the marketing
// name on some ROCm versions ("deon Instinct MI50 32GB", seen in the Corona
// capture of shared/topologies). Restore the only prefix that loses them.
std::string RepairRsmiModel(std::string model) {
  if (base::StartsWith(model, "deon ")) return StrCat("Ra", model);
  return model;
}

std::optional<nvidia::ComputeCapability> CcFromTable(const KnownGpu& k) {
  if (k.cc_major == 0) return std::nullopt;
  return nvidia::ComputeCapability{k.cc_major, k.cc_minor};
}

void ApplyTable(GpuRecord& r) {
  std::optional<KnownGpu> k = LookupGpu(r.pci_vendor_id, r.pci_device_id);
  if (!k) return;
  bool used = false;
  if (r.product_name.empty() && !k->product_name.empty()) {
    r.product_name = std::string(k->product_name);
    used = true;
  }
  if (r.model.empty() && !k->model.empty()) r.model = std::string(k->model);
  if (r.architecture.empty() && !k->architecture.empty()) {
    r.architecture = std::string(k->architecture);
    used = true;
  }
  if (!r.compute_capability) r.compute_capability = CcFromTable(*k);
  if (!r.memory_bytes && k->memory_bytes != 0) {
    r.memory_bytes = k->memory_bytes;
    used = true;
  }
  if (used && r.identity_source == "none") r.identity_source = "pci-ids";
}

std::vector<DrmNode> DrmNodes(const PciDevice& d) {
  std::vector<DrmNode> cards, renders;
  for (const OsDevice& os : d.os_devices) {
    const bool card = base::StartsWith(os.name, "card");
    const bool render = base::StartsWith(os.name, "renderD");
    if (!card && !render) continue;
    DrmNode n{.name = os.name};
    if (auto it = os.info.find("Dev"); it != os.info.end()) {
      base::SplitPair mm = base::SplitOnce(it->second, ':');
      auto major = base::ParseUint64(mm.first);
      auto minor = base::ParseUint64(mm.second);
      if (mm.found && major.ok() && minor.ok()) {
        n.major = static_cast<uint32_t>(*major);
        n.minor = static_cast<uint32_t>(*minor);
      }
    }
    (card ? cards : renders).push_back(std::move(n));
  }
  cards.insert(cards.end(), renders.begin(), renders.end());
  return cards;
}

std::optional<NearestRdma> FindNearestRdma(const NodeTopology& topo, const PciDevice& gpu) {
  std::optional<NearestRdma> best;
  for (const PciDevice& nic : topo.devices) {
    if (nic.kind != topology::DeviceKind::kRdma || nic.physfn) continue;  // PFs only
    const topology::LinkType link = topo.Relation(gpu, nic);
    if (best && std::tie(best->link, best->address) <= std::tie(link, nic.address)) continue;
    const OsDevice* rdma = nic.FindOsDevice(OsDeviceType::kOpenFabrics);
    best = NearestRdma{
        .address = nic.address, .rdma_device = rdma != nullptr ? rdma->name : "", .link = link};
  }
  return best;
}

// KFD topology nodes (Documentation/gpu/amdgpu/... and the ROCm thunk's
// topology.c): properties are "<key> <value>" lines; location_id is
// bus << 8 | devfn, domain the PCI domain.
struct KfdNode {
  base::PciAddress address;
  uint64_t gfx_target_version = 0;
  std::string unique_id;
};

std::map<base::PciAddress, KfdNode> ReadKfd(const base::Sysfs& sys,
                                            std::vector<std::string>& warnings) {
  std::map<base::PciAddress, KfdNode> out;
  constexpr std::string_view kNodes = "class/kfd/kfd/topology/nodes";
  absl::StatusOr<std::vector<std::string>> nodes = sys.ListDir(kNodes);
  if (!nodes.ok()) {
    if (!absl::IsNotFound(nodes.status())) {
      warnings.push_back(StrCat(kNodes, ": ", Msg(nodes.status()), "; KFD topology unknown"));
    }
    return out;
  }
  for (const std::string& n : *nodes) {
    absl::StatusOr<std::string> text = sys.ReadAttribute(StrCat(kNodes, "/", n, "/properties"));
    if (!text.ok()) continue;
    std::map<std::string, uint64_t> props;
    for (std::string_view line : base::Split(*text, '\n', base::SplitMode::kSkipEmpty)) {
      base::SplitPair kv = base::SplitOnce(base::StripWhitespace(line), ' ');
      absl::StatusOr<uint64_t> v = base::ParseUint64(kv.second);
      if (kv.found && v.ok()) props[std::string(kv.first)] = *v;
    }
    auto gfx = props.find("gfx_target_version");
    auto loc = props.find("location_id");
    if (gfx == props.end() || gfx->second == 0 || loc == props.end()) continue;  // a CPU node
    KfdNode k;
    k.address.domain = static_cast<uint32_t>(props.count("domain") ? props["domain"] : 0);
    k.address.bus = static_cast<uint8_t>((loc->second >> 8) & 0xff);
    k.address.device = static_cast<uint8_t>((loc->second >> 3) & 0x1f);
    k.address.function = static_cast<uint8_t>(loc->second & 0x7);
    k.gfx_target_version = gfx->second;
    if (auto u = props.find("unique_id"); u != props.end() && u->second != 0) {
      k.unique_id = fmt::format("{:016x}", u->second);
    }
    out[k.address] = k;
  }
  return out;
}

std::optional<uint64_t> ReadBytes(const base::Sysfs& sys, const std::string& path) {
  absl::StatusOr<std::string> v = sys.ReadAttribute(path);
  if (!v.ok()) return std::nullopt;
  absl::StatusOr<uint64_t> n = base::ParseUint64(*v);
  if (!n.ok() || *n == 0) return std::nullopt;
  return *n;
}

std::string ReadText(const base::Sysfs& sys, const std::string& path) {
  absl::StatusOr<std::string> v = sys.ReadAttribute(path);
  if (!v.ok()) return "";
  return std::string(base::TrimValue(*v));
}

void IdentifyAmd(const base::Sysfs& sys, const PciDevice& d,
                 const std::map<base::PciAddress, KfdNode>& kfd, GpuRecord& r) {
  // amdgpu attributes on the PCI function (Documentation/gpu/amdgpu/driver-misc.rst).
  const std::string dev = StrCat("bus/pci/devices/", d.address.ToString(), "/");
  std::string product = ReadText(sys, dev + "product_name");
  std::string unique = ReadText(sys, dev + "unique_id");
  std::optional<uint64_t> vram = ReadBytes(sys, dev + "mem_info_vram_total");
  if (!product.empty() || !unique.empty() || vram) r.identity_source = "sysfs";
  if (auto k = kfd.find(d.address); k != kfd.end()) {
    r.architecture = GfxTargetName(k->second.gfx_target_version).value_or("");
    if (unique.empty()) unique = k->second.unique_id;
    r.identity_source = "sysfs";
  }
  if (product.empty()) {
    product = RepairRsmiModel(BackendInfo(d, "RSMI", "GPUModel"));
    if (!product.empty() && r.identity_source == "none") r.identity_source = "hwloc";
  }
  if (unique.empty()) unique = BackendInfo(d, "RSMI", "AMDUUID");
  if (!vram) vram = KiBInfo(d, "OpenCL", "OpenCLGlobalMemorySize");
  r.product_name = product;
  r.uuid = base::ToLower(unique);
  r.memory_bytes = vram;
}

void IdentifyIntel(const base::Sysfs& sys, const PciDevice& d, GpuRecord& r) {
  // i915 (Intel's backport driver) publishes lmem_total_bytes on the DRM
  // card; xe publishes physical_vram_size_bytes per tile on the PCI function.
  std::optional<uint64_t> lmem;
  for (const DrmNode& n : r.drm_nodes) {
    if (!base::StartsWith(n.name, "card")) continue;
    lmem = ReadBytes(sys, StrCat("class/drm/", n.name, "/lmem_total_bytes"));
    if (lmem) break;
  }
  if (!lmem) {
    const std::string dev = StrCat("bus/pci/devices/", d.address.ToString());
    uint64_t total = 0;
    for (int tile = 0; tile < 8; ++tile) {
      std::optional<uint64_t> t =
          ReadBytes(sys, StrCat(dev, "/tile", tile, "/physical_vram_size_bytes"));
      if (!t) break;
      total += *t;
    }
    if (total > 0) lmem = total;
  }
  if (lmem) {
    r.memory_bytes = lmem;
    r.identity_source = "sysfs";
  }
}

void IdentifyNvidiaWithoutNvml(const PciDevice& d, GpuRecord& r) {
  // hwloc's NVML/CUDA OS devices, or our reader of the kernel driver's
  // /proc/driver/nvidia/gpus/<bdf>/information (same info names).
  r.product_name = OsInfo(d, "GPUModel");
  r.uuid = OsInfo(d, "NVIDIAUUID");
  r.memory_bytes = KiBInfo(d, "CUDA", "CUDAGlobalMemorySize");
  if (std::string minor = OsInfo(d, "DeviceMinor"); !minor.empty()) {
    if (auto m = base::ParseUint64(minor); m.ok()) r.nvidia_minor = static_cast<uint32_t>(*m);
  }
  if (!r.product_name.empty() || !r.uuid.empty() || r.memory_bytes) r.identity_source = "hwloc";
}

void IdentifyNvidiaFromNvml(const nvidia::GpuInfo& info, const nvidia::SystemInfo* sys,
                            GpuRecord& r) {
  r.identity_source = "nvml";
  r.product_name = info.name;
  r.uuid = info.uuid;
  r.memory_bytes = info.memory_total_bytes;
  r.nvml_index = info.index;
  r.index = static_cast<int>(info.index);
  r.nvidia_minor = info.minor_number;
  r.compute_capability = info.compute_capability;
  nvidia::Architecture arch = info.architecture;
  if (arch == nvidia::Architecture::kUnknown && info.compute_capability) {
    arch = nvidia::ArchitectureFromComputeCapability(*info.compute_capability);
  }
  if (arch != nvidia::Architecture::kUnknown) {
    r.architecture = std::string(nvidia::ArchitectureName(arch));
  }
  r.mig_mode = info.mig_mode;
  if (sys != nullptr) {
    r.driver_version = sys->driver_version;
    r.cuda_driver_version = nvidia::CudaVersionString(sys->cuda_driver_version);
  }
}

void ReadMig(const nvidia::Nvml& nvml, uint32_t index, GpuRecord& r,
             std::vector<std::string>& warnings) {
  if (!r.mig_enabled()) return;
  absl::StatusOr<std::vector<nvidia::GpuInstanceProfile>> profiles =
      nvml.GetGpuInstanceProfiles(index);
  if (profiles.ok()) {
    r.mig_profiles = std::move(*profiles);
  } else if (!absl::IsUnimplemented(profiles.status())) {
    warnings.push_back(StrCat(r.address.ToString(), ": MIG profiles: ", Msg(profiles.status())));
  }
  absl::StatusOr<std::vector<nvidia::GpuInstance>> instances = nvml.ListGpuInstances(index);
  if (instances.ok()) {
    r.mig_instances = std::move(*instances);
  } else {
    warnings.push_back(StrCat(r.address.ToString(), ": MIG instances: ", Msg(instances.status())));
    r.preparable = false;
    r.health = Health::kUnhealthy;
    r.health_message = StrCat("MIG instances unreadable: ", Msg(instances.status()));
  }
}

void MarkNotPreparable(GpuRecord& r, std::string message) {
  r.preparable = false;
  r.health = Health::kUnhealthy;
  r.health_message = std::move(message);
}

}  // namespace

std::string_view VendorName(Vendor vendor) {
  switch (vendor) {
    case Vendor::kNvidia:
      return "nvidia";
    case Vendor::kAmd:
      return "amd";
    case Vendor::kIntel:
      return "intel";
    case Vendor::kOther:
      return "other";
  }
  return "other";
}

Vendor VendorFromPciId(uint16_t vendor_id) {
  switch (vendor_id) {
    case kPciVendorNvidia:
      return Vendor::kNvidia;
    case kPciVendorAmd:
      return Vendor::kAmd;
    case kPciVendorIntel:
      return Vendor::kIntel;
    default:
      return Vendor::kOther;
  }
}

bool GpuRecord::mps_capable() const {
  return vendor == Vendor::kNvidia && compute_capability.has_value() &&
         *compute_capability >= nvidia::ComputeCapability{7, 0} && !mig_enabled();
}

std::optional<std::string> NormalizeVersion(std::string_view text) {
  text = base::StripWhitespace(text);
  std::vector<std::string> parts;
  for (std::string_view p : base::Split(text, '.')) {
    size_t n = 0;
    while (n < p.size() && p[n] >= '0' && p[n] <= '9') ++n;
    if (n == 0) break;
    absl::StatusOr<uint64_t> v = base::ParseUint64(p.substr(0, n));
    if (!v.ok()) break;
    parts.push_back(std::to_string(*v));
    if (n != p.size() || parts.size() == 3) break;  // "12.4-rc1": stop at the suffix
  }
  if (parts.empty()) return std::nullopt;
  while (parts.size() < 3) parts.push_back("0");
  return base::Join(parts, ".");
}

std::optional<std::string> GfxTargetName(uint64_t v) {
  // KFD encodes major * 10000 + minor * 100 + stepping; LLVM names the target
  // gfx<major><minor><stepping as one hex digit>.
  const uint64_t major = v / 10000;
  const uint64_t minor = (v / 100) % 100;
  const uint64_t stepping = v % 100;
  if (major == 0 || minor > 15 || stepping > 15) return std::nullopt;
  return fmt::format("gfx{}{:x}{:x}", major, minor, stepping);
}

Discovery DiscoverGpus(const NodeTopology& topo, const base::Sysfs& sysfs, const nvidia::Nvml* nvml,
                       std::string_view nvml_error, const DiscoveryOptions& options) {
  Discovery out;
  std::string nvml_problem(nvml_error);

  // NVML's view, by PCI address.
  std::optional<nvidia::SystemInfo> system;
  std::map<base::PciAddress, nvidia::GpuInfo> by_address;
  if (nvml != nullptr) {
    if (absl::StatusOr<nvidia::SystemInfo> s = nvml->GetSystemInfo(); s.ok()) {
      system = *s;
    } else {
      out.warnings.push_back(StrCat("nvml system info: ", Msg(s.status())));
    }
    absl::StatusOr<uint32_t> count = nvml->GetGpuCount();
    if (!count.ok()) {
      nvml_problem = StrCat("nvml device count: ", Msg(count.status()));
      out.warnings.push_back(nvml_problem);
      nvml = nullptr;
    } else {
      for (uint32_t i = 0; i < *count; ++i) {
        absl::StatusOr<nvidia::GpuInfo> g = nvml->GetGpu(i);
        if (!g.ok()) {
          out.warnings.push_back(StrCat("nvml gpu ", i, ": ", Msg(g.status())));
          continue;
        }
        by_address[g->pci_address] = *g;
      }
    }
  }
  std::vector<std::string> nvml_failures;
  for (const std::string& w : out.warnings) {
    if (base::StartsWith(w, "nvml gpu ")) nvml_failures.push_back(w.substr(5));
  }

  std::map<base::PciAddress, KfdNode> kfd;
  bool kfd_read = false;
  std::map<Vendor, int> ordinal;
  int synthetic_drm = 0;

  for (const PciDevice* d : topo.DevicesOfKind(topology::DeviceKind::kGpu)) {
    GpuRecord r;
    r.address = d->address;
    r.pci_vendor_id = d->vendor_id;
    r.pci_device_id = d->device_id;
    r.vendor = VendorFromPciId(d->vendor_id);
    r.index = ordinal[r.vendor]++;
    r.identity_source = "none";
    r.pcie_root = topo.PcieRootName(*d);
    r.numa_node = d->numa_node;
    r.pcie_switch = d->pcie_switch;
    r.nearest_rdma = FindNearestRdma(topo, *d);
    r.drm_nodes = DrmNodes(*d);

    switch (r.vendor) {
      case Vendor::kNvidia: {
        auto it = by_address.find(d->address);
        if (it != by_address.end()) {
          IdentifyNvidiaFromNvml(it->second, system ? &*system : nullptr, r);
          if (absl::Status h = nvml->CheckHealth(it->second.index); !h.ok()) {
            MarkNotPreparable(r, StrCat("GPU does not answer NVML: ", Msg(h)));
          } else {
            ReadMig(*nvml, it->second.index, r, out.warnings);
          }
        } else {
          IdentifyNvidiaWithoutNvml(*d, r);
          if (nvml != nullptr) {
            // With NVML loaded (a live host, or the fake on a simulated one)
            // NVML is the authority: a GPU it cannot show is not usable.
            out.warnings.push_back(StrCat(d->address.ToString(), ": not visible to NVML"));
            MarkNotPreparable(
                r, nvml_failures.empty()
                       ? std::string("GPU not visible to NVML (driver not bound, or excluded)")
                       : StrCat("GPU not visible to NVML; NVML failed for ",
                                base::Join(nvml_failures, "; ")));
          } else if (!options.simulated) {
            MarkNotPreparable(r, StrCat("NVML unavailable: ",
                                        nvml_problem.empty() ? "not loaded" : nvml_problem));
          }
        }
        break;
      }
      case Vendor::kAmd:
        if (!kfd_read) {
          kfd = ReadKfd(sysfs, out.warnings);
          kfd_read = true;
        }
        IdentifyAmd(sysfs, *d, kfd, r);
        break;
      case Vendor::kIntel:
        IdentifyIntel(sysfs, *d, r);
        break;
      case Vendor::kOther:
        MarkNotPreparable(r, fmt::format("unsupported GPU vendor {:04x}", d->vendor_id));
        break;
    }
    ApplyTable(r);
    if (r.product_name.empty()) r.product_name = d->device_name;  // hwloc's pci.ids name
    if (r.vendor == Vendor::kNvidia && !r.nvidia_minor) {
      // The NVIDIA driver numbers GPUs in PCI order unless told otherwise.
      r.nvidia_minor = static_cast<uint32_t>(r.index);
    }
    if (options.simulated && r.vendor != Vendor::kNvidia && r.drm_nodes.empty()) {
      // A capture without DRM OS devices (hwloc XML without its GL/DRM
      // backend): number the simulated node's DRM nodes as the kernel does
      // for GPUs probed in PCI order, card<N> and renderD<128+N>.
      const uint32_t n = static_cast<uint32_t>(synthetic_drm++);
      r.drm_nodes = {DrmNode{.name = StrCat("card", n), .major = 226, .minor = n},
                     DrmNode{.name = StrCat("renderD", 128 + n), .major = 226, .minor = 128 + n}};
    }
    Log().debug("discovered gpu address={} vendor={} product={} source={} preparable={}",
                r.address.ToString(), VendorName(r.vendor), r.product_name, r.identity_source,
                r.preparable);
    out.gpus.push_back(std::move(r));
  }
  return out;
}

}  // namespace tessera::drivers::gpu
