// RdmaDriver on the fixture nodes (test/testdata/rdma, the bundled node) with
// the real sysfs reader, a real filesystem in a temp dir (dev root, state
// dir), and the netlink / namespace / RDMA netlink fakes. The netdev attach
// is carried out by the real hook logic (RunNetnsHook) on the fakes, with the
// arguments the driver put into the CDI edits.
#include "drivers/rdma/rdma_driver.h"

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "drivers/attributes.h"
#include "drivers/rdma/netns_hook.h"
#include "test/fakes/base/fake_clock.h"
#include "test/fakes/base/temp_dir.h"
#include "test/fakes/drivers/rdma/fake_rdma_netlink.h"
#include "test/fakes/drivers/rdma/fake_verbs.h"
#include "test/fakes/drivers/rdma/test_nodes.h"
#include "test/fakes/topology/fake_netlink.h"
#include "test/fakes/topology/sysfs_tree.h"
#include "test/matchers/status_matchers.h"
#include "topology/loader.h"

namespace tessera::drivers::rdma {
namespace {

using ::tessera::testing::FakeNetlink;
using ::tessera::testing::FakeNetworkNamespaces;
using ::tessera::testing::FakeRdmaNetlink;
using ::tessera::testing::RdmaTestNode;
using ::tessera::testing::StatusIs;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using Json = nlohmann::json;

constexpr int kContainerPid = 4242;
constexpr int kRoceIndex = 4;
constexpr char kRoceMac[] = "b8:3f:d2:00:00:04";

OpaqueConfig Config(Json params) {
  Json j = {{"apiVersion", "rdma.tessera.dev/v1alpha1"}, {"kind", "RdmaConfig"}};
  if (params.is_object()) j.update(params);
  return OpaqueConfig{"FromClaim", std::move(j)};
}

DeviceAllocation Alloc(std::string request, std::string device,
                       std::vector<OpaqueConfig> configs = {}, std::string share_id = "") {
  return DeviceAllocation{.request = std::move(request),
                          .device = std::move(device),
                          .share_id = std::move(share_id),
                          .configs = std::move(configs)};
}

ClaimPrepareRequest Claim(std::string uid, std::vector<DeviceAllocation> devices) {
  return ClaimPrepareRequest{.claim_uid = std::move(uid),
                             .claim_namespace = "default",
                             .claim_name = "c",
                             .devices = std::move(devices)};
}

const Device* FindDevice(const Inventory& inv, std::string_view name) {
  for (const Device& d : inv.devices) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

std::vector<std::string> NodePaths(const base::ContainerEdits& e) {
  std::vector<std::string> out;
  for (const base::DeviceNode& n : e.device_nodes) out.push_back(n.path);
  return out;
}

class RdmaDriverTest : public ::testing::Test {
 protected:
  void LoadNode(const std::string& root) {
    absl::StatusOr<topology::NodeTopology> t =
        topology::LoadTopology(topology::TopologySource::SysfsRoot(root));
    ASSERT_TRUE(t.ok()) << t.status();
    topology_ = std::make_shared<const topology::NodeTopology>(*std::move(t));
    sysfs_ = std::make_unique<base::DirSysfs>(root + "/sys");
  }

  // The RoCE node's host side: its up PF netdev as a real-looking link, and
  // eth0 carrying the default route.
  void SetUpRoceHost() {
    ASSERT_NO_FATAL_FAILURE(LoadNode(RdmaTestNode("cx6dx-roce")));
    FakeNetlink& host = world_.host();
    host.AddLink({.index = 1, .name = "lo", .up = true, .loopback = true, .mtu = 65536});
    host.AddLink({.index = 2, .name = "eth0", .up = true, .mtu = 1500, .mac = "02:fc:00:00:00:01"});
    host.AddLink({.index = kRoceIndex,
                  .name = "ens1f0np0",
                  .up = true,
                  .lower_up = true,
                  .mtu = 9000,
                  .min_mtu = 68,
                  .max_mtu = 9978,
                  .mac = kRoceMac,
                  .oper_state = topology::OperState::kUp});
    host.AddLink({.index = 7,
                  .name = "ens1f0v0",
                  .up = true,
                  .mtu = 1500,
                  .mac = "b8:3f:d2:00:00:07",
                  .oper_state = topology::OperState::kUp});
    host.SetDefaultRouteLinks(topology::IpFamily::kIpv4, {2});
    host.AddAddressForTest({.link_index = 2, .prefix = *topology::ParseIpPrefix("192.0.2.2/24")});
    host.AddAddressForTest(
        {.link_index = kRoceIndex, .prefix = *topology::ParseIpPrefix("10.9.0.5/24")});
    container_ = &world_.AddNamespace(kContainerPid);
    MakeNodes({"infiniband/uverbs0", "infiniband/uverbs1", "infiniband/uverbs2", "infiniband/umad0",
               "infiniband/rdma_cm"});
  }

  void MakeNodes(const std::vector<std::string>& rel) {
    for (const std::string& r : rel) {
      std::filesystem::create_directories(std::filesystem::path(dev_.Sub(r)).parent_path());
      std::ofstream(dev_.Sub(r)) << "";
    }
  }

  std::unique_ptr<RdmaDriver> Make(RdmaDriverOptions o = {}, bool with_netns = true) {
    o.dev_root = dev_.path();
    o.state_dir = state_.path();
    if (o.hook_path.empty()) {
      o.hook_path = hook_.Sub("tessera-netns-hook");
      std::ofstream(o.hook_path) << "#!/bin/sh\n";
    }
    absl::StatusOr<std::unique_ptr<RdmaDriver>> d = RdmaDriver::Create(
        std::move(o), RdmaDriverDeps{.topology = topology_,
                                     .sysfs = sysfs_.get(),
                                     .netlink = with_netns ? &world_.host() : nullptr,
                                     .namespaces = with_netns ? &world_ : nullptr,
                                     .rdma_netlink = &rdma_,
                                     .fs = fs_,
                                     .clock = clock_,
                                     .metrics = &metrics_});
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *std::move(d) : nullptr;
  }

  // What the container runtime does with the createRuntime hook of `edits`:
  // run it (the real hook logic, on the fakes) with the container's pid.
  absl::StatusOr<std::string> RunHook(const base::ContainerEdits& edits) {
    if (edits.hooks.size() != 1) return absl::InternalError("expected one hook");
    const base::Hook& h = edits.hooks[0];
    EXPECT_EQ(h.hook_name, "createRuntime");
    absl::StatusOr<HookArgs> args = ParseHookArgs(h.args);
    if (!args.ok()) return args.status();
    std::string state = base::StrCat(
        R"({"ociVersion":"1.0.2","id":"ctr","status":"creating","pid":)", kContainerPid, "}");
    return RunNetnsHook(*args, state, world_, fs_, &rdma_);
  }

  Json AttachConfig() {
    return {{"netdev", {{"attach", true}, {"mtu", 4200}, {"addresses", {"10.20.0.2/24"}}}}};
  }

  std::shared_ptr<const topology::NodeTopology> topology_;
  std::unique_ptr<base::DirSysfs> sysfs_;
  FakeNetworkNamespaces world_;
  FakeNetlink* container_ = nullptr;
  FakeRdmaNetlink rdma_;
  base::RealFilesystem fs_;
  tessera::testing::FakeClock clock_;
  base::metrics::Registry metrics_;
  tessera::testing::TempDir dev_;
  tessera::testing::TempDir state_;
  tessera::testing::TempDir hook_;
};

TEST_F(RdmaDriverTest, CreateValidatesOptions) {
  ASSERT_NO_FATAL_FAILURE(LoadNode(RdmaTestNode("cx7-ib-sriov")));
  auto make = [&](RdmaDriverOptions o) {
    return RdmaDriver::Create(
        std::move(o),
        RdmaDriverDeps{.topology = topology_, .sysfs = sysfs_.get(), .fs = fs_, .clock = clock_});
  };
  EXPECT_THAT(make({.domain = "Tessera.Dev"}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(make({.state_dir = "var/lib"}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(make({.hook_path = "tessera-netns-hook"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(make({.max_connections = 0}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RdmaDriver::Create({}, RdmaDriverDeps{.fs = fs_, .clock = clock_}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("topology")));
  EXPECT_OK(make({}).status());
}

TEST_F(RdmaDriverTest, PublishesAttributesOfAnInfiniBandPf) {
  ASSERT_NO_FATAL_FAILURE(LoadNode(RdmaTestNode("cx7-ib-sriov")));
  tessera::testing::FakeVerbs verbs;
  verbs.AddDevice("mlx5_0");
  verbs.SetPort("mlx5_0", {.number = 1, .state = 4, .active_mtu = 4096, .max_mtu = 4096});
  auto driver = *RdmaDriver::Create({.domain = "tessera.dev", .state_dir = state_.path()},
                                    RdmaDriverDeps{.topology = topology_,
                                                   .sysfs = sysfs_.get(),
                                                   .verbs = &verbs,
                                                   .fs = fs_,
                                                   .clock = clock_});
  ASSERT_OK_AND_ASSIGN(Inventory inv, driver->Enumerate());
  ASSERT_THAT(inv.devices, SizeIs(4));
  EXPECT_THAT(inv.devices, ElementsAre(Field(&Device::name, "rdma-0000-04-00-0"),
                                       Field(&Device::name, "rdma-0000-04-00-1"),
                                       Field(&Device::name, "rdma-0000-04-00-2"),
                                       Field(&Device::name, "rdma-0000-81-00-0")));
  const Device& pf = inv.devices[0];
  const std::map<std::string, AttributeValue> want = {
      {"rdmaDevice", std::string("mlx5_0")},
      {"ifName", std::string("ibp4s0")},
      {"linkLayer", std::string("InfiniBand")},
      {"portState", std::string("ACTIVE")},
      {"speedGbps", int64_t{400}},
      {"activeMtu", int64_t{4096}},
      {"nodeGUID", std::string("b83f:d203:00a1:0010")},
      {"vendor", std::string("mellanox")},
      {"model", std::string("ConnectX-7")},
      {"firmwareVersion", Version{"28.39.1002"}},
      {"sriovRole", std::string("pf")},
      {"resource.kubernetes.io/pciBusID", std::string("0000:04:00.0")},
      {"resource.kubernetes.io/pcieRoot", std::string("pci0000:00")},
      {"resource.kubernetes.io/numaNode", int64_t{0}},
      {"tessera.dev/pcieSwitch", std::string("0000:01:00.0")},
  };
  EXPECT_EQ(pf.attributes, want);
  EXPECT_EQ(pf.health, Health::kHealthy);
  EXPECT_THAT(pf.taints, IsEmpty());
  EXPECT_FALSE(pf.allow_multiple_allocations);
  EXPECT_THAT(pf.capacity, IsEmpty());

  const Device& vf = inv.devices[1];
  EXPECT_EQ(std::get<std::string>(vf.attributes.at("sriovRole")), "vf");
  EXPECT_EQ(std::get<std::string>(vf.attributes.at("sriovParent")), "0000:04:00.0");
  EXPECT_EQ(vf.attributes.at("tessera.dev/pcieSwitch"), pf.attributes.at("tessera.dev/pcieSwitch"));
}

TEST_F(RdmaDriverTest, LinkDownIsUnhealthyWithATaint) {
  ASSERT_NO_FATAL_FAILURE(LoadNode(RdmaTestNode("cx7-ib-sriov")));
  auto driver = Make();
  ASSERT_OK_AND_ASSIGN(Inventory inv, driver->Enumerate());
  const Device* down = FindDevice(inv, "rdma-0000-04-00-2");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->health, Health::kUnhealthy);
  EXPECT_THAT(down->health_message, HasSubstr("port 1 DOWN"));
  EXPECT_THAT(down->taints,
              ElementsAre(Taint{.key = "rdma.tessera.dev/link-down", .effect = "NoSchedule"}));
  EXPECT_EQ(std::get<std::string>(down->attributes.at("portState")), "DOWN");
  const Device* init = FindDevice(inv, "rdma-0000-81-00-0");
  ASSERT_NE(init, nullptr);
  EXPECT_EQ(init->health, Health::kUnhealthy);
  EXPECT_THAT(init->taints, SizeIs(1));
  EXPECT_EQ(metrics_.GetGauge("tessera_rdma_links_down", "").value(), 2);
}

TEST_F(RdmaDriverTest, NetlinkFailureIsCountedAndSysfsStatesUsed) {
  ASSERT_NO_FATAL_FAILURE(SetUpRoceHost());
  auto driver = Make();
  world_.host().FailNext(FakeNetlink::Op::kListLinks, absl::UnavailableError("netlink: ENOBUFS"));
  ASSERT_OK_AND_ASSIGN(Inventory inv, driver->Enumerate());
  EXPECT_EQ(
      metrics_.GetCounter("tessera_rdma_discovery_degraded_total", "", {{"reason", "netlink"}})
          .value(),
      1);
  EXPECT_EQ(FindDevice(inv, "rdma-0000-01-00-0")->health, Health::kHealthy);    // sysfs: up
  EXPECT_EQ(FindDevice(inv, "rdma-0000-01-00-1")->health, Health::kUnhealthy);  // sysfs: down
  ASSERT_OK(driver->Enumerate().status());
  EXPECT_EQ(
      metrics_.GetCounter("tessera_rdma_discovery_degraded_total", "", {{"reason", "netlink"}})
          .value(),
      1);
}

TEST_F(RdmaDriverTest, NotPreparableDevicesAreListedUnhealthyWithoutTaint) {
  ASSERT_NO_FATAL_FAILURE(SetUpRoceHost());
  auto driver = Make();
  ASSERT_OK_AND_ASSIGN(Inventory inv, driver->Enumerate());
  const Device* no_uverbs = FindDevice(inv, "rdma-0000-02-00-0");
  ASSERT_NE(no_uverbs, nullptr);
  EXPECT_EQ(no_uverbs->health, Health::kUnhealthy);
  EXPECT_THAT(no_uverbs->taints, IsEmpty());
  const Device* no_rdma = FindDevice(inv, "rdma-0000-03-00-0");
  ASSERT_NE(no_rdma, nullptr);
  EXPECT_FALSE(no_rdma->attributes.contains("rdmaDevice"));
  EXPECT_EQ(std::get<std::string>(no_rdma->attributes.at("ifName")), "ens3np0");
  EXPECT_THAT(driver->PrepareClaim(Claim("u1", {Alloc("nic", "rdma-0000-02-00-0")})),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("request nic, device rdma-0000-02-00-0: not preparable")));
}

TEST_F(RdmaDriverTest, SharedModePublishesCapacities) {
  ASSERT_NO_FATAL_FAILURE(LoadNode(RdmaTestNode("cx7-ib-sriov")));
  auto driver = Make({.publish_consumable_capacity = true, .max_connections = 64});
  ASSERT_OK_AND_ASSIGN(Inventory inv, driver->Enumerate());
  const Device* pf = FindDevice(inv, "rdma-0000-04-00-0");
  ASSERT_NE(pf, nullptr);
  EXPECT_TRUE(pf->allow_multiple_allocations);
  ASSERT_TRUE(pf->capacity.contains("connections"));
  EXPECT_EQ(pf->capacity.at("connections").value.ToString(), "64");
  EXPECT_EQ(pf->capacity.at("connections").request_policy->default_value->ToString(), "1");
  ASSERT_TRUE(pf->capacity.contains("bandwidth"));
  EXPECT_EQ(pf->capacity.at("bandwidth").value.ToString(), "400G");
  EXPECT_EQ(pf->capacity.at("bandwidth").request_policy->valid_range->step->ToString(), "1G");
}

TEST_F(RdmaDriverTest, PrepareGivesDeviceNodesAndEnv) {
  ASSERT_NO_FATAL_FAILURE(LoadNode(RdmaTestNode("cx7-ib-sriov")));
  MakeNodes({"infiniband/uverbs0", "infiniband/uverbs2", "infiniband/umad0", "infiniband/issm0",
             "infiniband/umad2", "infiniband/rdma_cm"});
  auto driver = Make();
  ASSERT_OK_AND_ASSIGN(
      PreparedClaim p,
      driver->PrepareClaim(
          Claim("u1", {Alloc("nic", "rdma-0000-04-00-0"),
                       Alloc("vf", "rdma-0000-04-00-1", {Config({{"ibManagement", true}})})})));
  ASSERT_THAT(p.devices, SizeIs(2));
  EXPECT_EQ(p.devices[0].request, "nic");
  EXPECT_EQ(p.devices[0].device, "rdma-0000-04-00-0");
  ASSERT_THAT(p.devices[0].edits.device_nodes, SizeIs(1));
  const base::DeviceNode& uverbs = p.devices[0].edits.device_nodes[0];
  EXPECT_EQ(uverbs.path, "/dev/infiniband/uverbs0");
  EXPECT_EQ(uverbs.host_path, dev_.Sub("infiniband/uverbs0"));
  EXPECT_EQ(uverbs.type, "c");
  EXPECT_THAT(p.devices[0].edits.hooks, IsEmpty());
  // ibManagement: umad as well; a VF has no issm.
  EXPECT_THAT(NodePaths(p.devices[1].edits),
              ElementsAre("/dev/infiniband/uverbs2", "/dev/infiniband/umad2"));
  EXPECT_THAT(NodePaths(p.claim_edits), ElementsAre("/dev/infiniband/rdma_cm"));
  EXPECT_THAT(p.claim_edits.env,
              ElementsAre("NCCL_IB_HCA==mlx5_0:1,mlx5_2:1", "UCX_NET_DEVICES=mlx5_0:1,mlx5_2:1",
                          "TESSERA_RDMA_DEVICES=mlx5_0,mlx5_2"));
  EXPECT_EQ(p.devices[0].state["rdmaDevice"], "mlx5_0");
  EXPECT_FALSE(p.devices[0].state.contains("netdev"));
  EXPECT_FALSE(driver->HasSideEffects(Claim("u1", {Alloc("nic", "rdma-0000-04-00-0")})));

  // Idempotent: the same result again.
  ASSERT_OK_AND_ASSIGN(
      PreparedClaim again,
      driver->PrepareClaim(
          Claim("u1", {Alloc("nic", "rdma-0000-04-00-0"),
                       Alloc("vf", "rdma-0000-04-00-1", {Config({{"ibManagement", true}})})})));
  EXPECT_EQ(again.devices[0].edits, p.devices[0].edits);
  EXPECT_EQ(again.devices[1].state, p.devices[1].state);
  EXPECT_EQ(again.claim_edits, p.claim_edits);
  EXPECT_OK(driver->UnprepareClaim("u1", p));
  EXPECT_OK(driver->UnprepareClaim("u1", p));
}

TEST_F(RdmaDriverTest, IbManagementOnAPfAddsTheSmInterface) {
  ASSERT_NO_FATAL_FAILURE(LoadNode(RdmaTestNode("cx7-ib-sriov")));
  MakeNodes({"infiniband/uverbs0", "infiniband/umad0", "infiniband/issm0"});
  auto driver = Make();
  ASSERT_OK_AND_ASSIGN(
      PreparedClaim p,
      driver->PrepareClaim(
          Claim("u1", {Alloc("nic", "rdma-0000-04-00-0", {Config({{"ibManagement", true}})})})));
  EXPECT_THAT(
      NodePaths(p.devices[0].edits),
      ElementsAre("/dev/infiniband/uverbs0", "/dev/infiniband/umad0", "/dev/infiniband/issm0"));
  // No rdma_cm under the dev root: not injected (the runtime would fail).
  EXPECT_THAT(p.claim_edits.device_nodes, IsEmpty());
}

TEST_F(RdmaDriverTest, MissingDeviceNodeFailsThePrepare) {
  ASSERT_NO_FATAL_FAILURE(LoadNode(RdmaTestNode("cx7-ib-sriov")));
  MakeNodes({"infiniband/uverbs0"});
  auto driver = Make();
  EXPECT_THAT(driver->PrepareClaim(Claim(
                  "u1", {Alloc("nic", "rdma-0000-04-00-0", {Config({{"ibManagement", true}})})})),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("device node /dev/infiniband/umad0 is missing on the host (" +
                                 dev_.Sub("infiniband/umad0"))));
}

TEST_F(RdmaDriverTest, PrepareErrorsNameTheRequest) {
  ASSERT_NO_FATAL_FAILURE(LoadNode(RdmaTestNode("cx7-ib-sriov")));
  MakeNodes({"infiniband/uverbs0"});
  auto driver = Make();
  EXPECT_THAT(driver->PrepareClaim(Claim("u1", {Alloc("nic", "rdma-0000-99-00-0")})),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("request nic, device rdma-0000-99-00-0: not an RDMA device")));
  EXPECT_THAT(driver->PrepareClaim(Claim("../../etc", {Alloc("nic", "rdma-0000-04-00-0")})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("claim uid")));
  EXPECT_THAT(driver->UnprepareClaim("a/b", PreparedClaim{}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(driver->PrepareClaim(
                  Claim("u1", {Alloc("nic", "rdma-0000-04-00-0", {Config({{"mtu", 9000}})})})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("request nic, device rdma-0000-04-00-0: configs[0].mtu")));
}

TEST_F(RdmaDriverTest, NetdevAttachThroughTheHookAndBack) {
  ASSERT_NO_FATAL_FAILURE(SetUpRoceHost());
  rdma_.AddDevice("mlx5_0");
  auto driver = Make();
  const ClaimPrepareRequest claim =
      Claim("u1", {Alloc("nic", "rdma-0000-01-00-0", {Config(AttachConfig())})});
  EXPECT_TRUE(driver->HasSideEffects(claim));
  ASSERT_OK_AND_ASSIGN(PreparedClaim p, driver->PrepareClaim(claim));
  ASSERT_THAT(p.devices, SizeIs(1));
  const PreparedDevice& d = p.devices[0];
  ASSERT_THAT(d.edits.hooks, SizeIs(1));
  EXPECT_EQ(d.edits.hooks[0].path, hook_.Sub("tessera-netns-hook"));
  EXPECT_EQ(d.edits.hooks[0].timeout_seconds, 30);
  const std::string state_file = state_.Sub("netns/u1-rdma-0000-01-00-0.json");
  EXPECT_THAT(d.edits.hooks[0].args,
              ElementsAre("tessera-netns-hook", "attach", "--host-interface=ens1f0np0",
                          "--container-interface=net1", "--mtu=4200", "--address=10.20.0.2/24",
                          "--state-file=" + state_file));
  EXPECT_EQ(d.state["netdev"]["hostInterface"], "ens1f0np0");
  EXPECT_EQ(d.state["netdev"]["stateFile"], state_file);
  // Prepare changed nothing on the host: the hook does, at container creation.
  EXPECT_THAT(world_.host().changes(), IsEmpty());
  EXPECT_FALSE(fs_.Exists(state_file));

  ASSERT_OK(RunHook(d.edits).status());
  std::optional<topology::NetworkLink> net1 = container_->link("net1");
  ASSERT_TRUE(net1.has_value());
  EXPECT_EQ(net1->mtu, 4200u);
  EXPECT_FALSE(world_.host().link("ens1f0np0").has_value());
  EXPECT_TRUE(fs_.Exists(state_file));

  // While attached: still listed with its interface, not reported as down.
  ASSERT_OK_AND_ASSIGN(Inventory inv, driver->Enumerate());
  const Device* dev = FindDevice(inv, "rdma-0000-01-00-0");
  ASSERT_NE(dev, nullptr);
  EXPECT_EQ(std::get<std::string>(dev->attributes.at("ifName")), "ens1f0np0");
  EXPECT_EQ(dev->health, Health::kHealthy);

  // Prepare again (the kubelet retried): same result, no host check that
  // would now fail because the link is in the pod.
  ASSERT_OK_AND_ASSIGN(PreparedClaim again, driver->PrepareClaim(claim));
  EXPECT_EQ(again.devices[0].edits, d.edits);

  ASSERT_OK(driver->UnprepareClaim("u1", p));
  std::optional<topology::NetworkLink> back = world_.host().link("ens1f0np0");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->mtu, 9000u);
  EXPECT_TRUE(back->up);
  EXPECT_FALSE(container_->link("net1").has_value());
  EXPECT_FALSE(fs_.Exists(state_file));
  EXPECT_EQ(metrics_.GetCounter("tessera_rdma_netdev_restores_total", "", {{"result", "success"}})
                .value(),
            1);
  // Idempotent.
  EXPECT_OK(driver->UnprepareClaim("u1", p));
}

TEST_F(RdmaDriverTest, UnprepareWithoutRecordedStateStillRestores) {
  // A prepare whose result never reached the checkpoint: the agent hands
  // back the devices only.
  ASSERT_NO_FATAL_FAILURE(SetUpRoceHost());
  auto driver = Make();
  const ClaimPrepareRequest claim =
      Claim("u1", {Alloc("nic", "rdma-0000-01-00-0", {Config(AttachConfig())})});
  ASSERT_OK_AND_ASSIGN(PreparedClaim p, driver->PrepareClaim(claim));
  ASSERT_OK(RunHook(p.devices[0].edits).status());
  PreparedClaim bare{.devices = {PreparedDevice{.request = "nic", .device = "rdma-0000-01-00-0"}}};
  ASSERT_OK(driver->UnprepareClaim("u1", bare));
  EXPECT_TRUE(world_.host().link("ens1f0np0").has_value());
}

TEST_F(RdmaDriverTest, UnprepareIsRetriedUntilThePhysicalNicIsBack) {
  ASSERT_NO_FATAL_FAILURE(SetUpRoceHost());
  auto driver = Make();
  ASSERT_OK_AND_ASSIGN(PreparedClaim p,
                       driver->PrepareClaim(Claim(
                           "u1", {Alloc("nic", "rdma-0000-01-00-0", {Config(AttachConfig())})})));
  ASSERT_OK(RunHook(p.devices[0].edits).status());
  // The pod died; the kernel has not handed the NIC back yet.
  std::optional<topology::NetworkLink> moved = container_->link("net1");
  ASSERT_TRUE(moved.has_value());
  world_.KillNamespace(kContainerPid);
  std::optional<topology::NetworkLink> returned = world_.host().link("net1");
  ASSERT_TRUE(returned.has_value());
  world_.host().RemoveLink(returned->index);
  EXPECT_THAT(driver->UnprepareClaim("u1", p), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(
      metrics_.GetCounter("tessera_rdma_netdev_restores_total", "", {{"result", "error"}}).value(),
      1);
  // Now it is back (under a kernel name); the retry restores it.
  returned->name = "dev7";
  world_.host().AddLink(*returned);
  ASSERT_OK(driver->UnprepareClaim("u1", p));
  std::optional<topology::NetworkLink> restored = world_.host().link("ens1f0np0");
  ASSERT_TRUE(restored.has_value());
  EXPECT_EQ(restored->mac, kRoceMac);
}

TEST_F(RdmaDriverTest, RefusesTheLinkWithTheDefaultRoute) {
  ASSERT_NO_FATAL_FAILURE(SetUpRoceHost());
  world_.host().SetDefaultRouteLinks(topology::IpFamily::kIpv4, {kRoceIndex});
  auto driver = Make();
  EXPECT_THAT(driver->PrepareClaim(
                  Claim("u1", {Alloc("nic", "rdma-0000-01-00-0", {Config(AttachConfig())})})),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("default route")));
  EXPECT_THAT(world_.host().changes(), IsEmpty());
}

TEST_F(RdmaDriverTest, AttachRefusalsBeforeAnythingChanges) {
  ASSERT_NO_FATAL_FAILURE(SetUpRoceHost());
  auto driver = Make();
  // The address is already used on another host link.
  EXPECT_THAT(
      driver->PrepareClaim(Claim(
          "u1",
          {Alloc("nic", "rdma-0000-01-00-0",
                 {Config({{"netdev", {{"attach", true}, {"addresses", {"192.0.2.2/24"}}}}})})})),
      StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("eth0")));
  // MTU above what the link supports.
  EXPECT_THAT(driver->PrepareClaim(
                  Claim("u1", {Alloc("nic", "rdma-0000-01-00-0",
                                     {Config({{"netdev", {{"attach", true}, {"mtu", 9999}}}})})})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("9999")));
  // The down PF's netdev is not a link the host netlink knows (sysfs only).
  EXPECT_THAT(driver->PrepareClaim(
                  Claim("u1", {Alloc("nic", "rdma-0000-01-00-1", {Config(AttachConfig())})})),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("ens1f1np1")));
  // A shared allocation is used through device nodes only.
  EXPECT_THAT(
      driver->PrepareClaim(Claim("u1", {Alloc("nic", "rdma-0000-01-00-0", {Config(AttachConfig())},
                                              "6d1a61f0-6e0e-4b53-9b68-0c7c2cc1a6a1")})),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shared allocation")));
  EXPECT_THAT(world_.host().changes(), IsEmpty());
  EXPECT_FALSE(std::filesystem::exists(state_.Sub("netns")));
}

TEST_F(RdmaDriverTest, TwoDevicesCannotAttachUnderOneName) {
  ASSERT_NO_FATAL_FAILURE(SetUpRoceHost());
  auto driver = Make();
  EXPECT_THAT(
      driver->PrepareClaim(Claim(
          "u1", {Alloc("a", "rdma-0000-01-00-0", {Config({{"netdev", {{"attach", true}}}})}),
                 Alloc("b", "rdma-0000-01-00-2", {Config({{"netdev", {{"attach", true}}}})})})),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("netdev.name net1 is also used by request a")));
}

TEST_F(RdmaDriverTest, FailedClaimLeavesNothingBehind) {
  ASSERT_NO_FATAL_FAILURE(SetUpRoceHost());
  auto driver = Make();
  // The first device would attach; the second is not preparable.
  EXPECT_THAT(
      driver->PrepareClaim(Claim("u1", {Alloc("a", "rdma-0000-01-00-0", {Config(AttachConfig())}),
                                        Alloc("b", "rdma-0000-03-00-0")})),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("request b")));
  EXPECT_FALSE(std::filesystem::exists(state_.Sub("netns")));
  // Nothing was recorded as attached: another claim may attach it.
  EXPECT_OK(
      driver->PrepareClaim(Claim("u2", {Alloc("a", "rdma-0000-01-00-0", {Config(AttachConfig())})}))
          .status());
}

TEST_F(RdmaDriverTest, ANetdevHeldByAnotherClaimIsRefusedAlsoAfterRestart) {
  ASSERT_NO_FATAL_FAILURE(SetUpRoceHost());
  auto driver = Make();
  ASSERT_OK_AND_ASSIGN(PreparedClaim p,
                       driver->PrepareClaim(Claim(
                           "u1", {Alloc("nic", "rdma-0000-01-00-0", {Config(AttachConfig())})})));
  ASSERT_OK(RunHook(p.devices[0].edits).status());
  const ClaimPrepareRequest other =
      Claim("u2", {Alloc("nic", "rdma-0000-01-00-0", {Config(AttachConfig())})});
  EXPECT_THAT(driver->PrepareClaim(other),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("attached to claim u1")));

  // A restarted agent learns it from the checkpoint.
  driver.reset();
  auto restarted = Make();
  ASSERT_OK(restarted->RestoreState({{"u1", p}}));
  EXPECT_THAT(restarted->PrepareClaim(other),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("attached to claim u1")));
  ASSERT_OK_AND_ASSIGN(Inventory inv, restarted->Enumerate());
  EXPECT_EQ(std::get<std::string>(FindDevice(inv, "rdma-0000-01-00-0")->attributes.at("ifName")),
            "ens1f0np0");
  ASSERT_OK(restarted->UnprepareClaim("u1", p));
  EXPECT_OK(restarted->PrepareClaim(other).status());
}

TEST_F(RdmaDriverTest, SharedAllocationsUseDeviceNodesOnly) {
  ASSERT_NO_FATAL_FAILURE(SetUpRoceHost());
  auto driver = Make({.publish_consumable_capacity = true});
  const std::string share1 = "6d1a61f0-6e0e-4b53-9b68-0c7c2cc1a6a1";
  const std::string share2 = "0b5cbbd9-1a4c-4d0e-8e0e-6f3e6a1d2c3b";
  ASSERT_OK_AND_ASSIGN(
      PreparedClaim a,
      driver->PrepareClaim(Claim("u1", {Alloc("nic", "rdma-0000-01-00-0", {}, share1)})));
  ASSERT_OK_AND_ASSIGN(
      PreparedClaim b,
      driver->PrepareClaim(Claim("u2", {Alloc("nic", "rdma-0000-01-00-0", {}, share2)})));
  EXPECT_EQ(a.devices[0].share_id, share1);
  EXPECT_EQ(a.devices[0].state["shared"], true);
  EXPECT_EQ(NodePaths(a.devices[0].edits), NodePaths(b.devices[0].edits));
  EXPECT_THAT(a.devices[0].edits.hooks, IsEmpty());
  EXPECT_FALSE(
      driver->HasSideEffects(Claim("u1", {Alloc("nic", "rdma-0000-01-00-0", {}, share1)})));
  EXPECT_OK(driver->UnprepareClaim("u1", a));
  EXPECT_OK(driver->UnprepareClaim("u2", b));
}

TEST_F(RdmaDriverTest, ExclusiveRdmaNetnsModeMovesTheRdmaDeviceToo) {
  ASSERT_NO_FATAL_FAILURE(SetUpRoceHost());
  rdma_.AddDevice("mlx5_0");
  rdma_.set_mode(RdmaNetnsMode::kExclusive);
  auto driver = Make();
  ASSERT_OK_AND_ASSIGN(PreparedClaim p,
                       driver->PrepareClaim(Claim(
                           "u1", {Alloc("nic", "rdma-0000-01-00-0", {Config(AttachConfig())})})));
  EXPECT_THAT(p.devices[0].edits.hooks[0].args, Contains("--rdma-device=mlx5_0"));
  ASSERT_OK(RunHook(p.devices[0].edits).status());
  EXPECT_THAT(rdma_.moves(), ElementsAre(HasSubstr("mlx5_0 -> ")));
}

TEST_F(RdmaDriverTest, RdmaNetnsModeDetection) {
  ASSERT_NO_FATAL_FAILURE(SetUpRoceHost());
  auto driver = Make();
  // A kernel without RDMA netlink: shared, no --rdma-device.
  rdma_.FailNext(FakeRdmaNetlink::Op::kGetNetnsMode,
                 absl::FailedPreconditionError("this kernel has no RDMA netlink"));
  ASSERT_OK_AND_ASSIGN(PreparedClaim p,
                       driver->PrepareClaim(Claim(
                           "u1", {Alloc("nic", "rdma-0000-01-00-0", {Config(AttachConfig())})})));
  EXPECT_THAT(p.devices[0].edits.hooks[0].args, Not(Contains(HasSubstr("--rdma-device"))));
  // Another error is the claim's error (retried by the kubelet).
  rdma_.FailNext(FakeRdmaNetlink::Op::kGetNetnsMode, absl::UnavailableError("netlink busy"));
  EXPECT_THAT(driver->PrepareClaim(
                  Claim("u1", {Alloc("nic", "rdma-0000-01-00-0", {Config(AttachConfig())})})),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("rdma netns mode")));
  EXPECT_THAT(DetectRdmaNetnsMode(nullptr),
              ::tessera::testing::IsOkAndHolds(RdmaNetnsMode::kShared));
}

TEST_F(RdmaDriverTest, NetdevAttachNeedsTheHookAndNamespaces) {
  ASSERT_NO_FATAL_FAILURE(SetUpRoceHost());
  const ClaimPrepareRequest claim =
      Claim("u1", {Alloc("nic", "rdma-0000-01-00-0", {Config(AttachConfig())})});
  auto no_netns = Make({}, /*with_netns=*/false);
  EXPECT_THAT(no_netns->PrepareClaim(claim),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("network namespaces")));
  auto missing_hook = Make({.hook_path = "/nonexistent/tessera-netns-hook"});
  EXPECT_THAT(missing_hook->PrepareClaim(claim),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("missing on the host")));
}

