// Log(): the "gpu" logger of the GPU driver, shared by its .cc files
// (one definition, so that they can share a unity build's translation unit).
// Module-private.
#pragma once

#include <memory>

#include "spdlog/spdlog.h"

#include "base/log.h"

namespace tessera::drivers::gpu::internal {

inline spdlog::logger& Log() {
  static const std::shared_ptr<spdlog::logger> logger = base::log::Get("gpu");
  return *logger;
}

}  // namespace tessera::drivers::gpu::internal
