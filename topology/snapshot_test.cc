#include "topology/snapshot.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/fakes/base/temp_dir.h"
#include "test/fakes/topology/sysfs_tree.h"
#include "test/matchers/status_matchers.h"
#include "topology/loader.h"

namespace tessera::topology {
namespace {

using ::tessera::testing::BundledNodeDir;
using ::tessera::testing::StatusIs;
using ::tessera::testing::SysfsTree;
using ::tessera::testing::TempDir;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

// The model loaded from a snapshot equals the model of its source.
void ExpectSameModel(NodeTopology a, NodeTopology b) {
  a.source.clear();
  b.source.clear();
  EXPECT_EQ(a.numa_nodes, b.numa_nodes);
  EXPECT_EQ(a.roots, b.roots);
  EXPECT_EQ(a.bridges, b.bridges);
  ASSERT_EQ(a.devices.size(), b.devices.size());
  for (size_t i = 0; i < a.devices.size(); ++i) {
    EXPECT_EQ(a.devices[i], b.devices[i]) << a.devices[i].address.ToString();
  }
  EXPECT_EQ(a.links, b.links);
  EXPECT_EQ(a, b);
}

TEST(SnapshotTest, BundledNodeRoundTrips) {
  auto original = LoadTopology(TopologySource::SysfsRoot(BundledNodeDir()));
  ASSERT_TRUE(original.ok()) << original.status();

  TempDir dir;
  const std::string out = dir.Sub("snap");
  auto stats = WriteSnapshot(BundledNodeDir(), out);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GT(stats->files, 100u);
  EXPECT_GT(stats->links, 50u);

  auto reloaded = LoadTopology(TopologySource::SysfsRoot(out));
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  ExpectSameModel(*original, *reloaded);

  // The hwloc export beside it is a usable topology of the same node.
  auto from_xml = LoadTopology(TopologySource::HwlocXml(out + "/hwloc.xml"));
  ASSERT_TRUE(from_xml.ok()) << from_xml.status();
  EXPECT_EQ(from_xml->numa_nodes, original->numa_nodes);
  ASSERT_EQ(from_xml->devices.size(), original->devices.size());
  for (size_t i = 0; i < from_xml->devices.size(); ++i) {
    const PciDevice& x = from_xml->devices[i];
    const PciDevice& o = original->devices[i];
    EXPECT_EQ(x.address, o.address);
    EXPECT_EQ(x.kind, o.kind) << x.address.ToString();
    EXPECT_EQ(x.numa_node, o.numa_node) << x.address.ToString();
    EXPECT_EQ(from_xml->PcieRootName(x), original->PcieRootName(o));
    EXPECT_EQ(x.pcie_switch, o.pcie_switch) << x.address.ToString();
  }
  EXPECT_EQ(from_xml->links, original->links);
}

TEST(SnapshotTest, SnapshotOfASnapshotIsTheSame) {
  TempDir dir;
  ASSERT_TRUE(WriteSnapshot(BundledNodeDir(), dir.Sub("one")).ok());
  ASSERT_TRUE(WriteSnapshot(dir.Sub("one"), dir.Sub("two")).ok());
  auto one = LoadTopology(TopologySource::SysfsRoot(dir.Sub("one")));
  auto two = LoadTopology(TopologySource::SysfsRoot(dir.Sub("two")));
  ASSERT_TRUE(one.ok() && two.ok());
  ExpectSameModel(*one, *two);
}

TEST(SnapshotTest, AbsoluteLinksBecomeRelative) {
  TempDir dir;
  SysfsTree tree(dir.Sub("src"));
  tree.AddCpus(4, 1);
  tree.AddPci({.bdf = "0000:00:0a.0", .vendor = 0x15b3, .device = 0x1017});
  fs::remove(tree.sys() + "/bus/pci/devices/0000:00:0a.0");
  tree.Link("sys/bus/pci/devices/0000:00:0a.0", "/sys/devices/pci0000:00/0000:00:0a.0");
  ASSERT_TRUE(WriteSnapshot(tree.root(), dir.Sub("out")).ok());
  const std::string target = fs::read_symlink(dir.Sub("out/sys/bus/pci/devices/0000:00:0a.0"));
  EXPECT_EQ(target, "../../../devices/pci0000:00/0000:00:0a.0");
  auto t = LoadTopology(TopologySource::SysfsRoot(dir.Sub("out")));
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->devices.size(), 1u);
  EXPECT_EQ(t->devices[0].kind, DeviceKind::kRdma);
}

TEST(SnapshotTest, RefusesANonEmptyDestination) {
  TempDir dir;
  std::ofstream(dir.Sub("keep.txt")) << "mine";
  EXPECT_THAT(WriteSnapshot(BundledNodeDir(), dir.path()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not empty")));
  EXPECT_THAT(WriteSnapshot(BundledNodeDir(), dir.Sub("keep.txt")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a directory")));
  EXPECT_TRUE(fs::exists(dir.Sub("keep.txt")));
}

TEST(SnapshotTest, UnwritableDestinationIsAnError) {
  if (::geteuid() == 0) {
    // Root ignores directory permissions; a path below a regular file fails for everyone.
    TempDir dir;
    std::ofstream(dir.Sub("file")) << "x";
    EXPECT_FALSE(WriteSnapshot(BundledNodeDir(), dir.Sub("file/snap")).ok());
    return;
  }
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0500), 0);
  EXPECT_THAT(WriteSnapshot(BundledNodeDir(), dir.Sub("snap")),
              StatusIs(absl::StatusCode::kPermissionDenied));
  ::chmod(dir.path().c_str(), 0700);
}

TEST(SnapshotTest, UnusableSourceWritesNothing) {
  TempDir dir;
  EXPECT_THAT(WriteSnapshot("/nonexistent/root", dir.Sub("snap")), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_FALSE(fs::exists(dir.Sub("snap")));
}

}  // namespace
}  // namespace tessera::topology
