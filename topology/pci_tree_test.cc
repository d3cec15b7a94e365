#include "topology/pci_tree.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "test/fakes/base/pci_addr.h"
#include "test/matchers/status_matchers.h"

namespace tessera::topology {
namespace {

using ::tessera::testing::PciAddr;
using ::tessera::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

PciFunction Fn(std::string_view bdf, std::string root, std::vector<std::string_view> up,
               bool bridge = false) {
  PciFunction f;
  f.address = PciAddr(bdf);
  f.root_name = std::move(root);
  for (std::string_view u : up) f.upstream.push_back(PciAddr(u));
  f.is_bridge = bridge;
  f.class_code = bridge ? 0x060400 : 0x030200;
  return f;
}

TEST(ParseRootNameTest, ParsesRootComplexNames) {
  auto r = ParseRootName("pci0000:40");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->domain, 0u);
  EXPECT_EQ(r->bus, 0x40);
  auto vmd = ParseRootName("pci10000:e0");
  ASSERT_TRUE(vmd.ok());
  EXPECT_EQ(vmd->domain, 0x10000u);
  EXPECT_EQ(vmd->bus, 0xe0);
  for (std::string_view bad : {"", "pci", "pci0000", "pci0000:", "0000:40", "pci0x00:40",
                               "pci0000:400", "pcigggg:40", "platform"}) {
    EXPECT_THAT(ParseRootName(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(BuildPciTreeTest, PlacesBridgesAndDevices) {
  // Listed out of order, as readdir may return them.
  std::vector<PciFunction> fns = {
      Fn("0000:44:00.0", "pci0000:40", {"0000:40:01.1", "0000:41:00.0", "0000:42:01.0"}),
      Fn("0000:42:01.0", "pci0000:40", {"0000:40:01.1", "0000:41:00.0"}, true),
      Fn("0000:40:01.1", "pci0000:40", {}, true),
      Fn("0000:41:00.0", "pci0000:40", {"0000:40:01.1"}, true),
      Fn("0000:00:00.0", "pci0000:00", {}),
  };
  fns[1].subordinate_bus = 0x44;
  fns[2].subordinate_bus = 0x45;
  PciTree tree = BuildPciTree(fns);
  EXPECT_THAT(tree.warnings, IsEmpty());
  ASSERT_EQ(tree.roots.size(), 2u);
  EXPECT_EQ(tree.roots[0].name, "pci0000:00");
  EXPECT_EQ(tree.roots[1].name, "pci0000:40");
  EXPECT_EQ(tree.roots[1].first_bus, 0x40);
  EXPECT_EQ(tree.roots[1].last_bus, 0x45);  // widened by the root port's subordinate bus

  ASSERT_EQ(tree.bridges.size(), 3u);
  EXPECT_EQ(tree.bridges[0].address, PciAddr("0000:40:01.1"));
  EXPECT_EQ(tree.bridges[0].parent, -1);
  EXPECT_EQ(tree.bridges[0].root, 1);
  EXPECT_EQ(tree.bridges[1].address, PciAddr("0000:41:00.0"));
  EXPECT_EQ(tree.bridges[1].parent, 0);
  EXPECT_EQ(tree.bridges[2].address, PciAddr("0000:42:01.0"));
  EXPECT_EQ(tree.bridges[2].parent, 1);

  ASSERT_EQ(tree.devices.size(), 2u);
  EXPECT_EQ(tree.devices[0].address, PciAddr("0000:00:00.0"));
  EXPECT_EQ(tree.devices[0].root, 0);
  EXPECT_EQ(tree.devices[0].parent_bridge, -1);
  EXPECT_EQ(tree.devices[1].address, PciAddr("0000:44:00.0"));
  EXPECT_EQ(tree.devices[1].root, 1);
  EXPECT_EQ(tree.devices[1].parent_bridge, 2);
  EXPECT_EQ(tree.sysfs_numa_node.size(), 2u);
}

TEST(BuildPciTreeTest, AttachesBelowTheNearestKnownBridgeWhenOneVanished) {
  // 0000:41:00.0 is in the path but was not scanned (it vanished, or its
  // attributes were unreadable).
  PciTree tree = BuildPciTree({
      Fn("0000:40:01.1", "pci0000:40", {}, true),
      Fn("0000:44:00.0", "pci0000:40", {"0000:40:01.1", "0000:41:00.0"}),
  });
  ASSERT_EQ(tree.devices.size(), 1u);
  EXPECT_EQ(tree.devices[0].parent_bridge, 0);
  EXPECT_THAT(tree.warnings, ElementsAre(HasSubstr("0000:41:00.0 is not in bus/pci/devices")));
}

TEST(BuildPciTreeTest, SkipsNonBridgeFunctionsInThePath) {
  // A VMD controller (class 0x0104) sits in the path of the NVMe behind it.
  PciFunction vmd = Fn("0000:00:0e.0", "pci0000:00", {});
  vmd.class_code = 0x010400;
  PciTree tree = BuildPciTree({
      vmd,
      Fn("10000:e0:1d.0", "pci0000:00", {"0000:00:0e.0"}, true),
      Fn("10000:e1:00.0", "pci0000:00", {"0000:00:0e.0", "10000:e0:1d.0"}),
  });
  EXPECT_THAT(tree.warnings, IsEmpty());
  ASSERT_EQ(tree.bridges.size(), 1u);
  EXPECT_EQ(tree.bridges[0].parent, -1);
  ASSERT_EQ(tree.devices.size(), 2u);
  EXPECT_EQ(tree.devices[1].parent_bridge, 0);
  EXPECT_EQ(tree.devices[1].root, 0);
}

TEST(BuildPciTreeTest, KeepsDuplicatesOnceAndUnknownRootsAsNone) {
  PciFunction dup = Fn("0000:03:00.0", "", {});
  PciTree tree = BuildPciTree({dup, dup, Fn("0000:04:00.0", "garbage", {})});
  EXPECT_TRUE(tree.roots.empty());
  ASSERT_EQ(tree.devices.size(), 2u);
  EXPECT_EQ(tree.devices[0].root, -1);
  EXPECT_EQ(tree.devices[1].root, -1);
}

TEST(SortPciTreeTest, SortsAndRewritesIndices) {
  NodeTopology t;
  t.roots = {{.name = "pci0000:80", .domain = 0, .first_bus = 0x80},
             {.name = "pci0000:00", .domain = 0, .first_bus = 0x00}};
  t.bridges.resize(2);
  t.bridges[0].address = PciAddr("0000:81:00.0");
  t.bridges[0].root = 0;
  t.bridges[0].parent = 1;
  t.bridges[1].address = PciAddr("0000:80:01.0");
  t.bridges[1].root = 0;
  t.devices.resize(2);
  t.devices[0].address = PciAddr("0000:82:00.0");
  t.devices[0].root = 0;
  t.devices[0].parent_bridge = 0;
  t.devices[1].address = PciAddr("0000:00:02.0");
  t.devices[1].root = 1;
  t.links = {{.a = 0, .b = 1, .type = LinkType::kSys}};

  SortPciTree(t);
  EXPECT_EQ(t.roots[0].name, "pci0000:00");
  EXPECT_EQ(t.bridges[0].address, PciAddr("0000:80:01.0"));
  EXPECT_EQ(t.bridges[0].root, 1);
  EXPECT_EQ(t.bridges[1].parent, 0);
  EXPECT_EQ(t.devices[0].address, PciAddr("0000:00:02.0"));
  EXPECT_EQ(t.devices[0].root, 0);
  EXPECT_EQ(t.devices[1].root, 1);
  EXPECT_EQ(t.devices[1].parent_bridge, 1);
  EXPECT_EQ(t.links[0].a, 0);
  EXPECT_EQ(t.links[0].b, 1);
}

}  // namespace
}  // namespace tessera::topology
