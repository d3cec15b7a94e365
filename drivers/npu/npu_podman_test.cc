// The whole prepare path with a real container runtime: the NPU driver on a
// simulated node (fake DCMI/HLML, npu-smi stand-in), agent/claims
// DeviceState writing the claim's CDI spec (kubelet/cdi) into /var/run/cdi,
// and podman 4.3 + runc starting a container with the claim's CDI ids. The
// container must see the NPU's device nodes (real character devices made
// with mknod under a temp dev root) and the vendor environment.
//
// Needs root, podman, runc and a static busybox (busybox-static) to build a
// tiny image (`podman import`, cached as localhost/tessera-test-busybox:1);
// recipe in /work/shared/docs/test-peers.md. Uses unique claim uids and
// container names and removes every container and spec it created.
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "agent/claims/device_state.h"
#include "base/command_runner.h"
#include "base/filesystem.h"
#include "drivers/npu/npu_driver.h"
#include "drivers/npu/testing/npu_test_env.h"
#include "test/fakes/agent/fake_claim_source.h"
#include "test/fakes/base/fake_clock.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera::drivers::npu {
namespace {

using ::testing::HasSubstr;
using testing::NpuFixture;
using testing::ScopedEnv;
using testing::SimNode;

constexpr char kImage[] = "localhost/tessera-test-busybox:1";
constexpr char kCdiDir[] = "/var/run/cdi";

struct Cmd {
  int exit_code = -1;
  std::string out;
  std::string err;
};

Cmd RunCommand(std::vector<std::string> argv,
               std::chrono::seconds timeout = std::chrono::seconds(120)) {
  base::ProcessCommandRunner runner;
  auto r = runner.Run({.argv = std::move(argv), .timeout = timeout});
  if (!r.ok()) return {.exit_code = -1, .err = std::string(r.status().message())};
  return {.exit_code = r->exit_code, .out = r->stdout_data, .err = r->stderr_data};
}

bool HaveProgram(const std::string& name) {
  return RunCommand({"sh", "-c", "command -v " + name}).exit_code == 0;
}

class NpuPodmanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (rootful podman, mknod)";
    for (const char* tool : {"podman", "runc"}) {
      if (!HaveProgram(tool))
        GTEST_SKIP() << tool << " is not installed (apt-get install podman runc)";
    }
    if (!std::filesystem::exists("/bin/busybox")) {
      GTEST_SKIP() << "/bin/busybox is missing (apt-get install busybox-static)";
    }
    suffix_ = std::to_string(::getpid() % 1000000);
    conf_ = dir_.Sub("containers.conf");
    // Lowered ulimits and runc: what works on this kind of host (test-peers.md §1).
    std::ofstream(conf_) << "[containers]\n"
                         << "default_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\n"
                         << "[engine]\nruntime = \"runc\"\n";
    ASSERT_NO_FATAL_FAILURE(EnsureImage());
    // Test processes run in parallel and share the runtime's CDI directory.
    // Each DeviceState removes its driver's specs that its checkpoint does
    // not know (orphans), so each process is a driver of its own name, as two
    // agents on one node would be.
    driver_name_ = "npu-" + suffix_ + ".tessera.dev";
    std::filesystem::create_directories(kCdiDir);
    dev_root_ = dir_.Sub("dev-root");
    log_.emplace("FAKE_NPU_SMI_LOG", dir_.Sub("npu-smi.log"));
    smi_dev_.emplace("FAKE_NPU_SMI_DEV_ROOT", dev_root_);
    mknod_.emplace("FAKE_NPU_SMI_MKNOD", "1");
  }

  void TearDown() override {
    for (const std::string& c : containers_) Podman({"rm", "-f", "-t", "0", c});
    states_.clear();  // before the driver and the specs go
    for (const std::string& uid : uids_) {
      std::filesystem::remove(SpecPath(uid));
    }
    // kCdiDir stays: a parallel test may have just made its DeviceState there.
  }

  std::string SpecPath(const std::string& uid) const {
    return std::string(kCdiDir) + "/k8s." + driver_name_ + "-claim_" + uid + ".json";
  }

  Cmd Podman(std::vector<std::string> args) {
    std::vector<std::string> argv = {"env", "CONTAINERS_CONF=" + conf_, "podman"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(std::move(argv));
  }

  void EnsureImage() {
    if (Podman({"image", "exists", kImage}).exit_code == 0) return;
    std::string root = dir_.Sub("rootfs");
    for (const char* d : {"bin", "dev", "proc", "sys", "tmp", "etc"}) {
      std::filesystem::create_directories(root + "/" + d);
    }
    std::filesystem::copy_file("/bin/busybox", root + "/bin/busybox");
    Cmd applets = RunCommand({root + "/bin/busybox", "--list"});
    ASSERT_EQ(applets.exit_code, 0);
    for (std::string_view a : base::Split(applets.out, '\n', base::SplitMode::kSkipEmpty)) {
      if (a != "busybox")
        std::filesystem::create_symlink("busybox", root + "/bin/" + std::string(a));
    }
    Cmd r = RunCommand(
        {"sh", "-c",
         "tar -C '" + root + "' -c . | CONTAINERS_CONF='" + conf_ + "' podman import - " + kImage});
    ASSERT_EQ(r.exit_code, 0) << "podman import: " << r.err;
  }

  // Real character nodes (1:3, like /dev/null) under the dev root.
  void Mknod(const std::vector<std::string>& paths) {
    for (const std::string& p : paths) {
      std::string file = dev_root_ + p;
      std::filesystem::create_directories(std::filesystem::path(file).parent_path());
      ASSERT_EQ(::mknod(file.c_str(), S_IFCHR | 0666, makedev(1, 3)), 0) << file;
    }
  }

  // A driver for `node` behind a DeviceState, the way the agent wires them.
  agent::DeviceState* StateFor(std::string_view node, bool partitions) {
    nodes_.push_back(std::make_unique<SimNode>(node));
    const SimNode* sim = nodes_.back().get();
    NpuDriverOptions o;
    o.dev_root = dev_root_;
    o.host_root = sim->root();
    o.simulated = true;
    o.publish_partitions = partitions;
    o.dcmi_library = testing::FakeDcmiLibrary();
    o.hlml_library = testing::FakeHlmlLibrary();
    o.npu_smi = testing::FakeNpuSmi();
    auto driver = NpuDriver::Create(o, {.load_topology = sim->Loader(),
                                        .sysfs = &sim->sysfs(),
                                        .fs = &fs_,
                                        .runner = &runner_,
                                        .metrics = &registry_});
    EXPECT_OK(driver.status());
    if (!driver.ok()) return nullptr;
    drivers_.push_back(std::move(*driver));
    auto state = agent::DeviceState::Create(
        {.driver_name = driver_name_,
         .pool_name = "pool-" + suffix_,
         .cdi_dir = kCdiDir,
         .checkpoint_dir = dir_.Sub("state-" + std::to_string(drivers_.size())),
         .boot_id = "boot-1"},
        *drivers_.back(), claims_, fs_, clock_, registry_);
    EXPECT_OK(state.status());
    if (!state.ok()) return nullptr;
    states_.push_back(std::move(*state));
    return states_.back().get();
  }

  // Puts a claim allocating `devices` from our pool into the claim source.
  kubelet::ClaimRef PutClaim(const std::string& name, const std::vector<std::string>& devices) {
    agent::ResourceClaim c;
    c.namespace_ = "default";
    c.name = name;
    c.uid = "4b5d" + suffix_ + "-" + name;
    c.allocated = true;
    for (const std::string& d : devices) {
      c.results.push_back(
          {.request = "npu", .driver = driver_name_, .pool = "pool-" + suffix_, .device = d});
    }
    claims_.Put(c);
    uids_.push_back(c.uid);
    return {.uid = c.uid, .namespace_ = c.namespace_, .name = c.name};
  }

  // Prepares the claim and runs `script` in a container holding its CDI ids.
  Cmd RunWithClaim(agent::DeviceState& state, const kubelet::ClaimRef& ref,
                   const std::string& script) {
    std::map<std::string, kubelet::PrepareResult> results = state.Prepare({ref});
    const kubelet::PrepareResult& r = results[ref.uid];
    EXPECT_OK(r.status);
    std::vector<std::string> args = {"run", "--rm", "--network", "none"};
    for (const kubelet::PreparedDeviceResult& d : r.devices) {
      for (const std::string& id : d.cdi_device_ids) {
        args.push_back("--device");
        args.push_back(id);
      }
    }
    std::string name = "tessera-npu-" + suffix_ + "-" + std::to_string(containers_.size());
    containers_.push_back(name);
    args.insert(args.end(), {"--name", name, kImage, "sh", "-c", script});
    return Podman(args);
  }

  tessera::testing::TempDir dir_;
  std::string suffix_, driver_name_, conf_, dev_root_;
  std::optional<ScopedEnv> log_, smi_dev_, mknod_;
  ScopedEnv dcmi_{"TESSERA_FAKE_DCMI_CONFIG", NpuFixture("dcmi-8x910b3.json")};
  ScopedEnv hlml_{"TESSERA_FAKE_HLML_CONFIG", NpuFixture("hlml-8xgaudi2.json")};
  base::RealFilesystem fs_;
  base::ProcessCommandRunner runner_;
  base::metrics::Registry registry_;
  tessera::testing::FakeClock clock_;
  tessera::testing::FakeClaimSource claims_;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::vector<std::unique_ptr<NpuDriver>> drivers_;
  std::vector<std::unique_ptr<agent::DeviceState>> states_;
  std::vector<std::string> containers_, uids_;
};

