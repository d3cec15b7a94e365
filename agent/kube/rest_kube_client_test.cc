// RestKubeClient against the fake API server over loopback (label
// "integration"): wire format, error mapping, retries, watches, tokens, TLS.
#include "agent/kube/rest_kube_client.h"

#include <cstdlib>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"

#include "base/filesystem.h"
#include "base/strings.h"
#include "test/fake_apiserver/fake_apiserver.h"
#include "test/fakes/base/scoped_env.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera::agent::kube {
namespace {

using Json = nlohmann::json;
using tessera::testing::FakeApiServer;
using tessera::testing::Faults;
using tessera::testing::ScopedEnv;
using tessera::testing::StatusIs;
using ::testing::HasSubstr;

// A clock whose SleepUntil returns at once, having advanced time by the
// requested amount and recorded it: backoff delays become observable.
class SteppingClock final : public base::Clock {
 public:
  WallTime Now() const override { return std::chrono::system_clock::time_point(Mono()); }
  MonoTime MonotonicNow() const override { return MonoTime(Mono()); }
  bool SleepUntil(MonoTime deadline, std::stop_token stop) override {
    std::lock_guard lock(mu_);
    if (stop.stop_requested()) return false;
    auto d = deadline - MonoTime(std::chrono::steady_clock::now().time_since_epoch() + offset_);
    sleeps_.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(d));
    if (d > std::chrono::nanoseconds(0)) offset_ += d;
    return true;
  }
  std::vector<std::chrono::milliseconds> sleeps() const {
    std::lock_guard lock(mu_);
    return sleeps_;
  }

 private:
  std::chrono::nanoseconds Mono() const {
    std::lock_guard lock(mu_);
    return std::chrono::steady_clock::now().time_since_epoch() + offset_;
  }
  mutable std::mutex mu_;
  std::chrono::nanoseconds offset_{0};
  std::vector<std::chrono::milliseconds> sleeps_;
};

Json NewSlice(const std::string& node = "node-a") {
  return Json{
      {"apiVersion", "resource.k8s.io/v1"},
      {"kind", "ResourceSlice"},
      {"metadata", {{"generateName", node + "-gpu.tessera.dev-"}}},
      {"spec",
       {{"driver", "gpu.tessera.dev"},
        {"pool", {{"name", node}, {"generation", 1}, {"resourceSliceCount", 1}}},
        {"nodeName", node},
        {"devices", {{{"name", "gpu-0"}, {"attributes", {{"model", {{"string", "h100"}}}}}}}}}}};
}

class RestKubeClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<FakeApiServer>> server = FakeApiServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
    server_->store().AddNode("node-a");
  }

  std::unique_ptr<RestKubeClient> Client(KubeConfig config = {}, RestOptions options = {}) {
    if (config.server.empty()) config.server = server_->url();
    options.initial_backoff = std::chrono::milliseconds(10);
    options.max_backoff = std::chrono::milliseconds(200);
    options.jitter_seed = 7;
    absl::StatusOr<std::unique_ptr<RestKubeClient>> client =
        RestKubeClient::Create(config, fs_, clock_, metrics_, options);
    EXPECT_TRUE(client.ok()) << client.status();
    return std::move(client).value();
  }

  double Requests(const std::string& verb, const std::string& code) {
    return metrics_
        .GetCounter("tessera_kube_requests_total", "",
                    {{"verb", verb}, {"resource", "resourceslices"}, {"code", code}})
        .value();
  }

  std::unique_ptr<FakeApiServer> server_;
  base::RealFilesystem fs_;
  SteppingClock clock_;
  base::metrics::Registry metrics_;
};

