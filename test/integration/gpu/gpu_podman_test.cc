// A shared GPU of the simulated node in a real container: DeviceState
// prepares an MPS share and an exclusive GPU through the GpuDriver, writes the
// CDI spec into /var/run/cdi (a unique file, removed by unprepare), and
// podman + runc runs busybox with the returned CDI ids. The container must
// see the device nodes (character devices materialized under --dev-root),
// the MPS pipe directory and the limit environment.
//
// Needs root, podman, runc and a static busybox (test-peers.md §1: runc,
// lowered ulimits through CONTAINERS_CONF, --network none). Skipped, saying
// why, when any of them is missing.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "agent/claims/device_state.h"
#include "base/command_runner.h"
#include "base/metrics.h"
#include "base/strings.h"
#include "drivers/gpu/dev_nodes.h"
#include "drivers/gpu/gpu_driver.h"
#include "drivers/gpu/testing/sim_node.h"
#include "test/fakes/agent/fake_claim_source.h"
#include "test/fakes/base/fake_clock.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera {
namespace {

using ::testing::HasSubstr;

constexpr char kImage[] = "localhost/tessera-gpu-test-busybox:1";
// Test processes run in parallel and share the runtime's CDI directory. A
// DeviceState removes the specs of its driver that its checkpoint does not
// know (orphans), so each process is a driver of its own name, as two agents
// on one node would be.
const std::string& DriverName() {
  static const std::string name = "gpu-" + std::to_string(::getpid()) + ".tessera.dev";
  return name;
}
constexpr char kPool[] = "sim-hgx-01";
constexpr char kCdiDir[] = "/var/run/cdi";

bool OnPath(const std::string& tool) {
  base::ProcessCommandRunner r;
  absl::StatusOr<base::CommandResult> res = r.Run({.argv = {"sh", "-c", "command -v " + tool}});
  return res.ok() && res->exit_code == 0;
}

class GpuPodmanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (mknod, rootful podman)";
    if (!OnPath("podman")) GTEST_SKIP() << "podman is not installed";
    if (!OnPath("runc")) GTEST_SKIP() << "runc is not installed";
    if (!std::filesystem::exists("/bin/busybox")) {
      GTEST_SKIP() << "/bin/busybox is missing (apt-get install busybox-static)";
    }
    conf_ = scratch_.Sub("containers.conf");
    std::ofstream(conf_) << "[containers]\n"
                         << "default_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\n"
                         << "[engine]\nruntime = \"runc\"\n";
    EnsureImage();
    if (HasFatalFailure()) return;

    node_ = std::make_unique<drivers::gpu::testing::SimNode>();
    ASSERT_EQ(node_->error(), "");
    drivers::gpu::GpuDriverOptions o = node_->DriverOptions();
    o.publish_consumable_capacity = true;
    absl::StatusOr<std::unique_ptr<drivers::gpu::GpuDriver>> d = node_->MakeDriver(o);
    ASSERT_OK(d);
    driver_ = std::move(*d);
    ASSERT_OK(drivers::gpu::MaterializeDeviceNodes(node_->dev_root(), driver_->DeviceNodePaths()));

    absl::StatusOr<std::unique_ptr<agent::DeviceState>> state =
        agent::DeviceState::Create({.driver_name = DriverName(),
                                    .pool_name = kPool,
                                    .cdi_dir = kCdiDir,
                                    .checkpoint_dir = scratch_.Sub("state"),
                                    .boot_id = "boot-1"},
                                   *driver_, source_, fs_, clock_, metrics_);
    ASSERT_OK(state);
    state_ = std::move(*state);
  }

  void TearDown() override {
    if (state_ && !prepared_.empty()) (void)state_->Unprepare(prepared_);
    // kCdiDir stays: a parallel test may have just made its DeviceState there.
  }

  base::CommandResult Podman(std::vector<std::string> args) {
    std::vector<std::string> argv = {"podman"};
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<base::CommandResult> r = runner_.Run(
        {.argv = argv, .env = {"CONTAINERS_CONF=" + conf_}, .timeout = std::chrono::seconds(120)});
    EXPECT_OK(r);
    return r.ok() ? *r : base::CommandResult{.exit_code = -1};
  }

  void EnsureImage() {
    if (Podman({"image", "exists", kImage}).exit_code == 0) return;
    const std::string root = scratch_.Sub("rootfs");
    for (const char* d : {"bin", "dev", "proc", "sys", "tmp", "etc"}) {
      std::filesystem::create_directories(root + "/" + d);
    }
    std::filesystem::copy_file("/bin/busybox", root + "/bin/busybox");
    absl::StatusOr<base::CommandResult> applets =
        runner_.Run({.argv = {root + "/bin/busybox", "--list"}});
    ASSERT_OK(applets);
    for (std::string_view a :
         base::Split(applets->stdout_data, '\n', base::SplitMode::kSkipEmpty)) {
      if (a != "busybox")
        std::filesystem::create_symlink("busybox", root + "/bin/" + std::string(a));
    }
    absl::StatusOr<base::CommandResult> r =
        runner_.Run({.argv = {"sh", "-c", "tar -C '" + root + "' -c . | podman import - " + kImage},
                     .env = {"CONTAINERS_CONF=" + conf_},
                     .timeout = std::chrono::seconds(120)});
    ASSERT_OK(r);
    ASSERT_EQ(r->exit_code, 0) << "podman import: " << r->stderr_data;
  }

  std::vector<std::string> PrepareIds(const agent::ResourceClaim& claim) {
    source_.Put(claim);
    kubelet::ClaimRef ref{.uid = claim.uid, .namespace_ = claim.namespace_, .name = claim.name};
    std::map<std::string, kubelet::PrepareResult> out = state_->Prepare({ref});
    EXPECT_OK(out[claim.uid].status);
    prepared_.push_back(ref);
    std::vector<std::string> ids;
    for (const kubelet::PreparedDeviceResult& d : out[claim.uid].devices) {
      ids.insert(ids.end(), d.cdi_device_ids.begin(), d.cdi_device_ids.end());
    }
    return ids;
  }

  // A uid no other run uses (runtimes cache specs by device name).
  static std::string UniqueUid(int n) {
    const auto now = std::chrono::system_clock::now().time_since_epoch().count();
    return fmt::format("{:08x}-{:04x}-4000-8000-{:012x}", static_cast<uint32_t>(::getpid()), n,
                       static_cast<uint64_t>(now) & 0xffffffffffffULL);
  }

  tessera::testing::TempDir scratch_;
  std::string conf_;
  base::ProcessCommandRunner runner_;
  std::unique_ptr<drivers::gpu::testing::SimNode> node_;
  std::unique_ptr<drivers::gpu::GpuDriver> driver_;
  tessera::testing::FakeClaimSource source_;
  tessera::testing::FakeClock clock_;
  base::RealFilesystem fs_;
  base::metrics::Registry metrics_;
  std::unique_ptr<agent::DeviceState> state_;
  std::vector<kubelet::ClaimRef> prepared_;
};

