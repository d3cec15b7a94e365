// Test helpers for the NPU driver: where the fake vendor libraries, the
// npu-smi stand-in and the fixtures are (test targets get the paths as
// TESSERA_FAKE_* compile definitions, see ../CMakeLists.txt), scoped
// environment variables for the fakes, and a simulated node (model loader +
// sysfs) over a fixture. Not thread-safe (setenv).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "base/strings.h"
#include "base/sysfs.h"
#include "test/fakes/base/scoped_env.h"
#include "topology/loader.h"

namespace tessera::drivers::npu::testing {

inline std::string FakeDcmiLibrary() { return TESSERA_FAKE_DCMI_LIB; }
// Exports only dcmi_init.
inline std::string BrokenDcmiLibrary() { return TESSERA_FAKE_DCMI_LIB_BROKEN; }
inline std::string FakeHlmlLibrary() { return TESSERA_FAKE_HLML_LIB; }
inline std::string FakeNpuSmi() { return TESSERA_FAKE_NPU_SMI; }

inline constexpr std::string_view kAscendNode = "sim-8x910b3-8xcx6dx";
inline constexpr std::string_view kGaudiNode = "sim-8xgaudi2";
inline constexpr std::string_view kAccelNode = "sim-mtl-npu";
inline constexpr std::string_view kGpuNode = "sim-8xh100-8xcx7";

// test/testdata/nodes/<name>.
inline std::string NodeFixture(std::string_view name) {
  return base::StrCat(TESSERA_SOURCE_DIR, "/test/testdata/nodes/", name);
}
// test/testdata/npu/<name>.
inline std::string NpuFixture(std::string_view name) {
  return base::StrCat(TESSERA_SOURCE_DIR, "/test/testdata/npu/", name);
}

using ::tessera::testing::ScopedEnv;  // test/fakes/base/scoped_env.h

// A fixture node: its sysfs and a model loader over it.
class SimNode {
 public:
  explicit SimNode(std::string_view name) : root_(NodeFixture(name)), sysfs_(root_ + "/sys") {}

  const std::string& root() const { return root_; }
  const base::Sysfs& sysfs() const { return sysfs_; }
  absl::StatusOr<topology::NodeTopology> Load() const {
    return topology::LoadTopology(topology::TopologySource::SysfsRoot(root_));
  }
  auto Loader() const {
    return [this]() { return Load(); };
  }

 private:
  std::string root_;
  base::DirSysfs sysfs_;
};

// Creates `paths` (container paths such as "/dev/davinci0") as empty files
// under `dev_root`: what the unit tests need to pass the driver's "device
// node present" check without root. The podman test makes real nodes.
inline void MaterializeNodes(const std::string& dev_root, const std::vector<std::string>& paths) {
  for (const std::string& p : paths) {
    std::filesystem::path file = dev_root + p;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file).flush();
  }
}

// The lines the npu-smi stand-in recorded, each split at tabs.
inline std::vector<std::vector<std::string>> ReadNpuSmiLog(const std::string& path) {
  std::vector<std::vector<std::string>> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> args;
    for (std::string_view a : base::Split(line, '\t')) args.emplace_back(a);
    out.push_back(std::move(args));
  }
  return out;
}

}  // namespace tessera::drivers::npu::testing
