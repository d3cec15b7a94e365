// Ascend vNPUs (static virtualization, "AVI"): the templates each chip
// offers, how a chip's vNPU slots are laid out, and the npu-smi commands that
// create and destroy one.
//
// A vNPU is a share of one chip's AI cores, AI CPUs and memory, made from a
// named template with
//   npu-smi set -t create-vnpu -i <card id> -c <chip id> -f <template> -v <vnpu id>
// and removed with
//   npu-smi set -t destroy-vnpu -i <card id> -c <chip id> -v <vnpu id>
// (Ascend/mind-cluster docs/zh/scheduling/usage/virtual_instance.md). The
// kernel then offers /dev/vdavinci<vnpu id>. npu-smi accepts vNPU ids in
// [100 + 16 * physical id, 115 + 16 * physical id], so a chip has 16 ids.
//
// Tessera gives every vNPU it publishes (a KEP-4815 partition of the chip)
// a fixed id: slot k of the chip with physical id p is vNPU 100 + 16p + k.
// Slots are laid out per template, largest first, each template getting as
// many slots as fit the whole chip, until the 16 ids are used up. A fixed id
// means a vNPU can be found and destroyed from the device name alone (after a
// crash, with no record of the prepare) and two partitions never race for an
// id. The scheduler's counters keep the vNPUs that exist at one time within
// the chip.
//
// Template tables (AI cores, AI CPUs, memory; per chip name as DCMI reports
// it) follow the vNPU configurations published for Volcano and HAMi (volcano
// pkg/scheduler/api/devices/config, HAMi charts device-configmap.yaml),
// which mirror Huawei's template list. Chips without a table offer no vNPUs.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::drivers::npu {

struct VnpuTemplate {
  std::string_view name;  // "vir05_1c_16g"
  uint32_t aicore = 0;
  uint32_t aicpu = 0;  // 0: the template does not reserve AI CPUs
  uint64_t memory_mib = 0;
};

struct ChipTemplates {
  std::string_view chip_name;  // "910B3"
  // What vNPUs of one chip may use together (the counters).
  uint32_t aicore = 0;
  uint32_t aicpu = 0;
  uint64_t memory_mib = 0;
  std::span<const VnpuTemplate> templates;  // largest first
};

// The table for a chip name ("910B3"; case-sensitive, as DCMI reports it),
// or nullptr when the chip offers no vNPUs we know.
const ChipTemplates* FindChipTemplates(std::string_view chip_name);

// Every chip name with a table, for documentation and tests.
std::vector<std::string_view> ChipsWithTemplates();

// The template as a DNS label: "vir05_1c_16g" -> "vir05-1c-16g".
std::string TemplateLabel(std::string_view template_name);

// How many vNPUs of `t` fit one chip on their own.
uint32_t MaxInstances(const ChipTemplates& chip, const VnpuTemplate& t);

inline constexpr int kVnpuIdsPerChip = 16;
inline constexpr int kFirstVnpuId = 100;

// The first vNPU id of a chip: 100 + 16 * physical id.
int FirstVnpuIdOf(int physical_id);

struct VnpuSlot {
  const VnpuTemplate* tmpl = nullptr;
  int instance = 0;  // 0.. within its template
  int vnpu_id = 0;
};

// The chip's slots in id order, as the header describes.
std::vector<VnpuSlot> PlanVnpuSlots(const ChipTemplates& chip, int physical_id);

// npu-smi argv (argv[0] = `npu_smi`).
std::vector<std::string> CreateVnpuArgv(std::string_view npu_smi, int card_id, int chip_id,
                                        std::string_view template_name, int vnpu_id);
std::vector<std::string> DestroyVnpuArgv(std::string_view npu_smi, int card_id, int chip_id,
                                         int vnpu_id);

// "/dev/vdavinci<id>".
std::string VnpuDevicePath(int vnpu_id);

}  // namespace tessera::drivers::npu
