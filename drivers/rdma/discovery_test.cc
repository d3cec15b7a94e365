#include "drivers/rdma/discovery.h"

#include <memory>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "base/command_runner.h"
#include "base/strings.h"
#include "base/sysfs.h"
#include "test/fakes/base/pci_addr.h"
#include "test/fakes/base/temp_dir.h"
#include "test/fakes/drivers/rdma/fake_verbs.h"
#include "test/fakes/drivers/rdma/test_nodes.h"
#include "test/fakes/topology/fake_netlink.h"
#include "test/fakes/topology/sysfs_tree.h"
#include "test/matchers/status_matchers.h"
#include "topology/loader.h"

namespace tessera::drivers::rdma {
namespace {

using ::tessera::testing::PciAddr;
using ::tessera::testing::RdmaTestNode;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::SizeIs;

const RdmaRecord* Find(const RdmaDiscovery& d, std::string_view bdf) {
  for (const RdmaRecord& r : d.records) {
    if (r.address == PciAddr(bdf)) return &r;
  }
  return nullptr;
}

// A node loaded the way the agent loads a --sysfs-root, plus its sysfs.
struct LoadedNode {
  topology::NodeTopology topology;
  std::unique_ptr<base::DirSysfs> sysfs;
};
LoadedNode Load(const std::string& root) {
  absl::StatusOr<topology::NodeTopology> t =
      topology::LoadTopology(topology::TopologySource::SysfsRoot(root));
  EXPECT_TRUE(t.ok()) << t.status();
  return {t.ok() ? *std::move(t) : topology::NodeTopology{},
          std::make_unique<base::DirSysfs>(root + "/sys")};
}

TEST(DiscoverRdmaTest, ConnectX7InfiniBandPfAndVfs) {
  LoadedNode node = Load(RdmaTestNode("cx7-ib-sriov"));
  RdmaDiscovery d = DiscoverRdma({.topology = node.topology, .sysfs = node.sysfs.get()});
  ASSERT_THAT(d.records, SizeIs(4));  // 3 on the ConnectX-7, 1 ConnectX-6; no GPU
  EXPECT_THAT(d.rdma_cm, Optional(DevNumber{10, 58}));

  const RdmaRecord* pf = Find(d, "0000:04:00.0");
  ASSERT_NE(pf, nullptr);
  EXPECT_EQ(pf->name, "rdma-0000-04-00-0");
  EXPECT_EQ(pf->vendor, "mellanox");
  EXPECT_EQ(pf->model, "ConnectX-7");
  EXPECT_EQ(pf->rdma_device, "mlx5_0");
  EXPECT_EQ(pf->node_guid, "b83f:d203:00a1:0010");
  EXPECT_EQ(pf->source, "sysfs");
  EXPECT_EQ(pf->sriov_role, SriovRole::kPf);
  EXPECT_EQ(pf->sriov_totalvfs, 8);
  EXPECT_EQ(pf->sriov_numvfs, 2);
  EXPECT_EQ(pf->numa_node, 0);
  EXPECT_EQ(pf->pcie_root, "pci0000:00");
  EXPECT_EQ(pf->pcie_switch, PciAddr("0000:01:00.0"));
  ASSERT_THAT(pf->ports, SizeIs(1));
  EXPECT_EQ(pf->ports[0].link_layer, LinkLayer::kInfiniBand);
  EXPECT_EQ(pf->ports[0].rate_mbps, 400000u);
  EXPECT_EQ(pf->ports[0].netdev, "ibp4s0");
  EXPECT_TRUE(pf->ports[0].usable);
  EXPECT_EQ(pf->uverbs, (RdmaCharDev{"uverbs0", 0, DevNumber{231, 192}}));
  EXPECT_THAT(pf->umad, ElementsAre(RdmaCharDev{"umad0", 1, DevNumber{231, 0}}));
  EXPECT_THAT(pf->issm, ElementsAre(RdmaCharDev{"issm0", 1, DevNumber{231, 64}}));
  EXPECT_EQ(pf->health, Health::kHealthy);
  EXPECT_TRUE(pf->preparable);
  EXPECT_EQ(pf->PrimaryNetdev(), "ibp4s0");

  // The GPU under the same switch has the same switch in the model: the
  // value both drivers publish as <domain>/pcieSwitch.
  EXPECT_EQ(node.topology.FindDevice(PciAddr("0000:03:00.0"))->pcie_switch, pf->pcie_switch);

  const RdmaRecord* vf = Find(d, "0000:04:00.1");
  ASSERT_NE(vf, nullptr);
  EXPECT_EQ(vf->sriov_role, SriovRole::kVf);
  EXPECT_EQ(vf->sriov_parent, PciAddr("0000:04:00.0"));
  EXPECT_EQ(vf->model, "ConnectX VF");
  EXPECT_EQ(vf->rdma_device, "mlx5_2");
  EXPECT_THAT(vf->issm, IsEmpty());
  EXPECT_EQ(vf->health, Health::kHealthy);

  const RdmaRecord* down = Find(d, "0000:04:00.2");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->health, Health::kUnhealthy);
  EXPECT_TRUE(down->link_down);
  EXPECT_TRUE(down->preparable);  // a tolerating claim may still use it
  EXPECT_THAT(down->health_message, HasSubstr("port 1 DOWN (LinkUp)"));
  EXPECT_EQ(down->PrimaryNetdev(), "");

