#include "test/fake_apiserver/api_store.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::testing {
namespace {

using Json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::SizeIs;

Json Slice(const std::string& node, const std::string& driver, Json devices = nullptr) {
  if (devices.is_null()) {
    devices = Json::array({{{"name", "dev-0"}, {"attributes", {{"model", {{"string", "x"}}}}}}});
  }
  return Json{{"apiVersion", "resource.k8s.io/v1"},
              {"kind", "ResourceSlice"},
              {"metadata", {{"generateName", node + "-" + driver + "-"}}},
              {"spec",
               {{"driver", driver},
                {"pool", {{"name", node}, {"generation", 1}, {"resourceSliceCount", 1}}},
                {"nodeName", node},
                {"devices", devices}}}};
}

std::string Rv(const Json& obj) { return obj["metadata"]["resourceVersion"].get<std::string>(); }
std::string Name(const Json& obj) { return obj["metadata"]["name"].get<std::string>(); }

TEST(ApiStoreTest, CreateGeneratesNameAndServerFields) {
  ApiStore store;
  ApiResponse r = store.CreateSlice(Slice("node-a", "gpu.tessera.dev"));
  ASSERT_EQ(r.code, 201) << r.body.dump();
  std::string name = Name(r.body);
  EXPECT_THAT(name, ::testing::StartsWith("node-a-gpu.tessera.dev-"));
  EXPECT_EQ(name.size(), std::string("node-a-gpu.tessera.dev-").size() + 5);
  EXPECT_EQ(r.body["metadata"]["generation"], 1);
  EXPECT_EQ(r.body["metadata"]["uid"].get<std::string>().size(), 36u);
  EXPECT_EQ(Rv(r.body), store.resource_version());
  // Two creates with the same prefix get different names.
  ApiResponse again = store.CreateSlice(Slice("node-a", "gpu.tessera.dev"));
  ASSERT_EQ(again.code, 201);
  EXPECT_NE(Name(again.body), name);
  EXPECT_THAT(store.Slices(), SizeIs(2));
}

TEST(ApiStoreTest, CreateOfAnExistingNameIsAlreadyExists) {
  ApiStore store;
  Json slice = Slice("node-a", "gpu.tessera.dev");
  slice["metadata"] = {{"name", "fixed"}};
  ASSERT_EQ(store.CreateSlice(slice).code, 201);
  ApiResponse r = store.CreateSlice(slice);
  EXPECT_EQ(r.code, 409);
  EXPECT_EQ(r.body["reason"], "AlreadyExists");
}

TEST(ApiStoreTest, InvalidSliceIs422WithCauses) {
  ApiStore store;
  Json slice = Slice("node-a", "gpu.tessera.dev");
  slice["spec"]["devices"][0]["name"] = "Bad_Name";
  slice["spec"]["pool"]["resourceSliceCount"] = 0;
  ApiResponse r = store.CreateSlice(slice);
  ASSERT_EQ(r.code, 422);
  EXPECT_EQ(r.body["reason"], "Invalid");
  EXPECT_EQ(r.body["details"]["kind"], "ResourceSlice");
  ASSERT_THAT(r.body["details"]["causes"], SizeIs(2));
  std::set<std::string> fields;
  for (const Json& c : r.body["details"]["causes"]) fields.insert(c["field"].get<std::string>());
  EXPECT_THAT(fields, ::testing::UnorderedElementsAre("spec.devices[0].name",
                                                      "spec.pool.resourceSliceCount"));
  EXPECT_THAT(r.body["message"].get<std::string>(), HasSubstr("is invalid: [spec."));
  EXPECT_TRUE(store.Slices().empty());
}

TEST(ApiStoreTest, UnknownFieldsAndWrongTypesAre400) {
  ApiStore store;
  Json slice = Slice("node-a", "gpu.tessera.dev");
  slice["spec"]["devices"][0]["basic"] = Json::object();
  ApiResponse r = store.CreateSlice(slice);
  EXPECT_EQ(r.code, 400);
  EXPECT_THAT(r.body["message"].get<std::string>(),
              HasSubstr("strict decoding error: unknown field \"spec.devices[0].basic\""));
  Json typed = Slice("node-a", "gpu.tessera.dev");
  typed["spec"]["pool"]["generation"] = "1";
  EXPECT_EQ(store.CreateSlice(typed).code, 400);
  Json kind = Slice("node-a", "gpu.tessera.dev");
  kind["kind"] = "DeviceClass";
  EXPECT_EQ(store.CreateSlice(kind).code, 400);
}

TEST(ApiStoreTest, UpdateChecksResourceVersionAndBumpsGeneration) {
  ApiStore store;
  Json created = store.CreateSlice(Slice("node-a", "gpu.tessera.dev")).body;
  Json changed = created;
  changed["spec"]["devices"][0]["attributes"]["model"]["string"] = "y";
  ApiResponse r = store.UpdateSlice(Name(created), changed);
  ASSERT_EQ(r.code, 200) << r.body.dump();
  EXPECT_EQ(r.body["metadata"]["generation"], 2);
  EXPECT_NE(Rv(r.body), Rv(created));
  // The old version is now stale.
  ApiResponse stale = store.UpdateSlice(Name(created), changed);
  EXPECT_EQ(stale.code, 409);
  EXPECT_EQ(stale.body["reason"], "Conflict");
  EXPECT_THAT(stale.body["message"].get<std::string>(), HasSubstr("the object has been modified"));
}

TEST(ApiStoreTest, NoOpUpdateWritesNothing) {
  ApiStore store;
  Json created = store.CreateSlice(Slice("node-a", "gpu.tessera.dev")).body;
  std::string rv = store.resource_version();
  ApiResponse r = store.UpdateSlice(Name(created), created);
  ASSERT_EQ(r.code, 200);
  EXPECT_EQ(Rv(r.body), Rv(created));
  EXPECT_EQ(store.resource_version(), rv);
}

TEST(ApiStoreTest, UpdateRejectsImmutableChangesAndUnknownObjects) {
  ApiStore store;
  Json created = store.CreateSlice(Slice("node-a", "gpu.tessera.dev")).body;
  Json moved = created;
  moved["spec"]["nodeName"] = "node-b";
  ApiResponse r = store.UpdateSlice(Name(created), moved);
  EXPECT_EQ(r.code, 422);
  EXPECT_THAT(r.body.dump(), HasSubstr("field is immutable"));
  EXPECT_EQ(store.UpdateSlice("missing", [&] {
    Json m = created;
    m["metadata"]["name"] = "missing";
    return m;
  }()).code, 404);
  EXPECT_EQ(store.UpdateSlice("other-name", created).code, 400);
}

TEST(ApiStoreTest, DeleteHonoursPreconditions) {
  ApiStore store;
  Json created = store.CreateSlice(Slice("node-a", "gpu.tessera.dev")).body;
  std::string name = Name(created);
  ApiResponse wrong_uid = store.DeleteSlice(name, {{"preconditions", {{"uid", "other"}}}});
  EXPECT_EQ(wrong_uid.code, 409);
  EXPECT_THAT(wrong_uid.body["message"].get<std::string>(), HasSubstr("Precondition failed: UID"));
  ApiResponse wrong_rv = store.DeleteSlice(name, {{"preconditions", {{"resourceVersion", "1"}}}});
  EXPECT_EQ(wrong_rv.code, 409);
  ApiResponse ok = store.DeleteSlice(
      name, {{"preconditions",
              {{"uid", created["metadata"]["uid"]}, {"resourceVersion", Rv(created)}}}});
  EXPECT_EQ(ok.code, 200);
  EXPECT_EQ(store.DeleteSlice(name, nullptr).code, 404);
}

TEST(ApiStoreTest, ListAndDeleteCollectionUseFieldSelectors) {
  ApiStore store;
  store.CreateSlice(Slice("node-a", "gpu.tessera.dev"));
  store.CreateSlice(Slice("node-a", "rdma.tessera.dev"));
  store.CreateSlice(Slice("node-b", "gpu.tessera.dev"));
  auto count = [&](const std::string& sel) {
    return store.ListSlices(sel).body["items"].size();
  };
  EXPECT_EQ(count(""), 3u);
  EXPECT_EQ(count("spec.nodeName=node-a"), 2u);
  EXPECT_EQ(count("spec.nodeName=node-a,spec.driver==gpu.tessera.dev"), 1u);
  EXPECT_EQ(count("spec.driver!=gpu.tessera.dev"), 1u);
  ApiResponse bad = store.ListSlices("spec.pool.name=node-a");
  EXPECT_EQ(bad.code, 400);
  EXPECT_THAT(bad.body["message"].get<std::string>(), HasSubstr("field label not supported"));
  // The kubelet's wipe of one driver, then of the whole node.
  EXPECT_EQ(store.DeleteSliceCollection("spec.nodeName=node-a,spec.driver=gpu.tessera.dev")
                .body["items"].size(),
            1u);
  EXPECT_EQ(store.DeleteSliceCollection("spec.nodeName=node-a").body["items"].size(), 1u);
  EXPECT_EQ(count(""), 1u);
  // List items carry no kind; the list carries the version to watch from.
  ApiResponse list = store.ListSlices("");
  EXPECT_FALSE(list.body["items"][0].contains("kind"));
  EXPECT_EQ(list.body["metadata"]["resourceVersion"], store.resource_version());
}

TEST(ApiStoreTest, WatchResumesFromAVersionAndFilters) {
  ApiStore store;
  store.CreateSlice(Slice("node-a", "gpu.tessera.dev"));
  std::string from = store.resource_version();
  ApiStore::WatchStart w = store.StartWatch("spec.nodeName=node-a", from);
  ASSERT_FALSE(w.error);
  Json a = store.CreateSlice(Slice("node-a", "gpu.tessera.dev")).body;
  store.CreateSlice(Slice("node-b", "gpu.tessera.dev"));  // filtered out
  store.RemoveSlice(Name(a));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::optional<Json> e1 = w.watch->Next(deadline, {});
  std::optional<Json> e2 = w.watch->Next(deadline, {});
  ASSERT_TRUE(e1 && e2);
  EXPECT_EQ((*e1)["type"], "ADDED");
  EXPECT_EQ(Name((*e1)["object"]), Name(a));
  EXPECT_EQ((*e2)["type"], "DELETED");
  // Nothing more: Next times out.
  EXPECT_FALSE(w.watch->Next(std::chrono::steady_clock::now() + std::chrono::milliseconds(20), {}));
  EXPECT_EQ(w.watch->resource_version(), store.resource_version());
}

TEST(ApiStoreTest, WatchWithoutVersionStartsWithCurrentObjects) {
  ApiStore store;
  store.CreateSlice(Slice("node-a", "gpu.tessera.dev"));
  store.CreateSlice(Slice("node-a", "gpu.tessera.dev"));
  ApiStore::WatchStart w = store.StartWatch("", "");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  EXPECT_EQ((*w.watch->Next(deadline, {}))["type"], "ADDED");
  EXPECT_EQ((*w.watch->Next(deadline, {}))["type"], "ADDED");
}

TEST(ApiStoreTest, WatchFromCompactedVersionIsExpired) {
  ApiStore::Options options;
  options.watch_history = 2;
  ApiStore store(options);
  std::string from = store.resource_version();
  for (int i = 0; i < 5; ++i) store.CreateSlice(Slice("node-a", "gpu.tessera.dev"));
  ApiStore::WatchStart w = store.StartWatch("", from);
  std::optional<Json> e = w.watch->Next(std::chrono::steady_clock::now() + std::chrono::seconds(1), {});
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["type"], "ERROR");
  EXPECT_EQ((*e)["object"]["code"], 410);
  EXPECT_EQ((*e)["object"]["reason"], "Expired");
  // A live watch also expires when events it has not read are compacted away.
  ApiStore::WatchStart live = store.StartWatch("", store.resource_version());
  store.CreateSlice(Slice("node-a", "gpu.tessera.dev"));
  store.CompactHistory();
  EXPECT_EQ((*live.watch->Next(std::chrono::steady_clock::now() + std::chrono::seconds(1), {}))
                ["object"]["code"],
            410);
}

