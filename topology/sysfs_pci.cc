#include "topology/sysfs_pci.h"

#include <algorithm>
#include <cctype>

#include "base/cpu_set.h"
#include "base/log.h"
#include "base/parse.h"
#include "base/status.h"
#include "base/strings.h"
#include "topology/internal/log.h"
#include "topology/sysfs_parse.h"

namespace tessera::topology {
namespace {

using base::StrCat;

constexpr std::string_view kPciDevices = "bus/pci/devices";
// Unprivileged reads of config stop at 64 bytes anyway; the PCI Express
// capability of a bridge lies in the first 256 (the legacy configuration
// space), so no extended-space reads are ever made.
constexpr size_t kConfigHeaderBytes = 64;
constexpr size_t kConfigLegacyBytes = 256;

using internal::Log;

// "card2" < "card10": digits compare by value.
bool NaturalLess(const std::string& a, const std::string& b) {
  size_t i = 0;
  size_t j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) &&
        std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t ie = i;
      size_t je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      std::string_view na = std::string_view(a).substr(i, ie - i);
      std::string_view nb = std::string_view(b).substr(j, je - j);
      while (na.size() > 1 && na.front() == '0') na.remove_prefix(1);
      while (nb.size() > 1 && nb.front() == '0') nb.remove_prefix(1);
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ie;
      j = je;
      continue;
    }
    if (a[i] != b[j]) return a[i] < b[j];
    ++i;
    ++j;
  }
  return a.size() - i < b.size() - j;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
}
bool NameIs(std::string_view name, std::string_view prefix) {
  return base::StartsWith(name, prefix) && AllDigits(name.substr(prefix.size()));
}

// What each /sys/class directory contributes. Sources:
//   infiniband, infiniband_verbs, infiniband_mad: Documentation/ABI/stable/sysfs-class-infiniband
//   net: Documentation/ABI/testing/sysfs-class-net
//   drm: Documentation/gpu/drm-uapi.rst (card<N> primary, renderD<N> render nodes)
//   accel: Documentation/accel/introduction.rst (compute accelerators, accel<N>)
//   habanalabs: Documentation/ABI/testing/sysfs-driver-habanalabs (hl<N>, before accel)
//   mic: Documentation/ABI/testing/sysfs-class-mic (Intel Xeon Phi, mic<N>)
struct ClassSource {
  std::string_view cls;
  OsDeviceType type;
  bool (*accept)(std::string_view name);
  // Attribute file -> info name, read when present.
  std::vector<std::pair<std::string_view, std::string_view>> infos;
};

const std::vector<ClassSource>& ClassSources() {
  static const auto* sources = new std::vector<ClassSource>{
      {"infiniband",
       OsDeviceType::kOpenFabrics,
       [](std::string_view) { return true; },
       {{"node_guid", "NodeGUID"}, {"sys_image_guid", "SysImageGUID"}}},
      {"net",
       OsDeviceType::kNetwork,
       [](std::string_view) { return true; },
       {{"address", "Address"}}},
      {"infiniband_verbs",
       OsDeviceType::kOther,
       [](std::string_view n) { return NameIs(n, "uverbs"); },
       {{"ibdev", "IBDev"}, {"dev", "Dev"}}},
      {"infiniband_mad",
       OsDeviceType::kOther,
       [](std::string_view n) { return NameIs(n, "umad") || NameIs(n, "issm"); },
       {{"ibdev", "IBDev"}, {"port", "Port"}, {"dev", "Dev"}}},
      {"drm",
       OsDeviceType::kGpu,
       [](std::string_view n) { return NameIs(n, "card") || NameIs(n, "renderD"); },
       {{"dev", "Dev"}}},
      {"accel",
       OsDeviceType::kCoprocessor,
       [](std::string_view n) { return NameIs(n, "accel"); },
       {{"dev", "Dev"}}},
      {"habanalabs",
       OsDeviceType::kCoprocessor,
       [](std::string_view n) { return NameIs(n, "hl"); },
       {{"dev", "Dev"}}},
      {"mic", OsDeviceType::kCoprocessor, [](std::string_view n) { return NameIs(n, "mic"); }, {}},
  };
  return *sources;
}

bool IsBridgeClass(uint32_t class_code) {
  const uint32_t cls = class_code >> 8;
  return cls == 0x0604 || cls == 0x0609;  // PCI-to-PCI, semi-transparent PCI-to-PCI
}

