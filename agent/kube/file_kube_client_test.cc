#include "agent/kube/file_kube_client.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "agent/kube/resource_slice_publisher.h"
#include "agent/kube/yaml_json.h"
#include "base/filesystem.h"
#include "test/fakes/base/fake_clock.h"
#include "test/fakes/base/temp_dir.h"
#include "test/fakes/kube/inventories.h"
#include "test/fakes/kube/pool_checks.h"
#include "test/matchers/status_matchers.h"

namespace tessera::agent::kube {
namespace {

using Json = nlohmann::json;
using tessera::testing::StatusIs;
using ::testing::HasSubstr;

Json NewSlice(const std::string& node = "node-a") {
  return Json{
      {"metadata", {{"generateName", node + "-gpu.tessera.dev-"}}},
      {"spec",
       {{"driver", "gpu.tessera.dev"},
        {"pool", {{"name", node}, {"generation", 1}, {"resourceSliceCount", 1}}},
        {"nodeName", node},
        {"devices", {{{"name", "gpu-0"}, {"capacity", {{"memory", {{"value", "81920Mi"}}}}}}}}}}};
}

std::string Name(const Json& o) { return o["metadata"]["name"]; }

class FileKubeClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(client_, FileKubeClient::Create(fs_, clock_, dir_.Sub("cluster")));
  }
  std::vector<std::string> Files() {
    absl::StatusOr<std::vector<std::string>> names =
        fs_.ListDir(dir_.Sub("cluster/resourceslices"));
    return names.ok() ? *names : std::vector<std::string>{};
  }

  testing::TempDir dir_;
  base::RealFilesystem fs_;
  testing::FakeClock clock_;
  std::unique_ptr<FileKubeClient> client_;
};

TEST_F(FileKubeClientTest, CreateWritesOneYamlFilePerSlice) {
  ASSERT_OK_AND_ASSIGN(Json a, client_->CreateResourceSlice(NewSlice()));
  ASSERT_OK_AND_ASSIGN(Json b, client_->CreateResourceSlice(NewSlice()));
  EXPECT_NE(Name(a), Name(b));
  EXPECT_THAT(Name(a), ::testing::StartsWith("node-a-gpu.tessera.dev-"));
  EXPECT_EQ(a["metadata"]["generation"], 1);
  EXPECT_EQ(a["metadata"]["uid"].get<std::string>().size(), 36u);
  EXPECT_EQ(a["metadata"]["creationTimestamp"], "2026-05-28T20:26:40Z");      // the FakeClock's
  EXPECT_EQ(a["spec"]["devices"][0]["capacity"]["memory"]["value"], "80Gi");  // canonical
  EXPECT_LT(std::stoull(a["metadata"]["resourceVersion"].get<std::string>()),
            std::stoull(b["metadata"]["resourceVersion"].get<std::string>()));
  // The file holds the object, as YAML.
  ASSERT_OK_AND_ASSIGN(std::string text,
                       fs_.ReadFile(dir_.Sub("cluster/resourceslices/" + Name(a) + ".yaml")));
  EXPECT_THAT(text, HasSubstr("# Written by tessera-agent"));
  ASSERT_OK_AND_ASSIGN(Json back, YamlToJson(text, "file"));
  EXPECT_EQ(back, a);
  EXPECT_THAT(Files(), ::testing::Contains(Name(a) + ".yaml"));
}

TEST_F(FileKubeClientTest, ValidatesLikeTheApiServer) {
  Json bad = NewSlice();
  bad["spec"]["devices"][0]["name"] = "GPU_0";
  EXPECT_THAT(client_->CreateResourceSlice(bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("spec.devices[0].name: Invalid value")));
  Json unknown = NewSlice();
  unknown["spec"]["devices"][0]["basic"] = Json::object();
  EXPECT_THAT(client_->CreateResourceSlice(unknown),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("spec.devices[0].basic: unknown field")));
  EXPECT_TRUE(Files().empty() || Files() == std::vector<std::string>{".resource-version"});
}

