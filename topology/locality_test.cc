#include "topology/locality.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "test/fakes/base/pci_addr.h"

namespace tessera::topology {
namespace {

using ::tessera::testing::PciAddr;
using ::testing::ElementsAre;
using ::testing::Optional;

base::CpuSet Cpus(std::string_view list) { return *base::CpuSet::ParseList(list); }

std::vector<NumaNode> TwoNodes() {
  return {{.id = 0, .cpus = Cpus("0-3")}, {.id = 1, .cpus = Cpus("4-7")}};
}

TEST(ResolveNumaNodeTest, FollowsTheDocumentedRule) {
  const std::vector<NumaNode> nodes = TwoNodes();
  struct Case {
    std::optional<int> sysfs;
    std::string_view local;
    std::optional<int> want;
    std::string_view why;
  };
  const Case cases[] = {
      {1, "0-3", 1, "numa_node >= 0 wins, even against local_cpus"},
      {0, "", 0, "numa_node >= 0 needs no cpus"},
      {-1, "4-7", 1, "-1: the node covering local_cpus"},
      {-1, "5", 1, "-1: a subset is covered"},
      {std::nullopt, "0-2", 0, "absent (hwloc XML): same as -1"},
      {-1, "0-7", std::nullopt, "local to several nodes"},
      {-1, "3-4", std::nullopt, "straddles two nodes"},
      {-1, "", std::nullopt, "local to no cpu"},
      {-1, "8-9", std::nullopt, "cpus of no node"},
      {7, "0-3", std::nullopt, "a node the machine does not have"},
      {-5, "0-3", std::nullopt, "garbage below -1"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ResolveNumaNode(c.sysfs, Cpus(c.local), nodes), c.want) << c.why;
  }
}

TEST(ResolveNumaNodeTest, IgnoresCpulessNodes) {
  // A CXL memory node has no CPUs; it never covers a device's CPUs.
  std::vector<NumaNode> nodes = TwoNodes();
  nodes.push_back({.id = 2});
  EXPECT_THAT(ResolveNumaNode(-1, Cpus("0-1"), nodes), Optional(0));
}

// A tiny tree builder: bridges by address with a parent index.
struct TreeBuilder {
  std::vector<PciBridge> bridges;
  int Add(std::string_view bdf, int parent, PciePortType type = PciePortType::kUnknown) {
    PciBridge b;
    b.address = PciAddr(bdf);
    b.parent = parent;
    b.root = 0;
    b.port_type = type;
    bridges.push_back(b);
    return static_cast<int>(bridges.size()) - 1;
  }
  std::vector<bool> Upstream() {
    MarkSwitchUpstreamPorts(bridges);
    std::vector<bool> out;
    for (const PciBridge& b : bridges) out.push_back(b.switch_upstream);
    return out;
  }
};

TEST(MarkSwitchUpstreamPortsTest, UsesPortTypesWhenKnown) {
  TreeBuilder t;
  int rp = t.Add("0000:40:01.0", -1, PciePortType::kRootPort);
  int up = t.Add("0000:41:00.0", rp, PciePortType::kSwitchUpstream);
  int dn = t.Add("0000:42:00.0", up, PciePortType::kSwitchDownstream);
  t.Add("0000:43:00.0", dn, PciePortType::kPcieToPciBridge);
  EXPECT_THAT(t.Upstream(), ElementsAre(false, true, false, false));
}

TEST(MarkSwitchUpstreamPortsTest, InfersASwitchFromTheShape) {
  // Root port -> upstream -> two downstream ports (hwloc XML: no port types).
  TreeBuilder t;
  int rp = t.Add("0000:40:01.1", -1);
  int up = t.Add("0000:41:00.0", rp);
  t.Add("0000:42:00.0", up);
  t.Add("0000:42:01.0", up);
  EXPECT_THAT(t.Upstream(), ElementsAre(false, true, false, false));
}

TEST(MarkSwitchUpstreamPortsTest, SingleDownstreamSwitchAsOnAnMi50) {
  // AMD MI50: root port -> 1002:14a0 (upstream) -> 1002:14a1 (downstream) -> GPU.
  TreeBuilder t;
  int rp = t.Add("0000:00:01.1", -1);
  int up = t.Add("0000:01:00.0", rp);
  t.Add("0000:02:00.0", up);
  EXPECT_THAT(t.Upstream(), ElementsAre(false, true, false));
}

TEST(MarkSwitchUpstreamPortsTest, BmcBridgeIsNotASwitch) {
  // Root port -> ASPEED AST1150 PCIe-to-PCI bridge -> VGA: no switch.
  TreeBuilder t;
  int rp = t.Add("0000:60:05.2", -1);
  t.Add("0000:61:00.0", rp);
  EXPECT_THAT(t.Upstream(), ElementsAre(false, false));
}

TEST(MarkSwitchUpstreamPortsTest, PcieToPciBridgeBelowASwitchIsNotOne) {
  // root port -> upstream -> downstream -> AST1150 -> VGA.
  TreeBuilder t;
  int rp = t.Add("0000:60:01.0", -1);
  int up = t.Add("0000:61:00.0", rp);
  int dn = t.Add("0000:62:00.0", up);
  t.Add("0000:63:00.0", dn);
  EXPECT_THAT(t.Upstream(), ElementsAre(false, true, false, false));
}

TEST(MarkSwitchUpstreamPortsTest, CascadedSwitches) {
  // root port -> U1 -> D1 -> U2 -> {D2a, D2b}: both U1 and U2 are switches.
  TreeBuilder t;
  int rp = t.Add("0000:15:01.0", -1);
  int u1 = t.Add("0000:16:00.0", rp);
  int d1 = t.Add("0000:17:00.0", u1);
  int u2 = t.Add("0000:18:00.0", d1);
  t.Add("0000:19:00.0", u2);
  t.Add("0000:19:01.0", u2);
  EXPECT_THAT(t.Upstream(), ElementsAre(false, true, false, true, false, false));
}

TEST(MarkSwitchUpstreamPortsTest, HiddenRootPort) {
  // Some platforms show the switch's upstream port directly on the root bus.
  TreeBuilder t;
  int up = t.Add("0000:a0:00.0", -1);
  t.Add("0000:a1:00.0", up);
  t.Add("0000:a1:01.0", up);
  EXPECT_THAT(t.Upstream(), ElementsAre(true, false, false));
}

TEST(MarkSwitchUpstreamPortsTest, SurvivesParentCycles) {
  TreeBuilder t;
  t.Add("0000:01:00.0", 1);
  t.Add("0000:02:00.0", 0);
  EXPECT_THAT(t.Upstream(), ElementsAre(false, false));
}

TEST(NearestSwitchUpstreamTest, FindsTheClosestUpstreamPort) {
  TreeBuilder t;
  int rp = t.Add("0000:15:01.0", -1);
  int u1 = t.Add("0000:16:00.0", rp);
  int d1 = t.Add("0000:17:00.0", u1);
  int u2 = t.Add("0000:18:00.0", d1);
  int d2 = t.Add("0000:19:00.0", u2);
  t.Add("0000:19:01.0", u2);
  MarkSwitchUpstreamPorts(t.bridges);
  EXPECT_THAT(NearestSwitchUpstream(t.bridges, d2), Optional(PciAddr("0000:18:00.0")));
  EXPECT_THAT(NearestSwitchUpstream(t.bridges, d1), Optional(PciAddr("0000:16:00.0")));
  EXPECT_EQ(NearestSwitchUpstream(t.bridges, rp), std::nullopt);
  EXPECT_EQ(NearestSwitchUpstream(t.bridges, -1), std::nullopt);
  EXPECT_EQ(NearestSwitchUpstream(t.bridges, 99), std::nullopt);
}

// Two roots on NUMA node 0, one on node 1:
//   pci0000:15: rp 15:01.0 -> U1 16:00.0 -> {D 17:00.0 -> U2 18:00.0 -> {19:00.0 -> GPU0 1a,
//               19:01.0 -> NIC0 1b}, D 17:01.0 -> GPU1 1c}; rp 15:05.0 -> NIC 20:00.0
//   pci0000:37: GPU2 38:00.0 directly on the root bus
//   pci0000:97: NIC 98:00.0 on node 1
class RelationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t_.numa_nodes = TwoNodes();
    t_.roots = {{.name = "pci0000:15"}, {.name = "pci0000:37"}, {.name = "pci0000:97"}};
    auto bridge = [&](std::string_view bdf, int parent) {
      PciBridge b;
      b.address = PciAddr(bdf);
      b.parent = parent;
      b.root = 0;
      t_.bridges.push_back(b);
      return static_cast<int>(t_.bridges.size()) - 1;
    };
    int rp = bridge("0000:15:01.0", -1);
    int u1 = bridge("0000:16:00.0", rp);
    int d1a = bridge("0000:17:00.0", u1);
    int d1b = bridge("0000:17:01.0", u1);
    int u2 = bridge("0000:18:00.0", d1a);
    int d2a = bridge("0000:19:00.0", u2);
    int d2b = bridge("0000:19:01.0", u2);
    int rp2 = bridge("0000:15:05.0", -1);
    auto device = [&](std::string_view bdf, int root, int parent, DeviceKind kind, int numa) {
      PciDevice d;
      d.address = PciAddr(bdf);
      d.root = root;
      d.parent_bridge = parent;
      d.kind = kind;
      d.numa_node = numa;
      t_.devices.push_back(d);
    };
    device("0000:1a:00.0", 0, d2a, DeviceKind::kGpu, 0);   // 0 GPU0
    device("0000:1b:00.0", 0, d2b, DeviceKind::kRdma, 0);  // 1 NIC0
    device("0000:1c:00.0", 0, d1b, DeviceKind::kGpu, 0);   // 2 GPU1
    device("0000:20:00.0", 0, rp2, DeviceKind::kNic, 0);   // 3 onboard NIC
    device("0000:38:00.0", 1, -1, DeviceKind::kNpu, 0);    // 4 NPU
    device("0000:98:00.0", 2, -1, DeviceKind::kRdma, 1);   // 5 NIC on node 1
    device("0000:99:00.0", 2, -1, DeviceKind::kOther, 1);  // 6 NVMe
  }
  LinkType Rel(int a, int b) {
    return RelationBetween(t_, t_.devices[static_cast<size_t>(a)],
                           t_.devices[static_cast<size_t>(b)]);
  }
  NodeTopology t_;
};

