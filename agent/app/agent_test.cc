// The whole agent, in process, on the bundled simulated node with the fake
// NVML: the strict fake API server over loopback on one side, the real
// kubelet client over the real unix sockets on the other. What a kubelet and
// an API server would see, end to end.
#include "agent/app/agent.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"

#include "base/clock.h"
#include "base/command_runner.h"
#include "base/filesystem.h"
#include "base/metrics.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "drivers/nvidia/testing/fake_nvml_env.h"
#include "kubelet/kubelet_client.h"
#include "test/fake_apiserver/fake_apiserver.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera::agent {
namespace {

using ::tessera::testing::StatusIs;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using Json = nlohmann::json;
namespace fs = std::filesystem;

constexpr char kNode[] = "node-a";
constexpr char kUid[] = "7c0e1f52-3a4b-4c6d-9e8f-0a1b2c3d4e5f";

// Polls `pred` for up to 10 s (real sockets and threads: no fake clock here).
template <typename Pred>
bool Eventually(Pred pred) {
  for (int i = 0; i < 1000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Preparing on the simulated node needs its device nodes under --dev-root.
    if (::geteuid() != 0) GTEST_SKIP() << "the simulated node's device nodes need mknod (root)";
    ASSERT_OK_AND_ASSIGN(api_, testing::FakeApiServer::Start());
    api_->store().AddNode(kNode);
    const std::string kubeconfig = dir_.Sub("kubeconfig");
    std::ofstream(kubeconfig) << "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
                              << "clusters: [{name: fake, cluster: {server: \"" << api_->url()
                              << "\"}}]\ncontexts: [{name: fake, context: {cluster: fake}}]\n";
    config_.node_name = kNode;
    config_.kubeconfig = kubeconfig;
    config_.plugin_dir = dir_.Sub("plugins");
    config_.registry_dir = dir_.Sub("registry");
    config_.cdi_dir = dir_.Sub("cdi");
    config_.state_dir = dir_.Sub("state");
    config_.sysfs_root = std::string(TESSERA_SOURCE_DIR) + "/test/testdata/nodes/sim-8xh100-8xcx7";
    config_.dev_root = dir_.Sub("dev");
    config_.nvml_lib = drivers::nvidia::testing::FakeNvmlLibrary();
    config_.metrics_addr = "127.0.0.1:0";
  }

  absl::StatusOr<std::unique_ptr<Agent>> StartAgent() {
    ASSIGN_OR_RETURN(
        std::unique_ptr<Agent> agent,
        Agent::Create(
            config_, Host{.clock = clock_, .fs = fs_, .commands = commands_, .metrics = metrics_}));
    RETURN_IF_ERROR(agent->Start());
    return agent;
  }

  // The kubelet's registration of every plugin socket found.
  std::vector<std::string> RegisterAll() {
    std::vector<std::string> names;
    absl::StatusOr<std::vector<std::string>> sockets =
        kubelet::FindRegistrationSockets(config_.registry_dir);
    if (!sockets.ok()) return names;
    for (const std::string& s : *sockets) {
      absl::StatusOr<kubelet::ValidatedPlugin> p = kubelet::RegisterPlugin(s);
      EXPECT_OK(p);
      if (p.ok()) names.push_back(p->info.name);
    }
    return names;
  }

  std::vector<Json> SlicesOf(const std::string& driver) {
    std::vector<Json> out;
    for (const Json& s : api_->store().Slices()) {
      if (s["spec"]["driver"] == driver) out.push_back(s);
    }
    return out;
  }

  static size_t DeviceCount(const std::vector<Json>& slices) {
    size_t n = 0;
    for (const Json& s : slices) n += s["spec"].value("devices", Json::array()).size();
    return n;
  }

  void PutClaim(const std::vector<std::pair<std::string, std::string>>& results) {
    Json claim = {{"apiVersion", "resource.k8s.io/v1"},
                  {"kind", "ResourceClaim"},
                  {"metadata", {{"namespace", "default"}, {"name", "train"}, {"uid", kUid}}}};
    Json r = Json::array();
    for (const auto& [driver, device] : results) {
      r.push_back({{"request", "req"}, {"driver", driver}, {"pool", kNode}, {"device", device}});
    }
    claim["status"]["allocation"]["devices"]["results"] = r;
    api_->store().PutClaim(claim);
  }

  absl::StatusOr<kubelet::PrepareResponse> Prepare(const std::string& driver) {
    ASSIGN_OR_RETURN(auto client, kubelet::DraPluginClient::Connect(
                                      base::StrCat(config_.plugin_dir, "/", driver, "/dra.sock"),
                                      kubelet::DraApiVersion::kV1));
    return client->NodePrepareResources({{.uid = kUid, .namespace_ = "default", .name = "train"}});
  }

  absl::StatusOr<kubelet::UnprepareResponse> Unprepare(const std::string& driver) {
    ASSIGN_OR_RETURN(auto client, kubelet::DraPluginClient::Connect(
                                      base::StrCat(config_.plugin_dir, "/", driver, "/dra.sock"),
                                      kubelet::DraApiVersion::kV1));
    return client->NodeUnprepareResources(
        {{.uid = kUid, .namespace_ = "default", .name = "train"}});
  }

  std::vector<std::string> Sockets() const {
    std::vector<std::string> out;
    for (const std::string& d : {config_.plugin_dir, config_.registry_dir}) {
      std::error_code ec;
      for (auto it = fs::recursive_directory_iterator(d, ec); !ec && it != fs::end(it);
           it.increment(ec)) {
        if (it->is_socket()) out.push_back(it->path().string());
      }
    }
    return out;
  }

  std::vector<std::string> CdiSpecs() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(config_.cdi_dir, ec)) {
      out.push_back(e.path().filename().string());
    }
    return out;
  }

  tessera::testing::TempDir dir_;
  drivers::nvidia::testing::ScopedFakeNvmlEnv nvml_env_{
      drivers::nvidia::testing::NvmlFixture("h100-80gb-8.json")};
  std::unique_ptr<testing::FakeApiServer> api_;
  Config config_;
  base::SystemClock clock_;
  base::RealFilesystem fs_;
  base::ProcessCommandRunner commands_;
  base::metrics::Registry metrics_;
};

