// Every GPU sharing mode end to end on the simulated node, through the
// kubelet socket: the kubelet-side client (kubelet/kubelet_client.h)
// registers the plugin and calls NodePrepareResources / NodeUnprepareResources
// over real gRPC on Unix sockets; PluginServer -> DeviceState (checkpoint, CDI
// spec in a temp --cdi-dir) -> GpuDriver -> the fake NVML and the recording
// stand-ins of nvidia-smi and nvidia-cuda-mps-control.
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "agent/claims/device_state.h"
#include "base/metrics.h"
#include "drivers/gpu/gpu_driver.h"
#include "drivers/gpu/testing/sim_node.h"
#include "kubelet/cdi/naming.h"
#include "kubelet/health_reporter.h"
#include "kubelet/kubelet_client.h"
#include "kubelet/plugin_server.h"
#include "test/fakes/agent/fake_claim_source.h"
#include "test/fakes/base/fake_clock.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera {
namespace {

using agent::AllocationConfig;
using agent::AllocationResult;
using agent::ResourceClaim;
using kubelet::ClaimRef;
using Json = nlohmann::json;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kDriver[] = "gpu.tessera.dev";
constexpr char kPool[] = "sim-hgx-01";

AllocationResult Result(std::string request, std::string device, std::string driver = kDriver) {
  return {.request = std::move(request),
          .driver = std::move(driver),
          .pool = kPool,
          .device = std::move(device)};
}
AllocationResult ShareResult(std::string device, std::string share_id, std::string memory,
                             int compute) {
  AllocationResult r = Result("gpu", std::move(device));
  r.share_id = std::move(share_id);
  r.consumed_capacity["memory"] = *base::Quantity::Parse(memory);
  r.consumed_capacity["compute"] = base::Quantity::FromInt(compute);
  return r;
}
AllocationConfig GpuConfig(Json sharing) {
  return {.source = "FromClaim",
          .driver = kDriver,
          .parameters = {{"apiVersion", "gpu.tessera.dev/v1alpha1"},
                         {"kind", "GpuConfig"},
                         {"sharing", std::move(sharing)}}};
}
ResourceClaim Claim(std::string uid, std::vector<AllocationResult> results,
                    std::vector<AllocationConfig> configs = {}) {
  return {.namespace_ = "team-a",
          .name = "claim-" + uid.substr(0, 8),
          .uid = std::move(uid),
          .allocated = true,
          .results = std::move(results),
          .configs = std::move(configs)};
}
ClaimRef Ref(const ResourceClaim& c) {
  return {.uid = c.uid, .namespace_ = c.namespace_, .name = c.name};
}

class GpuKubeletE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = std::make_unique<drivers::gpu::testing::SimNode>();
    ASSERT_EQ(node_->error(), "");
    drivers::gpu::GpuDriverOptions o = node_->DriverOptions();
    o.publish_partitionable = true;
    o.publish_consumable_capacity = true;
    absl::StatusOr<std::unique_ptr<drivers::gpu::GpuDriver>> d = node_->MakeDriver(o);
    ASSERT_OK(d);
    driver_ = std::move(*d);
    node_->CreateDevicePlaceholders(*driver_);

    absl::StatusOr<std::unique_ptr<agent::DeviceState>> state =
        agent::DeviceState::Create({.driver_name = kDriver,
                                    .pool_name = kPool,
                                    .cdi_dir = dirs_.Sub("cdi"),
                                    .checkpoint_dir = dirs_.Sub("state/gpu.tessera.dev"),
                                    .boot_id = "boot-1"},
                                   *driver_, source_, fs_, clock_, metrics_);
    ASSERT_OK(state);
    state_ = std::move(*state);

