// Bytes(n): n bytes as a binarySI Quantity ("80Gi"), the form in which the GPU
// driver publishes memory capacities and counters. Module-private.
#pragma once

#include <cstdint>

#include "base/quantity.h"

namespace tessera::drivers::gpu::internal {

inline base::Quantity Bytes(uint64_t n) {
  return base::Quantity::FromInt(static_cast<int64_t>(n), base::Quantity::Format::kBinarySI);
}

}  // namespace tessera::drivers::gpu::internal
