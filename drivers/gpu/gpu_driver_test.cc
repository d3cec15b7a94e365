// GpuDriver on the bundled simulated node (8x H100 + 8x ConnectX-7) with the
// real DlopenNvml on the fake libnvidia-ml.so.1 and the real
// ProcessCommandRunner on recording stand-ins of nvidia-smi and
// nvidia-cuda-mps-control.
#include "drivers/gpu/gpu_driver.h"

#include <algorithm>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "drivers/attributes.h"
#include "drivers/gpu/mig.h"
#include "drivers/gpu/testing/sim_node.h"
#include "drivers/nvidia/mig_minors.h"
#include "test/matchers/status_matchers.h"

namespace tessera::drivers::gpu {
namespace {

using ::tessera::testing::IsOk;
using ::tessera::testing::StatusIs;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;
using Json = nlohmann::json;
using testing::SimNode;
using testing::SimNodeOptions;

// Identities of the bundled node, as its proc/driver/nvidia/gpus files say.
constexpr std::string_view kGpu0 = "gpu-0000-1a-00-0";
constexpr std::string_view kGpu0Uuid = "GPU-5e1b0000-7c3a-4f1e-9d2b-0000001000a0";
constexpr std::string_view kGpu1 = "gpu-0000-1e-00-0";
constexpr std::string_view kGpu4 = "gpu-0000-9c-00-0";
constexpr std::string_view kGpu6 = "gpu-0000-be-00-0";  // MIG on, no instances
constexpr std::string_view kGpu7 = "gpu-0000-c2-00-0";  // MIG on, an admin's instances
constexpr std::string_view kGpu6Uuid = "GPU-5e1b0006-7c3a-4f1e-9d2b-0000001000a6";

Json GpuConfigJson(Json sharing) {
  Json j = {{"apiVersion", "gpu.tessera.dev/v1alpha1"}, {"kind", "GpuConfig"}};
  if (!sharing.is_null()) j["sharing"] = std::move(sharing);
  return j;
}
Json TimeSlicing(std::string interval) {
  return GpuConfigJson({{"strategy", "TimeSlicing"}, {"timeSlicing", {{"interval", interval}}}});
}
Json Mps(int pct, std::string memory) {
  return GpuConfigJson(
      {{"strategy", "MPS"},
       {"mps", {{"activeThreadPercentage", pct}, {"pinnedDeviceMemoryLimit", memory}}}});
}

DeviceAllocation Alloc(std::string_view device, std::vector<Json> configs = {},
                       std::string request = "gpu") {
  DeviceAllocation a{.request = std::move(request), .device = std::string(device)};
  for (Json& c : configs) a.configs.push_back({.source = "FromClaim", .parameters = std::move(c)});
  return a;
}
DeviceAllocation Share(std::string_view device, std::string share_id, std::string memory,
                       int compute) {
  DeviceAllocation a = Alloc(device);
  a.share_id = std::move(share_id);
  a.consumed_capacity["memory"] = *base::Quantity::Parse(memory);
  a.consumed_capacity["compute"] = base::Quantity::FromInt(compute);
  return a;
}
ClaimPrepareRequest Claim(std::string uid, std::vector<DeviceAllocation> devices,
                          std::vector<PeerDevice> peers = {}) {
  return {.claim_uid = std::move(uid),
          .claim_namespace = "default",
          .claim_name = "c",
          .devices = std::move(devices),
          .peers = std::move(peers)};
}

const Device* FindDevice(const Inventory& inv, std::string_view name) {
  for (const Device& d : inv.devices) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

template <typename T>
T Attr(const Device& d, std::string_view name) {
  auto it = d.attributes.find(std::string(name));
  if (it == d.attributes.end() || !std::holds_alternative<T>(it->second)) {
    ADD_FAILURE() << d.name << ": no attribute " << name << " of the wanted type";
    return T{};
  }
  return std::get<T>(it->second);
}

bool HasEnv(const base::ContainerEdits& e, std::string_view kv) {
  return std::find(e.env.begin(), e.env.end(), kv) != e.env.end();
}
std::vector<std::string> NodePaths(const base::ContainerEdits& e) {
  std::vector<std::string> out;
  for (const base::DeviceNode& n : e.device_nodes) out.push_back(n.path);
  return out;
}

class GpuDriverTest : public ::testing::Test {
 protected:
  void Start(SimNodeOptions node_options = {},
             std::function<void(GpuDriverOptions&)> edit = nullptr) {
    node_ = std::make_unique<SimNode>(std::move(node_options));
    ASSERT_EQ(node_->error(), "");
    RestartDriver(std::move(edit));
    node_->CreateDevicePlaceholders(*driver_);
  }
  // A new driver on the same node: an agent restart.
  void RestartDriver(std::function<void(GpuDriverOptions&)> edit = nullptr) {
    if (edit) edit_ = std::move(edit);
    GpuDriverOptions o = node_->DriverOptions();
    if (edit_) edit_(o);
    driver_.reset();
    absl::StatusOr<std::unique_ptr<GpuDriver>> d = node_->MakeDriver(o);
    ASSERT_OK(d);
    driver_ = std::move(*d);
  }
  std::vector<nvidia::GpuInstance> Instances(uint32_t nvml_index) {
    absl::StatusOr<std::vector<nvidia::GpuInstance>> gis =
        node_->nvml()->ListGpuInstances(nvml_index);
    EXPECT_OK(gis);
    return gis.ok() ? *gis : std::vector<nvidia::GpuInstance>{};
  }
  std::vector<std::string> Commands() const { return node_->tools().Commands(); }
  std::string Pipe(std::string_view uuid) const {
    return node_->state_dir() + "/mps/" + std::string(uuid) + "/pipe";
  }

  std::unique_ptr<SimNode> node_;
  std::unique_ptr<GpuDriver> driver_;
  std::function<void(GpuDriverOptions&)> edit_;
};

// --- Enumerate ---------------------------------------------------------------

TEST_F(GpuDriverTest, EnumeratesTheBundledNodesGpusWithIdentityAndPlacement) {
  Start();
  absl::StatusOr<Inventory> inv = driver_->Enumerate();
  ASSERT_OK(inv);
  // GPUs 0-5 whole; GPU 6 (MIG on, empty) nothing without the partitionable
  // flag; GPU 7 its two existing instances.
  std::vector<std::string> names;
  for (const Device& d : inv->devices) names.push_back(d.name);
  EXPECT_THAT(names, ElementsAre("gpu-0000-1a-00-0", "gpu-0000-1e-00-0", "gpu-0000-3c-00-0",
                                 "gpu-0000-40-00-0", "gpu-0000-9c-00-0", "gpu-0000-a0-00-0",
                                 "gpu-0000-c2-00-0-mig-1g10gb-0", "gpu-0000-c2-00-0-mig-3g40gb-4"));
  EXPECT_THAT(inv->counter_sets, IsEmpty());

  const Device& g0 = *FindDevice(*inv, kGpu0);
  EXPECT_EQ(Attr<std::string>(g0, kAttrType), "gpu");
  EXPECT_EQ(Attr<std::string>(g0, kAttrVendor), "nvidia");
  EXPECT_EQ(Attr<std::string>(g0, kAttrUuid), kGpu0Uuid);
  EXPECT_EQ(Attr<std::string>(g0, kAttrProductName), "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(Attr<std::string>(g0, kAttrModel), "H100-SXM5-80GB");
  EXPECT_EQ(Attr<std::string>(g0, kAttrArchitecture), "Hopper");
  EXPECT_EQ(Attr<Version>(g0, kAttrComputeCapability), Version{"9.0.0"});
  EXPECT_EQ(Attr<Version>(g0, kAttrDriverVersion), Version{"550.54.15"});
  EXPECT_EQ(Attr<Version>(g0, kAttrCudaDriverVersion), Version{"12.4.0"});
  EXPECT_EQ(Attr<int64_t>(g0, kAttrIndex), 0);
  EXPECT_EQ(Attr<std::string>(g0, kAttrPciBusId), "0000:1a:00.0");
  // The node's layout (generate_sim_8gpu.py): root complex pci0000:15 on
  // socket 0, GPU and its NIC under one level-2 switch (upstream 0000:18:00.0).
  EXPECT_EQ(Attr<std::string>(g0, kAttrPcieRoot), "pci0000:15");
  EXPECT_EQ(Attr<int64_t>(g0, kAttrNumaNode), 0);
  EXPECT_EQ(Attr<std::string>(g0, "tessera.dev/pcieSwitch"), "0000:18:00.0");
  EXPECT_EQ(Attr<std::string>(g0, kAttrNearestRdma), "rdma-0000-1b-00-0");
  EXPECT_EQ(Attr<std::string>(g0, kAttrNearestRdmaLink), "PIX");
  EXPECT_EQ(g0.capacity.at("memory").value.Value(), 85520809984);
  EXPECT_FALSE(g0.capacity.at("memory").request_policy.has_value());
  EXPECT_FALSE(g0.allow_multiple_allocations);
  EXPECT_EQ(g0.health, Health::kHealthy);
  EXPECT_LE(g0.attributes.size() + g0.capacity.size(), 32u);

  const Device& g4 = *FindDevice(*inv, kGpu4);
  EXPECT_EQ(Attr<std::string>(g4, kAttrPcieRoot), "pci0000:97");
  EXPECT_EQ(Attr<int64_t>(g4, kAttrNumaNode), 1);
  EXPECT_EQ(Attr<std::string>(g4, kAttrNearestRdma), "rdma-0000-9d-00-0");
}

TEST_F(GpuDriverTest, ExistingMigInstancesArePublishedAsOrdinaryDevices) {
  Start();
  absl::StatusOr<Inventory> inv = driver_->Enumerate();
  ASSERT_OK(inv);
  const Device* mig = FindDevice(*inv, "gpu-0000-c2-00-0-mig-3g40gb-4");
  ASSERT_NE(mig, nullptr);
  EXPECT_EQ(Attr<std::string>(*mig, kAttrType), "mig");
  EXPECT_EQ(Attr<std::string>(*mig, kAttrMigProfile), "3g.40gb");
  EXPECT_EQ(Attr<std::string>(*mig, kAttrUuid), "MIG-5b1e7f3a-9c2d-5e8f-a014-7b3c9d2e1f40");
  EXPECT_EQ(Attr<std::string>(*mig, kAttrParentUuid), "GPU-5e1b0007-7c3a-4f1e-9d2b-0000001000a7");
  EXPECT_EQ(Attr<std::string>(*mig, kAttrPciBusId), "0000:c2:00.0");
  EXPECT_EQ(mig->capacity.at("memory").value.ToString(), "40448Mi");
  EXPECT_EQ(mig->capacity.at("multiprocessors").value, base::Quantity::FromInt(60));
  EXPECT_THAT(mig->consumes_counters, IsEmpty());
  EXPECT_LE(mig->attributes.size() + mig->capacity.size(), 32u);
}

TEST_F(GpuDriverTest, PartitionableFlagPublishesEveryPlacementOfAnEmptyMigGpu) {
  Start({}, [](GpuDriverOptions& o) { o.publish_partitionable = true; });
  absl::StatusOr<Inventory> inv = driver_->Enumerate();
  ASSERT_OK(inv);
  int placements = 0;
  for (const Device& d : inv->devices) {
    if (d.name.starts_with(std::string(kGpu6) + "-mig-")) {
      ++placements;
      ASSERT_EQ(d.consumes_counters.size(), 1u) << d.name;
      EXPECT_EQ(d.consumes_counters[0].counter_set, "gpu-0000-be-00-0-mig");
    }
  }
  // H100 placements: 7 x 1g.10gb, 7 x 1g.10gb+me, 4 x 1g.20gb, 3 x 2g.20gb,
  // 2 x 3g.40gb, 1 x 4g.40gb, 1 x 7g.80gb (nvidia-smi mig -lgipp).
  EXPECT_EQ(placements, 25);
  ASSERT_EQ(inv->counter_sets.size(), 1u);
  EXPECT_EQ(inv->counter_sets[0].name, "gpu-0000-be-00-0-mig");
  const Device* full = FindDevice(*inv, "gpu-0000-be-00-0-mig-7g80gb-0");
  ASSERT_NE(full, nullptr);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(full->consumes_counters[0].counters.count("memory-slice-" + std::to_string(i)), 1u);
  }
  // GPU 7 has instances nobody gave us: it stays as the administrator made it.
  EXPECT_NE(FindDevice(*inv, "gpu-0000-c2-00-0-mig-3g40gb-4"), nullptr);
  EXPECT_EQ(FindDevice(*inv, "gpu-0000-c2-00-0-mig-1g10gb-1"), nullptr);
  EXPECT_EQ(FindDevice(*inv, kGpu6), nullptr);
}

TEST_F(GpuDriverTest, ConsumableCapacityFlagPublishesSharesWithRequestPolicies) {
  Start({}, [](GpuDriverOptions& o) { o.publish_consumable_capacity = true; });
  absl::StatusOr<Inventory> inv = driver_->Enumerate();
  ASSERT_OK(inv);
  const Device& g0 = *FindDevice(*inv, kGpu0);
  EXPECT_TRUE(g0.allow_multiple_allocations);
  const Capacity& mem = g0.capacity.at("memory");
  ASSERT_TRUE(mem.request_policy.has_value());
  ASSERT_TRUE(mem.request_policy->valid_range.has_value());
  EXPECT_EQ(mem.request_policy->valid_range->min.ToString(), "1Mi");
  EXPECT_EQ(mem.request_policy->valid_range->step->ToString(), "1Mi");
  EXPECT_EQ(mem.request_policy->valid_range->max->Value(), 85520809984);
  EXPECT_EQ(mem.request_policy->default_value->Value(), 85520809984);
  const Capacity& compute = g0.capacity.at("compute");
  EXPECT_EQ(compute.value, base::Quantity::FromInt(100));
  EXPECT_EQ(compute.request_policy->valid_range->min, base::Quantity::FromInt(1));
  EXPECT_EQ(compute.request_policy->valid_range->max, base::Quantity::FromInt(100));
  // MIG devices are partitions, not shares.
  EXPECT_FALSE(FindDevice(*inv, "gpu-0000-c2-00-0-mig-3g40gb-4")->allow_multiple_allocations);
}

// --- Exclusive -----------------------------------------------------------------

TEST_F(GpuDriverTest, ExclusivePrepareInjectsTheGpusNodesUnderTheDevRoot) {
  Start();
  ClaimPrepareRequest req = Claim("uid-1", {Alloc(kGpu1)});
  EXPECT_FALSE(driver_->HasSideEffects(req));
  absl::StatusOr<PreparedClaim> p = driver_->PrepareClaim(req);
  ASSERT_OK(p);
  ASSERT_EQ(p->devices.size(), 1u);
  const PreparedDevice& d = p->devices[0];
  EXPECT_EQ(d.device, kGpu1);
  ASSERT_EQ(d.edits.device_nodes.size(), 1u);
  EXPECT_EQ(d.edits.device_nodes[0].path, "/dev/nvidia1");
  EXPECT_EQ(d.edits.device_nodes[0].host_path, node_->dev_root() + "/nvidia1");
  EXPECT_THAT(NodePaths(p->claim_edits),
              ElementsAre("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"));
  EXPECT_TRUE(
      HasEnv(p->claim_edits, "NVIDIA_VISIBLE_DEVICES=GPU-5e1b0001-7c3a-4f1e-9d2b-0000001000a1"));
  EXPECT_TRUE(HasEnv(p->claim_edits, "TESSERA_GPU_DEVICES=gpu-0000-1e-00-0"));
  EXPECT_TRUE(HasEnv(p->claim_edits, "TESSERA_GPU_SHARING=Exclusive"));
  EXPECT_TRUE(HasEnv(p->claim_edits, "TESSERA_CLAIM_UID=uid-1"));
  // A simulated node gets no host driver libraries.
  EXPECT_THAT(p->claim_edits.mounts, IsEmpty());
  EXPECT_THAT(Commands(), IsEmpty());
  EXPECT_EQ(d.state["sharing"], "Exclusive");
  ASSERT_OK(driver_->UnprepareClaim("uid-1", *p));
  EXPECT_THAT(Commands(), IsEmpty());
}

TEST_F(GpuDriverTest, MissingDeviceNodeIsAClearErrorBeforeAnythingChanges) {
  Start();
  std::filesystem::remove(node_->dev_root() + "/nvidia1");
  EXPECT_THAT(driver_->PrepareClaim(Claim("uid-1", {Alloc(kGpu1, {TimeSlicing("Short")})})),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(node_->dev_root() + "/nvidia1 does not exist"),
                             HasSubstr("materialize"))));
  EXPECT_THAT(Commands(), IsEmpty());
}

// --- Time slicing and MPS ------------------------------------------------------

TEST_F(GpuDriverTest, TimeSlicingIsSetOnPrepareAndResetOnUnprepare) {
  Start();
  ClaimPrepareRequest req = Claim("uid-ts", {Alloc(kGpu0, {TimeSlicing("Long")})});
  EXPECT_TRUE(driver_->HasSideEffects(req));
  absl::StatusOr<PreparedClaim> p = driver_->PrepareClaim(req);
  ASSERT_OK(p);
  EXPECT_THAT(Commands(),
              ElementsAre(std::string("nvidia-smi -i ") + std::string(kGpu0Uuid) + " -c DEFAULT",
                          std::string("nvidia-smi compute-policy -i ") + std::string(kGpu0Uuid) +
                              " --set-timeslice 3"));
  EXPECT_TRUE(HasEnv(p->claim_edits, "TESSERA_GPU_SHARING=TimeSlicing:Long"));
  EXPECT_EQ(p->devices[0].state["timeSliceInterval"], "Long");
  node_->tools().Clear();
  ASSERT_OK(driver_->UnprepareClaim("uid-ts", *p));
  EXPECT_THAT(Commands(), ElementsAre(std::string("nvidia-smi compute-policy -i ") +
                                      std::string(kGpu0Uuid) + " --set-timeslice 0"));
  node_->tools().Clear();
  ASSERT_OK(driver_->UnprepareClaim("uid-ts", *p));  // idempotent
  EXPECT_THAT(Commands(), IsEmpty());
}

TEST_F(GpuDriverTest, MpsClaimGetsItsDaemonItsLimitsAndThePipeMount) {
  Start();
  absl::StatusOr<PreparedClaim> p =
      driver_->PrepareClaim(Claim("uid-mps", {Alloc(kGpu0, {Mps(30, "20Gi")})}));
  ASSERT_OK(p);
  const std::string pipe = Pipe(kGpu0Uuid);
  EXPECT_THAT(
      Commands(),
      ElementsAre(std::string("nvidia-smi -i ") + std::string(kGpu0Uuid) + " -c EXCLUSIVE_PROCESS",
                  std::string("nvidia-cuda-mps-control -d | CUDA_VISIBLE_DEVICES=") +
                      std::string(kGpu0Uuid) + " CUDA_MPS_PIPE_DIRECTORY=" + pipe +
                      " CUDA_MPS_LOG_DIRECTORY=" + node_->state_dir() + "/mps/" +
                      std::string(kGpu0Uuid) + "/log"));
  const base::ContainerEdits& e = p->devices[0].edits;
  EXPECT_TRUE(HasEnv(e, "CUDA_MPS_PIPE_DIRECTORY=/tmp/nvidia-mps"));
  EXPECT_TRUE(HasEnv(e, "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=30"));
  EXPECT_TRUE(HasEnv(e, "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=20480M"));
  ASSERT_EQ(e.mounts.size(), 1u);
  EXPECT_EQ(e.mounts[0].host_path, pipe);
  EXPECT_EQ(e.mounts[0].container_path, "/tmp/nvidia-mps");
  EXPECT_EQ(p->devices[0].state["mps"]["pipeDir"], pipe);
}

TEST_F(GpuDriverTest, SharesAreEnforcedWithMpsLimitsEqualToWhatTheyConsumed) {
  Start({}, [](GpuDriverOptions& o) { o.publish_consumable_capacity = true; });
  ClaimPrepareRequest a =
      Claim("uid-a", {Share(kGpu0, "6a0e6c43-0000-4000-8000-00000000000a", "16Gi", 25)});
  ClaimPrepareRequest b =
      Claim("uid-b", {Share(kGpu0, "6a0e6c43-0000-4000-8000-00000000000b", "40Gi", 60)});
  EXPECT_TRUE(driver_->HasSideEffects(a));
  absl::StatusOr<PreparedClaim> pa = driver_->PrepareClaim(a);
  ASSERT_OK(pa);
  absl::StatusOr<PreparedClaim> pb = driver_->PrepareClaim(b);
  ASSERT_OK(pb);
  EXPECT_TRUE(HasEnv(pa->devices[0].edits, "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=25"));
  EXPECT_TRUE(HasEnv(pa->devices[0].edits, "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=16384M"));
  EXPECT_TRUE(HasEnv(pa->devices[0].edits, "TESSERA_GPU_MEMORY_LIMIT_BYTES=17179869184"));
  EXPECT_TRUE(HasEnv(pb->devices[0].edits, "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=60"));
  EXPECT_TRUE(HasEnv(pb->devices[0].edits, "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=40960M"));
  EXPECT_TRUE(
      HasEnv(pb->devices[0].edits, "TESSERA_GPU_SHARE_ID=6a0e6c43-0000-4000-8000-00000000000b"));
  EXPECT_EQ(pb->devices[0].share_id, "6a0e6c43-0000-4000-8000-00000000000b");
  // One daemon for both shares: started once, probed for the second.
  std::vector<std::string> cmds = Commands();
  EXPECT_EQ(std::count_if(cmds.begin(), cmds.end(),
                          [](const std::string& c) { return c.find(" -d ") != std::string::npos; }),
            1);
  node_->tools().Clear();
  ASSERT_OK(driver_->UnprepareClaim("uid-a", *pa));
  EXPECT_THAT(Commands(), IsEmpty());
  ASSERT_OK(driver_->UnprepareClaim("uid-b", *pb));
  EXPECT_THAT(Commands(), Contains(HasSubstr("<<quit")));
  EXPECT_THAT(Commands(),
              Contains(std::string("nvidia-smi -i ") + std::string(kGpu0Uuid) + " -c DEFAULT"));
}

TEST_F(GpuDriverTest, ARequestWithoutAmountsGetsTheWholeGpuAsItsShare) {
  Start({}, [](GpuDriverOptions& o) { o.publish_consumable_capacity = true; });
  DeviceAllocation a = Alloc(kGpu1);
  a.share_id = "6a0e6c43-0000-4000-8000-00000000000c";
  absl::StatusOr<PreparedClaim> p = driver_->PrepareClaim(Claim("uid-c", {a}));
  ASSERT_OK(p);
  EXPECT_TRUE(HasEnv(p->devices[0].edits, "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=100"));
  // 85520809984 bytes = 81559 MiB.
  EXPECT_TRUE(HasEnv(p->devices[0].edits, "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=81559M"));
}

// --- MIG ------------------------------------------------------------------------

TEST_F(GpuDriverTest, PartitionPrepareCreatesTheMigInstanceAndUnprepareDestroysIt) {
  Start({}, [](GpuDriverOptions& o) { o.publish_partitionable = true; });
  const std::string device = std::string(kGpu6) + "-mig-3g40gb-4";
  ClaimPrepareRequest req = Claim("uid-mig", {Alloc(device)});
  EXPECT_TRUE(driver_->HasSideEffects(req));
  absl::StatusOr<PreparedClaim> p = driver_->PrepareClaim(req);
  ASSERT_OK(p);
  std::vector<nvidia::GpuInstance> gis = Instances(6);
  ASSERT_EQ(gis.size(), 1u);
  EXPECT_EQ(gis[0].profile_id, 9u);  // 3g.40gb
  EXPECT_EQ(gis[0].placement, (nvidia::MigPlacement{4, 4}));
  ASSERT_EQ(gis[0].compute_instances.size(), 1u);
  const nvidia::ComputeInstance& ci = gis[0].compute_instances[0];

  // The capability nodes come from the driver's mig-minors file (GPU minor 6).
  absl::StatusOr<nvidia::MigMinors> minors =
      nvidia::ReadMigMinors(node_->fs(), testing::SimMigMinors());
  ASSERT_OK(minors);
  const uint32_t gi_cap = *minors->GpuInstance(6, gis[0].id);
  const uint32_t ci_cap = *minors->ComputeInstance(6, gis[0].id, ci.id);
  EXPECT_THAT(NodePaths(p->devices[0].edits),
              ElementsAre("/dev/nvidia6", "/dev/nvidia-caps/nvidia-cap" + std::to_string(gi_cap),
                          "/dev/nvidia-caps/nvidia-cap" + std::to_string(ci_cap)));
  EXPECT_TRUE(HasEnv(p->claim_edits, "NVIDIA_VISIBLE_DEVICES=" + ci.uuid));
  EXPECT_EQ(p->devices[0].state["mig"]["gpuInstanceId"], gis[0].id);
  EXPECT_EQ(p->devices[0].state["mig"]["created"], true);

  // Still partitionable: our own instance does not make the GPU foreign.
  absl::StatusOr<Inventory> inv = driver_->Enumerate();
  ASSERT_OK(inv);
  EXPECT_NE(FindDevice(*inv, std::string(kGpu6) + "-mig-1g10gb-0"), nullptr);

  ASSERT_OK(driver_->UnprepareClaim("uid-mig", *p));
  EXPECT_THAT(Instances(6), IsEmpty());
  ASSERT_OK(driver_->UnprepareClaim("uid-mig", *p));  // idempotent: already gone
}

TEST_F(GpuDriverTest, OverlappingPlacementIsRefusedAndLeavesTheGpuAsItWas) {
  Start({}, [](GpuDriverOptions& o) { o.publish_partitionable = true; });
  ASSERT_OK(driver_->PrepareClaim(Claim("uid-a", {Alloc(std::string(kGpu6) + "-mig-3g40gb-0")})));
  const std::vector<nvidia::GpuInstance> before = Instances(6);
  EXPECT_THAT(driver_->PrepareClaim(Claim("uid-b", {Alloc(std::string(kGpu6) + "-mig-1g10gb-2")})),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("placement 2+1 conflicts with GPU instance"),
                             HasSubstr("3g.40gb at 0+4"))));
  EXPECT_EQ(Instances(6), before);
  // A free placement on the same GPU is fine.
  EXPECT_OK(driver_->PrepareClaim(Claim("uid-c", {Alloc(std::string(kGpu6) + "-mig-1g10gb-4")})));
  EXPECT_EQ(Instances(6).size(), 2u);
}

