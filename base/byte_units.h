// Binary byte units, for sizes that vendor libraries and sysfs report in
// KiB or MiB: `memory_mib * base::kMiB`.
#pragma once

#include <cstdint>

namespace tessera::base {

inline constexpr uint64_t kKiB = uint64_t{1} << 10;
inline constexpr uint64_t kMiB = uint64_t{1} << 20;
inline constexpr uint64_t kGiB = uint64_t{1} << 30;

}  // namespace tessera::base
