#include "agent/kube/resource_slice_publisher.h"

#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "agent/kube/slice_content.h"
#include "base/strings.h"
#include "test/fake_apiserver/api_store.h"
#include "test/fake_apiserver/fake_kube_client.h"
#include "test/fakes/base/fake_clock.h"
#include "test/fakes/kube/inventories.h"
#include "test/fakes/kube/pool_checks.h"
#include "test/matchers/status_matchers.h"

namespace tessera::agent::kube {
namespace {

using Json = nlohmann::json;
using tessera::testing::ApiStore;
using tessera::testing::FakeClock;
using tessera::testing::FakeKubeClient;
using ::testing::HasSubstr;

constexpr char kPublisherDriver[] = "gpu.tessera.dev";
constexpr char kPublisherNode[] = "node-a";

std::set<std::string> PublishedDevices(const std::vector<Json>& slices) {
  std::multiset<std::string> names = testing::PublishedDeviceNames(slices);
  return {names.begin(), names.end()};
}

bool Converged(const std::vector<Json>& stored, const DesiredPool& desired) {
  return testing::PoolConverged(stored, desired);
}

// 300 GPUs: three slices (128, 128, 44).
drivers::Inventory PlainGpus() {
  drivers::Inventory inv;
  for (int i = 0; i < 300; ++i) {
    drivers::Device d;
    d.name = fmt::format("gpu-{:03d}", i);
    d.attributes["model"] = std::string("NVIDIA H100");
    d.attributes["index"] = int64_t{i};
    inv.devices.push_back(d);
  }
  return inv;
}

class PublisherTest : public ::testing::Test {
 protected:
  void SetUp() override { store_.AddNode(kPublisherNode); }

  std::unique_ptr<Publisher> MakePublisher(PublisherOptions options = {}) {
    options.driver = kPublisherDriver;
    options.node_name = kPublisherNode;
    absl::StatusOr<std::unique_ptr<Publisher>> p =
        Publisher::Create(client_, clock_, metrics_, std::move(options));
    EXPECT_TRUE(p.ok()) << p.status();
    return std::move(p).value();
  }

  double Metric(const std::string& name, const base::metrics::Labels& labels) {
    return metrics_.GetCounter(name, "", labels).value();
  }