TEST_F(FileKubeClientTest, UpdateAndDeleteHonourVersionsAndPreconditions) {
  ASSERT_OK_AND_ASSIGN(Json a, client_->CreateResourceSlice(NewSlice()));
  ASSERT_OK_AND_ASSIGN(Json same, client_->UpdateResourceSlice(a));
  EXPECT_EQ(same["metadata"]["resourceVersion"], a["metadata"]["resourceVersion"]);  // no-op
  Json changed = a;
  changed["spec"]["devices"][0]["capacity"]["memory"]["value"] = "40Gi";
  ASSERT_OK_AND_ASSIGN(Json updated, client_->UpdateResourceSlice(changed));
  EXPECT_EQ(updated["metadata"]["generation"], 2);
  EXPECT_THAT(client_->UpdateResourceSlice(changed), StatusIs(absl::StatusCode::kAborted));
  Json moved = updated;
  moved["spec"]["nodeName"] = "node-b";
  EXPECT_THAT(client_->UpdateResourceSlice(moved),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("field is immutable")));
  EXPECT_THAT(client_->DeleteResourceSlice(Name(a), {"other-uid", ""}),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(client_->DeleteResourceSlice(Name(a), {"", a["metadata"]["resourceVersion"]}),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_OK(client_->DeleteResourceSlice(
      Name(a), {updated["metadata"]["uid"], updated["metadata"]["resourceVersion"]}));
  EXPECT_THAT(client_->DeleteResourceSlice(Name(a), {}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(client_->DeleteResourceSlice("../x", {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(FileKubeClientTest, ListFiltersAndSkipsJunk) {
  ASSERT_OK(client_->CreateResourceSlice(NewSlice("node-a")).status());
  ASSERT_OK(client_->CreateResourceSlice(NewSlice("node-b")).status());
  ASSERT_OK(fs_.WriteFileAtomic(dir_.Sub("cluster/resourceslices/junk.yaml"), "a: [",
                                {.durable = false}));
  ASSERT_OK_AND_ASSIGN(ObjectList mine, client_->ListResourceSlices({"node-a", "gpu.tessera.dev"}));
  EXPECT_EQ(mine.items.size(), 1u);
  ASSERT_OK_AND_ASSIGN(ObjectList all, client_->ListResourceSlices({}));
  EXPECT_EQ(all.items.size(), 2u);
  EXPECT_THAT(client_->WatchResourceSlices({}, {}, [](const WatchEvent&) {}, {}),
              StatusIs(absl::StatusCode::kUnimplemented));
}

TEST_F(FileKubeClientTest, VersionsContinueAfterARestart) {
  ASSERT_OK_AND_ASSIGN(Json a, client_->CreateResourceSlice(NewSlice()));
  ASSERT_OK_AND_ASSIGN(auto again, FileKubeClient::Create(fs_, clock_, dir_.Sub("cluster")));
  ASSERT_OK_AND_ASSIGN(Json b, again->CreateResourceSlice(NewSlice()));
  EXPECT_GT(std::stoull(b["metadata"]["resourceVersion"].get<std::string>()),
            std::stoull(a["metadata"]["resourceVersion"].get<std::string>()));
}

TEST_F(FileKubeClientTest, NodesAndClaimsFromFiles) {
  EXPECT_THAT(client_->GetNode("node-a"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK(fs_.WriteFileAtomic(dir_.Sub("cluster/nodes/node-a.yaml"),
                                "apiVersion: v1\nkind: Node\nmetadata: {name: node-a, uid: n-1}\n",
                                {.durable = false}));
  ASSERT_OK_AND_ASSIGN(Json node, client_->GetNode("node-a"));
  EXPECT_EQ(node["metadata"]["uid"], "n-1");
  ASSERT_OK(fs_.CreateDirectories(dir_.Sub("cluster/resourceclaims/ml"), 0755));
  ASSERT_OK(fs_.WriteFileAtomic(dir_.Sub("cluster/resourceclaims/ml/c.json"),
                                R"({"metadata": {"name": "c", "namespace": "ml", "uid": "u"}})",
                                {.durable = false}));
  ASSERT_OK_AND_ASSIGN(Json claim, client_->GetResourceClaim("ml", "c"));
  EXPECT_EQ(claim["metadata"]["uid"], "u");
  EXPECT_THAT(client_->GetResourceClaim("..", "c"), StatusIs(absl::StatusCode::kInvalidArgument));
}

// The publisher runs unchanged on files.
TEST_F(FileKubeClientTest, PublisherConvergesOnFilesAndRepairsByPolling) {
  base::metrics::Registry metrics;
  PublisherOptions options{.driver = "gpu.tessera.dev",
                           .node_name = "node-a",
                           .require_node_owner = false,
                           .poll_interval = std::chrono::seconds(10)};
  ASSERT_OK_AND_ASSIGN(auto publisher, Publisher::Create(*client_, clock_, metrics, options));
  drivers::Inventory inv;
  for (int i = 0; i < 200; ++i) inv.devices.push_back(testing::Gpu(i, 0));
  ASSERT_OK(publisher->SetInventory(inv));
  ASSERT_OK(publisher->Sync());
  ASSERT_OK_AND_ASSIGN(ObjectList list, client_->ListResourceSlices({}));
  EXPECT_TRUE(testing::PoolConverged(list.items, *publisher->desired()));
  EXPECT_EQ(publisher->counters().creates, 2u);
  ASSERT_OK(publisher->Sync());
  EXPECT_EQ(publisher->counters().writes(), 2u);  // unchanged: nothing written

  // Run: no watch here, so the publisher relists every poll interval and
  // notices a file removed by hand.
  std::jthread loop([&](std::stop_token stop) { publisher->Run(stop); });
  ASSERT_OK(
      fs_.RemoveFile(dir_.Sub("cluster/resourceslices/" + Name(list.items[0]) + ".yaml"), false));
  bool repaired = false;
  for (int i = 0; i < 100 && !repaired; ++i) {
    clock_.Advance(std::chrono::seconds(5));
    clock_.WaitForPendingSleepers(2);  // the loop and the poller are asleep again
    absl::StatusOr<ObjectList> now = client_->ListResourceSlices({});
    repaired = now.ok() && testing::PoolConverged(now->items, *publisher->desired());
  }
  EXPECT_TRUE(repaired);
}

}  // namespace
}  // namespace tessera::agent::kube