// Classes whose functions may carry SR-IOV: network, display, processors and
// processing accelerators, InfiniBand. Other functions skip those reads.
bool MayHaveSriov(uint32_t class_code) {
  const uint32_t base = class_code >> 16;
  return base == 0x02 || base == 0x03 || base == 0x0b || base == 0x12 ||
         (class_code >> 8) == 0x0c06;
}

class Reader {
 public:
  Reader(const base::Sysfs& sys, SysfsPciScan& out) : sys_(sys), out_(out) {}

  void Warn(std::string line) {
    Log()->debug("topology scan warning: {}", line);
    out_.warnings.push_back(std::move(line));
  }

  // Reads one function; false when it is gone or unusable (with a warning).
  bool ReadFunction(std::string_view name, PciFunction& f) {
    auto address = base::PciAddress::Parse(name);
    if (!address.ok()) {
      Warn(StrCat("bus/pci/devices/", base::Quote(name), ": not a PCI address; skipped"));
      return false;
    }
    f.address = *address;
    const std::string id = address->ToString();

    // The device directory, canonical (links re-anchored inside the root).
    std::string dir = StrCat(kPciDevices, "/", name);
    if (auto link = sys_.ReadLink(dir); link.ok()) {
      std::optional<std::string> canonical = NormalizeLinkTarget(kPciDevices, *link);
      if (!canonical) {
        Warn(StrCat(id, ": device link ", base::Quote(*link, 160),
                    " escapes the sysfs root; skipped"));
        return false;
      }
      dir = *canonical;
      if (auto path = ParsePciDevicePath(dir, f.address); path.ok()) {
        f.root_name = std::move(path->root_name);
        f.upstream = std::move(path->upstream);
      } else {
        Warn(StrCat(id, ": ", base::Std(path.status().message()),
                    "; root complex and upstream bridges unknown"));
      }
    } else if (absl::IsNotFound(link.status())) {
      Warn(StrCat(id, ": vanished during the scan; skipped"));
      return false;
    } else if (!absl::IsInvalidArgument(link.status())) {
      Warn(StrCat(id, ": ", base::Std(link.status().message()), "; skipped"));
      return false;
    } else {
      // Not a link: a capture copied as plain directories.
      Warn(StrCat(id,
                  ": bus/pci/devices entry is not a link; root complex and upstream "
                  "bridges unknown"));
    }

    // Attributes are read without listing the directory first: an absent
    // optional attribute is a NotFound, and a function whose identity is
    // gone entirely has vanished.
    auto path = [&](std::string_view attr) { return StrCat(dir, "/", attr); };
    if (!ReadIdentity(id, dir, f)) return false;

    if (auto raw = sys_.ReadAttribute(path("numa_node")); raw.ok()) {
      if (auto v = ParseNumaNodeValue(*raw); v.ok()) {
        f.sysfs_numa_node = *v;
      } else {
        Warn(StrCat(id, ": ", base::Std(v.status().message()), "; NUMA node from local cpus"));
      }
    } else if (!absl::IsNotFound(raw.status())) {
      Warn(StrCat(id, ": ", base::Std(raw.status().message()), "; NUMA node from local cpus"));
    }
    ReadLocalCpus(id, dir, f);
    if (auto link = sys_.ReadLink(path("driver")); link.ok()) {
      if (std::string_view drv = LinkBaseName(*link); IsPrintableText(drv)) {
        f.driver = std::string(drv);
      } else {
        Warn(StrCat(id, ": driver link ", base::Quote(*link), " names no driver; driver unknown"));
      }
    }
    if (MayHaveSriov(f.class_code)) {
      if (auto link = sys_.ReadLink(path("physfn")); link.ok()) {
        if (auto pf = base::PciAddress::Parse(LinkBaseName(*link)); pf.ok()) f.physfn = *pf;
      }
      f.sriov_totalvfs = ReadCount(id, path("sriov_totalvfs"));
      f.sriov_numvfs = ReadCount(id, path("sriov_numvfs"));
    }
    return true;
  }