TEST_F(GpuDriverTest, AnInstanceMadeByAnAdministratorTurnsTheGpuBackToStatic) {
  Start({}, [](GpuDriverOptions& o) { o.publish_partitionable = true; });
  ASSERT_OK(node_->nvml()->CreateGpuInstance(6, 19, {0, 1}).status());
  absl::StatusOr<Inventory> inv = driver_->Enumerate();
  ASSERT_OK(inv);
  EXPECT_EQ(FindDevice(*inv, std::string(kGpu6) + "-mig-3g40gb-4"), nullptr);
  EXPECT_THAT(inv->counter_sets, IsEmpty());
}

TEST_F(GpuDriverTest, ExistingInstancePrepareChangesNothing) {
  Start();
  const std::string device = std::string(kGpu7) + "-mig-1g10gb-0";
  const std::vector<nvidia::GpuInstance> before = Instances(7);
  absl::StatusOr<PreparedClaim> p = driver_->PrepareClaim(Claim("uid-s", {Alloc(device)}));
  ASSERT_OK(p);
  EXPECT_TRUE(
      HasEnv(p->claim_edits, "NVIDIA_VISIBLE_DEVICES=MIG-6c2f8a4b-0d3e-5f90-b125-8c4d0e3f2a51"));
  EXPECT_EQ(p->devices[0].state["mig"]["created"], false);
  ASSERT_OK(driver_->UnprepareClaim("uid-s", *p));
  EXPECT_EQ(Instances(7), before);
}

