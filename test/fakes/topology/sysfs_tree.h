// SysfsTree: writes small fake sysfs/procfs roots for topology tests, in the
// layout the kernel uses (devices/pci<domain>:<bus>/<bridge>/.../<bdf>, with
// bus/pci/devices and class/* links), so the real readers (base::DirSysfs,
// hwloc through HWLOC_FSROOT) load them. Also locates the shared captures.
//
// Test-only; single-threaded.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace tessera::testing {

// Bytes of a PCI config space: header (type 0, or type 1 for bridges) and,
// when port_type >= 0, a PCI Express capability at 0x40 with that port type.
struct PciConfigSpec {
  uint16_t vendor = 0;
  uint16_t device = 0;
  uint32_t class_code = 0;
  bool bridge = false;
  uint8_t bus = 0;
  uint8_t secondary = 0;
  uint8_t subordinate = 0;
  uint16_t subsystem_vendor = 0;
  uint16_t subsystem_device = 0;
  int port_type = -1;
  size_t size = 256;
};

inline std::string PciConfigBytes(const PciConfigSpec& s) {
  std::string c(256, '\0');
  auto put16 = [&](size_t off, uint16_t v) {
    c[off] = static_cast<char>(v & 0xff);
    c[off + 1] = static_cast<char>(v >> 8);
  };
  put16(0x00, s.vendor);
  put16(0x02, s.device);
  put16(0x06, s.port_type >= 0 ? 0x0010 : 0x0000);
  c[0x09] = static_cast<char>(s.class_code & 0xff);
  c[0x0a] = static_cast<char>((s.class_code >> 8) & 0xff);
  c[0x0b] = static_cast<char>((s.class_code >> 16) & 0xff);
  c[0x0e] = static_cast<char>(s.bridge ? 1 : 0);
  if (s.bridge) {
    c[0x18] = static_cast<char>(s.bus);
    c[0x19] = static_cast<char>(s.secondary);
    c[0x1a] = static_cast<char>(s.subordinate);
  } else {
    put16(0x2c, s.subsystem_vendor);
    put16(0x2e, s.subsystem_device);
  }
  if (s.port_type >= 0) {
    c[0x34] = 0x40;
    c[0x40] = 0x10;
    put16(0x42, static_cast<uint16_t>(0x2 | (s.port_type << 4)));
  }
  c.resize(s.size);
  return c;
}