  void ReadOsDevices() {
    for (const ClassSource& source : ClassSources()) {
      const std::string cls_dir = StrCat("class/", source.cls);
      auto entries = sys_.ListDir(cls_dir);
      if (!entries.ok()) {
        if (!absl::IsNotFound(entries.status())) {
          Warn(StrCat(cls_dir, ": ", base::Std(entries.status().message()),
                      "; its devices unknown"));
        }
        continue;
      }
      std::vector<std::string> names = *entries;
      std::sort(names.begin(), names.end(), NaturalLess);
      for (const std::string& name : names) {
        if (!source.accept(name)) continue;
        if (!IsPrintableText(name)) {
          Warn(StrCat(cls_dir, "/", base::Quote(name), ": not a printable name; skipped"));
          continue;
        }
        auto link = sys_.ReadLink(StrCat(cls_dir, "/", name));
        if (!link.ok()) continue;  // a plain file (abi_version) or gone
        std::optional<std::string> canonical = NormalizeLinkTarget(cls_dir, *link);
        if (!canonical) continue;
        std::optional<base::PciAddress> owner = OwnerPciAddress(*canonical);
        if (!owner) continue;  // virtual device
        OsDevice os;
        os.name = name;
        os.type = source.type;
        os.info["Subsystem"] = std::string(source.cls);
        for (const auto& [attr, info] : source.infos) {
          if (auto v = sys_.ReadAttribute(StrCat(*canonical, "/", attr)); v.ok()) {
            std::string_view value = base::TrimValue(*v);
            if (IsPrintableText(value)) {
              os.info[std::string(info)] = std::string(value);
            } else if (!value.empty()) {
              Warn(StrCat(name, ": ", attr, " ", base::Quote(value),
                          " is not printable text; ignored"));
            }
          }
        }
        out_.os_devices.emplace_back(*owner, std::move(os));
      }
    }
  }

 private:
  // vendor, device, class, subsystem ids, bridge bus numbers and port type:
  // from config space when readable, from the text attributes otherwise.
  bool ReadIdentity(const std::string& id, const std::string& dir, PciFunction& f) {
    std::optional<PciConfig> config;
    auto bytes = sys_.ReadAttributePrefix(StrCat(dir, "/config"), kConfigHeaderBytes);
    const bool config_absent = absl::IsNotFound(bytes.status());
    if (bytes.ok()) {
      if (auto parsed = ParsePciConfig(*bytes); parsed.ok()) {
        config = *parsed;
        if (parsed->header_type == 1) {
          // A bridge: the capability list holds its PCIe port type.
          auto more = sys_.ReadAttributePrefix(StrCat(dir, "/config"), kConfigLegacyBytes);
          if (more.ok()) {
            if (auto full = ParsePciConfig(*more); full.ok()) config = *full;
          }
        }
      }
    }
    if (config) {
      f.vendor_id = config->vendor_id;
      f.device_id = config->device_id;
      f.class_code = config->class_code;
      f.is_bridge = config->header_type == 1;
      f.subsystem_vendor_id = config->subsystem_vendor_id;
      f.subsystem_device_id = config->subsystem_device_id;
      f.secondary_bus = config->secondary_bus;
      f.subordinate_bus = config->subordinate_bus;
      f.port_type = config->port_type;
      return true;
    }
    // No usable config space: the kernel's text attributes (vendor, device
    // and class are required; Documentation/ABI/testing/sysfs-bus-pci).
    auto read_id = [&](std::string_view attr) -> absl::StatusOr<uint32_t> {
      auto raw = sys_.ReadAttribute(StrCat(dir, "/", attr));
      if (!raw.ok()) return raw.status();
      if (attr == "class") return ParsePciClass(*raw);
      auto v = ParsePciId(*raw);
      if (!v.ok()) return v.status();
      return static_cast<uint32_t>(*v);
    };
    auto vendor = read_id("vendor");
    if (config_absent && absl::IsNotFound(vendor.status())) {
      Warn(StrCat(id, ": vanished during the scan; skipped"));
      return false;
    }
    auto device = read_id("device");
    auto cls = read_id("class");
    for (const auto* s : {&vendor, &device, &cls}) {
      if (!s->ok()) {
        Warn(StrCat(id, ": ", base::Std(s->status().message()), "; skipped"));
        return false;
      }
    }
    f.vendor_id = static_cast<uint16_t>(*vendor);
    f.device_id = static_cast<uint16_t>(*device);
    f.class_code = *cls;
    f.is_bridge = IsBridgeClass(f.class_code);
    if (auto v = read_id("subsystem_vendor"); v.ok()) {
      f.subsystem_vendor_id = static_cast<uint16_t>(*v);
    }
    if (auto v = read_id("subsystem_device"); v.ok()) {
      f.subsystem_device_id = static_cast<uint16_t>(*v);
    }
    if (f.is_bridge) {
      // Linux >= 4.13 (Documentation/ABI/testing/sysfs-bus-pci).
      auto bus = [&](std::string_view attr) -> uint8_t {
        auto raw = sys_.ReadAttribute(StrCat(dir, "/", attr));
        if (!raw.ok()) return 0;
        auto v = base::ParseUint64(*raw);
        return v.ok() && *v <= 0xff ? static_cast<uint8_t>(*v) : 0;
      };
      f.secondary_bus = bus("secondary_bus_number");
      f.subordinate_bus = bus("subordinate_bus_number");
    }
    return true;
  }

