// A fake libnvidia-ml.so.1: the NVML C ABI subset Tessera calls
// (internal/nvml_abi.h), implemented over a JSON description of a machine, so
// that DlopenNvml, the GPU driver and the whole agent run their real code
// paths on a node without NVIDIA hardware.
//
// Environment:
//   TESSERA_FAKE_NVML_CONFIG  the machine description (required; without it
//                             nvmlInit_v2 answers NVML_ERROR_DRIVER_NOT_LOADED)
//   TESSERA_FAKE_NVML_STATE   optional file holding the MIG instances, so they
//                             persist across processes (flock'ed, rewritten
//                             atomically after each create/destroy)
// The description is read when the first nvmlInit_v2 of a process runs
// (NVML's reference count goes 0 -> 1); call counters for error injection
// restart then too. The schema is documented in drivers/nvidia/README.md and
// is exactly what nvml-record prints on a real machine.
//
// Fidelity notes: MIG placements, slice accounting, instance limits and the
// error codes follow NVML's documented behaviour (nvml.h 12.2 and the MIG user
// guide); GPU instance IDs follow what real A100/H100 drivers hand out (7..13
// for one-slice instances at placements 0..6, 3..6 for two-slice, 1..2 for
// four-slice, 0 for the whole GPU). A lost GPU ("lost": true) still answers
// identity queries (uuid, name, PCI info, minor, serial) from the driver's
// cache but fails everything that reaches the GPU with NVML_ERROR_GPU_IS_LOST.
//
// Built twice: normally, and with TESSERA_FAKE_NVML_LEGACY defined, which
// leaves out the MIG API, nvmlDeviceGetArchitecture and the versioned profile
// query, like a pre-R470 driver.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

#include "drivers/nvidia/internal/nvml_abi.h"

namespace abi = tessera::drivers::nvidia::abi;
using abi::nvmlReturn_t;
using Json = nlohmann::json;

#define FAKE_NVML_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

struct Placement {
  unsigned int start = 0;
  unsigned int size = 0;
  bool Overlaps(const Placement& o) const {
    return start < o.start + o.size && o.start < start + size;
  }
  bool operator==(const Placement& o) const { return start == o.start && size == o.size; }
};

struct CiProfile {
  unsigned int index = 0;
  unsigned int id = 0;
  unsigned int slices = 0;
  unsigned int instances = 0;
  unsigned int sms = 0;
  unsigned int ce = 0, dec = 0, enc = 0, jpeg = 0, ofa = 0;
  std::vector<Placement> placements;
};

struct GiProfile {
  unsigned int index = 0;
  unsigned int id = 0;
  std::string name;
  unsigned int slices = 0;
  unsigned int instances = 0;
  unsigned int sms = 0;
  unsigned int ce = 0, dec = 0, enc = 0, jpeg = 0, ofa = 0;
  unsigned long long memory_mib = 0;
  bool p2p = false;
  std::vector<Placement> placements;
  std::vector<CiProfile> ci_profiles;
};

struct CiState {
  unsigned int id = 0;
  unsigned int profile_id = 0;
  Placement placement;
  std::string uuid;
};

struct GiState {
  unsigned int id = 0;
  unsigned int profile_id = 0;
  Placement placement;
  std::vector<CiState> cis;
};

struct Gpu {
  std::string uuid;
  std::string name;
  std::string serial;
  std::string part_number;
  unsigned int domain = 0, bus = 0, device = 0;
  unsigned int pci_device_id = 0;  // NVML's combined (device << 16) | vendor
  unsigned int pci_subsystem_id = 0;
  unsigned int minor = 0;
  unsigned long long memory_total = 0;
  unsigned long long memory_free = 0;
  int cc_major = -1, cc_minor = -1;
  unsigned int architecture = abi::NVML_DEVICE_ARCH_UNKNOWN;
  int compute_mode = abi::NVML_COMPUTEMODE_DEFAULT;
  bool lost = false;
  bool mig_capable = false;
  bool mig_current = false;
  bool mig_pending = false;
  // Real R470..R535 drivers refuse profile queries while MIG is off; newer
  // ones answer. Default: answer (what an R580 H100 does).
  bool mig_query_while_disabled = true;
  std::vector<GiProfile> profiles;
  std::vector<GiState> initial_instances;
  unsigned int TotalComputeSlices() const {
    unsigned int total = 0;
    for (const GiProfile& p : profiles) total = std::max(total, p.slices);
    return total;
  }
  const GiProfile* ProfileById(unsigned int id) const {
    for (const GiProfile& p : profiles) {
      if (p.id == id) return &p;
    }
    return nullptr;
  }
};

struct ErrorRule {
  std::string function;  // exported symbol name, or "*"
  nvmlReturn_t rc = abi::NVML_ERROR_UNKNOWN;
  int gpu = -1;       // only calls about this GPU index; -1 any
  uint64_t call = 0;  // fail only the Nth matching call (1-based); 0 every call
  uint64_t seen = 0;
};

struct Machine {
  std::string driver_version = "550.54.15";
  std::string nvml_version = "12.550.54.15";
  int cuda_version = 12040;
  std::vector<Gpu> gpus;
  std::vector<ErrorRule> errors;
  std::string state_path;                       // empty: MIG instances live in `instances`
  std::vector<std::vector<GiState>> instances;  // by GPU index
};

std::mutex g_mu;
int g_refcount = 0;
std::unique_ptr<Machine> g_machine;

// --- Config parsing (nlohmann throws on type mismatches; caught in Init). ---

struct ConfigError {
  std::string what;
};

unsigned int HexOrInt(const Json& v, const char* field) {
  if (v.is_number_unsigned()) return v.get<unsigned int>();
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    char* end = nullptr;
    unsigned long value = std::strtoul(s.c_str(), &end, 0);
    if (end != nullptr && *end == '\0' && !s.empty()) return static_cast<unsigned int>(value);
  }
  throw ConfigError{std::string(field) + ": want a number or a \"0x..\" string"};
}

Placement ParsePlacement(const Json& j) {
  return {j.at("start").get<unsigned int>(), j.at("size").get<unsigned int>()};
}

Json PlacementJson(const Placement& p) { return {{"start", p.start}, {"size", p.size}}; }

CiProfile ParseCiProfile(const Json& j) {
  CiProfile p;
  p.index = j.at("index").get<unsigned int>();
  p.id = j.value("id", p.index);
  p.slices = j.at("sliceCount").get<unsigned int>();
  p.instances = j.at("instanceCount").get<unsigned int>();
  p.sms = j.value("multiprocessorCount", 0u);
  p.ce = j.value("sharedCopyEngineCount", 0u);
  p.dec = j.value("sharedDecoderCount", 0u);
  p.enc = j.value("sharedEncoderCount", 0u);
  p.jpeg = j.value("sharedJpegCount", 0u);
  p.ofa = j.value("sharedOfaCount", 0u);
  if (j.contains("placements")) {
    for (const Json& pl : j.at("placements")) p.placements.push_back(ParsePlacement(pl));
  }
  return p;
}

// NVML_COMPUTE_INSTANCE_PROFILE_<n>_SLICE index for a slice count.
int CiIndexForSlices(unsigned int slices) {
  switch (slices) {
    case 1:
      return 0;
    case 2:
      return 1;
    case 3:
      return 2;
    case 4:
      return 3;
    case 7:
      return 4;
    case 8:
      return 5;
    case 6:
      return 6;
    default:
      return -1;
  }
}

