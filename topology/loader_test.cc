#include "topology/loader.h"

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "test/fakes/base/faulty_sysfs.h"
#include "test/fakes/base/pci_addr.h"
#include "test/fakes/base/temp_dir.h"
#include "test/fakes/topology/sysfs_tree.h"
#include "test/matchers/status_matchers.h"

namespace tessera::topology {
namespace {

using ::tessera::testing::BundledNodeDir;
using ::tessera::testing::FaultySysfs;
using ::tessera::testing::PciAddr;
using ::tessera::testing::StatusIs;
using ::tessera::testing::SysfsTree;
using ::tessera::testing::TempDir;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;

const PciDevice& Dev(const NodeTopology& t, std::string_view bdf) {
  const PciDevice* d = t.FindDevice(PciAddr(bdf));
  if (d == nullptr) ADD_FAILURE() << bdf << " missing";
  static const PciDevice kNone;
  return d ? *d : kNone;
}

std::vector<std::string> Bdfs(const std::vector<const PciDevice*>& devices) {
  std::vector<std::string> out;
  for (const PciDevice* d : devices) out.push_back(d->address.ToString());
  return out;
}

class BundledNodeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto t = LoadTopology(TopologySource::SysfsRoot(BundledNodeDir()));
    ASSERT_TRUE(t.ok()) << t.status();
    topology_ = new NodeTopology(std::move(*t));
  }
  static void TearDownTestSuite() {
    delete topology_;
    topology_ = nullptr;
  }
  static const NodeTopology& T() { return *topology_; }
  static NodeTopology* topology_;
};
NodeTopology* BundledNodeTest::topology_ = nullptr;

TEST_F(BundledNodeTest, InventoryMatchesTheGeneratedMachine) {
  const NodeTopology& t = T();
  EXPECT_EQ(t.source, "sysfs:" + BundledNodeDir());
  EXPECT_EQ(t.hostname, "sim-hgx-01");
  EXPECT_THAT(t.warnings, IsEmpty());
  ASSERT_EQ(t.numa_nodes.size(), 2u);
  EXPECT_THAT(Bdfs(t.DevicesOfKind(DeviceKind::kGpu)),
              ElementsAre("0000:1a:00.0", "0000:1e:00.0", "0000:3c:00.0", "0000:40:00.0",
                          "0000:9c:00.0", "0000:a0:00.0", "0000:be:00.0", "0000:c2:00.0"));
  EXPECT_THAT(Bdfs(t.DevicesOfKind(DeviceKind::kRdma)),
              ElementsAre("0000:1b:00.0", "0000:1f:00.0", "0000:3d:00.0", "0000:41:00.0",
                          "0000:9d:00.0", "0000:a1:00.0", "0000:bf:00.0", "0000:c3:00.0"));
  EXPECT_THAT(Bdfs(t.DevicesOfKind(DeviceKind::kNic)), ElementsAre("0000:20:00.0", "0000:20:00.1"));
  EXPECT_THAT(Bdfs(t.DevicesOfKind(DeviceKind::kNpu)), IsEmpty());
  // The BMC's VGA is no GPU, and its bridge is not a switch.
  EXPECT_EQ(Dev(t, "0000:03:00.0").kind, DeviceKind::kOther);
  EXPECT_EQ(Dev(t, "0000:03:00.0").pcie_switch, std::nullopt);
  EXPECT_EQ(t.PcieRootName(Dev(t, "0000:03:00.0")), "pci0000:00");
}

TEST_F(BundledNodeTest, NumaRootsAndSwitches) {
  const NodeTopology& t = T();
  const PciDevice& gpu0 = Dev(t, "0000:1a:00.0");
  EXPECT_THAT(gpu0.numa_node, Optional(0));
  EXPECT_EQ(t.PcieRootName(gpu0), "pci0000:15");
  EXPECT_THAT(gpu0.pcie_switch, Optional(PciAddr("0000:18:00.0")));
  EXPECT_EQ(gpu0.driver, "nvidia");
  const PciDevice& nic7 = Dev(t, "0000:c3:00.0");
  EXPECT_THAT(nic7.numa_node, Optional(1));
  EXPECT_EQ(t.PcieRootName(nic7), "pci0000:b9");
  EXPECT_THAT(nic7.pcie_switch, Optional(PciAddr("0000:c0:00.0")));
  // numa_node -1 with node 1's CPUs: the rule gives 1.
  EXPECT_THAT(Dev(t, "0000:c9:00.0").numa_node, Optional(1));
  // The onboard NIC sits on a root port, below no switch.
  EXPECT_EQ(Dev(t, "0000:20:00.0").pcie_switch, std::nullopt);
}

