// Hardware tier (ctest -L hw): DlopenNvml against the real NVIDIA driver.
// Skips, saying why, where libnvidia-ml.so.1 cannot be loaded or sees no GPU.
//
//   TESSERA_NVML_LIB=/path/libnvidia-ml.so.1   library to load (default: the soname)
//   TESSERA_HW_MIG=1                           also create and destroy the smallest
//                                              MIG instance on the first GPU with
//                                              MIG enabled (needs root; changes the GPU)
#include <cstdlib>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "base/filesystem.h"
#include "base/parse.h"
#include "base/strings.h"
#include "base/sysfs.h"
#include "drivers/nvidia/dlopen_nvml.h"
#include "drivers/nvidia/mig_minors.h"
#include "test/matchers/status_matchers.h"

namespace tessera::drivers::nvidia {
namespace {

using ::tessera::testing::StatusIs;

class NvmlHardwareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* lib = std::getenv("TESSERA_NVML_LIB");
    options_.library = lib != nullptr && *lib != '\0' ? lib : std::string(kDefaultNvmlLibrary);
    options_.filesystem = &fs_;
    absl::StatusOr<std::unique_ptr<DlopenNvml>> nvml = DlopenNvml::Load(options_);
    if (!nvml.ok()) {
      GTEST_SKIP() << "no usable NVIDIA driver on this host (" << nvml.status()
                   << "); the hw tier needs libnvidia-ml.so.1 and a GPU";
    }
    nvml_ = *std::move(nvml);
    absl::StatusOr<uint32_t> count = nvml_->GetGpuCount();
    ASSERT_OK(count.status());
    if (*count == 0) GTEST_SKIP() << "NVML loaded but reports no GPU";
    count_ = *count;
  }

  base::RealFilesystem fs_;
  DlopenNvmlOptions options_;
  std::unique_ptr<DlopenNvml> nvml_;
  uint32_t count_ = 0;
};

TEST_F(NvmlHardwareTest, SystemVersionsAreReported) {
  ASSERT_OK_AND_ASSIGN(SystemInfo info, nvml_->GetSystemInfo());
  // "580.159.04": dotted decimal.
  EXPECT_THAT(info.driver_version, ::testing::MatchesRegex("[0-9]+(\\.[0-9]+)+"));
  // CUDA 11.0 or newer on any driver that has the MIG API.
  if (nvml_->mig_api_available()) {
    EXPECT_GE(info.cuda_driver_version, 11000);
  }
  if (!info.nvml_version.empty()) {
    EXPECT_THAT(info.nvml_version, ::testing::MatchesRegex("[0-9]+(\\.[0-9]+)+"));
  }
}

TEST_F(NvmlHardwareTest, EveryGpuHasSaneIdentity) {
  base::DirSysfs sysfs("/sys");
  std::set<std::string> uuids, addresses;
  std::set<uint32_t> minors;
  for (uint32_t i = 0; i < count_; ++i) {
    SCOPED_TRACE(::testing::Message() << "gpu " << i);
    ASSERT_OK_AND_ASSIGN(GpuInfo gpu, nvml_->GetGpu(i));
    EXPECT_THAT(gpu.uuid, ::testing::MatchesRegex(
                              "GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"));
    EXPECT_FALSE(gpu.name.empty());
    EXPECT_EQ(gpu.pci_vendor_id, 0x10de);
    EXPECT_NE(gpu.pci_device_id, 0);
    // Our normalized form round-trips through the parser.
    const std::string bdf = gpu.pci_address.ToString();
    EXPECT_THAT(base::PciAddress::Parse(bdf), ::tessera::testing::IsOkAndHolds(gpu.pci_address));
    EXPECT_GT(gpu.memory_total_bytes, 1ull << 30);
    EXPECT_LE(gpu.memory_free_bytes, gpu.memory_total_bytes);
    ASSERT_TRUE(gpu.compute_capability.has_value());
    EXPECT_GE(gpu.compute_capability->major, 3);
    EXPECT_LE(gpu.compute_capability->major, 12);
    EXPECT_EQ(gpu.architecture, ArchitectureFromComputeCapability(*gpu.compute_capability))
        << "nvml says " << ArchitectureName(gpu.architecture) << " for compute capability "
        << gpu.compute_capability->ToString();
    EXPECT_OK(nvml_->CheckHealth(i));
    uuids.insert(gpu.uuid);
    addresses.insert(bdf);
    minors.insert(gpu.minor_number);

    // NVML and the kernel agree on what sits at that PCI address.
    const std::string dev = base::StrCat("bus/pci/devices/", bdf);
    if (sysfs.Exists(dev)) {
      ASSERT_OK_AND_ASSIGN(std::string device_id, sysfs.ReadAttribute(dev + "/device"));
      EXPECT_THAT(base::ParseHex(device_id), ::tessera::testing::IsOkAndHolds(gpu.pci_device_id));
    }
  }
  EXPECT_EQ(uuids.size(), count_);
  EXPECT_EQ(addresses.size(), count_);
  EXPECT_EQ(minors.size(), count_);
}