// The compute instance profiles real drivers offer inside a GPU instance of
// `gi.slices` compute slices: 1c..(every size up to the GPU instance that
// tiles it), with placements aligned to their size (3 of 7 sits at 0 and 4),
// and SMs pro rata (exact for the full-size profile).
std::vector<CiProfile> DeriveCiProfiles(const GiProfile& gi) {
  std::vector<CiProfile> out;
  for (unsigned int size : {1u, 2u, 3u, 4u, 6u, 7u, 8u}) {
    if (size > gi.slices) continue;
    if (size != gi.slices && size == 3 && gi.slices != 3 && gi.slices != 7) continue;
    if (size != gi.slices && (size == 6 || size == 7 || size == 8)) continue;
    CiProfile p;
    p.index = static_cast<unsigned int>(CiIndexForSlices(size));
    p.id = p.index;
    p.slices = size;
    p.sms = gi.sms * size / gi.slices;
    p.ce = gi.ce;
    p.dec = gi.dec;
    p.enc = gi.enc;
    p.jpeg = gi.jpeg;
    p.ofa = gi.ofa;
    if (size == gi.slices) {
      p.placements.push_back({0, size});
    } else if (size == 3) {
      p.placements.push_back({0, 3});
      if (gi.slices >= 7) p.placements.push_back({4, 3});
    } else {
      for (unsigned int start = 0; start + size <= gi.slices; start += size) {
        p.placements.push_back({start, size});
      }
    }
    p.instances = static_cast<unsigned int>(p.placements.size());
    out.push_back(p);
  }
  return out;
}

GiProfile ParseGiProfile(const Json& j) {
  GiProfile p;
  p.index = j.at("index").get<unsigned int>();
  p.id = j.at("id").get<unsigned int>();
  p.name = j.at("name").get<std::string>();
  p.slices = j.at("sliceCount").get<unsigned int>();
  p.instances = j.at("instanceCount").get<unsigned int>();
  p.sms = j.value("multiprocessorCount", 0u);
  p.ce = j.value("copyEngineCount", 0u);
  p.dec = j.value("decoderCount", 0u);
  p.enc = j.value("encoderCount", 0u);
  p.jpeg = j.value("jpegCount", 0u);
  p.ofa = j.value("ofaCount", 0u);
  p.memory_mib = j.at("memoryMiB").get<unsigned long long>();
  p.p2p = j.value("p2pSupported", false);
  for (const Json& pl : j.at("placements")) p.placements.push_back(ParsePlacement(pl));
  if (j.contains("computeInstanceProfiles")) {
    for (const Json& c : j.at("computeInstanceProfiles"))
      p.ci_profiles.push_back(ParseCiProfile(c));
  } else {
    p.ci_profiles = DeriveCiProfiles(p);
  }
  if (p.slices == 0 || p.instances == 0) throw ConfigError{"profile " + p.name + ": zero slices"};
  return p;
}

CiState ParseCiState(const Json& j) {
  CiState c;
  c.id = j.at("id").get<unsigned int>();
  c.profile_id = j.at("profileId").get<unsigned int>();
  c.placement = ParsePlacement(j.at("placement"));
  c.uuid = j.value("uuid", std::string());
  return c;
}

GiState ParseGiState(const Json& j) {
  GiState g;
  g.id = j.at("id").get<unsigned int>();
  g.profile_id = j.at("profileId").get<unsigned int>();
  g.placement = ParsePlacement(j.at("placement"));
  if (j.contains("computeInstances")) {
    for (const Json& c : j.at("computeInstances")) g.cis.push_back(ParseCiState(c));
  }
  return g;
}

Json GiStateJson(const GiState& g) {
  Json cis = Json::array();
  for (const CiState& c : g.cis) {
    cis.push_back({{"id", c.id},
                   {"profileId", c.profile_id},
                   {"placement", PlacementJson(c.placement)},
                   {"uuid", c.uuid}});
  }
  return {{"id", g.id},
          {"profileId", g.profile_id},
          {"placement", PlacementJson(g.placement)},
          {"computeInstances", cis}};
}

// "0000:1b:00.0" or NVML's "00000000:1B:00.0".
void ParseBusId(const std::string& text, Gpu& gpu) {
  unsigned int domain = 0, bus = 0, device = 0, function = 0;
  if (std::sscanf(text.c_str(), "%x:%x:%x.%x", &domain, &bus, &device, &function) != 4) {
    throw ConfigError{"pciBusId " + text + ": want DDDD:BB:DD.F"};
  }
  gpu.domain = domain;
  gpu.bus = bus;
  gpu.device = device;
}

unsigned int ArchitectureFromName(const std::string& name) {
  static const std::map<std::string, unsigned int> kArch = {
      {"Kepler", abi::NVML_DEVICE_ARCH_KEPLER},
      {"Maxwell", abi::NVML_DEVICE_ARCH_MAXWELL},
      {"Pascal", abi::NVML_DEVICE_ARCH_PASCAL},
      {"Volta", abi::NVML_DEVICE_ARCH_VOLTA},
      {"Turing", abi::NVML_DEVICE_ARCH_TURING},
      {"Ampere", abi::NVML_DEVICE_ARCH_AMPERE},
      {"Ada", abi::NVML_DEVICE_ARCH_ADA},
      {"Hopper", abi::NVML_DEVICE_ARCH_HOPPER},
      {"Blackwell", abi::NVML_DEVICE_ARCH_BLACKWELL},
      {"Unknown", abi::NVML_DEVICE_ARCH_UNKNOWN},
  };
  auto it = kArch.find(name);
  if (it == kArch.end()) throw ConfigError{"architecture " + name + ": unknown"};
  return it->second;
}

int ComputeModeFromName(const std::string& name) {
  if (name == "Default") return abi::NVML_COMPUTEMODE_DEFAULT;
  if (name == "ExclusiveProcess") return abi::NVML_COMPUTEMODE_EXCLUSIVE_PROCESS;
  if (name == "Prohibited") return abi::NVML_COMPUTEMODE_PROHIBITED;
  throw ConfigError{"computeMode " + name + ": unknown"};
}

