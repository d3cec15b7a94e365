// PciAddr("0000:3b:00.0"): a PCI address from a literal that tests know to be
// valid (it dereferences the parse result unchecked).
#pragma once

#include <string_view>

#include "base/pci_address.h"

namespace tessera::testing {

inline base::PciAddress PciAddr(std::string_view bdf) { return *base::PciAddress::Parse(bdf); }

}  // namespace tessera::testing