  void ReadLocalCpus(const std::string& id, const std::string& dir, PciFunction& f) {
    // local_cpulist (Linux >= 2.6.21), else the local_cpus mask.
    std::string attr = "local_cpulist";
    auto raw = sys_.ReadAttribute(StrCat(dir, "/", attr));
    if (absl::IsNotFound(raw.status())) {
      attr = "local_cpus";
      raw = sys_.ReadAttribute(StrCat(dir, "/", attr));
      if (absl::IsNotFound(raw.status())) return;
    }
    if (!raw.ok()) {
      Warn(StrCat(id, ": ", base::Std(raw.status().message()), "; local cpus unknown"));
      return;
    }
    auto cpus =
        attr == "local_cpulist" ? base::CpuSet::ParseList(*raw) : base::CpuSet::ParseMask(*raw);
    if (!cpus.ok()) {
      Warn(
          StrCat(id, ": ", attr, ": ", base::Std(cpus.status().message()), "; local cpus unknown"));
      return;
    }
    f.local_cpus = std::move(*cpus);
  }

  int ReadCount(const std::string& id, const std::string& path) {
    auto raw = sys_.ReadAttribute(path);
    if (!raw.ok()) return 0;  // absent: no SR-IOV
    auto v = base::ParseUint64(*raw);
    if (!v.ok() || *v > 0xffff) {
      Warn(StrCat(id, ": ", LinkBaseName(path), " ", base::Quote(base::TrimValue(*raw)),
                  " is not a count; taken as 0"));
      return 0;
    }
    return static_cast<int>(*v);
  }

  const base::Sysfs& sys_;
  SysfsPciScan& out_;
};

}  // namespace

const std::vector<std::string>& OsDeviceClasses() {
  static const auto* classes = [] {
    auto* v = new std::vector<std::string>();
    for (const ClassSource& s : ClassSources()) v->emplace_back(s.cls);
    return v;
  }();
  return *classes;
}

absl::StatusOr<SysfsPciScan> ReadSysfsPci(const base::Sysfs& sys, const base::Sysfs* proc) {
  SysfsPciScan out;
  Reader reader(sys, out);
  auto names = sys.ListDir(kPciDevices);
  if (!names.ok() && !absl::IsNotFound(names.status())) {
    return base::Annotate(names.status(), "read pci devices");
  }
  if (names.ok()) {
    out.functions.reserve(names->size());
    for (const std::string& name : *names) {
      PciFunction f;
      if (reader.ReadFunction(name, f)) out.functions.push_back(std::move(f));
    }
  }
  std::sort(out.functions.begin(), out.functions.end(),
            [](const PciFunction& a, const PciFunction& b) { return a.address < b.address; });
  reader.ReadOsDevices();

  if (proc != nullptr) {
    // The NVIDIA kernel driver's per-GPU file (not in sysfs); its "Device
    // Minor" is N in /dev/nvidiaN.
    constexpr std::string_view kGpus = "driver/nvidia/gpus";
    if (auto gpus = proc->ListDir(kGpus); gpus.ok()) {
      for (const std::string& name : *gpus) {
        auto address = base::PciAddress::Parse(name);
        if (!address.ok()) continue;
        auto text = proc->ReadAttribute(StrCat(kGpus, "/", name, "/information"));
        if (!text.ok()) continue;
        auto os = ParseNvidiaGpuInformation(*text);
        if (!os.ok()) {
          reader.Warn(StrCat(address->ToString(), ": ", base::Std(os.status().message()),
                             "; no nvidia device node"));
          continue;
        }
        out.os_devices.emplace_back(*address, std::move(*os));
      }
    }
  }
  return out;
}

}  // namespace tessera::topology