nvmlReturn_t ReturnFromJson(const Json& v) {
  if (v.is_number_integer()) return v.get<int>();
  static const std::map<std::string, nvmlReturn_t> kNames = {
      {"NVML_ERROR_UNINITIALIZED", abi::NVML_ERROR_UNINITIALIZED},
      {"NVML_ERROR_INVALID_ARGUMENT", abi::NVML_ERROR_INVALID_ARGUMENT},
      {"NVML_ERROR_NOT_SUPPORTED", abi::NVML_ERROR_NOT_SUPPORTED},
      {"NVML_ERROR_NO_PERMISSION", abi::NVML_ERROR_NO_PERMISSION},
      {"NVML_ERROR_NOT_FOUND", abi::NVML_ERROR_NOT_FOUND},
      {"NVML_ERROR_INSUFFICIENT_SIZE", abi::NVML_ERROR_INSUFFICIENT_SIZE},
      {"NVML_ERROR_DRIVER_NOT_LOADED", abi::NVML_ERROR_DRIVER_NOT_LOADED},
      {"NVML_ERROR_TIMEOUT", abi::NVML_ERROR_TIMEOUT},
      {"NVML_ERROR_FUNCTION_NOT_FOUND", abi::NVML_ERROR_FUNCTION_NOT_FOUND},
      {"NVML_ERROR_GPU_IS_LOST", abi::NVML_ERROR_GPU_IS_LOST},
      {"NVML_ERROR_RESET_REQUIRED", abi::NVML_ERROR_RESET_REQUIRED},
      {"NVML_ERROR_OPERATING_SYSTEM", abi::NVML_ERROR_OPERATING_SYSTEM},
      {"NVML_ERROR_LIB_RM_VERSION_MISMATCH", abi::NVML_ERROR_LIB_RM_VERSION_MISMATCH},
      {"NVML_ERROR_IN_USE", abi::NVML_ERROR_IN_USE},
      {"NVML_ERROR_MEMORY", abi::NVML_ERROR_MEMORY},
      {"NVML_ERROR_INSUFFICIENT_RESOURCES", abi::NVML_ERROR_INSUFFICIENT_RESOURCES},
      {"NVML_ERROR_ARGUMENT_VERSION_MISMATCH", abi::NVML_ERROR_ARGUMENT_VERSION_MISMATCH},
      {"NVML_ERROR_CORRUPTED_INFOROM", abi::NVML_ERROR_CORRUPTED_INFOROM},
      {"NVML_ERROR_NOT_READY", abi::NVML_ERROR_NOT_READY},
      {"NVML_ERROR_UNKNOWN", abi::NVML_ERROR_UNKNOWN},
  };
  auto it = kNames.find(v.get<std::string>());
  if (it == kNames.end())
    throw ConfigError{"errors[].return " + v.get<std::string>() + ": unknown"};
  return it->second;
}

std::string MigUuid(const std::string& parent, unsigned int gi, unsigned int ci);

// Instances described without a MIG UUID get the one the fake would have
// generated for them.
void FillUuids(const std::string& gpu_uuid, std::vector<GiState>& gis) {
  for (GiState& gi : gis) {
    for (CiState& ci : gi.cis) {
      if (ci.uuid.empty()) ci.uuid = MigUuid(gpu_uuid, gi.id, ci.id);
    }
  }
}

Gpu ParseGpu(const Json& j) {
  Gpu g;
  g.uuid = j.at("uuid").get<std::string>();
  g.name = j.at("name").get<std::string>();
  g.serial = j.value("serial", std::string());
  g.part_number = j.value("boardPartNumber", std::string());
  ParseBusId(j.at("pciBusId").get<std::string>(), g);
  const unsigned int vendor = HexOrInt(j.value("pciVendorId", Json("0x10de")), "pciVendorId");
  const unsigned int device = HexOrInt(j.at("pciDeviceId"), "pciDeviceId");
  g.pci_device_id = (device << 16) | (vendor & 0xffff);
  const unsigned int sub_vendor =
      HexOrInt(j.value("pciSubsystemVendorId", Json("0x10de")), "pciSubsystemVendorId");
  const unsigned int sub_device =
      HexOrInt(j.value("pciSubsystemDeviceId", Json(0)), "pciSubsystemDeviceId");
  g.pci_subsystem_id = (sub_device << 16) | (sub_vendor & 0xffff);
  g.minor = j.at("minorNumber").get<unsigned int>();
  g.memory_total = j.at("memoryTotalBytes").get<unsigned long long>();
  g.memory_free = j.value("memoryFreeBytes", g.memory_total);
  if (j.contains("computeCapability")) {
    const std::string cc = j.at("computeCapability").get<std::string>();
    if (std::sscanf(cc.c_str(), "%d.%d", &g.cc_major, &g.cc_minor) != 2) {
      throw ConfigError{"computeCapability " + cc + ": want M.m"};
    }
  }
  g.architecture = ArchitectureFromName(j.value("architecture", std::string("Unknown")));
  g.compute_mode = ComputeModeFromName(j.value("computeMode", std::string("Default")));
  g.lost = j.value("lost", false);
  if (j.contains("mig")) {
    const Json& mig = j.at("mig");
    g.mig_capable = true;
    g.mig_current = mig.value("current", false);
    g.mig_pending = mig.value("pending", g.mig_current);
    g.mig_query_while_disabled = mig.value("queryWhileDisabled", true);
    for (const Json& p : mig.at("profiles")) g.profiles.push_back(ParseGiProfile(p));
    if (mig.contains("instances")) {
      for (const Json& i : mig.at("instances")) g.initial_instances.push_back(ParseGiState(i));
      FillUuids(g.uuid, g.initial_instances);
    }
  }
  return g;
}

std::unique_ptr<Machine> ParseMachine(const std::string& text) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) throw ConfigError{"not a JSON object"};
  auto m = std::make_unique<Machine>();
  m->driver_version = j.value("driverVersion", m->driver_version);
  m->nvml_version = j.value("nvmlVersion", m->nvml_version);
  m->cuda_version = j.value("cudaDriverVersion", m->cuda_version);
  for (const Json& g : j.at("gpus")) m->gpus.push_back(ParseGpu(g));
  if (j.contains("errors")) {
    for (const Json& e : j.at("errors")) {
      ErrorRule r;
      r.function = e.at("function").get<std::string>();
      r.rc = ReturnFromJson(e.at("return"));
      r.gpu = e.value("gpu", -1);
      r.call = e.value("call", uint64_t{0});
      m->errors.push_back(r);
    }
  }
  for (const Gpu& g : m->gpus) m->instances.push_back(g.initial_instances);
  return m;
}

// --- Error injection. ---

nvmlReturn_t Inject(const char* function, int gpu) {
  for (ErrorRule& r : g_machine->errors) {
    if (r.function != "*" && r.function != function) continue;
    if (r.gpu >= 0 && r.gpu != gpu) continue;
    ++r.seen;
    if (r.call == 0 || r.seen == r.call) return r.rc;
  }
  return abi::NVML_SUCCESS;
}

// --- Handles: tagged integers, never dereferenced by anyone. ---

enum Tag : uintptr_t { kDevice = 1, kMigDevice = 2, kGpuInstance = 3, kComputeInstance = 4 };

struct Decoded {
  Tag tag = kDevice;
  unsigned int gpu = 0;
  unsigned int gi = 0;
  unsigned int ci = 0;
};

uintptr_t Encode(Tag tag, unsigned int gpu, unsigned int gi = 0, unsigned int ci = 0) {
  return (static_cast<uintptr_t>(tag) << 56) | (static_cast<uintptr_t>(gpu & 0xffff) << 32) |
         (static_cast<uintptr_t>(gi & 0xffff) << 16) | static_cast<uintptr_t>(ci & 0xffff);
}

std::optional<Decoded> Decode(const void* handle) {
  const auto v = reinterpret_cast<uintptr_t>(handle);
  Decoded d;
  d.tag = static_cast<Tag>(v >> 56);
  d.gpu = static_cast<unsigned int>((v >> 32) & 0xffff);
  d.gi = static_cast<unsigned int>((v >> 16) & 0xffff);
  d.ci = static_cast<unsigned int>(v & 0xffff);
  if (d.tag < kDevice || d.tag > kComputeInstance) return std::nullopt;
  if (g_machine == nullptr || d.gpu >= g_machine->gpus.size()) return std::nullopt;
  return d;
}

abi::nvmlDevice_t DeviceHandle(unsigned int gpu) {
  return reinterpret_cast<abi::nvmlDevice_t>(Encode(kDevice, gpu));
}

// --- MIG instance state, in memory or in the shared state file. ---

