#include "drivers/npu/discovery.h"

#include <algorithm>
#include <array>

#include "spdlog/fmt/fmt.h"

#include "base/parse.h"
#include "base/quantity.h"
#include "base/strings.h"
#include "drivers/attributes.h"
#include "drivers/naming.h"
#include "drivers/npu/vnpu.h"

namespace tessera::drivers::npu {

namespace {

struct ModelName {
  uint16_t vendor;
  uint16_t device;
  std::string_view model;
};

// Ascend models by PCI device id when DCMI cannot name the chip (the same ids
// topology/classify.cc lists, with their sources).
constexpr std::array kAscendModels = {
    ModelName{kHuaweiVendorId, 0xd100, "Ascend310"},
    ModelName{kHuaweiVendorId, 0xd500, "Ascend310P"},
    ModelName{kHuaweiVendorId, 0xd801, "Ascend910"},
    ModelName{kHuaweiVendorId, 0xd802, "Ascend910B"},
    ModelName{kHuaweiVendorId, 0xd803, "Ascend910_93"},
};

// Gaudi models by PCI device id (intel-resource-drivers-for-kubernetes
// pkg/gaudi/device/device.go ModelNames).
constexpr std::array kGaudiModels = {
    ModelName{kHabanaVendorId, 0x1000, "Gaudi"},  ModelName{kHabanaVendorId, 0x1001, "Gaudi"},
    ModelName{kHabanaVendorId, 0x1010, "Gaudi"},  ModelName{kHabanaVendorId, 0x1011, "Gaudi"},
    ModelName{kHabanaVendorId, 0x1020, "Gaudi2"}, ModelName{kHabanaVendorId, 0x1030, "Gaudi3"},
    ModelName{kHabanaVendorId, 0x1060, "Gaudi3"}, ModelName{kHabanaVendorId, 0x1061, "Gaudi3"},
    ModelName{kHabanaVendorId, 0x1062, "Gaudi3"}, ModelName{kHabanaVendorId, 0x1063, "Gaudi3"},
};

// Accel-class devices (Linux drivers/accel/: ivpu_drv.h, amdxdna_pci_drv.c,
// qaic_drv.c). Intel's MTL and ARL NPUs are "NPU 3720", LNL's "NPU 4000".
constexpr std::array kAccelModels = {
    ModelName{0x8086, 0x7d1d, "Intel NPU 3720"}, ModelName{0x8086, 0xad1d, "Intel NPU 3720"},
    ModelName{0x8086, 0x643e, "Intel NPU 4000"}, ModelName{0x1022, 0x1502, "AMD XDNA"},
    ModelName{0x1022, 0x17f0, "AMD XDNA2"},      ModelName{0x17cb, 0xa100, "Qualcomm Cloud AI 100"},
};

struct VendorName {
  uint16_t vendor;
  std::string_view name;
};
constexpr std::array kVendorNames = {
    VendorName{kHuaweiVendorId, "huawei"}, VendorName{kHabanaVendorId, "habana"},
    VendorName{0x8086, "intel"},           VendorName{0x1022, "amd"},
    VendorName{0x17cb, "qualcomm"},        VendorName{0x1e52, "tenstorrent"},
};

template <size_t N>
std::string_view LookupModel(const std::array<ModelName, N>& table, uint16_t vendor,
                             uint16_t device) {
  for (const ModelName& m : table) {
    if (m.vendor == vendor && m.device == device) return m.model;
  }
  return "";
}

std::string VendorOf(uint16_t vendor) {
  for (const VendorName& v : kVendorNames) {
    if (v.vendor == vendor) return std::string(v.name);
  }
  return fmt::format("0x{:04x}", vendor);
}

std::string PciIds(uint16_t vendor, uint16_t device) {
  return fmt::format("0x{:04x}:0x{:04x}", vendor, device);
}

// N of an OS device "<prefix>N" of `subsystem`, if the device has one.
std::optional<int> OsDeviceIndex(const topology::PciDevice& d, std::string_view subsystem,
                                 std::string_view prefix) {
  for (const topology::OsDevice& os : d.os_devices) {
    auto it = os.info.find("Subsystem");
    if (it == os.info.end() || it->second != subsystem) continue;
    if (!base::StartsWith(os.name, prefix)) continue;
    auto n = base::ParseUint64(std::string_view(os.name).substr(prefix.size()));
    if (n.ok() && *n < 4096) return static_cast<int>(*n);
  }
  return std::nullopt;
}

std::optional<int> AccelIndex(const topology::PciDevice& d) {
  return OsDeviceIndex(d, "accel", "accel");
}

std::optional<NpuFamily> FamilyOf(const topology::PciDevice& d) {
  if (d.kind != topology::DeviceKind::kNpu) return std::nullopt;
  if (d.vendor_id == kHuaweiVendorId) return NpuFamily::kAscend;
  if (d.vendor_id == kHabanaVendorId) return NpuFamily::kGaudi;
  if (AccelIndex(d)) return NpuFamily::kAccel;
  return std::nullopt;
}

// An attribute of the PCI function, trimmed; nullopt when absent or unreadable.
std::optional<std::string> ReadPciAttribute(const base::Sysfs* sysfs, const base::PciAddress& a,
                                            std::string_view attr) {
  if (sysfs == nullptr) return std::nullopt;
  auto raw = sysfs->ReadAttribute(base::StrCat("bus/pci/devices/", a.ToString(), "/", attr));
  if (!raw.ok()) return std::nullopt;
  std::string value(base::TrimValue(*raw));
  if (value.empty()) return std::nullopt;
  return value;
}

void MarkUnhealthy(NpuRecord& r, std::string message) {
  if (r.health == Health::kUnhealthy) {
    r.health_message = base::StrCat(r.health_message, "; ", message);
    return;
  }
  r.health = Health::kUnhealthy;
  r.health_message = std::move(message);
}

NpuRecord CommonRecord(const topology::NodeTopology& topology, const topology::PciDevice& d,
                       NpuFamily family) {
  NpuRecord r;
  r.name = DeviceNameForPci("npu", d.address);
  r.family = family;
  r.pci_address = d.address;
  r.vendor_id = d.vendor_id;
  r.device_id = d.device_id;
  r.vendor = VendorOf(d.vendor_id);
  r.numa_node = d.numa_node;
  r.pcie_root = topology.PcieRootName(d);
  r.pcie_switch = PcieSwitchValue(d);
  r.kernel_driver = d.driver;
  r.identity_source = "sysfs";
  return r;
}

void CheckKernelDriver(NpuRecord& r, std::string_view want) {
  if (r.kernel_driver == want) return;
  MarkUnhealthy(r, fmt::format("kernel driver {} is not bound (bound: {})", want,
                               r.kernel_driver.empty() ? "none" : r.kernel_driver));
}

NpuRecord AscendRecord(const DiscoveryInput& in, const topology::PciDevice& d) {
  NpuRecord r = CommonRecord(*in.topology, d, NpuFamily::kAscend);
  const AscendChip* chip = nullptr;
  if (in.dcmi_chips != nullptr) {
    for (const AscendChip& c : *in.dcmi_chips) {
      if (c.pci_address == d.address) chip = &c;
    }
  }
  CheckKernelDriver(r, kAscendKernelDriver);
  std::string_view model = LookupModel(kAscendModels, d.vendor_id, d.device_id);
  r.model = model.empty() ? base::StrCat("Ascend ", PciIds(d.vendor_id, d.device_id))
                          : std::string(model);
  if (chip != nullptr) {
    r.identity_source = "dcmi";
    r.card_id = chip->card_id;
    r.chip_id = chip->device_id;
    r.chip_name = chip->chip_name;
    if (!chip->chip_name.empty()) {
      r.model = base::StrCat(chip->chip_type.empty() ? "Ascend" : chip->chip_type, chip->chip_name);
    }
    if (chip->physical_id >= 0) r.index = chip->physical_id;
    r.memory_bytes = chip->memory_bytes;
    r.aicore_count = chip->aicore_count;
    r.roce_ip = chip->roce_ip;
    if (chip->health && *chip->health >= 2) {
      MarkUnhealthy(r, fmt::format("dcmi reports health {} ({} alarm)", *chip->health,
                                   *chip->health == 2 ? "major" : "critical"));
    }
  }
  if (!r.index) {
    // devdrv_device_driver's dev_id attribute is the physical id.
    if (auto raw = ReadPciAttribute(in.sysfs, d.address, "dev_id")) {
      if (auto v = base::ParseUint64(*raw); v.ok() && *v < 4096) r.index = static_cast<int>(*v);
    }
  }
  if (!r.index) {
    MarkUnhealthy(r, "physical id unknown (no dcmi entry and no dev_id attribute); not preparable");
  } else {
    r.device_nodes.push_back(base::StrCat("/dev/davinci", *r.index));
    if (r.roce_ip.empty()) {
      auto it = in.hccn_addresses.find(*r.index);
      if (it != in.hccn_addresses.end()) r.roce_ip = it->second;
    }
  }
  if (chip != nullptr && r.index && r.card_id && r.chip_id) {
    if (const ChipTemplates* table = FindChipTemplates(chip->chip_name)) {
      r.vnpu_budget = {.aicore = table->aicore,
                       .aicpu = table->aicpu,
                       .memory_bytes = table->memory_mib * 1024 * 1024};
      for (const VnpuSlot& slot : PlanVnpuSlots(*table, *r.index)) {
        r.partitions.push_back(
            {.device_name =
                 fmt::format("{}-{}-{}", r.name, TemplateLabel(slot.tmpl->name), slot.instance),
             .template_name = std::string(slot.tmpl->name),
             .vnpu_id = slot.vnpu_id,
             .aicore = slot.tmpl->aicore,
             .aicpu = slot.tmpl->aicpu,
             .memory_bytes = slot.tmpl->memory_mib * 1024 * 1024});
      }
    }
  }
  return r;
}

NpuRecord GaudiRecord(const DiscoveryInput& in, const topology::PciDevice& d) {
  NpuRecord r = CommonRecord(*in.topology, d, NpuFamily::kGaudi);
  const GaudiDevice* hl = nullptr;
  if (in.hlml_devices != nullptr) {
    for (const GaudiDevice& g : *in.hlml_devices) {
      if (g.pci_address == d.address) hl = &g;
    }
  }
  CheckKernelDriver(r, kGaudiKernelDriver);
  std::string_view model = LookupModel(kGaudiModels, d.vendor_id, d.device_id);
  r.model =
      model.empty() ? base::StrCat("Gaudi ", PciIds(d.vendor_id, d.device_id)) : std::string(model);
  if (hl != nullptr) {
    r.identity_source = "hlml";
    if (hl->minor_number && *hl->minor_number < 4096) r.index = static_cast<int>(*hl->minor_number);
    r.module_id = hl->module_id;
    r.serial = hl->serial;
    r.uuid = hl->uuid;
    r.memory_bytes = hl->memory_total_bytes;
  }
  if (!r.index) r.index = AccelIndex(d);
  // sysfs-driver-habanalabs: module_id, serial_number and status live on the
  // PCI function (/sys/class/accel/accel<N>/device/...).
  if (!r.module_id) {
    if (auto raw = ReadPciAttribute(in.sysfs, d.address, "module_id")) {
      if (auto v = base::ParseUint64(*raw); v.ok() && *v < 1024) {
        r.module_id = static_cast<uint32_t>(*v);
      }
    }
  }
  if (r.serial.empty())
    r.serial = ReadPciAttribute(in.sysfs, d.address, "serial_number").value_or("");
  if (auto status = ReadPciAttribute(in.sysfs, d.address, "status");
      status && *status != "operational") {
    MarkUnhealthy(r, fmt::format("habanalabs status {}", base::Quote(*status)));
  }
  r.uverbs_index = OsDeviceIndex(d, "infiniband_verbs", "uverbs");
  if (!r.index) {
    MarkUnhealthy(r, "accel index unknown (no hlml entry and no accel node); not preparable");
  } else {
    r.device_nodes.push_back(base::StrCat("/dev/accel/accel", *r.index));
    r.device_nodes.push_back(base::StrCat("/dev/accel/accel_controlD", *r.index));
    if (r.uverbs_index) {
      r.device_nodes.push_back(base::StrCat("/dev/infiniband/uverbs", *r.uverbs_index));
    }
  }
  return r;
}

NpuRecord AccelRecord(const DiscoveryInput& in, const topology::PciDevice& d) {
  NpuRecord r = CommonRecord(*in.topology, d, NpuFamily::kAccel);
  std::string_view model = LookupModel(kAccelModels, d.vendor_id, d.device_id);
  if (!model.empty()) {
    r.model = std::string(model);
  } else if (!d.device_name.empty()) {
    r.model = d.device_name;
  } else {
    r.model = PciIds(d.vendor_id, d.device_id);
  }
  r.index = AccelIndex(d);
  r.device_nodes.push_back(base::StrCat("/dev/accel/accel", *r.index));
  return r;
}

void SetString(Device& d, std::string_view key, const std::string& value) {
  if (!value.empty()) d.attributes[std::string(key)] = value;
}

Device WholeDevice(const NpuRecord& r, const InventoryOptions& options) {
  Device d;
  d.name = r.name;
  d.attributes[std::string(kAttrVendor)] = r.vendor;
  d.attributes[std::string(kAttrType)] = std::string(NpuFamilyName(r.family));
  d.attributes[std::string(kAttrModel)] = r.model;
  if (r.index) d.attributes[std::string(kAttrIndex)] = int64_t{*r.index};
  d.attributes[std::string(kAttrPciBusId)] = r.pci_address.ToString();
  SetString(d, kAttrPcieRoot, r.pcie_root);
  if (r.numa_node) d.attributes[std::string(kAttrNumaNode)] = int64_t{*r.numa_node};
  if (r.pcie_switch) {
    d.attributes[AlignmentAttribute(options.domain, kAlignPcieSwitch)] = *r.pcie_switch;
  }
  SetString(d, kAttrChipName, r.chip_name);
  SetString(d, kAttrRoceIp, r.roce_ip);
  if (r.module_id) d.attributes[std::string(kAttrModuleId)] = int64_t{*r.module_id};
  SetString(d, kAttrSerial, r.serial);
  SetString(d, kAttrUuid, r.uuid);
  if (r.memory_bytes) {
    d.capacity[std::string(kCapMemory)] = {
        base::Quantity::FromInt(static_cast<int64_t>(*r.memory_bytes),
                                base::Quantity::Format::kBinarySI),
        std::nullopt};
  }
  if (r.aicore_count > 0) {
    d.capacity[std::string(kCapAiCores)] = {base::Quantity::FromInt(r.aicore_count), std::nullopt};
  }
  d.health = r.health;
  d.health_message = r.health_message;
  return d;
}

base::Quantity Bytes(uint64_t bytes) {
  return base::Quantity::FromInt(static_cast<int64_t>(bytes), base::Quantity::Format::kBinarySI);
}

std::map<std::string, base::Quantity> Counters(uint32_t aicore, uint32_t aicpu, uint64_t memory,
                                               bool with_aicpu) {
  std::map<std::string, base::Quantity> out = {
      {std::string(kCounterAiCore), base::Quantity::FromInt(aicore)},
      {std::string(kCounterMemory), Bytes(memory)},
  };
  if (with_aicpu) out[std::string(kCounterAiCpu)] = base::Quantity::FromInt(aicpu);
  return out;
}

}  // namespace

std::string_view NpuFamilyName(NpuFamily family) {
  switch (family) {
    case NpuFamily::kAscend:
      return "ascend";
    case NpuFamily::kGaudi:
      return "gaudi";
    case NpuFamily::kAccel:
      return "accel";
  }
  return "accel";
}

bool HasNpuCandidates(const topology::NodeTopology& topology) {
  return std::any_of(topology.devices.begin(), topology.devices.end(),
                     [](const topology::PciDevice& d) { return FamilyOf(d).has_value(); });
}

bool HasFamily(const topology::NodeTopology& topology, NpuFamily family) {
  return std::any_of(topology.devices.begin(), topology.devices.end(),
                     [family](const topology::PciDevice& d) { return FamilyOf(d) == family; });
}

std::vector<NpuRecord> DiscoverNpus(const DiscoveryInput& in) {
  std::vector<NpuRecord> out;
  for (const topology::PciDevice& d : in.topology->devices) {
    std::optional<NpuFamily> family = FamilyOf(d);
    if (!family) continue;
    switch (*family) {
      case NpuFamily::kAscend:
        out.push_back(AscendRecord(in, d));
        break;
      case NpuFamily::kGaudi:
        out.push_back(GaudiRecord(in, d));
        break;
      case NpuFamily::kAccel:
        out.push_back(AccelRecord(in, d));
        break;
    }
  }
  std::sort(out.begin(), out.end(),
            [](const NpuRecord& a, const NpuRecord& b) { return a.name < b.name; });
  return out;
}

std::map<int, std::string> ParseHccnConf(std::string_view text) {
  std::map<int, std::string> out;
  for (std::string_view line : base::Split(text, '\n', base::SplitMode::kSkipEmpty)) {
    line = base::StripWhitespace(line);
    if (!base::StartsWith(line, "address_")) continue;
    base::SplitPair kv = base::SplitOnce(line.substr(8), '=');
    if (!kv.found) continue;
    auto id = base::ParseUint64(base::StripWhitespace(kv.first));
    std::string_view ip = base::StripWhitespace(kv.second);
    if (!id.ok() || *id >= 4096 || ip.empty() || ip.size() > 45) continue;
    out[static_cast<int>(*id)] = std::string(ip);
  }
  return out;
}

std::string CounterSetName(std::string_view npu_name) {
  return base::StrCat(npu_name, "-counters");
}

Inventory BuildInventory(const std::vector<NpuRecord>& records, const InventoryOptions& options) {
  Inventory inv;
  for (const NpuRecord& r : records) {
    Device whole = WholeDevice(r, options);
    if (!options.publish_partitions || r.partitions.empty()) {
      inv.devices.push_back(std::move(whole));
      continue;
    }
    const std::string set = CounterSetName(r.name);
    const bool with_aicpu = r.vnpu_budget.aicpu > 0;
    inv.counter_sets.push_back({.name = set,
                                .counters = Counters(r.vnpu_budget.aicore, r.vnpu_budget.aicpu,
                                                     r.vnpu_budget.memory_bytes, with_aicpu)});
    // The whole chip takes every counter, so it excludes any vNPU and back.
    whole.consumes_counters.push_back(
        {.counter_set = set,
         .counters = Counters(r.vnpu_budget.aicore, r.vnpu_budget.aicpu, r.vnpu_budget.memory_bytes,
                              with_aicpu)});
    for (const VnpuPartition& p : r.partitions) {
      Device part;
      part.name = p.device_name;
      part.attributes = whole.attributes;
      part.attributes[std::string(kAttrVnpuTemplate)] = p.template_name;
      part.attributes[std::string(kAttrVnpuId)] = int64_t{p.vnpu_id};
      part.attributes[std::string(kAttrParentDevice)] = r.name;
      part.capacity[std::string(kCapMemory)] = {Bytes(p.memory_bytes), std::nullopt};
      part.capacity[std::string(kCapAiCores)] = {base::Quantity::FromInt(p.aicore), std::nullopt};
      part.consumes_counters.push_back(
          {.counter_set = set,
           .counters = Counters(p.aicore, p.aicpu, p.memory_bytes, with_aicpu)});
      part.health = r.health;
      part.health_message = r.health_message;
      inv.devices.push_back(std::move(part));
    }
    inv.devices.push_back(std::move(whole));
  }
  std::sort(inv.devices.begin(), inv.devices.end(),
            [](const Device& a, const Device& b) { return a.name < b.name; });
  std::sort(inv.counter_sets.begin(), inv.counter_sets.end(),
            [](const CounterSet& a, const CounterSet& b) { return a.name < b.name; });
  return inv;
}

}  // namespace tessera::drivers::npu
