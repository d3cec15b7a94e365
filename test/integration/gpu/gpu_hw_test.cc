// Hardware tier (ctest label "hw"): the GPU driver against the real NVIDIA
// driver of this machine. Skipped, saying why, where libnvidia-ml.so.1 or a
// GPU is missing.
//
//   discovery  every GPU NVML sees is published, healthy, with NVML's
//              identity, and its device nodes exist on the host;
//   exclusive  prepare of one GPU gives existing device nodes and the
//              driver's user-space files;
//   MPS share  only with TESSERA_HW_MPS=1 (it switches the GPU's compute mode
//              while the share is prepared and puts it back), and only where
//              nvidia-cuda-mps-control is installed: a share of 25% compute
//              and 4 GiB is prepared through the real tools, the daemon must
//              answer, a CUDA client with the share's environment must get
//              2 GiB and be refused 6 GiB (the limit is enforced, not only
//              counted), and unprepare must stop it and restore the mode.
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "base/command_runner.h"
#include "base/filesystem.h"
#include "base/sysfs.h"
#include "drivers/attributes.h"
#include "drivers/gpu/gpu_driver.h"
#include "drivers/naming.h"
#include "drivers/nvidia/dlopen_nvml.h"
#include "test/fakes/base/fake_clock.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"
#include "topology/loader.h"

namespace tessera::drivers::gpu {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

bool OnPath(const std::string& tool) {
  base::ProcessCommandRunner r;
  absl::StatusOr<base::CommandResult> res = r.Run({.argv = {"sh", "-c", "command -v " + tool}});
  return res.ok() && res->exit_code == 0;
}

class GpuHwTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<nvidia::DlopenNvml>> nvml =
        nvidia::DlopenNvml::Load(nvidia::DlopenNvmlOptions{.filesystem = &fs_});
    if (!nvml.ok()) GTEST_SKIP() << "no usable NVIDIA driver here: " << nvml.status();
    nvml_ = std::move(*nvml);
    absl::StatusOr<uint32_t> count = nvml_->GetGpuCount();
    if (!count.ok() || *count == 0) GTEST_SKIP() << "NVML sees no GPU";
    absl::StatusOr<topology::NodeTopology> topo =
        topology::LoadTopology(topology::TopologySource::Live("/"));
    ASSERT_OK(topo);
    GpuDriverOptions o;
    o.state_dir = state_.path();
    o.publish_consumable_capacity = true;
    absl::StatusOr<std::unique_ptr<GpuDriver>> d = GpuDriver::Create(
        o, {.topology = std::make_shared<const topology::NodeTopology>(std::move(*topo)),
            .sysfs = sysfs_,
            .nvml = nvml_.get(),
            .commands = runner_,
            .fs = fs_,
            .clock = clock_});
    ASSERT_OK(d);
    driver_ = std::move(*d);
  }

  // The first GPU with MIG off, as NVML sees it.
  std::optional<nvidia::GpuInfo> WholeGpu() {
    absl::StatusOr<uint32_t> count = nvml_->GetGpuCount();
    for (uint32_t i = 0; count.ok() && i < *count; ++i) {
      absl::StatusOr<nvidia::GpuInfo> g = nvml_->GetGpu(i);
      if (g.ok() && !(g->mig_mode && g->mig_mode->current)) return *g;
    }
    return std::nullopt;
  }

  base::RealFilesystem fs_;
  base::DirSysfs sysfs_{"/sys"};
  base::ProcessCommandRunner runner_;
  tessera::testing::FakeClock clock_;
  tessera::testing::TempDir state_;
  std::unique_ptr<nvidia::DlopenNvml> nvml_;
  std::unique_ptr<GpuDriver> driver_;
};