    absl::StatusOr<std::unique_ptr<kubelet::PluginServer>> server = kubelet::PluginServer::Create(
        {.driver_name = kDriver,
         .plugin_dir = dirs_.Sub("plugins"),
         .registry_dir = dirs_.Sub("registry")},
        {.claims = *state_, .health = health_, .clock = clock_, .fs = fs_, .metrics = metrics_});
    ASSERT_OK(server);
    server_ = std::move(*server);
    absl::StatusOr<kubelet::ValidatedPlugin> plugin =
        kubelet::RegisterPlugin(server_->paths().registration_socket, kDriver);
    ASSERT_OK(plugin);
    absl::StatusOr<std::unique_ptr<kubelet::DraPluginClient>> client =
        kubelet::DraPluginClient::Connect(plugin->endpoint, plugin->api);
    ASSERT_OK(client);
    client_ = std::move(*client);
  }

  void TearDown() override {
    client_.reset();
    if (server_) server_->Stop();
  }

  // NodePrepareResources for `claims` (put in the API first); answers by uid.
  kubelet::PrepareResponse Prepare(const std::vector<ResourceClaim>& claims) {
    std::vector<ClaimRef> refs;
    for (const ResourceClaim& c : claims) {
      source_.Put(c);
      refs.push_back(Ref(c));
    }
    absl::StatusOr<kubelet::PrepareResponse> r = client_->NodePrepareResources(refs);
    EXPECT_OK(r);
    return r.ok() ? *r : kubelet::PrepareResponse{};
  }
  kubelet::ClaimPrepareResponse PrepareOne(const ResourceClaim& claim) {
    kubelet::PrepareResponse r = Prepare({claim});
    EXPECT_EQ(r[claim.uid].error, "");
    return r[claim.uid];
  }
  void Unprepare(const std::vector<ResourceClaim>& claims) {
    std::vector<ClaimRef> refs;
    for (const ResourceClaim& c : claims) refs.push_back(Ref(c));
    absl::StatusOr<kubelet::UnprepareResponse> r = client_->NodeUnprepareResources(refs);
    ASSERT_OK(r);
    ASSERT_OK(kubelet::CheckUnprepareResponse(refs, *r));
  }

  // The CDI spec the runtime would read for `uid`, and the edits of the
  // device behind `cdi_id` merged with the spec-level ones.
  Json Spec(const std::string& uid) {
    std::ifstream in(dirs_.Sub("cdi") + "/" + kubelet::cdi::ClaimSpecFileName(kDriver, uid));
    if (!in) return Json();
    return Json::parse(in);
  }
  std::vector<std::string> Env(const std::string& uid, const std::string& cdi_id) {
    Json spec = Spec(uid);
    std::vector<std::string> env;
    if (spec.is_null()) return env;
    for (const Json& e : spec["containerEdits"].value("env", Json::array())) env.push_back(e);
    const std::string name = cdi_id.substr(cdi_id.find('=') + 1);
    for (const Json& d : spec["devices"]) {
      if (d["name"] != name) continue;
      for (const Json& e : d["containerEdits"].value("env", Json::array())) env.push_back(e);
    }
    return env;
  }

  std::unique_ptr<drivers::gpu::testing::SimNode> node_;
  std::unique_ptr<drivers::gpu::GpuDriver> driver_;
  tessera::testing::TempDir dirs_;
  tessera::testing::FakeClaimSource source_;
  tessera::testing::FakeClock clock_;
  base::RealFilesystem fs_;
  base::metrics::Registry metrics_;
  kubelet::HealthReporter health_{clock_};
  std::unique_ptr<agent::DeviceState> state_;
  std::unique_ptr<kubelet::PluginServer> server_;
  std::unique_ptr<kubelet::DraPluginClient> client_;
};

