// Log(): the "rdma" logger of the RDMA driver, shared by its .cc files
// (one definition, so that they can share a unity build's translation unit).
// Module-private.
#pragma once

#include <memory>

#include "spdlog/spdlog.h"

#include "base/log.h"

namespace tessera::drivers::rdma::internal {

// Never destroyed (as before: no destructor of it runs at exit).
inline std::shared_ptr<spdlog::logger> Log() {
  static const auto* log = new std::shared_ptr<spdlog::logger>(base::log::Get("rdma"));
  return *log;
}

}  // namespace tessera::drivers::rdma::internal
