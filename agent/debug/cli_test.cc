#include "agent/debug/cli.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

#include "test/fakes/base/temp_dir.h"
#include "test/fakes/topology/sysfs_tree.h"
#include "topology/json.h"
#include "topology/loader.h"

namespace tessera::agent::debug {
namespace {

using ::tessera::testing::BundledNodeDir;
using ::testing::HasSubstr;
using ::testing::Not;

struct Result {
  int code;
  std::string out;
  std::string err;
};

Result NodeDebug(std::vector<std::string> args) {
  args.insert(args.begin(), "node-debug");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  int code = RunNodeDebug(static_cast<int>(argv.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

TEST(NodeDebugCliTest, UsageErrorsExitWithTwo) {
  Result none = NodeDebug({});
  EXPECT_EQ(none.code, 2);
  EXPECT_THAT(none.err, HasSubstr("subcommand"));
  EXPECT_EQ(NodeDebug({"frobnicate"}).code, 2);
  EXPECT_EQ(NodeDebug({"topology", "--no-such-flag"}).code, 2);
  EXPECT_EQ(NodeDebug({"topology", "--output", "xml"}).code, 2);
  EXPECT_EQ(NodeDebug({"topology", "--sysfs-root", "a", "--hwloc-xml", "b"}).code, 2);
  EXPECT_EQ(NodeDebug({"snapshot"}).code, 2);  // DIR is required
  EXPECT_EQ(NodeDebug({"--log-level", "loud", "devices", "--sysfs-root", BundledNodeDir()}).code,
            2);
}

TEST(NodeDebugCliTest, HelpIsUsefulAndExitsZero) {
  Result top = NodeDebug({"--help"});
  EXPECT_EQ(top.code, 0);
  for (const char* word : {"topology", "matrix", "devices", "snapshot", "--log-level"}) {
    EXPECT_THAT(top.out, HasSubstr(word));
  }
  Result sub = NodeDebug({"topology", "--help"});
  EXPECT_EQ(sub.code, 0);
  for (const char* word :
       {"--sysfs-root", "--hwloc-xml", "--host-root", "--output", "table, json or yaml"}) {
    EXPECT_THAT(sub.out, HasSubstr(word));
  }
  EXPECT_THAT(NodeDebug({"snapshot", "--help"}).out, HasSubstr("dir"));
}

TEST(NodeDebugCliTest, RuntimeErrorsExitWithOne) {
  Result r = NodeDebug({"topology", "--sysfs-root", "/nonexistent/capture"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("/nonexistent/capture"));
  EXPECT_THAT(r.err, HasSubstr("NOT_FOUND"));
  EXPECT_TRUE(r.out.empty());
}

TEST(NodeDebugCliTest, TopologyTreeOfTheBundledNode) {
  Result r = NodeDebug({"topology", "--sysfs-root", BundledNodeDir()});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string& o = r.out;
  EXPECT_THAT(o, HasSubstr("Node sim-hgx-01"));
  const size_t node0 = o.find("NUMA node 0  cpus 0-55,112-167  memory 1007.8 GiB  distances 10,21");
  const size_t node1 = o.find("NUMA node 1  cpus 56-111,168-223");
  ASSERT_NE(node0, std::string::npos);
  ASSERT_NE(node1, std::string::npos);
  // GPU0 sits under node 0, its root and both levels of its switch tree.
  const size_t gpu0 =
      o.find("gpu   0000:1a:00.0 [10de:2330] driver=nvidia os=card1 renderD128 nvidia0");
  const size_t gpu7 = o.find("gpu   0000:c2:00.0");
  ASSERT_NE(gpu0, std::string::npos);
  EXPECT_LT(node0, gpu0);
  EXPECT_LT(gpu0, node1);
  EXPECT_LT(node1, gpu7);
  EXPECT_THAT(o, HasSubstr("  pci0000:15\n    nic   0000:20:00.0"));
  EXPECT_THAT(
      o, HasSubstr("    switch 0000:16:00.0 [1000:c030]\n      switch 0000:18:00.0 [1000:c030]\n"
                   "        gpu   0000:1a:00.0"));
  EXPECT_THAT(o, HasSubstr("rdma  0000:1b:00.0 [15b3:1021] driver=mlx5_core os=mlx5_0 ibp27s0"));
  // The BMC VGA and the NVMe are not shown by default...
  EXPECT_THAT(o, Not(HasSubstr("0000:03:00.0")));
  EXPECT_THAT(o, HasSubstr("8 GPUs, 0 NPUs, 8 RDMA NICs, 2 NICs, 3 other PCI devices"));
  // ...but are with --all: the VGA under node 0 with no switch above it.
  Result all = NodeDebug({"topology", "--all", "--sysfs-root", BundledNodeDir()});
  EXPECT_THAT(all.out,
              HasSubstr("  pci0000:00\n    other 0000:00:00.0 [8086:09a2]\n"
                        "    other 0000:03:00.0 [1a03:2000] driver=ast os=card0\n  pci0000:15"));
}

TEST(NodeDebugCliTest, TopologyJsonIsTheModelDocument) {
  Result r = NodeDebug({"topology", "--sysfs-root", BundledNodeDir(), "--output", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto model = topology::LoadTopology(topology::TopologySource::SysfsRoot(BundledNodeDir()));
  ASSERT_TRUE(model.ok());
  EXPECT_EQ(topology::Json::parse(r.out), topology::TopologyToJson(*model));
  // The documented keys come first, in order.
  EXPECT_EQ(r.out.find("\"source\""), r.out.find('"'));
}

TEST(NodeDebugCliTest, YamlCarriesTheSameDocument) {
  Result r = NodeDebug({"topology", "--sysfs-root", BundledNodeDir(), "-o", "yaml"});
  ASSERT_EQ(r.code, 0) << r.err;
  YAML::Node doc = YAML::Load(r.out);
  EXPECT_EQ(doc["numaNodes"].size(), 2u);
  EXPECT_EQ(doc["hostname"].as<std::string>(), "sim-hgx-01");
  const YAML::Node gpu = doc["devices"][2];
  EXPECT_EQ(gpu["pciBusID"].as<std::string>(), "0000:1a:00.0");
  EXPECT_EQ(gpu["vendorID"].as<std::string>(), "0x10de");
  EXPECT_EQ(gpu["numaNode"].as<int>(), 0);
  EXPECT_TRUE(doc["devices"][0]["driver"].IsNull());
  EXPECT_EQ(doc["links"].size(), 108u);
}

TEST(NodeDebugCliTest, MatrixLikeNvidiaSmi) {
  Result r = NodeDebug({"matrix", "--sysfs-root", BundledNodeDir()});
  ASSERT_EQ(r.code, 0) << r.err;
  // Header, then GPU0's row: itself, GPU1 over two switch levels, its own NIC0 under one switch.
  EXPECT_THAT(r.out, HasSubstr("      GPU0  GPU1  GPU2"));
  EXPECT_THAT(
      r.out,
      HasSubstr("GPU0  X     PXB   NODE  NODE  SYS   SYS   SYS   SYS   PIX   PXB   NODE  NODE"));
  EXPECT_THAT(r.out, HasSubstr("0-55,112-167    0\n"));
  EXPECT_THAT(r.out, HasSubstr("PIX  = Connection traversing at most a single PCIe bridge"));
  EXPECT_THAT(r.out, HasSubstr("NIC0: 0000:1b:00.0 rdma [15b3:1021] mlx5_0"));
  EXPECT_THAT(r.out, HasSubstr("NIC8: 0000:20:00.0 nic [8086:1521] eno1"));

  Result j = NodeDebug({"matrix", "--sysfs-root", BundledNodeDir(), "-o", "json"});
  ASSERT_EQ(j.code, 0);
  auto doc = topology::Json::parse(j.out);
  EXPECT_EQ(doc.at("devices").size(), 18u);
  EXPECT_EQ(doc.at("devices").at(0).at("label"), "GPU0");
  EXPECT_EQ(doc.at("links").size(), 108u);
  EXPECT_TRUE(doc.at("legend").contains("PXB"));
}

TEST(NodeDebugCliTest, DevicesTable) {
  Result r = NodeDebug({"devices", "--sysfs-root", BundledNodeDir()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("PCI ADDRESS   KIND  VENDOR:DEVICE  CLASS  DRIVER"));
  EXPECT_THAT(r.out,
              HasSubstr("0000:1a:00.0  gpu   10de:2330      0302   nvidia     0     pci0000:15  "
                        "0000:18:00.0  card1 renderD128 nvidia0"));
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1 + 18);
  Result all = NodeDebug({"devices", "--all", "--sysfs-root", BundledNodeDir()});
  EXPECT_THAT(all.out,
              HasSubstr("0000:c9:00.0  other  144d:a824      0108   nvme       1     pci0000:c8"));
  Result j = NodeDebug({"devices", "--sysfs-root", BundledNodeDir(), "-o", "json"});
  EXPECT_EQ(topology::Json::parse(j.out).at("devices").size(), 18u);
}

TEST(NodeDebugCliTest, SnapshotThenLoadShowsTheSameNode) {
  ::tessera::testing::ScratchDir dir;
  const std::string snap = dir.Sub("snap");
  Result s = NodeDebug({"snapshot", snap, "--sysfs-root", BundledNodeDir()});
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_THAT(s.out, HasSubstr("Load it with: node-debug topology --sysfs-root " + snap));
  Result before = NodeDebug({"devices", "--all", "--sysfs-root", BundledNodeDir()});
  Result after = NodeDebug({"devices", "--all", "--sysfs-root", snap});
  EXPECT_EQ(before.out, after.out);
  // A second snapshot into the same directory is refused.
  Result again = NodeDebug({"snapshot", snap, "--sysfs-root", BundledNodeDir()});
  EXPECT_EQ(again.code, 1);
  EXPECT_THAT(again.err, HasSubstr("not empty"));
}

TEST(NodeDebugCliTest, RealCaptures) {
  const std::string shared = ::tessera::testing::SharedTopologiesDir();
  if (shared.empty()) GTEST_SKIP() << "../shared/topologies is absent";
  Result r = NodeDebug(
      {"matrix", "--hwloc-xml", shared + "/xml-psmgmt-jurecadc-4xa100-4xhdr/topo.jrc0323.xml"});
  ASSERT_EQ(r.code, 0) << r.err;
  // GPU0 (0000:03:00.0) shares a PEX switch with NIC0 (mlx5_0 at 0000:04:00.0).
  EXPECT_THAT(r.out, HasSubstr("GPU0  X     SYS   SYS   SYS   PIX"));
  Result t = NodeDebug(
      {"topology", "--hwloc-xml", shared + "/xml-mpibind-corona-8xmi50/epyc-corona-p2.xml"});
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_THAT(t.out, HasSubstr("gpu   0000:03:00.0 [1002:66a1]"));
  EXPECT_THAT(t.out, HasSubstr("os=opencl0d2 rsmi2"));
}

}  // namespace
}  // namespace tessera::agent::debug
