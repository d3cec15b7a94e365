// emit-slices: writes, as one JSON array, the ResourceSlices Tessera
// publishes for realistic inventories in every option combination, both as
// the builder renders them and as the (fake) API server stores them after a
// publisher sync. test/schema/run_schema_test.sh checks them against the
// upstream schema.
#include <fstream>
#include <iostream>

#include "agent/kube/resource_slice_publisher.h"
#include "agent/kube/slice_builder.h"
#include "base/clock.h"
#include "test/fake_apiserver/api_store.h"
#include "test/fake_apiserver/fake_kube_client.h"
#include "test/fakes/kube/inventories.h"

namespace tessera {
namespace {

using Json = nlohmann::json;
namespace kube = agent::kube;

struct Scenario {
  std::string driver;
  drivers::Inventory inventory;
  kube::SliceBuildOptions options;
};

std::vector<Scenario> Scenarios() {
  std::vector<Scenario> out;
  out.push_back({"gpu.tessera.dev", testing::GpuNode(8), {}});
  out.push_back({"rdma.tessera.dev", testing::NicNode(8), {}});
  // 1,024 partitions of 16 GPUs: counter-set slices and 64-device slices.
  out.push_back(
      {"gpu.tessera.dev", testing::PartitionedGpuNode(16, 64), {.partitionable_devices = true}});
  // The same inventory with the gate off: whole GPUs only.
  out.push_back({"gpu.tessera.dev", testing::PartitionedGpuNode(4, 8), {}});
  // Consumable capacity with both request-policy shapes, taints, an unhealthy GPU.
  drivers::Inventory shared = testing::GpuNode(4);
  shared.devices[0].allow_multiple_allocations = true;
  shared.devices[0].capacity["memory"].request_policy = drivers::RequestPolicy{
      testing::Gi(10), {}, drivers::ValidRange{testing::Gi(10), testing::Gi(80), testing::Gi(10)}};
  shared.devices[1].allow_multiple_allocations = true;
  shared.devices[1].capacity["memory"].request_policy = drivers::RequestPolicy{
      testing::Gi(20), {testing::Gi(20), testing::Gi(40), testing::Gi(80)}, std::nullopt};
  shared.devices[2].taints = {{"gpu.tessera.dev/ecc-errors", "high", "NoExecute"}};
  shared.devices[3].health = drivers::Health::kUnhealthy;
  out.push_back(
      {"gpu.tessera.dev",
       shared,
       {.partitionable_devices = true, .consumable_capacity = true, .device_taints = true}});
  out.push_back({"npu.tessera.dev", {}, {}});  // an empty pool
  return out;
}

int Run(const std::string& path) {
  Json all = Json::array();
  kube::NodeOwner owner{"node-a", "5f1c0d2e-9b8a-4c7d-8e6f-1a2b3c4d5e6f"};
  for (const Scenario& s : Scenarios()) {
    absl::StatusOr<kube::DesiredPool> pool =
        kube::BuildPool(s.driver, "node-a", s.inventory, s.options);
    if (!pool.ok()) {
      std::cerr << "emit-slices: " << pool.status() << "\n";
      return 1;
    }
    for (size_t i = 0; i < pool->slices.size(); ++i) {
      all.push_back(kube::RenderSlice(*pool, i, 1, owner));
    }
    // As stored by an API server after a publish.
    testing::ApiStore store;
    store.AddNode("node-a");
    testing::FakeKubeClient client(store);
    base::SystemClock clock;
    base::metrics::Registry metrics;
    absl::StatusOr<std::unique_ptr<kube::Publisher>> publisher = kube::Publisher::Create(
        client, clock, metrics, {.driver = s.driver, .node_name = "node-a", .build = s.options});
    if (!publisher.ok() || !(*publisher)->SetInventory(s.inventory).ok() ||
        !(*publisher)->Sync().ok()) {
      std::cerr << "emit-slices: publishing " << s.driver << " failed\n";
      return 1;
    }
    for (const Json& stored : store.Slices()) all.push_back(stored);
  }
  std::ofstream out(path);
  out << all.dump(1) << "\n";
  if (!out) {
    std::cerr << "emit-slices: cannot write " << path << "\n";
    return 1;
  }
  std::cerr << "emit-slices: wrote " << all.size() << " ResourceSlices to " << path << "\n";
  return 0;
}

}  // namespace
}  // namespace tessera

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: emit-slices <output.json>\n";
    return 2;
  }
  return tessera::Run(argv[1]);
}