TEST_F(BundledNodeTest, RelationsFollowTheWiring) {
  const NodeTopology& t = T();
  auto rel = [&](std::string_view a, std::string_view b) {
    return t.Relation(Dev(t, a), Dev(t, b));
  };
  EXPECT_EQ(rel("0000:1a:00.0", "0000:1b:00.0"), LinkType::kPix);   // GPU0-NIC0: one switch
  EXPECT_EQ(rel("0000:1a:00.0", "0000:1f:00.0"), LinkType::kPxb);   // GPU0-NIC1: two levels
  EXPECT_EQ(rel("0000:1a:00.0", "0000:1e:00.0"), LinkType::kPxb);   // GPU0-GPU1
  EXPECT_EQ(rel("0000:1a:00.0", "0000:20:00.0"), LinkType::kPhb);   // GPU0-eno1
  EXPECT_EQ(rel("0000:1a:00.0", "0000:3d:00.0"), LinkType::kNode);  // other root, same socket
  EXPECT_EQ(rel("0000:1a:00.0", "0000:9d:00.0"), LinkType::kSys);   // other socket
  // 8 GPUs x 10 NICs + 28 GPU pairs, each with the relation the model gives.
  ASSERT_EQ(t.links.size(), 108u);
  for (const Link& l : t.links) {
    ASSERT_LT(l.a, l.b);
    EXPECT_EQ(l.type,
              t.Relation(t.devices[static_cast<size_t>(l.a)], t.devices[static_cast<size_t>(l.b)]));
  }
}

TEST_F(BundledNodeTest, OsDevices) {
  const NodeTopology& t = T();
  const PciDevice& nic0 = Dev(t, "0000:1b:00.0");
  ASSERT_NE(nic0.FindOsDevice(OsDeviceType::kOpenFabrics), nullptr);
  EXPECT_EQ(nic0.FindOsDevice(OsDeviceType::kOpenFabrics)->name, "mlx5_0");
  EXPECT_EQ(nic0.FindOsDevice(OsDeviceType::kNetwork)->name, "ibp27s0");
  const PciDevice& gpu7 = Dev(t, "0000:c2:00.0");
  std::vector<std::string> names;
  for (const OsDevice& os : gpu7.os_devices) names.push_back(os.name);
  EXPECT_THAT(names, ElementsAre("card8", "renderD135", "nvidia7"));
}

TEST(LoaderTest, TheSysDirectoryItselfIsAccepted) {
  auto whole = LoadTopology(TopologySource::SysfsRoot(BundledNodeDir()));
  ASSERT_TRUE(whole.ok()) << whole.status();
  auto sys_only = LoadTopology(TopologySource::SysfsRoot(BundledNodeDir() + "/sys"));
  ASSERT_TRUE(sys_only.ok()) << sys_only.status();
  sys_only->source = whole->source;
  EXPECT_EQ(*sys_only, *whole);  // proc/ is found next to sys/
}