class StateScope {
 public:
  // Loads the instances (from the state file when configured, holding its
  // lock until destruction).
  StateScope() {
    if (g_machine->state_path.empty()) return;
    const std::string lock_path = g_machine->state_path + ".lock";
    lock_fd_ = ::open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    if (lock_fd_ >= 0) ::flock(lock_fd_, LOCK_EX);
    std::ifstream in(g_machine->state_path);
    if (!in) return;  // no file yet: the config's instances stand
    std::stringstream text;
    text << in.rdbuf();
    Json j = Json::parse(text.str(), nullptr, false);
    if (j.is_discarded() || !j.contains("gpus") || !j.at("gpus").is_object()) {
      std::fprintf(stderr, "fake nvml: ignoring unreadable state file %s\n",
                   g_machine->state_path.c_str());
      return;
    }
    try {
      for (size_t i = 0; i < g_machine->gpus.size(); ++i) {
        const std::string& uuid = g_machine->gpus[i].uuid;
        if (!j.at("gpus").contains(uuid)) continue;
        std::vector<GiState> gis;
        for (const Json& gi : j.at("gpus").at(uuid).at("instances"))
          gis.push_back(ParseGiState(gi));
        FillUuids(uuid, gis);
        g_machine->instances[i] = std::move(gis);
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "fake nvml: bad state file %s: %s\n", g_machine->state_path.c_str(),
                   e.what());
    }
  }
  ~StateScope() {
    if (dirty_ && !g_machine->state_path.empty()) Save();
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
  }
  StateScope(const StateScope&) = delete;
  StateScope& operator=(const StateScope&) = delete;

  std::vector<GiState>& Of(unsigned int gpu) { return g_machine->instances[gpu]; }
  void MarkDirty() { dirty_ = true; }

 private:
  void Save() {
    Json gpus = Json::object();
    for (size_t i = 0; i < g_machine->gpus.size(); ++i) {
      Json list = Json::array();
      for (const GiState& gi : g_machine->instances[i]) list.push_back(GiStateJson(gi));
      gpus[g_machine->gpus[i].uuid] = {{"instances", list}};
    }
    const std::string tmp = g_machine->state_path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << Json{{"version", 1}, {"gpus", gpus}}.dump(2) << "\n";
      if (!out) {
        std::fprintf(stderr, "fake nvml: cannot write %s\n", tmp.c_str());
        return;
      }
    }
    std::rename(tmp.c_str(), g_machine->state_path.c_str());
  }
  int lock_fd_ = -1;
  bool dirty_ = false;
};

[[maybe_unused]] GiState* FindGi(std::vector<GiState>& gis, unsigned int id) {
  for (GiState& g : gis) {
    if (g.id == id) return &g;
  }
  return nullptr;
}

// The GPU instance ID a real A100/H100 driver gives a placement (see the file
// comment); the lowest free ID when that one is taken or the size is unusual.
[[maybe_unused]] unsigned int PickGiId(const std::vector<GiState>& gis, const Placement& p) {
  int preferred = -1;
  switch (p.size) {
    case 8:
      preferred = 0;
      break;
    case 4:
      preferred = 1 + static_cast<int>(p.start / 4);
      break;
    case 2:
      preferred = 3 + static_cast<int>(p.start / 2);
      break;
    case 1:
      preferred = 7 + static_cast<int>(p.start);
      break;
    default:
      break;
  }
  auto taken = [&](unsigned int id) {
    return std::any_of(gis.begin(), gis.end(), [&](const GiState& g) { return g.id == id; });
  };
  if (preferred >= 0 && !taken(static_cast<unsigned int>(preferred))) {
    return static_cast<unsigned int>(preferred);
  }
  for (unsigned int id = 1;; ++id) {
    if (!taken(id)) return id;
  }
}

[[maybe_unused]] uint64_t Fnv1a(const std::string& s, uint64_t seed) {
  uint64_t h = seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

[[maybe_unused]] std::string MigUuid(const std::string& parent, unsigned int gi, unsigned int ci) {
  const std::string key = parent + "/" + std::to_string(gi) + "/" + std::to_string(ci);
  const uint64_t a = Fnv1a(key, 14695981039346656037ULL);
  const uint64_t b = Fnv1a(key, 0x6c62272e07bb0142ULL);
  char out[64];
  std::snprintf(out, sizeof(out), "MIG-%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned int>(a >> 32), static_cast<unsigned int>((a >> 16) & 0xffff),
                static_cast<unsigned int>(a & 0xffff), static_cast<unsigned int>(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return out;
}

nvmlReturn_t CopyString(const std::string& s, char* out, unsigned int length) {
  if (out == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  if (length < s.size() + 1) return abi::NVML_ERROR_INSUFFICIENT_SIZE;
  std::memcpy(out, s.c_str(), s.size() + 1);
  return abi::NVML_SUCCESS;
}

// Common prologue: NVML initialized, handle valid, injection, lost GPU.
// `reaches_gpu` is false for queries a real driver answers from its cache.
nvmlReturn_t Enter(const char* function, const void* handle, Decoded* out, bool reaches_gpu,
                   std::optional<Tag> want = std::nullopt) {
  if (g_refcount == 0) return abi::NVML_ERROR_UNINITIALIZED;
  std::optional<Decoded> d = Decode(handle);
  if (!d) return abi::NVML_ERROR_INVALID_ARGUMENT;
  if (want && d->tag != *want) return abi::NVML_ERROR_INVALID_ARGUMENT;
  if (nvmlReturn_t rc = Inject(function, static_cast<int>(d->gpu)); rc != abi::NVML_SUCCESS) {
    return rc;
  }
  if (reaches_gpu && g_machine->gpus[d->gpu].lost) return abi::NVML_ERROR_GPU_IS_LOST;
  *out = *d;
  return abi::NVML_SUCCESS;
}

nvmlReturn_t EnterGlobal(const char* function) {
  if (g_refcount == 0) return abi::NVML_ERROR_UNINITIALIZED;
  return Inject(function, -1);
}

[[maybe_unused]] bool MigQueryable(const Gpu& gpu) {
  return gpu.mig_capable && (gpu.mig_current || gpu.mig_query_while_disabled);
}

}  // namespace

// ============================== Exported ABI ==============================

FAKE_NVML_EXPORT nvmlReturn_t nvmlInit_v2() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_refcount == 0) {
    const char* path = std::getenv("TESSERA_FAKE_NVML_CONFIG");
    if (path == nullptr || *path == '\0') {
      std::fprintf(stderr, "fake nvml: TESSERA_FAKE_NVML_CONFIG is not set\n");
      return abi::NVML_ERROR_DRIVER_NOT_LOADED;
    }
    std::ifstream in(path);
    if (!in) {
      std::fprintf(stderr, "fake nvml: cannot read %s\n", path);
      return abi::NVML_ERROR_DRIVER_NOT_LOADED;
    }
    std::stringstream text;
    text << in.rdbuf();
    try {
      g_machine = ParseMachine(text.str());
    } catch (const ConfigError& e) {
      std::fprintf(stderr, "fake nvml: %s: %s\n", path, e.what.c_str());
      return abi::NVML_ERROR_UNKNOWN;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "fake nvml: %s: %s\n", path, e.what());
      return abi::NVML_ERROR_UNKNOWN;
    }
    const char* state = std::getenv("TESSERA_FAKE_NVML_STATE");
    if (state != nullptr) g_machine->state_path = state;
    if (nvmlReturn_t rc = Inject("nvmlInit_v2", -1); rc != abi::NVML_SUCCESS) {
      g_machine.reset();
      return rc;
    }
  }
  ++g_refcount;
  return abi::NVML_SUCCESS;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlShutdown() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_refcount == 0) return abi::NVML_ERROR_UNINITIALIZED;
  if (--g_refcount == 0) g_machine.reset();
  return abi::NVML_SUCCESS;
}

