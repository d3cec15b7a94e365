// A fake libdcmi.so: the DCMI C ABI subset of ../internal/dcmi_abi.h over a
// JSON description of a node's Ascend cards (schema in README.md). Tests and
// simulated nodes load it through the real DlopenDcmi.
//
// The description is (re)read from $TESSERA_FAKE_DCMI_CONFIG at every
// dcmi_init, so one test process can load several machines in turn. Without
// the variable dcmi_init fails like a host without the Ascend driver.
// Thread-safe (one mutex around everything). Test-only.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

#include "drivers/npu/internal/dcmi_abi.h"

namespace abi = tessera::drivers::npu::abi;

namespace {

struct Chip {
  bool npu = true;
  int logic_id = 0;
  int physical_id = 0;
  std::string chip_type = "Ascend";
  std::string chip_name;
  std::string chip_version = "V1";
  unsigned int aicore = 0;
  unsigned int domain = 0;
  unsigned int bus = 0, device = 0, function = 0;
  unsigned int vendor_id = 0x19e5, device_id = 0, sub_vendor_id = 0, sub_device_id = 0;
  unsigned long long hbm_mib = 0;
  unsigned long long ddr_mib = 0;
  int health = -1;  // -1: not supported
  std::string roce_ip;
};

struct Card {
  int card_id = 0;
  std::vector<Chip> chips;
};

struct Error {
  std::string function;
  int rc = 0;
  int card = -1;  // -1: any
  int chip = -1;
};

struct State {
  std::mutex mu;
  bool initialized = false;
  std::string version;
  std::vector<Card> cards;
  std::vector<Error> errors;
} g;

unsigned int Hex(const nlohmann::json& j, const char* key, unsigned int fallback) {
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (it->is_number_unsigned()) return it->get<unsigned int>();
  if (it->is_string())
    return static_cast<unsigned int>(std::strtoul(it->get<std::string>().c_str(), nullptr, 16));
  return fallback;
}

bool Load() {
  const char* path = std::getenv("TESSERA_FAKE_DCMI_CONFIG");
  if (path == nullptr || *path == '\0') return false;
  std::ifstream in(path);
  if (!in) return false;
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return false;
  g.version = j.value("version", "");
  g.cards.clear();
  g.errors.clear();
  for (const auto& c : j.value("cards", nlohmann::json::array())) {
    Card card;
    card.card_id = c.value("cardId", 0);
    for (const auto& x : c.value("chips", nlohmann::json::array())) {
      Chip chip;
      chip.npu = x.value("type", "npu") == "npu";
      chip.logic_id = x.value("logicId", 0);
      chip.physical_id = x.value("physicalId", chip.logic_id);
      chip.chip_type = x.value("chipType", "Ascend");
      chip.chip_name = x.value("chipName", "");
      chip.chip_version = x.value("chipVersion", "V1");
      chip.aicore = x.value("aicoreCount", 0u);
      std::string bdf = x.value("pciBusId", "0000:00:00.0");
      std::sscanf(bdf.c_str(), "%x:%x:%x.%x", &chip.domain, &chip.bus, &chip.device,
                  &chip.function);
      chip.vendor_id = Hex(x, "pciVendorId", 0x19e5);
      chip.device_id = Hex(x, "pciDeviceId", 0);
      chip.sub_vendor_id = Hex(x, "pciSubsystemVendorId", 0);
      chip.sub_device_id = Hex(x, "pciSubsystemDeviceId", 0);
      chip.hbm_mib = x.value("hbmMiB", 0ull);
      chip.ddr_mib = x.value("ddrMiB", 0ull);
      chip.health = x.value("health", -1);
      chip.roce_ip = x.value("roceIp", "");
      card.chips.push_back(chip);
    }
    g.cards.push_back(card);
  }
  for (const auto& e : j.value("errors", nlohmann::json::array())) {
    g.errors.push_back({e.value("function", ""), e.value("return", -8005), e.value("card", -1),
                        e.value("chip", -1)});
  }
  return true;
}

// The injected return code for this call, or 0.
int Injected(const char* function, int card = -1, int chip = -1) {
  for (const Error& e : g.errors) {
    if (e.function != function && e.function != "*") continue;
    if (e.card != -1 && e.card != card) continue;
    if (e.chip != -1 && e.chip != chip) continue;
    return e.rc;
  }
  return 0;
}

// Looks up a chip; returns a DCMI error code when the call must fail.
int Find(const char* function, int card_id, int device_id, const Chip** out) {
  if (!g.initialized) return abi::kDcmiErrNotReady;
  if (int rc = Injected(function, card_id, device_id); rc != 0) return rc;
  for (const Card& c : g.cards) {
    if (c.card_id != card_id) continue;
    if (device_id < 0 || device_id >= static_cast<int>(c.chips.size())) break;
    *out = &c.chips[static_cast<size_t>(device_id)];
    return 0;
  }
  return abi::kDcmiErrInvalidDeviceId;
}

void CopyName(unsigned char* out, const std::string& in) {
  const size_t n = std::min<size_t>(in.size(), abi::kMaxChipNameLen - 1);
  std::fill_n(out, abi::kMaxChipNameLen, 0);
  std::copy_n(in.data(), n, out);
}

}  // namespace

