// Log(): the "npu" logger of the NPU driver, shared by its .cc files
// (one definition, so that they can share a unity build's translation unit).
// Module-private.
#pragma once

#include <memory>

#include "spdlog/spdlog.h"

#include "base/log.h"

namespace tessera::drivers::npu::internal {

inline std::shared_ptr<spdlog::logger> Log() {
  static const std::shared_ptr<spdlog::logger> log = base::log::Get("npu");
  return log;
}

}  // namespace tessera::drivers::npu::internal
