// DeviceDriver: the interface every device family (GPU, RDMA NIC, NPU)
// implements. The agent runs one kubelet plugin per driver; each plugin lists
// devices through Enumerate() and prepares claims through PrepareClaim().
//
// Devices are described in the shape of resource.k8s.io/v1 ResourceSlice
// devices (names, attributes, capacities, counters), but without any
// Kubernetes encoding: the publisher in agent/kube turns them into slices.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "base/container_edits.h"
#include "base/quantity.h"
#include "nlohmann/json.hpp"

namespace tessera::drivers {

// A semantic version attribute value ("12.4.0"); a distinct type so that the
// publisher emits {"version": ...} rather than {"string": ...}.
struct Version {
  std::string value;
  friend bool operator==(const Version&, const Version&) = default;
};

// Exactly one of int, bool, string, version (resource.k8s.io/v1 DeviceAttribute).
using AttributeValue = std::variant<int64_t, bool, std::string, Version>;

struct ValidRange {
  base::Quantity min;
  std::optional<base::Quantity> max;
  std::optional<base::Quantity> step;
  friend bool operator==(const ValidRange&, const ValidRange&) = default;
};

// KEP-5075: how a request for part of a capacity is rounded.
struct RequestPolicy {
  std::optional<base::Quantity> default_value;
  std::vector<base::Quantity> valid_values;  // ascending; exclusive with valid_range
  std::optional<ValidRange> valid_range;
  friend bool operator==(const RequestPolicy&, const RequestPolicy&) = default;
};

struct Capacity {
  base::Quantity value;
  std::optional<RequestPolicy> request_policy;  // only with allow_multiple_allocations
  friend bool operator==(const Capacity&, const Capacity&) = default;
};

// KEP-4815: a named set of counters (one per physical device being partitioned).
struct CounterSet {
  std::string name;  // DNS label, unique in the pool
  std::map<std::string, base::Quantity> counters;
  friend bool operator==(const CounterSet&, const CounterSet&) = default;
};

struct CounterConsumption {
  std::string counter_set;
  std::map<std::string, base::Quantity> counters;
  friend bool operator==(const CounterConsumption&, const CounterConsumption&) = default;
};

enum class Health { kUnknown, kHealthy, kUnhealthy };

struct Taint {
  std::string key;    // label name, e.g. "rdma.tessera.dev/link-down"
  std::string value;  // optional
  std::string effect; // "None", "NoSchedule", "NoExecute"
  friend bool operator==(const Taint&, const Taint&) = default;
};

struct Device {
  std::string name;  // DNS label, unique within the driver's pool
  // Keys are qualified names. A key without a domain ("uuid") belongs to the
  // driver's domain; standard ones are written in full
  // ("resource.kubernetes.io/pcieRoot"). See drivers/attributes.h.
  std::map<std::string, AttributeValue> attributes;
  std::map<std::string, Capacity> capacity;
  std::vector<CounterConsumption> consumes_counters;  // KEP-4815, behind a flag
  bool allow_multiple_allocations = false;            // KEP-5075, behind a flag
  std::vector<Taint> taints;
  Health health = Health::kHealthy;
  std::string health_message;  // why, when not healthy
  friend bool operator==(const Device&, const Device&) = default;
};

struct Inventory {
  std::vector<Device> devices;          // sorted by name
  std::vector<CounterSet> counter_sets;  // sorted by name
  friend bool operator==(const Inventory&, const Inventory&) = default;
};

// One opaque configuration entry that applies to a device (this driver's
// entries only, FromClass before FromClaim, in claim order).
struct OpaqueConfig {
  std::string source;  // "FromClass" or "FromClaim"
  nlohmann::json parameters;
};

// One allocated device of a claim, for this driver.
struct DeviceAllocation {
  std::string request;  // base request name ("gpu" for "gpu/small")
  std::string device;   // device name in this driver's pool
  std::string share_id; // KEP-5075 share, "" when the device is not shared by capacity
  std::map<std::string, base::Quantity> consumed_capacity;
  bool admin_access = false;
  std::vector<OpaqueConfig> configs;
};

// A device of the same claim allocated from another of our drivers (the agent
// runs them in one process), so a driver can emit alignment glue such as
// NCCL_IB_HCA for the NICs paired with a GPU.
struct PeerDevice {
  std::string driver;  // full driver name, "rdma.tessera.dev"
  std::string device;
  std::string request;
};

struct ClaimPrepareRequest {
  std::string claim_uid;
  std::string claim_namespace;
  std::string claim_name;
  std::vector<DeviceAllocation> devices;  // this driver's results, in claim order
  std::vector<PeerDevice> peers;
};

struct PreparedDevice {
  std::string request;
  std::string device;
  std::string share_id;
  base::ContainerEdits edits;
  // Driver-private record of what was done (MIG instance ids, moved link and
  // its original settings, ...). Persisted in the checkpoint and handed back
  // to UnprepareClaim and ReapplyClaim; must be enough to undo the prepare
  // after a restart of the agent.
  nlohmann::json state = nlohmann::json::object();
};

struct PreparedClaim {
  std::vector<PreparedDevice> devices;
  // Edits that apply once per claim (shared device nodes, alignment env).
  base::ContainerEdits claim_edits;
};

// Safe for concurrent use of Enumerate with the claim operations; the agent
// serializes PrepareClaim / UnprepareClaim / ReapplyClaim per driver, as the
// kubelet contract requires.
class DeviceDriver {
 public:
  virtual ~DeviceDriver() = default;
  DeviceDriver() = default;
  DeviceDriver(const DeviceDriver&) = delete;
  DeviceDriver& operator=(const DeviceDriver&) = delete;