TEST_F(AgentTest, RegistersPublishesPreparesAndStopsClean) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Agent> agent, StartAgent());
  EXPECT_THAT(agent->driver_names(),
              ElementsAre("gpu.tessera.dev", "rdma.tessera.dev", "npu.tessera.dev"));
  EXPECT_THAT(agent->NotReadyReason(), HasSubstr("not registered with the kubelet"));

  // /readyz says not ready until the kubelet registered the plugins.
  httplib::Client http("127.0.0.1", agent->metrics_port());
  auto ready = http.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);

  EXPECT_THAT(RegisterAll(), ::testing::UnorderedElementsAre("gpu.tessera.dev", "rdma.tessera.dev",
                                                             "npu.tessera.dev"));

  // One pool per driver named after the node, owned by the Node: every GPU,
  // every NIC but mlx5_7 (its port is down: unhealthy devices are not
  // offered), no NPU (the node has none: an idle, empty pool).
  ASSERT_TRUE(Eventually([&] { return DeviceCount(SlicesOf("gpu.tessera.dev")) == 8; }));
  ASSERT_TRUE(Eventually([&] { return DeviceCount(SlicesOf("rdma.tessera.dev")) == 7; }));
  ASSERT_TRUE(Eventually([&] { return SlicesOf("npu.tessera.dev").size() == 1; }));
  for (const Json& s : api_->store().Slices()) {
    EXPECT_EQ(s["spec"]["nodeName"], kNode);
    EXPECT_EQ(s["spec"]["pool"]["name"], kNode);
    EXPECT_EQ(s["metadata"]["ownerReferences"][0]["kind"], "Node");
  }
  ASSERT_TRUE(Eventually([&] { return agent->NotReadyReason().empty(); }))
      << agent->NotReadyReason();
  ready = http.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);

  // A claim for a GPU, prepared over the real DRA socket.
  PutClaim({{"gpu.tessera.dev", "gpu-0000-1a-00-0"}});
  ASSERT_OK_AND_ASSIGN(kubelet::PrepareResponse first, Prepare("gpu.tessera.dev"));
  ASSERT_OK(kubelet::CheckPrepareResponse({{.uid = kUid}}, first));
  ASSERT_THAT(first[kUid].devices, SizeIs(1));
  const kubelet::PreparedDevice& d = first[kUid].devices[0];
  EXPECT_EQ(d.device_name, "gpu-0000-1a-00-0");
  EXPECT_EQ(d.pool_name, kNode);
  EXPECT_THAT(d.request_names, ElementsAre("req"));
  ASSERT_THAT(d.cdi_device_ids, SizeIs(1));
  EXPECT_THAT(d.cdi_device_ids[0], ::testing::StartsWith("k8s.gpu.tessera.dev/claim="));
  EXPECT_THAT(d.cdi_device_ids[0], HasSubstr(kUid));
  EXPECT_THAT(CdiSpecs(), ElementsAre(base::StrCat("k8s.gpu.tessera.dev-claim_", kUid, ".json")));

  // Idempotent: the same answer, no second spec.
  ASSERT_OK_AND_ASSIGN(kubelet::PrepareResponse again, Prepare("gpu.tessera.dev"));
  EXPECT_EQ(again[kUid].devices, first[kUid].devices);
  EXPECT_THAT(CdiSpecs(), SizeIs(1));

  // The metrics page counts it.
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->body,
              HasSubstr("tessera_devices{driver=\"gpu.tessera.dev\",health=\"healthy\"} 8"));
  EXPECT_THAT(metrics->body,
              HasSubstr("tessera_devices{driver=\"rdma.tessera.dev\",health=\"unhealthy\"} 1"));
  EXPECT_THAT(metrics->body, HasSubstr("tessera_prepare_claims_total{"));
  EXPECT_THAT(metrics->body, HasSubstr("tessera_kube_request_duration_seconds_bucket{"));

  ASSERT_OK_AND_ASSIGN(kubelet::UnprepareResponse un, Unprepare("gpu.tessera.dev"));
  EXPECT_EQ(un[kUid], "");
  EXPECT_THAT(CdiSpecs(), IsEmpty());

  EXPECT_THAT(Sockets(), SizeIs(6));  // DRA + registration per driver
  agent->Stop();
  EXPECT_THAT(Sockets(), IsEmpty());
}