TEST_F(RdmaDriverTest, ReapplyReportsAVanishedDevRoot) {
  ASSERT_NO_FATAL_FAILURE(LoadNode(RdmaTestNode("cx7-ib-sriov")));
  MakeNodes({"infiniband/uverbs0"});
  auto driver = Make();
  ASSERT_OK_AND_ASSIGN(PreparedClaim p,
                       driver->PrepareClaim(Claim("u1", {Alloc("nic", "rdma-0000-04-00-0")})));
  EXPECT_OK(driver->ReapplyClaim("u1", p));
  std::filesystem::remove(dev_.Sub("infiniband/uverbs0"));
  EXPECT_THAT(driver->ReapplyClaim("u1", p),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("uverbs0")));
}

TEST_F(RdmaDriverTest, DeviceNodesOfASimulatedNode) {
  ASSERT_NO_FATAL_FAILURE(LoadNode(tessera::testing::BundledNodeDir()));
  auto driver = Make({.simulated = true}, false);
  std::vector<DeviceNodeInfo> nodes = driver->DeviceNodes();
  // 8 HCAs x (uverbs, umad, issm) + rdma_cm.
  ASSERT_THAT(nodes, SizeIs(25));
  EXPECT_THAT(nodes, Contains(DeviceNodeInfo{"infiniband/uverbs0", DevNumber{231, 192}}));
  EXPECT_THAT(nodes, Contains(DeviceNodeInfo{"infiniband/issm7", DevNumber{231, 71}}));
  EXPECT_THAT(nodes, Contains(DeviceNodeInfo{"infiniband/rdma_cm", std::nullopt}));
}

TEST_F(RdmaDriverTest, LinkEventsOfOurNetdevsAreRelevant) {
  ASSERT_NO_FATAL_FAILURE(SetUpRoceHost());
  auto driver = Make();
  ASSERT_OK(driver->Enumerate().status());
  using topology::LinkEvent;
  using topology::LinkEventType;
  EXPECT_TRUE(driver->IsRelevantLinkEvent({LinkEventType::kNewLink, 4, "ens1f0np0"}));
  EXPECT_TRUE(driver->IsRelevantLinkEvent({LinkEventType::kDelLink, 9, "ens3np0"}));
  EXPECT_TRUE(driver->IsRelevantLinkEvent({LinkEventType::kOverflow, 0, ""}));
  EXPECT_FALSE(driver->IsRelevantLinkEvent({LinkEventType::kNewLink, 30, "veth1234"}));
  EXPECT_FALSE(driver->IsRelevantLinkEvent({LinkEventType::kNewLink, 2, "eno1"}));
}

}  // namespace
}  // namespace tessera::drivers::rdma
