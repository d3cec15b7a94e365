// GpuDriver: the "gpu" family (driver gpu.<domain>). Lists the node's GPUs
// (NVIDIA, AMD, Intel) as ResourceSlice devices and prepares claims on them:
// whole GPUs, time-sliced or MPS-shared GPUs, shares by consumable capacity
// enforced with MPS limits, and NVIDIA MIG partitions (existing instances, or
// created on demand with the partitionable-devices flag). docs/gpu.md is the
// user reference; drivers/gpu/README.md the module map.
//
// Devices:
//   whole GPU   "gpu-DDDD-BB-DD-F" (drivers/naming.h), not for a MIG-enabled GPU
//   MIG         "<gpu>-mig-<profile>-<placement start>" (mig.h): the instances
//               that exist, or with `publish_partitionable` on a MIG-enabled
//               GPU that has no foreign instances, every profile placement,
//               consuming the GPU's counter set (KEP-4815).
// With `publish_consumable_capacity`, MPS-capable whole GPUs are published
// with allowMultipleAllocations and capacities memory and compute (percent)
// with request policies (KEP-5075); each share is prepared as an MPS client
// limited to what it consumed.
//
// PrepareClaim is all-or-nothing: it discovers, resolves every device's
// GpuConfig and checks every combination before changing anything; then it
// creates MIG instances, applies time slices and starts MPS daemons, undoing
// what it did when a later step fails. Errors are per claim and name the
// request: InvalidArgument (config, combination, limits), NotFound (device
// not on this node), FailedPrecondition (not preparable, GPU in another
// sharing mode, MIG placement taken, a tool missing), or the code of the
// failed NVML call or tool. PreparedDevice::state records what was done
// (sharing mode, MPS daemon, MIG instance ids) for Unprepare, RestoreState
// and ReapplyClaim.
//
// Thread-safety: safe for concurrent use; claim operations are serialized by
// an internal mutex (the agent serializes them as well), Enumerate runs
// beside them. Lifetime: every reference in GpuDriverDeps must outlive the
// driver.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "base/clock.h"
#include "base/command_runner.h"
#include "base/filesystem.h"
#include "base/sysfs.h"
#include "drivers/device_driver.h"
#include "drivers/gpu/discovery.h"
#include "drivers/gpu/gpu_config.h"
#include "drivers/gpu/ledger.h"
#include "drivers/gpu/sharing.h"
#include "drivers/nvidia/nvml.h"
#include "topology/model.h"

namespace tessera::drivers::gpu {

inline constexpr std::string_view kFamily = "gpu";
// Where an MPS client finds its daemon inside the container.
inline constexpr std::string_view kMpsPipeContainerPath = "/tmp/nvidia-mps";

struct GpuDriverOptions {
  std::string domain =
      "tessera.dev";  // driver gpu.<domain>, config apiVersion gpu.<domain>/v1alpha1
  // Host prefix of device nodes: a container's /dev/nvidia0 is
  // <dev_root>/nvidia0 on the host. Empty: the host's /dev (seen by the agent
  // under <host_root>/dev).
  std::string dev_root;
  std::string host_root = "/";
  // MPS pipe and log directories live in <state_dir>/mps/<gpu>/.
  std::string state_dir = "/var/lib/tessera/gpu";
  // A simulated or captured node (--sysfs-root / --hwloc-xml): GPUs are
  // preparable without NVML and no driver libraries are injected.
  bool simulated = false;
  bool publish_partitionable = false;        // KEP-4815 MIG placements
  bool publish_consumable_capacity = false;  // KEP-5075 shares
  SharingTools tools;
  // Host path mounted at /dev/shm of MPS clients (the MPS daemon's /dev/shm);
  // empty: not mounted.
  std::string mps_shm_dir;
  // Inject the NVIDIA driver's user-space libraries and nvidia-smi
  // (read-only) on a live host with NVML.
  bool inject_driver_files = true;
  // Granularity of memory shares (KEP-5075 requestPolicy step and minimum):
  // requests are rounded up to it, and the largest share is the GPU's memory
  // rounded down to it. 1Mi: MPS limits memory in MiB.
  uint64_t memory_share_step_bytes = uint64_t{1} << 20;
};

struct GpuDriverDeps {
  std::shared_ptr<const topology::NodeTopology> topology;
  const base::Sysfs& sysfs;       // vendor sysfs (amdgpu, i915/xe, KFD)
  nvidia::Nvml* nvml = nullptr;   // null: no NVML (degraded on a live host)
  std::string nvml_error;         // why nvml is null, for health messages
  base::CommandRunner& commands;  // nvidia-smi, nvidia-cuda-mps-control
  base::Filesystem& fs;           // state dir, device nodes, driver files
  base::Clock& clock;
};

class GpuDriver final : public DeviceDriver {
 public:
  // InvalidArgument for a bad domain or a null topology.
  static absl::StatusOr<std::unique_ptr<GpuDriver>> Create(GpuDriverOptions options,
                                                           GpuDriverDeps deps);
  ~GpuDriver() override;

