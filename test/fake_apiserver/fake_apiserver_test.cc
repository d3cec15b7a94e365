// The fake API server over HTTP, with a plain cpp-httplib client: paths,
// status codes, watch framing, authentication and fault injection.
#include "test/fake_apiserver/fake_apiserver.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace tessera::testing {
namespace {

using Json = nlohmann::json;
using ::testing::HasSubstr;

constexpr char kSlices[] = "/apis/resource.k8s.io/v1/resourceslices";

std::string SliceBody(const std::string& node) {
  return Json{{"apiVersion", "resource.k8s.io/v1"},
              {"kind", "ResourceSlice"},
              {"metadata", {{"generateName", node + "-x-"}}},
              {"spec",
               {{"driver", "gpu.tessera.dev"},
                {"pool", {{"name", node}, {"generation", 1}, {"resourceSliceCount", 1}}},
                {"nodeName", node}}}}
      .dump();
}

class FakeApiServerTest : public ::testing::Test {
 protected:
  void Start(FakeApiServer::Options options = {}) {
    absl::StatusOr<std::unique_ptr<FakeApiServer>> s = FakeApiServer::Start(options);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(s).value();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(5, 0);
  }
  httplib::Result Post(const std::string& body) {
    return client_->Post(kSlices, body, "application/json");
  }

  std::unique_ptr<FakeApiServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(FakeApiServerTest, ServesTheResourcePaths) {
  Start();
  server_->store().AddNode("node-a");
  server_->store().PutClaim({{"metadata", {{"namespace", "ns"}, {"name", "c"}}}});
  auto created = Post(SliceBody("node-a"));
  ASSERT_TRUE(created);
  EXPECT_EQ(created->status, 201);
  std::string name = Json::parse(created->body)["metadata"]["name"];
  EXPECT_EQ(client_->Get(std::string(kSlices) + "/" + name)->status, 200);
  EXPECT_EQ(client_->Get(std::string(kSlices) + "?fieldSelector=spec.nodeName%3Dnode-b")->body,
            server_->store().ListSlices("spec.nodeName=node-b").body.dump());
  EXPECT_EQ(client_->Get("/api/v1/nodes/node-a")->status, 200);
  EXPECT_EQ(client_->Get("/apis/resource.k8s.io/v1/namespaces/ns/resourceclaims/c")->status, 200);
  EXPECT_EQ(client_->Get("/apis/resource.k8s.io/v1/namespaces/ns/resourceclaims/d")->status, 404);
  // Update through PUT; a body naming another object is refused.
  Json obj = Json::parse(created->body);
  EXPECT_EQ(client_->Put(std::string(kSlices) + "/other", obj.dump(), "application/json")->status, 400);
  EXPECT_EQ(client_->Put(std::string(kSlices) + "/" + name, obj.dump(), "application/json")->status, 200);
  EXPECT_EQ(client_->Post(kSlices, "{not json", "application/json")->status, 400);
  // deletecollection, as the kubelet wipes.
  auto wiped = client_->Delete(std::string(kSlices) + "?fieldSelector=spec.nodeName%3Dnode-a");
  EXPECT_EQ(wiped->status, 200);
  EXPECT_EQ(Json::parse(wiped->body)["items"].size(), 1u);
  EXPECT_TRUE(server_->store().Slices().empty());
  RequestCounts counts = server_->counts();
  EXPECT_EQ(counts.by_verb["create"], 2u);  // the refused one counts too
  EXPECT_EQ(counts.by_verb["update"], 2u);
  EXPECT_EQ(counts.by_verb["deletecollection"], 1u);
  EXPECT_EQ(counts.writes(), 5u);
}

TEST_F(FakeApiServerTest, DeleteReadsPreconditionsFromTheBody) {
  Start();
  Json created = Json::parse(Post(SliceBody("node-a"))->body);
  std::string path = std::string(kSlices) + "/" + created["metadata"]["name"].get<std::string>();
  Json wrong = {{"preconditions", {{"uid", "nope"}}}};
  EXPECT_EQ(client_->Delete(path, wrong.dump(), "application/json")->status, 409);
  Json right = {{"preconditions", {{"uid", created["metadata"]["uid"]}}}};
  EXPECT_EQ(client_->Delete(path, right.dump(), "application/json")->status, 200);
  EXPECT_EQ(client_->Delete(path)->status, 404);
}

TEST_F(FakeApiServerTest, RequiresTheBearerToken) {
  FakeApiServer::Options options;
  options.bearer_token = "secret";
  Start(options);
  auto r = client_->Get(kSlices);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(Json::parse(r->body)["reason"], "Unauthorized");
  httplib::Headers auth = {{"Authorization", "Bearer secret"}};
  EXPECT_EQ(client_->Get(kSlices, auth)->status, 200);
}

TEST_F(FakeApiServerTest, WatchStreamsLinesAndEndsWithABookmark) {
  Start();
  std::string rv = server_->store().resource_version();
  std::thread writer([&] {
    httplib::Client c("127.0.0.1", server_->port());
    c.Post(kSlices, SliceBody("node-a"), "application/json");
  });
  std::string body;
  auto r = client_->Get(std::string(kSlices) + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion=" + rv,
                        [&](const char* data, size_t n) {
                          body.append(data, n);
                          return true;
                        });
  writer.join();
  ASSERT_TRUE(r);
  std::vector<Json> events;
  std::istringstream lines(body);
  for (std::string line; std::getline(lines, line);) events.push_back(Json::parse(line));
  ASSERT_EQ(events.size(), 2u) << body;
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[1]["type"], "BOOKMARK");
  EXPECT_EQ(events[1]["object"]["metadata"]["resourceVersion"], server_->store().resource_version());
}

TEST_F(FakeApiServerTest, WatchFromACompactedVersionSends410) {
  Start();
  std::string rv = server_->store().resource_version();
  Post(SliceBody("node-a"));
  server_->store().CompactHistory();
  auto r = client_->Get(std::string(kSlices) + "?watch=true&resourceVersion=" + rv);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);  // as the API server: the error is an event
  Json event = Json::parse(r->body);
  EXPECT_EQ(event["type"], "ERROR");
  EXPECT_EQ(event["object"]["code"], 410);
}

