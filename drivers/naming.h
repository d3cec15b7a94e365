// Device names every Tessera driver uses in its ResourceSlices.
//
// Names are derived from the PCI address, not from an enumeration index, so
// they stay the same across reboots, driver reloads and hot-plug, and a
// prepared claim's device always means the same hardware. Any driver can map
// a peer driver's device name back to its PCI function (GPU <-> NIC
// alignment): "gpu-0000-44-00-0", "rdma-0000-43-00-0", "npu-0000-c1-00-0".
// Sub-devices append a suffix: "gpu-0000-44-00-0-mig-1g10gb-3".
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/pci_address.h"

namespace tessera::drivers {

// "<prefix>-DDDD-BB-DD-F" (a DNS label: lower-case hex, dashes).
std::string DeviceNameForPci(std::string_view prefix, const base::PciAddress& address);

// The PCI address encoded in a name made by DeviceNameForPci (with or without
// a sub-device suffix); nullopt for names of another shape.
std::optional<base::PciAddress> PciFromDeviceName(std::string_view name);

}  // namespace tessera::drivers
