// The live host (the machine the tests run on): only invariants, since the
// hardware is unknown. Labelled "integration": it reads the real /sys.
#include <unistd.h>

#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/fakes/base/temp_dir.h"
#include "topology/loader.h"
#include "topology/snapshot.h"

namespace tessera::topology {
namespace {

TEST(LiveHostTest, LoadsWithSaneInvariants) {
  auto t = LoadTopology(TopologySource::Live());
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->source, "live");
  ASSERT_FALSE(t->numa_nodes.empty());
  int cpus = 0;
  std::set<int> ids;
  for (const NumaNode& n : t->numa_nodes) {
    EXPECT_TRUE(ids.insert(n.id).second) << "duplicate NUMA node " << n.id;
    cpus += n.cpus.count();
    if (!n.distances.empty()) {
      EXPECT_EQ(n.distances.size(), t->numa_nodes.size());
    }
  }
  EXPECT_GE(cpus, 1);
  EXPECT_LE(cpus, static_cast<int>(::sysconf(_SC_NPROCESSORS_CONF)) * 2);
  for (size_t i = 0; i < t->devices.size(); ++i) {
    const PciDevice& d = t->devices[i];
    if (i > 0) {
      EXPECT_LT(t->devices[i - 1].address, d.address);
    }
    if (d.numa_node) {
      EXPECT_NE(t->FindNumaNode(*d.numa_node), nullptr);
    }
    EXPECT_LT(d.root, static_cast<int>(t->roots.size()));
    EXPECT_LT(d.parent_bridge, static_cast<int>(t->bridges.size()));
  }
  for (const Link& l : t->links) {
    EXPECT_LT(l.a, l.b);
    EXPECT_EQ(l.type, t->Relation(t->devices[static_cast<size_t>(l.a)], t->devices[static_cast<size_t>(l.b)]));
  }
}

TEST(LiveHostTest, SnapshotReloadsToTheSameModel) {
  auto live = LoadTopology(TopologySource::Live());
  ASSERT_TRUE(live.ok()) << live.status();
  ::tessera::testing::TempDir dir;
  auto stats = WriteSnapshot("/", dir.Sub("snap"));
  ASSERT_TRUE(stats.ok()) << stats.status();
  auto reloaded = LoadTopology(TopologySource::SysfsRoot(dir.Sub("snap")));
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  reloaded->source = live->source;
  EXPECT_EQ(reloaded->numa_nodes, live->numa_nodes);
  EXPECT_EQ(reloaded->devices, live->devices);
  EXPECT_EQ(*reloaded, *live);
}

}  // namespace
}  // namespace tessera::topology
