#include "drivers/rdma/sysfs_rdma.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include "base/parse.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace tessera::drivers::rdma {
namespace {

using base::JoinPath;
using base::Quote;
using base::StrCat;

// "4: ACTIVE" -> 4 and "ACTIVE"; "4" -> 4 and "".
struct NumberedText {
  int64_t number = 0;
  std::string text;
};
absl::StatusOr<NumberedText> ParseNumbered(std::string_view raw, std::string_view what) {
  std::string_view v = base::TrimValue(raw);
  base::SplitPair parts = base::SplitOnce(v, ':');
  absl::StatusOr<int64_t> n = base::ParseInt64(parts.first);
  if (!n.ok()) {
    return absl::InvalidArgumentError(
        StrCat(what, ": expected \"<number>: <name>\", got ", Quote(v)));
  }
  return NumberedText{*n, std::string(base::TrimValue(parts.second))};
}

bool IsHex(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}

// The numeric suffix of "uverbs12" after `prefix`; nullopt otherwise.
std::optional<uint32_t> NameIndex(std::string_view name, std::string_view prefix) {
  if (!name.starts_with(prefix) || name.size() == prefix.size()) return std::nullopt;
  absl::StatusOr<uint64_t> n = base::ParseUint64(name.substr(prefix.size()));
  if (!n.ok() || *n > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(*n);
}

// Reads an attribute as trimmed text; "" and a problem line when it exists but
// cannot be read; "" silently when absent.
std::string ReadText(const base::Sysfs& sysfs, const std::string& path,
                     std::vector<std::string>& problems) {
  absl::StatusOr<std::string> raw = sysfs.ReadAttribute(path);
  if (!raw.ok()) {
    if (!absl::IsNotFound(raw.status())) {
      problems.push_back(StrCat("read ", path, ": ", base::Std(raw.status().message())));
    }
    return "";
  }
  return std::string(base::TrimValue(*raw));
}

std::vector<std::string> List(const base::Sysfs& sysfs, const std::string& path) {
  absl::StatusOr<std::vector<std::string>> names = sysfs.ListDir(path);
  return names.ok() ? *std::move(names) : std::vector<std::string>{};
}

SysfsPort ReadPort(const base::Sysfs& sysfs, const std::string& dir, uint32_t number,
                   std::vector<std::string>& problems) {
  SysfsPort port{.number = number};
  auto parse = [&](const std::string& file, auto parser, auto assign) {
    std::string path = JoinPath(dir, file);
    std::string text = ReadText(sysfs, path, problems);
    if (text.empty()) return;
    auto value = parser(text);
    if (value.ok()) {
      assign(*std::move(value));
    } else {
      problems.push_back(StrCat(path, ": ", base::Std(value.status().message())));
    }
  };
  parse("state", ParsePortState, [&](PortState s) { port.state = s; });
  parse("phys_state", ParsePhysState, [&](PhysState s) { port.phys_state = std::move(s); });
  parse("link_layer", ParseLinkLayer, [&](LinkLayer l) { port.link_layer = l; });
  // mlx5 answers EINVAL for the rate of a port that is down: a problem of
  // the moment, not of the capture; it is reported like any other.
  parse("rate", ParseRateMbps, [&](uint64_t r) { port.rate_mbps = r; });
  port.gid0 = ReadText(sysfs, JoinPath(dir, "gids/0"), problems);
  port.gid_netdev = ReadText(sysfs, JoinPath(dir, "gid_attrs/ndevs/0"), problems);
  return port;
}

SysfsIbDevice ReadIbDevice(const base::Sysfs& sysfs, const std::string& dir, std::string name,
                           std::vector<std::string>& problems) {
  SysfsIbDevice dev{.name = std::move(name)};
  for (auto [file, field] :
       {std::pair{"node_guid", &dev.node_guid}, std::pair{"sys_image_guid", &dev.sys_image_guid}}) {
    std::string path = JoinPath(dir, file);
    std::string text = ReadText(sysfs, path, problems);
    if (text.empty()) continue;
    absl::StatusOr<std::string> guid = ParseGuid(text);
    if (guid.ok()) {
      *field = *guid;
    } else {
      problems.push_back(StrCat(path, ": ", base::Std(guid.status().message())));
    }
  }
  dev.hca_type = ReadText(sysfs, JoinPath(dir, "hca_type"), problems);
  dev.fw_ver = ReadText(sysfs, JoinPath(dir, "fw_ver"), problems);
  dev.board_id = ReadText(sysfs, JoinPath(dir, "board_id"), problems);
  for (const std::string& p : List(sysfs, JoinPath(dir, "ports"))) {
    absl::StatusOr<uint64_t> n = base::ParseUint64(p);
    if (!n.ok() || *n == 0 || *n > 255) continue;  // u8 port numbers, from 1
    dev.ports.push_back(
        ReadPort(sysfs, JoinPath(dir, StrCat("ports/", p)), static_cast<uint32_t>(*n), problems));
  }
  std::sort(dev.ports.begin(), dev.ports.end(),
            [](const SysfsPort& a, const SysfsPort& b) { return a.number < b.number; });
  return dev;
}

SysfsCharDev ReadCharDev(const base::Sysfs& sysfs, const std::string& dir, std::string name,
                         bool with_port, std::vector<std::string>& problems) {
  SysfsCharDev c{.name = std::move(name)};
  c.ibdev = ReadText(sysfs, JoinPath(dir, "ibdev"), problems);
  std::string dev_path = JoinPath(dir, "dev");
  std::string dev = ReadText(sysfs, dev_path, problems);
  if (!dev.empty()) {
    absl::StatusOr<DevNumber> n = ParseDevNumber(dev);
    if (n.ok()) {
      c.dev = *n;
    } else {
      problems.push_back(StrCat(dev_path, ": ", base::Std(n.status().message())));
    }
  }
  if (with_port) {
    std::string port = ReadText(sysfs, JoinPath(dir, "port"), problems);
    absl::StatusOr<uint64_t> p = base::ParseUint64(port);
    if (p.ok() && *p <= 255) c.port = static_cast<uint32_t>(*p);
  }
  return c;
}

SysfsNetdev ReadNetdev(const base::Sysfs& sysfs, const std::string& dir, std::string name,
                       std::vector<std::string>& problems) {
  SysfsNetdev n{.name = std::move(name)};
  // dev_port is decimal, dev_id hex ("0x0"); both are port - 1.
  std::string dev_port = ReadText(sysfs, JoinPath(dir, "dev_port"), problems);
  if (absl::StatusOr<uint64_t> p = base::ParseUint64(dev_port); p.ok() && *p < 255) {
    n.port = static_cast<uint32_t>(*p) + 1;
  } else {
    std::string dev_id = ReadText(sysfs, JoinPath(dir, "dev_id"), problems);
    if (absl::StatusOr<uint64_t> id = base::ParseHex(dev_id); id.ok() && *id < 255) {
      n.port = static_cast<uint32_t>(*id) + 1;
    }
  }
  n.operstate = ReadText(sysfs, JoinPath(dir, "operstate"), problems);
  if (absl::StatusOr<uint64_t> mtu =
          base::ParseUint64(ReadText(sysfs, JoinPath(dir, "mtu"), problems));
      mtu.ok() && *mtu <= UINT32_MAX) {
    n.mtu = static_cast<uint32_t>(*mtu);
  }
  if (absl::StatusOr<uint64_t> len =
          base::ParseUint64(ReadText(sysfs, JoinPath(dir, "addr_len"), problems));
      len.ok() && *len <= 64) {
    n.addr_len = static_cast<int>(*len);
  }
  return n;
}

template <typename T>
bool Has(const std::vector<T>& items, std::string_view name) {
  return std::any_of(items.begin(), items.end(), [&](const T& t) { return t.name == name; });
}

// Reads an entry only when the function does not have it yet (the PCI
// directory and the class directory name the same objects).
template <typename T, typename Read>
void AddUnique(std::vector<T>& items, std::string_view name, Read read) {
  if (!Has(items, name)) items.push_back(read());
}

template <typename T>
void SortByName(std::vector<T>& items) {
  std::sort(items.begin(), items.end(), [](const T& a, const T& b) { return a.name < b.name; });
}

// One class directory entry and the directory it resolves to.
struct ClassEntry {
  std::string name;
  std::string dir;  // resolved, relative to the sysfs root
  base::PciAddress function;
};

std::vector<ClassEntry> ClassEntries(const base::Sysfs& sysfs, std::string_view cls) {
  std::vector<ClassEntry> out;
  const std::string base_dir = StrCat("class/", cls);
  for (const std::string& name : List(sysfs, base_dir)) {
    std::string path = JoinPath(base_dir, name);
    if (!sysfs.IsDirectory(path)) continue;  // abi_version and other plain files
    absl::StatusOr<std::string> resolved = sysfs.Resolve(path);
    if (!resolved.ok()) continue;
    std::optional<base::PciAddress> fn = PciFunctionOfPath(*resolved);
    if (!fn.has_value()) continue;
    out.push_back({name, *resolved, *fn});
  }
  return out;
}

}  // namespace

std::string_view PortStateName(PortState state) {
  switch (state) {
    case PortState::kNop:
      return "NOP";
    case PortState::kDown:
      return "DOWN";
    case PortState::kInit:
      return "INIT";
    case PortState::kArmed:
      return "ARMED";
    case PortState::kActive:
      return "ACTIVE";
    case PortState::kActiveDefer:
      return "ACTIVE_DEFER";
    case PortState::kUnknown:
      break;
  }
  return "UNKNOWN";
}

bool IsActive(PortState state) {
  return state == PortState::kActive || state == PortState::kActiveDefer;
}

absl::StatusOr<PortState> ParsePortState(std::string_view raw) {
  ASSIGN_OR_RETURN(NumberedText n, ParseNumbered(raw, "port state"));
  static constexpr std::array kStates = {PortState::kNop,    PortState::kDown,
                                         PortState::kInit,   PortState::kArmed,
                                         PortState::kActive, PortState::kActiveDefer};
  if (n.number < 0 || n.number >= static_cast<int64_t>(kStates.size())) {
    return absl::InvalidArgumentError(
        StrCat("port state: ", n.number, " is not an ib_port_state (0..5)"));
  }
  return kStates[static_cast<size_t>(n.number)];
}

absl::StatusOr<PhysState> ParsePhysState(std::string_view raw) {
  ASSIGN_OR_RETURN(NumberedText n, ParseNumbered(raw, "phys_state"));
  if (n.number < 0 || n.number > 15) {
    return absl::InvalidArgumentError(StrCat("phys_state: ", n.number, " is out of range 0..15"));
  }
  return PhysState{static_cast<int>(n.number), std::move(n.text)};
}

std::string_view LinkLayerName(LinkLayer layer) {
  switch (layer) {
    case LinkLayer::kInfiniBand:
      return "InfiniBand";
    case LinkLayer::kEthernet:
      return "Ethernet";
    case LinkLayer::kUnknown:
      break;
  }
  return "Unknown";
}

absl::StatusOr<LinkLayer> ParseLinkLayer(std::string_view raw) {
  std::string_view v = base::TrimValue(raw);
  if (v == "InfiniBand") return LinkLayer::kInfiniBand;
  if (v == "Ethernet") return LinkLayer::kEthernet;
  return absl::InvalidArgumentError(
      StrCat("link_layer: expected InfiniBand or Ethernet, got ", Quote(v)));
}

absl::StatusOr<uint64_t> ParseRateMbps(std::string_view raw) {
  std::string_view v = base::TrimValue(raw);
  auto bad = [&] {
    return absl::InvalidArgumentError(
        StrCat("rate: expected \"<number> Gb/sec (...)\", got ", Quote(v)));
  };
  size_t space = v.find(' ');
  if (space == std::string_view::npos || !v.substr(space + 1).starts_with("Gb/sec")) return bad();
  std::string_view number = v.substr(0, space);
  base::SplitPair parts = base::SplitOnce(number, '.');
  absl::StatusOr<uint64_t> whole = base::ParseUint64(parts.first);
  if (!whole.ok() || *whole > 1'000'000) return bad();
  uint64_t mbps = *whole * 1000;
  if (parts.found) {
    // At most three decimals: Mbit/s resolution.
    std::string_view frac = parts.second;
    if (frac.empty() || frac.size() > 3 ||
        !std::all_of(frac.begin(), frac.end(), [](unsigned char c) { return std::isdigit(c); })) {
      return bad();
    }
    uint64_t f = *base::ParseUint64(frac);
    for (size_t i = frac.size(); i < 3; ++i) f *= 10;
    mbps += f;
  }
  return mbps;
}

absl::StatusOr<DevNumber> ParseDevNumber(std::string_view raw) {
  std::string_view v = base::TrimValue(raw);
  base::SplitPair parts = base::SplitOnce(v, ':');
  absl::StatusOr<uint64_t> major = base::ParseUint64(parts.first);
  absl::StatusOr<uint64_t> minor = base::ParseUint64(parts.second);
  // Linux dev_t: 12-bit major, 20-bit minor.
  if (!parts.found || !major.ok() || !minor.ok() || *major >= (1u << 12) || *minor >= (1u << 20)) {
    return absl::InvalidArgumentError(StrCat("dev: expected \"<major>:<minor>\", got ", Quote(v)));
  }
  return DevNumber{static_cast<uint32_t>(*major), static_cast<uint32_t>(*minor)};
}

absl::StatusOr<std::string> ParseGuid(std::string_view raw) {
  std::string_view v = base::TrimValue(raw);
  std::vector<std::string_view> groups = base::Split(v, ':');
  bool ok = groups.size() == 4;
  for (std::string_view g : groups) ok = ok && g.size() == 4 && IsHex(g);
  if (!ok) {
    return absl::InvalidArgumentError(
        StrCat("guid: expected four groups of four hex digits, got ", Quote(v)));
  }
  return base::ToLower(v);
}

std::optional<base::PciAddress> PciFunctionOfPath(std::string_view resolved_path) {
  std::optional<base::PciAddress> found;
  for (std::string_view part : base::Split(resolved_path, '/', base::SplitMode::kSkipEmpty)) {
    // Only the extended form "DDDD:BB:DD.F" of a device directory.
    if (part.size() != 12 || part[4] != ':' || part[7] != ':' || part[10] != '.') continue;
    absl::StatusOr<base::PciAddress> a = base::PciAddress::Parse(part);
    if (a.ok()) found = *a;
  }
  return found;
}

std::map<base::PciAddress, SysfsRdmaFunction> ReadRdmaFunctions(
    const base::Sysfs& sysfs, const std::vector<base::PciAddress>& addresses) {
  std::map<base::PciAddress, SysfsRdmaFunction> out;
  for (const base::PciAddress& a : addresses) {
    SysfsRdmaFunction& fn = out[a];
    const std::string dir = StrCat("bus/pci/devices/", a.ToString());
    fn.pci_dir_present = sysfs.IsDirectory(dir);
    if (!fn.pci_dir_present) continue;
    for (const std::string& name : List(sysfs, JoinPath(dir, "infiniband"))) {
      AddUnique(fn.ib_devices, name, [&] {
        return ReadIbDevice(sysfs, JoinPath(dir, StrCat("infiniband/", name)), name, fn.problems);
      });
    }
    for (const std::string& name : List(sysfs, JoinPath(dir, "infiniband_verbs"))) {
      if (!NameIndex(name, "uverbs")) continue;
      AddUnique(fn.uverbs, name, [&] {
        return ReadCharDev(sysfs, JoinPath(dir, StrCat("infiniband_verbs/", name)), name, false,
                           fn.problems);
      });
    }
    for (const std::string& name : List(sysfs, JoinPath(dir, "infiniband_mad"))) {
      const bool umad = NameIndex(name, "umad").has_value();
      if (!umad && !NameIndex(name, "issm")) continue;
      AddUnique(umad ? fn.umad : fn.issm, name, [&] {
        return ReadCharDev(sysfs, JoinPath(dir, StrCat("infiniband_mad/", name)), name, true,
                           fn.problems);
      });
    }
    for (const std::string& name : List(sysfs, JoinPath(dir, "net"))) {
      AddUnique(fn.netdevs, name, [&] {
        return ReadNetdev(sysfs, JoinPath(dir, StrCat("net/", name)), name, fn.problems);
      });
    }
  }

  // The class directories: entries below (not in) the function's directory.
  auto owner = [&](const ClassEntry& e) -> SysfsRdmaFunction* {
    auto it = out.find(e.function);
    return it == out.end() ? nullptr : &it->second;
  };
  for (const ClassEntry& e : ClassEntries(sysfs, "infiniband")) {
    if (SysfsRdmaFunction* fn = owner(e)) {
      AddUnique(fn->ib_devices, e.name,
                [&] { return ReadIbDevice(sysfs, e.dir, e.name, fn->problems); });
    }
  }
  for (const ClassEntry& e : ClassEntries(sysfs, "infiniband_verbs")) {
    SysfsRdmaFunction* fn = owner(e);
    if (fn != nullptr && NameIndex(e.name, "uverbs")) {
      AddUnique(fn->uverbs, e.name,
                [&] { return ReadCharDev(sysfs, e.dir, e.name, false, fn->problems); });
    }
  }
  for (const ClassEntry& e : ClassEntries(sysfs, "infiniband_mad")) {
    SysfsRdmaFunction* fn = owner(e);
    if (fn == nullptr) continue;
    if (NameIndex(e.name, "umad")) {
      AddUnique(fn->umad, e.name,
                [&] { return ReadCharDev(sysfs, e.dir, e.name, true, fn->problems); });
    } else if (NameIndex(e.name, "issm")) {
      AddUnique(fn->issm, e.name,
                [&] { return ReadCharDev(sysfs, e.dir, e.name, true, fn->problems); });
    }
  }
  for (const ClassEntry& e : ClassEntries(sysfs, "net")) {
    if (SysfsRdmaFunction* fn = owner(e)) {
      AddUnique(fn->netdevs, e.name,
                [&] { return ReadNetdev(sysfs, e.dir, e.name, fn->problems); });
    }
  }
  for (auto& [address, fn] : out) {
    SortByName(fn.ib_devices);
    SortByName(fn.uverbs);
    SortByName(fn.umad);
    SortByName(fn.issm);
    SortByName(fn.netdevs);
  }
  return out;
}

std::optional<DevNumber> ReadRdmaCmDevNumber(const base::Sysfs& sysfs) {
  absl::StatusOr<std::string> raw = sysfs.ReadAttribute("class/misc/rdma_cm/dev");
  if (!raw.ok()) return std::nullopt;
  absl::StatusOr<DevNumber> n = ParseDevNumber(*raw);
  return n.ok() ? std::optional<DevNumber>(*n) : std::nullopt;
}

}  // namespace tessera::drivers::rdma