TEST_F(GpuKubeletE2eTest, EveryModeInOneBatchThenUnprepared) {
  const ResourceClaim exclusive =
      Claim("11111111-0000-4000-8000-000000000001", {Result("gpu", "gpu-0000-1e-00-0")});
  const ResourceClaim sliced =
      Claim("22222222-0000-4000-8000-000000000002", {Result("gpu", "gpu-0000-3c-00-0")},
            {GpuConfig({{"strategy", "TimeSlicing"}, {"timeSlicing", {{"interval", "Short"}}}})});
  const ResourceClaim mps =
      Claim("33333333-0000-4000-8000-000000000003", {Result("gpu", "gpu-0000-40-00-0")},
            {GpuConfig(
                {{"strategy", "MPS"},
                 {"mps", {{"activeThreadPercentage", 40}, {"pinnedDeviceMemoryLimit", "12Gi"}}}})});
  const ResourceClaim share_a =
      Claim("44444444-0000-4000-8000-000000000004",
            {ShareResult("gpu-0000-1a-00-0", "0e5f8a1c-0000-4000-8000-00000000000a", "20Gi", 30)});
  const ResourceClaim share_b =
      Claim("55555555-0000-4000-8000-000000000005",
            {ShareResult("gpu-0000-1a-00-0", "0e5f8a1c-0000-4000-8000-00000000000b", "30Gi", 50)});
  const ResourceClaim mig = Claim("66666666-0000-4000-8000-000000000006",
                                  {Result("gpu", "gpu-0000-be-00-0-mig-3g40gb-0")});
  const ResourceClaim existing_mig = Claim("77777777-0000-4000-8000-000000000007",
                                           {Result("gpu", "gpu-0000-c2-00-0-mig-3g40gb-4")});
  const ResourceClaim aligned = Claim(
      "88888888-0000-4000-8000-000000000008",
      {Result("gpu", "gpu-0000-9c-00-0"), Result("nic", "rdma-0000-9d-00-0", "rdma.tessera.dev")});
  const std::vector<ResourceClaim> all = {exclusive, sliced, mps,          share_a,
                                          share_b,   mig,    existing_mig, aligned};

  kubelet::PrepareResponse r = Prepare(all);
  std::vector<ClaimRef> refs;
  for (const ResourceClaim& c : all) refs.push_back(Ref(c));
  ASSERT_OK(kubelet::CheckPrepareResponse(refs, r));

  // Shares come back with their share id, and CDI ids of our kind.
  const kubelet::PreparedDevice& a = r[share_a.uid].devices.at(0);
  EXPECT_EQ(a.share_id, std::optional<std::string>("0e5f8a1c-0000-4000-8000-00000000000a"));
  EXPECT_EQ(a.pool_name, kPool);
  ASSERT_EQ(a.cdi_device_ids.size(), 1u);
  EXPECT_TRUE(a.cdi_device_ids[0].starts_with("k8s.gpu.tessera.dev/claim="));

  EXPECT_THAT(Env(share_a.uid, a.cdi_device_ids[0]),
              Contains("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=30"));
  EXPECT_THAT(Env(share_a.uid, a.cdi_device_ids[0]),
              Contains("CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=20480M"));
  const kubelet::PreparedDevice& b = r[share_b.uid].devices.at(0);
  EXPECT_THAT(Env(share_b.uid, b.cdi_device_ids[0]),
              Contains("CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=30720M"));
  const kubelet::PreparedDevice& m = r[mps.uid].devices.at(0);
  EXPECT_THAT(Env(mps.uid, m.cdi_device_ids[0]), Contains("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=40"));
  const kubelet::PreparedDevice& s = r[sliced.uid].devices.at(0);
  EXPECT_THAT(Env(sliced.uid, s.cdi_device_ids[0]),
              Contains("TESSERA_GPU_SHARING=TimeSlicing:Short"));
  const kubelet::PreparedDevice& al = r[aligned.uid].devices.at(0);
  EXPECT_THAT(Env(aligned.uid, al.cdi_device_ids[0]), Contains("NCCL_IB_HCA==mlx5_4"));
  EXPECT_THAT(Env(aligned.uid, al.cdi_device_ids[0]),
              Contains("TESSERA_GPU_NIC_RELATION=gpu-0000-9c-00-0=mlx5_4:PIX"));
  const kubelet::PreparedDevice& em = r[existing_mig.uid].devices.at(0);
  EXPECT_THAT(Env(existing_mig.uid, em.cdi_device_ids[0]),
              Contains("NVIDIA_VISIBLE_DEVICES=MIG-5b1e7f3a-9c2d-5e8f-a014-7b3c9d2e1f40"));

  // The MIG partition exists on GPU 6 while the claim is prepared.
  absl::StatusOr<std::vector<drivers::nvidia::GpuInstance>> gis =
      node_->nvml()->ListGpuInstances(6);
  ASSERT_OK(gis);
  ASSERT_EQ(gis->size(), 1u);
  EXPECT_EQ((*gis)[0].placement, (drivers::nvidia::MigPlacement{0, 4}));

  // Host commands: one time slice, two daemons (GPU 3 and GPU 0).
  std::vector<std::string> cmds = node_->tools().Commands();
  EXPECT_THAT(cmds, Contains(HasSubstr("--set-timeslice 1")));
  EXPECT_EQ(std::count_if(cmds.begin(), cmds.end(),
                          [](const std::string& c) { return c.find(" -d ") != std::string::npos; }),
            2);

  Unprepare(all);
  for (const ResourceClaim& c : all) EXPECT_TRUE(Spec(c.uid).is_null()) << c.uid;
  gis = node_->nvml()->ListGpuInstances(6);
  ASSERT_OK(gis);
  EXPECT_THAT(*gis, IsEmpty());
  cmds = node_->tools().Commands();
  EXPECT_THAT(cmds, Contains(HasSubstr("--set-timeslice 0")));
  EXPECT_EQ(
      std::count_if(cmds.begin(), cmds.end(),
                    [](const std::string& c) { return c.find("<<quit") != std::string::npos; }),
      2);
  // GPU 7's administrator instances are untouched.
  gis = node_->nvml()->ListGpuInstances(7);
  ASSERT_OK(gis);
  EXPECT_EQ(gis->size(), 2u);
}

