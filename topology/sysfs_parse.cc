#include "topology/sysfs_parse.h"

#include <algorithm>

#include "spdlog/fmt/fmt.h"

#include "base/parse.h"
#include "base/strings.h"
#include "topology/pci_tree.h"

namespace tessera::topology {
namespace {

uint16_t Le16(std::string_view b, size_t off) {
  return static_cast<uint16_t>(static_cast<uint8_t>(b[off]) |
                               (static_cast<uint8_t>(b[off + 1]) << 8));
}
uint8_t U8(std::string_view b, size_t off) { return static_cast<uint8_t>(b[off]); }

// Offsets in the configuration space header (PCI Local Bus Spec 3.0, 6.1).
constexpr size_t kVendorId = 0x00;
constexpr size_t kDeviceId = 0x02;
constexpr size_t kStatus = 0x06;
constexpr size_t kClassRevision = 0x08;
constexpr size_t kHeaderType = 0x0e;
constexpr size_t kSecondaryBus = 0x19;     // type 1
constexpr size_t kSubordinateBus = 0x1a;   // type 1
constexpr size_t kSubsystemVendor = 0x2c;  // type 0
constexpr size_t kSubsystemId = 0x2e;      // type 0
constexpr size_t kCapabilityPointer = 0x34;
constexpr size_t kHeaderBytes = 64;
constexpr uint16_t kStatusCapList = 0x10;
constexpr uint8_t kCapIdPcie = 0x10;
constexpr int kMaxCapabilities = 48;  // (256 - 64) / 4, as the kernel's PCI_FIND_CAP_TTL

}  // namespace

std::optional<std::string> NormalizeLinkTarget(std::string_view link_dir, std::string_view target) {
  std::vector<std::string_view> parts;
  auto push = [&](std::string_view path) {
    for (std::string_view p : base::Split(path, '/', base::SplitMode::kSkipEmpty)) {
      if (p == ".") continue;
      if (p == "..") {
        if (parts.empty()) return false;
        parts.pop_back();
      } else {
        parts.push_back(p);
      }
    }
    return true;
  };
  if (!target.empty() && target.front() == '/') {
    // Absolute links in a capture name the host's /sys.
    target.remove_prefix(1);
    if (base::StartsWith(target, "sys/")) target.remove_prefix(4);
  } else if (!push(link_dir)) {
    return std::nullopt;
  }
  if (!push(target)) return std::nullopt;
  return base::Join(parts, "/");
}

absl::StatusOr<PciDevicePath> ParsePciDevicePath(std::string_view canonical,
                                                 const base::PciAddress& self) {
  std::vector<std::string_view> parts = base::Split(canonical, '/', base::SplitMode::kSkipEmpty);
  auto invalid = [&](std::string_view why) {
    return absl::InvalidArgumentError(base::StrCat("device path ", base::Quote(canonical, 160),
                                                   " of ", self.ToString(), ": ", why));
  };
  if (parts.size() < 3 || parts[0] != "devices") {
    return invalid("want devices/pci<domain>:<bus>/.../<address>");
  }
  if (!ParseRootName(parts[1]).ok()) return invalid("second component is not a root complex");
  auto last = base::PciAddress::Parse(parts.back());
  if (!last.ok() || *last != self) return invalid("does not end with the function's address");
  PciDevicePath out;
  out.root_name = std::string(parts[1]);
  for (size_t i = 2; i + 1 < parts.size(); ++i) {
    if (auto a = base::PciAddress::Parse(parts[i]); a.ok()) out.upstream.push_back(*a);
  }
  return out;
}

std::optional<base::PciAddress> OwnerPciAddress(std::string_view canonical) {
  std::vector<std::string_view> parts = base::Split(canonical, '/', base::SplitMode::kSkipEmpty);
  if (parts.size() < 2) return std::nullopt;
  for (size_t i = parts.size() - 1; i-- > 0;) {
    // Only the extended form names a PCI function in a device path; the short
    // form "00:03.0" would also match other buses' names.
    if (std::count(parts[i].begin(), parts[i].end(), ':') != 2) continue;
    if (auto a = base::PciAddress::Parse(parts[i]); a.ok()) return *a;
  }
  return std::nullopt;
}

PciePortType PortTypeFromPcieFlags(uint16_t flags) {
  // PCI Express Capabilities Register bits 7:4, Device/Port Type.
  switch ((flags >> 4) & 0xf) {
    case 0x4:
      return PciePortType::kRootPort;
    case 0x5:
      return PciePortType::kSwitchUpstream;
    case 0x6:
      return PciePortType::kSwitchDownstream;
    case 0x7:
      return PciePortType::kPcieToPciBridge;
    case 0x8:
      return PciePortType::kPciToPcieBridge;
    default:
      return PciePortType::kOther;
  }
}

absl::StatusOr<PciConfig> ParsePciConfig(std::string_view b) {
  if (b.size() < kHeaderBytes) {
    return absl::InvalidArgumentError(
        base::StrCat("pci config: ", b.size(), " bytes, want at least 64"));
  }
  PciConfig c;
  c.vendor_id = Le16(b, kVendorId);
  if (c.vendor_id == 0xffff || c.vendor_id == 0x0000) {
    return absl::InvalidArgumentError(base::StrCat(
        "pci config: vendor id 0x", fmt::format("{:04x}", c.vendor_id), " (no device answered)"));
  }
  c.device_id = Le16(b, kDeviceId);
  c.class_code = (static_cast<uint32_t>(U8(b, kClassRevision + 3)) << 16) |
                 (static_cast<uint32_t>(U8(b, kClassRevision + 2)) << 8) |
                 U8(b, kClassRevision + 1);
  c.header_type = U8(b, kHeaderType) & 0x7f;
  if (c.header_type == 0) {
    c.subsystem_vendor_id = Le16(b, kSubsystemVendor);
    c.subsystem_device_id = Le16(b, kSubsystemId);
  } else if (c.header_type == 1) {
    c.secondary_bus = U8(b, kSecondaryBus);
    c.subordinate_bus = U8(b, kSubordinateBus);
  }
  if ((Le16(b, kStatus) & kStatusCapList) == 0) return c;
  size_t ptr = U8(b, kCapabilityPointer) & 0xfc;
  for (int i = 0; i < kMaxCapabilities && ptr >= kHeaderBytes && ptr + 4 <= b.size(); ++i) {
    if (U8(b, ptr) == kCapIdPcie) {
      c.is_pcie = true;
      c.port_type = PortTypeFromPcieFlags(Le16(b, ptr + 2));
      break;
    }
    ptr = U8(b, ptr + 1) & 0xfc;
  }
  return c;
}

absl::StatusOr<uint16_t> ParsePciId(std::string_view raw) {
  std::string_view v = base::TrimValue(raw);
  auto parsed = base::ParseHex(v);
  if (!base::StartsWith(v, "0x") || !parsed.ok() || *parsed > 0xffff) {
    return absl::InvalidArgumentError(
        base::StrCat("invalid pci id ", base::Quote(v), ": want 0x followed by 4 hex digits"));
  }
  return static_cast<uint16_t>(*parsed);
}

absl::StatusOr<uint32_t> ParsePciClass(std::string_view raw) {
  std::string_view v = base::TrimValue(raw);
  auto parsed = base::ParseHex(v);
  if (!base::StartsWith(v, "0x") || !parsed.ok() || *parsed > 0xffffff) {
    return absl::InvalidArgumentError(
        base::StrCat("invalid pci class ", base::Quote(v), ": want 0x followed by 6 hex digits"));
  }
  return static_cast<uint32_t>(*parsed);
}

absl::StatusOr<int> ParseNumaNodeValue(std::string_view raw) {
  auto parsed = base::ParseInt64(raw);
  // Linux caps MAX_NUMNODES at 1 << CONFIG_NODES_SHIFT (at most 1024).
  if (!parsed.ok() || *parsed < -1 || *parsed >= 1024) {
    return absl::InvalidArgumentError(base::StrCat(
        "invalid numa_node ", base::Quote(base::TrimValue(raw)), ": want -1 or a node id"));
  }
  return static_cast<int>(*parsed);
}

std::map<std::string, std::string> ParseKeyValueLines(std::string_view text) {
  std::map<std::string, std::string> out;
  for (std::string_view line : base::Split(text, '\n', base::SplitMode::kSkipEmpty)) {
    base::SplitPair kv = base::SplitOnce(line, ':');
    if (!kv.found) continue;
    std::string_view key = base::TrimValue(kv.first);
    if (key.empty()) continue;
    out[std::string(key)] = std::string(base::TrimValue(kv.second));
  }
  return out;
}

absl::StatusOr<OsDevice> ParseNvidiaGpuInformation(std::string_view text) {
  std::map<std::string, std::string> kv = ParseKeyValueLines(text);
  auto it = kv.find("Device Minor");
  if (it == kv.end()) {
    return absl::InvalidArgumentError("nvidia gpu information: no \"Device Minor\" line");
  }
  auto minor = base::ParseUint64(it->second);
  if (!minor.ok() || *minor > 255) {
    return absl::InvalidArgumentError(
        base::StrCat("nvidia gpu information: invalid Device Minor ", base::Quote(it->second)));
  }
  OsDevice os;
  os.name = base::StrCat("nvidia", *minor);
  os.type = OsDeviceType::kGpu;
  os.info["Subsystem"] = "nvidia";
  os.info["DeviceMinor"] = std::to_string(*minor);
  // Info names as hwloc's NVML backend writes them.
  if (auto m = kv.find("Model"); m != kv.end() && IsPrintableText(m->second)) {
    os.info["GPUModel"] = m->second;
  }
  if (auto u = kv.find("GPU UUID"); u != kv.end() && IsPrintableText(u->second)) {
    os.info["NVIDIAUUID"] = u->second;
  }
  return os;
}

bool IsPrintableText(std::string_view value) {
  if (value.empty()) return false;
  for (char c : value) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

std::string_view LinkBaseName(std::string_view target) {
  while (!target.empty() && target.back() == '/') target.remove_suffix(1);
  size_t slash = target.rfind('/');
  return slash == std::string_view::npos ? target : target.substr(slash + 1);
}

}  // namespace tessera::topology