TEST_F(GpuHwTest, DiscoveryPublishesEveryNvmlGpuWithItsIdentity) {
  absl::StatusOr<Inventory> inv = driver_->Enumerate();
  ASSERT_OK(inv);
  absl::StatusOr<nvidia::SystemInfo> sys = nvml_->GetSystemInfo();
  ASSERT_OK(sys);
  absl::StatusOr<uint32_t> count = nvml_->GetGpuCount();
  ASSERT_OK(count);
  for (uint32_t i = 0; i < *count; ++i) {
    absl::StatusOr<nvidia::GpuInfo> g = nvml_->GetGpu(i);
    ASSERT_OK(g);
    SCOPED_TRACE(g->pci_address.ToString());
    if (g->mig_mode && g->mig_mode->current) continue;  // published as its instances
    const std::string name = DeviceNameForPci("gpu", g->pci_address);
    auto d = std::find_if(inv->devices.begin(), inv->devices.end(),
                          [&](const Device& x) { return x.name == name; });
    ASSERT_NE(d, inv->devices.end()) << name << " not published";
    EXPECT_EQ(d->health, Health::kHealthy) << d->health_message;
    EXPECT_EQ(std::get<std::string>(d->attributes.at(std::string(kAttrUuid))), g->uuid);
    EXPECT_EQ(std::get<std::string>(d->attributes.at(std::string(kAttrProductName))), g->name);
    EXPECT_EQ(std::get<std::string>(d->attributes.at(std::string(kAttrPciBusId))),
              g->pci_address.ToString());
    EXPECT_EQ(static_cast<uint64_t>(d->capacity.at("memory").value.Value()), g->memory_total_bytes);
    EXPECT_EQ(std::get<Version>(d->attributes.at(std::string(kAttrDriverVersion))).value,
              NormalizeVersion(sys->driver_version).value_or("?"));
    struct stat st {};
    EXPECT_EQ(::stat(("/dev/nvidia" + std::to_string(g->minor_number)).c_str(), &st), 0);
    std::cout << "gpu " << name << " " << g->name << " uuid=" << g->uuid
              << " numa=" << (d->attributes.count(std::string(kAttrNumaNode)) ? "yes" : "unknown")
              << " nearestRdma="
              << (d->attributes.count(std::string(kAttrNearestRdma))
                      ? std::get<std::string>(d->attributes.at(std::string(kAttrNearestRdma)))
                      : "none")
              << "\n";
  }
}

TEST_F(GpuHwTest, ExclusivePrepareGivesExistingNodesAndTheDriverFiles) {
  std::optional<nvidia::GpuInfo> g = WholeGpu();
  if (!g) GTEST_SKIP() << "every GPU is in MIG mode";
  const std::string device = DeviceNameForPci("gpu", g->pci_address);
  absl::StatusOr<PreparedClaim> p = driver_->PrepareClaim(
      {.claim_uid = "hw-exclusive", .devices = {{.request = "gpu", .device = device}}});
  ASSERT_OK(p);
  for (const base::ContainerEdits* e : {&p->devices[0].edits, &p->claim_edits}) {
    for (const base::DeviceNode& n : e->device_nodes) {
      EXPECT_TRUE(std::filesystem::exists(n.host_path.empty() ? n.path : n.host_path)) << n.path;
    }
  }
  std::vector<std::string> container_paths;
  for (const base::Mount& m : p->claim_edits.mounts) {
    EXPECT_TRUE(std::filesystem::exists(m.host_path)) << m.host_path;
    container_paths.push_back(std::filesystem::path(m.container_path).filename());
    std::cout << "mount " << m.host_path << " -> " << m.container_path << "\n";
  }
  EXPECT_THAT(container_paths, Contains("libcuda.so.1"));
  EXPECT_THAT(container_paths, Contains("libnvidia-ml.so.1"));
  EXPECT_THAT(p->claim_edits.env, Contains("NVIDIA_VISIBLE_DEVICES=" + g->uuid));
  ASSERT_OK(driver_->UnprepareClaim("hw-exclusive", *p));
}