  std::string_view family() const override { return kFamily; }
  absl::StatusOr<Inventory> Enumerate() override;
  absl::StatusOr<PreparedClaim> PrepareClaim(const ClaimPrepareRequest& request) override;
  bool HasSideEffects(const ClaimPrepareRequest& request) const override;
  absl::Status UnprepareClaim(std::string_view claim_uid, const PreparedClaim& prepared) override;
  absl::Status RestoreState(
      const std::vector<std::pair<std::string, PreparedClaim>>& prepared_claims) override;
  absl::Status ReapplyClaim(std::string_view claim_uid, const PreparedClaim& prepared) override;

  // A new node model after a rescan. Thread-safe.
  void UpdateTopology(std::shared_ptr<const topology::NodeTopology> topology);
  // The GPUs as discovered now (node-debug).
  Discovery Discover() const;
  // Every device node a container of this node may be given, relative to
  // /dev ("nvidia0", "nvidiactl", "nvidia-caps/nvidia-cap12", "dri/card1",
  // "kfd"): what MaterializeDeviceNodes creates for a simulated node.
  std::vector<std::string> DeviceNodePaths() const override;
  const SharingController& sharing() const { return *sharing_; }
  const GpuDriverOptions& options() const { return options_; }

  struct Target;  // a device of the inventory, resolved (defined in the .cc)
  struct Plan;    // what PrepareClaim will do for one device

 private:
  GpuDriver(GpuDriverOptions options, GpuDriverDeps deps, std::unique_ptr<HostLedger> ledger);

  // Discovery + the inventory and the target behind each device name.
  struct Snapshot;
  Snapshot TakeSnapshot() const;

  absl::StatusOr<std::vector<Plan>> PlanClaim(const ClaimPrepareRequest& request,
                                              const Snapshot& snapshot) const;
  absl::Status CheckDeviceNodes(const std::vector<Plan>& plans) const;
  absl::Status Apply(Plan& plan);
  absl::Status ApplyMig(Plan& plan);
  // Undoes one device from its recorded state (or, for a prepare that never
  // returned, from its name); idempotent.
  absl::Status Undo(std::string_view claim_uid, const PreparedDevice& device);
  // Undoes everything the ledger (or, when it has nothing, `recorded`) says
  // `user` holds on the host.
  absl::Status UndoUser(const std::string& user, const nlohmann::json* recorded);
  absl::StatusOr<PreparedClaim> BuildResult(const ClaimPrepareRequest& request,
                                            const std::vector<Plan>& plans,
                                            const Snapshot& snapshot) const;
  // Destroys the instance a ledger entry names (by id, or by placement and
  // profile when the id was never recorded); NotFound counts as done.
  absl::Status DestroyMig(const LedgerEntry& entry);
  // Whether this driver made GPU instance `gi` at `placement` on `gpu_key`.
  bool OwnsInstance(const std::string& gpu_key, const nvidia::GpuInstance& gi) const;
  std::optional<std::string> InstanceOwner(const std::string& gpu_key,
                                           const nvidia::GpuInstance& gi) const;
  absl::StatusOr<uint32_t> NvmlIndexFor(const std::string& gpu_key,
                                        const std::string& pci_bus_id) const;
  // /dev/<rel> for a container, with the host path under dev_root.
  base::DeviceNode Node(std::string_view rel) const;
  // Where the agent checks that /dev/<rel> exists on the host.
  std::string NodeCheckPath(std::string_view rel) const;

  const GpuDriverOptions options_;
  const base::Sysfs& sysfs_;
  nvidia::Nvml* const nvml_;
  const std::string nvml_error_;
  base::Filesystem& fs_;
  base::Clock& clock_;
  std::unique_ptr<SharingController> sharing_;

  mutable absl::Mutex topology_mu_;
  std::shared_ptr<const topology::NodeTopology> topology_ ABSL_GUARDED_BY(topology_mu_);

  absl::Mutex claims_mu_;  // serializes claim operations

  // What this driver changed on the host, durable (ledger.h). MIG instances
  // not in it are foreign.
  std::unique_ptr<HostLedger> ledger_;
};

// The user key of one prepared device in the SharingController.
std::string SharingUser(std::string_view claim_uid, std::string_view device,
                        std::string_view share_id);

}  // namespace tessera::drivers::gpu