// --- All or nothing ---------------------------------------------------------------

TEST_F(GpuDriverTest, AFailureMidPrepareUndoesEverythingTheCallDid) {
  Start({}, [](GpuDriverOptions& o) { o.publish_partitionable = true; });
  node_->tools().FailOn("-d");  // the MPS daemon will not start
  ClaimPrepareRequest req = Claim(
      "uid-x", {Alloc(std::string(kGpu6) + "-mig-2g20gb-0", {}, "part"),
                Alloc(kGpu1, {TimeSlicing("Short")}, "ts"), Alloc(kGpu0, {Mps(50, "8Gi")}, "mps")});
  absl::StatusOr<PreparedClaim> p = driver_->PrepareClaim(req);
  EXPECT_THAT(p, StatusIs(absl::StatusCode::kInternal,
                          AllOf(HasSubstr("request \"mps\" device gpu-0000-1a-00-0"),
                                HasSubstr("start MPS control daemon"))));
  EXPECT_THAT(Instances(6), IsEmpty());
  const std::string uuid1 = "GPU-5e1b0001-7c3a-4f1e-9d2b-0000001000a1";
  EXPECT_THAT(
      Commands(),
      ElementsAre("nvidia-smi -i " + uuid1 + " -c DEFAULT",
                  "nvidia-smi compute-policy -i " + uuid1 + " --set-timeslice 1",
                  std::string("nvidia-smi -i ") + std::string(kGpu0Uuid) + " -c EXCLUSIVE_PROCESS",
                  HasSubstr("nvidia-cuda-mps-control -d"),
                  std::string("nvidia-smi -i ") + std::string(kGpu0Uuid) + " -c DEFAULT",
                  "nvidia-smi compute-policy -i " + uuid1 + " --set-timeslice 0"));
  EXPECT_THAT(driver_->sharing().TimeSliceUsers(uuid1), IsEmpty());
  // Once the tool works, the same claim prepares.
  node_->tools().ClearFailures();
  EXPECT_OK(driver_->PrepareClaim(req));
}