FAKE_NVML_EXPORT const char* nvmlErrorString(nvmlReturn_t rc) {
  switch (rc) {
    case abi::NVML_SUCCESS:
      return "Success";
    case abi::NVML_ERROR_UNINITIALIZED:
      return "Uninitialized";
    case abi::NVML_ERROR_INVALID_ARGUMENT:
      return "Invalid Argument";
    case abi::NVML_ERROR_NOT_SUPPORTED:
      return "Not Supported";
    case abi::NVML_ERROR_NO_PERMISSION:
      return "Insufficient Permissions";
    case abi::NVML_ERROR_ALREADY_INITIALIZED:
      return "Already Initialized";
    case abi::NVML_ERROR_NOT_FOUND:
      return "Not Found";
    case abi::NVML_ERROR_INSUFFICIENT_SIZE:
      return "Insufficient Size";
    case abi::NVML_ERROR_INSUFFICIENT_POWER:
      return "Insufficient External Power";
    case abi::NVML_ERROR_DRIVER_NOT_LOADED:
      return "Driver Not Loaded";
    case abi::NVML_ERROR_TIMEOUT:
      return "Timeout";
    case abi::NVML_ERROR_IRQ_ISSUE:
      return "Interrupt request issue";
    case abi::NVML_ERROR_LIBRARY_NOT_FOUND:
      return "NVML Shared Library Not Found";
    case abi::NVML_ERROR_FUNCTION_NOT_FOUND:
      return "Function Not Found";
    case abi::NVML_ERROR_CORRUPTED_INFOROM:
      return "Corrupted infoROM";
    case abi::NVML_ERROR_GPU_IS_LOST:
      return "GPU is lost";
    case abi::NVML_ERROR_RESET_REQUIRED:
      return "GPU requires restart";
    case abi::NVML_ERROR_OPERATING_SYSTEM:
      return "The operation is not allowed in the current operating system";
    case abi::NVML_ERROR_LIB_RM_VERSION_MISMATCH:
      return "RM has detected an NVML/RM version mismatch";
    case abi::NVML_ERROR_IN_USE:
      return "In use by another client";
    case abi::NVML_ERROR_MEMORY:
      return "Insufficient Memory";
    case abi::NVML_ERROR_NO_DATA:
      return "No data";
    case abi::NVML_ERROR_INSUFFICIENT_RESOURCES:
      return "Insufficient Resources";
    case abi::NVML_ERROR_ARGUMENT_VERSION_MISMATCH:
      return "Argument version mismatch";
    case abi::NVML_ERROR_NOT_READY:
      return "System is not ready";
    default:
      return "Unknown Error";
  }
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char* version, unsigned int length) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (nvmlReturn_t rc = EnterGlobal("nvmlSystemGetDriverVersion"); rc) return rc;
  return CopyString(g_machine->driver_version, version, length);
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlSystemGetNVMLVersion(char* version, unsigned int length) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (nvmlReturn_t rc = EnterGlobal("nvmlSystemGetNVMLVersion"); rc) return rc;
  return CopyString(g_machine->nvml_version, version, length);
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion(int* version) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (nvmlReturn_t rc = EnterGlobal("nvmlSystemGetCudaDriverVersion"); rc) return rc;
  if (version == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  *version = g_machine->cuda_version;
  return abi::NVML_SUCCESS;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* count) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (nvmlReturn_t rc = EnterGlobal("nvmlDeviceGetCount_v2"); rc) return rc;
  if (count == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  *count = static_cast<unsigned int>(g_machine->gpus.size());
  return abi::NVML_SUCCESS;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index,
                                                            abi::nvmlDevice_t* device) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_refcount == 0) return abi::NVML_ERROR_UNINITIALIZED;
  if (nvmlReturn_t rc = Inject("nvmlDeviceGetHandleByIndex_v2", static_cast<int>(index)); rc) {
    return rc;
  }
  if (device == nullptr || index >= g_machine->gpus.size()) {
    return abi::NVML_ERROR_INVALID_ARGUMENT;
  }
  *device = DeviceHandle(index);
  return abi::NVML_SUCCESS;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetUUID(abi::nvmlDevice_t device, char* uuid,
                                                unsigned int length) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc = Enter("nvmlDeviceGetUUID", device, &d, false); rc) return rc;
  if (d.tag == kMigDevice) {
    StateScope state;
    GiState* gi = FindGi(state.Of(d.gpu), d.gi);
    if (gi == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
    for (const CiState& ci : gi->cis) {
      if (ci.id == d.ci) return CopyString(ci.uuid, uuid, length);
    }
    return abi::NVML_ERROR_INVALID_ARGUMENT;
  }
  if (d.tag != kDevice) return abi::NVML_ERROR_INVALID_ARGUMENT;
  return CopyString(g_machine->gpus[d.gpu].uuid, uuid, length);
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetName(abi::nvmlDevice_t device, char* name,
                                                unsigned int length) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc = Enter("nvmlDeviceGetName", device, &d, false, kDevice); rc) return rc;
  return CopyString(g_machine->gpus[d.gpu].name, name, length);
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(abi::nvmlDevice_t device,
                                                      abi::nvmlPciInfo_t* pci) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc = Enter("nvmlDeviceGetPciInfo_v3", device, &d, false, kDevice); rc) {
    return rc;
  }
  if (pci == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  const Gpu& g = g_machine->gpus[d.gpu];
  std::memset(pci, 0, sizeof(*pci));
  pci->domain = g.domain;
  pci->bus = g.bus;
  pci->device = g.device;
  pci->pciDeviceId = g.pci_device_id;
  pci->pciSubSystemId = g.pci_subsystem_id;
  // NVML_DEVICE_PCI_BUS_ID_FMT and NVML_DEVICE_PCI_BUS_ID_LEGACY_FMT.
  std::snprintf(pci->busId, sizeof(pci->busId), "%08X:%02X:%02X.0", g.domain, g.bus, g.device);
  std::snprintf(pci->busIdLegacy, sizeof(pci->busIdLegacy), "%04X:%02X:%02X.0", g.domain & 0xffff,
                g.bus, g.device);
  return abi::NVML_SUCCESS;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetMinorNumber(abi::nvmlDevice_t device,
                                                       unsigned int* minor) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc = Enter("nvmlDeviceGetMinorNumber", device, &d, false, kDevice); rc) {
    return rc;
  }
  if (minor == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  *minor = g_machine->gpus[d.gpu].minor;
  return abi::NVML_SUCCESS;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(abi::nvmlDevice_t device,
                                                      abi::nvmlMemory_t* memory) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc = Enter("nvmlDeviceGetMemoryInfo", device, &d, true, kDevice); rc) {
    return rc;
  }
  if (memory == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  const Gpu& g = g_machine->gpus[d.gpu];
  memory->total = g.memory_total;
  memory->free = g.memory_free;
  memory->used = g.memory_total - std::min(g.memory_free, g.memory_total);
  return abi::NVML_SUCCESS;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetCudaComputeCapability(abi::nvmlDevice_t device,
                                                                 int* major, int* minor) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc = Enter("nvmlDeviceGetCudaComputeCapability", device, &d, false, kDevice);
      rc) {
    return rc;
  }
  if (major == nullptr || minor == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  const Gpu& g = g_machine->gpus[d.gpu];
  if (g.cc_major < 0) return abi::NVML_ERROR_NOT_SUPPORTED;
  *major = g.cc_major;
  *minor = g.cc_minor;
  return abi::NVML_SUCCESS;
}