TEST_F(AgentTest, AClaimForAGpuAndItsNicIsPreparedByBothDrivers) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Agent> agent, StartAgent());
  // The NIC under the GPU's PCIe switch on the bundled node.
  PutClaim({{"gpu.tessera.dev", "gpu-0000-1a-00-0"}, {"rdma.tessera.dev", "rdma-0000-1b-00-0"}});
  ASSERT_OK_AND_ASSIGN(kubelet::PrepareResponse gpu, Prepare("gpu.tessera.dev"));
  ASSERT_OK(kubelet::CheckPrepareResponse({{.uid = kUid}}, gpu));
  ASSERT_OK_AND_ASSIGN(kubelet::PrepareResponse rdma, Prepare("rdma.tessera.dev"));
  ASSERT_OK(kubelet::CheckPrepareResponse({{.uid = kUid}}, rdma));
  // Each driver answers only for its own results.
  ASSERT_THAT(gpu[kUid].devices, SizeIs(1));
  ASSERT_THAT(rdma[kUid].devices, SizeIs(1));
  EXPECT_EQ(rdma[kUid].devices[0].device_name, "rdma-0000-1b-00-0");
  EXPECT_THAT(CdiSpecs(), SizeIs(2));
  // The RDMA spec carries the uverbs node of that NIC, under --dev-root.
  std::ifstream in(base::StrCat(config_.cdi_dir, "/k8s.rdma.tessera.dev-claim_", kUid, ".json"));
  const Json spec = Json::parse(in);
  EXPECT_EQ(spec["cdiVersion"], "0.5.0");
  EXPECT_THAT(spec.dump(), HasSubstr("/dev/infiniband/uverbs"));
  EXPECT_THAT(spec.dump(), HasSubstr(config_.dev_root));
}

