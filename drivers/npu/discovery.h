// NPU discovery: from the node model (topology/, devices of kind npu), a few
// sysfs attributes and, when loaded, the vendor libraries, to one record per
// NPU; and from the records to the Inventory the driver publishes.
//
// Families (docs/npu.md has the full tables and sources):
//   ascend  Huawei, PCI vendor 0x19e5 (910 d801, 910B d802, 910 A3 d803,
//           310P d500, 310 d100). Node /dev/davinci<physical id>; the id
//           comes from DCMI, else from the PCI device's `dev_id` attribute
//           (devdrv_device_driver). Identity (chip name, AI cores, memory,
//           health, RoCE address) from DCMI; the RoCE address also from
//           /etc/hccn.conf.
//   gaudi   Habana/Intel, PCI vendor 0x1da3 (Gaudi 0x1000.., Gaudi2 0x1020,
//           Gaudi3 0x1030, 0x1060..0x1063). Nodes /dev/accel/accel<N> and
//           accel_controlD<N> (+ the integrated NIC's uverbs node); N from
//           HLML's minor number, else the accel<N> OS device; module id,
//           serial, status from sysfs (sysfs-driver-habanalabs); name,
//           uuid and memory from HLML.
//   accel   any other NPU-kind PCI function with an accel<N> OS device
//           (/sys/class/accel, Documentation/accel/introduction.rst): Intel
//           NPU (intel_vpu), AMD XDNA (amdxdna), Qualcomm Cloud AI (qaic).
// NPU-kind functions of other vendors with no accel node (for example
// Tenstorrent's own char devices) are not listed: there is nothing we know
// how to hand to a container.
//
// Pure functions of their inputs (the Sysfs is only read); thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/pci_address.h"
#include "base/sysfs.h"
#include "drivers/device_driver.h"
#include "drivers/npu/dcmi.h"
#include "drivers/npu/hlml.h"
#include "topology/model.h"

namespace tessera::drivers::npu {

enum class NpuFamily { kAscend, kGaudi, kAccel };
std::string_view NpuFamilyName(NpuFamily family);  // "ascend", "gaudi", "accel"

inline constexpr uint16_t kHuaweiVendorId = 0x19e5;
inline constexpr uint16_t kHabanaVendorId = 0x1da3;
// Kernel drivers that must be bound for the device nodes to exist.
inline constexpr std::string_view kAscendKernelDriver = "devdrv_device_driver";
inline constexpr std::string_view kGaudiKernelDriver = "habanalabs";

// One vNPU slot of an Ascend chip, published as a partition device.
struct VnpuPartition {
  std::string device_name;    // "<npu>-<template label>-<instance>"
  std::string template_name;  // "vir05_1c_16g"
  int vnpu_id = 0;
  uint32_t aicore = 0;
  uint32_t aicpu = 0;
  uint64_t memory_bytes = 0;
  friend bool operator==(const VnpuPartition&, const VnpuPartition&) = default;
};

// What a chip's vNPUs may use together (the partition counters).
struct VnpuBudget {
  uint32_t aicore = 0;
  uint32_t aicpu = 0;
  uint64_t memory_bytes = 0;
  friend bool operator==(const VnpuBudget&, const VnpuBudget&) = default;
};

struct NpuRecord {
  std::string name;  // DeviceNameForPci("npu", address)
  NpuFamily family = NpuFamily::kAccel;
  base::PciAddress pci_address;
  uint16_t vendor_id = 0;
  uint16_t device_id = 0;
  std::string vendor;  // "huawei", "habana", "intel", "amd", ... or "0x1234"
  std::string model;   // "Ascend910B3", "Gaudi2", "Intel NPU 3720", ...
  // The device node number: davinci physical id, accel minor. nullopt when
  // unknown: the device is then listed unhealthy and cannot be prepared.
  std::optional<int> index;
  std::optional<uint64_t> memory_bytes;
  std::optional<int> numa_node;
  std::string pcie_root;                   // "" when unknown
  std::optional<std::string> pcie_switch;  // drivers::PcieSwitchValue
  std::string kernel_driver;
  Health health = Health::kHealthy;
  std::string health_message;
  std::string identity_source;  // "dcmi", "hlml" or "sysfs"

  // Ascend.
  std::optional<int> card_id;  // DCMI card id ("npu-smi -i")
  std::optional<int> chip_id;  // DCMI device id in the card ("npu-smi -c")
  std::string chip_name;       // "910B3" (DCMI only)
  uint32_t aicore_count = 0;   // 0 when unknown
  std::string roce_ip;
  std::vector<VnpuPartition> partitions;  // empty unless the chip has a template table
  VnpuBudget vnpu_budget;

  // Gaudi.
  std::optional<uint32_t> module_id;
  std::string serial;
  std::string uuid;
  std::optional<int> uverbs_index;  // /dev/infiniband/uverbs<N> of the integrated NIC

  // Container paths of the device's own nodes ("/dev/davinci3").
  std::vector<std::string> device_nodes;
};

struct DiscoveryInput {
  const topology::NodeTopology* topology = nullptr;  // REQUIRES: not null
  // Rooted at the sysfs root; null when the model came from hwloc XML (then
  // only the model and the libraries are used).
  const base::Sysfs* sysfs = nullptr;
  // Null when the library is not loaded (or failed this scan).
  const std::vector<AscendChip>* dcmi_chips = nullptr;
  const std::vector<GaudiDevice>* hlml_devices = nullptr;
  // /etc/hccn.conf, parsed: physical id -> RoCE address.
  std::map<int, std::string> hccn_addresses;
};

// Whether the model holds any device DiscoverNpus would list (an Ascend or
// Gaudi function, or an NPU-kind function with an accel node).
bool HasNpuCandidates(const topology::NodeTopology& topology);
// The families present among the candidates.
bool HasFamily(const topology::NodeTopology& topology, NpuFamily family);

// One record per NPU, sorted by name.
std::vector<NpuRecord> DiscoverNpus(const DiscoveryInput& input);

// Parses /etc/hccn.conf ("address_<phy id>=<ip>" lines, as hccn_tool writes
// it); other lines are ignored.
std::map<int, std::string> ParseHccnConf(std::string_view text);

struct InventoryOptions {
  std::string domain = "tessera.dev";  // for the pcieSwitch alignment attribute
  bool publish_partitions = false;     // counter sets + vNPU partition devices
};

// The devices and (with partitions) counter sets of the records.
Inventory BuildInventory(const std::vector<NpuRecord>& records, const InventoryOptions& options);

// "<npu>-counters": the counter set of an Ascend chip's vNPUs.
std::string CounterSetName(std::string_view npu_name);
// Counter names of a vNPU counter set.
inline constexpr std::string_view kCounterAiCore = "aicore";
inline constexpr std::string_view kCounterAiCpu = "aicpu";
inline constexpr std::string_view kCounterMemory = "memory";

}  // namespace tessera::drivers::npu
