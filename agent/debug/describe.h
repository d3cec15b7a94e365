// Short text forms of model values shared by node-debug's table outputs.
// Pure functions; thread-safe.
#pragma once

#include <string>

#include "topology/model.h"

namespace tessera::agent::debug {

// "10de:2330"
std::string VendorDevice(uint16_t vendor, uint16_t device);
// "card1 renderD128 nvidia0", or "-" when there are none.
std::string OsDeviceNames(const topology::PciDevice& device);
// The hwloc/pci.ids name when known ("GA100 [A100 SXM4 40GB]"), else "".
std::string ProductName(const topology::PciDevice& device);
// "0", or "-" when unknown.
std::string NumaText(const topology::PciDevice& device);

}  // namespace tessera::agent::debug