TEST_F(AgentTest, ARestartKeepsPreparedClaimsAndAnswersTheSame) {
  PutClaim({{"gpu.tessera.dev", "gpu-0000-3c-00-0"}});
  kubelet::PrepareResponse first;
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Agent> agent, StartAgent());
    ASSERT_OK_AND_ASSIGN(first, Prepare("gpu.tessera.dev"));
    ASSERT_OK(kubelet::CheckPrepareResponse({{.uid = kUid}}, first));
  }  // destroyed: stopped
  // The claim is gone from the API server: only the checkpoint knows it now.
  api_->store().PutClaim({{"metadata", {{"namespace", "default"}, {"name", "other"}}}});
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Agent> agent, StartAgent());
  ASSERT_OK_AND_ASSIGN(kubelet::PrepareResponse again, Prepare("gpu.tessera.dev"));
  EXPECT_EQ(again[kUid].devices, first[kUid].devices);
  EXPECT_THAT(CdiSpecs(), SizeIs(1));
  ASSERT_OK_AND_ASSIGN(kubelet::UnprepareResponse un, Unprepare("gpu.tessera.dev"));
  EXPECT_EQ(un[kUid], "");
  EXPECT_THAT(CdiSpecs(), IsEmpty());
}

TEST_F(AgentTest, BadClaimsGetPerClaimErrorsAndTheAgentCarriesOn) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Agent> agent, StartAgent());
  PutClaim({{"gpu.tessera.dev", "gpu-0000-99-00-0"}});  // no such GPU
  ASSERT_OK_AND_ASSIGN(kubelet::PrepareResponse r, Prepare("gpu.tessera.dev"));
  EXPECT_THAT(r[kUid].error, HasSubstr("gpu-0000-99-00-0"));
  EXPECT_THAT(CdiSpecs(), IsEmpty());
  // The same claim, fixed, prepares.
  PutClaim({{"gpu.tessera.dev", "gpu-0000-1a-00-0"}});
  ASSERT_OK_AND_ASSIGN(r, Prepare("gpu.tessera.dev"));
  EXPECT_EQ(r[kUid].error, "");
}

TEST_F(AgentTest, AFailedStartNamesTheStepAndLeavesNoSocket) {
  config_.sysfs_root = dir_.Sub("no-such-node");
  EXPECT_THAT(StartAgent(), StatusIs(absl::StatusCode::kNotFound,
                                     HasSubstr("startup step open_host: sysfs root")));
  EXPECT_THAT(Sockets(), IsEmpty());
}

TEST_F(AgentTest, AnApiServerThatRefusesUsLeavesTheAgentUpButNotReady) {
  // Publishing retries in the background with backoff; the kubelet side
  // serves (claims already prepared must stay unpreparable), readiness says
  // why the node is not ready.
  api_->SetBearerToken("secret");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Agent> agent, StartAgent());
  RegisterAll();
  EXPECT_THAT(agent->NotReadyReason(), HasSubstr("gpu.tessera.dev: slices not published"));
  EXPECT_THAT(api_->store().Slices(), IsEmpty());
  httplib::Client http("127.0.0.1", agent->metrics_port());
  auto ready = http.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  EXPECT_THAT(ready->body, HasSubstr("slices not published"));
  // Stopping does not wait for the retry backoff (1 s, begun at start-up).
  // The bound leaves room for a slow stop under ThreadSanitizer (~500 ms).
  const auto t0 = std::chrono::steady_clock::now();
  agent->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(750));
}

