// RdmaDriver's netdev attach against the real kernel (root only): a fake
// sysfs tree says the RoCE function's netdev is "tsa", a veth that really
// exists in a throwaway "host" namespace; PrepareClaim checks it there and
// returns CDI edits; the createRuntime hook in those edits is run as the
// runtime would (tessera-netns-hook, inside the host namespace, OCI state of
// a throwaway "container" process on stdin); UnprepareClaim brings it back.
// Checked with iproute2. Skips without root, ip or nsenter.
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "base/filesystem.h"
#include "drivers/rdma/rdma_driver.h"
#include "test/fakes/base/fake_clock.h"
#include "test/fakes/base/temp_dir.h"
#include "test/fakes/topology/sysfs_tree.h"
#include "test/matchers/status_matchers.h"
#include "test/netns/net_sandbox.h"
#include "topology/loader.h"
#include "topology/netns.h"

namespace tessera::drivers::rdma {
namespace {

using ::tessera::testing::CmdResult;
using ::tessera::testing::InNetns;
using ::tessera::testing::Ip;
using ::tessera::testing::IpAddrs;
using ::tessera::testing::IpLink;
using ::tessera::testing::LinkFingerprint;
using ::tessera::testing::NetnsProcess;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class RdmaDriverNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!tessera::testing::IsRoot()) GTEST_SKIP() << "needs root to create network namespaces";
    if (!tessera::testing::HaveProgram("ip") || !tessera::testing::HaveProgram("nsenter")) {
      GTEST_SKIP() << "needs iproute2 (ip) and nsenter";
    }
    host_ = std::make_unique<NetnsProcess>();
    ctr_ = std::make_unique<NetnsProcess>();
    ASSERT_TRUE(host_->ok() && ctr_->ok());
    HostIp({"link", "add", "tsa", "type", "veth", "peer", "name", "tsb"});
    HostIp({"addr", "add", "10.80.0.1/24", "brd", "+", "dev", "tsa"});
    HostIp({"link", "set", "tsa", "up"});
    HostIp({"link", "set", "tsb", "up"});
    HostIp({"link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"});
    HostIp({"addr", "add", "192.0.2.2/24", "dev", "eth0"});
    HostIp({"link", "set", "eth0", "up"});
    HostIp({"link", "set", "eth0p", "up"});
    HostIp({"route", "add", "default", "via", "192.0.2.1", "dev", "eth0"});
    before_ = LinkFingerprint(host_->pid(), "tsa");
    ASSERT_NO_FATAL_FAILURE(WriteNode());
  }

  void HostIp(std::vector<std::string> args) {
    CmdResult r = Ip(host_->pid(), args);
    ASSERT_EQ(r.exit_code, 0) << "ip " << base::Join(args, " ") << ": " << r.err;
  }

  // A one-NIC node: a ConnectX-6 Dx in RoCE mode whose port-1 netdev is
  // `tsa` (mlx5_0, uverbs0), and one whose netdev is `eth0`.
  void WriteNode() {
    tessera::testing::SysfsTree tree(node_.path());
    tree.AddCpus(4, 1);
    tree.AddPci({.bdf = "0000:00:02.0",
                 .vendor = 0x8086,
                 .device = 0x352a,
                 .class_code = 0x060400,
                 .bridge = true,
                 .secondary = 1,
                 .subordinate = 2,
                 .port_type = 4});
    int i = 0;
    for (const char* netdev : {"tsa", "eth0"}) {
      const std::string bdf = base::StrCat("0000:01:00.", i);
      const std::string ib = base::StrCat("mlx5_", i);
      const std::string dir = tree.AddPci({.bdf = bdf,
                                           .upstream = {"0000:00:02.0"},
                                           .vendor = 0x15b3,
                                           .device = 0x101d,
                                           .class_code = 0x020000,
                                           .port_type = 0,
                                           .driver = "mlx5_core"});
      const std::string ibdir = tree.AddClassDevice("infiniband", ib, dir);
      tree.File("sys/" + ibdir + "/node_guid", "b83f:d203:0002:0a00\n");
      tree.File("sys/" + ibdir + "/ports/1/state", "4: ACTIVE\n");
      tree.File("sys/" + ibdir + "/ports/1/link_layer", "Ethernet\n");
      tree.File("sys/" + ibdir + "/ports/1/gid_attrs/ndevs/0", std::string(netdev) + "\n");
      const std::string uv =
          tree.AddClassDevice("infiniband_verbs", base::StrCat("uverbs", i), dir);
      tree.File("sys/" + uv + "/ibdev", ib + "\n");
      tree.File("sys/" + uv + "/dev", base::StrCat("231:", 192 + i, "\n"));
      const std::string net = tree.AddClassDevice("net", netdev, dir);
      tree.File("sys/" + net + "/operstate", "up\n");
      std::filesystem::create_directories(dev_.Sub("infiniband"));
      std::ofstream(dev_.Sub(base::StrCat("infiniband/uverbs", i))) << "";
      ++i;
    }
  }

  std::unique_ptr<RdmaDriver> Driver() {
    auto t = topology::LoadTopology(topology::TopologySource::SysfsRoot(node_.path()));
    EXPECT_TRUE(t.ok()) << t.status();
    sysfs_ = std::make_unique<base::DirSysfs>(node_.Sub("sys"));
    auto d = RdmaDriver::Create(
        {.dev_root = dev_.path(),
         .state_dir = state_.path(),
         .hook_path = TESSERA_NETNS_HOOK_PATH,
         .host_netns_path = host_->netns_path()},
        RdmaDriverDeps{.topology = std::make_shared<const topology::NodeTopology>(*std::move(t)),
                       .sysfs = sysfs_.get(),
                       .namespaces = &namespaces_,
                       .fs = fs_,
                       .clock = clock_});
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *std::move(d) : nullptr;
  }

  ClaimPrepareRequest Claim(std::string device, nlohmann::json netdev) {
    return {.claim_uid = "c1",
            .claim_namespace = "default",
            .claim_name = "c",
            .devices = {DeviceAllocation{.request = "nic",
                                         .device = std::move(device),
                                         .configs = {{"FromClaim",
                                                      {{"apiVersion", "rdma.tessera.dev/v1alpha1"},
                                                       {"kind", "RdmaConfig"},
                                                       {"netdev", std::move(netdev)}}}}}}};
  }

  // The runtime: run the hook of `edits` in the host namespace with the
  // container's OCI state on stdin.
  CmdResult RunHook(const base::ContainerEdits& edits) {
    EXPECT_EQ(edits.hooks.size(), 1u);
    const base::Hook& h = edits.hooks.at(0);
    std::vector<std::string> argv = {h.path};
    argv.insert(argv.end(), h.args.begin() + 1, h.args.end());  // args[0] is the name
    std::string state = base::StrCat(R"({"ociVersion":"1.0.2","id":"ctr","status":"creating",)",
                                     R"("pid":)", ctr_->pid(), "}");
    return tessera::testing::RunCommand(InNetns(host_->pid(), std::move(argv)), state);
  }

  std::unique_ptr<NetnsProcess> host_;
  std::unique_ptr<NetnsProcess> ctr_;
  tessera::testing::TempDir node_, dev_, state_;
  std::unique_ptr<base::DirSysfs> sysfs_;
  base::RealFilesystem fs_;
  tessera::testing::FakeClock clock_;
  topology::ProcNetworkNamespaces namespaces_;
  std::string before_;
};

