#include "base/pci_address.h"
#include "base/strings.h"
#include "spdlog/fmt/fmt.h"

#include <vector>

#include "base/parse.h"

namespace tessera::base {
namespace {

absl::Status InvalidPciAddress(std::string_view text, std::string_view why) {
  return absl::InvalidArgumentError(
      StrCat("invalid PCI address \"", text.substr(0, 64), "\": ", why));
}

bool AllHex(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<PciAddress> PciAddress::Parse(std::string_view raw) {
  std::string_view text = TrimValue(raw);
  std::vector<std::string_view> colon = Split(text, ':');
  if (colon.size() != 2 && colon.size() != 3) return InvalidPciAddress(text, "want DDDD:BB:DD.F");
  PciAddress out;
  if (colon.size() == 3) {
    if (!AllHex(colon[0]) || colon[0].size() > 8) return InvalidPciAddress(text, "bad domain");
    out.domain = static_cast<uint32_t>(*ParseHex(colon[0]));
    colon.erase(colon.begin());
  }
  if (!AllHex(colon[0]) || colon[0].size() > 2) return InvalidPciAddress(text, "bad bus");
  out.bus = static_cast<uint8_t>(*ParseHex(colon[0]));
  std::vector<std::string_view> dot = Split(colon[1], '.');
  if (dot.size() != 2) return InvalidPciAddress(text, "want device.function");
  if (!AllHex(dot[0]) || dot[0].size() > 2) return InvalidPciAddress(text, "bad device");
  if (!AllHex(dot[1]) || dot[1].size() != 1) return InvalidPciAddress(text, "bad function");
  uint64_t device = *ParseHex(dot[0]);
  uint64_t function = *ParseHex(dot[1]);
  if (device > 0x1f) return InvalidPciAddress(text, "device above 0x1f");
  if (function > 7) return InvalidPciAddress(text, "function above 7");
  out.device = static_cast<uint8_t>(device);
  out.function = static_cast<uint8_t>(function);
  return out;
}

std::string PciAddress::ToString() const {
  return fmt::format("{:04x}:{:02x}:{:02x}.{:x}", domain, bus, device, function);
}

std::string PciAddress::RootName(uint32_t domain, uint8_t bus) {
  return fmt::format("pci{:04x}:{:02x}", domain, bus);
}

}  // namespace tessera::base