  const RdmaRecord* init = Find(d, "0000:81:00.0");
  ASSERT_NE(init, nullptr);
  EXPECT_EQ(init->model, "ConnectX-6");
  EXPECT_EQ(init->numa_node, 1);
  EXPECT_EQ(init->pcie_switch, std::nullopt);
  EXPECT_EQ(init->health, Health::kUnhealthy);
  EXPECT_THAT(init->health_message, HasSubstr("INIT"));
  EXPECT_THAT(init->health_message, HasSubstr("subnet manager"));
}

TEST(DiscoverRdmaTest, RoceHealthAndMissingKernelPieces) {
  LoadedNode node = Load(RdmaTestNode("cx6dx-roce"));
  RdmaDiscovery d = DiscoverRdma({.topology = node.topology, .sysfs = node.sysfs.get()});
  // Two PF functions, one VF, the ConnectX-5 and the ConnectX-6 Lx; not the I350.
  ASSERT_THAT(d.records, SizeIs(5));
  EXPECT_EQ(Find(d, "0000:04:00.0"), nullptr);

  const RdmaRecord* up = Find(d, "0000:01:00.0");
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(up->model, "ConnectX-6 Dx");
  EXPECT_EQ(up->ports.at(0).link_layer, LinkLayer::kEthernet);
  EXPECT_EQ(up->ports.at(0).netdev, "ens1f0np0");
  EXPECT_EQ(up->health, Health::kHealthy);
  EXPECT_THAT(up->umad, SizeIs(1));
  EXPECT_THAT(up->issm, IsEmpty());

  const RdmaRecord* down = Find(d, "0000:01:00.1");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->health, Health::kUnhealthy);
  EXPECT_TRUE(down->link_down);
  EXPECT_THAT(down->health_message, HasSubstr("mlx5_1: port 1 DOWN (Disabled)"));
  EXPECT_EQ(down->sriov_role, SriovRole::kPf);  // SR-IOV capable, none enabled

  const RdmaRecord* vf = Find(d, "0000:01:00.2");
  ASSERT_NE(vf, nullptr);
  EXPECT_EQ(vf->sriov_parent, PciAddr("0000:01:00.0"));
  EXPECT_EQ(vf->node_guid, "");  // all zeros: not set

  const RdmaRecord* no_uverbs = Find(d, "0000:02:00.0");
  ASSERT_NE(no_uverbs, nullptr);
  EXPECT_EQ(no_uverbs->rdma_device, "mlx5_3");
  EXPECT_FALSE(no_uverbs->preparable);
  EXPECT_EQ(no_uverbs->health, Health::kUnhealthy);
  EXPECT_THAT(no_uverbs->health_message, HasSubstr("ib_uverbs"));
  EXPECT_FALSE(no_uverbs->link_down);

  const RdmaRecord* no_rdma = Find(d, "0000:03:00.0");
  ASSERT_NE(no_rdma, nullptr);
  EXPECT_EQ(no_rdma->rdma_device, "");
  EXPECT_FALSE(no_rdma->preparable);
  EXPECT_THAT(no_rdma->health_message, HasSubstr("mlx5_ib"));
  EXPECT_THAT(no_rdma->netdevs, ElementsAre(Field(&RdmaNetdev::name, "ens3np0")));
}

TEST(DiscoverRdmaTest, NetlinkStateWinsOverSysfs) {
  LoadedNode node = Load(RdmaTestNode("cx6dx-roce"));
  tessera::testing::FakeNetlink netlink;
  // sysfs says up; the live link says the carrier is gone.
  netlink.AddLink({.name = "ens1f0np0",
                   .up = true,
                   .mtu = 9000,
                   .oper_state = topology::OperState::kLowerLayerDown});
  netlink.AddLink({.name = "ens1f1np1", .mtu = 1500, .oper_state = topology::OperState::kDown});
  RdmaDiscovery d =
      DiscoverRdma({.topology = node.topology, .sysfs = node.sysfs.get(), .netlink = &netlink});
  EXPECT_FALSE(d.netlink_degraded);
  const RdmaRecord* r = Find(d, "0000:01:00.0");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->health, Health::kUnhealthy);
  EXPECT_TRUE(r->link_down);
  EXPECT_THAT(r->health_message, HasSubstr("port 1 link ens1f0np0 lowerlayerdown"));
}