  ApiStore store_;
  FakeKubeClient client_{store_};
  FakeClock clock_;
  base::metrics::Registry metrics_;
};

TEST_F(PublisherTest, FirstSyncCreatesEverySliceWithOwner) {
  drivers::Inventory inv = testing::PartitionedGpuNode(4, 8);
  PublisherOptions options;
  options.build.partitionable_devices = true;
  auto publisher = MakePublisher(options);
  ASSERT_OK(publisher->SetInventory(inv));
  EXPECT_FALSE(publisher->HasPublished());
  ASSERT_OK(publisher->Sync());
  EXPECT_TRUE(publisher->HasPublished());
  std::vector<Json> stored = store_.Slices();
  DesiredPool desired = *publisher->desired();
  EXPECT_TRUE(Converged(stored, desired));
  EXPECT_EQ(client_.writes(), static_cast<int>(desired.slices.size()));
  Json node = store_.GetNode(kPublisherNode).body;
  for (const Json& s : stored) {
    EXPECT_EQ(s["metadata"]["ownerReferences"][0]["uid"], node["metadata"]["uid"]);
    EXPECT_EQ(s["spec"]["pool"]["generation"], 1);
  }
  EXPECT_EQ(PublishedDevices(stored).size(), inv.devices.size());
  EXPECT_EQ(Metric("tessera_resourceslice_writes_total",
                   {{"driver", kPublisherDriver}, {"op", "create"}, {"result", "success"}}),
            static_cast<double>(desired.slices.size()));
}

TEST_F(PublisherTest, UnchangedResyncWritesNothingAndOneChangeWritesOnce) {
  auto publisher = MakePublisher();
  drivers::Inventory inv = PlainGpus();
  ASSERT_OK(publisher->SetInventory(inv));
  ASSERT_OK(publisher->Sync());
  client_.ResetCalls();
  ASSERT_OK(publisher->SetInventory(inv));
  ASSERT_OK(publisher->Sync());
  EXPECT_EQ(client_.writes(), 0);

  inv.devices[200].attributes["model"] = std::string("NVIDIA H200");  // in the second slice
  ASSERT_OK(publisher->SetInventory(inv));
  ASSERT_OK(publisher->Sync());
  EXPECT_EQ(client_.writes(), 1);
  EXPECT_EQ(client_.calls()["update"], 1);
  EXPECT_TRUE(Converged(store_.Slices(), *publisher->desired()));
}

TEST_F(PublisherTest, DevicesAppearAndVanish) {
  auto publisher = MakePublisher();
  drivers::Inventory inv = testing::GpuNode(4);
  ASSERT_OK(publisher->SetInventory(inv));
  ASSERT_OK(publisher->Sync());
  inv.devices.push_back(testing::Gpu(9, 1));
  ASSERT_OK(publisher->SetInventory(inv));
  ASSERT_OK(publisher->Sync());
  EXPECT_EQ(PublishedDevices(store_.Slices()).count("gpu-9"), 1u);
  inv.devices.erase(inv.devices.begin());
  ASSERT_OK(publisher->SetInventory(inv));
  ASSERT_OK(publisher->Sync());
  EXPECT_EQ(PublishedDevices(store_.Slices()).count("gpu-0"), 0u);
  EXPECT_TRUE(Converged(store_.Slices(), *publisher->desired()));
}

TEST_F(PublisherTest, HealthChangeRepublishes) {
  auto publisher = MakePublisher();
  drivers::Inventory inv = testing::GpuNode(2);
  ASSERT_OK(publisher->SetInventory(inv));
  ASSERT_OK(publisher->Sync());
  inv.devices[1].health = drivers::Health::kUnhealthy;
  ASSERT_OK(publisher->SetInventory(inv));
  ASSERT_OK(publisher->Sync());
  EXPECT_EQ(PublishedDevices(store_.Slices()), (std::set<std::string>{"gpu-0"}));
  inv.devices[1].health = drivers::Health::kHealthy;
  ASSERT_OK(publisher->SetInventory(inv));
  ASSERT_OK(publisher->Sync());
  EXPECT_EQ(PublishedDevices(store_.Slices()), (std::set<std::string>{"gpu-0", "gpu-1"}));
}

TEST_F(PublisherTest, RepairsDeletionBehindItsBackAndTheWipe) {
  auto publisher = MakePublisher();
  ASSERT_OK(publisher->SetInventory(PlainGpus()));
  ASSERT_OK(publisher->Sync());
  std::vector<Json> before = store_.Slices();
  ASSERT_EQ(before.size(), 3u);
  store_.RemoveSlice(before[1]["metadata"]["name"]);
  ASSERT_OK(publisher->Sync());
  EXPECT_TRUE(Converged(store_.Slices(), *publisher->desired()));

  // The kubelet's wipe at its start: every slice of the node.
  store_.DeleteSliceCollection("spec.nodeName=node-a");
  ASSERT_TRUE(store_.Slices().empty());
  ASSERT_OK(publisher->Sync());
  EXPECT_TRUE(Converged(store_.Slices(), *publisher->desired()));
}

TEST_F(PublisherTest, RemovesDuplicatesAndForeignGenerations) {
  auto publisher = MakePublisher();
  ASSERT_OK(publisher->SetInventory(testing::GpuNode(2)));
  ASSERT_OK(publisher->Sync());
  // A duplicate (as after a create whose answer was lost and was repeated).
  Json dup = store_.Slices()[0];
  dup["metadata"] = {{"generateName", "node-a-gpu.tessera.dev-"}};
  ASSERT_EQ(store_.CreateSlice(dup).code, 201);
  ASSERT_EQ(store_.Slices().size(), 2u);
  ASSERT_OK(publisher->Sync());
  EXPECT_TRUE(Converged(store_.Slices(), *publisher->desired()));
}

TEST_F(PublisherTest, AdoptsDroppedFieldsWithoutLooping) {
  store_.SetDisabledGates({testing::kGateDeviceTaints});
  PublisherOptions options;
  options.build.device_taints = true;
  auto publisher = MakePublisher(options);
  drivers::Inventory inv = testing::GpuNode(3);
  inv.devices[1].taints = {{"gpu.tessera.dev/degraded", "", "NoSchedule"}};
  ASSERT_OK(publisher->SetInventory(inv));
  ASSERT_OK(publisher->Sync());
  EXPECT_EQ(publisher->counters().adoptions, 1u);
  EXPECT_EQ(Metric("tessera_resourceslice_dropped_fields_total", {{"driver", kPublisherDriver}}),
            1);
  EXPECT_FALSE(store_.Slices()[0]["spec"]["devices"][1].contains("taints"));

  client_.ResetCalls();
  for (int i = 0; i < 3; ++i) ASSERT_OK(publisher->Sync());
  EXPECT_EQ(client_.writes(), 0);
  EXPECT_EQ(publisher->counters().adoptions, 1u);

  // A real change is still published, once, and adopted again.
  inv.devices[0].attributes["model"] = std::string("other");
  ASSERT_OK(publisher->SetInventory(inv));
  ASSERT_OK(publisher->Sync());
  ASSERT_OK(publisher->Sync());
  EXPECT_EQ(client_.writes(), 1);
  EXPECT_EQ(store_.Slices()[0]["spec"]["devices"][0]["attributes"]["model"]["string"], "other");
}

TEST_F(PublisherTest, TransientErrorsFailTheSyncAndTheNextOneConverges) {
  auto publisher = MakePublisher();
  ASSERT_OK(publisher->SetInventory(PlainGpus()));
  int failures = 2;
  client_.set_injector([&](std::string_view verb) {
    if (verb == "create" && failures > 0) {
      --failures;
      return absl::UnavailableError("create resourceslice: 503 Service Unavailable");
    }
    return absl::OkStatus();
  });
  EXPECT_THAT(publisher->Sync(), testing::StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(publisher->Sync(), testing::StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_OK(publisher->Sync());
  EXPECT_TRUE(Converged(store_.Slices(), *publisher->desired()));
  EXPECT_EQ(publisher->counters().failed_syncs, 2u);
  EXPECT_EQ(Metric("tessera_resourceslice_syncs_total",
                   {{"driver", kPublisherDriver}, {"result", "error"}}),
            2);
}

TEST_F(PublisherTest, NodeOwnerRequiredInClusterOptionalStandalone) {
  ApiStore empty;
  FakeKubeClient client(empty);
  PublisherOptions options{.driver = kPublisherDriver, .node_name = kPublisherNode};
  ASSERT_OK_AND_ASSIGN(auto strict, Publisher::Create(client, clock_, metrics_, options));
  ASSERT_OK(strict->SetInventory(testing::GpuNode(1)));
  EXPECT_THAT(strict->Sync(), testing::StatusIs(absl::StatusCode::kNotFound, HasSubstr("owner")));
  EXPECT_TRUE(empty.Slices().empty());

  options.require_node_owner = false;
  ASSERT_OK_AND_ASSIGN(auto lax, Publisher::Create(client, clock_, metrics_, options));
  ASSERT_OK(lax->SetInventory(testing::GpuNode(1)));
  ASSERT_OK(lax->Sync());
  ASSERT_EQ(empty.Slices().size(), 1u);
  EXPECT_FALSE(empty.Slices()[0]["metadata"].contains("ownerReferences"));
}

TEST_F(PublisherTest, RejectsBadNames) {
  EXPECT_THAT(Publisher::Create(client_, clock_, metrics_,
                                {.driver = "bad_driver", .node_name = kPublisherNode}),
              testing::StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Publisher::Create(client_, clock_, metrics_,
                                {.driver = kPublisherDriver, .node_name = "Node"}),
              testing::StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(PublisherTest, SkippedDevicesAreCounted) {
  auto publisher = MakePublisher();
  drivers::Inventory inv = testing::GpuNode(2);
  inv.devices[0].name = "Bad_Name";
  ASSERT_OK(publisher->SetInventory(inv));
  EXPECT_EQ(
      metrics_.GetGauge("tessera_resourceslice_skipped_devices", "", {{"driver", kPublisherDriver}})
          .value(),
      1);
  ASSERT_OK(publisher->Sync());
  EXPECT_EQ(PublishedDevices(store_.Slices()), (std::set<std::string>{"gpu-1"}));
}

// --- Run(): informer + loop on a FakeClock ---

class PublisherRunTest : public PublisherTest {
 protected:
  void Start(PublisherOptions options = {}) {
    publisher_ = MakePublisher(options);
    thread_ = std::jthread([this](std::stop_token stop) { publisher_->Run(stop); });
    // The informer lists in real time; wait for it (bounded).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!publisher_->CacheSynced() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    ASSERT_TRUE(publisher_->CacheSynced());
  }
  void TearDown() override {
    if (thread_.joinable()) {
      thread_.request_stop();
      thread_.join();
    }
  }
  // Advances time in steps until the store converges (the informer works in
  // real time, the loop's delays on the fake clock).
  bool AdvanceUntilConverged(std::chrono::seconds step, int max_steps) {
    for (int i = 0; i < max_steps; ++i) {
      if (store_.WaitFor(
              [&](const std::vector<Json>& s) { return Converged(s, *publisher_->desired()); },
              std::chrono::milliseconds(100))) {
        return true;
      }
      clock_.Advance(step);
    }
    return false;
  }

  std::unique_ptr<Publisher> publisher_;
  std::jthread thread_;
};

TEST_F(PublisherRunTest, SyncRunsOnTheLoopAndResyncCallsNothing) {
  Start();
  ASSERT_OK(publisher_->SetInventory(PlainGpus()));
  ASSERT_OK(publisher_->Sync());
  EXPECT_TRUE(Converged(store_.Slices(), *publisher_->desired()));
  // Wait until the informer has seen our writes, then a resync from its cache
  // makes no API call at all.
  ASSERT_TRUE(AdvanceUntilConverged(std::chrono::seconds(1), 10));
  client_.ResetCalls();
  ASSERT_OK(publisher_->Sync());
  ASSERT_OK(publisher_->Sync());
  std::map<std::string, int> calls = client_.calls();
  calls.erase("watch");  // a watch may be re-opened at any time
  EXPECT_TRUE(calls.empty()) << "calls: " << calls.size();
}

TEST_F(PublisherRunTest, NoDuplicateWhenSyncingRightAfterCreate) {
  Start();
  ASSERT_OK(publisher_->SetInventory(testing::GpuNode(4)));
  ASSERT_OK(publisher_->Sync());
  ASSERT_OK(publisher_->Sync());  // the informer may not have seen the create yet
  ASSERT_OK(publisher_->Sync());
  EXPECT_EQ(store_.Slices().size(), 1u);
  EXPECT_EQ(client_.calls()["create"], 1);
}

TEST_F(PublisherRunTest, RepairsAWipeSeenByTheInformer) {
  Start(PublisherOptions{.sync_delay = std::chrono::seconds(30)});
  ASSERT_OK(publisher_->SetInventory(PlainGpus()));
  ASSERT_OK(publisher_->Sync());
  store_.DeleteSliceCollection("spec.nodeName=node-a,spec.driver=gpu.tessera.dev");
  EXPECT_TRUE(AdvanceUntilConverged(std::chrono::seconds(10), 50));
}

TEST_F(PublisherRunTest, RelistsAfterTheWatchExpires) {
  Start(PublisherOptions{.sync_delay = std::chrono::seconds(1)});
  ASSERT_OK(publisher_->SetInventory(testing::GpuNode(2)));
  ASSERT_OK(publisher_->Sync());
  // Events the watch has not read are compacted away: 410, relist, repair.
  store_.RemoveSlice(store_.Slices()[0]["metadata"]["name"]);
  store_.CompactHistory();
  EXPECT_TRUE(AdvanceUntilConverged(std::chrono::seconds(1), 50));
}

TEST_F(PublisherRunTest, RetriesTransientFailuresWithBackoff) {
  int failures = 3;
  client_.set_injector([&](std::string_view verb) {
    if (verb == "create" && failures > 0) {
      --failures;
      return absl::UnavailableError("injected");
    }
    return absl::OkStatus();
  });
  Start(PublisherOptions{.retry_initial = std::chrono::milliseconds(1000)});
  ASSERT_OK(publisher_->SetInventory(testing::GpuNode(2)));
  EXPECT_TRUE(AdvanceUntilConverged(std::chrono::seconds(2), 50));
  EXPECT_EQ(failures, 0);
}

TEST_F(PublisherRunTest, RejectedSlicesAreNotRetried) {
  client_.set_injector([&](std::string_view verb) {
    if (verb == "create") return absl::InvalidArgumentError("create resourceslice: 422 invalid");
    return absl::OkStatus();
  });
  Start(PublisherOptions{.retry_initial = std::chrono::milliseconds(100),
                         .resync_period = std::chrono::minutes(10)});
  ASSERT_OK(publisher_->SetInventory(testing::GpuNode(2)));
  EXPECT_THAT(publisher_->Sync(), testing::StatusIs(absl::StatusCode::kInvalidArgument));
  int creates = client_.calls()["create"];
  for (int i = 0; i < 20; ++i) {
    clock_.Advance(std::chrono::seconds(5));  // 100 s in all, < resync period
    clock_.WaitForPendingSleepers(1);         // the loop is asleep again
  }
  EXPECT_EQ(client_.calls()["create"], creates);
  // Past the resync period it tries again.
  clock_.Advance(std::chrono::minutes(10));
  clock_.WaitForPendingSleepers(1);
  EXPECT_GT(client_.calls()["create"], creates);
}

}  // namespace
}  // namespace tessera::agent::kube
