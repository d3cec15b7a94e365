// The GPU driver's inventory through the API side's slice builder and the
// validator the fake API server uses (agent/kube): every slice of the bundled
// node, the JURECA A100 node and the Corona MI50 node must pass the
// resource.k8s.io/v1 checks (Kubernetes 1.35 rules) and the pool checks, with
// nothing skipped, in each publishing mode.
#include <filesystem>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "agent/kube/slice_builder.h"
#include "agent/kube/slice_validation.h"
#include "base/strings.h"
#include "drivers/gpu/gpu_driver.h"
#include "drivers/gpu/testing/sim_node.h"
#include "test/matchers/status_matchers.h"

namespace tessera {
namespace {

using agent::kube::BuildPool;
using agent::kube::DesiredPool;
using agent::kube::SliceBuildOptions;
using drivers::gpu::GpuDriverOptions;
using Json = nlohmann::json;
using ::testing::IsEmpty;

constexpr char kDriver[] = "gpu.tessera.dev";

struct Checked {
  DesiredPool pool;
  std::set<std::string> devices;
  std::map<std::string, Json> by_name;
  int counter_sets = 0;
};

Checked BuildAndValidate(const drivers::Inventory& inv, const std::string& node,
                         const SliceBuildOptions& options) {
  Checked out;
  absl::StatusOr<DesiredPool> pool = BuildPool(kDriver, node, inv, options);
  EXPECT_OK(pool);
  if (!pool.ok()) return out;
  out.pool = *pool;
  EXPECT_THAT(pool->skipped, IsEmpty())
      << (pool->skipped.empty() ? "" : pool->skipped[0].device + ": " + pool->skipped[0].reason);
  std::vector<Json> rendered;
  for (size_t i = 0; i < pool->slices.size(); ++i) {
    Json slice = agent::kube::RenderSlice(
        *pool, i, 1, agent::kube::NodeOwner{node, "5b0c1f3e-1111-4a44-9a5d-000000000001"});
    slice["metadata"]["name"] = base::StrCat(node, "-gpu-", i);
    agent::kube::FieldErrors decode = agent::kube::DecodeCheckResourceSlice(slice);
    EXPECT_THAT(decode, IsEmpty()) << (decode.empty() ? "" : decode[0].ToString());
    agent::kube::FieldErrors errors = agent::kube::ValidateResourceSlice(slice);
    EXPECT_THAT(errors, IsEmpty()) << (errors.empty() ? "" : errors[0].ToString());
    for (const Json& d : slice["spec"].value("devices", Json::array())) {
      out.devices.insert(d["name"].get<std::string>());
      out.by_name[d["name"].get<std::string>()] = d;
    }
    out.counter_sets +=
        static_cast<int>(slice["spec"].value("sharedCounters", Json::array()).size());
    rendered.push_back(slice);
  }
  agent::kube::FieldErrors pool_errors = agent::kube::ValidatePool(rendered);
  EXPECT_THAT(pool_errors, IsEmpty()) << (pool_errors.empty() ? "" : pool_errors[0].ToString());
  return out;
}

class BundledNodeSlicesTest : public ::testing::Test {
 protected:
  drivers::Inventory Enumerate(std::function<void(GpuDriverOptions&)> edit) {
    node_ = std::make_unique<drivers::gpu::testing::SimNode>();
    EXPECT_EQ(node_->error(), "");
    GpuDriverOptions o = node_->DriverOptions();
    edit(o);
    absl::StatusOr<std::unique_ptr<drivers::gpu::GpuDriver>> d = node_->MakeDriver(o);
    EXPECT_OK(d);
    absl::StatusOr<drivers::Inventory> inv = (*d)->Enumerate();
    EXPECT_OK(inv);
    return *inv;
  }
  std::unique_ptr<drivers::gpu::testing::SimNode> node_;
};

TEST_F(BundledNodeSlicesTest, DefaultModeIsOneValidSliceOfWholeGpusAndExistingMig) {
  Checked c = BuildAndValidate(Enumerate([](GpuDriverOptions&) {}), "sim-hgx-01", {});
  EXPECT_EQ(c.pool.slices.size(), 1u);
  EXPECT_EQ(c.devices.size(), 8u);
  const Json& g0 = c.by_name.at("gpu-0000-1a-00-0");
  // Own-domain names are unqualified; standard and alignment ones qualified.
  EXPECT_EQ(g0["attributes"]["uuid"]["string"], "GPU-5e1b0000-7c3a-4f1e-9d2b-0000001000a0");
  EXPECT_EQ(g0["attributes"]["resource.kubernetes.io/pcieRoot"]["string"], "pci0000:15");
  EXPECT_EQ(g0["attributes"]["resource.kubernetes.io/numaNode"]["int"], 0);
  EXPECT_EQ(g0["attributes"]["tessera.dev/pcieSwitch"]["string"], "0000:18:00.0");
  EXPECT_EQ(g0["attributes"]["computeCapability"]["version"], "9.0.0");
  EXPECT_EQ(g0["capacity"]["memory"]["value"], "81559Mi");  // 85520809984 bytes
  EXPECT_FALSE(g0.contains("allowMultipleAllocations"));
}

TEST_F(BundledNodeSlicesTest, AllFeaturesOnAreValidWithCountersAndShares) {
  drivers::Inventory inv = Enumerate([](GpuDriverOptions& o) {
    o.publish_partitionable = true;
    o.publish_consumable_capacity = true;
  });
  Checked c = BuildAndValidate(inv, "sim-hgx-01",
                               {.partitionable_devices = true, .consumable_capacity = true});
  EXPECT_EQ(c.counter_sets, 1);
  // 6 whole GPUs + 25 placements of GPU 6 + GPU 7's 2 existing instances.
  EXPECT_EQ(c.devices.size(), 33u);
  const Json& g0 = c.by_name.at("gpu-0000-1a-00-0");
  EXPECT_EQ(g0["allowMultipleAllocations"], true);
  EXPECT_EQ(g0["capacity"]["compute"]["requestPolicy"]["validRange"]["max"], "100");
  const Json& part = c.by_name.at("gpu-0000-be-00-0-mig-3g40gb-4");
  EXPECT_EQ(part["consumesCounters"][0]["counterSet"], "gpu-0000-be-00-0-mig");
}

TEST_F(BundledNodeSlicesTest, PartitionsAreHeldBackWhenTheClusterLacksTheGate) {
  drivers::Inventory inv = Enumerate([](GpuDriverOptions& o) { o.publish_partitionable = true; });
  absl::StatusOr<DesiredPool> pool = BuildPool(kDriver, "sim-hgx-01", inv, {});
  ASSERT_OK(pool);
  // Only the whole-GPU placement (7g.80gb consumes every counter) survives.
  std::set<std::string> published;
  for (const Json& s : pool->slices) {
    for (const Json& d : s.value("devices", Json::array())) published.insert(d["name"]);
  }
  EXPECT_TRUE(published.count("gpu-0000-be-00-0-mig-7g80gb-0"));
  EXPECT_FALSE(published.count("gpu-0000-be-00-0-mig-1g10gb-0"));
}

std::string SharedCapture(const std::string& rel) {
  return std::string(TESSERA_SOURCE_DIR) + "/../shared/topologies/" + rel;
}

drivers::Inventory EnumerateCapture(const std::string& xml, const std::string& nvml_fixture,
                                    std::function<void(GpuDriverOptions&)> edit) {
  absl::StatusOr<topology::NodeTopology> topo =
      topology::LoadTopology(topology::TopologySource::HwlocXml(xml));
  EXPECT_OK(topo);
  std::unique_ptr<drivers::nvidia::testing::ScopedFakeNvmlEnv> env;
  std::unique_ptr<drivers::nvidia::DlopenNvml> nvml;
  if (!nvml_fixture.empty()) {
    env = std::make_unique<drivers::nvidia::testing::ScopedFakeNvmlEnv>(nvml_fixture);
    absl::StatusOr<std::unique_ptr<drivers::nvidia::DlopenNvml>> loaded =
        drivers::nvidia::DlopenNvml::Load(drivers::nvidia::testing::FakeNvmlLibrary());
    EXPECT_OK(loaded);
    nvml = std::move(*loaded);
  }
  base::DirSysfs sysfs("/nonexistent-sysfs");
  base::ProcessCommandRunner runner;
  base::RealFilesystem fs;
  testing::FakeClock clock;
  GpuDriverOptions o;
  o.simulated = true;
  edit(o);
  absl::StatusOr<std::unique_ptr<drivers::gpu::GpuDriver>> d = drivers::gpu::GpuDriver::Create(
      o, {.topology = std::make_shared<const topology::NodeTopology>(std::move(*topo)),
          .sysfs = sysfs,
          .nvml = nvml.get(),
          .commands = runner,
          .fs = fs,
          .clock = clock});
  EXPECT_OK(d);
  absl::StatusOr<drivers::Inventory> inv = (*d)->Enumerate();
  EXPECT_OK(inv);
  return *inv;
}

TEST(CaptureSlicesTest, JurecaA100NodeWithoutNvml) {
  const std::string xml = SharedCapture("xml-psmgmt-jurecadc-4xa100-4xhdr/topo.jrc0323.xml");
  if (!std::filesystem::exists(xml)) GTEST_SKIP() << "shared/topologies JURECA capture absent";
  Checked c = BuildAndValidate(EnumerateCapture(xml, "", [](GpuDriverOptions&) {}), "jrc0323", {});
  EXPECT_EQ(c.devices, (std::set<std::string>{"gpu-0000-03-00-0", "gpu-0000-44-00-0",
                                              "gpu-0000-84-00-0", "gpu-0000-c4-00-0"}));
  const Json& g = c.by_name.at("gpu-0000-44-00-0");
  EXPECT_EQ(g["attributes"]["productName"]["string"], "NVIDIA A100-SXM4-40GB");
  EXPECT_EQ(g["attributes"]["nearestRdmaDevice"]["string"], "rdma-0000-43-00-0");
  EXPECT_EQ(g["attributes"]["nearestRdmaLink"]["string"], "PIX");
  EXPECT_EQ(g["capacity"]["memory"]["value"], "40Gi");
}

TEST(CaptureSlicesTest, JurecaA100NodeWithMigPartitionsAndShares) {
  const std::string xml = SharedCapture("xml-psmgmt-jurecadc-4xa100-4xhdr/topo.jrc0323.xml");
  if (!std::filesystem::exists(xml)) GTEST_SKIP() << "shared/topologies JURECA capture absent";
  drivers::Inventory inv = EnumerateCapture(
      xml, drivers::gpu::testing::SourcePath("test/testdata/gpu/nvml-jureca-4xa100.json"),
      [](GpuDriverOptions& o) {
        o.publish_partitionable = true;
        o.publish_consumable_capacity = true;
      });
  Checked c = BuildAndValidate(inv, "jrc0323",
                               {.partitionable_devices = true, .consumable_capacity = true});
  EXPECT_EQ(c.counter_sets, 2);
  // 2 shareable whole GPUs + 2 x 25 A100 placements.
  EXPECT_EQ(c.devices.size(), 52u);
  EXPECT_EQ(c.by_name.at("gpu-0000-03-00-0")["allowMultipleAllocations"], true);
  EXPECT_EQ(c.by_name.at("gpu-0000-84-00-0-mig-7g40gb-0")["attributes"]["migProfile"]["string"],
            "7g.40gb");
}

TEST(CaptureSlicesTest, CoronaMi50Node) {
  const std::string xml = SharedCapture("xml-mpibind-corona-8xmi50/epyc-corona-p2.xml");
  if (!std::filesystem::exists(xml)) GTEST_SKIP() << "shared/topologies Corona capture absent";
  drivers::Inventory inv = EnumerateCapture(xml, "", [](GpuDriverOptions& o) {
    o.publish_consumable_capacity = true;  // no effect: no MPS on AMD
  });
  Checked c = BuildAndValidate(inv, "corona282", {.consumable_capacity = true});
  EXPECT_EQ(c.devices.size(), 8u);
  const Json& g = c.by_name.at("gpu-0000-03-00-0");
  EXPECT_EQ(g["attributes"]["vendor"]["string"], "amd");
  EXPECT_EQ(g["attributes"]["productName"]["string"], "Radeon Instinct MI50 32GB");
  EXPECT_EQ(g["attributes"]["architecture"]["string"], "gfx906");
  EXPECT_EQ(g["attributes"]["uuid"]["string"], "4c04714172e6268f");
  EXPECT_FALSE(g.contains("allowMultipleAllocations"));
}

}  // namespace
}  // namespace tessera