TEST_F(FakeApiServerTest, InjectsTheConfiguredFaults) {
  Start();
  server_->SetFaults(Faults{.rate = 1.0, .server_errors = false, .slow = false, .drop_before = false,
                            .drop_after = false, .retry_after_seconds = 7});
  auto throttled = client_->Get(kSlices);
  EXPECT_EQ(throttled->status, 429);
  EXPECT_EQ(throttled->get_header_value("Retry-After"), "7");

  server_->SetFaults(Faults{.rate = 1.0, .throttling = false, .slow = false, .drop_before = false,
                            .drop_after = false});
  int status = client_->Get(kSlices)->status;
  EXPECT_TRUE(status == 500 || status == 503) << status;

  // The answer is lost but the create is applied.
  server_->SetFaults(Faults{.rate = 1.0, .server_errors = false, .throttling = false, .slow = false,
                            .drop_before = false});
  auto lost = Post(SliceBody("node-a"));
  EXPECT_FALSE(lost && lost->status == 201);
  EXPECT_EQ(server_->store().Slices().size(), 1u);
  // Dropped before: nothing applied.
  server_->SetFaults(Faults{.rate = 1.0, .server_errors = false, .throttling = false, .slow = false,
                            .drop_after = false});
  auto dropped = Post(SliceBody("node-a"));
  EXPECT_FALSE(dropped && dropped->status == 201);
  EXPECT_EQ(server_->store().Slices().size(), 1u);

  server_->SetFaults(Faults{.rate = 1.0, .server_errors = false, .throttling = false,
                            .drop_before = false, .drop_after = false,
                            .slow_delay = std::chrono::milliseconds(150)});
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(client_->Get(kSlices)->status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(150));
  RequestCounts counts = server_->counts();
  EXPECT_EQ(counts.faults["throttle"], 1u);
  EXPECT_EQ(counts.faults["server_error"], 1u);
  EXPECT_EQ(counts.faults["drop_after"], 1u);
  EXPECT_EQ(counts.faults["drop_before"], 1u);
  EXPECT_EQ(counts.faults["slow"], 1u);
}

TEST_F(FakeApiServerTest, FaultRateIsAProbability) {
  Start();
  server_->SetFaults(Faults{.rate = 0.3, .slow = false, .drop_before = false, .drop_after = false,
                            .seed = 11});
  for (int i = 0; i < 200; ++i) client_->Get(kSlices);
  uint64_t faults = 0;
  for (const auto& [kind, n] : server_->counts().faults) faults += n;
  EXPECT_GT(faults, 35u);
  EXPECT_LT(faults, 85u);
  // Watches are left alone unless asked.
  EXPECT_EQ(server_->counts().by_verb["watch"], 0u);
}

}  // namespace
}  // namespace tessera::testing