TEST_F(RestKubeClientTest, CreateListUpdateDelete) {
  auto client = Client();
  ASSERT_OK_AND_ASSIGN(Json created, client->CreateResourceSlice(NewSlice()));
  std::string name = created["metadata"]["name"];
  EXPECT_THAT(name, ::testing::StartsWith("node-a-gpu.tessera.dev-"));
  client->CreateResourceSlice(NewSlice("node-b")).IgnoreError();

  ASSERT_OK_AND_ASSIGN(ObjectList mine, client->ListResourceSlices({"node-a", "gpu.tessera.dev"}));
  ASSERT_EQ(mine.items.size(), 1u);
  EXPECT_EQ(mine.items[0]["kind"], "ResourceSlice");
  EXPECT_EQ(mine.resource_version, server_->store().resource_version());
  ASSERT_OK_AND_ASSIGN(ObjectList all, client->ListResourceSlices({}));
  EXPECT_EQ(all.items.size(), 2u);

  Json changed = created;
  changed["spec"]["devices"][0]["attributes"]["model"]["string"] = "h200";
  ASSERT_OK_AND_ASSIGN(Json updated, client->UpdateResourceSlice(changed));
  EXPECT_EQ(updated["metadata"]["generation"], 2);
  // The old resourceVersion is stale now.
  EXPECT_THAT(client->UpdateResourceSlice(changed),
              StatusIs(absl::StatusCode::kAborted,
                       HasSubstr("update resourceslice " + name + ": 409 Conflict")));

  EXPECT_THAT(client->DeleteResourceSlice(name, {"wrong-uid", ""}),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("Precondition failed")));
  EXPECT_THAT(client->DeleteResourceSlice(name, {"", created["metadata"]["resourceVersion"]}),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_OK(client->DeleteResourceSlice(
      name, {updated["metadata"]["uid"], updated["metadata"]["resourceVersion"]}));
  EXPECT_THAT(client->DeleteResourceSlice(name, {}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(Requests("create", "201"), 2);
}

TEST_F(RestKubeClientTest, ValidationErrorsCarryTheCauses) {
  auto client = Client();
  Json bad = NewSlice();
  bad["spec"]["devices"][0]["name"] = "GPU_0";
  bad["spec"]["pool"]["resourceSliceCount"] = 0;
  EXPECT_THAT(
      client->CreateResourceSlice(bad),
      StatusIs(absl::StatusCode::kInvalidArgument,
               ::testing::AllOf(HasSubstr("422 Unprocessable Entity: invalid: "),
                                HasSubstr("spec.devices[0].name: Invalid value: \"GPU_0\""),
                                HasSubstr("spec.pool.resourceSliceCount: Invalid value: 0"))));
  Json unknown = NewSlice();
  unknown["spec"]["unknownField"] = 1;
  EXPECT_THAT(client->CreateResourceSlice(unknown),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("400 Bad Request")));
  Json named = NewSlice();
  named["metadata"] = {{"name", "fixed"}};
  ASSERT_OK(client->CreateResourceSlice(named).status());
  EXPECT_THAT(client->CreateResourceSlice(named), StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST_F(RestKubeClientTest, NodesAndClaims) {
  auto client = Client();
  ASSERT_OK_AND_ASSIGN(Json node, client->GetNode("node-a"));
  EXPECT_EQ(node["kind"], "Node");
  EXPECT_THAT(client->GetNode("node-z"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("get node node-z")));
  server_->store().PutClaim({{"metadata", {{"namespace", "ns1"}, {"name", "c1"}, {"uid", "u1"}}}});
  ASSERT_OK_AND_ASSIGN(Json claim, client->GetResourceClaim("ns1", "c1"));
  EXPECT_EQ(claim["metadata"]["uid"], "u1");
  EXPECT_THAT(client->GetResourceClaim("ns1", "c2"), StatusIs(absl::StatusCode::kNotFound));
  // Names that would change the URL are refused before any request.
  server_->ResetCounts();
  EXPECT_THAT(client->GetResourceClaim("../x", "c1"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(client->GetNode("a/b"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(server_->counts().total(), 0u);
}

TEST_F(RestKubeClientTest, WatchStreamsResumesAndEndsWithABookmark) {
  auto client = Client();
  ASSERT_OK_AND_ASSIGN(ObjectList list, client->ListResourceSlices({}));
  std::vector<WatchEvent> events;
  std::thread writer([&] {
    auto c = Client();
    c->CreateResourceSlice(NewSlice()).IgnoreError();
    c->CreateResourceSlice(NewSlice("node-b")).IgnoreError();
  });
  absl::Status s =
      client->WatchResourceSlices({"node-a", ""}, {list.resource_version, std::chrono::seconds(1)},
                                  [&](const WatchEvent& e) { events.push_back(e); }, {});
  writer.join();
  EXPECT_OK(s);  // the server ended the watch after timeoutSeconds
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[0].type, WatchEventType::kAdded);
  EXPECT_EQ(events[0].object["spec"]["nodeName"], "node-a");
  EXPECT_EQ(events.back().type, WatchEventType::kBookmark);
  EXPECT_EQ(events.back().object["metadata"]["resourceVersion"],
            server_->store().resource_version());
  for (const WatchEvent& e : events) {
    if (e.type != WatchEventType::kBookmark) {
      EXPECT_EQ(e.object["spec"]["nodeName"], "node-a");
    }
  }
}

TEST_F(RestKubeClientTest, WatchFromACompactedVersionIsExpired) {
  auto client = Client();
  std::string old = server_->store().resource_version();
  client->CreateResourceSlice(NewSlice()).IgnoreError();
  server_->store().CompactHistory();
  absl::Status s =
      client->WatchResourceSlices({}, {old, std::chrono::seconds(5)}, [](const WatchEvent&) {}, {});
  EXPECT_TRUE(IsResourceExpired(s)) << s;
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("too old resource version")));
}

TEST_F(RestKubeClientTest, WatchStopsOnTheStopToken) {
  auto client = Client();
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop.request_stop();
  });
  auto start = std::chrono::steady_clock::now();
  absl::Status s = client->WatchResourceSlices(
      {}, {"", std::chrono::seconds(60)}, [](const WatchEvent&) {}, stop.get_token());
  stopper.join();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kCancelled));
  // The socket is closed under the blocked read: no polling tick to wait for.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(600));
}