TEST_F(GpuHwTest, MpsShareRunsTheRealDaemon) {
  if (std::getenv("TESSERA_HW_MPS") == nullptr ||
      std::string(std::getenv("TESSERA_HW_MPS")) != "1") {
    GTEST_SKIP() << "set TESSERA_HW_MPS=1 to let this test switch a GPU's compute mode";
  }
  if (!OnPath("nvidia-cuda-mps-control")) {
    GTEST_SKIP() << "nvidia-cuda-mps-control is not installed: MPS share not tested";
  }
  std::optional<nvidia::GpuInfo> g = WholeGpu();
  if (!g) GTEST_SKIP() << "every GPU is in MIG mode";
  if (g->compute_mode != nvidia::ComputeMode::kDefault) {
    GTEST_SKIP() << "GPU compute mode is not Default; not touching it";
  }
  DeviceAllocation share{.request = "gpu",
                         .device = DeviceNameForPci("gpu", g->pci_address),
                         .share_id = "0e5f8a1c-0000-4000-8000-0000000000ff"};
  share.consumed_capacity["compute"] = base::Quantity::FromInt(25);
  share.consumed_capacity["memory"] = *base::Quantity::Parse("4Gi");
  absl::StatusOr<PreparedClaim> p =
      driver_->PrepareClaim({.claim_uid = "hw-share", .devices = {share}});
  ASSERT_OK(p);
  EXPECT_THAT(p->devices[0].edits.env, Contains("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=25"));
  absl::StatusOr<nvidia::GpuInfo> during = nvml_->GetGpu(g->index);
  ASSERT_OK(during);
  EXPECT_EQ(during->compute_mode, nvidia::ComputeMode::kExclusiveProcess);
  EXPECT_THAT(driver_->sharing().MpsUsers(g->uuid), Contains(HasSubstr("hw-share")));

  // A CUDA client outside a container: the pipe directory is the host's.
  std::vector<std::string> env = {"CUDA_VISIBLE_DEVICES=" + g->uuid};
  for (const std::string& e : p->devices[0].edits.env) {
    if (e.starts_with("CUDA_MPS_PIPE_DIRECTORY=")) {
      env.push_back("CUDA_MPS_PIPE_DIRECTORY=" +
                    p->devices[0].state["mps"]["pipeDir"].get<std::string>());
    } else if (e.starts_with("CUDA_MPS_")) {
      env.push_back(e);
    }
  }
  absl::StatusOr<base::CommandResult> probe_daemon = runner_.Run(
      {.argv = {"nvidia-cuda-mps-control"}, .env = env, .stdin_data = "get_server_list\n"});
  ASSERT_OK(probe_daemon);
  EXPECT_EQ(probe_daemon->exit_code, 0) << probe_daemon->stderr_data;
  // Next to this binary in a carried bundle, else where the build put it.
  std::string probe =
      std::filesystem::read_symlink("/proc/self/exe").parent_path() / "tessera_cuda_alloc_probe";
  if (!std::filesystem::exists(probe)) probe = TESSERA_CUDA_ALLOC_PROBE;
  for (const auto& [bytes, want] : {std::pair<uint64_t, int>{uint64_t{2} << 30, 0},
                                    std::pair<uint64_t, int>{uint64_t{6} << 30, 3}}) {
    absl::StatusOr<base::CommandResult> r = runner_.Run(
        {.argv = {probe, std::to_string(bytes)}, .env = env, .timeout = std::chrono::seconds(60)});
    ASSERT_OK(r);
    std::cout << "mps client: " << r->stdout_data << r->stderr_data;
    EXPECT_EQ(r->exit_code, want) << "allocating " << bytes << " bytes: " << r->stdout_data
                                  << r->stderr_data;
  }
  ASSERT_OK(driver_->UnprepareClaim("hw-share", *p));
  absl::StatusOr<nvidia::GpuInfo> after = nvml_->GetGpu(g->index);
  ASSERT_OK(after);
  EXPECT_EQ(after->compute_mode, nvidia::ComputeMode::kDefault);
}

}  // namespace
}  // namespace tessera::drivers::gpu
