// NpuDriver: the DeviceDriver of family "npu" (driver npu.<domain>): Huawei
// Ascend, Intel Gaudi and Linux accel-class NPUs (discovery.h), with Ascend
// vNPUs as KEP-4815 partitions when enabled.
//
// Enumerate loads the node model, asks the vendor libraries (DCMI for Ascend,
// HLML for Gaudi; each dlopen()ed only when devices of its vendor exist, and
// retried on later scans while missing) and builds the inventory. A missing
// library is a degraded mode, not an error: the devices are listed from
// sysfs, without vNPUs, with a warn log once and
// tessera_npu_vendor_library_missing{library} = 1. A node without NPUs
// lists nothing, loads nothing and logs nothing above debug.
//
// PrepareClaim validates everything first (device known and preparable,
// configs, device nodes present, vNPU counters), then creates the claim's
// vNPUs with npu-smi (base::CommandRunner), rolling back the ones it made if
// a later one fails. Container edits per device: its nodes; per claim: the
// vendor's shared nodes and visibility variables:
//   ascend  /dev/davinci<N> (vNPU: /dev/vdavinci<id>); shared
//           /dev/davinci_manager, /dev/devmm_svm, /dev/hisi_hdc;
//           ASCEND_VISIBLE_DEVICES=<ids> (+ ASCEND_RUNTIME_OPTIONS=VIRTUAL for
//           vNPUs); /etc/hccn.conf mounted read-only when present.
//   gaudi   /dev/accel/accel<N>, /dev/accel/accel_controlD<N>,
//           /dev/infiniband/uverbs<M>; HABANA_VISIBLE_DEVICES=<N,...>,
//           HABANA_VISIBLE_MODULES=<module ids>.
//   accel   /dev/accel/accel<N>; TESSERA_ACCEL_VISIBLE_DEVICES=<N,...>.
// A claim may not mix whole Ascend NPUs with vNPUs (ASCEND_RUNTIME_OPTIONS
// applies to the whole container). With a dev root, CDI host paths are
// "<dev root>/dev/..."; device nodes are checked there (else under the host
// root).
//
// Errors of PrepareClaim: NotFound (no such device on this node),
// InvalidArgument (config, mixing), FailedPrecondition (device not
// preparable, node missing, vNPU conflicts with a whole-NPU claim or slot in
// use, npu-smi failed), ResourceExhausted (the chip's vNPU counters would be
// exceeded).
//
// Thread-safety: safe for concurrent use; claim operations and scans are
// serialized where they touch shared state. Lifetime: the deps' pointers
// must outlive the driver.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "base/command_runner.h"
#include "base/filesystem.h"
#include "base/metrics.h"
#include "base/sysfs.h"
#include "drivers/device_driver.h"
#include "drivers/npu/dcmi.h"
#include "drivers/npu/discovery.h"
#include "drivers/npu/hlml.h"
#include "topology/model.h"

namespace tessera::drivers::npu {

inline constexpr std::string_view kFamily = "npu";

// What the agent does with the NPU driver on a node without NPUs
// (--npu-when-absent): run it idle (an empty pool is published, so the
// scheduler sees the node has none) or not start it at all.
enum class AbsentPolicy { kIdle, kSkip };
std::optional<AbsentPolicy> ParseAbsentPolicy(std::string_view text);  // "idle", "skip"
std::string_view AbsentPolicyName(AbsentPolicy policy);

struct NpuDriverOptions {
  std::string domain = "tessera.dev";
  // Prefix of the host's /dev for device nodes: "" on a node; a simulated
  // node's dev root in tests and simulations. CDI host paths carry it.
  std::string dev_root;
  // Where the host's filesystem is visible to the agent ("/" on a node,
  // $HOST_ROOT in a container, the capture root when simulated): device
  // nodes are checked and etc/hccn.conf is read under it.
  std::string host_root = "/";
  // Simulated node: only vendor libraries given as paths (with a '/') are
  // loaded, and mounts use host paths under host_root (the capture lives on
  // the runtime's host).
  bool simulated = false;
  // KEP-4815: counter sets per Ascend chip and its vNPUs as partitions.
  bool publish_partitions = false;
  // dlopen() targets; "" never loads that library.
  std::string dcmi_library = std::string(kDefaultDcmiLibrary);
  std::string hlml_library = std::string(kDefaultHlmlLibrary);
  // The npu-smi executable (a name looked up in PATH, or a path).
  std::string npu_smi = "npu-smi";
  std::chrono::milliseconds npu_smi_timeout{60000};
};

struct NpuDriverDeps {
  // Loads the node model; called on every Enumerate (and by a prepare that
  // names a device the last scan did not see).
  std::function<absl::StatusOr<topology::NodeTopology>()> load_topology;
  const base::Sysfs* sysfs = nullptr;          // sysfs root; null for hwloc XML models
  base::Filesystem* fs = nullptr;              // REQUIRES: not null
  base::CommandRunner* runner = nullptr;       // REQUIRES: not null
  base::metrics::Registry* metrics = nullptr;  // REQUIRES: not null
};

class NpuDriver final : public DeviceDriver {
 public:
  // InvalidArgument when a required dependency is missing or the domain is
  // empty. Loads nothing yet (the first Enumerate does).
  static absl::StatusOr<std::unique_ptr<NpuDriver>> Create(NpuDriverOptions options,
                                                           NpuDriverDeps deps);
  ~NpuDriver() override;

