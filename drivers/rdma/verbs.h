// Verbs: the little the RDMA driver asks libibverbs, in our own types. Only
// what sysfs does not say is read here (a port's active and maximum MTU);
// everything else comes from sysfs (sysfs_rdma.h), which also works on
// captured and simulated nodes.
//
// IbverbsVerbs (ibverbs_verbs.h) is the adapter, the only file that includes
// <infiniband/verbs.h>; FakeVerbs (test/fakes/drivers/rdma/fake_verbs.h) is
// the in-memory double.
//
// On hosts without RDMA, libibverbs' ibv_get_device_list() returns NULL with
// errno ENOSYS (no /sys/class/infiniband_verbs/abi_version): ListDevices()
// then answers FailedPrecondition, and the driver goes on with sysfs alone.
//
// Implementations are safe for concurrent use.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace tessera::drivers::rdma {

struct VerbsDevice {
  std::string name;       // "mlx5_0"
  std::string node_guid;  // "b83f:d203:00a1:0010" (sysfs form); "" when zero
  friend bool operator==(const VerbsDevice&, const VerbsDevice&) = default;
};

// struct ibv_port_attr, the fields we use. MTUs in bytes (256..4096).
struct VerbsPort {
  uint32_t number = 0;
  int state = 0;  // enum ibv_port_state, same numbers as the kernel's
  uint32_t active_mtu = 0;
  uint32_t max_mtu = 0;
  friend bool operator==(const VerbsPort&, const VerbsPort&) = default;
};

class Verbs {
 public:
  virtual ~Verbs() = default;
  Verbs() = default;
  Verbs(const Verbs&) = delete;
  Verbs& operator=(const Verbs&) = delete;

  // The RDMA devices user space can open. FailedPrecondition when the kernel
  // has no RDMA support (ENOSYS); PermissionDenied; an empty list when the
  // kernel has RDMA but no device.
  virtual absl::StatusOr<std::vector<VerbsDevice>> ListDevices() = 0;
  // Port attributes. NotFound for an unknown device or port; Unavailable
  // when the device cannot be opened (uverbs node missing, driver gone).
  virtual absl::StatusOr<VerbsPort> QueryPort(std::string_view device, uint32_t port) = 0;
};

// enum ibv_mtu (1..5) in bytes (256..4096); 0 for anything else.
uint32_t IbvMtuBytes(int ibv_mtu);

}  // namespace tessera::drivers::rdma