  // "gpu", "rdma", "npu": the driver name is "<family>.<domain>".
  virtual std::string_view family() const = 0;

  // Lists the node's devices now. Cheap enough to call on every rescan.
  // A missing vendor library or kernel module is not an error: it yields the
  // devices that can still be seen, marked unhealthy or not preparable, and a
  // warning in the health message.
  virtual absl::StatusOr<Inventory> Enumerate() = 0;

  // Prepares every device of one claim. All-or-nothing: on error nothing the
  // call changed on the host remains. Validates configs before changing
  // anything (InvalidArgument naming the request and the field).
  // Idempotent: called again for a claim it already prepared (after a crash
  // left it half done), it returns the same result without duplicating work.
  virtual absl::StatusOr<PreparedClaim> PrepareClaim(const ClaimPrepareRequest& request) = 0;

  // Whether PrepareClaim for this request changes host state that would need
  // rollback after a crash (MIG, MPS, netdev moves, time-slice settings).
  // The agent records a PrepareStarted checkpoint phase only when it does.
  virtual bool HasSideEffects(const ClaimPrepareRequest& request) const = 0;

  // Undoes PrepareClaim. Idempotent; succeeds for state already undone.
  virtual absl::Status UnprepareClaim(std::string_view claim_uid,
                                      const PreparedClaim& prepared) = 0;

  // Every device node (relative to /dev: "nvidia0", "infiniband/uverbs3")
  // a container of this driver may be given on this node. A simulated node
  // materializes them under --dev-root. Default: none.
  virtual std::vector<std::string> DeviceNodePaths() const { return {}; }

  // Called once at start, before any claim operation, with every claim the
  // checkpoint holds as prepared for this driver, so the driver can rebuild
  // what it keeps in memory (reference counts of MPS daemons and time-slice
  // settings, moved links). Default: nothing to rebuild.
  virtual absl::Status RestoreState(
      const std::vector<std::pair<std::string, PreparedClaim>>& prepared_claims) {
    (void)prepared_claims;
    return absl::OkStatus();
  }

  // Re-applies host state of a prepared claim after a reboot (the boot id
  // changed) or when the agent finds it missing. Default: nothing to do.
  virtual absl::Status ReapplyClaim(std::string_view claim_uid, const PreparedClaim& prepared) {
    (void)claim_uid;
    (void)prepared;
    return absl::OkStatus();
  }
};

}  // namespace tessera::drivers
