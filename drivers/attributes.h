// Device attribute and capacity names, in one place (dranet's attributes.go).
//
// Standard names carry their domain. Tessera's own names are written without
// a domain in Device::attributes (they then belong to the driver's domain,
// e.g. "gpu.tessera.dev/uuid"), except the alignment attributes: those must
// have the same fully qualified name on every driver of ours so that one
// claim can ask for a GPU and a NIC with matchAttribute. Their domain is the
// agent's --driver-domain (default tessera.dev), see AlignmentAttribute().
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/pci_address.h"
#include "topology/model.h"

namespace tessera::drivers {

// resource.kubernetes.io standard attributes (see dra-api-facts.md §4).
inline constexpr std::string_view kAttrPcieRoot = "resource.kubernetes.io/pcieRoot";
inline constexpr std::string_view kAttrPciBusId = "resource.kubernetes.io/pciBusID";
inline constexpr std::string_view kAttrNumaNode = "resource.kubernetes.io/numaNode";

// Alignment attributes shared by all Tessera drivers: "<domain>/<name>".
inline constexpr std::string_view kAlignPcieSwitch = "pcieSwitch";
std::string AlignmentAttribute(std::string_view domain, std::string_view name);
// The value of the pcieSwitch alignment attribute: the extended BDF of the
// switch's upstream port ("0000:17:00.0"), the same on every driver so that
// matchAttribute pairs a GPU with the NIC under the same switch.
std::string PcieSwitchValue(const base::PciAddress& switch_upstream_port);
// The pcieSwitch value of a device: the PCI address of the upstream port of
// the nearest PCIe switch above it ("0000:16:00.0"), unique on the node and
// the same for every device behind that switch, whatever driver lists it.
// nullopt when no switch is above the device (attribute omitted).
std::optional<std::string> PcieSwitchValue(const topology::PciDevice& device);

// Common per-driver attributes (unqualified: in the driver's own domain).
inline constexpr std::string_view kAttrVendor = "vendor";
inline constexpr std::string_view kAttrModel = "model";
inline constexpr std::string_view kAttrIndex = "index";
inline constexpr std::string_view kAttrUuid = "uuid";
inline constexpr std::string_view kAttrDriverVersion = "driverVersion";
inline constexpr std::string_view kAttrType = "type";

// GPU.
inline constexpr std::string_view kAttrProductName = "productName";
inline constexpr std::string_view kAttrArchitecture = "architecture";
inline constexpr std::string_view kAttrComputeCapability = "computeCapability";
inline constexpr std::string_view kAttrNearestRdma = "nearestRdmaDevice";
inline constexpr std::string_view kAttrNearestRdmaLink = "nearestRdmaLink";
inline constexpr std::string_view kAttrMigProfile = "migProfile";
inline constexpr std::string_view kAttrParentUuid = "parentUUID";
inline constexpr std::string_view kAttrCudaDriverVersion = "cudaDriverVersion";

// RDMA NIC.
inline constexpr std::string_view kAttrRdmaDevice = "rdmaDevice";
inline constexpr std::string_view kAttrIfName = "ifName";
inline constexpr std::string_view kAttrLinkLayer = "linkLayer";
inline constexpr std::string_view kAttrPortState = "portState";
inline constexpr std::string_view kAttrSpeedGbps = "speedGbps";
inline constexpr std::string_view kAttrNodeGuid = "nodeGUID";
inline constexpr std::string_view kAttrSriovRole = "sriovRole";
inline constexpr std::string_view kAttrSriovParent = "sriovParent";
inline constexpr std::string_view kAttrFirmwareVersion = "firmwareVersion";
inline constexpr std::string_view kAttrActiveMtu = "activeMtu";

// NPU.
inline constexpr std::string_view kAttrChipName = "chipName";  // Ascend "910B3"
inline constexpr std::string_view kAttrRoceIp = "roceIP";      // Ascend integrated RoCE port
inline constexpr std::string_view kAttrModuleId = "moduleID";  // Gaudi OAM slot
inline constexpr std::string_view kAttrSerial = "serial";
inline constexpr std::string_view kAttrVnpuTemplate = "vnpuTemplate";  // "vir05_1c_16g"
inline constexpr std::string_view kAttrVnpuId = "vnpuID";              // /dev/vdavinci<id>
inline constexpr std::string_view kAttrParentDevice = "parentDevice";  // partition's whole device

// Capacities.
inline constexpr std::string_view kCapMemory = "memory";
inline constexpr std::string_view kCapCompute = "compute";
// MIG partitions (NVIDIA MIG user guide, "GPU instance profiles").
inline constexpr std::string_view kCapMultiprocessors = "multiprocessors";
inline constexpr std::string_view kCapCopyEngines = "copyEngines";
inline constexpr std::string_view kCapDecoders = "decoders";
inline constexpr std::string_view kCapEncoders = "encoders";
inline constexpr std::string_view kCapJpegEngines = "jpegEngines";
inline constexpr std::string_view kCapOfaEngines = "ofaEngines";
// RDMA NIC shares (KEP-5075): connection slots and link bandwidth (bits/s).
inline constexpr std::string_view kCapConnections = "connections";
inline constexpr std::string_view kCapBandwidth = "bandwidth";
inline constexpr std::string_view kCapAiCores = "aiCores";  // Ascend AI cores (whole chip or vNPU)

}  // namespace tessera::drivers