TEST_F(NpuPodmanTest, AContainerWithAnAscendNpuSeesItsNodesEnvAndHccnConf) {
  ASSERT_NO_FATAL_FAILURE(
      Mknod({"/dev/davinci2", "/dev/davinci_manager", "/dev/devmm_svm", "/dev/hisi_hdc"}));
  agent::DeviceState* state = StateFor(testing::kAscendNode, false);
  ASSERT_NE(state, nullptr);
  kubelet::ClaimRef ref = PutClaim("ascend", {"npu-0000-43-00-0"});
  Cmd c = RunWithClaim(*state, ref,
                       "for n in davinci2 davinci_manager devmm_svm hisi_hdc; do "
                       "[ -c /dev/$n ] && echo char:$n; done; "
                       "echo env:$ASCEND_VISIBLE_DEVICES; grep address_2 /etc/hccn.conf; "
                       "[ -e /dev/davinci0 ] || echo no-davinci0");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  for (const char* n : {"davinci2", "davinci_manager", "devmm_svm", "hisi_hdc"}) {
    EXPECT_THAT(c.out, HasSubstr(std::string("char:") + n));
  }
  EXPECT_THAT(c.out, HasSubstr("env:2\n"));
  EXPECT_THAT(c.out, HasSubstr("address_2=192.168.100.103"));
  EXPECT_THAT(c.out, HasSubstr("no-davinci0"));  // only the claimed NPU

  std::map<std::string, absl::Status> un = state->Unprepare({ref});
  EXPECT_OK(un[ref.uid]);
  EXPECT_FALSE(std::filesystem::exists(SpecPath(ref.uid)));
}