TEST_F(RelationTest, FollowsNvidiaSmiMeanings) {
  EXPECT_EQ(Rel(0, 1), LinkType::kPix);  // one switch (U2) between them
  EXPECT_EQ(Rel(1, 0), LinkType::kPix);  // symmetric
  EXPECT_EQ(Rel(0, 2), LinkType::kPxb);  // common U1, GPU0 has 3 bridges below it
  EXPECT_EQ(Rel(1, 2), LinkType::kPxb);
  EXPECT_EQ(Rel(0, 3), LinkType::kPhb);   // same root complex, different root ports
  EXPECT_EQ(Rel(0, 4), LinkType::kNode);  // different roots, both on node 0
  EXPECT_EQ(Rel(0, 5), LinkType::kSys);   // node 0 vs node 1
}

TEST_F(RelationTest, UsesCpuLocalityWhenTheNumaNodeIsUnknown) {
  t_.devices[4].numa_node.reset();
  t_.devices[4].local_cpus = Cpus("0-3");
  EXPECT_EQ(Rel(0, 4), LinkType::kNode);
  t_.devices[4].local_cpus = Cpus("0-7");  // local to both nodes: not the same locality
  EXPECT_EQ(Rel(0, 4), LinkType::kSys);
  t_.devices[0].numa_node.reset();
  t_.devices[0].local_cpus = Cpus("0-7");
  EXPECT_EQ(Rel(0, 4), LinkType::kNode);  // same (whole-machine) locality
  t_.devices[0].local_cpus = base::CpuSet();
  t_.devices[4].local_cpus = base::CpuSet();
  EXPECT_EQ(Rel(0, 4), LinkType::kSys);  // no locality at all: never NODE
}

TEST_F(RelationTest, UnknownRootsAreNeverPhb) {
  t_.devices[3].root = -1;
  t_.devices[0].root = -1;
  EXPECT_EQ(Rel(0, 3), LinkType::kNode);
}

TEST_F(RelationTest, LinksCoverAcceleratorPairsOnly) {
  std::vector<Link> links = ComputeLinks(t_);
  std::vector<std::pair<int, int>> pairs;
  for (const Link& l : links) {
    pairs.emplace_back(l.a, l.b);
    EXPECT_EQ(l.type, Rel(l.a, l.b));
  }
  // GPU0, GPU1, NPU x (each other and every NIC); no NIC-NIC pair, no NVMe.
  EXPECT_THAT(pairs,
              ElementsAre(std::pair(0, 1), std::pair(0, 2), std::pair(0, 3), std::pair(0, 4),
                          std::pair(0, 5), std::pair(1, 2), std::pair(1, 4), std::pair(2, 3),
                          std::pair(2, 4), std::pair(2, 5), std::pair(3, 4), std::pair(4, 5)));
}

}  // namespace
}  // namespace tessera::topology
