#include "agent/kube/claim_reader.h"

#include <functional>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "agent/kube/yaml_json.h"
#include "base/filesystem.h"
#include "test/fake_apiserver/api_store.h"
#include "test/fake_apiserver/fake_kube_client.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera::agent::kube {
namespace {

using Json = nlohmann::json;
using tessera::testing::StatusIs;
using ::testing::HasSubstr;

Json Fixture() {
  base::RealFilesystem fs;
  absl::StatusOr<std::string> text = fs.ReadFile(std::string(TESSERA_SOURCE_DIR) +
                                                 "/test/testdata/kube/resourceclaim_gpu_nic.json");
  EXPECT_TRUE(text.ok()) << text.status();
  return Json::parse(*text);
}

TEST(ClaimReaderTest, ParsesAnAllocatedClaim) {
  ASSERT_OK_AND_ASSIGN(ResourceClaim c, ParseResourceClaim(Fixture()));
  EXPECT_EQ(c.namespace_, "ml");
  EXPECT_EQ(c.name, "train-0-gpus");
  EXPECT_EQ(c.uid, "6a3f1c2e-8d4b-4f7a-9c1e-2b5d7e9f0a13");
  EXPECT_EQ(c.resource_version, "48213");
  EXPECT_TRUE(c.allocated);
  ASSERT_EQ(c.results.size(), 4u);
  EXPECT_EQ(c.results[0].request, "gpu");
  EXPECT_EQ(c.results[0].driver, "gpu.tessera.dev");
  EXPECT_EQ(c.results[0].pool, "node-a");
  EXPECT_EQ(c.results[0].device, "gpu-0");
  EXPECT_EQ(c.results[2].request, "nic/ib");
  EXPECT_FALSE(c.results[2].admin_access);
  EXPECT_EQ(c.results[3].share_id, "0b7e5a44-1f3d-4c2a-8e6f-9a0b1c2d3e4f");
  EXPECT_EQ(c.results[3].consumed_capacity.at("memory"), *base::Quantity::Parse("10Gi"));
  EXPECT_EQ(c.results[3].consumed_capacity.at("compute").Value(), 25);
  ASSERT_EQ(c.configs.size(), 3u);
  EXPECT_EQ(c.configs[0].source, "FromClass");
  EXPECT_TRUE(c.configs[0].requests.empty());
  EXPECT_EQ(c.configs[0].parameters["sharing"]["strategy"], "TimeSlicing");
  EXPECT_EQ(c.configs[1].source, "FromClaim");
  EXPECT_THAT(c.configs[1].requests, ::testing::ElementsAre("gpu"));
  EXPECT_EQ(c.configs[2].driver, "rdma.tessera.dev");
}

TEST(ClaimReaderTest, UnallocatedClaim) {
  Json claim = Fixture();
  claim["status"].erase("allocation");
  ASSERT_OK_AND_ASSIGN(ResourceClaim c, ParseResourceClaim(claim));
  EXPECT_FALSE(c.allocated);
  EXPECT_TRUE(c.results.empty());
  claim.erase("status");
  ASSERT_OK_AND_ASSIGN(ResourceClaim bare, ParseResourceClaim(claim));
  EXPECT_FALSE(bare.allocated);
}

TEST(ClaimReaderTest, SkipsConfigKindsItDoesNotKnow) {
  Json claim = Fixture();
  claim["status"]["allocation"]["devices"]["config"].push_back(
      {{"source", "FromClaim"}, {"future", {}}});
  ASSERT_OK_AND_ASSIGN(ResourceClaim c, ParseResourceClaim(claim));
  EXPECT_EQ(c.configs.size(), 3u);
}

struct Bad {
  std::string name;
  std::function<void(Json&)> mutate;
  std::string field;
};

class ClaimReaderErrorTest : public ::testing::TestWithParam<Bad> {};

TEST_P(ClaimReaderErrorTest, NamesTheField) {
  Json claim = Fixture();
  GetParam().mutate(claim);
  EXPECT_THAT(ParseResourceClaim(claim),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(GetParam().field)));
}

Json& Results(Json& c) { return c["status"]["allocation"]["devices"]["results"]; }
Json& Configs(Json& c) { return c["status"]["allocation"]["devices"]["config"]; }

