#include "drivers/npu/vnpu.h"

#include <algorithm>
#include <array>
#include <limits>

#include "base/strings.h"

namespace tessera::drivers::npu {

namespace {

// Ascend 910 (first generation, 30 usable AI cores, 32 GiB HBM): vir02..vir16
// reserve 2..16 AI cores and a proportional share of memory.
constexpr std::array k910A = {
    VnpuTemplate{"vir16", 16, 0, 17476},
    VnpuTemplate{"vir08", 8, 0, 8738},
    VnpuTemplate{"vir04", 4, 0, 4369},
    VnpuTemplate{"vir02", 2, 0, 2184},
};
// Ascend 910B2: 24 AI cores, 6 AI CPUs, 64 GiB.
constexpr std::array k910B2 = {
    VnpuTemplate{"vir12_3c_32g", 12, 3, 32768},
    VnpuTemplate{"vir06_1c_16g", 6, 1, 16384},
    VnpuTemplate{"vir03_1c_8g", 3, 1, 8192},
};
// Ascend 910B3: 20 AI cores, 7 AI CPUs, 64 GiB.
constexpr std::array k910B3 = {
    VnpuTemplate{"vir10_3c_32g", 10, 3, 32768},
    VnpuTemplate{"vir05_1c_16g", 5, 1, 16384},
};
// Ascend 910B4: 20 AI cores, 7 AI CPUs, 32 GiB.
constexpr std::array k910B4 = {
    VnpuTemplate{"vir10_3c_16g", 10, 3, 16384},
    VnpuTemplate{"vir05_1c_8g", 5, 1, 8192},
};
// Ascend 310P3: 8 AI cores, 7 AI CPUs; 21527 MiB of its 24 GiB are
// allocatable to vNPUs. (The _1c/_3c/dvpp variants are left out: with them a
// chip would need more than its 16 vNPU ids.)
constexpr std::array k310P3 = {
    VnpuTemplate{"vir04", 4, 4, 12288},
    VnpuTemplate{"vir02", 2, 2, 6144},
    VnpuTemplate{"vir01", 1, 1, 3072},
};

constexpr std::array kChips = {
    ChipTemplates{"910A", 30, 0, 32768, k910A},   ChipTemplates{"910B2", 24, 6, 65536, k910B2},
    ChipTemplates{"910B3", 20, 7, 65536, k910B3}, ChipTemplates{"910B4", 20, 7, 32768, k910B4},
    ChipTemplates{"310P3", 8, 7, 21527, k310P3},
};

}  // namespace

const ChipTemplates* FindChipTemplates(std::string_view chip_name) {
  for (const ChipTemplates& c : kChips) {
    if (c.chip_name == chip_name) return &c;
  }
  return nullptr;
}

std::vector<std::string_view> ChipsWithTemplates() {
  std::vector<std::string_view> out;
  out.reserve(kChips.size());
  for (const ChipTemplates& c : kChips) out.push_back(c.chip_name);
  return out;
}

std::string TemplateLabel(std::string_view template_name) {
  std::string out = base::ToLower(template_name);
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

uint32_t MaxInstances(const ChipTemplates& chip, const VnpuTemplate& t) {
  uint64_t n = std::numeric_limits<uint32_t>::max();
  if (t.aicore > 0) n = std::min<uint64_t>(n, chip.aicore / t.aicore);
  if (t.aicpu > 0) n = std::min<uint64_t>(n, chip.aicpu / t.aicpu);
  if (t.memory_mib > 0) n = std::min<uint64_t>(n, chip.memory_mib / t.memory_mib);
  return static_cast<uint32_t>(n);
}

int FirstVnpuIdOf(int physical_id) { return kFirstVnpuId + kVnpuIdsPerChip * physical_id; }

std::vector<VnpuSlot> PlanVnpuSlots(const ChipTemplates& chip, int physical_id) {
  std::vector<VnpuSlot> out;
  const int first = FirstVnpuIdOf(physical_id);
  for (const VnpuTemplate& t : chip.templates) {
    const uint32_t n = MaxInstances(chip, t);
    for (uint32_t i = 0; i < n && out.size() < static_cast<size_t>(kVnpuIdsPerChip); ++i) {
      out.push_back({.tmpl = &t,
                     .instance = static_cast<int>(i),
                     .vnpu_id = first + static_cast<int>(out.size())});
    }
  }
  return out;
}

std::vector<std::string> CreateVnpuArgv(std::string_view npu_smi, int card_id, int chip_id,
                                        std::string_view template_name, int vnpu_id) {
  return {std::string(npu_smi),
          "set",
          "-t",
          "create-vnpu",
          "-i",
          base::StrCat(card_id),
          "-c",
          base::StrCat(chip_id),
          "-f",
          std::string(template_name),
          "-v",
          base::StrCat(vnpu_id)};
}

std::vector<std::string> DestroyVnpuArgv(std::string_view npu_smi, int card_id, int chip_id,
                                         int vnpu_id) {
  return {std::string(npu_smi),
          "set",
          "-t",
          "destroy-vnpu",
          "-i",
          base::StrCat(card_id),
          "-c",
          base::StrCat(chip_id),
          "-v",
          base::StrCat(vnpu_id)};
}

std::string VnpuDevicePath(int vnpu_id) { return base::StrCat("/dev/vdavinci", vnpu_id); }

}  // namespace tessera::drivers::npu
