// SharingController: the host side of NVIDIA GPU sharing, with a reference
// count per GPU, so a setting is applied for the first user and undone after
// the last.
//
//   TimeSlicing  first user:  nvidia-smi -i <gpu> -c DEFAULT
//                             nvidia-smi compute-policy -i <gpu> --set-timeslice <0..3>
//                last user:   nvidia-smi compute-policy -i <gpu> --set-timeslice 0
//   MPS          first user:  probe (a running daemon is adopted), else
//                             nvidia-smi -i <gpu> -c EXCLUSIVE_PROCESS
//                             nvidia-cuda-mps-control -d   (env CUDA_VISIBLE_DEVICES,
//                               CUDA_MPS_PIPE_DIRECTORY, CUDA_MPS_LOG_DIRECTORY)
//                every user:  the probe, restarting a daemon that died
//                last user:   echo quit | nvidia-cuda-mps-control
//                             nvidia-smi -i <gpu> -c DEFAULT
// The probe is `echo get_server_list | nvidia-cuda-mps-control` with the
// daemon's pipe directory: exit status 0 means a daemon answers there.
// One daemon per GPU, its pipe and log directories under
// <state dir>/mps/<gpu key>/{pipe,log}.
//
// A "user" is one prepared device of one claim ("<claim uid>/<device>[/<share
// id>]"); acquiring for a user that already holds the GPU runs nothing
// (idempotent prepare), releasing a user that holds nothing runs nothing
// (idempotent unprepare). Restore() rebuilds users after an agent restart
// without running anything; Reapply() runs a GPU's setup again after a
// reboot, once per GPU per process.
//
// A GPU is either time-sliced or running MPS, never both, and all its
// time-slice users share one interval; Check*() says so before anything is
// changed (FailedPrecondition naming the users in the way).
//
// Errors: FailedPrecondition when a tool is not installed (NotFound from the
// runner) or the GPU is in another mode; Internal when a tool exits non-zero
// (its stderr in the message); the runner's DeadlineExceeded. A failed MPS
// start undoes the compute-mode change.
//
// Thread-safety: safe for concurrent use (one mutex; commands run under it,
// so operations on the host are never interleaved). `runner` and `fs` must
// outlive the controller.
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "base/command_runner.h"
#include "base/filesystem.h"
#include "drivers/gpu/gpu_config.h"

namespace tessera::drivers::gpu {

struct SharingTools {
  std::string nvidia_smi = "nvidia-smi";
  std::string mps_control = "nvidia-cuda-mps-control";
  std::chrono::milliseconds timeout{30000};
};

// How the tools name one GPU.
struct GpuTarget {
  std::string key;      // stable directory name: the UUID, else the PCI bus id
  std::string smi_id;   // nvidia-smi -i: the UUID, else the PCI bus id
  std::string cuda_id;  // CUDA_VISIBLE_DEVICES for the daemon: the UUID, else the index
  friend bool operator==(const GpuTarget&, const GpuTarget&) = default;
};

struct MpsDaemon {
  std::string pipe_dir;  // host path
  std::string log_dir;   // host path
  friend bool operator==(const MpsDaemon&, const MpsDaemon&) = default;
};

class SharingController {
 public:
  SharingController(base::CommandRunner& runner, base::Filesystem& fs, SharingTools tools,
                    std::string state_dir);
  SharingController(const SharingController&) = delete;
  SharingController& operator=(const SharingController&) = delete;

  // Where the daemon of `gpu` keeps its pipe and log (no I/O).
  MpsDaemon DaemonFor(const GpuTarget& gpu) const;

  absl::Status CheckTimeSlice(const GpuTarget& gpu, TimeSliceInterval interval,
                              std::string_view user) const;
  absl::Status CheckMps(const GpuTarget& gpu, std::string_view user) const;

  absl::Status AcquireTimeSlice(const GpuTarget& gpu, TimeSliceInterval interval,
                                const std::string& user);
  absl::Status ReleaseTimeSlice(const GpuTarget& gpu, const std::string& user);
  absl::StatusOr<MpsDaemon> AcquireMps(const GpuTarget& gpu, const std::string& user);
  absl::Status ReleaseMps(const GpuTarget& gpu, const std::string& user);

  // Records users of a prepared claim found in the checkpoint.
  void RestoreTimeSlice(const GpuTarget& gpu, TimeSliceInterval interval, const std::string& user);
  void RestoreMps(const GpuTarget& gpu, const std::string& user);
  // Runs the setup of `gpu` for its current users again (after a reboot):
  // time slice re-applied, MPS daemon started unless it answers. Once per GPU
  // per controller; later calls return OK without commands.
  absl::Status Reapply(const GpuTarget& gpu);

  // Introspection (node-debug, tests).
  std::set<std::string> TimeSliceUsers(std::string_view gpu_key) const;
  std::set<std::string> MpsUsers(std::string_view gpu_key) const;

 private:
  struct GpuState {
    GpuTarget target;
    TimeSliceInterval interval = TimeSliceInterval::kDefault;
    std::set<std::string> ts_users;
    std::set<std::string> mps_users;
  };

  absl::Status CheckTimeSliceLocked(const GpuTarget& gpu, TimeSliceInterval interval,
                                    std::string_view user) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::Status CheckMpsLocked(const GpuTarget& gpu, std::string_view user) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::Status ApplyTimeSlice(const GpuTarget& gpu, TimeSliceInterval interval)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status EnsureDaemon(const GpuTarget& gpu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status StopDaemon(const GpuTarget& gpu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<bool> DaemonAnswers(const GpuTarget& gpu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs a tool; non-zero exit is Internal with stderr; NotFound becomes
  // FailedPrecondition "<tool> not found".
  absl::Status RunTool(const base::Command& command, std::string_view what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  GpuState& State(const GpuTarget& gpu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const GpuState* FindState(std::string_view key) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  base::CommandRunner& runner_;
  base::Filesystem& fs_;
  const SharingTools tools_;
  const std::string state_dir_;

  mutable absl::Mutex mu_;
  std::map<std::string, GpuState, std::less<>> gpus_ ABSL_GUARDED_BY(mu_);
  std::set<std::string, std::less<>> reapplied_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::drivers::gpu