// Every real capture in ../shared/topologies, through the whole agent: each
// driver's pool is published to the strict fake API server (which validates
// every slice as upstream does), the pools are complete and consistent, and a
// rescan of an unchanged node writes nothing.
struct Capture {
  std::string name;
  std::string path;  // relative to ../shared/topologies
  bool xml;          // hwloc XML export, else a sysfs tarball
  size_t gpus;       // what the capture holds (its truth.json and SOURCE.txt)
  size_t rdma_nics;
};

class SharedCaptureAgentTest : public AgentTest, public ::testing::WithParamInterface<Capture> {};

TEST_P(SharedCaptureAgentTest, PublishesConvergedPoolsForTheCapture) {
  const std::string shared = std::string(TESSERA_SOURCE_DIR) + "/../shared/topologies";
  const std::string input = shared + "/" + GetParam().path;
  if (!fs::exists(input)) GTEST_SKIP() << input << " is absent (../shared not mounted)";
  config_.sysfs_root.clear();
  config_.dev_root.clear();
  config_.nvml_lib = "";  // identity from what the capture recorded
  if (GetParam().xml) {
    config_.hwloc_xml = input;
  } else {
    const std::string root = dir_.Sub("capture");
    fs::create_directories(root);
    ASSERT_OK_AND_ASSIGN(base::CommandResult r,
                         commands_.Run({.argv = {"tar", "-xjf", input, "-C", root},
                                        .timeout = std::chrono::seconds(120)}));
    ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
    std::vector<fs::path> tops;
    for (const auto& e : fs::directory_iterator(root)) tops.push_back(e.path());
    ASSERT_EQ(tops.size(), 1u);
    config_.sysfs_root = tops[0].string();
  }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Agent> agent, StartAgent());
  RegisterAll();
  ASSERT_TRUE(Eventually([&] { return agent->NotReadyReason().empty(); }))
      << agent->NotReadyReason();

  std::map<std::string, std::vector<Json>> pools;
  for (const Json& s : api_->store().Slices()) pools[s["spec"]["driver"]].push_back(s);
  EXPECT_THAT(pools, SizeIs(3));
  for (const auto& [driver, slices] : pools) {
    std::set<std::string> names;
    for (const Json& s : slices) {
      EXPECT_EQ(s["spec"]["pool"]["resourceSliceCount"], slices.size()) << driver;
      EXPECT_EQ(s["spec"]["nodeName"], kNode);
      for (const Json& d : s["spec"].value("devices", Json::array())) {
        EXPECT_TRUE(names.insert(d["name"]).second) << driver << " lists " << d["name"] << " twice";
      }
    }
    const size_t want = driver == "gpu.tessera.dev"    ? GetParam().gpus
                        : driver == "rdma.tessera.dev" ? GetParam().rdma_nics
                                                       : 0;  // npu: none on these nodes
    EXPECT_EQ(names.size(), want) << driver;
  }

  // Converged: an unchanged node's rescan makes no API write.
  api_->ResetCounts();
  const uint64_t before = agent->rescans();
  agent->TriggerRescan();
  ASSERT_TRUE(Eventually([&] { return agent->rescans() > before; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a sync would have run by now
  EXPECT_EQ(api_->counts().writes(), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Shared, SharedCaptureAgentTest,
    ::testing::Values(
        Capture{"jureca_a100", "xml-psmgmt-jurecadc-4xa100-4xhdr/topo.jrc0323.xml", true, 4, 4},
        Capture{"corona_mi50", "xml-mpibind-corona-8xmi50/epyc-corona-p2.xml", true, 8, 1},
        Capture{"em64t_mlx4",
                "hwloc-32em64t-2n8c-mlx4-mic-nvme/32em64t-2n8c+dax+nvme+mic+dimms.tar.bz2", false,
                0, 1},
        Capture{"amd64_4s", "hwloc-64amd64-4s-8numa/64amd64-4s2n4ca2co.tar.bz2", false, 0, 0}),
    [](const ::testing::TestParamInfo<Capture>& p) { return p.param.name; });

}  // namespace
}  // namespace tessera::agent
