#include "drivers/attributes.h"

#include "base/strings.h"

namespace tessera::drivers {

std::string AlignmentAttribute(std::string_view domain, std::string_view name) {
  return base::StrCat(domain, "/", name);
}

std::string PcieSwitchValue(const base::PciAddress& switch_upstream_port) {
  return switch_upstream_port.ToString();
}

std::optional<std::string> PcieSwitchValue(const topology::PciDevice& device) {
  if (!device.pcie_switch) return std::nullopt;
  return device.pcie_switch->ToString();
}

}  // namespace tessera::drivers
