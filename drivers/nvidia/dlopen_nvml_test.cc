// DlopenNvml through the real dlopen path, on the fake libnvidia-ml.so.1 and
// the fixtures in test/testdata/nvml/.
#include "drivers/nvidia/dlopen_nvml.h"

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "base/byte_units.h"
#include "base/filesystem.h"
#include "drivers/nvidia/testing/fake_nvml_env.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera::drivers::nvidia {
namespace {

using ::tessera::testing::IsOk;
using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;
using ::tessera::testing::TempDir;
using ::testing::ElementsAre;
using testing::FakeNvmlLibrary;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::NvmlFixture;
using testing::ScopedFakeNvmlEnv;
using ::testing::SizeIs;
using Json = nlohmann::json;

using base::kMiB;

Json ReadJson(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return Json::parse(text.str());
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// A fixture file with `edit` applied, written to `dir`.
std::string EditedFixture(const TempDir& dir, std::string_view fixture,
                          const std::function<void(Json&)>& edit) {
  Json j = ReadJson(NvmlFixture(fixture));
  edit(j);
  const std::string path = dir.Sub("config.json");
  WriteText(path, j.dump());
  return path;
}

std::unique_ptr<DlopenNvml> MustLoad(const DlopenNvmlOptions& options) {
  absl::StatusOr<std::unique_ptr<DlopenNvml>> nvml = DlopenNvml::Load(options);
  EXPECT_THAT(nvml, IsOk());
  return nvml.ok() ? *std::move(nvml) : nullptr;
}

std::unique_ptr<DlopenNvml> MustLoad() {
  DlopenNvmlOptions options;
  options.library = FakeNvmlLibrary();
  return MustLoad(options);
}

// ---------------------------------------------------------------- loading --

TEST(DlopenNvmlLoadTest, MissingLibraryIsNotFound) {
  EXPECT_THAT(DlopenNvml::Load("/nonexistent/dir/libnvidia-ml.so.1"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("libnvidia-ml.so.1")));
  // A bare soname goes through the loader's search path.
  EXPECT_THAT(DlopenNvml::Load("libtessera-no-such-nvml.so.1"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(DlopenNvmlLoadTest, FileThatIsNotALibraryIsFailedPrecondition) {
  EXPECT_THAT(DlopenNvml::Load(NvmlFixture("t4-1.json")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("t4-1.json")));
}

TEST(DlopenNvmlLoadTest, MissingRequiredSymbolIsFailedPreconditionNamingIt) {
  ScopedFakeNvmlEnv env(NvmlFixture("t4-1.json"));
  EXPECT_THAT(
      DlopenNvml::Load(testing::BrokenFakeNvmlLibrary()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("nvmlSystemGetDriverVersion")));
}

TEST(DlopenNvmlLoadTest, InitWithoutDriverIsFailedPrecondition) {
  // The fake answers NVML_ERROR_DRIVER_NOT_LOADED without a configuration, as
  // the real library does on a host without the kernel module.
  ScopedFakeNvmlEnv env("/nonexistent/config.json");
  EXPECT_THAT(DlopenNvml::Load(FakeNvmlLibrary()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("Driver Not Loaded")));
}

TEST(DlopenNvmlLoadTest, InitErrorKeepsItsMappedCode) {
  TempDir dir;
  ScopedFakeNvmlEnv env(EditedFixture(dir, "t4-1.json", [](Json& j) {
    j["errors"] = {{{"function", "nvmlInit_v2"}, {"return", "NVML_ERROR_NO_PERMISSION"}}};
  }));
  EXPECT_THAT(DlopenNvml::Load(FakeNvmlLibrary()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("initialize nvml: Insufficient Permissions (nvml error 4)")));
}

TEST(DlopenNvmlLoadTest, LegacyDriverLoadsWithoutMig) {
  ScopedFakeNvmlEnv env(NvmlFixture("a100-40gb-1.json"));
  ASSERT_OK_AND_ASSIGN(auto nvml, DlopenNvml::Load(testing::LegacyFakeNvmlLibrary()));
  EXPECT_FALSE(nvml->mig_api_available());
  EXPECT_THAT(nvml->missing_symbols(), ::testing::Contains("nvmlDeviceGetMigMode"));
  EXPECT_THAT(nvml->missing_symbols(), ::testing::Contains("nvmlDeviceGetArchitecture"));

  ASSERT_OK_AND_ASSIGN(GpuInfo gpu, nvml->GetGpu(0));
  // Without nvmlDeviceGetArchitecture the architecture comes from the compute
  // capability (8.0), and without the MIG API there is no MIG mode.
  EXPECT_EQ(gpu.architecture, Architecture::kAmpere);
  EXPECT_EQ(gpu.mig_mode, std::nullopt);
  EXPECT_EQ(gpu.uuid, "GPU-4f6e2b1c-8a3d-4e7f-9b21-0c5d7e8f9a10");

  EXPECT_THAT(nvml->GetGpuInstanceProfiles(0),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("nvmlDeviceGetMigMode")));
  EXPECT_THAT(nvml->ListGpuInstances(0), StatusIs(absl::StatusCode::kUnimplemented));
  EXPECT_THAT(nvml->CreateGpuInstance(0, 19, {0, 1}), StatusIs(absl::StatusCode::kUnimplemented));
}

TEST(DlopenNvmlLoadTest, UnreadableConfigFailsInit) {
  TempDir dir;
  WriteText(dir.Sub("bad.json"), "{\"gpus\": [{\"uuid\": 3}]}");
  ScopedFakeNvmlEnv env(dir.Sub("bad.json"));
  EXPECT_THAT(DlopenNvml::Load(FakeNvmlLibrary()), StatusIs(absl::StatusCode::kUnknown));
}

// -------------------------------------------------------------- discovery --

TEST(DlopenNvmlDiscoveryTest, SystemInfo) {
  ScopedFakeNvmlEnv env(NvmlFixture("h100-80gb-8.json"));
  auto nvml = MustLoad();
  ASSERT_NE(nvml, nullptr);
  ASSERT_OK_AND_ASSIGN(SystemInfo info, nvml->GetSystemInfo());
  EXPECT_EQ(info.driver_version, "550.54.15");
  EXPECT_EQ(info.cuda_driver_version, 12040);
  EXPECT_EQ(CudaVersionString(info.cuda_driver_version), "12.4");
  EXPECT_EQ(info.nvml_version, "12.550.54.15");
  EXPECT_THAT(nvml->GetGpuCount(), IsOkAndHolds(8u));
}

TEST(DlopenNvmlDiscoveryTest, H100GpuZeroInOurTypes) {
  ScopedFakeNvmlEnv env(NvmlFixture("h100-80gb-8.json"));
  auto nvml = MustLoad();
  ASSERT_NE(nvml, nullptr);
  ASSERT_OK_AND_ASSIGN(GpuInfo gpu, nvml->GetGpu(0));
  EXPECT_EQ(gpu.index, 0u);
  EXPECT_EQ(gpu.uuid, "GPU-5e1b0000-7c3a-4f1e-9d2b-0000001000a0");
  EXPECT_EQ(gpu.name, "NVIDIA H100 80GB HBM3");
  // The fake reports NVML's "00000000:1A:00.0"; we normalize.
  EXPECT_EQ(gpu.pci_address.ToString(), "0000:1a:00.0");
  EXPECT_EQ(gpu.pci_vendor_id, 0x10de);
  EXPECT_EQ(gpu.pci_device_id, 0x2330);
  EXPECT_EQ(gpu.pci_subsystem_vendor_id, 0x10de);
  EXPECT_EQ(gpu.pci_subsystem_device_id, 0x16c1);
  EXPECT_EQ(gpu.minor_number, 0u);
  EXPECT_EQ(gpu.memory_total_bytes, 81559 * kMiB);
  EXPECT_EQ(gpu.memory_free_bytes, (81559 - 530) * kMiB);
  EXPECT_EQ(gpu.compute_capability, (ComputeCapability{9, 0}));
  EXPECT_EQ(gpu.architecture, Architecture::kHopper);
  EXPECT_EQ(ArchitectureName(gpu.architecture), "Hopper");
  EXPECT_EQ(gpu.serial, "1652423004100");
  EXPECT_EQ(gpu.board_part_number, "695-2G520-0200-000");
  EXPECT_EQ(gpu.compute_mode, ComputeMode::kDefault);
  EXPECT_EQ(gpu.mig_mode, (MigMode{.current = false, .pending = false}));
  EXPECT_OK(nvml->CheckHealth(0));
}

// Every GPU of every fixture reads back as the fixture describes it (the
// expectation is read from the JSON here, independently of the fake).
class FixtureDiscoveryTest : public ::testing::TestWithParam<const char*> {};

TEST_P(FixtureDiscoveryTest, EveryGpuMatchesItsDescription) {
  const Json fixture = ReadJson(NvmlFixture(GetParam()));
  ScopedFakeNvmlEnv env(NvmlFixture(GetParam()));
  auto nvml = MustLoad();
  ASSERT_NE(nvml, nullptr);
  ASSERT_THAT(nvml->GetGpuCount(), IsOkAndHolds(fixture["gpus"].size()));
  for (uint32_t i = 0; i < fixture["gpus"].size(); ++i) {
    const Json& want = fixture["gpus"][i];
    SCOPED_TRACE(want["uuid"].get<std::string>());
    ASSERT_OK_AND_ASSIGN(GpuInfo gpu, nvml->GetGpu(i));
    EXPECT_EQ(gpu.uuid, want["uuid"]);
    EXPECT_EQ(gpu.name, want["name"]);
    EXPECT_EQ(gpu.pci_address.ToString(), want["pciBusId"]);
    EXPECT_EQ(gpu.pci_device_id, std::stoul(want["pciDeviceId"].get<std::string>(), nullptr, 16));
    EXPECT_EQ(gpu.minor_number, want["minorNumber"]);
    EXPECT_EQ(gpu.memory_total_bytes, want["memoryTotalBytes"]);
    EXPECT_EQ(gpu.compute_capability->ToString(), want["computeCapability"]);
    EXPECT_EQ(ArchitectureName(gpu.architecture), want["architecture"]);
    EXPECT_EQ(gpu.mig_mode.has_value(), want.contains("mig"));
    if (want.contains("mig")) {
      EXPECT_EQ(gpu.mig_mode->current, want["mig"]["current"]);
      ASSERT_OK_AND_ASSIGN(std::vector<GpuInstanceProfile> profiles,
                           nvml->GetGpuInstanceProfiles(i));
      ASSERT_EQ(profiles.size(), want["mig"]["profiles"].size());
      for (const Json& p : want["mig"]["profiles"]) {
        auto it = std::find_if(profiles.begin(), profiles.end(),
                               [&](const GpuInstanceProfile& got) { return got.id == p["id"]; });
        ASSERT_NE(it, profiles.end()) << p["name"];
        EXPECT_EQ(it->name, p["name"]);
        EXPECT_EQ(it->memory_bytes, p["memoryMiB"].get<uint64_t>() * kMiB);
        EXPECT_EQ(it->placements.size(), p["placements"].size());
      }
    } else {
      EXPECT_THAT(nvml->GetGpuInstanceProfiles(i), StatusIs(absl::StatusCode::kUnimplemented));
      EXPECT_THAT(nvml->ListGpuInstances(i), IsOkAndHolds(IsEmpty()));
    }
  }
  EXPECT_THAT(nvml->GetGpu(static_cast<uint32_t>(fixture["gpus"].size())),
              StatusIs(absl::StatusCode::kNotFound));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureDiscoveryTest,
                         ::testing::Values("a100-40gb-1.json", "h100-80gb-8.json", "t4-1.json",
                                           "h100-80gb-real-r580.json"));

TEST(DlopenNvmlDiscoveryTest, PciDomainAboveZeroIsKept) {
  TempDir dir;
  ScopedFakeNvmlEnv env(EditedFixture(dir, "t4-1.json", [](Json& j) {
    j["gpus"][0]["pciBusId"] = "0001:AF:00.0";  // VMD-style domain, upper case
  }));
  auto nvml = MustLoad();
  ASSERT_NE(nvml, nullptr);
  ASSERT_OK_AND_ASSIGN(GpuInfo gpu, nvml->GetGpu(0));
  EXPECT_EQ(gpu.pci_address.ToString(), "0001:af:00.0");
}

TEST(DlopenNvmlDiscoveryTest, FindGpuByUuid) {
  ScopedFakeNvmlEnv env(NvmlFixture("h100-80gb-8.json"));
  auto nvml = MustLoad();
  ASSERT_NE(nvml, nullptr);
  EXPECT_THAT(FindGpuByUuid(*nvml, "GPU-5e1b0007-7c3a-4f1e-9d2b-0000001000a7"), IsOkAndHolds(7u));
  EXPECT_THAT(FindGpuByUuid(*nvml, "GPU-00000000-0000-0000-0000-000000000000"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(DlopenNvmlDiscoveryTest, T4HasNoMigAndIsTuring) {
  ScopedFakeNvmlEnv env(NvmlFixture("t4-1.json"));
  auto nvml = MustLoad();
  ASSERT_NE(nvml, nullptr);
  ASSERT_OK_AND_ASSIGN(GpuInfo gpu, nvml->GetGpu(0));
  EXPECT_EQ(gpu.architecture, Architecture::kTuring);
  EXPECT_EQ(gpu.mig_mode, std::nullopt);
  // The fixture has no serial or part number: the board does not report them.
  EXPECT_EQ(gpu.serial, "");
  EXPECT_EQ(gpu.board_part_number, "");
}

// --------------------------------------------------------------- MIG read --

TEST(DlopenNvmlMigTest, A100ProfilesAndPlacements) {
  ScopedFakeNvmlEnv env(NvmlFixture("a100-40gb-1.json"));
  auto nvml = MustLoad();
  ASSERT_NE(nvml, nullptr);
  ASSERT_OK_AND_ASSIGN(GpuInfo gpu, nvml->GetGpu(0));
  EXPECT_EQ(gpu.mig_mode, (MigMode{.current = true, .pending = true}));
  ASSERT_OK_AND_ASSIGN(std::vector<GpuInstanceProfile> profiles, nvml->GetGpuInstanceProfiles(0));
  std::vector<std::string> names;
  for (const GpuInstanceProfile& p : profiles) names.push_back(p.name);
  // Sorted by profile ID, as nvidia-smi numbers them.
  EXPECT_THAT(names, ElementsAre("7g.40gb", "4g.20gb", "3g.20gb", "2g.10gb", "1g.10gb", "1g.5gb",
                                 "1g.5gb+me"));
  const GpuInstanceProfile& one = profiles[5];
  EXPECT_EQ(one.id, 19u);
  EXPECT_EQ(one.index, 0u);  // NVML_GPU_INSTANCE_PROFILE_1_SLICE
  EXPECT_EQ(one.slice_count, 1u);
  EXPECT_EQ(one.instance_count, 7u);
  EXPECT_EQ(one.multiprocessor_count, 14u);
  EXPECT_EQ(one.memory_bytes, 4864 * kMiB);
  EXPECT_THAT(one.placements, SizeIs(7));
  EXPECT_EQ(one.placements[6], (MigPlacement{6, 1}));
  const GpuInstanceProfile& three = profiles[2];
  EXPECT_EQ(three.id, 9u);
  // 3g.20gb occupies four memory slices, at 0 or 4.
  EXPECT_THAT(three.placements, ElementsAre(MigPlacement{0, 4}, MigPlacement{4, 4}));
  EXPECT_THAT(profiles[0].placements, ElementsAre(MigPlacement{0, 8}));
  EXPECT_THAT(nvml->ListGpuInstances(0), IsOkAndHolds(IsEmpty()));
}

TEST(DlopenNvmlMigTest, ProfileNamesAreDerivedWhenTheVersionedQueryIsRefused) {
  TempDir dir;
  ScopedFakeNvmlEnv env(EditedFixture(dir, "a100-40gb-1.json", [](Json& j) {
    j["errors"] = {{{"function", "nvmlDeviceGetGpuInstanceProfileInfoV"},
                    {"return", "NVML_ERROR_ARGUMENT_VERSION_MISMATCH"}}};
  }));
  auto nvml = MustLoad();
  ASSERT_NE(nvml, nullptr);
  ASSERT_OK_AND_ASSIGN(std::vector<GpuInstanceProfile> profiles, nvml->GetGpuInstanceProfiles(0));
  std::vector<std::string> names;
  for (const GpuInstanceProfile& p : profiles) names.push_back(p.name);
  // Derived from slices and memory; on A100 they equal the driver's names.
  EXPECT_THAT(names, ElementsAre("7g.40gb", "4g.20gb", "3g.20gb", "2g.10gb", "1g.10gb", "1g.5gb",
                                 "1g.5gb+me"));
}

TEST(DlopenNvmlMigTest, H100WithMigDisabledListsProfilesButNoInstances) {
  // An R580 driver answers profile and placement queries with MIG off (seen
  // on an H100); creating an instance needs MIG on.
  ScopedFakeNvmlEnv env(NvmlFixture("h100-80gb-8.json"));
  auto nvml = MustLoad();
  ASSERT_NE(nvml, nullptr);
  ASSERT_OK_AND_ASSIGN(std::vector<GpuInstanceProfile> profiles, nvml->GetGpuInstanceProfiles(0));
  EXPECT_THAT(profiles, SizeIs(7));
  EXPECT_THAT(nvml->ListGpuInstances(0), IsOkAndHolds(IsEmpty()));
  EXPECT_THAT(nvml->CreateGpuInstance(0, 19, {0, 1}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("mig mode is disabled")));
}

TEST(DlopenNvmlMigTest, OlderDriverRefusesProfilesWhileMigIsDisabled) {
  TempDir dir;
  ScopedFakeNvmlEnv env(EditedFixture(
      dir, "h100-80gb-8.json", [](Json& j) { j["gpus"][0]["mig"]["queryWhileDisabled"] = false; }));
  auto nvml = MustLoad();
  ASSERT_NE(nvml, nullptr);
  EXPECT_THAT(nvml->GetGpuInstanceProfiles(0),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("Not Supported")));
}

TEST(DlopenNvmlMigTest, ExistingInstancesWithUuidsAndCapsMinors) {
  ScopedFakeNvmlEnv env(NvmlFixture("h100-80gb-8.json"));
  base::RealFilesystem fs;
  DlopenNvmlOptions options;
  options.library = FakeNvmlLibrary();
  options.filesystem = &fs;
  options.mig_minors_path = NvmlFixture("mig-minors-8gpu");
  auto nvml = MustLoad(options);
  ASSERT_NE(nvml, nullptr);
  ASSERT_OK_AND_ASSIGN(std::vector<GpuInstance> gis, nvml->ListGpuInstances(7));
  ASSERT_THAT(gis, SizeIs(2));
  // GI 2: 3g.40gb at memory slices 4..7, one 3-slice compute instance.
  EXPECT_EQ(gis[0].id, 2u);
  EXPECT_EQ(gis[0].profile_id, 9u);
  EXPECT_EQ(gis[0].placement, (MigPlacement{4, 4}));
  EXPECT_EQ(gis[0].caps_minor, 966u);  // "gpu7/gi2/access 966"
  ASSERT_THAT(gis[0].compute_instances, SizeIs(1));
  EXPECT_EQ(gis[0].compute_instances[0].id, 0u);
  EXPECT_EQ(gis[0].compute_instances[0].profile_id, 2u);
  EXPECT_EQ(gis[0].compute_instances[0].placement, (MigPlacement{0, 3}));
  EXPECT_EQ(gis[0].compute_instances[0].uuid, "MIG-5b1e7f3a-9c2d-5e8f-a014-7b3c9d2e1f40");
  EXPECT_EQ(gis[0].compute_instances[0].caps_minor, 967u);  // "gpu7/gi2/ci0/access 967"
  // GI 7: 1g.10gb at slice 0.
  EXPECT_EQ(gis[1].id, 7u);
  EXPECT_EQ(gis[1].profile_id, 19u);
  EXPECT_EQ(gis[1].caps_minor, 1011u);
  EXPECT_EQ(gis[1].compute_instances[0].uuid, "MIG-6c2f8a4b-0d3e-5f90-b125-8c4d0e3f2a51");
  EXPECT_EQ(gis[1].compute_instances[0].caps_minor, 1012u);
}

TEST(DlopenNvmlMigTest, CapsMinorsAreEmptyWithoutTheFileAndAnErrorWhenItIsGarbage) {
  ScopedFakeNvmlEnv env(NvmlFixture("h100-80gb-8.json"));
  TempDir dir;
  base::RealFilesystem fs;
  DlopenNvmlOptions options;
  options.library = FakeNvmlLibrary();
  options.filesystem = &fs;
  options.mig_minors_path = dir.Sub("absent");
  {
    auto nvml = MustLoad(options);
    ASSERT_NE(nvml, nullptr);
    ASSERT_OK_AND_ASSIGN(std::vector<GpuInstance> gis, nvml->ListGpuInstances(7));
    ASSERT_THAT(gis, SizeIs(2));
    EXPECT_EQ(gis[0].caps_minor, std::nullopt);
    EXPECT_EQ(gis[0].compute_instances[0].caps_minor, std::nullopt);
    EXPECT_EQ(gis[0].compute_instances[0].uuid, "MIG-5b1e7f3a-9c2d-5e8f-a014-7b3c9d2e1f40");
  }
  WriteText(dir.Sub("garbage"), "gpu7/gi2/access nine\n");
  options.mig_minors_path = dir.Sub("garbage");
  auto nvml = MustLoad(options);
  ASSERT_NE(nvml, nullptr);
  EXPECT_THAT(nvml->ListGpuInstances(7),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 1")));
}

// ---------------------------------------------------- MIG create/destroy --

class A100MigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.library = FakeNvmlLibrary();
    options_.filesystem = &fs_;
    options_.mig_minors_path = NvmlFixture("mig-minors-8gpu");
    nvml_ = MustLoad(options_);
    ASSERT_NE(nvml_, nullptr);
  }

  ScopedFakeNvmlEnv env_{NvmlFixture("a100-40gb-1.json")};
  base::RealFilesystem fs_;
  DlopenNvmlOptions options_;
  std::unique_ptr<DlopenNvml> nvml_;
};

TEST_F(A100MigTest, CreateComputeInstanceThenDestroyBoth) {
  ASSERT_OK_AND_ASSIGN(GpuInstance gi, nvml_->CreateGpuInstance(0, 9, {4, 4}));  // 3g.20gb
  EXPECT_EQ(gi.id, 2u);  // what an A100 hands out for a four-slice instance at 4
  EXPECT_EQ(gi.profile_id, 9u);
  EXPECT_EQ(gi.placement, (MigPlacement{4, 4}));
  EXPECT_EQ(gi.caps_minor, 21u);  // "gpu0/gi2/access 21"

  ASSERT_OK_AND_ASSIGN(std::vector<ComputeInstanceProfile> cps,
                       nvml_->GetComputeInstanceProfiles(0, gi.id));
  ASSERT_THAT(cps, SizeIs(3));  // 1c, 2c and the full 3g
  EXPECT_EQ(cps[2].slice_count, 3u);
  EXPECT_EQ(cps[2].multiprocessor_count, 42u);

  ASSERT_OK_AND_ASSIGN(ComputeInstance ci, nvml_->CreateComputeInstance(0, gi.id, cps[2].id));
  EXPECT_EQ(ci.id, 0u);
  EXPECT_EQ(ci.placement, (MigPlacement{0, 3}));
  EXPECT_THAT(ci.uuid, ::testing::MatchesRegex(
                           "MIG-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"));
  EXPECT_EQ(ci.caps_minor, 22u);  // "gpu0/gi2/ci0/access 22"

  ASSERT_OK_AND_ASSIGN(std::vector<GpuInstance> listed, nvml_->ListGpuInstances(0));
  ASSERT_THAT(listed, SizeIs(1));
  EXPECT_EQ(listed[0].id, gi.id);
  ASSERT_THAT(listed[0].compute_instances, SizeIs(1));
  EXPECT_EQ(listed[0].compute_instances[0].uuid, ci.uuid);

  // The full-size compute instance leaves no room for a second one.
  EXPECT_THAT(nvml_->CreateComputeInstance(0, gi.id, cps[2].id),
              StatusIs(absl::StatusCode::kResourceExhausted));
  // A GPU instance with a compute instance in it is in use.
  EXPECT_THAT(nvml_->DestroyGpuInstance(0, gi.id),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("In use")));

  EXPECT_OK(nvml_->DestroyComputeInstance(0, gi.id, ci.id));
  EXPECT_THAT(nvml_->DestroyComputeInstance(0, gi.id, ci.id),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_OK(nvml_->DestroyGpuInstance(0, gi.id));
  EXPECT_THAT(nvml_->DestroyGpuInstance(0, gi.id), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(nvml_->ListGpuInstances(0), IsOkAndHolds(IsEmpty()));
}

TEST_F(A100MigTest, OverlappingPlacementIsResourceExhausted) {
  // Plenty of compute slices left; only the memory slices collide.
  ASSERT_OK_AND_ASSIGN(GpuInstance two, nvml_->CreateGpuInstance(0, 14, {0, 2}));  // 2g.10gb
  EXPECT_THAT(nvml_->CreateGpuInstance(0, 19, {1, 1}),
              StatusIs(absl::StatusCode::kResourceExhausted));
  ASSERT_OK_AND_ASSIGN(GpuInstance one, nvml_->CreateGpuInstance(0, 19, {2, 1}));
  ASSERT_OK(nvml_->DestroyGpuInstance(0, two.id));
  ASSERT_OK(nvml_->DestroyGpuInstance(0, one.id));

  ASSERT_OK(nvml_->CreateGpuInstance(0, 9, {4, 4}).status());  // 3g.20gb at 4..7
  ASSERT_OK(nvml_->CreateGpuInstance(0, 5, {0, 4}).status());  // 4g.20gb at 0..3
  // Every memory slice is taken now.
  for (MigPlacement p : {MigPlacement{0, 1}, MigPlacement{6, 1}}) {
    EXPECT_THAT(nvml_->CreateGpuInstance(0, 19, p),
                StatusIs(absl::StatusCode::kResourceExhausted,
                         HasSubstr("Insufficient Resources (nvml error 23)")));
  }
  ASSERT_OK_AND_ASSIGN(std::vector<GpuInstance> listed, nvml_->ListGpuInstances(0));
  EXPECT_THAT(listed, ElementsAre(Field(&GpuInstance::id, 1u), Field(&GpuInstance::id, 2u)));
}

TEST_F(A100MigTest, FreedPlacementCanBeReused) {
  ASSERT_OK_AND_ASSIGN(GpuInstance big, nvml_->CreateGpuInstance(0, 0, {0, 8}));  // 7g.40gb
  EXPECT_EQ(big.id, 0u);
  EXPECT_THAT(nvml_->CreateGpuInstance(0, 19, {3, 1}),
              StatusIs(absl::StatusCode::kResourceExhausted));
  ASSERT_OK(nvml_->DestroyGpuInstance(0, big.id));
  ASSERT_OK_AND_ASSIGN(GpuInstance small, nvml_->CreateGpuInstance(0, 19, {3, 1}));
  EXPECT_EQ(small.id, 10u);  // one-slice instances are 7 + start
}

TEST_F(A100MigTest, ProfileInstanceLimitIsResourceExhausted) {
  // Only one media-extension instance per GPU.
  ASSERT_OK(nvml_->CreateGpuInstance(0, 20, {0, 1}).status());
  EXPECT_THAT(nvml_->CreateGpuInstance(0, 20, {1, 1}),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST_F(A100MigTest, PlacementNotOfferedByTheProfileIsInvalidArgument) {
  EXPECT_THAT(nvml_->CreateGpuInstance(0, 14, {1, 2}),  // 2g.10gb starts at 0, 2 or 4
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("profile 14 at 1:2")));
  EXPECT_THAT(nvml_->CreateGpuInstance(0, 77, {0, 1}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(A100MigTest, SeveralComputeInstancesShareAGpuInstance) {
  ASSERT_OK_AND_ASSIGN(GpuInstance gi, nvml_->CreateGpuInstance(0, 0, {0, 8}));  // 7g.40gb
  ASSERT_OK_AND_ASSIGN(std::vector<ComputeInstanceProfile> cps,
                       nvml_->GetComputeInstanceProfiles(0, gi.id));
  std::vector<uint32_t> slices;
  for (const ComputeInstanceProfile& cp : cps) slices.push_back(cp.slice_count);
  EXPECT_THAT(slices, ElementsAre(1u, 2u, 3u, 4u, 7u));
  ASSERT_OK_AND_ASSIGN(ComputeInstance a, nvml_->CreateComputeInstance(0, gi.id, cps[0].id));
  ASSERT_OK_AND_ASSIGN(ComputeInstance b, nvml_->CreateComputeInstance(0, gi.id, cps[0].id));
  // A 3-slice compute instance skips the taken 0..1 and lands at 4.
  ASSERT_OK_AND_ASSIGN(ComputeInstance c, nvml_->CreateComputeInstance(0, gi.id, cps[2].id));
  EXPECT_EQ(a.placement, (MigPlacement{0, 1}));
  EXPECT_EQ(b.placement, (MigPlacement{1, 1}));
  EXPECT_EQ(c.placement, (MigPlacement{4, 3}));
  EXPECT_NE(a.uuid, b.uuid);
  EXPECT_NE(b.uuid, c.uuid);
  // The whole-GPU compute instance no longer fits.
  EXPECT_THAT(nvml_->CreateComputeInstance(0, gi.id, cps[4].id),
              StatusIs(absl::StatusCode::kResourceExhausted));
  ASSERT_OK_AND_ASSIGN(std::vector<GpuInstance> listed, nvml_->ListGpuInstances(0));
  ASSERT_THAT(listed, SizeIs(1));
  EXPECT_THAT(listed[0].compute_instances,
              ElementsAre(Field(&ComputeInstance::id, 0u), Field(&ComputeInstance::id, 1u),
                          Field(&ComputeInstance::id, 2u)));
}

TEST_F(A100MigTest, UnknownInstancesAreNotFound) {
  EXPECT_THAT(nvml_->GetComputeInstanceProfiles(0, 3), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(nvml_->CreateComputeInstance(0, 3, 0), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(nvml_->DestroyComputeInstance(0, 3, 0), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(nvml_->DestroyGpuInstance(0, 3), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(nvml_->CreateGpuInstance(1, 19, {0, 1}), StatusIs(absl::StatusCode::kNotFound));
}

TEST(DlopenNvmlMigFailureTest, InstanceThatCannotBeDescribedIsDestroyedAgain) {
  TempDir dir;
  ScopedFakeNvmlEnv env(EditedFixture(dir, "a100-40gb-1.json", [](Json& j) {
    j["errors"] = {{{"function", "nvmlGpuInstanceGetInfo"}, {"return", 999}, {"call", 1}}};
  }));
  auto nvml = MustLoad();
  ASSERT_NE(nvml, nullptr);
  EXPECT_THAT(nvml->CreateGpuInstance(0, 19, {0, 1}), StatusIs(absl::StatusCode::kUnknown));
  // Not leaked: the placement is free again and nothing is listed.
  EXPECT_THAT(nvml->ListGpuInstances(0), IsOkAndHolds(IsEmpty()));
  EXPECT_OK(nvml->CreateGpuInstance(0, 19, {0, 1}).status());
}

TEST(DlopenNvmlMigFailureTest, InjectedCreateFailureKeepsNvmlWordsAndCode) {
  TempDir dir;
  ScopedFakeNvmlEnv env(EditedFixture(dir, "a100-40gb-1.json", [](Json& j) {
    j["errors"] = {{{"function", "nvmlDeviceCreateGpuInstanceWithPlacement"},
                    {"return", "NVML_ERROR_NO_PERMISSION"}}};
  }));
  auto nvml = MustLoad();
  ASSERT_NE(nvml, nullptr);
  EXPECT_THAT(nvml->CreateGpuInstance(0, 19, {0, 1}),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "create gpu instance of profile 19 at 0:1 on gpu 0: Insufficient "
                       "Permissions (nvml error 4)"));
}

// ------------------------------------------------- state across processes --

TEST(DlopenNvmlStateTest, InstancesPersistAcrossLoadsAndProcesses) {
  TempDir dir;
  const std::string state = dir.Sub("mig-state.json");
  {
    ScopedFakeNvmlEnv env(NvmlFixture("a100-40gb-1.json"), state);
    auto nvml = MustLoad();
    ASSERT_NE(nvml, nullptr);
    ASSERT_OK(nvml->CreateGpuInstance(0, 14, {2, 2}).status());  // 2g.10gb, GI 4
  }
  ScopedFakeNvmlEnv env(NvmlFixture("a100-40gb-1.json"), state);
  auto nvml = MustLoad();
  ASSERT_NE(nvml, nullptr);
  ASSERT_OK_AND_ASSIGN(std::vector<GpuInstance> listed, nvml->ListGpuInstances(0));
  ASSERT_THAT(listed, SizeIs(1));
  EXPECT_EQ(listed[0].id, 4u);
  EXPECT_EQ(listed[0].placement, (MigPlacement{2, 2}));

  // Another process creates an instance; this one sees it and cannot take
  // its placement.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    absl::StatusOr<GpuInstance> gi = nvml->CreateGpuInstance(0, 14, {4, 2});
    ::_exit(gi.ok() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_THAT(nvml->CreateGpuInstance(0, 14, {4, 2}),
              StatusIs(absl::StatusCode::kResourceExhausted));
  ASSERT_OK_AND_ASSIGN(listed, nvml->ListGpuInstances(0));
  EXPECT_THAT(listed, ElementsAre(Field(&GpuInstance::id, 4u), Field(&GpuInstance::id, 5u)));
}

TEST(DlopenNvmlConcurrencyTest, ConcurrentReadersSeeConsistentData) {
  // The interface promises safety for concurrent use (NVML is thread-safe);
  // meaningful under TESSERA_SANITIZE=thread.
  ScopedFakeNvmlEnv env(NvmlFixture("h100-80gb-8.json"));
  auto nvml = MustLoad();
  ASSERT_NE(nvml, nullptr);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (uint32_t n = 0; n < 50; ++n) {
        const uint32_t i = (t + n) % 8;
        absl::StatusOr<GpuInfo> gpu = nvml->GetGpu(i);
        if (!gpu.ok() || gpu->minor_number != i) ++failures;
        absl::StatusOr<std::vector<GpuInstance>> gis = nvml->ListGpuInstances(7);
        if (!gis.ok() || gis->size() != 2) ++failures;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

// ----------------------------------------------------- errors and health --

TEST(DlopenNvmlErrorTest, LostGpuIsUnavailableAndOthersStillWork) {
  TempDir dir;
  ScopedFakeNvmlEnv env(
      EditedFixture(dir, "h100-80gb-8.json", [](Json& j) { j["gpus"][3]["lost"] = true; }));
  auto nvml = MustLoad();
  ASSERT_NE(nvml, nullptr);
  EXPECT_THAT(nvml->GetGpu(3), StatusIs(absl::StatusCode::kUnavailable,
                                        HasSubstr("get memory info of gpu 3: GPU is lost")));
  EXPECT_THAT(nvml->CheckHealth(3), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_OK(nvml->CheckHealth(2));
  EXPECT_OK(nvml->GetGpu(4).status());
  // A lost GPU cannot be the answer of a UUID search, but the search goes on.
  EXPECT_THAT(FindGpuByUuid(*nvml, "GPU-5e1b0007-7c3a-4f1e-9d2b-0000001000a7"), IsOkAndHolds(7u));
}

TEST(DlopenNvmlErrorTest, FailureOnTheNthCallOnly) {
  TempDir dir;
  ScopedFakeNvmlEnv env(EditedFixture(dir, "t4-1.json", [](Json& j) {
    j["errors"] = {{{"function", "nvmlDeviceGetMemoryInfo"},
                    {"return", "NVML_ERROR_GPU_IS_LOST"},
                    {"call", 2}}};
  }));
  auto nvml = MustLoad();
  ASSERT_NE(nvml, nullptr);
  EXPECT_OK(nvml->CheckHealth(0));
  EXPECT_THAT(nvml->CheckHealth(0), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_OK(nvml->CheckHealth(0));
}

TEST(DlopenNvmlErrorTest, InjectionCanTargetOneGpu) {
  TempDir dir;
  ScopedFakeNvmlEnv env(EditedFixture(dir, "h100-80gb-8.json", [](Json& j) {
    j["errors"] = {
        {{"function", "nvmlDeviceGetUUID"}, {"return", "NVML_ERROR_UNKNOWN"}, {"gpu", 5}}};
  }));
  auto nvml = MustLoad();
  ASSERT_NE(nvml, nullptr);
  EXPECT_OK(nvml->GetGpu(4).status());
  EXPECT_THAT(nvml->GetGpu(5), StatusIs(absl::StatusCode::kUnknown, HasSubstr("uuid of gpu 5")));
}

TEST(DlopenNvmlErrorTest, OptionalFieldNotSupportedLeavesItEmpty) {
  TempDir dir;
  ScopedFakeNvmlEnv env(EditedFixture(dir, "h100-80gb-8.json", [](Json& j) {
    j["errors"] = {
        {{"function", "nvmlDeviceGetComputeMode"}, {"return", "NVML_ERROR_NOT_SUPPORTED"}},
        {{"function", "nvmlSystemGetCudaDriverVersion"}, {"return", "NVML_ERROR_NOT_SUPPORTED"}}};
  }));
  auto nvml = MustLoad();
  ASSERT_NE(nvml, nullptr);
  ASSERT_OK_AND_ASSIGN(GpuInfo gpu, nvml->GetGpu(0));
  EXPECT_EQ(gpu.compute_mode, ComputeMode::kUnknown);
  ASSERT_OK_AND_ASSIGN(SystemInfo info, nvml->GetSystemInfo());
  EXPECT_EQ(info.cuda_driver_version, 0);
  EXPECT_EQ(info.driver_version, "550.54.15");
}

struct MappingCase {
  const char* nvml_return;
  absl::StatusCode code;
};

class ErrorMappingTest : public ::testing::TestWithParam<MappingCase> {};

TEST_P(ErrorMappingTest, NvmlReturnBecomesCode) {
  TempDir dir;
  ScopedFakeNvmlEnv env(EditedFixture(dir, "t4-1.json", [](Json& j) {
    j["errors"] = {{{"function", "nvmlDeviceGetMemoryInfo"}, {"return", GetParam().nvml_return}}};
  }));
  auto nvml = MustLoad();
  ASSERT_NE(nvml, nullptr);
  EXPECT_THAT(nvml->CheckHealth(0),
              StatusIs(GetParam().code, HasSubstr("check health of gpu 0: ")));
}

INSTANTIATE_TEST_SUITE_P(
    Returns, ErrorMappingTest,
    ::testing::Values(
        MappingCase{"NVML_ERROR_NOT_SUPPORTED", absl::StatusCode::kUnimplemented},
        MappingCase{"NVML_ERROR_NO_PERMISSION", absl::StatusCode::kPermissionDenied},
        MappingCase{"NVML_ERROR_GPU_IS_LOST", absl::StatusCode::kUnavailable},
        MappingCase{"NVML_ERROR_INSUFFICIENT_RESOURCES", absl::StatusCode::kResourceExhausted},
        MappingCase{"NVML_ERROR_IN_USE", absl::StatusCode::kFailedPrecondition},
        MappingCase{"NVML_ERROR_RESET_REQUIRED", absl::StatusCode::kFailedPrecondition},
        MappingCase{"NVML_ERROR_NOT_FOUND", absl::StatusCode::kNotFound},
        MappingCase{"NVML_ERROR_TIMEOUT", absl::StatusCode::kDeadlineExceeded},
        MappingCase{"NVML_ERROR_CORRUPTED_INFOROM", absl::StatusCode::kDataLoss},
        MappingCase{"NVML_ERROR_UNKNOWN", absl::StatusCode::kUnknown}));

}  // namespace
}  // namespace tessera::drivers::nvidia