INSTANTIATE_TEST_SUITE_P(
    Fields, ClaimReaderErrorTest,
    ::testing::Values(
        Bad{"WrongApiVersion", [](Json& c) { c["apiVersion"] = "resource.k8s.io/v1beta1"; },
            "apiVersion: "},
        Bad{"WrongKind", [](Json& c) { c["kind"] = "Pod"; }, "kind: "},
        Bad{"NoMetadata", [](Json& c) { c.erase("metadata"); }, "metadata: required field missing"},
        Bad{"NoUid", [](Json& c) { c["metadata"].erase("uid"); },
            "metadata.uid: required field missing"},
        Bad{"EmptyUid", [](Json& c) { c["metadata"]["uid"] = ""; },
            "metadata.uid: must not be empty"},
        Bad{"NoNamespace", [](Json& c) { c["metadata"].erase("namespace"); }, "metadata.namespace"},
        Bad{"NameNotString", [](Json& c) { c["metadata"]["name"] = 5; },
            "metadata.name: expected string"},
        Bad{"AllocationNotObject", [](Json& c) { c["status"]["allocation"] = "yes"; },
            "status.allocation: expected object"},
        Bad{"ResultsNotArray", [](Json& c) { Results(c) = Json::object(); },
            "status.allocation.devices.results: expected array"},
        Bad{"TooManyResults",
            [](Json& c) {
              for (int i = 0; i < 30; ++i) Results(c).push_back(Results(c)[0]);
            },
            "status.allocation.devices.results: too many entries: 34 > 32"},
        Bad{"ResultNotObject", [](Json& c) { Results(c)[1] = 7; }, "results[1]: expected object"},
        Bad{"ResultPoolMissing", [](Json& c) { Results(c)[2].erase("pool"); },
            "results[2].pool: required field missing"},
        Bad{"ResultPoolNumber", [](Json& c) { Results(c)[2]["pool"] = 3; },
            "results[2].pool: expected string, got number"},
        Bad{"ResultPoolInvalid", [](Json& c) { Results(c)[2]["pool"] = "Node_A"; },
            "results[2].pool: "},
        Bad{"ResultDeviceInvalid", [](Json& c) { Results(c)[0]["device"] = "GPU 0"; },
            "results[0].device: "},
        Bad{"ResultDriverInvalid", [](Json& c) { Results(c)[0]["driver"] = "gpu_driver"; },
            "results[0].driver: "},
        Bad{"RequestTwoSlashes", [](Json& c) { Results(c)[0]["request"] = "a/b/c"; },
            "results[0].request: \"a/b/c\": more than one '/'"},
        Bad{"RequestInvalid", [](Json& c) { Results(c)[0]["request"] = "GPU"; },
            "results[0].request: "},
        Bad{"ShareIdNotUuid", [](Json& c) { Results(c)[3]["shareID"] = "share-1"; },
            "results[3].shareID: \"share-1\": not a lower-case RFC 4122 UUID"},
        Bad{"ShareIdUpperCase",
            [](Json& c) { Results(c)[3]["shareID"] = "0B7E5A44-1F3D-4C2A-8E6F-9A0B1C2D3E4F"; },
            "results[3].shareID"},
        Bad{"AdminAccessString", [](Json& c) { Results(c)[2]["adminAccess"] = "no"; },
            "results[2].adminAccess: expected boolean"},
        Bad{"ConsumedCapacityBad",
            [](Json& c) { Results(c)[3]["consumedCapacity"]["memory"] = "ten"; },
            "results[3].consumedCapacity[memory]: invalid quantity"},
        Bad{"ConsumedCapacityType",
            [](Json& c) { Results(c)[3]["consumedCapacity"]["memory"] = true; },
            "results[3].consumedCapacity[memory]: expected quantity"},
        Bad{"TooManyConfigs",
            [](Json& c) {
              for (int i = 0; i < 62; ++i) Configs(c).push_back(Configs(c)[0]);
            },
            "status.allocation.devices.config: too many entries: 65 > 64"},
        Bad{"ConfigSourceMissing", [](Json& c) { Configs(c)[0].erase("source"); },
            "config[0].source: required field missing"},
        Bad{"ConfigSourceUnknown", [](Json& c) { Configs(c)[1]["source"] = "FromPod"; },
            "config[1].source: \"FromPod\": must be FromClass or FromClaim"},
        Bad{"ConfigRequestsNotStrings", [](Json& c) { Configs(c)[1]["requests"] = {1}; },
            "config[1].requests[0]: expected string"},
        Bad{"ConfigRequestInvalid", [](Json& c) { Configs(c)[1]["requests"] = {"Gpu"}; },
            "config[1].requests[0]: "},
        Bad{"OpaqueDriverMissing", [](Json& c) { Configs(c)[2]["opaque"].erase("driver"); },
            "config[2].opaque.driver: required field missing"},
        Bad{"OpaqueParametersArray",
            [](Json& c) {
              Configs(c)[0]["opaque"]["parameters"] = {1, 2};
            },
            "config[0].opaque.parameters: expected object, got array"},
        Bad{"OpaqueParametersMissing", [](Json& c) { Configs(c)[0]["opaque"].erase("parameters"); },
            "config[0].opaque.parameters: required field missing"}),
    [](const ::testing::TestParamInfo<Bad>& param_info) { return param_info.param.name; });