TEST(LoaderTest, ASysTreeUnderAnotherNameGetsATemporaryRoot) {
  TempDir dir;
  SysfsTree tree(dir.path());
  tree.AddCpus(4, 1);
  tree.AddPci({.bdf = "0000:00:02.0", .vendor = 0x10de, .device = 0x2330, .class_code = 0x030200});
  tree.File("proc/sys/kernel/hostname", "elsewhere\n");
  std::filesystem::rename(tree.sys(), dir.Sub("capture-of-sys"));
  auto t = LoadTopology(TopologySource::SysfsRoot(dir.Sub("capture-of-sys")));
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->devices.size(), 1u);
  EXPECT_EQ(t->devices[0].kind, DeviceKind::kGpu);
  EXPECT_EQ(t->numa_nodes.size(), 1u);
  EXPECT_TRUE(t->hostname.empty());  // no proc/ beside a tree not named sys

  // The temporary root is gone afterwards.
  auto resolved = ResolvedSysfsRoot::Resolve(dir.Sub("capture-of-sys"));
  ASSERT_TRUE(resolved.ok());
  const std::string temp_root = resolved->hwloc_root();
  EXPECT_TRUE(std::filesystem::is_directory(temp_root + "/sys/devices"));
  resolved = absl::InternalError("drop it");
  EXPECT_FALSE(std::filesystem::exists(temp_root));
  EXPECT_TRUE(std::filesystem::is_directory(dir.Sub("capture-of-sys/devices")));
}

TEST(LoaderTest, BadRootsAreClearErrors) {
  EXPECT_THAT(LoadTopology(TopologySource::SysfsRoot("/nonexistent/capture")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/capture")));
  TempDir dir;
  EXPECT_THAT(LoadTopology(TopologySource::SysfsRoot(dir.path())),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("neither sys/")));
  SysfsTree tree(dir.path());
  tree.Dir("sys/bus/pci/devices");  // no CPUs
  EXPECT_THAT(LoadTopology(TopologySource::SysfsRoot(dir.path())),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("load topology from sysfs:")));
  EXPECT_THAT(LoadTopology(TopologySource::HwlocXml(dir.Sub("missing.xml"))),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("hwloc-xml:")));
}

TEST(LoaderTest, ARootWithoutPciStillLoads) {
  TempDir dir;
  SysfsTree tree(dir.path());
  tree.AddCpus(4, 2);
  auto t = LoadTopology(TopologySource::SysfsRoot(dir.path()));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->numa_nodes.size(), 2u);
  EXPECT_THAT(t->devices, IsEmpty());
  EXPECT_THAT(t->links, IsEmpty());
}

TEST(LoaderTest, DegradedValuesBecomeWarnings) {
  TempDir dir;
  SysfsTree tree(dir.path());
  tree.AddCpus(8, 2);
  tree.AddPci({.bdf = "0000:00:01.0",
               .vendor = 0x10de,
               .device = 0x2330,
               .class_code = 0x030200,
               .numa_node = "7\n",
               .local_cpulist = "0-3\n"});
  tree.AddPci({.bdf = "0000:00:02.0",
               .vendor = 0x15b3,
               .device = 0x1021,
               .class_code = 0x020700,
               .numa_node = "-1\n",
               .local_cpulist = "0-7\n"});
  tree.AddPci({.bdf = "0000:00:03.0",
               .vendor = 0x15b3,
               .device = 0x1021,
               .class_code = 0x020700,
               .numa_node = "x\n",
               .local_cpulist = "4-5\n"});
  auto t = LoadTopology(TopologySource::SysfsRoot(dir.path()));
  ASSERT_TRUE(t.ok()) << t.status();
  // A node the machine lacks: unknown, said so.
  EXPECT_EQ(Dev(*t, "0000:00:01.0").numa_node, std::nullopt);
  EXPECT_THAT(t->warnings, Contains(HasSubstr("0000:00:01.0: numa_node 7 is not a NUMA node")));
  // Local to both nodes: unknown, by the rule (no warning: it is a fact).
  EXPECT_EQ(Dev(*t, "0000:00:02.0").numa_node, std::nullopt);
  // Garbage numa_node: the local cpus decide.
  EXPECT_THAT(Dev(*t, "0000:00:03.0").numa_node, Optional(1));
  EXPECT_THAT(t->warnings, Contains(HasSubstr("0000:00:03.0: invalid numa_node")));
}