TEST_F(RestKubeClientTest, ShutdownEndsAWatchAtOnce) {
  auto client = Client();
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    client->Shutdown();
  });
  auto start = std::chrono::steady_clock::now();
  absl::Status s =
      client->WatchResourceSlices({}, {"", std::chrono::seconds(60)}, [](const WatchEvent&) {}, {});
  stopper.join();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kCancelled));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(600));
}

TEST_F(RestKubeClientTest, RetriesServerErrorsWithExponentialBackoff) {
  auto client = Client({}, RestOptions{.max_attempts = 4});
  server_->SetFaults(Faults{
      .rate = 1.0, .throttling = false, .slow = false, .drop_before = false, .drop_after = false});
  EXPECT_THAT(client->ListResourceSlices({}), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(server_->counts().by_verb["list"], 4u);
  std::vector<std::chrono::milliseconds> sleeps = clock_.sleeps();
  ASSERT_EQ(sleeps.size(), 3u);
  // 10, 20, 40 ms with +-50% jitter.
  EXPECT_GE(sleeps[0].count(), 5);
  EXPECT_LE(sleeps[0].count(), 15);
  EXPECT_GE(sleeps[2].count(), 20);
  EXPECT_LE(sleeps[2].count(), 60);
  EXPECT_EQ(metrics_
                .GetCounter("tessera_kube_request_retries_total", "",
                            {{"verb", "list"}, {"resource", "resourceslices"}})
                .value(),
            3);
}

TEST_F(RestKubeClientTest, ThrottlingHonoursRetryAfterUpToTheCap) {
  auto client = Client({}, RestOptions{.max_attempts = 2});
  server_->SetFaults(Faults{.rate = 1.0,
                            .server_errors = false,
                            .slow = false,
                            .drop_before = false,
                            .drop_after = false,
                            .retry_after_seconds = 1});
  EXPECT_THAT(client->ListResourceSlices({}),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("429 Too Many Requests")));
  ASSERT_EQ(clock_.sleeps().size(), 1u);
  // 1 s capped at max_backoff (less the few ms that pass before the sleep).
  EXPECT_GE(clock_.sleeps()[0], std::chrono::milliseconds(190));
  EXPECT_LE(clock_.sleeps()[0], std::chrono::milliseconds(200));
}