TEST(ApiStoreTest, WatchEndsOnStopAndShutdown) {
  ApiStore store;
  ApiStore::WatchStart w = store.StartWatch("", store.resource_version());
  std::stop_source stop;
  std::thread stopper([&] { stop.request_stop(); });
  EXPECT_FALSE(w.watch->Next(std::chrono::steady_clock::now() + std::chrono::hours(1), stop.get_token()));
  stopper.join();
  std::thread shut([&] { store.Shutdown(); });
  EXPECT_FALSE(w.watch->Next(std::chrono::steady_clock::now() + std::chrono::hours(1), {}));
  shut.join();
}

TEST(ApiStoreTest, DisabledGatesDropTheirFields) {
  ApiStore::Options options;
  options.disabled_gates = {kGateDeviceTaints, kGateConsumableCapacity};
  ApiStore store(options);
  Json devices = Json::array(
      {{{"name", "dev-0"},
        {"taints", {{{"key", "example.com/t"}, {"effect", "NoSchedule"}}}},
        {"allowMultipleAllocations", true},
        {"capacity",
         {{"memory", {{"value", "80Gi"}, {"requestPolicy", {{"default", "1Gi"}, {"validValues", {"1Gi"}}}}}}}}}});
  ApiResponse r = store.CreateSlice(Slice("node-a", "gpu.tessera.dev", devices));
  ASSERT_EQ(r.code, 201) << r.body.dump();
  const Json& d = r.body["spec"]["devices"][0];
  EXPECT_FALSE(d.contains("taints"));
  EXPECT_FALSE(d.contains("allowMultipleAllocations"));
  EXPECT_EQ(d["capacity"]["memory"], (Json{{"value", "80Gi"}}));
}

