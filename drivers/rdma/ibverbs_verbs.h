// IbverbsVerbs: the Verbs seam over libibverbs (rdma-core). The library reads
// the sysfs tree named by $SYSFS_PATH (default /sys) once, at its first call,
// and opens /dev/infiniband/uverbs<N> to query ports.
//
// Thread-safe: calls are serialized by an internal mutex (libibverbs'
// device list is process-global and ibv_open_device is cheap).
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

#include "drivers/rdma/verbs.h"

namespace tessera::drivers::rdma {

class IbverbsVerbs final : public Verbs {
 public:
  IbverbsVerbs() = default;

  absl::StatusOr<std::vector<VerbsDevice>> ListDevices() override;
  absl::StatusOr<VerbsPort> QueryPort(std::string_view device, uint32_t port) override;

 private:
  absl::Mutex mu_;
};

// The Status for ibv_get_device_list() returning NULL with `error_number`
// (ENOSYS on kernels without RDMA: FailedPrecondition).
absl::Status DeviceListError(int error_number);

}  // namespace tessera::drivers::rdma