TEST(DiscoverRdmaTest, NetlinkFailureFallsBackToSysfs) {
  LoadedNode node = Load(RdmaTestNode("cx6dx-roce"));
  tessera::testing::FakeNetlink netlink;
  netlink.FailNext(tessera::testing::FakeNetlink::Op::kListLinks,
                   absl::UnavailableError("netlink socket: no buffer space"));
  RdmaDiscovery d =
      DiscoverRdma({.topology = node.topology, .sysfs = node.sysfs.get(), .netlink = &netlink});
  EXPECT_TRUE(d.netlink_degraded);
  EXPECT_THAT(d.warnings, Contains(HasSubstr("link states from sysfs")));
  EXPECT_EQ(Find(d, "0000:01:00.0")->health, Health::kHealthy);  // sysfs: up
  EXPECT_EQ(Find(d, "0000:01:00.1")->health, Health::kUnhealthy);
}

TEST(DiscoverRdmaTest, VerbsAddTheActiveMtuAndAreOptional) {
  LoadedNode node = Load(RdmaTestNode("cx7-ib-sriov"));
  tessera::testing::FakeVerbs verbs;
  verbs.AddDevice("mlx5_0", "b83f:d203:00a1:0010");
  verbs.SetPort("mlx5_0", {.number = 1, .state = 4, .active_mtu = 4096, .max_mtu = 4096});
  RdmaDiscovery d =
      DiscoverRdma({.topology = node.topology, .sysfs = node.sysfs.get(), .verbs = &verbs});
  EXPECT_EQ(Find(d, "0000:04:00.0")->ports.at(0).active_mtu, 4096u);
  // mlx5_1 is not visible to libibverbs: not queried, no MTU.
  EXPECT_EQ(Find(d, "0000:81:00.0")->ports.at(0).active_mtu, std::nullopt);
  EXPECT_EQ(verbs.query_calls(), 1);
  EXPECT_FALSE(d.verbs_degraded);

  // A kernel without RDMA: libibverbs says ENOSYS; that is not a degradation.
  verbs.SetListError(absl::FailedPreconditionError("no RDMA support"));
  d = DiscoverRdma({.topology = node.topology, .sysfs = node.sysfs.get(), .verbs = &verbs});
  EXPECT_FALSE(d.verbs_degraded);
  EXPECT_THAT(d.warnings, IsEmpty());
  EXPECT_EQ(Find(d, "0000:04:00.0")->health, Health::kHealthy);

  verbs.SetListError(absl::PermissionDeniedError("open /dev/infiniband: permission denied"));
  d = DiscoverRdma({.topology = node.topology, .sysfs = node.sysfs.get(), .verbs = &verbs});
  EXPECT_TRUE(d.verbs_degraded);
}

TEST(DiscoverRdmaTest, BundledNodeHasEightNdrHcasPairedWithGpus) {
  LoadedNode node = Load(tessera::testing::BundledNodeDir());
  RdmaDiscovery d = DiscoverRdma({.topology = node.topology, .sysfs = node.sysfs.get()});
  ASSERT_THAT(d.records, SizeIs(8));
  int unhealthy = 0;
  for (const RdmaRecord& r : d.records) {
    EXPECT_EQ(r.model, "ConnectX-7") << r.name;
    EXPECT_TRUE(r.preparable) << r.name;
    EXPECT_EQ(r.ports.at(0).rate_mbps, 400000u) << r.name;
    EXPECT_EQ(r.sriov_role, SriovRole::kPf) << r.name;
    ASSERT_TRUE(r.pcie_switch.has_value()) << r.name;
    // Exactly one GPU shares the NIC's switch.
    int gpus = 0;
    for (const topology::PciDevice* g : node.topology.DevicesOfKind(topology::DeviceKind::kGpu)) {
      gpus += g->pcie_switch == r.pcie_switch ? 1 : 0;
    }
    EXPECT_EQ(gpus, 1) << r.name;
    if (r.health == Health::kUnhealthy) {
      ++unhealthy;
      EXPECT_EQ(r.rdma_device, "mlx5_7");
      EXPECT_TRUE(r.link_down);
    }
  }
  EXPECT_EQ(unhealthy, 1);
}