TEST_F(GpuDriverTest, AnNvmlErrorCreatingTheComputeInstanceDestroysTheGpuInstance) {
  Start({.edit_nvml =
             [](Json& j) {
               j["errors"] = {{{"function", "nvmlGpuInstanceCreateComputeInstance"},
                               {"return", "NVML_ERROR_INSUFFICIENT_RESOURCES"},
                               {"call", 1}}};
             }},
        [](GpuDriverOptions& o) { o.publish_partitionable = true; });
  EXPECT_THAT(driver_->PrepareClaim(Claim("uid-m", {Alloc(std::string(kGpu6) + "-mig-1g10gb-3")})),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("create compute instance")));
  EXPECT_THAT(Instances(6), IsEmpty());
  // The injected error was for the first call only.
  EXPECT_OK(driver_->PrepareClaim(Claim("uid-m", {Alloc(std::string(kGpu6) + "-mig-1g10gb-3")})));
}

// --- Validation -------------------------------------------------------------------

struct Refusal {
  const char* name;
  std::function<ClaimPrepareRequest()> request;
  absl::StatusCode code;
  const char* message;
};

class GpuDriverRefusalTest : public GpuDriverTest, public ::testing::WithParamInterface<Refusal> {};

TEST_P(GpuDriverRefusalTest, IsRefusedBeforeAnythingChanges) {
  Start({}, [](GpuDriverOptions& o) { o.publish_partitionable = true; });
  EXPECT_THAT(driver_->PrepareClaim(GetParam().request()),
              StatusIs(GetParam().code, HasSubstr(GetParam().message)));
  EXPECT_THAT(Commands(), IsEmpty());
  EXPECT_THAT(Instances(6), IsEmpty());
}