TEST(ApiStoreTest, PartitionGateOffDropsCountersUnlessAlreadyStored) {
  ApiStore store;
  Json counters = Slice("node-a", "gpu.tessera.dev");
  counters["spec"].erase("devices");
  counters["spec"]["sharedCounters"] = {{{"name", "gpu-0"}, {"counters", {{"mem", {{"value", "1"}}}}}}};
  Json stored = store.CreateSlice(counters).body;
  store.SetDisabledGates({kGatePartitionableDevices});
  // An object that already uses the field keeps it on update (upstream rule).
  Json update = stored;
  update["spec"]["sharedCounters"][0]["counters"]["mem"]["value"] = "2";
  ApiResponse r = store.UpdateSlice(Name(stored), update);
  ASSERT_EQ(r.code, 200);
  EXPECT_TRUE(r.body["spec"].contains("sharedCounters"));
  // A new object loses it.
  ApiResponse fresh = store.CreateSlice(counters);
  ASSERT_EQ(fresh.code, 201);
  EXPECT_FALSE(fresh.body["spec"].contains("sharedCounters"));
}

TEST(ApiStoreTest, QuantitiesAreStoredCanonically) {
  ApiStore store;
  Json devices = Json::array({{{"name", "dev-0"},
                               {"capacity", {{"memory", {{"value", "1024Mi"}}}, {"cores", {{"value", 8}}}}}}});
  ApiResponse r = store.CreateSlice(Slice("node-a", "gpu.tessera.dev", devices));
  ASSERT_EQ(r.code, 201) << r.body.dump();
  EXPECT_EQ(r.body["spec"]["devices"][0]["capacity"]["memory"]["value"], "1Gi");
  EXPECT_EQ(r.body["spec"]["devices"][0]["capacity"]["cores"]["value"], "8");
}

