#include "drivers/gpu/mig.h"

#include <algorithm>
#include <cctype>

#include "base/parse.h"
#include "base/strings.h"
#include "drivers/gpu/internal/bytes_quantity.h"

namespace tessera::drivers::gpu {
namespace {

using base::Quantity;
using base::StrCat;

constexpr std::string_view kMigInfix = "-mig-";

Quantity Count(uint64_t n) { return Quantity::FromInt(static_cast<int64_t>(n)); }
using internal::Bytes;

uint32_t MemorySlices(const std::vector<nvidia::GpuInstanceProfile>& profiles) {
  uint32_t n = 0;
  for (const auto& p : profiles) {
    for (const auto& pl : p.placements) n = std::max(n, pl.start + pl.size);
  }
  return n;
}

// Largest of one instance of the biggest profile and `count * instances`
// of any profile.
template <typename Field>
uint64_t Total(const std::vector<nvidia::GpuInstanceProfile>& profiles, Field field) {
  uint64_t total = 0;
  for (const auto& p : profiles) {
    total = std::max<uint64_t>(
        total, static_cast<uint64_t>(field(p)) * std::max<uint32_t>(1, p.instance_count));
  }
  return total;
}

}  // namespace

std::string MigProfileLabel(std::string_view profile_name) {
  std::string out;
  for (char c : profile_name) {
    if (c == '.') continue;
    if (c == '+' || c == '_') {
      out.push_back('-');
    } else if (std::isalnum(static_cast<unsigned char>(c))) {
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  return out;
}

std::string MigDeviceName(std::string_view gpu_device, std::string_view profile_name,
                          uint32_t placement_start) {
  return StrCat(gpu_device, kMigInfix, MigProfileLabel(profile_name), "-", placement_start);
}

std::string MigCounterSetName(std::string_view gpu_device) { return StrCat(gpu_device, "-mig"); }

CounterSet MigCounterSet(std::string_view gpu_device,
                         const std::vector<nvidia::GpuInstanceProfile>& profiles) {
  CounterSet set;
  set.name = MigCounterSetName(gpu_device);
  if (profiles.empty()) return set;
  const uint32_t slices = MemorySlices(profiles);
  for (uint32_t i = 0; i < slices; ++i) set.counters[StrCat("memory-slice-", i)] = Count(1);
  using P = nvidia::GpuInstanceProfile;
  set.counters["compute-slices"] = Count(Total(profiles, [](const P& p) { return p.slice_count; }));
  set.counters["memory"] = Bytes(Total(profiles, [](const P& p) { return p.memory_bytes; }));
  set.counters["multiprocessors"] =
      Count(Total(profiles, [](const P& p) { return p.multiprocessor_count; }));
  set.counters["copy-engines"] =
      Count(Total(profiles, [](const P& p) { return p.copy_engine_count; }));
  set.counters["decoders"] = Count(Total(profiles, [](const P& p) { return p.decoder_count; }));
  set.counters["encoders"] = Count(Total(profiles, [](const P& p) { return p.encoder_count; }));
  set.counters["jpeg-engines"] = Count(Total(profiles, [](const P& p) { return p.jpeg_count; }));
  set.counters["ofa-engines"] = Count(Total(profiles, [](const P& p) { return p.ofa_count; }));
  // A counter nobody consumes says nothing (and consumptions leave zeros out).
  std::erase_if(set.counters, [](const auto& kv) { return kv.second.MilliValue() == 0; });
  return set;
}

CounterConsumption MigConsumption(std::string_view gpu_device, const nvidia::GpuInstanceProfile& p,
                                  const nvidia::MigPlacement& placement) {
  CounterConsumption c;
  c.counter_set = MigCounterSetName(gpu_device);
  for (uint32_t i = placement.start; i < placement.start + placement.size; ++i) {
    c.counters[StrCat("memory-slice-", i)] = Count(1);
  }
  c.counters["compute-slices"] = Count(p.slice_count);
  c.counters["memory"] = Bytes(p.memory_bytes);
  c.counters["multiprocessors"] = Count(p.multiprocessor_count);
  c.counters["copy-engines"] = Count(p.copy_engine_count);
  c.counters["decoders"] = Count(p.decoder_count);
  c.counters["encoders"] = Count(p.encoder_count);
  c.counters["jpeg-engines"] = Count(p.jpeg_count);
  c.counters["ofa-engines"] = Count(p.ofa_count);
  // Zero amounts say nothing; leave them out (smaller slices, same meaning).
  std::erase_if(c.counters, [](const auto& kv) { return kv.second.MilliValue() == 0; });
  return c;
}

std::map<std::string, Capacity> MigCapacity(const nvidia::GpuInstanceProfile& p) {
  std::map<std::string, Capacity> cap;
  cap["memory"] = {Bytes(p.memory_bytes), std::nullopt};
  cap["multiprocessors"] = {Count(p.multiprocessor_count), std::nullopt};
  cap["copyEngines"] = {Count(p.copy_engine_count), std::nullopt};
  cap["decoders"] = {Count(p.decoder_count), std::nullopt};
  cap["encoders"] = {Count(p.encoder_count), std::nullopt};
  cap["jpegEngines"] = {Count(p.jpeg_count), std::nullopt};
  cap["ofaEngines"] = {Count(p.ofa_count), std::nullopt};
  return cap;
}

const nvidia::GpuInstanceProfile* FindProfile(
    const std::vector<nvidia::GpuInstanceProfile>& profiles, uint32_t id) {
  for (const auto& p : profiles) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

const nvidia::GpuInstanceProfile* FindProfileByLabel(
    const std::vector<nvidia::GpuInstanceProfile>& profiles, std::string_view label) {
  for (const auto& p : profiles) {
    if (MigProfileLabel(p.name) == label) return &p;
  }
  return nullptr;
}

std::optional<uint32_t> FullComputeInstanceProfile(
    const std::vector<nvidia::ComputeInstanceProfile>& profiles, uint32_t gi_slice_count) {
  for (const auto& p : profiles) {
    if (p.slice_count == gi_slice_count) return p.id;
  }
  return std::nullopt;
}

std::optional<MigDeviceRef> ParseMigDeviceName(std::string_view name) {
  const size_t at = name.rfind(kMigInfix);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = name.substr(at + kMigInfix.size());
  const size_t dash = rest.rfind('-');
  if (dash == std::string_view::npos || dash == 0) return std::nullopt;
  absl::StatusOr<uint64_t> start = base::ParseUint64(rest.substr(dash + 1));
  if (!start.ok() || *start > 64) return std::nullopt;
  return MigDeviceRef{.gpu_device = std::string(name.substr(0, at)),
                      .profile_label = std::string(rest.substr(0, dash)),
                      .placement_start = static_cast<uint32_t>(*start)};
}

}  // namespace tessera::drivers::gpu