class SysfsTree {
 public:
  // `root` holds sys/ and proc/ (created on demand).
  explicit SysfsTree(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  std::string sys() const { return root_ + "/sys"; }
  std::string proc() const { return root_ + "/proc"; }

  void File(const std::string& rel, const std::string& content) {
    std::filesystem::path p(root_ + "/" + rel);
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
  }
  void Link(const std::string& rel, const std::string& target) {
    std::filesystem::path p(root_ + "/" + rel);
    std::filesystem::create_directories(p.parent_path());
    std::filesystem::create_symlink(target, p);
  }
  void Dir(const std::string& rel) { std::filesystem::create_directories(root_ + "/" + rel); }

  // CPUs 0..ncpus-1 split evenly over `nodes` NUMA nodes, as hwloc reads them.
  void AddCpus(int ncpus, int nodes) {
    const std::string all = "0-" + std::to_string(ncpus - 1) + "\n";
    for (const char* f : {"online", "possible", "present"}) File("sys/devices/system/cpu/" + std::string(f), all);
    const int per = ncpus / nodes;
    for (int cpu = 0; cpu < ncpus; ++cpu) {
      const std::string t = "sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
      const int node = cpu / per;
      File(t + "physical_package_id", std::to_string(node) + "\n");
      File(t + "core_id", std::to_string(cpu % per) + "\n");
      File(t + "core_cpus", Mask(cpu, cpu) + "\n");
      File(t + "package_cpus", Mask(node * per, node * per + per - 1) + "\n");
    }
    File("sys/devices/system/node/online", "0-" + std::to_string(nodes - 1) + "\n");
    File("sys/devices/system/node/possible", "0-" + std::to_string(nodes - 1) + "\n");
    for (int n = 0; n < nodes; ++n) {
      const std::string d = "sys/devices/system/node/node" + std::to_string(n) + "/";
      File(d + "cpumap", Mask(n * per, n * per + per - 1) + "\n");
      File(d + "meminfo", "Node " + std::to_string(n) + " MemTotal:       1048576 kB\n");
      std::string dist;
      for (int m = 0; m < nodes; ++m) dist += (m ? " " : "") + std::string(m == n ? "10" : "20");
      File(d + "distance", dist + "\n");
    }
  }

  // A PCI function. `upstream` lists the functions above it, top first.
  struct Pci {
    std::string bdf;
    std::string root = "pci0000:00";
    std::vector<std::string> upstream;
    uint16_t vendor = 0x8086;
    uint16_t device = 0x1521;
    uint32_t class_code = 0x020000;
    bool bridge = false;
    uint8_t secondary = 0;
    uint8_t subordinate = 0;
    int port_type = -1;
    bool config = true;                 // write a config file
    bool text_ids = true;               // write vendor/device/class files
    std::optional<std::string> numa_node = "0\n";
    std::optional<std::string> local_cpulist = "0-3\n";
    std::string driver;
  };
  // Returns the device directory relative to the sysfs root ("devices/...").
  std::string AddPci(const Pci& p) {
    std::string dir = "devices/" + p.root;
    for (const std::string& u : p.upstream) dir += "/" + u;
    dir += "/" + p.bdf;
    const std::string sdir = "sys/" + dir;
    Dir(sdir);
    char id[16];
    if (p.text_ids) {
      std::snprintf(id, sizeof(id), "0x%04x\n", p.vendor);
      File(sdir + "/vendor", id);
      std::snprintf(id, sizeof(id), "0x%04x\n", p.device);
      File(sdir + "/device", id);
      std::snprintf(id, sizeof(id), "0x%06x\n", p.class_code);
      File(sdir + "/class", id);
    }
    if (p.config) {
      const uint8_t bus = static_cast<uint8_t>(std::strtoul(p.bdf.substr(5, 2).c_str(), nullptr, 16));
      File(sdir + "/config",
           PciConfigBytes({.vendor = p.vendor, .device = p.device, .class_code = p.class_code,
                           .bridge = p.bridge, .bus = bus, .secondary = p.secondary,
                           .subordinate = p.subordinate, .port_type = p.port_type}));
    }
    if (p.numa_node) File(sdir + "/numa_node", *p.numa_node);
    if (p.local_cpulist) File(sdir + "/local_cpulist", *p.local_cpulist);
    if (!p.driver.empty()) Link(sdir + "/driver", "../../../bus/pci/drivers/" + p.driver);
    std::string up;
    for (size_t i = 0; i < 3; ++i) up += "../";
    Link("sys/bus/pci/devices/" + p.bdf, up + dir);
    return dir;
  }

  // A class device (net, infiniband, drm, ...) below a PCI function's
  // directory `device_dir` (as AddPci returned), linked from class/<cls>.
  std::string AddClassDevice(const std::string& cls, const std::string& name,
                             const std::string& device_dir, const std::string& subdir = "") {
    const std::string dir = device_dir + "/" + (subdir.empty() ? cls : subdir) + "/" + name;
    Dir("sys/" + dir);
    Link("sys/class/" + cls + "/" + name, "../../" + dir);
    return dir;
  }

 private:
  static std::string Mask(int first, int last) {
    // Up to 64 CPUs in two 32-bit words, most significant first.
    uint64_t bits = 0;
    for (int c = first; c <= last; ++c) bits |= uint64_t{1} << c;
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%08x,%08x", static_cast<unsigned>(bits >> 32),
                  static_cast<unsigned>(bits & 0xffffffffu));
    return buf;
  }

  std::string root_;
};

// ../shared/topologies next to the source tree, or "" when absent.
inline std::string SharedTopologiesDir() {
  const std::string dir = std::string(TESSERA_SOURCE_DIR) + "/../shared/topologies";
  std::error_code ec;
  return std::filesystem::is_directory(dir, ec) ? dir : "";
}

// The bundled simulated node (test/testdata/nodes/sim-8xh100-8xcx7).
inline std::string BundledNodeDir() {
  return std::string(TESSERA_SOURCE_DIR) + "/test/testdata/nodes/sim-8xh100-8xcx7";
}

}  // namespace tessera::testing
