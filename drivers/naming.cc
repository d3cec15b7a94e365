#include "drivers/naming.h"

#include "base/strings.h"
#include "spdlog/fmt/fmt.h"

namespace tessera::drivers {

std::string DeviceNameForPci(std::string_view prefix, const base::PciAddress& a) {
  return fmt::format("{}-{:04x}-{:02x}-{:02x}-{:x}", prefix, a.domain, a.bus, a.device, a.function);
}

std::optional<base::PciAddress> PciFromDeviceName(std::string_view name) {
  std::vector<std::string_view> parts = base::Split(name, '-');
  // prefix, domain, bus, device, function[, suffix...]
  if (parts.size() < 5) return std::nullopt;
  std::string bdf = base::StrCat(parts[1], ":", parts[2], ":", parts[3], ".", parts[4]);
  if (parts[1].size() < 4) return std::nullopt;
  absl::StatusOr<base::PciAddress> a = base::PciAddress::Parse(bdf);
  if (!a.ok()) return std::nullopt;
  return *a;
}

}  // namespace tessera::drivers