TEST_F(NvmlHardwareTest, MigProfilesAreConsistentOrNotSupported) {
  for (uint32_t i = 0; i < count_; ++i) {
    SCOPED_TRACE(::testing::Message() << "gpu " << i);
    absl::StatusOr<std::vector<GpuInstanceProfile>> profiles = nvml_->GetGpuInstanceProfiles(i);
    if (!profiles.ok()) {
      EXPECT_THAT(profiles.status(), StatusIs(absl::StatusCode::kUnimplemented));
      continue;
    }
    ASSERT_OK_AND_ASSIGN(GpuInfo gpu, nvml_->GetGpu(i));
    ASSERT_TRUE(gpu.mig_mode.has_value()) << "profiles without a MIG mode";
    for (const GpuInstanceProfile& p : *profiles) {
      SCOPED_TRACE(p.name);
      EXPECT_THAT(p.name, ::testing::MatchesRegex("[0-9]+g\\.[0-9]+gb(\\+[a-z.]+)?"));
      EXPECT_GE(p.slice_count, 1u);
      EXPECT_LE(p.slice_count, 8u);
      EXPECT_GE(p.instance_count, 1u);
      EXPECT_GT(p.multiprocessor_count, 0u);
      EXPECT_GT(p.memory_bytes, 0u);
      EXPECT_LE(p.memory_bytes, gpu.memory_total_bytes);
      for (const MigPlacement& pl : p.placements) {
        EXPECT_GE(pl.size, 1u);
        EXPECT_LE(pl.start + pl.size, 8u);
      }
    }
    // Listing works whatever the mode (empty when MIG is off).
    ASSERT_OK_AND_ASSIGN(std::vector<GpuInstance> instances, nvml_->ListGpuInstances(i));
    if (!gpu.mig_mode->current) {
      EXPECT_TRUE(instances.empty());
    }
  }
}

TEST_F(NvmlHardwareTest, MigMinorsFileParsesWhenPresent) {
  absl::StatusOr<MigMinors> minors = ReadMigMinors(fs_, std::string(kMigMinorsPath));
  if (minors.status().code() == absl::StatusCode::kNotFound) {
    GTEST_SKIP() << kMigMinorsPath << " absent: driver without nvidia-caps";
  }
  ASSERT_OK(minors.status());
  EXPECT_TRUE(minors->config().has_value());
  EXPECT_TRUE(minors->monitor().has_value());
  ASSERT_OK_AND_ASSIGN(GpuInfo gpu, nvml_->GetGpu(0));
  // The driver lists every possible GPU instance of every GPU up front.
  EXPECT_TRUE(minors->GpuInstance(gpu.minor_number, 0).has_value());
}

TEST_F(NvmlHardwareTest, CreatesAndDestroysSmallestMigInstance) {
  const char* flag = std::getenv("TESSERA_HW_MIG");
  if (flag == nullptr || std::string(flag) != "1") {
    GTEST_SKIP() << "set TESSERA_HW_MIG=1 to create and destroy a MIG instance";
  }
  std::optional<uint32_t> index;
  for (uint32_t i = 0; i < count_ && !index; ++i) {
    ASSERT_OK_AND_ASSIGN(GpuInfo gpu, nvml_->GetGpu(i));
    if (gpu.mig_mode && gpu.mig_mode->current) index = i;
  }
  if (!index) GTEST_SKIP() << "no GPU has MIG mode enabled (nvidia-smi -i N -mig 1)";
  ASSERT_OK_AND_ASSIGN(std::vector<GpuInstanceProfile> profiles,
                       nvml_->GetGpuInstanceProfiles(*index));
  ASSERT_OK_AND_ASSIGN(std::vector<GpuInstance> before, nvml_->ListGpuInstances(*index));
  // Smallest profile that still has a free placement.
  std::sort(profiles.begin(), profiles.end(), [](const auto& a, const auto& b) {
    return std::tie(a.slice_count, a.memory_bytes) < std::tie(b.slice_count, b.memory_bytes);
  });
  std::optional<std::pair<GpuInstanceProfile, MigPlacement>> pick;
  for (const GpuInstanceProfile& p : profiles) {
    for (const MigPlacement& pl : p.placements) {
      bool free = std::none_of(before.begin(), before.end(),
                               [&](const GpuInstance& gi) { return gi.placement.Overlaps(pl); });
      if (free && !pick) pick = {{p, pl}};
    }
  }
  if (!pick) GTEST_SKIP() << "every MIG placement on gpu " << *index << " is taken";

  ASSERT_OK_AND_ASSIGN(GpuInstance gi,
                       nvml_->CreateGpuInstance(*index, pick->first.id, pick->second));
  EXPECT_EQ(gi.profile_id, pick->first.id);
  EXPECT_EQ(gi.placement, pick->second);
  ASSERT_OK_AND_ASSIGN(std::vector<ComputeInstanceProfile> cps,
                       nvml_->GetComputeInstanceProfiles(*index, gi.id));
  auto full = std::find_if(cps.begin(), cps.end(), [&](const ComputeInstanceProfile& cp) {
    return cp.slice_count == pick->first.slice_count;
  });
  absl::Status ci_status;
  if (full != cps.end()) {
    absl::StatusOr<ComputeInstance> ci = nvml_->CreateComputeInstance(*index, gi.id, full->id);
    ci_status = ci.status();
    if (ci.ok()) {
      EXPECT_THAT(ci->uuid, ::testing::StartsWith("MIG-"));
      ASSERT_OK_AND_ASSIGN(std::vector<GpuInstance> during, nvml_->ListGpuInstances(*index));
      EXPECT_EQ(during.size(), before.size() + 1);
      EXPECT_OK(nvml_->DestroyComputeInstance(*index, gi.id, ci->id));
    }
  }
  EXPECT_OK(nvml_->DestroyGpuInstance(*index, gi.id));
  EXPECT_OK(ci_status);
  EXPECT_NE(full, cps.end()) << "no full-size compute instance profile";
  ASSERT_OK_AND_ASSIGN(std::vector<GpuInstance> after, nvml_->ListGpuInstances(*index));
  EXPECT_EQ(after, before);
}

}  // namespace
}  // namespace tessera::drivers::nvidia
