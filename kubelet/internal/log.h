// Log(): the "kubelet" logger of the kubelet layer, shared by its .cc files
// (one definition, so that they can share a unity build's translation unit).
// Module-private.
#pragma once

#include <memory>

#include "spdlog/spdlog.h"

#include "base/log.h"

namespace tessera::kubelet::internal {

inline spdlog::logger& Log() {
  static const std::shared_ptr<spdlog::logger> logger = base::log::Get("kubelet");
  return *logger;
}

}  // namespace tessera::kubelet::internal
