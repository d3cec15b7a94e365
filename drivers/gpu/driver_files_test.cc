#include "drivers/gpu/driver_files.h"

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "drivers/nvidia/dlopen_nvml.h"
#include "drivers/nvidia/testing/fake_nvml_env.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera::drivers::gpu {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> Pairs(const std::vector<base::Mount>& mounts) {
  std::vector<std::string> out;
  for (const base::Mount& m : mounts) {
    EXPECT_THAT(m.options, ::testing::Contains("ro"));
    out.push_back(m.host_path + " -> " + m.container_path);
  }
  return out;
}

void Touch(const std::string& path) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << "x";
}

TEST(DriverFilesTest, FindsVersionedLibrariesAndMountsThemUnderTheirSonameToo) {
  tessera::testing::TempDir host;
  // A GPU Operator style host: libraries in /usr/local/nvidia/lib64.
  Touch(host.Sub("usr/local/nvidia/lib64/libcuda.so.580.159.04"));
  Touch(host.Sub("usr/local/nvidia/lib64/libnvidia-ml.so.580.159.04"));
  Touch(host.Sub("usr/local/nvidia/lib64/libnvidia-gpucomp.so.580.159.04"));
  Touch(host.Sub("usr/local/nvidia/lib64/libcuda.so.535.104.05"));  // another driver's leftover
  Touch(host.Sub("usr/local/nvidia/bin/nvidia-smi"));
  base::RealFilesystem fs;
  EXPECT_THAT(
      Pairs(FindNvidiaDriverFiles(fs, host.path() + "/", "580.159.04")),
      ElementsAre(
          "/usr/local/nvidia/lib64/libcuda.so.580.159.04 -> "
          "/usr/local/nvidia/lib64/libcuda.so.580.159.04",
          "/usr/local/nvidia/lib64/libcuda.so.580.159.04 -> /usr/local/nvidia/lib64/libcuda.so.1",
          "/usr/local/nvidia/lib64/libnvidia-ml.so.580.159.04 -> "
          "/usr/local/nvidia/lib64/libnvidia-ml.so.580.159.04",
          "/usr/local/nvidia/lib64/libnvidia-ml.so.580.159.04 -> "
          "/usr/local/nvidia/lib64/libnvidia-ml.so.1",
          "/usr/local/nvidia/lib64/libnvidia-gpucomp.so.580.159.04 -> "
          "/usr/local/nvidia/lib64/libnvidia-gpucomp.so.580.159.04",
          "/usr/local/nvidia/bin/nvidia-smi -> /usr/bin/nvidia-smi"));
  EXPECT_THAT(FindNvidiaDriverFiles(fs, host.path(), ""), IsEmpty());
}

TEST(DriverFilesTest, TheLoadedNvmlsDirectoryIsSearchedFirst) {
  tessera::testing::TempDir host;
  Touch(host.Sub("opt/driver/libcuda.so.550.54.15"));
  Touch(host.Sub("usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15"));
  base::RealFilesystem fs;
  std::vector<base::Mount> m = FindNvidiaDriverFiles(fs, host.path(), "550.54.15", {"/opt/driver"});
  ASSERT_FALSE(m.empty());
  EXPECT_EQ(m[0].host_path, "/opt/driver/libcuda.so.550.54.15");
}

TEST(DriverFilesTest, LoadedNvmlDirComesFromTheProcessMaps) {
  base::RealFilesystem fs;
  nvidia::testing::ScopedFakeNvmlEnv env(std::string(TESSERA_SOURCE_DIR) +
                                         "/test/testdata/gpu/nvml-sim-8xh100.json");
  absl::StatusOr<std::unique_ptr<nvidia::DlopenNvml>> nvml =
      nvidia::DlopenNvml::Load(nvidia::testing::FakeNvmlLibrary());
  ASSERT_OK(nvml);
  const std::string dir = std::filesystem::path(nvidia::testing::FakeNvmlLibrary()).parent_path();
  EXPECT_EQ(LoadedNvmlDir(fs, "/"), dir);
  // Seen under a host root, the host path drops the prefix.
  const std::string parent = std::filesystem::path(dir).parent_path();
  EXPECT_EQ(LoadedNvmlDir(fs, parent), "/" + std::string(std::filesystem::path(dir).filename()));
}

}  // namespace
}  // namespace tessera::drivers::gpu