TEST_F(GpuKubeletE2eTest, OneBadClaimFailsAloneWithAClearError) {
  const ResourceClaim good =
      Claim("aaaaaaaa-0000-4000-8000-00000000000a", {Result("gpu", "gpu-0000-1e-00-0")});
  const ResourceClaim bad = Claim("bbbbbbbb-0000-4000-8000-00000000000b",
                                  {Result("gpu", "gpu-0000-be-00-0-mig-1g10gb-0")},
                                  {GpuConfig({{"strategy", "TimeSlicing"}})});
  kubelet::PrepareResponse r = Prepare({good, bad});
  EXPECT_EQ(r[good.uid].error, "");
  EXPECT_THAT(r[bad.uid].error, HasSubstr("TimeSlicing is not supported on a MIG device"));
  EXPECT_TRUE(Spec(bad.uid).is_null());
  EXPECT_THAT(node_->tools().Commands(), IsEmpty());
}

TEST_F(GpuKubeletE2eTest, ARepeatedPrepareIsAnsweredFromTheCheckpoint) {
  const ResourceClaim c = Claim("cccccccc-0000-4000-8000-00000000000c",
                                {Result("gpu", "gpu-0000-be-00-0-mig-1g10gb-me-6")});
  kubelet::ClaimPrepareResponse first = PrepareOne(c);
  kubelet::ClaimPrepareResponse again = PrepareOne(c);
  EXPECT_EQ(first.devices, again.devices);
  absl::StatusOr<std::vector<drivers::nvidia::GpuInstance>> gis =
      node_->nvml()->ListGpuInstances(6);
  ASSERT_OK(gis);
  EXPECT_EQ(gis->size(), 1u);
  Unprepare({c});
  Unprepare({c});  // unknown now: still success
}

}  // namespace
}  // namespace tessera