TEST(ClaimReaderTest, NotAnObject) {
  EXPECT_THAT(ParseResourceClaim(Json::array()), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RestClaimSourceTest, GetsAndParses) {
  testing::ApiStore store;
  testing::FakeKubeClient client(store);
  store.PutClaim(Fixture());
  RestClaimSource source(client);
  ASSERT_OK_AND_ASSIGN(ResourceClaim c, source.GetClaim("ml", "train-0-gpus"));
  EXPECT_EQ(c.results.size(), 4u);
  EXPECT_THAT(source.GetClaim("ml", "other"), StatusIs(absl::StatusCode::kNotFound));
  Json bad = Fixture();
  bad["metadata"]["name"] = "bad";
  Results(bad)[0].erase("device");
  store.PutClaim(bad);
  EXPECT_THAT(
      source.GetClaim("ml", "bad"),
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          HasSubstr("parse resourceclaim ml/bad: status.allocation.devices.results[0].device")));
  client.set_injector([](std::string_view) { return absl::UnavailableError("api server down"); });
  EXPECT_THAT(source.GetClaim("ml", "train-0-gpus"), StatusIs(absl::StatusCode::kUnavailable));
}

class FileClaimSourceTest : public ::testing::Test {
 protected:
  void Write(const std::string& rel, const std::string& text) {
    std::string path = dir_.Sub("cluster/resourceclaims/" + rel);
    ASSERT_OK(fs_.CreateDirectories(base::DirName(path), 0755));
    ASSERT_OK(fs_.WriteFileAtomic(path, text, {.durable = false}));
  }
  testing::TempDir dir_;
  base::RealFilesystem fs_;
};

TEST_F(FileClaimSourceTest, ReadsYamlOrJson) {
  Write("ml/train-0-gpus.yaml", JsonToYaml(Fixture()));
  Json other = Fixture();
  other["metadata"]["name"] = "other";
  Write("ml/other.json", other.dump(2));
  FileClaimSource source(fs_, dir_.Sub("cluster"));
  ASSERT_OK_AND_ASSIGN(ResourceClaim c, source.GetClaim("ml", "train-0-gpus"));
  EXPECT_EQ(c.uid, "6a3f1c2e-8d4b-4f7a-9c1e-2b5d7e9f0a13");
  EXPECT_EQ(c.results.size(), 4u);
  ASSERT_OK_AND_ASSIGN(ResourceClaim o, source.GetClaim("ml", "other"));
  EXPECT_EQ(o.name, "other");
  EXPECT_THAT(source.GetClaim("ml", "missing"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("resourceclaims/ml/missing.yaml")));
}

TEST_F(FileClaimSourceTest, RefusesNamesThatLeaveTheDirectory) {
  FileClaimSource source(fs_, dir_.Sub("cluster"));
  EXPECT_THAT(source.GetClaim("..", "x"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("namespace")));
  EXPECT_THAT(source.GetClaim("ml", "../../etc/passwd"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("name")));
}

TEST_F(FileClaimSourceTest, BadFilesNameTheFileAndField) {
  Write("ml/broken.yaml", "metadata: [unclosed\n");
  Write("ml/nouid.yaml", "metadata: {name: nouid, namespace: ml}\n");
  FileClaimSource source(fs_, dir_.Sub("cluster"));
  EXPECT_THAT(source.GetClaim("ml", "broken"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("broken.yaml: line")));
  EXPECT_THAT(source.GetClaim("ml", "nouid"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("nouid.yaml: metadata.uid: required field missing")));
}

}  // namespace
}  // namespace tessera::agent::kube
