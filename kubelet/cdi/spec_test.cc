#include "kubelet/cdi/spec.h"

#include <random>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "test/matchers/golden.h"
#include "test/matchers/status_matchers.h"

namespace tessera::kubelet::cdi {
namespace {

using ::tessera::testing::IsOk;
using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;

// A claim spec as DeviceState writes one: two GPUs, one shared by capacity,
// every edit kind and every optional field in use somewhere.
Spec TwoGpuSpec() {
  Spec spec;
  spec.kind = "k8s.gpu.tessera.dev/claim";
  base::ContainerEdits gpu0;
  gpu0.env = {"TESSERA_GPU_0=GPU-6a4c1b2e"};
  gpu0.device_nodes = {{.path = "/dev/nvidia0",
                        .host_path = "/host/dev/nvidia0",
                        .type = "c",
                        .major = 195,
                        .minor = 0,
                        .file_mode = 0666,
                        .permissions = "rw",
                        .uid = 0,
                        .gid = 44}};
  base::ContainerEdits gpu1;
  gpu1.env = {"TESSERA_GPU_1=GPU-0b9d7f31", "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=50"};
  gpu1.device_nodes = {{.path = "/dev/nvidia1"}};
  spec.devices = {
      {.name = "7f1c0a52-3d4e-4b6f-9a81-2c3d4e5f6a7b-gpu-0", .edits = gpu0},
      {.name = "7f1c0a52-3d4e-4b6f-9a81-2c3d4e5f6a7b-gpu-1-3a9e1c04", .edits = gpu1},
  };
  spec.edits.device_nodes = {{.path = "/dev/nvidiactl"}, {.path = "/dev/nvidia-uvm"}};
  spec.edits.mounts = {{.host_path = "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15",
                        .container_path = "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15",
                        .type = "bind",
                        .options = {"ro", "nosuid", "nodev", "bind"}}};
  spec.edits.hooks = {{.hook_name = "createContainer",
                       .path = "/usr/bin/nvidia-cdi-hook",
                       .args = {"nvidia-cdi-hook", "update-ldcache"},
                       .env = {"LD_LIBRARY_PATH=/usr/lib"},
                       .timeout_seconds = 10}};
  spec.edits.env = {"NCCL_IB_HCA=mlx5_0,mlx5_1"};
  return spec;
}

TEST(CdiSpecTest, MarshalMatchesGolden) {
  ASSERT_OK_AND_ASSIGN(std::string text, Marshal(TwoGpuSpec()));
  EXPECT_GOLDEN(text, "cdi/claim_spec.json");
}

TEST(CdiSpecTest, MarshalOmitsEmptyOptionalFields) {
  Spec spec;
  spec.kind = "k8s.rdma.tessera.dev/claim";
  spec.devices = {{.name = "uid-mlx5-0", .edits = {.env = {"A=1"}}}};
  ASSERT_OK_AND_ASSIGN(std::string text, Marshal(spec));
  nlohmann::json doc = nlohmann::json::parse(text);
  EXPECT_EQ(doc["cdiVersion"], "0.5.0");
  EXPECT_FALSE(doc.contains("containerEdits"));
  const nlohmann::json& edits = doc["devices"][0]["containerEdits"];
  EXPECT_EQ(edits, nlohmann::json::parse(R"({"env":["A=1"]})"));
  // A device node with only a path carries no zero-valued optional fields.
  spec.devices[0].edits.device_nodes = {{.path = "/dev/infiniband/uverbs0"}};
  ASSERT_OK_AND_ASSIGN(text, Marshal(spec));
  doc = nlohmann::json::parse(text);
  EXPECT_EQ(doc["devices"][0]["containerEdits"]["deviceNodes"][0],
            nlohmann::json::parse(R"({"path":"/dev/infiniband/uverbs0"})"));
}

TEST(CdiSpecTest, ParseReadsBackWhatMarshalWrote) {
  Spec spec = TwoGpuSpec();
  ASSERT_OK_AND_ASSIGN(std::string text, Marshal(spec));
  EXPECT_THAT(Parse(text, "spec.json"), IsOkAndHolds(spec));
}

TEST(CdiSpecTest, MarshalWritesOnlyVersion050) {
  Spec spec = TwoGpuSpec();
  spec.version = "0.6.0";
  EXPECT_THAT(Marshal(spec), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("0.5.0")));
}

TEST(CdiSpecTest, MinimumVersionFollowsFeatures) {
  Spec spec;
  spec.kind = "vendor.com/gpu";
  spec.devices = {{.name = "gpu0", .edits = {.env = {"A=1"}}}};
  EXPECT_EQ(MinimumVersion(spec), "0.3.0");
  spec.edits.mounts = {{.host_path = "/a", .container_path = "/b", .type = "bind"}};
  EXPECT_EQ(MinimumVersion(spec), "0.4.0");
  spec.devices[0].name = "0gpu";  // a leading digit needs 0.5.0
  EXPECT_EQ(MinimumVersion(spec), "0.5.0");
  spec.devices[0].name = "gpu0";
  spec.devices[0].edits.device_nodes = {{.path = "/dev/x", .host_path = "/dev/y"}};
  EXPECT_EQ(MinimumVersion(spec), "0.5.0");
  spec.kind = "vendor.com/gpu.v2";  // a dot in the class needs 0.6.0
  EXPECT_EQ(MinimumVersion(spec), "0.6.0");
}

TEST(CdiSpecTest, ValidateRejectsFieldsNewerThanDeclared) {
  Spec spec = TwoGpuSpec();
  spec.version = "0.4.0";  // hostPath and digit-leading names need 0.5.0
  EXPECT_THAT(Validate(spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("newer than the declared")));
  spec.version = "1.0.0";
  EXPECT_THAT(Validate(spec), IsOk());
  spec.kind = "k8s.gpu.tessera.dev/claim.v2";
  spec.version = "0.5.0";
  EXPECT_THAT(Validate(spec), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("0.6.0")));
}