std::vector<Refusal> Refusals() {
  return {
      Refusal{"UnknownConfigField",
              [] {
                return Claim(
                    "u", {Alloc(kGpu0,
                                {GpuConfigJson({{"strategy", "MPS"}, {"mps", {{"limit", 1}}}})})});
              },
              absl::StatusCode::kInvalidArgument,
              "request \"gpu\" device gpu-0000-1a-00-0: config 1 (FromClaim): sharing.mps.limit"},
      Refusal{"WrongKind",
              [] {
                return Claim("u", {Alloc(kGpu0, {Json{{"apiVersion", "gpu.tessera.dev/v1alpha1"},
                                                      {"kind", "NicConfig"}}})});
              },
              absl::StatusCode::kInvalidArgument, "kind: \"NicConfig\" is not supported"},
      Refusal{"MigWithTimeSlicing",
              [] {
                return Claim("u",
                             {Alloc(std::string(kGpu6) + "-mig-1g10gb-0", {TimeSlicing("Short")})});
              },
              absl::StatusCode::kInvalidArgument, "TimeSlicing is not supported on a MIG device"},
      Refusal{"MigWithMps",
              [] {
                return Claim("u", {Alloc(std::string(kGpu6) + "-mig-1g10gb-0", {Mps(50, "1Gi")})});
              },
              absl::StatusCode::kInvalidArgument, "MPS is not supported on a MIG device"},
      Refusal{"ShareWithoutConsumableCapacity",
              [] {
                return Claim("u",
                             {Share(kGpu0, "6a0e6c43-0000-4000-8000-000000000001", "1Gi", 10)});
              },
              absl::StatusCode::kInvalidArgument, "is not shared by capacity"},
      Refusal{"MemoryLimitAboveTheGpu",
              [] { return Claim("u", {Alloc(kGpu0, {Mps(50, "100Gi")})}); },
              absl::StatusCode::kInvalidArgument,
              "sharing.mps.pinnedDeviceMemoryLimit: 100Gi exceeds the GPU's memory"},
      Refusal{"TwoMpsGpusInOneClaim",
              [] {
                return Claim("u", {Alloc(kGpu0, {Mps(50, "1Gi")}, "a"),
                                   Alloc(kGpu1, {Mps(50, "1Gi")}, "b")});
              },
              absl::StatusCode::kInvalidArgument, "at most one MPS-shared GPU per claim"},
      Refusal{"UnknownDevice", [] { return Claim("u", {Alloc("gpu-0000-77-00-0")}); },
              absl::StatusCode::kNotFound, "no such GPU device on this node"},
      Refusal{"ValidDeviceThenBadOne",
              [] {
                return Claim("u", {Alloc(kGpu1, {TimeSlicing("Short")}, "first"),
                                   Alloc(std::string(kGpu6) + "-mig-3g40gb-0", {}, "second"),
                                   Alloc(kGpu0, {TimeSlicing("Sometimes")}, "third")});
              },
              absl::StatusCode::kInvalidArgument,
              "request \"third\" device gpu-0000-1a-00-0: config 1 (FromClaim): "
              "sharing.timeSlicing.interval"}};
}