TEST(ApiStoreTest, TaintTimeAddedIsSetAndKept) {
  ApiStore store;
  Json devices = Json::array(
      {{{"name", "dev-0"}, {"taints", {{{"key", "example.com/t"}, {"effect", "NoSchedule"}}}}}});
  Json created = store.CreateSlice(Slice("node-a", "gpu.tessera.dev", devices)).body;
  std::string time = created["spec"]["devices"][0]["taints"][0]["timeAdded"].get<std::string>();
  EXPECT_FALSE(time.empty());
  Json update = created;
  update["spec"]["devices"][0]["taints"][0].erase("timeAdded");
  update["spec"]["devices"][0]["attributes"] = {{"x", {{"int", 1}}}};
  ApiResponse r = store.UpdateSlice(Name(created), update);
  ASSERT_EQ(r.code, 200);
  EXPECT_EQ(r.body["spec"]["devices"][0]["taints"][0]["timeAdded"], time);
}

TEST(ApiStoreTest, NodesAndClaims) {
  ApiStore store;
  EXPECT_EQ(store.GetNode("node-a").code, 404);
  Json node = store.AddNode("node-a");
  EXPECT_EQ(store.GetNode("node-a").body["metadata"]["uid"], node["metadata"]["uid"]);
  store.PutClaim({{"metadata", {{"namespace", "ns"}, {"name", "c"}, {"uid", "u"}}}});
  EXPECT_EQ(store.GetClaim("ns", "c").body["metadata"]["uid"], "u");
  EXPECT_EQ(store.GetClaim("ns", "other").code, 404);
}

TEST(ApiStoreTest, WaitForSeesLaterWrites) {
  ApiStore store;
  std::thread writer([&] { store.CreateSlice(Slice("node-a", "gpu.tessera.dev")); });
  EXPECT_TRUE(store.WaitFor([](const std::vector<Json>& s) { return s.size() == 1; },
                            std::chrono::seconds(5)));
  writer.join();
  EXPECT_FALSE(store.WaitFor([](const std::vector<Json>& s) { return s.size() == 2; },
                             std::chrono::milliseconds(10)));
}

}  // namespace
}  // namespace tessera::testing