#ifndef TESSERA_FAKE_NVML_LEGACY
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetArchitecture(abi::nvmlDevice_t device,
                                                        abi::nvmlDeviceArchitecture_t* arch) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc = Enter("nvmlDeviceGetArchitecture", device, &d, false, kDevice); rc) {
    return rc;
  }
  if (arch == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  *arch = g_machine->gpus[d.gpu].architecture;
  return abi::NVML_SUCCESS;
}
#endif

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetSerial(abi::nvmlDevice_t device, char* serial,
                                                  unsigned int length) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc = Enter("nvmlDeviceGetSerial", device, &d, false, kDevice); rc) return rc;
  const Gpu& g = g_machine->gpus[d.gpu];
  if (g.serial.empty()) return abi::NVML_ERROR_NOT_SUPPORTED;
  return CopyString(g.serial, serial, length);
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetBoardPartNumber(abi::nvmlDevice_t device, char* part,
                                                           unsigned int length) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc = Enter("nvmlDeviceGetBoardPartNumber", device, &d, false, kDevice); rc) {
    return rc;
  }
  const Gpu& g = g_machine->gpus[d.gpu];
  if (g.part_number.empty()) return abi::NVML_ERROR_NOT_SUPPORTED;
  return CopyString(g.part_number, part, length);
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetComputeMode(abi::nvmlDevice_t device, int* mode) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc = Enter("nvmlDeviceGetComputeMode", device, &d, true, kDevice); rc) {
    return rc;
  }
  if (mode == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  *mode = g_machine->gpus[d.gpu].compute_mode;
  return abi::NVML_SUCCESS;
}

#ifndef TESSERA_FAKE_NVML_LEGACY

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetMigMode(abi::nvmlDevice_t device, unsigned int* current,
                                                   unsigned int* pending) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc = Enter("nvmlDeviceGetMigMode", device, &d, true, kDevice); rc) return rc;
  if (current == nullptr || pending == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  const Gpu& g = g_machine->gpus[d.gpu];
  if (!g.mig_capable) return abi::NVML_ERROR_NOT_SUPPORTED;
  *current = g.mig_current ? abi::NVML_DEVICE_MIG_ENABLE : abi::NVML_DEVICE_MIG_DISABLE;
  *pending = g.mig_pending ? abi::NVML_DEVICE_MIG_ENABLE : abi::NVML_DEVICE_MIG_DISABLE;
  return abi::NVML_SUCCESS;
}

