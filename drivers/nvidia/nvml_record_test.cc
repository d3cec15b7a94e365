// nvml-record against the fake library: what it prints must load back into
// the fake and read the same through DlopenNvml (fixture round trip).
#include "drivers/nvidia/nvml_record.h"

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "drivers/nvidia/dlopen_nvml.h"
#include "drivers/nvidia/testing/fake_nvml_env.h"
#include "drivers/nvidia/tools/nvml_record_tool.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera::drivers::nvidia {
namespace {

using ::tessera::testing::StatusIs;
using ::tessera::testing::TempDir;
using testing::FakeNvmlLibrary;
using ::testing::HasSubstr;
using testing::NvmlFixture;
using testing::ScopedFakeNvmlEnv;
using Json = nlohmann::json;

struct Snapshot {
  SystemInfo system;
  std::vector<GpuInfo> gpus;
  std::vector<absl::StatusOr<std::vector<GpuInstanceProfile>>> profiles;
  std::vector<std::vector<GpuInstance>> instances;
};

// Everything DlopenNvml reads from the fake configured by `config`.
Snapshot Read(const std::string& config) {
  ScopedFakeNvmlEnv env(config);
  Snapshot s;
  absl::StatusOr<std::unique_ptr<DlopenNvml>> nvml = DlopenNvml::Load(FakeNvmlLibrary());
  EXPECT_OK(nvml.status());
  if (!nvml.ok()) return s;
  s.system = (*nvml)->GetSystemInfo().value();
  const uint32_t count = (*nvml)->GetGpuCount().value();
  for (uint32_t i = 0; i < count; ++i) {
    s.gpus.push_back((*nvml)->GetGpu(i).value());
    s.profiles.push_back((*nvml)->GetGpuInstanceProfiles(i));
    s.instances.push_back((*nvml)->ListGpuInstances(i).value());
  }
  return s;
}

absl::StatusOr<Json> Record(const std::string& config, const RecordOptions& options = {}) {
  ScopedFakeNvmlEnv env(config);
  absl::StatusOr<std::unique_ptr<DlopenNvml>> nvml = DlopenNvml::Load(FakeNvmlLibrary());
  if (!nvml.ok()) return nvml.status();
  return RecordMachine(**nvml, options);
}

std::string Write(const TempDir& dir, const std::string& name, const Json& j) {
  const std::string path = dir.Sub(name);
  std::ofstream(path) << j.dump(2);
  return path;
}

class RecordRoundTripTest : public ::testing::TestWithParam<const char*> {};

TEST_P(RecordRoundTripTest, RecordingLoadsBackIdentically) {
  const std::string original = NvmlFixture(GetParam());
  ASSERT_OK_AND_ASSIGN(Json recorded, Record(original));
  TempDir dir;
  const Snapshot want = Read(original);
  const Snapshot got = Read(Write(dir, "recorded.json", recorded));
  ASSERT_FALSE(want.gpus.empty());
  EXPECT_EQ(got.system, want.system);
  EXPECT_EQ(got.gpus, want.gpus);
  ASSERT_EQ(got.profiles.size(), want.profiles.size());
  for (size_t i = 0; i < want.profiles.size(); ++i) {
    EXPECT_EQ(got.profiles[i].status().code(), want.profiles[i].status().code());
    if (want.profiles[i].ok() && got.profiles[i].ok()) {
      EXPECT_EQ(*got.profiles[i], *want.profiles[i]) << "gpu " << i;
    }
  }
  EXPECT_EQ(got.instances, want.instances);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, RecordRoundTripTest,
                         ::testing::Values("a100-40gb-1.json", "h100-80gb-8.json", "t4-1.json"));

TEST(RecordTest, RecordsComputeInstanceProfilesOfExistingInstances) {
  ASSERT_OK_AND_ASSIGN(Json recorded, Record(NvmlFixture("h100-80gb-8.json")));
  const Json& mig = recorded["gpus"][7]["mig"];
  ASSERT_EQ(mig["instances"].size(), 2u);
  for (const Json& p : mig["profiles"]) {
    // 3g.40gb (9) and 1g.10gb (19) have an instance, so the driver could be
    // asked for their compute instance profiles; the others could not.
    const bool has_instance = p["id"] == 9 || p["id"] == 19;
    EXPECT_EQ(p.contains("computeInstanceProfiles"), has_instance) << p["name"];
  }
  EXPECT_FALSE(recorded["gpus"][0]["mig"]["current"].get<bool>());
  EXPECT_TRUE(recorded["gpus"][0]["mig"]["queryWhileDisabled"].get<bool>());
}

TEST(RecordTest, RedactHashesUuidsStablyAndDropsSerials) {
  const RecordOptions redact{.redact = true};
  ASSERT_OK_AND_ASSIGN(Json a, Record(NvmlFixture("h100-80gb-8.json"), redact));
  ASSERT_OK_AND_ASSIGN(Json b, Record(NvmlFixture("h100-80gb-8.json"), redact));
  EXPECT_EQ(a, b);
  for (const Json& g : a["gpus"]) {
    EXPECT_THAT(g["uuid"].get<std::string>(),
                ::testing::MatchesRegex(
                    "GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"));
    EXPECT_FALSE(g.contains("serial"));
  }
  EXPECT_NE(a["gpus"][0]["uuid"], "GPU-5e1b0000-7c3a-4f1e-9d2b-0000001000a0");
  const std::string mig = a["gpus"][7]["mig"]["instances"][0]["computeInstances"][0]["uuid"];
  EXPECT_THAT(mig, ::testing::StartsWith("MIG-"));
  EXPECT_NE(mig, "MIG-5b1e7f3a-9c2d-5e8f-a014-7b3c9d2e1f40");
}

TEST(RecordTest, LostGpuFailsTheRecordingOrIsSkippedWithKeepGoing) {
  TempDir dir;
  std::ifstream in(NvmlFixture("h100-80gb-8.json"));
  std::stringstream text;
  text << in.rdbuf();
  Json config = Json::parse(text.str());
  config["gpus"][1]["lost"] = true;
  const std::string path = Write(dir, "lost.json", config);

  EXPECT_THAT(Record(path), StatusIs(absl::StatusCode::kUnavailable,
                                     HasSubstr("record gpu 1: get memory info of gpu 1")));
  ASSERT_OK_AND_ASSIGN(Json partial, Record(path, RecordOptions{.keep_going = true}));
  EXPECT_EQ(partial["gpus"].size(), 7u);
  ASSERT_EQ(partial["skipped"].size(), 1u);
  EXPECT_EQ(partial["skipped"][0]["index"], 1);
  EXPECT_THAT(partial["skipped"][0]["error"].get<std::string>(), HasSubstr("GPU is lost"));
}

// The nvml-record command line.
int RunTool(std::vector<std::string> args, std::string* out, std::string* err) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  std::ostringstream o, e;
  int rc = RunNvmlRecord(static_cast<int>(argv.size()), argv.data(), o, e);
  *out = o.str();
  *err = e.str();
  return rc;
}

