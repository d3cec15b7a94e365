#include "agent/kube/pool_plan.h"

#include <string>
#include <vector>

#include "agent/kube/slice_content.h"
#include "base/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::agent::kube {
namespace {

using Json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kNode[] = "node-a";

Json Dev(const std::string& name, const std::string& model = "h100") {
  return Json{{"name", name}, {"attributes", {{"model", {{"string", model}}}}}};
}

DesiredPool Pool(std::vector<Json> slices) {
  DesiredPool p;
  p.driver = "gpu.tessera.dev";
  p.pool = kNode;
  p.node_name = kNode;
  p.slices = std::move(slices);
  return p;
}

Json Devices(std::vector<Json> devices) { return Json{{"devices", std::move(devices)}}; }

// An existing slice as the server stores it.
Json Existing(const std::string& name, const Json& content, int64_t generation, int64_t count,
              const std::string& pool = kNode) {
  Json spec = content;
  spec["driver"] = "gpu.tessera.dev";
  spec["nodeName"] = kNode;
  spec["pool"] = {{"name", pool}, {"generation", generation}, {"resourceSliceCount", count}};
  return Json{{"apiVersion", "resource.k8s.io/v1"},
              {"kind", "ResourceSlice"},
              {"metadata", {{"name", name}, {"uid", "uid-" + name}, {"resourceVersion", "7"}}},
              {"spec", spec}};
}

std::vector<std::string> Names(const std::vector<Json>& objects) {
  std::vector<std::string> out;
  for (const Json& o : objects) out.push_back(o["metadata"]["name"].get<std::string>());
  return out;
}
std::vector<std::string> Names(const std::vector<PlannedWrite>& writes) {
  std::vector<std::string> out;
  for (const PlannedWrite& w : writes) out.push_back(w.object["metadata"].value("name", "<new>"));
  return out;
}

TEST(PoolPlanTest, NewPoolCreatesEverySliceAtGenerationOne) {
  DesiredPool desired = Pool({Devices({Dev("a")}), Devices({Dev("b")})});
  PoolPlan plan = PlanPoolSync(desired, {}, NodeOwner{kNode, "node-uid"}, {});
  EXPECT_EQ(plan.generation, 1);
  EXPECT_THAT(plan.deletes, IsEmpty());
  EXPECT_THAT(plan.updates, IsEmpty());
  ASSERT_EQ(plan.creates.size(), 2u);
  const Json& created = plan.creates[1].object;
  EXPECT_EQ(created["metadata"]["generateName"], "node-a-gpu.tessera.dev-");
  EXPECT_EQ(created["metadata"]["ownerReferences"][0]["uid"], "node-uid");
  EXPECT_EQ(created["spec"]["pool"],
            (Json{{"name", kNode}, {"generation", 1}, {"resourceSliceCount", 2}}));
  EXPECT_EQ(created["spec"]["devices"][0]["name"], "b");
}

TEST(PoolPlanTest, UnchangedPoolNeedsNothing) {
  DesiredPool desired = Pool({Devices({Dev("a")}), Devices({Dev("b")})});
  std::vector<Json> existing = {Existing("s1", desired.slices[0], 3, 2),
                                Existing("s2", desired.slices[1], 3, 2)};
  PoolPlan plan = PlanPoolSync(desired, existing, std::nullopt, {});
  EXPECT_TRUE(plan.empty());
  EXPECT_EQ(plan.generation, 3);
}

TEST(PoolPlanTest, OneChangedSliceIsOneUpdateWithoutBump) {
  DesiredPool desired = Pool({Devices({Dev("a", "h200")}), Devices({Dev("b")})});
  std::vector<Json> existing = {Existing("s1", Devices({Dev("a")}), 3, 2),
                                Existing("s2", desired.slices[1], 3, 2)};
  PoolPlan plan = PlanPoolSync(desired, existing, std::nullopt, {});
  EXPECT_EQ(plan.generation, 3);
  ASSERT_EQ(plan.updates.size(), 1u);
  EXPECT_EQ(plan.writes(), 1u);
  const Json& u = plan.updates[0].object;
  EXPECT_EQ(u["metadata"]["name"], "s1");
  EXPECT_EQ(u["metadata"]["resourceVersion"], "7");  // the update is conditional
  EXPECT_EQ(u["spec"]["devices"][0]["attributes"]["model"]["string"], "h200");
}

TEST(PoolPlanTest, TwoChangedSlicesBumpAndUpdateAllMatched) {
  DesiredPool desired = Pool({Devices({Dev("a", "x")}), Devices({Dev("b", "x")}), Devices({Dev("c")})});
  std::vector<Json> existing = {Existing("s1", Devices({Dev("a")}), 3, 3),
                                Existing("s2", Devices({Dev("b")}), 3, 3),
                                Existing("s3", desired.slices[2], 3, 3)};
  PoolPlan plan = PlanPoolSync(desired, existing, std::nullopt, {});
  EXPECT_EQ(plan.generation, 4);
  EXPECT_THAT(Names(plan.updates), ElementsAre("s1", "s2", "s3"));
  for (const PlannedWrite& w : plan.updates) EXPECT_EQ(w.object["spec"]["pool"]["generation"], 4);
}

TEST(PoolPlanTest, MissingSliceIsCreatedAndTheRestRewrittenAtTheNextGeneration) {
  // One slice deleted behind our back.
  DesiredPool desired = Pool({Devices({Dev("a")}), Devices({Dev("b")})});
  std::vector<Json> existing = {Existing("s1", desired.slices[0], 2, 2)};
  PoolPlan plan = PlanPoolSync(desired, existing, std::nullopt, {});
  EXPECT_EQ(plan.generation, 3);
  EXPECT_THAT(Names(plan.updates), ElementsAre("s1"));
  ASSERT_EQ(plan.creates.size(), 1u);
  EXPECT_EQ(plan.creates[0].desired_index, 1u);
  EXPECT_THAT(plan.deletes, IsEmpty());
}

TEST(PoolPlanTest, OldGenerationsOtherPoolsAndDuplicatesAreDeleted) {
  DesiredPool desired = Pool({Devices({Dev("a")}), Devices({Dev("b")})});
  std::vector<Json> existing = {
      Existing("s1", desired.slices[0], 5, 2),
      Existing("s2", desired.slices[1], 5, 2),
      Existing("s0-old", Devices({Dev("z")}), 4, 1),             // lower generation
      Existing("s9-dup", desired.slices[1], 5, 2),               // a duplicate of s2
      Existing("x-other", desired.slices[0], 9, 1, "old-name"),  // another pool
  };
  PoolPlan plan = PlanPoolSync(desired, existing, std::nullopt, {});
  EXPECT_THAT(Names(plan.deletes), ::testing::UnorderedElementsAre("s0-old", "s9-dup", "x-other"));
  EXPECT_THAT(plan.updates, IsEmpty());
  EXPECT_THAT(plan.creates, IsEmpty());
  EXPECT_EQ(plan.generation, 5);
}

TEST(PoolPlanTest, SingleSlicesAlwaysMatch) {
  DesiredPool desired = Pool({Devices({Dev("a"), Dev("b")})});
  std::vector<Json> existing = {Existing("s1", Devices({Dev("a")}), 1, 1)};
  PoolPlan plan = PlanPoolSync(desired, existing, std::nullopt, {});
  EXPECT_THAT(plan.creates, IsEmpty());
  EXPECT_THAT(plan.deletes, IsEmpty());
  EXPECT_THAT(Names(plan.updates), ElementsAre("s1"));
  EXPECT_EQ(plan.generation, 1);
}

TEST(PoolPlanTest, ChangedDeviceSetIsReplacedNotPatched) {
  // With several slices, matching is by device names: a slice whose set
  // changed is deleted and created anew.
  DesiredPool desired = Pool({Devices({Dev("a"), Dev("c")}), Devices({Dev("b")})});
  std::vector<Json> existing = {Existing("s1", Devices({Dev("a")}), 1, 2),
                                Existing("s2", Devices({Dev("b")}), 1, 2)};
  PoolPlan plan = PlanPoolSync(desired, existing, std::nullopt, {});
  EXPECT_THAT(Names(plan.deletes), ElementsAre("s1"));
  EXPECT_THAT(Names(plan.updates), ElementsAre("s2"));
  ASSERT_EQ(plan.creates.size(), 1u);
  EXPECT_EQ(plan.creates[0].desired_index, 0u);
  EXPECT_EQ(plan.generation, 2);
}

TEST(PoolPlanTest, SliceCountChangeUpdatesTheKeptSlices) {
  DesiredPool desired = Pool({Devices({Dev("a")})});
  std::vector<Json> existing = {Existing("s1", desired.slices[0], 1, 2),
                                Existing("s2", Devices({Dev("b")}), 1, 2)};
  PoolPlan plan = PlanPoolSync(desired, existing, std::nullopt, {});
  EXPECT_THAT(Names(plan.deletes), ElementsAre("s2"));
  ASSERT_EQ(plan.updates.size(), 1u);
  EXPECT_EQ(plan.updates[0].object["spec"]["pool"]["resourceSliceCount"], 1);
}

TEST(PoolPlanTest, QuantitiesAndTaintTimesCompareSemantically) {
  Json want = Devices({Json{{"name", "a"},
                            {"capacity", {{"memory", {{"value", "1Gi"}}}}},
                            {"taints", {{{"key", "k"}, {"effect", "NoSchedule"}}}}}});
  Json stored = Devices({Json{{"name", "a"},
                              {"capacity", {{"memory", {{"value", "1024Mi"}}}}},
                              {"taints",
                               {{{"key", "k"}, {"effect", "NoSchedule"},
                                 {"timeAdded", "2026-01-01T00:00:00Z"}}}}}});
  DesiredPool desired = Pool({want});
  PoolPlan plan = PlanPoolSync(desired, {Existing("s1", stored, 1, 1)}, std::nullopt, {});
  EXPECT_TRUE(plan.empty());
}

TEST(PoolPlanTest, UpdateKeepsTheServersTaintTimes) {
  Json want = Devices({Json{{"name", "a"},
                            {"attributes", {{"model", {{"string", "new"}}}}},
                            {"taints", {{{"key", "k"}, {"effect", "NoSchedule"}}}}}});
  Json stored = Devices({Json{{"name", "a"},
                              {"taints",
                               {{{"key", "k"}, {"effect", "NoSchedule"},
                                 {"timeAdded", "2026-01-01T00:00:00Z"}}}}}});
  PoolPlan plan = PlanPoolSync(Pool({want}), {Existing("s1", stored, 1, 1)}, std::nullopt, {});
  ASSERT_EQ(plan.updates.size(), 1u);
  EXPECT_EQ(plan.updates[0].object["spec"]["devices"][0]["taints"][0]["timeAdded"],
            "2026-01-01T00:00:00Z");
}

TEST(PoolPlanTest, AdoptedContentStopsTheUpdateLoop) {
  Json want = Devices({Json{{"name", "a"}, {"taints", {{{"key", "k"}, {"effect", "NoSchedule"}}}}}});
  Json stored = Devices({Dev("a")});  // the server dropped the taints
  stored["devices"][0].erase("attributes");
  DesiredPool desired = Pool({want});
  std::vector<Json> existing = {Existing("s1", stored, 1, 1)};
  EXPECT_EQ(PlanPoolSync(desired, existing, std::nullopt, {}).updates.size(), 1u);
  AdoptedContents adopted = {{ContentKey(want), NormalizeContent(stored)}};
  EXPECT_TRUE(PlanPoolSync(desired, existing, std::nullopt, adopted).empty());
}

TEST(PoolPlanTest, CounterSlicesMatchByCounterSetNames) {
  Json counters0 = Json{{"sharedCounters", {{{"name", "gpu-0"}, {"counters", {{"m", {{"value", "1"}}}}}}}}};
  Json counters1 = Json{{"sharedCounters", {{{"name", "gpu-1"}, {"counters", {{"m", {{"value", "1"}}}}}}}}};
  DesiredPool desired = Pool({counters0, counters1, Devices({Dev("a")})});
  std::vector<Json> existing = {Existing("s-c1", counters1, 1, 3), Existing("s-c0", counters0, 1, 3),
                                Existing("s-d", desired.slices[2], 1, 3)};
  EXPECT_TRUE(PlanPoolSync(desired, existing, std::nullopt, {}).empty());
  // Counter sets dropped by the server: still matched (by their empty device
  // set), so an adopted content prevents delete/create churn.
  std::vector<Json> dropped = {Existing("s-c1", Json::object(), 1, 3),
                               Existing("s-c0", Json::object(), 1, 3),
                               Existing("s-d", desired.slices[2], 1, 3)};
  AdoptedContents adopted = {{ContentKey(counters0), Json::object()},
                             {ContentKey(counters1), Json::object()}};
  EXPECT_TRUE(PlanPoolSync(desired, dropped, std::nullopt, adopted).empty());
}

TEST(PoolPlanTest, SliceWithoutOurNodeNameIsReplaced) {
  // nodeName is immutable, so such a slice is deleted, not updated.
  DesiredPool desired = Pool({Devices({Dev("a")})});
  Json existing = Existing("s1", desired.slices[0], 1, 1);
  existing["spec"].erase("nodeName");
  existing["spec"]["allNodes"] = true;
  PoolPlan plan = PlanPoolSync(desired, {existing}, std::nullopt, {});
  EXPECT_THAT(Names(plan.deletes), ElementsAre("s1"));
  ASSERT_EQ(plan.creates.size(), 1u);
  EXPECT_EQ(plan.creates[0].object["spec"]["nodeName"], kNode);
  EXPECT_FALSE(plan.creates[0].object["spec"].contains("allNodes"));
}

}  // namespace
}  // namespace tessera::agent::kube
