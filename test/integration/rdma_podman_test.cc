// An RDMA claim on the bundled simulated node, all the way into a container:
// RdmaDriver (simulated, --dev-root with the device nodes made by mknod) ->
// DeviceState (checkpoint, CDI spec in /var/run/cdi) -> podman 4.3 + runc
// with the CDI ids the kubelet would pass -> /dev/infiniband nodes and the
// NCCL/UCX env inside the container. Then unprepare removes the spec.
//
// Needs root (mknod, rootful podman), podman, runc and busybox-static (a tiny
// image is built with `podman import`, cached as
// localhost/tessera-test-busybox:1, shared with the netns podman test).
// Skips with the reason otherwise. Uniquely named spec and claim; everything
// it creates is removed, also on failure.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "agent/claims/device_state.h"
#include "base/filesystem.h"
#include "base/metrics.h"
#include "drivers/rdma/dev_nodes.h"
#include "drivers/rdma/rdma_driver.h"
#include "test/fakes/agent/fake_claim_source.h"
#include "test/fakes/base/fake_clock.h"
#include "test/fakes/base/temp_dir.h"
#include "test/fakes/topology/sysfs_tree.h"
#include "test/matchers/status_matchers.h"
#include "test/netns/net_sandbox.h"
#include "topology/loader.h"

namespace tessera {
namespace {

using ::tessera::testing::CmdResult;
using ::tessera::testing::RunCommand;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

constexpr char kImage[] = "localhost/tessera-test-busybox:1";
constexpr char kCdiDir[] = "/var/run/cdi";
constexpr char kDriver[] = "rdma.tessera.dev";

class RdmaPodmanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!tessera::testing::IsRoot()) GTEST_SKIP() << "needs root (mknod, rootful podman)";
    for (const char* tool : {"podman", "runc"}) {
      if (!tessera::testing::HaveProgram(tool)) {
        GTEST_SKIP() << tool << " is not installed (apt-get install podman runc)";
      }
    }
    if (!std::filesystem::exists("/bin/busybox")) {
      GTEST_SKIP() << "/bin/busybox is missing (apt-get install busybox-static)";
    }
    suffix_ = std::to_string(::getpid() % 1000000);
    uid_ = "7e3f0c52-0000-4000-8000-" + std::string(12 - suffix_.size(), '0') + suffix_;
    conf_ = dir_.Sub("containers.conf");
    std::ofstream(conf_) << "[containers]\n"
                         << "default_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\n"
                         << "[engine]\nruntime = \"runc\"\n";
    ASSERT_NO_FATAL_FAILURE(EnsureImage());
    std::filesystem::create_directories(kCdiDir);
  }

  void TearDown() override {
    if (!uid_.empty()) {
      std::error_code ec;
      std::filesystem::remove(
          std::string(kCdiDir) + "/k8s.rdma.tessera.dev-claim_" + uid_ + ".json", ec);
    }
    // kCdiDir stays: a parallel test may have just made its DeviceState there.
  }

  CmdResult Podman(std::vector<std::string> args) {
    std::vector<std::string> argv = {"env", "CONTAINERS_CONF=" + conf_, "podman"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(std::move(argv), "", std::chrono::seconds(120));
  }

  void EnsureImage() {
    if (Podman({"image", "exists", kImage}).exit_code == 0) return;
    std::string root = dir_.Sub("rootfs");
    for (const char* d : {"bin", "dev", "proc", "sys", "tmp", "etc"}) {
      std::filesystem::create_directories(root + "/" + d);
    }
    std::filesystem::copy_file("/bin/busybox", root + "/bin/busybox");
    CmdResult applets = RunCommand({root + "/bin/busybox", "--list"});
    ASSERT_EQ(applets.exit_code, 0);
    for (std::string_view a : base::Split(applets.out, '\n', base::SplitMode::kSkipEmpty)) {
      if (a != "busybox")
        std::filesystem::create_symlink("busybox", root + "/bin/" + std::string(a));
    }
    CmdResult r = RunCommand(
        {"sh", "-c",
         "tar -C '" + root + "' -c . | CONTAINERS_CONF='" + conf_ + "' podman import - " + kImage},
        "", std::chrono::seconds(120));
    ASSERT_EQ(r.exit_code, 0) << "podman import: " << r.err;
  }

  tessera::testing::TempDir dir_;
  std::string suffix_, uid_, conf_;
};

