#include "drivers/gpu/sharing.h"

#include "base/log.h"
#include "base/parse.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "drivers/gpu/internal/log.h"

namespace tessera::drivers::gpu {
namespace {

using base::StrCat;

using internal::Log;

std::string Users(const std::set<std::string>& users) { return base::Join(users, ", "); }

// The last line(s) of a tool's output, for an error message.
std::string Tail(const base::CommandResult& r) {
  std::string_view text = base::StripWhitespace(r.stderr_data);
  if (text.empty()) text = base::StripWhitespace(r.stdout_data);
  if (text.size() > 512) text = text.substr(text.size() - 512);
  return std::string(text);
}

}  // namespace

SharingController::SharingController(base::CommandRunner& runner, base::Filesystem& fs,
                                     SharingTools tools, std::string state_dir)
    : runner_(runner), fs_(fs), tools_(std::move(tools)), state_dir_(std::move(state_dir)) {}

MpsDaemon SharingController::DaemonFor(const GpuTarget& gpu) const {
  const std::string base = StrCat(state_dir_, "/mps/", gpu.key);
  return {.pipe_dir = base + "/pipe", .log_dir = base + "/log"};
}

SharingController::GpuState& SharingController::State(const GpuTarget& gpu) {
  GpuState& s = gpus_[gpu.key];
  s.target = gpu;
  return s;
}

const SharingController::GpuState* SharingController::FindState(std::string_view key) const {
  auto it = gpus_.find(key);
  return it == gpus_.end() ? nullptr : &it->second;
}

absl::Status SharingController::RunTool(const base::Command& command, std::string_view what) {
  absl::StatusOr<base::CommandResult> r = runner_.Run(command);
  if (!r.ok()) {
    if (absl::IsNotFound(r.status())) {
      return absl::FailedPreconditionError(
          StrCat(what, ": ", command.argv.front(), " not found on this node"));
    }
    return base::Annotate(r.status(), what);
  }
  if (r->exit_code != 0) {
    std::string tail = Tail(*r);
    return absl::InternalError(StrCat(what, ": ", base::Join(command.argv, " "),
                                      " exited with status ", r->exit_code,
                                      tail.empty() ? "" : ": ", tail));
  }
  return absl::OkStatus();
}

absl::Status SharingController::CheckTimeSliceLocked(const GpuTarget& gpu,
                                                     TimeSliceInterval interval,
                                                     std::string_view user) const {
  const GpuState* s = FindState(gpu.key);
  if (s == nullptr) return absl::OkStatus();
  if (!s->mps_users.empty()) {
    return absl::FailedPreconditionError(StrCat("GPU ", gpu.key, " runs an MPS daemon for ",
                                                Users(s->mps_users),
                                                "; it cannot be time-sliced at the same time"));
  }
  std::set<std::string> others = s->ts_users;
  others.erase(std::string(user));
  if (!others.empty() && s->interval != interval) {
    return absl::FailedPreconditionError(StrCat(
        "GPU ", gpu.key, " is time-sliced with interval ", TimeSliceIntervalName(s->interval),
        " for ", Users(others), "; interval ", TimeSliceIntervalName(interval), " cannot be set"));
  }
  return absl::OkStatus();
}

absl::Status SharingController::CheckMpsLocked(const GpuTarget& gpu, std::string_view) const {
  const GpuState* s = FindState(gpu.key);
  if (s == nullptr || s->ts_users.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(StrCat("GPU ", gpu.key, " is time-sliced for ",
                                              Users(s->ts_users),
                                              "; MPS cannot run on it at the same time"));
}

absl::Status SharingController::CheckTimeSlice(const GpuTarget& gpu, TimeSliceInterval interval,
                                               std::string_view user) const {
  absl::ReaderMutexLock lock(&mu_);
  return CheckTimeSliceLocked(gpu, interval, user);
}

absl::Status SharingController::CheckMps(const GpuTarget& gpu, std::string_view user) const {
  absl::ReaderMutexLock lock(&mu_);
  return CheckMpsLocked(gpu, user);
}

absl::Status SharingController::ApplyTimeSlice(const GpuTarget& gpu, TimeSliceInterval interval) {
  // The time slice applies to processes of the default compute mode
  // (sharing.go of the NVIDIA DRA driver does the same two steps).
  RETURN_IF_ERROR(RunTool(
      {.argv = {tools_.nvidia_smi, "-i", gpu.smi_id, "-c", "DEFAULT"}, .timeout = tools_.timeout},
      StrCat("set compute mode DEFAULT on GPU ", gpu.key)));
  return RunTool({.argv = {tools_.nvidia_smi, "compute-policy", "-i", gpu.smi_id, "--set-timeslice",
                           std::to_string(static_cast<int>(interval))},
                  .timeout = tools_.timeout},
                 StrCat("set time slice ", TimeSliceIntervalName(interval), " on GPU ", gpu.key));
}

absl::Status SharingController::AcquireTimeSlice(const GpuTarget& gpu, TimeSliceInterval interval,
                                                 const std::string& user) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(CheckTimeSliceLocked(gpu, interval, user));
  GpuState& s = State(gpu);
  if (s.ts_users.count(user) > 0) return absl::OkStatus();
  if (s.ts_users.empty()) {
    RETURN_IF_ERROR(ApplyTimeSlice(gpu, interval));
    s.interval = interval;
    Log().info("time-sliced gpu={} interval={}", gpu.key, TimeSliceIntervalName(interval));
  }
  s.ts_users.insert(user);
  return absl::OkStatus();
}

absl::Status SharingController::ReleaseTimeSlice(const GpuTarget& gpu, const std::string& user) {
  absl::MutexLock lock(&mu_);
  GpuState& s = State(gpu);
  if (s.ts_users.count(user) == 0) return absl::OkStatus();
  if (s.ts_users.size() == 1) {
    RETURN_IF_ERROR(RunTool(
        {.argv = {tools_.nvidia_smi, "compute-policy", "-i", gpu.smi_id, "--set-timeslice", "0"},
         .timeout = tools_.timeout},
        StrCat("reset time slice on GPU ", gpu.key)));
    Log().info("time slice reset gpu={}", gpu.key);
  }
  s.ts_users.erase(user);
  return absl::OkStatus();
}

absl::StatusOr<bool> SharingController::DaemonAnswers(const GpuTarget& gpu) {
  const MpsDaemon d = DaemonFor(gpu);
  if (!fs_.Exists(d.pipe_dir)) return false;  // never started here
  absl::StatusOr<base::CommandResult> r =
      runner_.Run({.argv = {tools_.mps_control},
                   .env = {StrCat("CUDA_MPS_PIPE_DIRECTORY=", d.pipe_dir),
                           StrCat("CUDA_MPS_LOG_DIRECTORY=", d.log_dir)},
                   .stdin_data = "get_server_list\n",
                   .timeout = tools_.timeout});
  if (!r.ok()) {
    if (absl::IsNotFound(r.status())) {
      return absl::FailedPreconditionError(StrCat("probe MPS control daemon of GPU ", gpu.key, ": ",
                                                  tools_.mps_control, " not found on this node"));
    }
    return base::Annotate(r.status(), StrCat("probe MPS control daemon of GPU ", gpu.key));
  }
  return r->exit_code == 0;
}

absl::Status SharingController::EnsureDaemon(const GpuTarget& gpu) {
  ASSIGN_OR_RETURN(bool running, DaemonAnswers(gpu));
  if (running) return absl::OkStatus();
  const MpsDaemon d = DaemonFor(gpu);
  RETURN_IF_ERROR(base::Annotate(fs_.CreateDirectories(d.pipe_dir, 0755),
                                 StrCat("create MPS pipe directory of GPU ", gpu.key)));
  RETURN_IF_ERROR(base::Annotate(fs_.CreateDirectories(d.log_dir, 0755),
                                 StrCat("create MPS log directory of GPU ", gpu.key)));
  // MPS needs the GPU in EXCLUSIVE_PROCESS mode so that only the daemon's
  // server creates contexts on it (MPS documentation, "Step 2").
  RETURN_IF_ERROR(RunTool({.argv = {tools_.nvidia_smi, "-i", gpu.smi_id, "-c", "EXCLUSIVE_PROCESS"},
                           .timeout = tools_.timeout},
                          StrCat("set compute mode EXCLUSIVE_PROCESS on GPU ", gpu.key)));
  absl::Status started = RunTool({.argv = {tools_.mps_control, "-d"},
                                  .env = {StrCat("CUDA_VISIBLE_DEVICES=", gpu.cuda_id),
                                          StrCat("CUDA_MPS_PIPE_DIRECTORY=", d.pipe_dir),
                                          StrCat("CUDA_MPS_LOG_DIRECTORY=", d.log_dir)},
                                  .timeout = tools_.timeout},
                                 StrCat("start MPS control daemon for GPU ", gpu.key));
  if (!started.ok()) {
    absl::Status undo = RunTool(
        {.argv = {tools_.nvidia_smi, "-i", gpu.smi_id, "-c", "DEFAULT"}, .timeout = tools_.timeout},
        StrCat("restore compute mode DEFAULT on GPU ", gpu.key));
    if (!undo.ok()) Log().warn("undo after failed MPS start failed: {}", undo.ToString());
    return started;
  }
  Log().info("started MPS control daemon gpu={} pipe_dir={}", gpu.key, d.pipe_dir);
  return absl::OkStatus();
}

absl::Status SharingController::StopDaemon(const GpuTarget& gpu) {
  const MpsDaemon d = DaemonFor(gpu);
  ASSIGN_OR_RETURN(bool running, DaemonAnswers(gpu));
  if (running) {
    RETURN_IF_ERROR(RunTool({.argv = {tools_.mps_control},
                             .env = {StrCat("CUDA_MPS_PIPE_DIRECTORY=", d.pipe_dir),
                                     StrCat("CUDA_MPS_LOG_DIRECTORY=", d.log_dir)},
                             .stdin_data = "quit\n",
                             .timeout = tools_.timeout},
                            StrCat("stop MPS control daemon of GPU ", gpu.key)));
  }
  RETURN_IF_ERROR(RunTool(
      {.argv = {tools_.nvidia_smi, "-i", gpu.smi_id, "-c", "DEFAULT"}, .timeout = tools_.timeout},
      StrCat("restore compute mode DEFAULT on GPU ", gpu.key)));
  Log().info("stopped MPS control daemon gpu={}", gpu.key);
  return absl::OkStatus();
}

absl::StatusOr<MpsDaemon> SharingController::AcquireMps(const GpuTarget& gpu,
                                                        const std::string& user) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(CheckMpsLocked(gpu, user));
  GpuState& s = State(gpu);
  if (s.mps_users.count(user) > 0) return DaemonFor(gpu);
  RETURN_IF_ERROR(EnsureDaemon(gpu));
  s.mps_users.insert(user);
  return DaemonFor(gpu);
}

