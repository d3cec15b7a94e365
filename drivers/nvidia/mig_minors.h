// MigMinors: the /dev/nvidia-caps minor numbers of MIG instances, as the
// NVIDIA kernel driver publishes them in /proc/driver/nvidia-caps/mig-minors.
//
// A container that uses a MIG device needs, besides /dev/nvidia<gpu minor>,
// the capability device nodes /dev/nvidia-caps/nvidia-cap<N> of its GPU
// instance and of its compute instance. The file maps capability names to N:
//   config 1
//   monitor 2
//   gpu0/gi0/access 3
//   gpu0/gi0/ci0/access 4
// where "gpu<M>" is the GPU's minor number (not its NVML index). Format as
// documented in NVIDIA's MIG user guide ("/dev based nvidia-capabilities") and
// read the same way by nvidia-container-toolkit (internal/nvcaps).
//
// Parsing is separate from reading (house style §2.2): ParseMigMinors is pure;
// ReadMigMinors goes through the base::Filesystem seam.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

#include "absl/status/statusor.h"

#include "base/filesystem.h"

namespace tessera::drivers::nvidia {

class MigMinors {
 public:
  std::optional<uint32_t> config() const { return config_; }
  std::optional<uint32_t> monitor() const { return monitor_; }
  // nullopt when the file has no line for that instance.
  std::optional<uint32_t> GpuInstance(uint32_t gpu_minor, uint32_t gi) const;
  std::optional<uint32_t> ComputeInstance(uint32_t gpu_minor, uint32_t gi, uint32_t ci) const;
  size_t size() const;

 private:
  friend absl::StatusOr<MigMinors> ParseMigMinors(std::string_view text);
  std::optional<uint32_t> config_;
  std::optional<uint32_t> monitor_;
  std::map<std::tuple<uint32_t, uint32_t>, uint32_t> gpu_instances_;
  std::map<std::tuple<uint32_t, uint32_t, uint32_t>, uint32_t> compute_instances_;
};

// Parses the file's text. Blank lines are skipped; a malformed line, a name
// seen twice or a minor outside 0..2^20 (the kernel's MINORBITS) is
// InvalidArgument naming the line number. Unknown but well-formed names
// ("fabric-imex-mgmt 7" on newer drivers) are ignored.
absl::StatusOr<MigMinors> ParseMigMinors(std::string_view text);

// Reads and parses `path` through `fs`. NotFound when the file is absent (no
// MIG-capable driver loaded).
absl::StatusOr<MigMinors> ReadMigMinors(const base::Filesystem& fs, const std::string& path);

}  // namespace tessera::drivers::nvidia
