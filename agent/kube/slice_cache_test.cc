#include "agent/kube/slice_cache.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "test/fakes/base/fake_clock.h"

namespace tessera::agent::kube {
namespace {

using Json = nlohmann::json;
using tessera::testing::FakeClock;

Json Obj(const std::string& name, const std::string& rv, const std::string& model = "x") {
  return Json{
      {"metadata", {{"name", name}, {"uid", "uid-" + name}, {"resourceVersion", rv}}},
      {"spec", {{"devices", {{{"name", "d"}, {"attributes", {{"m", {{"string", model}}}}}}}}}}};
}

std::vector<std::string> ObjectNames(const std::vector<Json>& v) {
  std::vector<std::string> out;
  for (const Json& o : v) out.push_back(o["metadata"]["name"]);
  return out;
}

TEST(SliceCacheTest, OwnCreateIsVisibleBeforeTheInformerSeesIt) {
  FakeClock clock;
  SliceCache cache(clock, std::chrono::seconds(60));
  cache.Replace({Obj("a", "10")}, "10");
  cache.Stored(Obj("b", "11"));
  EXPECT_THAT(ObjectNames(cache.View()), ::testing::ElementsAre("a", "b"));
  // ... and gone from the overlay once the TTL passes without the informer.
  clock.Advance(std::chrono::seconds(61));
  EXPECT_THAT(ObjectNames(cache.View()), ::testing::ElementsAre("a"));
}

TEST(SliceCacheTest, NewerVersionWins) {
  FakeClock clock;
  SliceCache cache(clock, std::chrono::seconds(60));
  cache.Replace({Obj("a", "10", "old")}, "10");
  cache.Stored(Obj("a", "12", "ours"));
  EXPECT_EQ(cache.View()[0]["metadata"]["resourceVersion"], "12");
  // The informer catches up with an even newer version: it wins.
  cache.Apply({WatchEventType::kModified, Obj("a", "13", "theirs")});
  EXPECT_EQ(cache.View()[0]["metadata"]["resourceVersion"], "13");
  EXPECT_EQ(cache.resource_version(), "13");
}

TEST(SliceCacheTest, OwnDeleteHidesALateEvent) {
  FakeClock clock;
  SliceCache cache(clock, std::chrono::seconds(60));
  cache.Replace({Obj("a", "10")}, "10");
  cache.Deleted(Obj("a", "10"));
  EXPECT_TRUE(cache.View().empty());
  cache.Apply({WatchEventType::kModified, Obj("a", "10")});  // stale event in flight
  EXPECT_TRUE(cache.View().empty());
  cache.Apply({WatchEventType::kDeleted, Obj("a", "11")});
  EXPECT_TRUE(cache.View().empty());
}

TEST(SliceCacheTest, RelistDropsOwnWritesItCovers) {
  FakeClock clock;
  SliceCache cache(clock, std::chrono::seconds(60));
  cache.Replace({}, "10");
  cache.Stored(Obj("a", "11"));
  cache.Stored(Obj("b", "15"));
  // A list at version 12 without "a": someone deleted it. "b" is newer than the list.
  cache.Replace({}, "12");
  EXPECT_THAT(ObjectNames(cache.View()), ::testing::ElementsAre("b"));
}

TEST(SliceCacheTest, BookmarkMovesTheVersionOnly) {
  FakeClock clock;
  SliceCache cache(clock, std::chrono::seconds(60));
  EXPECT_FALSE(cache.synced());
  cache.Replace({Obj("a", "10")}, "10");
  EXPECT_TRUE(cache.synced());
  cache.Apply({WatchEventType::kBookmark, Json{{"metadata", {{"resourceVersion", "20"}}}}});
  EXPECT_EQ(cache.resource_version(), "20");
  EXPECT_EQ(cache.View().size(), 1u);
}

}  // namespace
}  // namespace tessera::agent::kube
