// The publisher with the real RestKubeClient against the fake API server
// over loopback (label "integration"): convergence under injected faults,
// repair of deletions and of the kubelet's wipe, dropped fields, write counts.
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"

#include "agent/kube/resource_slice_publisher.h"
#include "agent/kube/rest_kube_client.h"
#include "base/filesystem.h"
#include "test/fake_apiserver/fake_apiserver.h"
#include "test/fakes/kube/inventories.h"
#include "test/fakes/kube/pool_checks.h"
#include "test/matchers/status_matchers.h"

namespace tessera::agent::kube {
namespace {

using Json = nlohmann::json;
using tessera::testing::FakeApiServer;
using tessera::testing::Faults;

constexpr char kDriver[] = "gpu.tessera.dev";
constexpr char kNode[] = "node-a";

class PublisherLoopbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<FakeApiServer>> server = FakeApiServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
    server_->store().AddNode(kNode);
    RestOptions rest;
    rest.request_timeout = std::chrono::milliseconds(2000);
    rest.initial_backoff = std::chrono::milliseconds(5);
    rest.max_backoff = std::chrono::milliseconds(50);
    rest.max_attempts = 3;
    absl::StatusOr<std::unique_ptr<RestKubeClient>> client =
        RestKubeClient::Create({.server = server_->url()}, fs_, clock_, metrics_, rest);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(client).value();
  }

  void TearDown() override {
    if (thread_.joinable()) {
      thread_.request_stop();
      thread_.join();
    }
    if (client_) client_->Shutdown();
  }

  // A publisher with short delays (real time) running its loop.
  void StartPublisher(SliceBuildOptions build = {}) {
    PublisherOptions options;
    options.driver = kDriver;
    options.node_name = kNode;
    options.build = build;
    options.sync_delay = std::chrono::milliseconds(50);
    options.mutation_ttl = std::chrono::seconds(2);
    options.retry_initial = std::chrono::milliseconds(20);
    options.retry_max = std::chrono::milliseconds(300);
    options.resync_period = std::chrono::milliseconds(2000);
    options.watch_timeout = std::chrono::seconds(5);
    absl::StatusOr<std::unique_ptr<Publisher>> p =
        Publisher::Create(*client_, clock_, metrics_, options);
    ASSERT_TRUE(p.ok()) << p.status();
    publisher_ = std::move(p).value();
    thread_ = std::jthread([this](std::stop_token stop) { publisher_->Run(stop); });
  }

  bool WaitConverged(std::chrono::seconds timeout) {
    return server_->store().WaitFor(
        [&](const std::vector<Json>& s) {
          return testing::PoolConverged(s, *publisher_->desired());
        },
        timeout);
  }

  std::unique_ptr<FakeApiServer> server_;
  base::RealFilesystem fs_;
  base::SystemClock clock_;
  base::metrics::Registry metrics_;
  std::unique_ptr<RestKubeClient> client_;
  std::unique_ptr<Publisher> publisher_;
  std::jthread thread_;
};

TEST_F(PublisherLoopbackTest, ConvergesUnderThirtyPercentFaults) {
  server_->SetFaults(Faults{.rate = 0.3,
                            .watches = true,
                            .slow_delay = std::chrono::milliseconds(20),
                            .retry_after_seconds = 1,
                            .seed = 2024});
  StartPublisher({.partitionable_devices = true});
  drivers::Inventory inv = testing::PartitionedGpuNode(8, 32);  // 256 devices, 8 counter sets
  ASSERT_OK(publisher_->SetInventory(inv));
  ASSERT_TRUE(WaitConverged(std::chrono::seconds(60)));

  // Change the inventory while faults go on: devices vanish and come back,
  // attributes change, a whole GPU disappears.
  drivers::Inventory full = inv;
  for (int round = 0; round < 8; ++round) {
    inv = full;
    inv.devices.erase(inv.devices.begin() + 8 * round, inv.devices.begin() + 8 * round + 20);
    inv.devices[round].attributes["model"] = std::string("changed-") + std::to_string(round);
    ASSERT_OK(publisher_->SetInventory(inv));
    ASSERT_TRUE(WaitConverged(std::chrono::seconds(60))) << "round " << round;
  }

  // Faults off: a last sync keeps it; every device exactly once.
  server_->SetFaults({});
  ASSERT_OK(publisher_->Sync());
  std::vector<Json> stored = server_->store().Slices();
  EXPECT_TRUE(testing::PoolConverged(stored, *publisher_->desired()));
  std::multiset<std::string> names = testing::PublishedDeviceNames(stored);
  EXPECT_EQ(names.size(), inv.devices.size());
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), inv.devices.size());
  testing::RequestCounts counts = server_->counts();
  uint64_t faults = 0;
  for (const auto& [kind, n] : counts.faults) faults += n;
  EXPECT_GT(faults, 10u) << "the test must actually have injected faults";
}

