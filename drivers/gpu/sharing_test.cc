// SharingController through the real ProcessCommandRunner and RealFilesystem,
// against recording stand-ins for nvidia-smi and nvidia-cuda-mps-control: the
// tests assert the exact commands that reach the host.
#include "drivers/gpu/sharing.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "base/command_runner.h"
#include "base/filesystem.h"
#include "drivers/gpu/testing/recording_tools.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera::drivers::gpu {
namespace {

using ::tessera::testing::IsOk;
using ::tessera::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

const GpuTarget kTarget0{.key = "GPU-aaaa", .smi_id = "GPU-aaaa", .cuda_id = "GPU-aaaa"};
const GpuTarget kTarget1{.key = "GPU-bbbb", .smi_id = "GPU-bbbb", .cuda_id = "GPU-bbbb"};

class SharingTest : public ::testing::Test {
 protected:
  SharingController& controller() {
    if (!controller_) {
      controller_ = std::make_unique<SharingController>(
          runner_, fs_,
          SharingTools{.nvidia_smi = tools_.nvidia_smi(), .mps_control = tools_.mps_control()},
          state_.path());
    }
    return *controller_;
  }
  // A fresh controller on the same host: what an agent restart looks like.
  SharingController& Restart() {
    controller_.reset();
    return controller();
  }
  std::string Pipe(const GpuTarget& g) const { return state_.path() + "/mps/" + g.key + "/pipe"; }
  std::string Log(const GpuTarget& g) const { return state_.path() + "/mps/" + g.key + "/log"; }
  std::string MpsEnv(const GpuTarget& g) const {
    return " | CUDA_MPS_PIPE_DIRECTORY=" + Pipe(g) + " CUDA_MPS_LOG_DIRECTORY=" + Log(g);
  }
  std::string Start(const GpuTarget& g) const {
    return "nvidia-cuda-mps-control -d | CUDA_VISIBLE_DEVICES=" + g.cuda_id +
           " CUDA_MPS_PIPE_DIRECTORY=" + Pipe(g) + " CUDA_MPS_LOG_DIRECTORY=" + Log(g);
  }
  std::string Probe(const GpuTarget& g) const {
    return "nvidia-cuda-mps-control <<get_server_list" + MpsEnv(g);
  }
  std::string Quit(const GpuTarget& g) const {
    return "nvidia-cuda-mps-control <<quit" + MpsEnv(g);
  }