TEST(CdiSpecTest, ValidatesNames) {
  EXPECT_THAT(ValidateKind("k8s.gpu.tessera.dev/claim"), IsOk());
  EXPECT_THAT(ValidateKind("nokind"), StatusIs(absl::StatusCode::kInvalidArgument));
  // One-character vendor or class crashes podman 4.3's CDI parser.
  EXPECT_THAT(ValidateKind("v/claim"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at least 2 characters")));
  EXPECT_THAT(ValidateKind("vendor.com/c"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at least 2 characters")));
  EXPECT_THAT(ValidateVendor("1vendor.com"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateVendor("vendor.com-"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateVendor("ven/dor"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateClass(std::string(64, 'c')), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateClass(std::string(63, 'c')), IsOk());
  EXPECT_THAT(ValidateDeviceName("0a-b_c.d:e"), IsOk());
  EXPECT_THAT(ValidateDeviceName("x"), IsOk());
  EXPECT_THAT(ValidateDeviceName(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateDeviceName("-gpu"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateDeviceName("gpu-"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateDeviceName("gpu/0"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateDeviceName("gpu 0"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(CdiSpecTest, ValidateRejectsBadSpecShapes) {
  Spec spec = TwoGpuSpec();
  spec.devices.clear();
  EXPECT_THAT(Validate(spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at least one device")));
  spec = TwoGpuSpec();
  spec.devices[1].name = spec.devices[0].name;
  EXPECT_THAT(Validate(spec), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("devices[1].name: duplicate")));
  spec = TwoGpuSpec();
  spec.devices[0].edits = {};
  EXPECT_THAT(Validate(spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("devices[0].containerEdits")));
  spec = TwoGpuSpec();
  spec.version = "0.9.0";
  EXPECT_THAT(Validate(spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a known CDI version")));
  spec.version = "0.2.0";  // known, but below the earliest version upstream computes
  EXPECT_THAT(Validate(spec), StatusIs(absl::StatusCode::kInvalidArgument));
}

struct BadEdit {
  const char* name;
  base::ContainerEdits edits;
  const char* field;  // expected in the message
};

class CdiEditsValidationTest : public ::testing::TestWithParam<BadEdit> {};

TEST_P(CdiEditsValidationTest, RejectsWithFieldInMessage) {
  const BadEdit& bad = GetParam();
  EXPECT_THAT(ValidateEdits(bad.edits, "devices[0].containerEdits"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(bad.field)));
  // The writer refuses the same edits, at device and at spec level.
  Spec spec = TwoGpuSpec();
  spec.devices[0].edits = bad.edits;
  EXPECT_THAT(Marshal(spec), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(bad.field)));
}

INSTANTIATE_TEST_SUITE_P(
    AllRules, CdiEditsValidationTest,
    ::testing::Values(
        BadEdit{"EnvWithoutEquals", {.env = {"FOO"}}, "env[0]"},
        BadEdit{"EnvWithEmptyName", {.env = {"=bar"}}, "env[0]"},
        BadEdit{"EnvWithNul", {.env = {std::string("A=b\0c", 5)}}, "env[0]"},
        BadEdit{"EnvInvalidUtf8", {.env = {"A=\xff\xfe"}}, "env[0]"},
        BadEdit{"NodeWithoutPath", {.device_nodes = {{.type = "c"}}}, "deviceNodes[0].path"},
        BadEdit{"NodeRelativePath", {.device_nodes = {{.path = "dev/x"}}}, "deviceNodes[0].path"},
        BadEdit{"NodeRelativeHostPath",
                {.device_nodes = {{.path = "/dev/x", .host_path = "x"}}},
                "deviceNodes[0].hostPath"},
        BadEdit{"NodeBadType",
                {.device_nodes = {{.path = "/dev/x", .type = "x"}}},
                "deviceNodes[0].type"},
        BadEdit{"NodeNegativeMajor",
                {.device_nodes = {{.path = "/dev/x", .major = -1}}},
                "deviceNodes[0].major"},
        BadEdit{"NodeNegativeMinor",
                {.device_nodes = {{.path = "/dev/x", .minor = -1}}},
                "deviceNodes[0].minor"},
        BadEdit{"NodeBadPermissions",
                {.device_nodes = {{.path = "/dev/x", .permissions = "rwx"}}},
                "deviceNodes[0].permissions"},
        BadEdit{"NodeNonePermissionsNeedNewerCdi",
                {.device_nodes = {{.path = "/dev/x", .permissions = "none"}}},
                "deviceNodes[0].permissions"},
        BadEdit{
            "MountWithoutHostPath", {.mounts = {{.container_path = "/a"}}}, "mounts[0].hostPath"},
        BadEdit{"MountWithoutContainerPath",
                {.mounts = {{.host_path = "/a"}}},
                "mounts[0].containerPath"},
        BadEdit{"HookUnknownName",
                {.hooks = {{.hook_name = "preStart", .path = "/bin/h"}}},
                "hooks[0].hookName"},
        BadEdit{"HookRelativePath",
                {.hooks = {{.hook_name = "prestart", .path = "bin/h"}}},
                "hooks[0].path"},
        BadEdit{"HookWithoutPath", {.hooks = {{.hook_name = "poststop"}}}, "hooks[0].path"},
        BadEdit{"HookBadEnv",
                {.hooks = {{.hook_name = "poststart", .path = "/bin/h", .env = {"X"}}}},
                "hooks[0].env[0]"},
        BadEdit{"HookZeroTimeout",
                {.hooks = {{.hook_name = "prestart", .path = "/bin/h", .timeout_seconds = 0}}},
                "hooks[0].timeout"}),
    [](const ::testing::TestParamInfo<BadEdit>& p) { return std::string(p.param.name); });

// --- strict reader ---

constexpr const char* kMinimal = R"({
  "cdiVersion": "0.5.0",
  "kind": "k8s.gpu.tessera.dev/claim",
  "devices": [{"name": "uid-gpu-0", "containerEdits": {"env": ["A=1"]}}]
})";

TEST(CdiParseTest, AcceptsMinimalSpecAndLeadingV) {
  ASSERT_OK_AND_ASSIGN(Spec spec, Parse(kMinimal, "spec.json"));
  EXPECT_EQ(spec.kind, "k8s.gpu.tessera.dev/claim");
  ASSERT_EQ(spec.devices.size(), 1u);
  EXPECT_EQ(spec.devices[0].edits.env, std::vector<std::string>{"A=1"});
  nlohmann::json doc = nlohmann::json::parse(kMinimal);
  doc["cdiVersion"] = "v0.5.0";
  EXPECT_THAT(Parse(doc.dump(), "spec.json"), IsOk());
}

struct BadDoc {
  const char* name;
  const char* patch;  // JSON merge patch applied to kMinimal
  const char* message;
};

class CdiParseRejectsTest : public ::testing::TestWithParam<BadDoc> {};

TEST_P(CdiParseRejectsTest, Rejects) {
  nlohmann::json doc = nlohmann::json::parse(kMinimal);
  doc.merge_patch(nlohmann::json::parse(GetParam().patch));
  EXPECT_THAT(
      Parse(doc.dump(), "/var/run/cdi/x.json"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               ::testing::AllOf(HasSubstr("/var/run/cdi/x.json"), HasSubstr(GetParam().message))));
}

INSTANTIATE_TEST_SUITE_P(
    Strictness, CdiParseRejectsTest,
    ::testing::Values(
        BadDoc{"UnknownTopLevelField", R"({"containerSpec": {}})", "containerSpec: unknown field"},
        BadDoc{"Annotations", R"({"annotations": {"a": "b"}})", "annotations: not supported"},
        BadDoc{
            "DeviceAnnotations",
            R"({"devices": [{"name": "d0", "annotations": {}, "containerEdits": {"env": ["A=1"]}}]})",
            "devices[0].annotations: not supported"},
        BadDoc{
            "NetDevices",
            R"({"containerEdits": {"netDevices": [{"hostInterfaceName": "eth1", "name": "net1"}]}})",
            "containerEdits.netDevices: not supported"},
        BadDoc{"AdditionalGids", R"({"containerEdits": {"additionalGids": [44]}})",
               "additionalGids: not supported"},
        BadDoc{"IntelRdt", R"({"containerEdits": {"intelRdt": {"closID": "x"}}})",
               "intelRdt: not supported"},
        BadDoc{"UnknownEditField", R"({"containerEdits": {"envs": ["A=1"]}})",
               "containerEdits.envs: unknown field"},
        BadDoc{"UnknownNodeField",
               R"({"containerEdits": {"deviceNodes": [{"path": "/dev/x", "mode": 1}]}})",
               "containerEdits.deviceNodes[0].mode: unknown field"},
        BadDoc{"WrongVersionType", R"({"cdiVersion": 5})", "cdiVersion: expected string"},
        BadDoc{"UnknownVersion", R"({"cdiVersion": "2.0.0"})", "not a known CDI version"},
        BadDoc{
            "NewerThanDeclared",
            R"({"cdiVersion": "0.4.0", "devices": [{"name": "0-gpu", "containerEdits": {"env": ["A=1"]}}]})",
            "newer than the declared"},
        BadDoc{"MissingKind", R"({"kind": null})", "kind: required field missing"},
        BadDoc{"DevicesNotArray", R"({"devices": {}})", "devices: expected array"},
        BadDoc{"EnvNotStrings", R"({"containerEdits": {"env": [1]}})",
               "containerEdits.env[0]: expected string"},
        BadDoc{"MajorAsString",
               R"({"containerEdits": {"deviceNodes": [{"path": "/dev/x", "major": "195"}]}})",
               "major: expected integer"},
        BadDoc{
            "FileModeOutOfRange",
            R"({"containerEdits": {"deviceNodes": [{"path": "/dev/x", "fileMode": 4294967296}]}})",
            "fileMode: 4294967296 is out of range"},
        BadDoc{"NegativeUid",
               R"({"containerEdits": {"deviceNodes": [{"path": "/dev/x", "uid": -1}]}})",
               "uid: -1 is out of range"},
        BadDoc{
            "FractionalTimeout",
            R"({"containerEdits": {"hooks": [{"hookName": "prestart", "path": "/h", "timeout": 1.5}]}})",
            "timeout: expected integer"},
        BadDoc{"InvalidEditInFile",
               R"({"containerEdits": {"mounts": [{"hostPath": "/a", "containerPath": ""}]}})",
               "containerPath: required"}),
    [](const ::testing::TestParamInfo<BadDoc>& p) { return std::string(p.param.name); });

TEST(CdiParseTest, RejectsNonObjectsAndBrokenJson) {
  EXPECT_THAT(Parse("[]", "x"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Parse("{\"cdiVersion\":", "x"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Parse(std::string(100000, '['), "x"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Parse("", "x"), StatusIs(absl::StatusCode::kInvalidArgument));
}

// Mutated documents (truncations, byte flips, inserted bytes) never crash the
// reader, and what it accepts is always a valid spec that marshals again.
TEST(CdiParseTest, SurvivesMutatedInput) {
  ASSERT_OK_AND_ASSIGN(const std::string valid, Marshal(TwoGpuSpec()));
  std::mt19937 rng(20240601);
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text = valid;
    switch (i % 3) {
      case 0:
        text.resize(rng() % text.size());
        break;
      case 1:
        for (int k = 0; k < 3; ++k) text[rng() % text.size()] = static_cast<char>(rng());
        break;
      default:
        text.insert(rng() % text.size(), 1, "{}[],:\"\\0a"[rng() % 10]);
        break;
    }
    absl::StatusOr<Spec> spec = Parse(text, "fuzz");
    if (spec.ok()) {
      ++accepted;
      EXPECT_THAT(Validate(*spec), IsOk());
    } else {
      EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument) << spec.status();
    }
  }
  // Some mutations land in string contents and stay valid: the loop did
  // exercise the accepting path too.
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace tessera::kubelet::cdi