absl::Status SharingController::ReleaseMps(const GpuTarget& gpu, const std::string& user) {
  absl::MutexLock lock(&mu_);
  GpuState& s = State(gpu);
  if (s.mps_users.count(user) == 0) return absl::OkStatus();
  if (s.mps_users.size() == 1) RETURN_IF_ERROR(StopDaemon(gpu));
  s.mps_users.erase(user);
  return absl::OkStatus();
}

void SharingController::RestoreTimeSlice(const GpuTarget& gpu, TimeSliceInterval interval,
                                         const std::string& user) {
  absl::MutexLock lock(&mu_);
  GpuState& s = State(gpu);
  if (!s.ts_users.empty() && s.interval != interval) {
    Log().warn("restored claims disagree on the time slice gpu={} kept={} ignored={}", gpu.key,
               TimeSliceIntervalName(s.interval), TimeSliceIntervalName(interval));
  } else {
    s.interval = interval;
  }
  s.ts_users.insert(user);
}

void SharingController::RestoreMps(const GpuTarget& gpu, const std::string& user) {
  absl::MutexLock lock(&mu_);
  State(gpu).mps_users.insert(user);
}

absl::Status SharingController::Reapply(const GpuTarget& gpu) {
  absl::MutexLock lock(&mu_);
  if (reapplied_.count(gpu.key) > 0) return absl::OkStatus();
  GpuState& s = State(gpu);
  if (!s.ts_users.empty()) RETURN_IF_ERROR(ApplyTimeSlice(gpu, s.interval));
  if (!s.mps_users.empty()) RETURN_IF_ERROR(EnsureDaemon(gpu));
  reapplied_.insert(gpu.key);
  return absl::OkStatus();
}

std::set<std::string> SharingController::TimeSliceUsers(std::string_view gpu_key) const {
  absl::ReaderMutexLock lock(&mu_);
  const GpuState* s = FindState(gpu_key);
  return s == nullptr ? std::set<std::string>{} : s->ts_users;
}

std::set<std::string> SharingController::MpsUsers(std::string_view gpu_key) const {
  absl::ReaderMutexLock lock(&mu_);
  const GpuState* s = FindState(gpu_key);
  return s == nullptr ? std::set<std::string>{} : s->mps_users;
}

}  // namespace tessera::drivers::gpu