namespace {

nvmlReturn_t ProfileByIndex(const Gpu& g, unsigned int index, const GiProfile** out) {
  if (index >= 16) return abi::NVML_ERROR_INVALID_ARGUMENT;
  if (!MigQueryable(g)) return abi::NVML_ERROR_NOT_SUPPORTED;
  for (const GiProfile& p : g.profiles) {
    if (p.index == index) {
      *out = &p;
      return abi::NVML_SUCCESS;
    }
  }
  return abi::NVML_ERROR_NOT_SUPPORTED;
}

}  // namespace

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfo(
    abi::nvmlDevice_t device, unsigned int profile, abi::nvmlGpuInstanceProfileInfo_t* info) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc = Enter("nvmlDeviceGetGpuInstanceProfileInfo", device, &d, true, kDevice);
      rc) {
    return rc;
  }
  if (info == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  const GiProfile* p = nullptr;
  if (nvmlReturn_t rc = ProfileByIndex(g_machine->gpus[d.gpu], profile, &p); rc) return rc;
  *info = {p->id,  p->p2p ? 1u : 0u, p->slices, p->instances, p->sms,       p->ce,
           p->dec, p->enc,           p->jpeg,   p->ofa,       p->memory_mib};
  return abi::NVML_SUCCESS;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfoV(
    abi::nvmlDevice_t device, unsigned int profile, abi::nvmlGpuInstanceProfileInfo_v2_t* info) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc = Enter("nvmlDeviceGetGpuInstanceProfileInfoV", device, &d, true, kDevice);
      rc) {
    return rc;
  }
  if (info == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  if (info->version != abi::kGpuInstanceProfileInfoV2) {
    return abi::NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
  }
  const GiProfile* p = nullptr;
  if (nvmlReturn_t rc = ProfileByIndex(g_machine->gpus[d.gpu], profile, &p); rc) return rc;
  info->id = p->id;
  info->isP2pSupported = p->p2p ? 1u : 0u;
  info->sliceCount = p->slices;
  info->instanceCount = p->instances;
  info->multiprocessorCount = p->sms;
  info->copyEngineCount = p->ce;
  info->decoderCount = p->dec;
  info->encoderCount = p->enc;
  info->jpegCount = p->jpeg;
  info->ofaCount = p->ofa;
  info->memorySizeMB = p->memory_mib;
  std::snprintf(info->name, sizeof(info->name), "MIG %s", p->name.c_str());
  return abi::NVML_SUCCESS;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetGpuInstancePossiblePlacements_v2(
    abi::nvmlDevice_t device, unsigned int profile_id, abi::nvmlGpuInstancePlacement_t* placements,
    unsigned int* count) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc =
          Enter("nvmlDeviceGetGpuInstancePossiblePlacements_v2", device, &d, true, kDevice);
      rc) {
    return rc;
  }
  if (count == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  const Gpu& g = g_machine->gpus[d.gpu];
  if (!MigQueryable(g)) return abi::NVML_ERROR_NOT_SUPPORTED;
  const GiProfile* p = g.ProfileById(profile_id);
  if (p == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  const auto n = static_cast<unsigned int>(p->placements.size());
  if (placements == nullptr) {
    *count = n;
    return abi::NVML_SUCCESS;
  }
  // Like R580 (checked on an H100): the input *count is not a bound; the
  // buffer must hold every placement the NULL query announced.
  for (unsigned int i = 0; i < n; ++i) {
    placements[i] = {p->placements[i].start, p->placements[i].size};
  }
  *count = n;
  return abi::NVML_SUCCESS;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceCreateGpuInstanceWithPlacement(
    abi::nvmlDevice_t device, unsigned int profile_id,
    const abi::nvmlGpuInstancePlacement_t* placement, abi::nvmlGpuInstance_t* gpu_instance) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc =
          Enter("nvmlDeviceCreateGpuInstanceWithPlacement", device, &d, true, kDevice);
      rc) {
    return rc;
  }
  if (placement == nullptr || gpu_instance == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  const Gpu& g = g_machine->gpus[d.gpu];
  if (!g.mig_capable || !g.mig_current) return abi::NVML_ERROR_NOT_SUPPORTED;
  const GiProfile* p = g.ProfileById(profile_id);
  if (p == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  const Placement want{placement->start, placement->size};
  if (std::find(p->placements.begin(), p->placements.end(), want) == p->placements.end()) {
    return abi::NVML_ERROR_INVALID_ARGUMENT;
  }
  StateScope state;
  std::vector<GiState>& gis = state.Of(d.gpu);
  unsigned int same_profile = 0;
  unsigned int compute_slices = 0;
  for (const GiState& gi : gis) {
    if (gi.profile_id == profile_id) ++same_profile;
    if (const GiProfile* q = g.ProfileById(gi.profile_id)) compute_slices += q->slices;
    if (gi.placement.Overlaps(want)) return abi::NVML_ERROR_INSUFFICIENT_RESOURCES;
  }
  if (same_profile >= p->instances) return abi::NVML_ERROR_INSUFFICIENT_RESOURCES;
  if (compute_slices + p->slices > g.TotalComputeSlices()) {
    return abi::NVML_ERROR_INSUFFICIENT_RESOURCES;
  }
  GiState created;
  created.id = PickGiId(gis, want);
  created.profile_id = profile_id;
  created.placement = want;
  gis.push_back(created);
  state.MarkDirty();
  *gpu_instance = reinterpret_cast<abi::nvmlGpuInstance_t>(Encode(kGpuInstance, d.gpu, created.id));
  return abi::NVML_SUCCESS;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetGpuInstances(abi::nvmlDevice_t device,
                                                        unsigned int profile_id,
                                                        abi::nvmlGpuInstance_t* gpu_instances,
                                                        unsigned int* count) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc = Enter("nvmlDeviceGetGpuInstances", device, &d, true, kDevice); rc) {
    return rc;
  }
  if (gpu_instances == nullptr || count == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  const Gpu& g = g_machine->gpus[d.gpu];
  if (!g.mig_capable) return abi::NVML_ERROR_NOT_SUPPORTED;
  if (g.ProfileById(profile_id) == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  if (!g.mig_current) {  // R580 with MIG off: success, no instances
    *count = 0;
    return abi::NVML_SUCCESS;
  }
  StateScope state;
  // Like the real library, `count` is output only: the buffer must hold the
  // profile's instanceCount entries.
  unsigned int n = 0;
  for (const GiState& gi : state.Of(d.gpu)) {
    if (gi.profile_id != profile_id) continue;
    gpu_instances[n++] =
        reinterpret_cast<abi::nvmlGpuInstance_t>(Encode(kGpuInstance, d.gpu, gi.id));
  }
  *count = n;
  return abi::NVML_SUCCESS;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceById(abi::nvmlDevice_t device,
                                                           unsigned int id,
                                                           abi::nvmlGpuInstance_t* gpu_instance) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc = Enter("nvmlDeviceGetGpuInstanceById", device, &d, true, kDevice); rc) {
    return rc;
  }
  if (gpu_instance == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  const Gpu& g = g_machine->gpus[d.gpu];
  if (!g.mig_capable) return abi::NVML_ERROR_NOT_SUPPORTED;
  if (!g.mig_current) return abi::NVML_ERROR_NOT_FOUND;  // as R580 answers with MIG off
  StateScope state;
  if (FindGi(state.Of(d.gpu), id) == nullptr) return abi::NVML_ERROR_NOT_FOUND;
  *gpu_instance = reinterpret_cast<abi::nvmlGpuInstance_t>(Encode(kGpuInstance, d.gpu, id));
  return abi::NVML_SUCCESS;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlGpuInstanceGetInfo(abi::nvmlGpuInstance_t gpu_instance,
                                                     abi::nvmlGpuInstanceInfo_t* info) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc = Enter("nvmlGpuInstanceGetInfo", gpu_instance, &d, true, kGpuInstance); rc) {
    return rc;
  }
  if (info == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  StateScope state;
  const GiState* gi = FindGi(state.Of(d.gpu), d.gi);
  if (gi == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;  // stale handle
  info->device = DeviceHandle(d.gpu);
  info->id = gi->id;
  info->profileId = gi->profile_id;
  info->placement = {gi->placement.start, gi->placement.size};
  return abi::NVML_SUCCESS;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlGpuInstanceDestroy(abi::nvmlGpuInstance_t gpu_instance) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc = Enter("nvmlGpuInstanceDestroy", gpu_instance, &d, true, kGpuInstance); rc) {
    return rc;
  }
  StateScope state;
  std::vector<GiState>& gis = state.Of(d.gpu);
  auto it = std::find_if(gis.begin(), gis.end(), [&](const GiState& g) { return g.id == d.gi; });
  if (it == gis.end()) return abi::NVML_ERROR_INVALID_ARGUMENT;
  if (!it->cis.empty()) return abi::NVML_ERROR_IN_USE;
  gis.erase(it);
  state.MarkDirty();
  return abi::NVML_SUCCESS;
}

namespace {

const GiProfile* ProfileOfGi(const Gpu& g, const GiState& gi) {
  return g.ProfileById(gi.profile_id);
}

const CiProfile* CiProfileById(const GiProfile& p, unsigned int id) {
  for (const CiProfile& c : p.ci_profiles) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

}  // namespace

FAKE_NVML_EXPORT nvmlReturn_t nvmlGpuInstanceGetComputeInstanceProfileInfo(
    abi::nvmlGpuInstance_t gpu_instance, unsigned int profile, unsigned int eng_profile,
    abi::nvmlComputeInstanceProfileInfo_t* info) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc = Enter("nvmlGpuInstanceGetComputeInstanceProfileInfo", gpu_instance, &d,
                              true, kGpuInstance);
      rc) {
    return rc;
  }
  if (info == nullptr || eng_profile != abi::NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED) {
    return abi::NVML_ERROR_INVALID_ARGUMENT;
  }
  if (profile >= 8) return abi::NVML_ERROR_INVALID_ARGUMENT;
  StateScope state;
  const GiState* gi = FindGi(state.Of(d.gpu), d.gi);
  if (gi == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  const GiProfile* p = ProfileOfGi(g_machine->gpus[d.gpu], *gi);
  if (p == nullptr) return abi::NVML_ERROR_UNKNOWN;
  for (const CiProfile& c : p->ci_profiles) {
    if (c.index != profile) continue;
    *info = {c.id, c.slices, c.instances, c.sms, c.ce, c.dec, c.enc, c.jpeg, c.ofa};
    return abi::NVML_SUCCESS;
  }
  return abi::NVML_ERROR_NOT_SUPPORTED;
}

FAKE_NVML_EXPORT nvmlReturn_t
nvmlGpuInstanceCreateComputeInstance(abi::nvmlGpuInstance_t gpu_instance, unsigned int profile_id,
                                     abi::nvmlComputeInstance_t* compute_instance) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc =
          Enter("nvmlGpuInstanceCreateComputeInstance", gpu_instance, &d, true, kGpuInstance);
      rc) {
    return rc;
  }
  if (compute_instance == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  StateScope state;
  GiState* gi = FindGi(state.Of(d.gpu), d.gi);
  if (gi == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  const GiProfile* p = ProfileOfGi(g_machine->gpus[d.gpu], *gi);
  if (p == nullptr) return abi::NVML_ERROR_UNKNOWN;
  const CiProfile* c = CiProfileById(*p, profile_id);
  if (c == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  unsigned int same_profile = 0;
  for (const CiState& ci : gi->cis) {
    if (ci.profile_id == profile_id) ++same_profile;
  }
  if (same_profile >= c->instances) return abi::NVML_ERROR_INSUFFICIENT_RESOURCES;
  std::optional<Placement> where;
  for (const Placement& candidate : c->placements) {
    bool free = std::none_of(gi->cis.begin(), gi->cis.end(),
                             [&](const CiState& ci) { return ci.placement.Overlaps(candidate); });
    if (free) {
      where = candidate;
      break;
    }
  }
  if (!where) return abi::NVML_ERROR_INSUFFICIENT_RESOURCES;
  CiState created;
  while (std::any_of(gi->cis.begin(), gi->cis.end(),
                     [&](const CiState& ci) { return ci.id == created.id; })) {
    ++created.id;
  }
  created.profile_id = profile_id;
  created.placement = *where;
  created.uuid = MigUuid(g_machine->gpus[d.gpu].uuid, gi->id, created.id);
  gi->cis.push_back(created);
  state.MarkDirty();
  *compute_instance = reinterpret_cast<abi::nvmlComputeInstance_t>(
      Encode(kComputeInstance, d.gpu, gi->id, created.id));
  return abi::NVML_SUCCESS;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlGpuInstanceGetComputeInstances(
    abi::nvmlGpuInstance_t gpu_instance, unsigned int profile_id,
    abi::nvmlComputeInstance_t* compute_instances, unsigned int* count) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc =
          Enter("nvmlGpuInstanceGetComputeInstances", gpu_instance, &d, true, kGpuInstance);
      rc) {
    return rc;
  }
  if (compute_instances == nullptr || count == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  StateScope state;
  const GiState* gi = FindGi(state.Of(d.gpu), d.gi);
  if (gi == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  unsigned int n = 0;
  for (const CiState& ci : gi->cis) {
    if (ci.profile_id != profile_id) continue;
    compute_instances[n++] = reinterpret_cast<abi::nvmlComputeInstance_t>(
        Encode(kComputeInstance, d.gpu, gi->id, ci.id));
  }
  *count = n;
  return abi::NVML_SUCCESS;
}

FAKE_NVML_EXPORT nvmlReturn_t
nvmlGpuInstanceGetComputeInstanceById(abi::nvmlGpuInstance_t gpu_instance, unsigned int id,
                                      abi::nvmlComputeInstance_t* compute_instance) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc =
          Enter("nvmlGpuInstanceGetComputeInstanceById", gpu_instance, &d, true, kGpuInstance);
      rc) {
    return rc;
  }
  if (compute_instance == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  StateScope state;
  const GiState* gi = FindGi(state.Of(d.gpu), d.gi);
  if (gi == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  for (const CiState& ci : gi->cis) {
    if (ci.id != id) continue;
    *compute_instance = reinterpret_cast<abi::nvmlComputeInstance_t>(
        Encode(kComputeInstance, d.gpu, gi->id, ci.id));
    return abi::NVML_SUCCESS;
  }
  return abi::NVML_ERROR_NOT_FOUND;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlComputeInstanceGetInfo_v2(
    abi::nvmlComputeInstance_t compute_instance, abi::nvmlComputeInstanceInfo_t* info) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc =
          Enter("nvmlComputeInstanceGetInfo_v2", compute_instance, &d, true, kComputeInstance);
      rc) {
    return rc;
  }
  if (info == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  StateScope state;
  const GiState* gi = FindGi(state.Of(d.gpu), d.gi);
  if (gi == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  for (const CiState& ci : gi->cis) {
    if (ci.id != d.ci) continue;
    info->device = DeviceHandle(d.gpu);
    info->gpuInstance =
        reinterpret_cast<abi::nvmlGpuInstance_t>(Encode(kGpuInstance, d.gpu, gi->id));
    info->id = ci.id;
    info->profileId = ci.profile_id;
    info->placement = {ci.placement.start, ci.placement.size};
    return abi::NVML_SUCCESS;
  }
  return abi::NVML_ERROR_INVALID_ARGUMENT;
}

FAKE_NVML_EXPORT nvmlReturn_t
nvmlComputeInstanceDestroy(abi::nvmlComputeInstance_t compute_instance) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc =
          Enter("nvmlComputeInstanceDestroy", compute_instance, &d, true, kComputeInstance);
      rc) {
    return rc;
  }
  StateScope state;
  GiState* gi = FindGi(state.Of(d.gpu), d.gi);
  if (gi == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  auto it = std::find_if(gi->cis.begin(), gi->cis.end(),
                         [&](const CiState& ci) { return ci.id == d.ci; });
  if (it == gi->cis.end()) return abi::NVML_ERROR_INVALID_ARGUMENT;
  gi->cis.erase(it);
  state.MarkDirty();
  return abi::NVML_SUCCESS;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(abi::nvmlDevice_t device,
                                                             unsigned int* count) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc = Enter("nvmlDeviceGetMaxMigDeviceCount", device, &d, true, kDevice); rc) {
    return rc;
  }
  if (count == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  const Gpu& g = g_machine->gpus[d.gpu];
  // "Returns zero if MIG is not supported or enabled."
  *count = (g.mig_capable && g.mig_current) ? g.TotalComputeSlices() : 0;
  return abi::NVML_SUCCESS;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(abi::nvmlDevice_t device,
                                                                  unsigned int index,
                                                                  abi::nvmlDevice_t* mig_device) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc = Enter("nvmlDeviceGetMigDeviceHandleByIndex", device, &d, true, kDevice);
      rc) {
    return rc;
  }
  if (mig_device == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  const Gpu& g = g_machine->gpus[d.gpu];
  if (!g.mig_capable) return abi::NVML_ERROR_NOT_SUPPORTED;
  if (!g.mig_current) return abi::NVML_ERROR_NOT_FOUND;  // as R580 answers with MIG off
  if (index >= g.TotalComputeSlices()) return abi::NVML_ERROR_INVALID_ARGUMENT;
  StateScope state;
  std::vector<std::pair<unsigned int, unsigned int>> all;
  for (const GiState& gi : state.Of(d.gpu)) {
    for (const CiState& ci : gi.cis) all.emplace_back(gi.id, ci.id);
  }
  std::sort(all.begin(), all.end());
  if (index >= all.size()) return abi::NVML_ERROR_NOT_FOUND;
  *mig_device = reinterpret_cast<abi::nvmlDevice_t>(
      Encode(kMigDevice, d.gpu, all[index].first, all[index].second));
  return abi::NVML_SUCCESS;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceId(abi::nvmlDevice_t device,
                                                         unsigned int* id) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc = Enter("nvmlDeviceGetGpuInstanceId", device, &d, true); rc) return rc;
  if (id == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  if (d.tag != kMigDevice) return abi::NVML_ERROR_NOT_SUPPORTED;
  *id = d.gi;
  return abi::NVML_SUCCESS;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetComputeInstanceId(abi::nvmlDevice_t device,
                                                             unsigned int* id) {
  std::lock_guard<std::mutex> lock(g_mu);
  Decoded d;
  if (nvmlReturn_t rc = Enter("nvmlDeviceGetComputeInstanceId", device, &d, true); rc) return rc;
  if (id == nullptr) return abi::NVML_ERROR_INVALID_ARGUMENT;
  if (d.tag != kMigDevice) return abi::NVML_ERROR_NOT_SUPPORTED;
  *id = d.ci;
  return abi::NVML_SUCCESS;
}

#endif  // TESSERA_FAKE_NVML_LEGACY
