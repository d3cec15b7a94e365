// SimNode: the bundled simulated node (test/testdata/nodes/sim-8xh100-8xcx7)
// with the fake NVML describing its 8 H100s (test/testdata/gpu/
// nvml-sim-8xh100.json), as the GPU driver's tests, the integration tests and
// the demo use it: the node model, a DirSysfs on its sys tree, the real
// DlopenNvml on the fake libnvidia-ml.so.1 (MIG capability minors from
// test/testdata/nvml/mig-minors-8gpu), recording stand-ins for nvidia-smi
// and nvidia-cuda-mps-control, and temp state and dev-root directories.
//
// Test-only; single-threaded. The fake NVML reads its description when the
// first DlopenNvml of the process initializes, so one SimNode (one fake
// configuration) may be alive at a time. Needs TESSERA_SOURCE_DIR and
// TESSERA_FAKE_NVML_LIB (drivers/gpu/CMakeLists.txt sets both).
#pragma once

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

#include "base/command_runner.h"
#include "base/filesystem.h"
#include "base/sysfs.h"
#include "drivers/gpu/gpu_driver.h"
#include "drivers/gpu/testing/recording_tools.h"
#include "drivers/nvidia/dlopen_nvml.h"
#include "drivers/nvidia/testing/fake_nvml_env.h"
#include "test/fakes/base/fake_clock.h"
#include "test/fakes/base/temp_dir.h"
#include "topology/loader.h"

namespace tessera::drivers::gpu::testing {

inline std::string SourcePath(const std::string& rel) {
  return std::string(TESSERA_SOURCE_DIR) + "/" + rel;
}
inline std::string SimNodeRoot() { return SourcePath("test/testdata/nodes/sim-8xh100-8xcx7"); }
inline std::string SimNodeNvml() { return SourcePath("test/testdata/gpu/nvml-sim-8xh100.json"); }
inline std::string SimMigMinors() { return SourcePath("test/testdata/nvml/mig-minors-8gpu"); }

struct SimNodeOptions {
  // Edits applied to the fake NVML description before it is loaded (error
  // injection, a lost GPU, ...).
  std::function<void(nlohmann::json&)> edit_nvml;
  bool load_nvml = true;
  // When set, MIG instances persist in this file across DlopenNvml loads.
  std::string nvml_state_file;
};

class SimNode {
 public:
  explicit SimNode(SimNodeOptions options = {}) : options_(std::move(options)) {
    absl::StatusOr<topology::NodeTopology> topo =
        topology::LoadTopology(topology::TopologySource::SysfsRoot(SimNodeRoot()));
    if (!topo.ok()) {
      error_ = std::string(topo.status().message());
      return;
    }
    topology_ = std::make_shared<const topology::NodeTopology>(std::move(*topo));
    std::ifstream in(SimNodeNvml());
    nlohmann::json nvml = nlohmann::json::parse(in);
    if (options_.edit_nvml) options_.edit_nvml(nvml);
    nvml_config_ = scratch_.Sub("nvml.json");
    std::ofstream(nvml_config_) << nvml.dump(2);
    if (options_.load_nvml) LoadNvml();
  }

  // (Re)loads the fake NVML: a new NVML session, as after an agent restart
  // (or, without a state file, after a reboot: MIG instances back to the
  // description's).
  void LoadNvml() {
    nvml_.reset();
    env_.reset();  // restores the environment first, then the new values are set
    env_ = std::make_unique<nvidia::testing::ScopedFakeNvmlEnv>(nvml_config_,
                                                                options_.nvml_state_file);
    absl::StatusOr<std::unique_ptr<nvidia::DlopenNvml>> nvml = nvidia::DlopenNvml::Load(
        nvidia::DlopenNvmlOptions{.library = nvidia::testing::FakeNvmlLibrary(),
                                  .filesystem = &fs_,
                                  .mig_minors_path = SimMigMinors()});
    if (!nvml.ok()) {
      error_ = std::string(nvml.status().message());
      return;
    }
    nvml_ = std::move(*nvml);
  }

  GpuDriverOptions DriverOptions() const {
    GpuDriverOptions o;
    o.dev_root = dev_root_.path();
    o.state_dir = state_.path();
    o.simulated = true;
    o.tools = {.nvidia_smi = tools_.nvidia_smi(), .mps_control = tools_.mps_control()};
    return o;
  }

  absl::StatusOr<std::unique_ptr<GpuDriver>> MakeDriver(GpuDriverOptions options) {
    return GpuDriver::Create(std::move(options),
                             GpuDriverDeps{.topology = topology_,
                                           .sysfs = sysfs_,
                                           .nvml = nvml_.get(),
                                           .nvml_error = nvml_ ? "" : "not loaded",
                                           .commands = runner_,
                                           .fs = fs_,
                                           .clock = clock_});
  }

  // Placeholder files for every device node the driver may hand out (the
  // driver checks that they exist; podman tests use real character devices).
  void CreateDevicePlaceholders(const GpuDriver& driver) const {
    for (const std::string& rel : driver.DeviceNodePaths()) {
      const std::string path = dev_root_.Sub(rel);
      std::filesystem::create_directories(std::filesystem::path(path).parent_path());
      std::ofstream(path).flush();
    }
    // Capability nodes of every MIG instance that could be created on the
    // MIG-enabled GPUs (minors 6 and 7), as the mig-minors file numbers them.
    std::filesystem::create_directories(dev_root_.Sub("nvidia-caps"));
    std::ifstream minors(SimMigMinors());
    for (std::string name, minor; minors >> name >> minor;) {
      if (name.starts_with("gpu6/") || name.starts_with("gpu7/")) {
        std::ofstream(dev_root_.Sub("nvidia-caps/nvidia-cap" + minor)).flush();
      }
    }
  }

  const std::string& error() const { return error_; }
  nvidia::DlopenNvml* nvml() const { return nvml_.get(); }
  std::shared_ptr<const topology::NodeTopology> topology() const { return topology_; }
  const RecordingTools& tools() const { return tools_; }
  const std::string& dev_root() const { return dev_root_.path(); }
  const std::string& state_dir() const { return state_.path(); }
  base::RealFilesystem& fs() { return fs_; }
  base::ProcessCommandRunner& runner() { return runner_; }
  const base::Sysfs& sysfs() const { return sysfs_; }

 private:
  SimNodeOptions options_;
  std::string error_;
  tessera::testing::TempDir scratch_;
  tessera::testing::TempDir dev_root_;
  tessera::testing::TempDir state_;
  std::string nvml_config_;
  RecordingTools tools_;
  base::RealFilesystem fs_;
  base::ProcessCommandRunner runner_;
  tessera::testing::FakeClock clock_;
  base::DirSysfs sysfs_{SimNodeRoot() + "/sys"};
  std::shared_ptr<const topology::NodeTopology> topology_;
  std::unique_ptr<nvidia::testing::ScopedFakeNvmlEnv> env_;
  std::unique_ptr<nvidia::DlopenNvml> nvml_;
};

}  // namespace tessera::drivers::gpu::testing
