#include "agent/kube/slice_builder.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "agent/kube/slice_validation.h"
#include "base/strings.h"
#include "test/fakes/kube/inventories.h"
#include "test/matchers/status_matchers.h"

namespace tessera::agent::kube {
namespace {

using Json = nlohmann::json;
using tessera::testing::Gi;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kBuilderDriver[] = "gpu.tessera.dev";
constexpr char kBuilderNode[] = "node-a";

std::vector<std::string> DeviceNames(const Json& slice_content) {
  std::vector<std::string> out;
  for (const Json& d : slice_content.value("devices", Json::array())) {
    out.push_back(d.at("name").get<std::string>());
  }
  return out;
}

drivers::Inventory PlainDevices(int n) {
  drivers::Inventory inv;
  for (int i = 0; i < n; ++i) {
    drivers::Device d;
    d.name = fmt::format("dev-{:04d}", i);
    d.attributes["index"] = int64_t{i};
    inv.devices.push_back(d);
  }
  return inv;
}

// Every slice must pass what the API server checks, and the pool what the
// upstream helper checks.
void ExpectValid(const DesiredPool& pool) {
  std::vector<Json> rendered;
  for (size_t i = 0; i < pool.slices.size(); ++i) {
    Json slice =
        RenderSlice(pool, i, 1, NodeOwner{kBuilderNode, "8e3c3f0e-5c1e-4a44-9a5d-2c0f0f0f0f0f"});
    slice["metadata"]["name"] = base::StrCat("s", i);
    EXPECT_THAT(DecodeCheckResourceSlice(slice), IsEmpty());
    FieldErrors errors = ValidateResourceSlice(slice);
    EXPECT_THAT(errors, IsEmpty()) << (errors.empty() ? "" : errors.front().ToString());
    rendered.push_back(slice);
  }
  EXPECT_THAT(ValidatePool(rendered), IsEmpty());
}

TEST(SliceBuilderTest, GpuNodeBecomesOneSliceWithNormalizedAttributes) {
  ASSERT_OK_AND_ASSIGN(DesiredPool pool, BuildPool(kBuilderDriver, kBuilderNode,
                                                   testing::GpuNode(8), SliceBuildOptions{}));
  EXPECT_EQ(pool.driver, kBuilderDriver);
  EXPECT_EQ(pool.pool, kBuilderNode);
  EXPECT_THAT(pool.skipped, IsEmpty());
  ASSERT_EQ(pool.slices.size(), 1u);
  EXPECT_THAT(DeviceNames(pool.slices[0]),
              ElementsAre("gpu-0", "gpu-1", "gpu-2", "gpu-3", "gpu-4", "gpu-5", "gpu-6", "gpu-7"));
  const Json& gpu0 = pool.slices[0]["devices"][0];
  // Own-domain names unqualified, other domains qualified, typed values.
  EXPECT_EQ(gpu0["attributes"]["model"], (Json{{"string", "NVIDIA H100 80GB HBM3"}}));
  EXPECT_EQ(gpu0["attributes"]["index"], (Json{{"int", 0}}));
  EXPECT_EQ(gpu0["attributes"]["computeCapability"], (Json{{"version", "9.0.0"}}));
  EXPECT_EQ(gpu0["attributes"]["resource.kubernetes.io/pciBusID"],
            (Json{{"string", "0000:18:00.0"}}));
  EXPECT_EQ(gpu0["attributes"]["resource.kubernetes.io/numaNode"], (Json{{"int", 0}}));
  EXPECT_EQ(gpu0["attributes"]["tessera.dev/pcieSwitch"], (Json{{"string", "pcie-switch-0"}}));
  EXPECT_EQ(gpu0["capacity"]["memory"], (Json{{"value", "80Gi"}}));
  // Nothing unset is sent.
  EXPECT_FALSE(gpu0.contains("taints"));
  EXPECT_FALSE(gpu0.contains("consumesCounters"));
  EXPECT_FALSE(gpu0.contains("allowMultipleAllocations"));
  ExpectValid(pool);
}

TEST(SliceBuilderTest, RendersFullObjectWithOwnerAndPool) {
  ASSERT_OK_AND_ASSIGN(DesiredPool pool, BuildPool(kBuilderDriver, kBuilderNode,
                                                   testing::GpuNode(2), SliceBuildOptions{}));
  Json slice = RenderSlice(pool, 0, 7, NodeOwner{kBuilderNode, "uid-1"});
  EXPECT_EQ(slice["apiVersion"], "resource.k8s.io/v1");
  EXPECT_EQ(slice["kind"], "ResourceSlice");
  EXPECT_EQ(slice["metadata"]["generateName"], "node-a-gpu.tessera.dev-");
  EXPECT_EQ(slice["metadata"]["ownerReferences"], Json::array({{{"apiVersion", "v1"},
                                                                {"kind", "Node"},
                                                                {"name", kBuilderNode},
                                                                {"uid", "uid-1"},
                                                                {"controller", true}}}));
  EXPECT_EQ(slice["spec"]["driver"], kBuilderDriver);
  EXPECT_EQ(slice["spec"]["nodeName"], kBuilderNode);
  EXPECT_EQ(slice["spec"]["pool"],
            (Json{{"name", kBuilderNode}, {"generation", 7}, {"resourceSliceCount", 1}}));
  for (const char* absent :
       {"allNodes", "nodeSelector", "perDeviceNodeSelection", "sharedCounters"}) {
    EXPECT_FALSE(slice["spec"].contains(absent)) << absent;
  }
  EXPECT_FALSE(RenderSlice(pool, 0, 1, std::nullopt)["metadata"].contains("ownerReferences"));
}

TEST(SliceBuilderTest, SplitsAt128DevicesPerSlice) {
  ASSERT_OK_AND_ASSIGN(DesiredPool pool, BuildPool(kBuilderDriver, kBuilderNode, PlainDevices(300),
                                                   SliceBuildOptions{}));
  ASSERT_EQ(pool.slices.size(), 3u);
  EXPECT_EQ(pool.slices[0]["devices"].size(), 128u);
  EXPECT_EQ(pool.slices[1]["devices"].size(), 128u);
  EXPECT_EQ(pool.slices[2]["devices"].size(), 44u);
  EXPECT_EQ(DeviceNames(pool.slices[1]).front(), "dev-0128");
  ExpectValid(pool);
}

TEST(SliceBuilderTest, SplitsAt64WhenDevicesHaveTaints) {
  drivers::Inventory inv = PlainDevices(200);
  for (int i = 150; i < 200; ++i)
    inv.devices[i].taints = {{"gpu.tessera.dev/degraded", "", "NoSchedule"}};
  ASSERT_OK_AND_ASSIGN(DesiredPool pool, BuildPool(kBuilderDriver, kBuilderNode, inv,
                                                   SliceBuildOptions{.device_taints = true}));
  std::vector<size_t> sizes;
  for (const Json& s : pool.slices) sizes.push_back(s["devices"].size());
  // 128 plain, then 22 plain that stop at the first tainted device's 64 limit.
  EXPECT_THAT(sizes, ElementsAre(128u, 64u, 8u));
  ExpectValid(pool);

  // With taints off the same inventory packs at 128, without taints.
  ASSERT_OK_AND_ASSIGN(DesiredPool plain,
                       BuildPool(kBuilderDriver, kBuilderNode, inv, SliceBuildOptions{}));
  EXPECT_EQ(plain.slices.size(), 2u);
  EXPECT_FALSE(plain.slices[1]["devices"][60].contains("taints"));
}

TEST(SliceBuilderTest, PartitionsPublishCounterSetsInTheirOwnSlices) {
  drivers::Inventory inv = testing::PartitionedGpuNode(9, 8);  // 72 devices, 9 counter sets
  ASSERT_OK_AND_ASSIGN(DesiredPool pool,
                       BuildPool(kBuilderDriver, kBuilderNode, inv,
                                 SliceBuildOptions{.partitionable_devices = true}));
  EXPECT_THAT(pool.skipped, IsEmpty());
  ASSERT_EQ(pool.slices.size(), 4u);
  // Counter sets first, 8 per slice, never together with devices.
  EXPECT_EQ(pool.slices[0]["sharedCounters"].size(), 8u);
  EXPECT_EQ(pool.slices[1]["sharedCounters"].size(), 1u);
  EXPECT_FALSE(pool.slices[0].contains("devices"));
  EXPECT_EQ(pool.slices[0]["sharedCounters"][0],
            (Json{{"name", "gpu-0-counters"},
                  {"counters", {{"memory", {{"value", "80Gi"}}}, {"sm", {{"value", "132"}}}}}}));
  // Devices consuming counters: at most 64 per slice.
  EXPECT_EQ(pool.slices[2]["devices"].size(), 64u);
  EXPECT_EQ(pool.slices[3]["devices"].size(), 8u);
  EXPECT_EQ(
      pool.slices[2]["devices"][1]["consumesCounters"],
      Json::array({{{"counterSet", "gpu-0-counters"},
                    {"counters", {{"memory", {{"value", "10Gi"}}}, {"sm", {{"value", "16"}}}}}}}));
  ExpectValid(pool);
}

TEST(SliceBuilderTest, WithoutPartitionsOnlyWholeDevicesArePublished) {
  drivers::Inventory inv = testing::PartitionedGpuNode(2, 4);
  ASSERT_OK_AND_ASSIGN(DesiredPool pool,
                       BuildPool(kBuilderDriver, kBuilderNode, inv, SliceBuildOptions{}));
  ASSERT_EQ(pool.slices.size(), 1u);
  EXPECT_THAT(DeviceNames(pool.slices[0]), ElementsAre("gpu-0", "gpu-1"));
  EXPECT_FALSE(pool.slices[0]["devices"][0].contains("consumesCounters"));
  EXPECT_EQ(pool.skipped.size(), 6u);
  EXPECT_THAT(pool.skipped[0], Field(&SkippedDevice::device, "gpu-0-p1"));
  EXPECT_THAT(pool.skipped[0].reason, HasSubstr("DRAPartitionableDevices"));
  ExpectValid(pool);
}

TEST(SliceBuilderTest, WithoutPartitionsTwoWholeDevicesOnOneSetKeepTheFirst) {
  drivers::Inventory inv = testing::PartitionedGpuNode(1, 1);
  drivers::Device twin = inv.devices[0];
  twin.name = "gpu-0-twin";
  inv.devices.push_back(twin);
  ASSERT_OK_AND_ASSIGN(DesiredPool pool,
                       BuildPool(kBuilderDriver, kBuilderNode, inv, SliceBuildOptions{}));
  EXPECT_THAT(DeviceNames(pool.slices[0]), ElementsAre("gpu-0"));
  ASSERT_EQ(pool.skipped.size(), 1u);
  EXPECT_THAT(pool.skipped[0].reason, HasSubstr("overlaps"));
}

TEST(SliceBuilderTest, ConsumableCapacityBehindItsFlag) {
  drivers::Inventory inv = testing::GpuNode(1);
  drivers::Device& gpu = inv.devices[0];
  gpu.allow_multiple_allocations = true;
  gpu.capacity["memory"].request_policy =
      drivers::RequestPolicy{Gi(10), {}, drivers::ValidRange{Gi(10), Gi(80), Gi(10)}};
  ASSERT_OK_AND_ASSIGN(DesiredPool off,
                       BuildPool(kBuilderDriver, kBuilderNode, inv, SliceBuildOptions{}));
  const Json& d_off = off.slices[0]["devices"][0];
  EXPECT_FALSE(d_off.contains("allowMultipleAllocations"));
  EXPECT_EQ(d_off["capacity"]["memory"], (Json{{"value", "80Gi"}}));

  ASSERT_OK_AND_ASSIGN(DesiredPool on, BuildPool(kBuilderDriver, kBuilderNode, inv,
                                                 SliceBuildOptions{.consumable_capacity = true}));
  const Json& d_on = on.slices[0]["devices"][0];
  EXPECT_EQ(d_on["allowMultipleAllocations"], true);
  EXPECT_EQ(d_on["capacity"]["memory"]["requestPolicy"],
            (Json{{"default", "10Gi"},
                  {"validRange", {{"min", "10Gi"}, {"max", "80Gi"}, {"step", "10Gi"}}}}));
  ExpectValid(on);
}

TEST(SliceBuilderTest, UnhealthyDevicesSkippedOrTainted) {
  drivers::Inventory inv = testing::GpuNode(3);
  inv.devices[1].health = drivers::Health::kUnhealthy;
  inv.devices[1].health_message = "xid 79";
  inv.devices[2].health = drivers::Health::kUnknown;
  ASSERT_OK_AND_ASSIGN(DesiredPool off,
                       BuildPool(kBuilderDriver, kBuilderNode, inv, SliceBuildOptions{}));
  EXPECT_THAT(DeviceNames(off.slices[0]), ElementsAre("gpu-0", "gpu-2"));
  EXPECT_THAT(off.skipped, ElementsAre(SkippedDevice{"gpu-1", "unhealthy: xid 79"}));

  ASSERT_OK_AND_ASSIGN(DesiredPool on, BuildPool(kBuilderDriver, kBuilderNode, inv,
                                                 SliceBuildOptions{.device_taints = true}));
  EXPECT_THAT(DeviceNames(on.slices[0]), ElementsAre("gpu-0", "gpu-1", "gpu-2"));
  EXPECT_EQ(on.slices[0]["devices"][1]["taints"],
            Json::array({{{"key", "gpu.tessera.dev/unhealthy"}, {"effect", "NoSchedule"}}}));
  EXPECT_FALSE(on.slices[0]["devices"][2].contains("taints"));
  ExpectValid(on);
}

TEST(SliceBuilderTest, BadDevicesAreSkippedWithTheReason) {
  drivers::Inventory inv = testing::GpuNode(2);
  drivers::Device bad_name = inv.devices[0];
  bad_name.name = "GPU_7";
  drivers::Device too_many = inv.devices[0];
  too_many.name = "gpu-8";
  for (int i = 0; i < 30; ++i) too_many.attributes[fmt::format("extra{}", i)] = int64_t{i};
  drivers::Device long_string = inv.devices[0];
  long_string.name = "gpu-9";
  long_string.attributes["model"] = std::string(65, 'x');
  drivers::Device clash = inv.devices[0];
  clash.name = "gpu-10";
  clash.attributes["gpu.tessera.dev/model"] = std::string("x");
  drivers::Device dup = inv.devices[1];
  inv.devices.insert(inv.devices.end(), {bad_name, too_many, long_string, clash, dup});

  ASSERT_OK_AND_ASSIGN(DesiredPool pool,
                       BuildPool(kBuilderDriver, kBuilderNode, inv, SliceBuildOptions{}));
  EXPECT_THAT(DeviceNames(pool.slices[0]), ElementsAre("gpu-0", "gpu-1"));
  std::map<std::string, std::string> reasons;
  for (const SkippedDevice& s : pool.skipped) reasons[s.device] = s.reason;
  EXPECT_THAT(reasons["GPU_7"], HasSubstr("device.name: Invalid value"));
  EXPECT_THAT(reasons["gpu-8"], HasSubstr("attributes and capacities must not exceed 32"));
  EXPECT_THAT(reasons["gpu-9"], HasSubstr("attributes[model].string: Too long"));
  EXPECT_THAT(reasons["gpu-10"], HasSubstr("given twice"));
  EXPECT_THAT(reasons["gpu-1"], HasSubstr("duplicate device name"));
  ExpectValid(pool);
}

TEST(SliceBuilderTest, DanglingCounterReferenceSkipsTheDevice) {
  drivers::Inventory inv = testing::PartitionedGpuNode(1, 2);
  inv.devices[1].consumes_counters[0].counter_set = "gpu-9-counters";
  inv.devices[0].consumes_counters[0].counters["engines"] = testing::Units(1);
  ASSERT_OK_AND_ASSIGN(DesiredPool pool,
                       BuildPool(kBuilderDriver, kBuilderNode, inv,
                                 SliceBuildOptions{.partitionable_devices = true}));
  EXPECT_EQ(pool.skipped.size(), 2u);
  EXPECT_THAT(pool.skipped[0].reason, HasSubstr("unknown counter \"engines\""));
  EXPECT_THAT(pool.skipped[1].reason, HasSubstr("unknown counter set \"gpu-9-counters\""));
  ExpectValid(pool);
}

TEST(SliceBuilderTest, EmptyInventoryStillPublishesOneSlice) {
  ASSERT_OK_AND_ASSIGN(DesiredPool pool,
                       BuildPool(kBuilderDriver, kBuilderNode, {}, SliceBuildOptions{}));
  ASSERT_EQ(pool.slices.size(), 1u);
  EXPECT_EQ(pool.slices[0], Json::object());
  ExpectValid(pool);
}

TEST(SliceBuilderTest, OutputIsDeterministicAndOrderIndependent) {
  drivers::Inventory inv = testing::PartitionedGpuNode(4, 8);
  SliceBuildOptions options{.partitionable_devices = true};
  ASSERT_OK_AND_ASSIGN(std::vector<Json> a,
                       BuildSlices(kBuilderDriver, kBuilderNode, inv, options));
  std::reverse(inv.devices.begin(), inv.devices.end());
  ASSERT_OK_AND_ASSIGN(std::vector<Json> b,
                       BuildSlices(kBuilderDriver, kBuilderNode, inv, options));
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].dump(), b[i].dump());
}

TEST(SliceBuilderTest, RejectsBadDriverOrNodeName) {
  EXPECT_THAT(BuildPool("gpu_driver", kBuilderNode, {}, {}),
              testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("driver name")));
  EXPECT_THAT(BuildPool(kBuilderDriver, "Node A", {}, {}),
              testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("node name")));
}

TEST(SliceBuilderTest, GenerateNameIsCutToWhatTheServerKeeps) {
  EXPECT_EQ(SliceGenerateName("node-a", kBuilderDriver), "node-a-gpu.tessera.dev-");
  std::string long_node(80, 'n');
  std::string prefix = SliceGenerateName(long_node, kBuilderDriver);
  EXPECT_EQ(prefix.size(), 58u);
  EXPECT_EQ(prefix.back(), '-');
  EXPECT_EQ(SliceGenerateName(std::string(56, 'n') + ".x", kBuilderDriver),
            std::string(56, 'n') + "-");
  EXPECT_EQ(DriverName("rdma", "tessera.dev"), "rdma.tessera.dev");
}

}  // namespace
}  // namespace tessera::agent::kube