INSTANTIATE_TEST_SUITE_P(Cases, GpuDriverRefusalTest, ::testing::ValuesIn(Refusals()),
                         [](const ::testing::TestParamInfo<Refusal>& p) {
                           return std::string(p.param.name);
                         });

TEST_F(GpuDriverTest, ShareLimitsOutOfRangeAreRefused) {
  Start({}, [](GpuDriverOptions& o) { o.publish_consumable_capacity = true; });
  EXPECT_THAT(driver_->PrepareClaim(
                  Claim("u", {Share(kGpu0, "6a0e6c43-0000-4000-8000-000000000001", "1Gi", 150)})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("consumedCapacity.compute: 150 is out of range 1..100")));
  DeviceAllocation ts = Share(kGpu0, "6a0e6c43-0000-4000-8000-000000000002", "1Gi", 10);
  ts.configs.push_back({.source = "FromClaim", .parameters = TimeSlicing("Short")});
  EXPECT_THAT(driver_->PrepareClaim(Claim("u", {ts})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("TimeSlicing is not allowed for a share")));
  EXPECT_THAT(Commands(), IsEmpty());
}

TEST_F(GpuDriverTest, AGpuInOneSharingModeRefusesTheOther) {
  Start();
  ASSERT_OK(driver_->PrepareClaim(Claim("uid-a", {Alloc(kGpu0, {TimeSlicing("Short")})})));
  node_->tools().Clear();
  EXPECT_THAT(
      driver_->PrepareClaim(Claim("uid-b", {Alloc(kGpu0, {Mps(10, "1Gi")})})),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is time-sliced for uid-a")));
  EXPECT_THAT(Commands(), IsEmpty());
}

// --- Idempotency, restart, reboot ------------------------------------------------

TEST_F(GpuDriverTest, PreparingTheSameClaimAgainReturnsTheSameResultWithoutNewWork) {
  Start({}, [](GpuDriverOptions& o) { o.publish_partitionable = true; });
  ClaimPrepareRequest req =
      Claim("uid-r", {Alloc(kGpu0, {Mps(40, "4Gi")}), Alloc(std::string(kGpu6) + "-mig-4g40gb-0")});
  absl::StatusOr<PreparedClaim> first = driver_->PrepareClaim(req);
  ASSERT_OK(first);
  const size_t commands = Commands().size();
  absl::StatusOr<PreparedClaim> again = driver_->PrepareClaim(req);
  ASSERT_OK(again);
  EXPECT_EQ(again->devices[0].edits, first->devices[0].edits);
  EXPECT_EQ(again->devices[1].edits, first->devices[1].edits);
  EXPECT_EQ(again->claim_edits, first->claim_edits);
  EXPECT_EQ(Commands().size(), commands);
  EXPECT_EQ(Instances(6).size(), 1u);
}

TEST_F(GpuDriverTest, AfterARestartTheLastUnprepareStillStopsTheDaemon) {
  Start({}, [](GpuDriverOptions& o) {
    o.publish_consumable_capacity = true;
    o.publish_partitionable = true;
  });
  absl::StatusOr<PreparedClaim> a = driver_->PrepareClaim(
      Claim("uid-a", {Share(kGpu0, "6a0e6c43-0000-4000-8000-00000000000a", "8Gi", 20),
                      Alloc(std::string(kGpu6) + "-mig-3g40gb-0")}));
  ASSERT_OK(a);
  absl::StatusOr<PreparedClaim> b = driver_->PrepareClaim(
      Claim("uid-b", {Share(kGpu0, "6a0e6c43-0000-4000-8000-00000000000b", "8Gi", 20)}));
  ASSERT_OK(b);

  RestartDriver();
  ASSERT_OK(driver_->RestoreState({{"uid-a", *a}, {"uid-b", *b}}));
  // The instance we made is still ours: GPU 6 stays partitionable.
  absl::StatusOr<Inventory> inv = driver_->Enumerate();
  ASSERT_OK(inv);
  EXPECT_NE(FindDevice(*inv, std::string(kGpu6) + "-mig-1g10gb-5"), nullptr);
  node_->tools().Clear();
  ASSERT_OK(driver_->UnprepareClaim("uid-a", *a));
  EXPECT_THAT(Commands(), Not(Contains(HasSubstr("<<quit"))));
  EXPECT_THAT(Instances(6), IsEmpty());
  ASSERT_OK(driver_->UnprepareClaim("uid-b", *b));
  EXPECT_THAT(Commands(), Contains(HasSubstr("<<quit")));
}

TEST_F(GpuDriverTest, AfterARebootReapplyRecreatesTheInstanceAndTheDaemon) {
  Start({}, [](GpuDriverOptions& o) { o.publish_partitionable = true; });
  absl::StatusOr<PreparedClaim> p =
      driver_->PrepareClaim(Claim("uid-a", {Alloc(std::string(kGpu6) + "-mig-2g20gb-2", {}, "part"),
                                            Alloc(kGpu0, {Mps(50, "8Gi")}, "mps")}));
  ASSERT_OK(p);
  const uint32_t gi = p->devices[0].state["mig"]["gpuInstanceId"];

  // Reboot: MIG instances and the daemon are gone; the state dir stays.
  ASSERT_EQ(std::remove((Pipe(kGpu0Uuid) + "/control").c_str()), 0);
  driver_.reset();
  node_->LoadNvml();
  ASSERT_THAT(Instances(6), IsEmpty());
  RestartDriver();
  ASSERT_OK(driver_->RestoreState({{"uid-a", *p}}));
  node_->tools().Clear();
  ASSERT_OK(driver_->ReapplyClaim("uid-a", *p));
  std::vector<nvidia::GpuInstance> gis = Instances(6);
  ASSERT_EQ(gis.size(), 1u);
  EXPECT_EQ(gis[0].id, gi);
  EXPECT_EQ(gis[0].placement, (nvidia::MigPlacement{2, 2}));
  EXPECT_THAT(Commands(), Contains(HasSubstr("nvidia-cuda-mps-control -d")));
}

TEST_F(GpuDriverTest, UnprepareWithoutRecordedStateUndoesByDeviceName) {
  // What the agent does for a claim a crash left in PrepareStarted: the
  // driver's result was never recorded.
  Start({}, [](GpuDriverOptions& o) { o.publish_partitionable = true; });
  const std::string device = std::string(kGpu6) + "-mig-1g20gb-2";
  ASSERT_OK(driver_->PrepareClaim(
      Claim("uid-c", {Alloc(device), Alloc(kGpu1, {TimeSlicing("Medium")})})));
  RestartDriver();
  PreparedClaim unknown;
  unknown.devices = {{.request = "gpu", .device = device},
                     {.request = "gpu", .device = std::string(kGpu1)}};
  node_->tools().Clear();
  ASSERT_OK(driver_->UnprepareClaim("uid-c", unknown));
  EXPECT_THAT(Instances(6), IsEmpty());
  // The time slice it held is known from the driver's ledger and reset.
  EXPECT_THAT(Commands(),
              ElementsAre("nvidia-smi compute-policy -i "
                          "GPU-5e1b0001-7c3a-4f1e-9d2b-0000001000a1 --set-timeslice 0"));
}

TEST_F(GpuDriverTest, ADamagedLedgerIsRebuiltFromTheCheckpoint) {
  Start({}, [](GpuDriverOptions& o) { o.publish_partitionable = true; });
  absl::StatusOr<PreparedClaim> p = driver_->PrepareClaim(Claim(
      "uid-a", {Alloc(std::string(kGpu6) + "-mig-3g40gb-0"), Alloc(kGpu0, {Mps(20, "2Gi")})}));
  ASSERT_OK(p);
  std::ofstream(node_->state_dir() + "/host-state.json") << "{ not json";
  RestartDriver();
  // Without its record the driver sees a foreign instance on GPU 6...
  absl::StatusOr<Inventory> inv = driver_->Enumerate();
  ASSERT_OK(inv);
  EXPECT_EQ(FindDevice(*inv, std::string(kGpu6) + "-mig-1g10gb-5"), nullptr);
  // ...until the checkpoint's claims are restored.
  ASSERT_OK(driver_->RestoreState({{"uid-a", *p}}));
  inv = driver_->Enumerate();
  ASSERT_OK(inv);
  EXPECT_NE(FindDevice(*inv, std::string(kGpu6) + "-mig-1g10gb-5"), nullptr);
  node_->tools().Clear();
  ASSERT_OK(driver_->UnprepareClaim("uid-a", *p));
  EXPECT_THAT(Instances(6), IsEmpty());
  EXPECT_THAT(Commands(), Contains(HasSubstr("<<quit")));
}

TEST_F(GpuDriverTest, AClaimsMigInstanceIsNotDestroyedForAnotherClaimsRollback) {
  Start({}, [](GpuDriverOptions& o) { o.publish_partitionable = true; });
  const std::string device = std::string(kGpu6) + "-mig-1g20gb-2";
  absl::StatusOr<PreparedClaim> a = driver_->PrepareClaim(Claim("uid-a", {Alloc(device)}));
  ASSERT_OK(a);
  PreparedClaim other;
  other.devices = {{.request = "gpu", .device = device}};
  ASSERT_OK(driver_->UnprepareClaim("uid-other", other));
  EXPECT_EQ(Instances(6).size(), 1u);
}

// --- Degraded -----------------------------------------------------------------------

TEST_F(GpuDriverTest, WithoutNvmlOnALiveHostGpusAreListedButNotPreparable) {
  Start({.load_nvml = false}, [](GpuDriverOptions& o) { o.simulated = false; });
  absl::StatusOr<Inventory> inv = driver_->Enumerate();
  ASSERT_OK(inv);
  ASSERT_EQ(inv->devices.size(), 8u);
  for (const Device& d : inv->devices) {
    EXPECT_EQ(d.health, Health::kUnhealthy) << d.name;
    EXPECT_THAT(d.health_message, HasSubstr("NVML unavailable")) << d.name;
  }
  // Identity from the kernel driver's files and the PCI ids.
  EXPECT_EQ(Attr<std::string>(*FindDevice(*inv, kGpu0), kAttrUuid), kGpu0Uuid);
  EXPECT_EQ(Attr<std::string>(*FindDevice(*inv, kGpu0), kAttrProductName), "NVIDIA H100 80GB HBM3");
  EXPECT_THAT(driver_->PrepareClaim(Claim("u", {Alloc(kGpu0)})),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("not preparable: NVML unavailable")));
}