TEST_F(RdmaPodmanTest, ClaimOnTheSimulatedNodeReachesTheContainer) {
  const std::string node = tessera::testing::BundledNodeDir();
  auto t = topology::LoadTopology(topology::TopologySource::SysfsRoot(node));
  ASSERT_TRUE(t.ok()) << t.status();
  base::DirSysfs sysfs(node + "/sys");
  base::RealFilesystem fs;
  tessera::testing::FakeClock clock;
  base::metrics::Registry metrics;
  const std::string dev_root = dir_.Sub("dev");

  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<drivers::rdma::RdmaDriver> driver,
      drivers::rdma::RdmaDriver::Create(
          {.dev_root = dev_root, .state_dir = dir_.Sub("state"), .simulated = true},
          drivers::rdma::RdmaDriverDeps{
              .topology = std::make_shared<const topology::NodeTopology>(*std::move(t)),
              .sysfs = &sysfs,
              .fs = fs,
              .clock = clock,
              .metrics = &metrics}));
  ASSERT_OK(drivers::rdma::MaterializeRdmaDeviceNodes(dev_root, driver->DeviceNodes()));

  tessera::testing::FakeClaimSource claims;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<agent::DeviceState> state,
                       agent::DeviceState::Create({.driver_name = kDriver,
                                                   .pool_name = "sim-hgx-01",
                                                   .cdi_dir = kCdiDir,
                                                   .checkpoint_dir = dir_.Sub("checkpoint"),
                                                   .boot_id = "boot-1"},
                                                  *driver, claims, fs, clock, metrics));
  agent::ResourceClaim claim{
      .namespace_ = "default", .name = "rdma-" + suffix_, .uid = uid_, .allocated = true};
  claim.results = {
      {.request = "nic", .driver = kDriver, .pool = "sim-hgx-01", .device = "rdma-0000-1b-00-0"},
      {.request = "nic2", .driver = kDriver, .pool = "sim-hgx-01", .device = "rdma-0000-1f-00-0"}};
  claim.configs = {{.source = "FromClaim",
                    .requests = {"nic"},
                    .driver = kDriver,
                    .parameters = {{"apiVersion", "rdma.tessera.dev/v1alpha1"},
                                   {"kind", "RdmaConfig"},
                                   {"ibManagement", true}}}};
  claims.Put(claim);

  const kubelet::ClaimRef ref{uid_, "default", claim.name};
  std::map<std::string, kubelet::PrepareResult> prepared = state->Prepare({ref});
  ASSERT_OK(prepared[uid_].status);
  ASSERT_THAT(prepared[uid_].devices, SizeIs(2));
  std::vector<std::string> args = {"run", "--rm", "--network", "none"};
  for (const kubelet::PreparedDeviceResult& d : prepared[uid_].devices) {
    for (const std::string& id : d.cdi_device_ids) {
      args.push_back("--device");
      args.push_back(id);
    }
  }
  args.insert(args.end(), {kImage, "sh", "-c", "ls -ln /dev/infiniband; echo ---; env"});
  CmdResult run = Podman(args);
  ASSERT_EQ(run.exit_code, 0) << run.err;

  // The character devices, with the numbers the simulated sysfs gives them.
  EXPECT_THAT(run.out, HasSubstr("231, 192"));       // uverbs0 (mlx5_0)
  EXPECT_THAT(run.out, HasSubstr("231, 193"));       // uverbs1 (mlx5_1)
  EXPECT_THAT(run.out, HasSubstr("231,   0"));       // umad0: ibManagement on "nic"
  EXPECT_THAT(run.out, HasSubstr("231,  64"));       // issm0
  EXPECT_THAT(run.out, Not(HasSubstr("231,   1")));  // umad1: not asked for on "nic2"
  for (const char* name : {"uverbs0", "uverbs1", "umad0", "issm0", "rdma_cm"}) {
    EXPECT_THAT(run.out, HasSubstr(name));
  }
  EXPECT_THAT(run.out, Not(HasSubstr("uverbs2")));
  // The env for NCCL and UCX.
  EXPECT_THAT(run.out, HasSubstr("NCCL_IB_HCA==mlx5_0:1,mlx5_1:1"));
  EXPECT_THAT(run.out, HasSubstr("UCX_NET_DEVICES=mlx5_0:1,mlx5_1:1"));

  std::map<std::string, absl::Status> unprepared = state->Unprepare({ref});
  ASSERT_OK(unprepared[uid_]);
  EXPECT_FALSE(std::filesystem::exists(std::string(kCdiDir) + "/k8s.rdma.tessera.dev-claim_" +
                                       uid_ + ".json"));
  // The spec is gone: the runtime cannot resolve the ids any more.
  CmdResult after = Podman(args);
  EXPECT_NE(after.exit_code, 0);
  EXPECT_THAT(after.err, HasSubstr("unresolvable CDI devices"));
}

}  // namespace
}  // namespace tessera
