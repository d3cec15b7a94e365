// Pure parsers for what the topology reader finds in sysfs and procfs.
//
// Reading is done elsewhere (sysfs_pci.h); these functions take the raw bytes
// or link targets, never touch the filesystem, never throw, and answer
// InvalidArgument naming what they expected. Table-tested in
// sysfs_parse_test.cc, including values ending in NUL bytes and garbage.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "base/pci_address.h"
#include "topology/model.h"

namespace tessera::topology {

// Lexically joins a symlink's directory and its target and normalizes the
// result relative to the sysfs root: ("bus/pci/devices", "../../../devices/
// pci0000:80/0000:80:02.2/0000:82:00.0") -> "devices/pci0000:80/0000:80:02.2/
// 0000:82:00.0". An absolute target ("/sys/devices/...") is re-anchored at the
// root, as base::DirSysfs does. nullopt when ".." would climb above the root.
std::optional<std::string> NormalizeLinkTarget(std::string_view link_dir, std::string_view target);

// Where a PCI function sits, from its canonical device path.
struct PciDevicePath {
  std::string root_name;                   // "pci0000:80"
  std::vector<base::PciAddress> upstream;  // PCI functions above it, top first
};

// Parses "devices/pci0000:80/0000:80:02.2/0000:82:00.0" for function `self`.
// Components that are not PCI addresses below the root (a VMD controller's
// "pci10000:e0") are skipped. InvalidArgument when the path does not start
// with devices/pci<domain>:<bus> or does not end with `self`.
absl::StatusOr<PciDevicePath> ParsePciDevicePath(std::string_view canonical,
                                                 const base::PciAddress& self);

// The PCI function that owns a class device, from the class device's
// canonical path ("devices/pci0000:00/0000:00:03.0/virtio1/net/eth0" ->
// 0000:00:03.0): the last PCI address in the path before the class device's
// own name. nullopt for virtual devices ("devices/virtual/net/lo").
std::optional<base::PciAddress> OwnerPciAddress(std::string_view canonical);

// The parts of a PCI configuration space header Tessera uses (PCI Local Bus
// Specification 3.0, section 6.1; PCI Express Base Specification, "PCI Express
// Capability Structure").
struct PciConfig {
  uint16_t vendor_id = 0;
  uint16_t device_id = 0;
  uint32_t class_code = 0;  // class, subclass, programming interface
  uint8_t header_type = 0;  // without the multi-function bit
  // Type 0 headers only.
  uint16_t subsystem_vendor_id = 0;
  uint16_t subsystem_device_id = 0;
  // Type 1 (bridge) headers only.
  uint8_t secondary_bus = 0;
  uint8_t subordinate_bus = 0;
  // From the PCI Express capability when it lies within the bytes given
  // (unprivileged reads of sysfs "config" stop at 64 bytes): kUnknown otherwise.
  PciePortType port_type = PciePortType::kUnknown;
  bool is_pcie = false;  // a PCI Express capability was found
};

// Parses the first bytes of config space. Needs at least the 64-byte header;
// InvalidArgument when shorter or when the vendor id is 0xffff/0x0000 (no
// device answered: it vanished or was never there).
absl::StatusOr<PciConfig> ParsePciConfig(std::string_view bytes);

// Maps the device/port type field of the PCI Express Capabilities register.
PciePortType PortTypeFromPcieFlags(uint16_t flags);

// A 16-bit id as sysfs writes it: "0x10de\n". InvalidArgument on anything else.
absl::StatusOr<uint16_t> ParsePciId(std::string_view raw);
// A 24-bit class as sysfs writes it: "0x030200\n".
absl::StatusOr<uint32_t> ParsePciClass(std::string_view raw);
// sysfs numa_node: "-1", "0", "1\n", "0\n\0". InvalidArgument on garbage or
// values below -1.
absl::StatusOr<int> ParseNumaNodeValue(std::string_view raw);

// "Key: value" lines, as in /proc/driver/nvidia/gpus/<bdf>/information.
// Keys and values are trimmed; lines without ':' are ignored.
std::map<std::string, std::string> ParseKeyValueLines(std::string_view text);

// The OS device for an NVIDIA GPU from its procfs "information" file:
// "nvidia<minor>" with infos DeviceMinor, GPUModel, NVIDIAUUID. InvalidArgument
// when "Device Minor" is missing or not a number in 0..255.
absl::StatusOr<OsDevice> ParseNvidiaGpuInformation(std::string_view text);

// True when `value` is non-empty printable ASCII (0x20-0x7e): what names and
// info values from sysfs must be before they enter the model.
bool IsPrintableText(std::string_view value);

// The last path component of a link target ("../../../bus/pci/drivers/mlx5_core"
// -> "mlx5_core"); "" for an empty target.
std::string_view LinkBaseName(std::string_view target);

}  // namespace tessera::topology