TEST_F(GpuDriverTest, ALostGpuIsUnhealthyAndRefused) {
  Start({.edit_nvml = [](Json& j) { j["gpus"][1]["lost"] = true; }});
  absl::StatusOr<Inventory> inv = driver_->Enumerate();
  ASSERT_OK(inv);
  const Device* g1 = FindDevice(*inv, kGpu1);
  ASSERT_NE(g1, nullptr);
  EXPECT_EQ(g1->health, Health::kUnhealthy);
  EXPECT_THAT(g1->health_message, HasSubstr("GPU not visible to NVML; NVML failed for gpu 1"));
  EXPECT_EQ(FindDevice(*inv, kGpu0)->health, Health::kHealthy);
  EXPECT_THAT(driver_->PrepareClaim(Claim("u", {Alloc(kGpu1)})),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

// --- Alignment ----------------------------------------------------------------------

TEST_F(GpuDriverTest, PeerNicsOfTheClaimAreOrderedByHowCloseTheyAreToTheGpu) {
  Start();
  // mlx5_1 (0000:1f) is under the neighbour switch (PXB), mlx5_0 (0000:1b)
  // under GPU0's own switch (PIX), mlx5_7 (0000:c3) on the other socket.
  ClaimPrepareRequest req = Claim("uid-al", {Alloc(kGpu0)},
                                  {{.driver = "rdma.tessera.dev", .device = "rdma-0000-c3-00-0"},
                                   {.driver = "rdma.tessera.dev", .device = "rdma-0000-1f-00-0"},
                                   {.driver = "rdma.tessera.dev", .device = "rdma-0000-1b-00-0"},
                                   {.driver = "npu.tessera.dev", .device = "npu-0000-1b-00-0"}});
  absl::StatusOr<PreparedClaim> p = driver_->PrepareClaim(req);
  ASSERT_OK(p);
  EXPECT_TRUE(HasEnv(p->claim_edits, "NCCL_IB_HCA==mlx5_0,mlx5_1,mlx5_7"));
  EXPECT_TRUE(HasEnv(p->claim_edits, "TESSERA_ALIGNED_NICS=mlx5_0,mlx5_1,mlx5_7"));
  EXPECT_TRUE(HasEnv(p->claim_edits, "TESSERA_GPU_NIC_RELATION=gpu-0000-1a-00-0=mlx5_0:PIX"));
}

TEST_F(GpuDriverTest, DeviceNodePathsCoverEveryNodeAClaimCanGet) {
  Start();
  std::vector<std::string> paths = driver_->DeviceNodePaths();
  for (int i = 0; i < 8; ++i) EXPECT_THAT(paths, Contains("nvidia" + std::to_string(i)));
  EXPECT_THAT(paths, Contains("nvidiactl"));
  EXPECT_THAT(paths, Contains("nvidia-uvm"));
  // GPU 7's existing instances (GPU minor 7, GI 2 and 7).
  absl::StatusOr<nvidia::MigMinors> minors =
      nvidia::ReadMigMinors(node_->fs(), testing::SimMigMinors());
  ASSERT_OK(minors);
  EXPECT_THAT(paths,
              Contains("nvidia-caps/nvidia-cap" + std::to_string(*minors->GpuInstance(7, 2))));
  EXPECT_THAT(paths, Contains("nvidia-caps/nvidia-cap" +
                              std::to_string(*minors->ComputeInstance(7, 7, 0))));
}

}  // namespace
}  // namespace tessera::drivers::gpu