// The ConnectX-3 capture in ../shared/topologies (hwloc's test suite): a
// 2013 kernel, mlx4, no class/infiniband_verbs directory.
TEST(DiscoverRdmaTest, ConnectX3Capture) {
  const std::string shared = tessera::testing::SharedTopologiesDir();
  if (shared.empty()) GTEST_SKIP() << "../shared/topologies is absent; capture test skipped";
  tessera::testing::TempDir dir;
  base::ProcessCommandRunner runner;
  auto tar = runner.Run(
      {.argv = {"tar", "-xjf",
                shared +
                    "/hwloc-32em64t-2n8c-mlx4-mic-nvme/32em64t-2n8c+dax+nvme+mic+dimms.tar.bz2",
                "-C", dir.path()},
       .timeout = std::chrono::seconds(60)});
  ASSERT_TRUE(tar.ok() && tar->exit_code == 0) << "tar failed";
  const std::string root = dir.Sub("32em64t-2n8c+1mic");
  LoadedNode node = Load(root);
  RdmaDiscovery d = DiscoverRdma({.topology = node.topology, .sysfs = node.sysfs.get()});
  ASSERT_THAT(d.records, SizeIs(1));  // scif0 (Xeon Phi) is not a PCI RDMA function
  const RdmaRecord& r = d.records[0];
  EXPECT_EQ(r.address, PciAddr("0000:82:00.0"));
  EXPECT_EQ(r.model, "ConnectX-3");
  EXPECT_EQ(r.driver, "mlx4_core");
  EXPECT_EQ(r.rdma_device, "mlx4_0");
  EXPECT_EQ(r.node_guid, "0002:c903:00f9:bfa0");
  EXPECT_EQ(r.fw_version, "2.11.500");
  EXPECT_EQ(r.numa_node, 1);
  ASSERT_THAT(r.ports, SizeIs(1));
  EXPECT_EQ(r.ports[0].state, PortState::kActive);
  EXPECT_EQ(r.ports[0].rate_mbps, 56000u);
  EXPECT_EQ(r.ports[0].link_layer, LinkLayer::kInfiniBand);
  EXPECT_EQ(r.ports[0].netdev, "ib0");  // no dev_port in 2013: the only netdev
  EXPECT_EQ(r.uverbs, (RdmaCharDev{"uverbs0", 0, DevNumber{231, 192}}));
  EXPECT_THAT(r.umad, ElementsAre(RdmaCharDev{"umad0", 1, DevNumber{231, 0}}));
  EXPECT_EQ(r.health, Health::kHealthy);
}

// JURECA-DC: an hwloc XML export, so no sysfs: everything from the OS
// devices hwloc recorded.
TEST(DiscoverRdmaTest, JurecaXmlFromHwlocOsDevices) {
  const std::string shared = tessera::testing::SharedTopologiesDir();
  if (shared.empty()) GTEST_SKIP() << "../shared/topologies is absent; capture test skipped";
  absl::StatusOr<topology::NodeTopology> t =
      topology::LoadTopology(topology::TopologySource::HwlocXml(
          shared + "/xml-psmgmt-jurecadc-4xa100-4xhdr/topo.jrc0323.xml"));
  ASSERT_TRUE(t.ok()) << t.status();
  RdmaDiscovery d = DiscoverRdma({.topology = *t});
  ASSERT_THAT(d.records, SizeIs(4));
  std::set<std::string> names;
  for (const RdmaRecord& r : d.records) {
    names.insert(r.rdma_device);
    EXPECT_EQ(r.source, "hwloc");
    EXPECT_EQ(r.model, "ConnectX-6") << r.name;
    ASSERT_THAT(r.ports, SizeIs(1)) << r.name;
    EXPECT_EQ(r.ports[0].state, PortState::kActive);
    // 20-byte hardware address: IPoIB, so the port is InfiniBand.
    EXPECT_EQ(r.ports[0].link_layer, LinkLayer::kInfiniBand);
    EXPECT_TRUE(base::StartsWith(r.PrimaryNetdev(), "ib")) << r.PrimaryNetdev();
    EXPECT_FALSE(r.node_guid.empty());
    // No uverbs in an XML export: listed, not preparable.
    EXPECT_FALSE(r.preparable);
  }
  EXPECT_EQ(names, (std::set<std::string>{"mlx5_0", "mlx5_1", "mlx5_2", "mlx5_3"}));

  // Simulated: char devices named as a kernel registering in name order would.
  d = DiscoverRdma({.topology = *t, .synthesize_char_devices = true});
  for (const RdmaRecord& r : d.records) {
    ASSERT_TRUE(r.uverbs.has_value());
    EXPECT_EQ(r.uverbs->name, "uverbs" + r.rdma_device.substr(5)) << r.rdma_device;
    EXPECT_EQ(r.uverbs->dev, std::nullopt);
    EXPECT_THAT(r.issm, SizeIs(1));
    EXPECT_TRUE(r.preparable);
    EXPECT_EQ(r.health, Health::kHealthy);
  }
}

}  // namespace
}  // namespace tessera::drivers::rdma