// The exported names are the vendor ABI's.
// NOLINTBEGIN(readability-identifier-naming)
#define EXPORT extern "C" __attribute__((visibility("default")))

EXPORT int dcmi_init() {
  std::lock_guard lock(g.mu);
  g.initialized = Load();
  if (!g.initialized) return abi::kDcmiErrInnerErr;
  return Injected("dcmi_init");
}

EXPORT int dcmi_get_card_list(int* card_num, int* card_list, int list_len) {
  std::lock_guard lock(g.mu);
  if (!g.initialized) return abi::kDcmiErrNotReady;
  if (int rc = Injected("dcmi_get_card_list"); rc != 0) return rc;
  if (card_num == nullptr || card_list == nullptr || list_len < 0) {
    return abi::kDcmiErrInvalidParameter;
  }
  int n = 0;
  for (const Card& c : g.cards) {
    if (n < list_len) card_list[n] = c.card_id;
    ++n;
  }
  *card_num = n < list_len ? n : list_len;
  return 0;
}

EXPORT int dcmi_get_card_num_list(int* card_num, int* card_list, int list_len) {
  return dcmi_get_card_list(card_num, card_list, list_len);
}

EXPORT int dcmi_get_device_num_in_card(int card_id, int* device_num) {
  std::lock_guard lock(g.mu);
  if (!g.initialized) return abi::kDcmiErrNotReady;
  if (int rc = Injected("dcmi_get_device_num_in_card", card_id); rc != 0) return rc;
  for (const Card& c : g.cards) {
    if (c.card_id == card_id) {
      *device_num = static_cast<int>(c.chips.size());
      return 0;
    }
  }
  return abi::kDcmiErrInvalidDeviceId;
}

EXPORT int dcmi_get_device_type(int card_id, int device_id, abi::dcmi_unit_type* type) {
  std::lock_guard lock(g.mu);
  const Chip* chip = nullptr;
  if (int rc = Find("dcmi_get_device_type", card_id, device_id, &chip); rc != 0) return rc;
  *type = chip->npu ? abi::NPU_TYPE : abi::MCU_TYPE;
  return 0;
}

EXPORT int dcmi_get_device_logic_id(int* device_logic_id, int card_id, int device_id) {
  std::lock_guard lock(g.mu);
  const Chip* chip = nullptr;
  if (int rc = Find("dcmi_get_device_logic_id", card_id, device_id, &chip); rc != 0) return rc;
  *device_logic_id = chip->logic_id;
  return 0;
}

EXPORT int dcmi_get_device_phyid_from_logicid(unsigned int logicid, unsigned int* phyid) {
  std::lock_guard lock(g.mu);
  if (!g.initialized) return abi::kDcmiErrNotReady;
  if (int rc = Injected("dcmi_get_device_phyid_from_logicid"); rc != 0) return rc;
  for (const Card& c : g.cards) {
    for (const Chip& chip : c.chips) {
      if (chip.npu && chip.logic_id == static_cast<int>(logicid)) {
        *phyid = static_cast<unsigned int>(chip.physical_id);
        return 0;
      }
    }
  }
  return abi::kDcmiErrInvalidDeviceId;
}

EXPORT int dcmi_get_device_pcie_info_v2(int card_id, int device_id, abi::dcmi_pcie_info_all* info) {
  std::lock_guard lock(g.mu);
  const Chip* chip = nullptr;
  if (int rc = Find("dcmi_get_device_pcie_info_v2", card_id, device_id, &chip); rc != 0) return rc;
  std::memset(info, 0, sizeof(*info));
  info->venderid = chip->vendor_id;
  info->subvenderid = chip->sub_vendor_id;
  info->deviceid = chip->device_id;
  info->subdeviceid = chip->sub_device_id;
  info->domain = static_cast<int>(chip->domain);
  info->bdf_busid = chip->bus;
  info->bdf_deviceid = chip->device;
  info->bdf_funcid = chip->function;
  return 0;
}