TEST_F(PublisherLoopbackTest, RepairsDeletionBehindItsBackAndTheWipe) {
  StartPublisher();
  drivers::Inventory inv = testing::GpuNode(8);
  for (int i = 8; i < 300; ++i) inv.devices.push_back(testing::Gpu(i, i % 2));  // 3 slices
  ASSERT_OK(publisher_->SetInventory(inv));
  ASSERT_TRUE(WaitConverged(std::chrono::seconds(20)));

  server_->store().RemoveSlice(server_->store().Slices()[1]["metadata"]["name"]);
  ASSERT_TRUE(WaitConverged(std::chrono::seconds(20)));

  // The kubelet's wipe at its start: DELETE of the collection, by node.
  httplib::Client kubelet("127.0.0.1", server_->port());
  auto wiped = kubelet.Delete(
      "/apis/resource.k8s.io/v1/resourceslices?fieldSelector=spec.nodeName%3Dnode-a");
  ASSERT_TRUE(wiped);
  ASSERT_EQ(wiped->status, 200);
  ASSERT_EQ(Json::parse(wiped->body)["items"].size(), 3u);
  ASSERT_TRUE(WaitConverged(std::chrono::seconds(20)));
  EXPECT_EQ(testing::PublishedDeviceNames(server_->store().Slices()).size(), 300u);
}

TEST_F(PublisherLoopbackTest, UnchangedResyncWritesNothingAndAChangeWritesOnce) {
  StartPublisher();
  drivers::Inventory inv;
  for (int i = 0; i < 300; ++i) inv.devices.push_back(testing::Gpu(i, i % 2));
  ASSERT_OK(publisher_->SetInventory(inv));
  ASSERT_OK(publisher_->Sync());
  ASSERT_TRUE(WaitConverged(std::chrono::seconds(20)));
  EXPECT_EQ(server_->counts().writes(), 3u);

  server_->ResetCounts();
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(publisher_->SetInventory(inv));
    ASSERT_OK(publisher_->Sync());
  }
  EXPECT_EQ(server_->counts().writes(), 0u);

  inv.devices[250].attributes["model"] = std::string("NVIDIA H200");
  ASSERT_OK(publisher_->SetInventory(inv));
  ASSERT_OK(publisher_->Sync());
  ASSERT_TRUE(WaitConverged(std::chrono::seconds(20)));
  ASSERT_OK(publisher_->Sync());
  EXPECT_EQ(server_->counts().writes(), 1u);
  EXPECT_EQ(server_->counts().by_verb["update"], 1u);
}

TEST_F(PublisherLoopbackTest, AdoptsFieldsOfDisabledGatesWithoutAnUpdateLoop) {
  server_->store().SetDisabledGates(
      {testing::kGateDeviceTaints, testing::kGatePartitionableDevices});
  StartPublisher({.partitionable_devices = true, .device_taints = true});
  drivers::Inventory inv = testing::PartitionedGpuNode(2, 4);
  inv.devices[2].taints = {{"gpu.tessera.dev/degraded", "", "NoSchedule"}};
  ASSERT_OK(publisher_->SetInventory(inv));
  ASSERT_OK(publisher_->Sync());
  // Every device is there, without the dropped fields.
  std::vector<Json> stored = server_->store().Slices();
  EXPECT_EQ(testing::PublishedDeviceNames(stored).size(), inv.devices.size());
  for (const Json& s : stored) {
    EXPECT_FALSE(s["spec"].contains("sharedCounters"));
    for (const Json& d : s["spec"].value("devices", Json::array())) {
      EXPECT_FALSE(d.contains("consumesCounters"));
      EXPECT_FALSE(d.contains("taints"));
    }
  }
  EXPECT_GE(publisher_->counters().adoptions, 1u);
  EXPECT_GE(
      metrics_.GetCounter("tessera_resourceslice_dropped_fields_total", "", {{"driver", kDriver}})
          .value(),
      1);
  // Let the informer's own echo events settle, then: no more writes.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  server_->ResetCounts();
  for (int i = 0; i < 5; ++i) ASSERT_OK(publisher_->Sync());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // sync_delay-driven syncs too
  EXPECT_EQ(server_->counts().writes(), 0u);
}

}  // namespace
}  // namespace tessera::agent::kube
