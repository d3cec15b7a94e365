#include "agent/debug/describe.h"

#include "spdlog/fmt/fmt.h"

namespace tessera::agent::debug {

std::string VendorDevice(uint16_t vendor, uint16_t device) {
  return fmt::format("{:04x}:{:04x}", vendor, device);
}

std::string OsDeviceNames(const topology::PciDevice& device) {
  std::string out;
  for (const topology::OsDevice& os : device.os_devices) {
    if (!out.empty()) out += ' ';
    out += os.name;
  }
  return out.empty() ? "-" : out;
}

std::string ProductName(const topology::PciDevice& device) {
  if (!device.device_name.empty()) return device.device_name;
  return device.vendor_name;
}

std::string NumaText(const topology::PciDevice& device) {
  return device.numa_node ? std::to_string(*device.numa_node) : "-";
}

}  // namespace tessera::agent::debug