TEST_F(RestKubeClientTest, RecoversFromTransientFaults) {
  auto client = Client({}, RestOptions{.max_attempts = 8});
  server_->SetFaults(Faults{.rate = 0.5, .slow = false, .drop_after = false, .seed = 3});
  for (int i = 0; i < 20; ++i) ASSERT_OK(client->ListResourceSlices({}).status());
  EXPECT_GT(server_->counts().faults.size(), 0u);
}

TEST_F(RestKubeClientTest, DroppedConnectionsFailFast) {
  auto client = Client({}, RestOptions{.max_attempts = 1});
  server_->SetFaults(Faults{.rate = 1.0,
                            .server_errors = false,
                            .throttling = false,
                            .slow = false,
                            .drop_after = false});
  auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(client->ListResourceSlices({}), StatusIs(absl::StatusCode::kUnavailable));
  // Far below the 30 s request deadline it would otherwise wait for; 500 ms
  // was too tight under ThreadSanitizer with another test running (0.7 s).
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(RestKubeClientTest, LostCreateAnswerIsNotRetried) {
  auto client = Client();
  server_->SetFaults(Faults{.rate = 1.0,
                            .server_errors = false,
                            .throttling = false,
                            .slow = false,
                            .drop_before = false});
  EXPECT_THAT(client->CreateResourceSlice(NewSlice()),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("may have been applied")));
  EXPECT_EQ(server_->counts().by_verb["create"], 1u);
  EXPECT_EQ(server_->store().Slices().size(), 1u);  // it was applied
  // A list whose answer is lost is retried.
  auto retrying = Client({}, RestOptions{.max_attempts = 3});
  EXPECT_THAT(retrying->ListResourceSlices({}), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(server_->counts().by_verb["list"], 3u);
}

TEST_F(RestKubeClientTest, EveryRequestHasADeadline) {
  auto client =
      Client({}, RestOptions{.request_timeout = std::chrono::milliseconds(100), .max_attempts = 2});
  server_->SetFaults(Faults{.rate = 1.0,
                            .server_errors = false,
                            .throttling = false,
                            .drop_before = false,
                            .drop_after = false,
                            .slow_delay = std::chrono::milliseconds(600)});
  // The server may count an attempt after the client gave up on it (it is
  // still parsing when the deadline passes on a slow, sanitized build).
  auto count = [&](const std::string& verb, size_t want) {
    for (int i = 0; i < 100 && server_->counts().by_verb[verb] < want; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return server_->counts().by_verb[verb];
  };
  EXPECT_THAT(client->ListResourceSlices({}), StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_EQ(count("list", 2), 2u);
  EXPECT_THAT(client->CreateResourceSlice(NewSlice()),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a repeat would be counted
  EXPECT_EQ(count("create", 1), 1u);                            // not idempotent: not repeated
}

TEST_F(RestKubeClientTest, ConnectionRefusedIsUnavailable) {
  std::string url = server_->url();
  server_->Stop();
  auto client = Client({.server = url}, RestOptions{.max_attempts = 2});
  EXPECT_THAT(client->CreateResourceSlice(NewSlice()), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(clock_.sleeps().size(), 1u);  // nothing was sent: retried even for a create
}

TEST_F(RestKubeClientTest, RereadsARotatedTokenOn401) {
  testing::TempDir dir;
  std::string token_file = dir.Sub("token");
  ASSERT_OK(fs_.WriteFileAtomic(token_file, "token-1\n", {.durable = false}));
  server_->SetBearerToken("token-1");
  auto client = Client({.token_file = token_file});
  ASSERT_OK(client->ListResourceSlices({}).status());
  // The kubelet rotates the projected token; the server now wants the new one.
  ASSERT_OK(fs_.WriteFileAtomic(token_file, "token-2\n", {.durable = false}));
  server_->SetBearerToken("token-2");
  server_->ResetCounts();
  ASSERT_OK(client->ListResourceSlices({}).status());
  EXPECT_EQ(server_->counts().by_verb["list"], 2u);  // one 401, one success
  EXPECT_EQ(Requests("list", "401"), 1);
  // A wrong fixed token stays wrong: 401 is Unauthenticated, once.
  auto wrong = Client({.bearer_token = "nope"});
  EXPECT_THAT(wrong->ListResourceSlices({}), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(RestKubeClientTest, ShutdownCancelsCalls) {
  auto client = Client();
  client->Shutdown();
  EXPECT_THAT(client->ListResourceSlices({}), StatusIs(absl::StatusCode::kCancelled));
}

TEST(RestKubeClientCreateTest, RejectsAServerThatIsNotAUrl) {
  base::RealFilesystem fs;
  base::SystemClock clock;
  base::metrics::Registry metrics;
  EXPECT_THAT(RestKubeClient::Create({.server = "10.0.0.1:443"}, fs, clock, metrics),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RestKubeClientCreateTest, BadCertificatesAreNamedAtCreation) {
  base::RealFilesystem fs;
  base::SystemClock clock;
  base::metrics::Registry metrics;
  EXPECT_THAT(RestKubeClient::Create({.server = "https://127.0.0.1:6443", .ca_pem = "junk"}, fs,
                                     clock, metrics),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("certificate authority: no PEM certificate")));
  EXPECT_THAT(
      RestKubeClient::Create(
          {.server = "https://127.0.0.1:6443", .client_cert_pem = "junk", .client_key_pem = "junk"},
          fs, clock, metrics),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("client-certificate-data: no PEM certificate")));
}

TEST(ParseServerTest, SplitsTheUrl) {
  absl::StatusOr<internal::Endpoint> e = internal::ParseServer("https://10.96.0.1:6443");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(e->tls);
  EXPECT_EQ(e->host, "10.96.0.1");
  EXPECT_EQ(e->port, 6443);
  EXPECT_EQ(e->prefix, "");

  e = internal::ParseServer("https://[fd00::1]:8443/k8s/clusters/c-1/");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->host, "fd00::1");
  EXPECT_EQ(e->authority, "[fd00::1]:8443");
  EXPECT_EQ(e->port, 8443);
  EXPECT_EQ(e->prefix, "/k8s/clusters/c-1");

  e = internal::ParseServer("http://api.example");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_FALSE(e->tls);
  EXPECT_EQ(e->port, 80);
  EXPECT_EQ(internal::ParseServer("https://api.example")->port, 443);
}

TEST(ParseServerTest, RejectsWhatIsNotAServerUrl) {
  for (const char* bad :
       {"ftp://h", "https://", "https://:6443", "https://h:0", "https://h:x", "https://h:70000",
        "https://user@h", "https://[::1", "https://[::1]x", "https://h/p?q=1"}) {
    EXPECT_THAT(internal::ParseServer(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(NoProxyTest, FollowsGosRules) {
  using internal::NoProxyMatches;
  EXPECT_TRUE(NoProxyMatches("*", "anything"));
  EXPECT_TRUE(NoProxyMatches("example.com", "example.com"));
  EXPECT_TRUE(NoProxyMatches("example.com", "api.example.com"));
  EXPECT_FALSE(NoProxyMatches("example.com", "badexample.com"));
  EXPECT_TRUE(NoProxyMatches(".example.com", "api.example.com"));
  EXPECT_FALSE(NoProxyMatches(".example.com", "example.com"));
  EXPECT_TRUE(NoProxyMatches("Example.COM:443", "api.example.com"));
  EXPECT_TRUE(NoProxyMatches("localhost, 10.96.0.0/12", "10.96.0.1"));
  EXPECT_TRUE(NoProxyMatches("10.96.0.0/12", "10.111.255.255"));
  EXPECT_FALSE(NoProxyMatches("10.96.0.0/12", "10.112.0.1"));
  EXPECT_TRUE(NoProxyMatches("10.96.0.1", "10.96.0.1"));
  EXPECT_FALSE(NoProxyMatches("10.96.0.1", "10.96.0.2"));
  EXPECT_TRUE(NoProxyMatches("fd00::/8", "fd00::1"));
  EXPECT_TRUE(NoProxyMatches("[fd00::1]:6443", "fd00::1"));
  EXPECT_FALSE(NoProxyMatches("fd00::/8", "10.0.0.1"));
  EXPECT_FALSE(NoProxyMatches("", "api.example.com"));
}

// A loopback HTTP server answering every GET with `body` and recording one
// line per request, as `describe` writes it: a stand-in for what sits between
// the client and the API server (a path-prefix gateway, a proxy).
class RecordingServer {
 public:
  RecordingServer(std::string body, std::function<std::string(const httplib::Request&)> describe) {
    server_.Get(R"(.*)", [this, body = std::move(body), describe = std::move(describe)](
                             const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      seen_.push_back(describe(req));
      res.set_content(body, "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ > 0) serving_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~RecordingServer() {
    server_.stop();
    if (serving_.joinable()) serving_.join();
  }
  RecordingServer(const RecordingServer&) = delete;
  RecordingServer& operator=(const RecordingServer&) = delete;

  int port() const { return port_; }  // <= 0 when it could not bind
  std::vector<std::string> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread serving_;
  mutable std::mutex mu_;
  std::vector<std::string> seen_;
};

// A server behind a path prefix (an authenticating proxy's, e.g. Rancher's
// /k8s/clusters/<id>): every request keeps the prefix, and the Host header
// names the server as the URL does.
TEST(RestKubeClientPrefixTest, KeepsThePathPrefix) {
  RecordingServer server(R"({"kind":"Node","metadata":{"name":"node-a"}})",
                         [](const httplib::Request& req) {
                           return base::StrCat(req.path, " host=", req.get_header_value("Host"),
                                               " agent=", req.get_header_value("User-Agent"));
                         });
  ASSERT_GT(server.port(), 0);
  base::RealFilesystem fs;
  base::SystemClock clock;
  base::metrics::Registry metrics;
  const std::string authority = base::StrCat("127.0.0.1:", server.port());
  auto client = RestKubeClient::Create(
      {.server = base::StrCat("http://", authority, "/k8s/clusters/c-1/")}, fs, clock, metrics);
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<Json> node = (*client)->GetNode("node-a");
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ((*node)["metadata"]["name"], "node-a");
  EXPECT_THAT(server.seen(), ::testing::ElementsAre(base::StrCat(
                                 "/k8s/clusters/c-1/api/v1/nodes/node-a host=", authority,
                                 " agent=tessera-agent/0.1")));
}

// HTTP_PROXY as client-go reads it: a request to an http:// server goes to
// the proxy with the absolute URL as its target (and the proxy's basic auth
// from the proxy URL), unless NO_PROXY names the server's host.
TEST(RestKubeClientProxyTest, RequestsGoThroughTheProxyUnlessExempt) {
  RecordingServer proxy(
      R"({"kind":"Node","metadata":{"name":"via-proxy"}})", [](const httplib::Request& req) {
        return base::StrCat(req.target, " auth=", req.get_header_value("Proxy-Authorization"));
      });
  ASSERT_GT(proxy.port(), 0);
  absl::StatusOr<std::unique_ptr<FakeApiServer>> api = FakeApiServer::Start();
  ASSERT_TRUE(api.ok()) << api.status();
  (*api)->store().AddNode("node-a");
  base::RealFilesystem fs;
  base::SystemClock clock;
  base::metrics::Registry metrics;
  ScopedEnv no_upper("HTTP_PROXY", std::nullopt);  // the lower-case one is in force
  ScopedEnv http_proxy("http_proxy", base::StrCat("http://ops:s3cret@127.0.0.1:", proxy.port()));
  for (const auto& [no_proxy, served_by] :
       {std::pair{"example.com", "via-proxy"}, std::pair{"example.com, 127.0.0.0/8", "node-a"}}) {
    ScopedEnv env("NO_PROXY", no_proxy);
    auto client = RestKubeClient::Create({.server = (*api)->url()}, fs, clock, metrics);
    ASSERT_TRUE(client.ok()) << client.status();
    absl::StatusOr<Json> node = (*client)->GetNode("node-a");
    ASSERT_TRUE(node.ok()) << node.status();
    EXPECT_EQ((*node)["metadata"]["name"], served_by) << "NO_PROXY=" << no_proxy;
  }
  // Only the first request went to the proxy; "ops:s3cret" in base64.
  EXPECT_THAT(proxy.seen(),
              ::testing::ElementsAre(
                  base::StrCat((*api)->url(), "/api/v1/nodes/node-a auth=Basic b3BzOnMzY3JldA==")));
}

TEST(RestKubeClientProxyTest, OnlyHttpProxiesAreAccepted) {
  base::RealFilesystem fs;
  base::SystemClock clock;
  base::metrics::Registry metrics;
  ScopedEnv no_proxy("NO_PROXY", std::nullopt);
  ScopedEnv https_proxy("HTTPS_PROXY", "socks5://127.0.0.1:1080");
  EXPECT_THAT(RestKubeClient::Create({.server = "https://10.0.0.1:6443"}, fs, clock, metrics),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("create api client"),
                                        HasSubstr("only http:// proxies are supported"))));
}

// --- TLS: a CA, a server certificate for 127.0.0.1 and a client certificate,
// made with the openssl CLI at test time.
class RestKubeClientTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("command -v openssl >/dev/null 2>&1") != 0)
      GTEST_SKIP() << "openssl not installed";
    std::string d = dir_.path();
    std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    std::string script =
        base::StrCat("set -e; cd ", d, "; ", "openssl req -x509 ", ec,
                     " -keyout ca.key -out ca.crt -days 2 -subj /CN=test-ca; ", "openssl req ", ec,
                     " -keyout server.key -out server.csr -subj /CN=127.0.0.1; ",
                     "printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext; ",
                     "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
                     "-out server.crt -days 2 -extfile san.ext; ",
                     "openssl req ", ec, " -keyout client.key -out client.csr -subj /CN=tessera; ",
                     "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
                     "-out client.crt -days 2",
                     " >/dev/null 2>&1");
    ASSERT_EQ(std::system(script.c_str()), 0) << "openssl failed";
    FakeApiServer::Options options;
    options.tls_cert_file = dir_.Sub("server.crt");
    options.tls_key_file = dir_.Sub("server.key");
    options.client_ca_file = dir_.Sub("ca.crt");
    absl::StatusOr<std::unique_ptr<FakeApiServer>> server = FakeApiServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
  }

  KubeConfig Config(bool ca, bool client_cert) {
    KubeConfig c;
    c.server = server_->url();
    if (ca) c.ca_pem = *fs_.ReadFile(dir_.Sub("ca.crt"));
    if (client_cert) {
      c.client_cert_pem = *fs_.ReadFile(dir_.Sub("client.crt"));
      c.client_key_pem = *fs_.ReadFile(dir_.Sub("client.key"));
    }
    return c;
  }

  absl::Status List(const KubeConfig& c) {
    absl::StatusOr<std::unique_ptr<RestKubeClient>> client =
        RestKubeClient::Create(c, fs_, clock_, metrics_, RestOptions{.max_attempts = 1});
    if (!client.ok()) return client.status();
    return (*client)->ListResourceSlices({}).status();
  }

  testing::TempDir dir_;
  base::RealFilesystem fs_;
  base::SystemClock clock_;
  base::metrics::Registry metrics_;
  std::unique_ptr<FakeApiServer> server_;
};

TEST_F(RestKubeClientTlsTest, TrustsTheConfiguredCaAndPresentsTheClientCertificate) {
  EXPECT_THAT(server_->url(), ::testing::StartsWith("https://"));
  EXPECT_OK(List(Config(/*ca=*/true, /*client_cert=*/true)));
}

TEST_F(RestKubeClientTlsTest, FailsWithoutTheCaOrTheClientCertificate) {
  EXPECT_THAT(List(Config(/*ca=*/false, /*client_cert=*/true)),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(List(Config(/*ca=*/true, /*client_cert=*/false)),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(RestKubeClientTlsTest, InsecureSkipsServerVerification) {
  KubeConfig c = Config(/*ca=*/false, /*client_cert=*/true);
  c.insecure_skip_tls_verify = true;
  EXPECT_OK(List(c));
}

}  // namespace
}  // namespace tessera::agent::kube