  testing::RecordingTools tools_;
  tessera::testing::TempDir state_;
  base::ProcessCommandRunner runner_;
  base::RealFilesystem fs_;
  std::unique_ptr<SharingController> controller_;
};

TEST_F(SharingTest, TimeSliceIsAppliedForTheFirstUserAndResetAfterTheLast) {
  ASSERT_OK(controller().AcquireTimeSlice(kTarget0, TimeSliceInterval::kLong, "claim-a/gpu-0"));
  ASSERT_OK(controller().AcquireTimeSlice(kTarget0, TimeSliceInterval::kLong, "claim-b/gpu-0"));
  EXPECT_THAT(tools_.Commands(),
              ElementsAre("nvidia-smi -i GPU-aaaa -c DEFAULT",
                          "nvidia-smi compute-policy -i GPU-aaaa --set-timeslice 3"));
  tools_.Clear();
  ASSERT_OK(controller().ReleaseTimeSlice(kTarget0, "claim-a/gpu-0"));
  EXPECT_THAT(tools_.Commands(), IsEmpty());
  ASSERT_OK(controller().ReleaseTimeSlice(kTarget0, "claim-b/gpu-0"));
  EXPECT_THAT(tools_.Commands(),
              ElementsAre("nvidia-smi compute-policy -i GPU-aaaa --set-timeslice 0"));
  EXPECT_THAT(controller().TimeSliceUsers(kTarget0.key), IsEmpty());
}

TEST_F(SharingTest, AcquireAndReleaseAreIdempotentPerUser) {
  ASSERT_OK(controller().AcquireTimeSlice(kTarget0, TimeSliceInterval::kShort, "claim-a/gpu-0"));
  ASSERT_OK(controller().AcquireTimeSlice(kTarget0, TimeSliceInterval::kShort, "claim-a/gpu-0"));
  EXPECT_EQ(tools_.Commands().size(), 2u);
  ASSERT_OK(controller().ReleaseTimeSlice(kTarget0, "claim-a/gpu-0"));
  ASSERT_OK(controller().ReleaseTimeSlice(kTarget0, "claim-a/gpu-0"));
  ASSERT_OK(controller().ReleaseTimeSlice(kTarget0, "never-held/gpu-0"));
  EXPECT_EQ(tools_.Commands().size(), 3u);
}

TEST_F(SharingTest, TimeSliceIntervalConflictIsRefusedBeforeAnyCommand) {
  ASSERT_OK(controller().AcquireTimeSlice(kTarget0, TimeSliceInterval::kShort, "claim-a/gpu-0"));
  tools_.Clear();
  EXPECT_THAT(controller().CheckTimeSlice(kTarget0, TimeSliceInterval::kLong, "claim-b/gpu-0"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("interval Short")));
  EXPECT_THAT(controller().AcquireTimeSlice(kTarget0, TimeSliceInterval::kLong, "claim-b/gpu-0"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("claim-a/gpu-0")));
  // The holder itself may re-prepare with its own interval; another GPU is free.
  EXPECT_OK(controller().CheckTimeSlice(kTarget0, TimeSliceInterval::kShort, "claim-a/gpu-0"));
  EXPECT_OK(controller().CheckTimeSlice(kTarget1, TimeSliceInterval::kLong, "claim-b/gpu-0"));
  EXPECT_THAT(tools_.Commands(), IsEmpty());
}

TEST_F(SharingTest, MpsDaemonStartsOnceAndStopsAfterTheLastUser) {
  absl::StatusOr<MpsDaemon> d = controller().AcquireMps(kTarget0, "claim-a/gpu-0/share-1");
  ASSERT_OK(d);
  EXPECT_EQ(d->pipe_dir, Pipe(kTarget0));
  EXPECT_EQ(d->log_dir, Log(kTarget0));
  ASSERT_OK(controller().AcquireMps(kTarget0, "claim-b/gpu-0/share-2"));
  EXPECT_THAT(tools_.Commands(), ElementsAre("nvidia-smi -i GPU-aaaa -c EXCLUSIVE_PROCESS",
                                             Start(kTarget0), Probe(kTarget0)));
  tools_.Clear();
  ASSERT_OK(controller().ReleaseMps(kTarget0, "claim-a/gpu-0/share-1"));
  EXPECT_THAT(tools_.Commands(), IsEmpty());
  ASSERT_OK(controller().ReleaseMps(kTarget0, "claim-b/gpu-0/share-2"));
  EXPECT_THAT(tools_.Commands(),
              ElementsAre(Probe(kTarget0), Quit(kTarget0), "nvidia-smi -i GPU-aaaa -c DEFAULT"));
}

TEST_F(SharingTest, FailedDaemonStartRestoresTheComputeModeAndKeepsNoUser) {
  tools_.FailOn("-d");
  absl::StatusOr<MpsDaemon> d = controller().AcquireMps(kTarget0, "claim-a/gpu-0");
  EXPECT_THAT(d, StatusIs(absl::StatusCode::kInternal,
                          AllOf(HasSubstr("start MPS control daemon for GPU GPU-aaaa"),
                                HasSubstr("exited with status 3"), HasSubstr("injected failure"))));
  EXPECT_THAT(tools_.Commands(), ElementsAre("nvidia-smi -i GPU-aaaa -c EXCLUSIVE_PROCESS",
                                             Start(kTarget0), "nvidia-smi -i GPU-aaaa -c DEFAULT"));
  EXPECT_THAT(controller().MpsUsers(kTarget0.key), IsEmpty());
}

TEST_F(SharingTest, MissingToolIsAFailedPreconditionNamingIt) {
  SharingController c(runner_, fs_,
                      SharingTools{.nvidia_smi = tools_.nvidia_smi(),
                                   .mps_control = tools_.dir() + "/no-such-mps-control"},
                      state_.path());
  EXPECT_OK(fs_.CreateDirectories(Pipe(kTarget0), 0755));  // so the probe runs
  EXPECT_THAT(c.AcquireMps(kTarget0, "claim-a/gpu-0"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("no-such-mps-control not found on this node")));
}

TEST_F(SharingTest, ADaemonThatDiedIsRestartedForTheNextUser) {
  ASSERT_OK(controller().AcquireMps(kTarget0, "claim-a/gpu-0"));
  // The daemon goes away behind our back.
  ASSERT_EQ(std::remove((Pipe(kTarget0) + "/control").c_str()), 0);
  tools_.Clear();
  ASSERT_OK(controller().AcquireMps(kTarget0, "claim-b/gpu-0"));
  EXPECT_THAT(
      tools_.Commands(),
      ElementsAre(Probe(kTarget0), "nvidia-smi -i GPU-aaaa -c EXCLUSIVE_PROCESS", Start(kTarget0)));
}

TEST_F(SharingTest, TimeSlicingAndMpsExcludeEachOtherOnOneGpu) {
  ASSERT_OK(controller().AcquireMps(kTarget0, "claim-a/gpu-0"));
  EXPECT_THAT(controller().AcquireTimeSlice(kTarget0, TimeSliceInterval::kDefault, "claim-b/gpu-0"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("runs an MPS daemon")));
  ASSERT_OK(controller().AcquireTimeSlice(kTarget1, TimeSliceInterval::kDefault, "claim-c/gpu-1"));
  EXPECT_THAT(controller().CheckMps(kTarget1, "claim-d/gpu-1"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is time-sliced")));
}

TEST_F(SharingTest, RestoredUsersKeepTheDaemonUntilTheLastOneLeaves) {
  ASSERT_OK(controller().AcquireMps(kTarget0, "claim-a/gpu-0"));
  ASSERT_OK(controller().AcquireMps(kTarget0, "claim-b/gpu-0"));
  SharingController& after = Restart();
  after.RestoreMps(kTarget0, "claim-a/gpu-0");
  after.RestoreMps(kTarget0, "claim-b/gpu-0");
  tools_.Clear();
  ASSERT_OK(after.ReleaseMps(kTarget0, "claim-a/gpu-0"));
  EXPECT_THAT(tools_.Commands(), IsEmpty());
  ASSERT_OK(after.ReleaseMps(kTarget0, "claim-b/gpu-0"));
  EXPECT_THAT(tools_.Commands(),
              ElementsAre(Probe(kTarget0), Quit(kTarget0), "nvidia-smi -i GPU-aaaa -c DEFAULT"));
}

TEST_F(SharingTest, AfterARebootReapplyRunsEachGpusSetupOnce) {
  ASSERT_OK(controller().AcquireMps(kTarget0, "claim-a/gpu-0"));
  ASSERT_OK(controller().AcquireTimeSlice(kTarget1, TimeSliceInterval::kMedium, "claim-b/gpu-1"));
  // A reboot: the daemon is gone, the time slice reset; the state dir stays.
  ASSERT_EQ(std::remove((Pipe(kTarget0) + "/control").c_str()), 0);
  SharingController& after = Restart();
  after.RestoreMps(kTarget0, "claim-a/gpu-0");
  after.RestoreTimeSlice(kTarget1, TimeSliceInterval::kMedium, "claim-b/gpu-1");
  tools_.Clear();
  ASSERT_OK(after.Reapply(kTarget0));
  ASSERT_OK(after.Reapply(kTarget1));
  ASSERT_OK(after.Reapply(kTarget0));  // a second claim on the same GPU: nothing more
  EXPECT_THAT(tools_.Commands(),
              ElementsAre(Probe(kTarget0), "nvidia-smi -i GPU-aaaa -c EXCLUSIVE_PROCESS",
                          Start(kTarget0), "nvidia-smi -i GPU-bbbb -c DEFAULT",
                          "nvidia-smi compute-policy -i GPU-bbbb --set-timeslice 2"));
  EXPECT_THAT(after.MpsUsers(kTarget0.key), UnorderedElementsAre("claim-a/gpu-0"));
}

}  // namespace
}  // namespace tessera::drivers::gpu