TEST_F(GpuPodmanTest, ContainerSeesTheSharedGpusNodesPipeAndLimits) {
  agent::AllocationResult share{.request = "gpu",
                                .driver = DriverName(),
                                .pool = kPool,
                                .device = "gpu-0000-1a-00-0",
                                .share_id = "0e5f8a1c-0000-4000-8000-0000000000aa"};
  share.consumed_capacity["memory"] = *base::Quantity::Parse("16Gi");
  share.consumed_capacity["compute"] = base::Quantity::FromInt(25);
  const agent::ResourceClaim claim{.namespace_ = "team-a",
                                   .name = "shared-gpu",
                                   .uid = UniqueUid(1),
                                   .allocated = true,
                                   .results = {share}};
  std::vector<std::string> ids = PrepareIds(claim);
  ASSERT_EQ(ids.size(), 1u);
  const std::string spec =
      std::string(kCdiDir) + "/k8s." + DriverName() + "-claim_" + claim.uid + ".json";
  ASSERT_TRUE(std::filesystem::exists(spec));

  base::CommandResult r = Podman(
      {"run", "--rm", "--network", "none", "--device", ids[0], kImage, "sh", "-c",
       "ls -l /dev/nvidia0 /dev/nvidiactl; env | sort | grep -E '^(CUDA_MPS|NVIDIA|TESSERA)_'; "
       "ls /tmp/nvidia-mps"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data << r.stdout_data;
  // Character devices with /dev/null's numbers, as materialized.
  EXPECT_THAT(r.stdout_data, ::testing::ContainsRegex("crw[-rwx]+ +1 +0 +0 +1, +3 .*/dev/nvidia0"));
  EXPECT_THAT(r.stdout_data, ::testing::ContainsRegex("crw[-rwx]+ .*/dev/nvidiactl"));
  EXPECT_THAT(r.stdout_data, HasSubstr("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=25\n"));
  EXPECT_THAT(r.stdout_data, HasSubstr("CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=16384M\n"));
  EXPECT_THAT(r.stdout_data, HasSubstr("CUDA_MPS_PIPE_DIRECTORY=/tmp/nvidia-mps\n"));
  EXPECT_THAT(r.stdout_data,
              HasSubstr("NVIDIA_VISIBLE_DEVICES=GPU-5e1b0000-7c3a-4f1e-9d2b-0000001000a0\n"));
  EXPECT_THAT(r.stdout_data,
              HasSubstr("TESSERA_GPU_SHARE_ID=0e5f8a1c-0000-4000-8000-0000000000aa\n"));
  // The daemon's pipe directory (the stand-in daemon's "control" socket file).
  EXPECT_THAT(r.stdout_data, HasSubstr("control"));

  std::map<std::string, absl::Status> un = state_->Unprepare(prepared_);
  EXPECT_OK(un[claim.uid]);
  prepared_.clear();
  EXPECT_FALSE(std::filesystem::exists(spec));
}

TEST_F(GpuPodmanTest, ContainerGetsOnlyItsOwnGpu) {
  const agent::ResourceClaim claim{
      .namespace_ = "team-a",
      .name = "one-gpu",
      .uid = UniqueUid(2),
      .allocated = true,
      .results = {
          {.request = "gpu", .driver = DriverName(), .pool = kPool, .device = "gpu-0000-3c-00-0"}}};
  std::vector<std::string> ids = PrepareIds(claim);
  ASSERT_EQ(ids.size(), 1u);
  base::CommandResult r = Podman({"run", "--rm", "--network", "none", "--device", ids[0], kImage,
                                  "sh", "-c", "ls /dev | grep '^nvidia' | sort | tr '\\n' ' '"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(r.stdout_data, "nvidia-uvm nvidia-uvm-tools nvidia2 nvidiactl ");
}

}  // namespace
}  // namespace tessera
