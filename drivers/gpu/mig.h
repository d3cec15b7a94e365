// MIG as ResourceSlice devices: names, capacities and the KEP-4815 counters
// of NVIDIA Multi-Instance GPU partitions. Pure functions over NVML's
// profile and instance descriptions; thread-safe.
//
// Names: "<gpu device>-mig-<profile label>-<placement start>", the profile
// label being the profile name without dots and with '+' as '-'
// ("gpu-0000-be-00-0-mig-1g10gb-me-3"). A placement is unique per profile
// and GPU, so the name is stable across reboots and identical for an
// existing instance and for the placement it occupies.
//
// Counters (one set per MIG-enabled GPU, "<gpu device>-mig", after the
// KEP-4815 MIG example, with the DNS-label names Kubernetes 1.35 requires of
// counters): memory-slice-0..N-1 (1 each), compute-slices, memory,
// multiprocessors, copy-engines, decoders, encoders, jpeg-engines, ofa-engines.
// A placement consumes the memory slices it covers and its profile's
// amounts. Totals are the largest of the full-GPU profile's amount and any
// single profile's amount times its instance count, so counters never refuse
// a combination the GPU accepts; NVML still refuses what the hardware cannot
// do (a clear prepare error).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/device_driver.h"
#include "drivers/nvidia/nvml.h"

namespace tessera::drivers::gpu {

// "1g.10gb+me" -> "1g10gb-me".
std::string MigProfileLabel(std::string_view profile_name);
std::string MigDeviceName(std::string_view gpu_device, std::string_view profile_name,
                          uint32_t placement_start);
std::string MigCounterSetName(std::string_view gpu_device);

// The counter set of one GPU; empty counters when `profiles` is empty.
CounterSet MigCounterSet(std::string_view gpu_device,
                         const std::vector<nvidia::GpuInstanceProfile>& profiles);

// What a GPU instance of `profile` at `placement` takes from that set.
CounterConsumption MigConsumption(std::string_view gpu_device,
                                  const nvidia::GpuInstanceProfile& profile,
                                  const nvidia::MigPlacement& placement);

// The capacities a MIG device shows: memory, multiprocessors and engines.
std::map<std::string, Capacity> MigCapacity(const nvidia::GpuInstanceProfile& profile);

// The profile with `id`, or nullptr.
const nvidia::GpuInstanceProfile* FindProfile(
    const std::vector<nvidia::GpuInstanceProfile>& profiles, uint32_t id);
// The profile whose MigProfileLabel is `label`, or nullptr.
const nvidia::GpuInstanceProfile* FindProfileByLabel(
    const std::vector<nvidia::GpuInstanceProfile>& profiles, std::string_view label);

// The compute instance profile spanning a whole GPU instance of
// `gi_slice_count` compute slices (what `nvidia-smi mig -cgi ... -C` makes),
// or nullopt.
std::optional<uint32_t> FullComputeInstanceProfile(
    const std::vector<nvidia::ComputeInstanceProfile>& profiles, uint32_t gi_slice_count);

// Parses the suffix of a MIG device name: "<gpu device>-mig-<label>-<start>".
struct MigDeviceRef {
  std::string gpu_device;
  std::string profile_label;
  uint32_t placement_start = 0;
};
std::optional<MigDeviceRef> ParseMigDeviceName(std::string_view name);

}  // namespace tessera::drivers::gpu