TEST(NvmlRecordToolTest, WritesTheRecordingToAFile) {
  TempDir dir;
  ScopedFakeNvmlEnv env(NvmlFixture("a100-40gb-1.json"));
  std::string out, err;
  ASSERT_EQ(
      RunTool({"nvml-record", "--library", FakeNvmlLibrary(), "-o", dir.Sub("a.json")}, &out, &err),
      0)
      << err;
  std::ifstream in(dir.Sub("a.json"));
  std::stringstream text;
  text << in.rdbuf();
  Json j = Json::parse(text.str(), nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["gpus"][0]["name"], "NVIDIA A100-SXM4-40GB");
  EXPECT_EQ(j["gpus"][0]["mig"]["profiles"].size(), 7u);
}

TEST(NvmlRecordToolTest, ExitCodes) {
  std::string out, err;
  EXPECT_EQ(RunTool({"nvml-record", "--no-such-flag"}, &out, &err), 2);
  EXPECT_EQ(RunTool({"nvml-record", "--library", "/nonexistent/libnvidia-ml.so.1"}, &out, &err), 1);
  EXPECT_THAT(err, HasSubstr("NOT_FOUND"));
  EXPECT_EQ(RunTool({"nvml-record", "--help"}, &out, &err), 0);
  EXPECT_THAT(out, HasSubstr("--library"));
}

}  // namespace
}  // namespace tessera::drivers::nvidia
