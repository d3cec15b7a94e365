// PciAddress: a PCI function's address (domain:bus:device.function).
//
// The canonical text form is the kernel's extended BDF, "0000:44:00.0", which
// is also the form of the standard resource.kubernetes.io/pciBusID attribute.
// Parsing accepts the short form "44:00.0" (domain 0) and upper-case hex.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "spdlog/fmt/fmt.h"

namespace tessera::base {

struct PciAddress {
  uint32_t domain = 0;  // 16 bits normally; VMD domains use up to 32.
  uint8_t bus = 0;
  uint8_t device = 0;    // 5 bits
  uint8_t function = 0;  // 3 bits

  static absl::StatusOr<PciAddress> Parse(std::string_view text);

  // "0000:44:00.0"
  std::string ToString() const;
  // The root complex name as the kernel writes it under /sys/devices and as the
  // standard resource.kubernetes.io/pcieRoot attribute carries it: "pci0000:40".
  // Only meaningful for the address of a device directly below a host bridge,
  // or for the host bridge's bus; see topology/ for how a device's root is found.
  static std::string RootName(uint32_t domain, uint8_t bus);

  friend auto operator<=>(const PciAddress&, const PciAddress&) = default;
};

}  // namespace tessera::base

template <>
struct fmt::formatter<tessera::base::PciAddress> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const tessera::base::PciAddress& a, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(a.ToString(), ctx);
  }
};