TEST_F(NpuPodmanTest, AContainerWithAVnpuSeesTheVnpuNode) {
  ASSERT_NO_FATAL_FAILURE(Mknod({"/dev/davinci_manager", "/dev/devmm_svm", "/dev/hisi_hdc"}));
  agent::DeviceState* state = StateFor(testing::kAscendNode, true);
  ASSERT_NE(state, nullptr);
  kubelet::ClaimRef ref = PutClaim("vnpu", {"npu-0000-04-00-0-vir05-1c-16g-0"});
  // Chip 1's first vir05 slot is vNPU 118; the stand-in makes /dev/vdavinci118.
  Cmd c = RunWithClaim(*state, ref,
                       "[ -c /dev/vdavinci118 ] && echo char:vdavinci118; "
                       "echo env:$ASCEND_VISIBLE_DEVICES:$ASCEND_RUNTIME_OPTIONS");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_THAT(c.out, HasSubstr("char:vdavinci118"));
  EXPECT_THAT(c.out, HasSubstr("env:118:VIRTUAL"));
  std::map<std::string, absl::Status> un = state->Unprepare({ref});
  EXPECT_OK(un[ref.uid]);
  EXPECT_FALSE(std::filesystem::exists(dev_root_ + "/dev/vdavinci118"));  // destroyed
}

TEST_F(NpuPodmanTest, AContainerWithAGaudiSeesAccelNodesAndHabanaEnv) {
  ASSERT_NO_FATAL_FAILURE(
      Mknod({"/dev/accel/accel2", "/dev/accel/accel_controlD2", "/dev/infiniband/uverbs2"}));
  agent::DeviceState* state = StateFor(testing::kGaudiNode, false);
  ASSERT_NE(state, nullptr);
  kubelet::ClaimRef ref = PutClaim("gaudi", {"npu-0000-3b-00-0"});
  Cmd c = RunWithClaim(*state, ref,
                       "for n in accel/accel2 accel/accel_controlD2 infiniband/uverbs2; do "
                       "[ -c /dev/$n ] && echo char:$n; done; "
                       "echo env:$HABANA_VISIBLE_DEVICES:$HABANA_VISIBLE_MODULES");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_THAT(c.out, HasSubstr("char:accel/accel2"));
  EXPECT_THAT(c.out, HasSubstr("char:accel/accel_controlD2"));
  EXPECT_THAT(c.out, HasSubstr("char:infiniband/uverbs2"));
  EXPECT_THAT(c.out, HasSubstr("env:2:0"));
  EXPECT_OK(state->Unprepare({ref})[ref.uid]);
}

}  // namespace
}  // namespace tessera::drivers::npu
