#include "agent/app/ops_server.h"

#include <atomic>

#include "gtest/gtest.h"
#include "httplib.h"
#include "test/matchers/status_matchers.h"

namespace tessera::agent {
namespace {

using ::testing::HasSubstr;

TEST(OpsServerTest, ServesMetricsHealthAndReadiness) {
  base::metrics::Registry registry;
  registry.GetCounter("tessera_prepare_claims_total", "Prepared claims.", {{"result", "success"}}).Inc(4);
  ASSERT_OK_AND_ASSIGN(auto server, OpsServer::Start("127.0.0.1:0", registry));
  std::atomic<bool> registered{false};
  server->AddReadinessCheck("gpu.tessera.dev", [&] {
    return registered ? std::string() : std::string("not registered with the kubelet");
  });

  httplib::Client client("127.0.0.1", server->port());
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->body, HasSubstr("tessera_prepare_claims_total{result=\"success\"} 4"));
  EXPECT_THAT(metrics->get_header_value("Content-Type"), HasSubstr("text/plain; version=0.0.4"));

  auto healthz = client.Get("/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 200);

  auto not_ready = client.Get("/readyz");
  ASSERT_TRUE(not_ready);
  EXPECT_EQ(not_ready->status, 503);
  EXPECT_THAT(not_ready->body, HasSubstr("gpu.tessera.dev: not registered with the kubelet"));
  registered = true;
  auto ready = client.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);

  auto missing = client.Get("/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST(OpsServerTest, LivenessFailureIs503) {
  base::metrics::Registry registry;
  ASSERT_OK_AND_ASSIGN(auto server, OpsServer::Start("127.0.0.1:0", registry));
  server->AddLivenessCheck("publisher loop", [] { return std::string("no heartbeat for 120s"); });
  httplib::Client client("127.0.0.1", server->port());
  auto r = client.Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_THAT(r->body, HasSubstr("publisher loop: no heartbeat"));
}

TEST(OpsServerTest, RejectsBadAddressesAndBusyPorts) {
  base::metrics::Registry registry;
  EXPECT_FALSE(OpsServer::Start("nonsense", registry).ok());
  EXPECT_FALSE(OpsServer::Start("127.0.0.1:99999", registry).ok());
  ASSERT_OK_AND_ASSIGN(auto first, OpsServer::Start("127.0.0.1:0", registry));
  auto second = OpsServer::Start("127.0.0.1:" + std::to_string(first->port()), registry);
  EXPECT_THAT(second, tessera::testing::StatusIs(absl::StatusCode::kUnavailable));
}

TEST(ParseHostPortTest, Forms) {
  EXPECT_EQ(*ParseHostPort(":9090"), std::make_pair(std::string("0.0.0.0"), 9090));
  EXPECT_EQ(*ParseHostPort("[::1]:80"), std::make_pair(std::string("::1"), 80));
  EXPECT_EQ(*ParseHostPort("10.0.0.1:0"), std::make_pair(std::string("10.0.0.1"), 0));
  EXPECT_FALSE(ParseHostPort("[::1]80").ok());
}

}  // namespace
}  // namespace tessera::agent