TEST_F(RdmaDriverNetnsTest, PrepareEditsAttachThroughTheHookAndUnprepareRestores) {
  std::unique_ptr<RdmaDriver> driver = Driver();
  ASSERT_NE(driver, nullptr);
  ASSERT_OK_AND_ASSIGN(
      PreparedClaim p,
      driver->PrepareClaim(Claim(
          "rdma-0000-01-00-0",
          {{"attach", true}, {"name", "net1"}, {"mtu", 1400}, {"addresses", {"10.81.0.2/24"}}})));
  // Prepare changed nothing yet.
  EXPECT_EQ(LinkFingerprint(host_->pid(), "tsa"), before_);

  CmdResult hook = RunHook(p.devices.at(0).edits);
  ASSERT_EQ(hook.exit_code, 0) << hook.err;
  EXPECT_FALSE(IpLink(host_->pid(), "tsa").has_value());
  std::optional<nlohmann::json> net1 = IpLink(ctr_->pid(), "net1");
  ASSERT_TRUE(net1.has_value());
  EXPECT_EQ(net1->value("mtu", 0), 1400);
  EXPECT_THAT(IpAddrs(ctr_->pid(), "net1"), ElementsAre("10.81.0.2/24"));

  ASSERT_OK(driver->UnprepareClaim("c1", p));
  EXPECT_EQ(LinkFingerprint(host_->pid(), "tsa"), before_);
  EXPECT_FALSE(IpLink(ctr_->pid(), "net1").has_value());
  EXPECT_OK(driver->UnprepareClaim("c1", p));
}

TEST_F(RdmaDriverNetnsTest, RefusedAtPrepareWithTheLinkUntouched) {
  std::unique_ptr<RdmaDriver> driver = Driver();
  ASSERT_NE(driver, nullptr);
  // The NIC whose netdev carries the host's default route.
  EXPECT_THAT(driver->PrepareClaim(Claim("rdma-0000-01-00-1", {{"attach", true}})),
              ::tessera::testing::StatusIs(absl::StatusCode::kFailedPrecondition,
                                           HasSubstr("default route")));
  // An address the host already uses.
  EXPECT_THAT(driver->PrepareClaim(
                  Claim("rdma-0000-01-00-0", {{"attach", true}, {"addresses", {"192.0.2.2/24"}}})),
              ::tessera::testing::StatusIs(absl::StatusCode::kAlreadyExists));
  // A netdev name the hook would not accept.
  EXPECT_THAT(driver->PrepareClaim(Claim("rdma-0000-01-00-0", {{"attach", true}, {"name", "a b"}})),
              ::tessera::testing::StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(LinkFingerprint(host_->pid(), "tsa"), before_);
  EXPECT_TRUE(IpLink(host_->pid(), "eth0").has_value());
}

}  // namespace
}  // namespace tessera::drivers::rdma