  std::string_view family() const override { return kFamily; }
  // The device nodes of the NPUs of the last scan (Enumerate), and the
  // Ascend shared nodes when there is an Ascend NPU.
  std::vector<std::string> DeviceNodePaths() const override;
  absl::StatusOr<Inventory> Enumerate() override;
  absl::StatusOr<PreparedClaim> PrepareClaim(const ClaimPrepareRequest& request) override;
  bool HasSideEffects(const ClaimPrepareRequest& request) const override;
  absl::Status UnprepareClaim(std::string_view claim_uid, const PreparedClaim& prepared) override;
  absl::Status RestoreState(
      const std::vector<std::pair<std::string, PreparedClaim>>& prepared_claims) override;
  absl::Status ReapplyClaim(std::string_view claim_uid, const PreparedClaim& prepared) override;

  // The records of the last scan, by name (for node-debug and tests).
  std::vector<NpuRecord> LastScan() const;

  struct Stats;

 private:
  struct DeviceRef;
  struct ChipUsage;
  struct VnpuOp;

  NpuDriver(NpuDriverOptions options, NpuDriverDeps deps);

  absl::StatusOr<std::vector<NpuRecord>> Scan();
  absl::StatusOr<const Dcmi*> EnsureDcmi() ABSL_EXCLUSIVE_LOCKS_REQUIRED(libs_mu_);
  absl::StatusOr<const Hlml*> EnsureHlml() ABSL_EXCLUSIVE_LOCKS_REQUIRED(libs_mu_);
  void SetLibraryMissing(std::string_view library, bool missing, const absl::Status& why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(libs_mu_);

  absl::StatusOr<DeviceRef> Resolve(std::string_view device) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool NeedsScan(const std::vector<std::string>& devices) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string CheckPath(std::string_view container_path) const;
  std::string CdiHostPath(std::string_view container_path) const;
  absl::Status RunNpuSmi(const std::vector<std::string>& argv, std::string_view operation);
  absl::Status CreateVnpu(const VnpuOp& op);
  absl::Status DestroyVnpu(const VnpuOp& op);
  // Recomputes usage_ from prepared_.
  void RebuildUsage() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const NpuDriverOptions options_;
  const NpuDriverDeps deps_;
  std::unique_ptr<Stats> stats_;

  mutable absl::Mutex libs_mu_;
  std::unique_ptr<Dcmi> dcmi_ ABSL_GUARDED_BY(libs_mu_);
  std::unique_ptr<Hlml> hlml_ ABSL_GUARDED_BY(libs_mu_);
  std::set<std::string> warned_missing_ ABSL_GUARDED_BY(libs_mu_);

  mutable absl::Mutex mu_;
  bool scanned_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, NpuRecord> records_ ABSL_GUARDED_BY(mu_);
  // Partition device name -> (npu name, index into its partitions).
  std::map<std::string, std::pair<std::string, size_t>> partitions_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, PreparedClaim> prepared_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, ChipUsage> usage_ ABSL_GUARDED_BY(mu_);  // by npu name
};

}  // namespace tessera::drivers::npu