TEST(LoaderTest, AVanishedDeviceIsLeftOutNotFatal) {
  auto root = ResolvedSysfsRoot::Resolve(BundledNodeDir());
  ASSERT_TRUE(root.ok());
  base::DirSysfs sys(root->sys_dir());
  FaultySysfs faulty(sys);
  faulty.set_injector([](std::string_view op, std::string_view path) {
    // NIC1 disappears between the directory listing and its reads.
    if (op != "list" || path != "bus/pci/devices") {
      if (path.find("0000:1f:00.0") != std::string_view::npos &&
          path.find("bus/pci/devices/") == std::string_view::npos) {
        return absl::NotFoundError("No such file or directory");
      }
    }
    return absl::OkStatus();
  });
  auto t = LoadTopologyFromSysfs({.sys = faulty, .proc = nullptr, .hwloc_root = root->hwloc_root()},
                                 "sysfs:faulty");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->FindDevice(PciAddr("0000:1f:00.0")), nullptr);
  EXPECT_EQ(t->DevicesOfKind(DeviceKind::kRdma).size(), 7u);
  EXPECT_THAT(t->warnings, Contains(HasSubstr("0000:1f:00.0: vanished during the scan")));
  EXPECT_EQ(t->links.size(), 8u * 9u + 28u);
}

// A real node: the single-H100 KVM guest this project was lent, snapshotted
// with node-debug (test/testdata/nodes/README.md).
TEST(LoaderTest, RealH100VirtualMachineSnapshot) {
  const std::string dir = std::string(TESSERA_SOURCE_DIR) + "/test/testdata/nodes/h100-vm";
  auto t = LoadTopology(TopologySource::SysfsRoot(dir));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->warnings, IsEmpty());
  ASSERT_EQ(t->numa_nodes.size(), 1u);
  EXPECT_EQ(t->numa_nodes[0].cpus.ToListString(), "0-15");
  ASSERT_EQ(t->DevicesOfKind(DeviceKind::kGpu).size(), 1u);
  const PciDevice& gpu = *t->DevicesOfKind(DeviceKind::kGpu)[0];
  EXPECT_EQ(gpu.address, PciAddr("0000:00:06.0"));
  EXPECT_EQ(gpu.driver, "nvidia");
  // numa_node is -1 on this guest: its one NUMA node covers the local CPUs.
  EXPECT_THAT(gpu.numa_node, Optional(0));
  EXPECT_EQ(t->PcieRootName(gpu), "pci0000:00");
  EXPECT_EQ(gpu.pcie_switch, std::nullopt);
  ASSERT_NE(gpu.FindOsDevice(OsDeviceType::kGpu), nullptr);
  EXPECT_EQ(gpu.FindOsDevice(OsDeviceType::kGpu)->name, "nvidia0");
  EXPECT_EQ(gpu.FindOsDevice(OsDeviceType::kGpu)->info.at("GPUModel"), "NVIDIA H100 80GB HBM3");
  // virtio-net on the same root bus: PHB.
  ASSERT_EQ(t->links.size(), 1u);
  EXPECT_EQ(t->links[0].type, LinkType::kPhb);
  EXPECT_EQ(
      t->devices[static_cast<size_t>(t->links[0].a)].FindOsDevice(OsDeviceType::kNetwork)->name,
      "eth0");

  // hwloc's export of the same machine gives the same inventory and relation.
  auto x = LoadTopology(TopologySource::HwlocXml(dir + "/hwloc.xml"));
  ASSERT_TRUE(x.ok()) << x.status();
  ASSERT_EQ(x->devices.size(), t->devices.size());
  for (size_t i = 0; i < x->devices.size(); ++i) {
    EXPECT_EQ(x->devices[i].kind, t->devices[i].kind) << x->devices[i].address.ToString();
    EXPECT_EQ(x->devices[i].numa_node, t->devices[i].numa_node);
  }
  EXPECT_EQ(x->links, t->links);
}

TEST(LoaderTest, SourceLabels) {
  EXPECT_EQ(TopologySource::Live().Label(), "live");
  EXPECT_EQ(TopologySource::Live("/host").Label(), "live:/host");
  EXPECT_EQ(TopologySource::SysfsRoot("/x").Label(), "sysfs:/x");
  EXPECT_EQ(TopologySource::HwlocXml("/y.xml").Label(), "hwloc-xml:/y.xml");
}

}  // namespace
}  // namespace tessera::topology