EXPORT int dcmi_get_device_chip_info(int card_id, int device_id, abi::dcmi_chip_info* info) {
  std::lock_guard lock(g.mu);
  const Chip* chip = nullptr;
  if (int rc = Find("dcmi_get_device_chip_info", card_id, device_id, &chip); rc != 0) return rc;
  CopyName(info->chip_type, chip->chip_type);
  CopyName(info->chip_name, chip->chip_name);
  CopyName(info->chip_ver, chip->chip_version);
  info->aicore_cnt = chip->aicore;
  return 0;
}

EXPORT int dcmi_get_device_hbm_info(int card_id, int device_id, abi::dcmi_hbm_info* info) {
  std::lock_guard lock(g.mu);
  const Chip* chip = nullptr;
  if (int rc = Find("dcmi_get_device_hbm_info", card_id, device_id, &chip); rc != 0) return rc;
  if (chip->hbm_mib == 0) return abi::kDcmiErrNotSupport;
  std::memset(info, 0, sizeof(*info));
  info->memory_size = chip->hbm_mib;
  info->freq = 1600;
  info->temp = 40;
  return 0;
}

EXPORT int dcmi_get_device_memory_info_v3(int card_id, int device_id,
                                          abi::dcmi_get_memory_info_stru* info) {
  std::lock_guard lock(g.mu);
  const Chip* chip = nullptr;
  if (int rc = Find("dcmi_get_device_memory_info_v3", card_id, device_id, &chip); rc != 0)
    return rc;
  if (chip->ddr_mib == 0) return abi::kDcmiErrNotSupport;
  std::memset(info, 0, sizeof(*info));
  info->memory_size = chip->ddr_mib;
  info->memory_available = chip->ddr_mib;
  return 0;
}

EXPORT int dcmi_get_device_health(int card_id, int device_id, unsigned int* health) {
  std::lock_guard lock(g.mu);
  const Chip* chip = nullptr;
  if (int rc = Find("dcmi_get_device_health", card_id, device_id, &chip); rc != 0) return rc;
  if (chip->health < 0) return abi::kDcmiErrNotSupport;
  *health = static_cast<unsigned int>(chip->health);
  return 0;
}

EXPORT int dcmi_get_device_ip(int card_id, int device_id, abi::dcmi_port_type port_type,
                              int port_id, abi::dcmi_ip_addr* ip, abi::dcmi_ip_addr* mask) {
  std::lock_guard lock(g.mu);
  const Chip* chip = nullptr;
  if (int rc = Find("dcmi_get_device_ip", card_id, device_id, &chip); rc != 0) return rc;
  if (port_type != abi::DCMI_ROCE_PORT || port_id != 0 || chip->roce_ip.empty()) {
    return abi::kDcmiErrNotSupport;
  }
  unsigned int a = 0, b = 0, c = 0, d = 0;
  if (std::sscanf(chip->roce_ip.c_str(), "%u.%u.%u.%u", &a, &b, &c, &d) != 4) {
    return abi::kDcmiErrInnerErr;
  }
  std::memset(ip, 0, sizeof(*ip));
  std::memset(mask, 0, sizeof(*mask));
  ip->ip_type = abi::DCMI_IPADDR_TYPE_V4;
  ip->u_addr.ip4[0] = static_cast<unsigned char>(a);
  ip->u_addr.ip4[1] = static_cast<unsigned char>(b);
  ip->u_addr.ip4[2] = static_cast<unsigned char>(c);
  ip->u_addr.ip4[3] = static_cast<unsigned char>(d);
  mask->ip_type = abi::DCMI_IPADDR_TYPE_V4;
  std::memset(mask->u_addr.ip4, 0xff, 3);
  return 0;
}

EXPORT int dcmi_get_dcmi_version(char* dcmi_ver, int buf_size) {
  std::lock_guard lock(g.mu);
  if (int rc = Injected("dcmi_get_dcmi_version"); rc != 0) return rc;
  if (dcmi_ver == nullptr || buf_size <= 0) return abi::kDcmiErrInvalidParameter;
  std::snprintf(dcmi_ver, static_cast<size_t>(buf_size), "%s", g.version.c_str());
  return 0;
}
// NOLINTEND(readability-identifier-naming)
