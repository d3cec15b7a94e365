#include "topology/hwloc_topology.h"

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "test/fakes/base/temp_dir.h"
#include "test/fakes/topology/sysfs_tree.h"
#include "test/matchers/status_matchers.h"
#include "topology/sysfs_pci.h"

namespace tessera::topology {
namespace {

using ::tessera::testing::BundledNodeDir;
using ::tessera::testing::StatusIs;
using ::tessera::testing::SysfsTree;
using ::tessera::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

HwlocSource FsRoot(std::string path, HwlocIo io = HwlocIo::kNone) {
  return {.kind = HwlocSource::Kind::kFsRoot, .path = std::move(path), .io = io};
}
HwlocSource Xml(std::string path) {
  return {.kind = HwlocSource::Kind::kXmlFile,
          .path = std::move(path),
          .io = HwlocIo::kPciAndOsDevices};
}

TEST(HwlocTopologyTest, ReadsNumaNodesOfACapturedRoot) {
  auto hwloc = HwlocTopology::Load(FsRoot(BundledNodeDir()));
  ASSERT_TRUE(hwloc.ok()) << hwloc.status();
  NodeTopology t = (*hwloc)->Extract();
  ASSERT_EQ(t.numa_nodes.size(), 2u);
  EXPECT_EQ(t.numa_nodes[0].id, 0);
  EXPECT_EQ(t.numa_nodes[0].cpus.ToListString(), "0-55,112-167");
  EXPECT_EQ(t.numa_nodes[1].cpus.ToListString(), "56-111,168-223");
  EXPECT_EQ(t.numa_nodes[1].memory_bytes, 1056715548ull * 1024);
  EXPECT_THAT(t.numa_nodes[0].distances, ElementsAre(10, 21));
  EXPECT_THAT(t.numa_nodes[1].distances, ElementsAre(21, 10));
  // CPU/NUMA only: no PCI was asked for.
  EXPECT_THAT(t.devices, IsEmpty());
  EXPECT_THAT(t.roots, IsEmpty());
}

TEST(HwlocTopologyTest, ItsPciTreeAgreesWithOurSysfsReader) {
  // Two independent readers of the same capture must see the same tree.
  auto hwloc = HwlocTopology::Load(FsRoot(BundledNodeDir(), HwlocIo::kPciAndOsDevices));
  ASSERT_TRUE(hwloc.ok()) << hwloc.status();
  NodeTopology h = (*hwloc)->Extract();

  base::DirSysfs sys(BundledNodeDir() + "/sys");
  auto scan = ReadSysfsPci(sys, nullptr);
  ASSERT_TRUE(scan.ok());
  PciTree ours = BuildPciTree(scan->functions);

  ASSERT_EQ(h.roots.size(), ours.roots.size());
  for (size_t i = 0; i < h.roots.size(); ++i) EXPECT_EQ(h.roots[i].name, ours.roots[i].name);
  ASSERT_EQ(h.bridges.size(), ours.bridges.size());
  for (size_t i = 0; i < h.bridges.size(); ++i) {
    EXPECT_EQ(h.bridges[i].address, ours.bridges[i].address);
    EXPECT_EQ(h.bridges[i].parent, ours.bridges[i].parent) << h.bridges[i].address.ToString();
    EXPECT_EQ(h.bridges[i].root, ours.bridges[i].root);
    EXPECT_EQ(h.bridges[i].secondary_bus, ours.bridges[i].secondary_bus);
    EXPECT_EQ(h.bridges[i].subordinate_bus, ours.bridges[i].subordinate_bus);
  }
  ASSERT_EQ(h.devices.size(), ours.devices.size());
  for (size_t i = 0; i < h.devices.size(); ++i) {
    const PciDevice& a = h.devices[i];
    const PciDevice& b = ours.devices[i];
    EXPECT_EQ(a.address, b.address);
    EXPECT_EQ(a.vendor_id, b.vendor_id);
    EXPECT_EQ(a.device_id, b.device_id);
    EXPECT_EQ(a.class_code >> 8, b.class_code >> 8);
    EXPECT_EQ(a.subsystem_device_id, b.subsystem_device_id);
    EXPECT_EQ(a.root, b.root) << a.address.ToString();
    EXPECT_EQ(a.parent_bridge, b.parent_bridge) << a.address.ToString();
  }
}

TEST(HwlocTopologyTest, ExportedXmlLoadsBackWithOsDevices) {
  auto hwloc = HwlocTopology::Load(FsRoot(BundledNodeDir(), HwlocIo::kPciAndOsDevices));
  ASSERT_TRUE(hwloc.ok()) << hwloc.status();
  auto xml = (*hwloc)->ExportXml();
  ASSERT_TRUE(xml.ok()) << xml.status();
  EXPECT_THAT(*xml, HasSubstr("<topology"));

  TempDir dir;
  const std::string path = dir.Sub("node.xml");
  std::ofstream(path) << *xml;
  auto again = HwlocTopology::Load(Xml(path));
  ASSERT_TRUE(again.ok()) << again.status();
  NodeTopology t = (*again)->Extract();
  EXPECT_EQ(t.numa_nodes, (*hwloc)->Extract().numa_nodes);
  auto nic = std::find_if(t.devices.begin(), t.devices.end(), [](const PciDevice& d) {
    return d.address == *base::PciAddress::Parse("0000:1b:00.0");
  });
  ASSERT_NE(nic, t.devices.end());
  ASSERT_NE(nic->FindOsDevice(OsDeviceType::kOpenFabrics), nullptr);
  EXPECT_EQ(nic->FindOsDevice(OsDeviceType::kOpenFabrics)->name, "mlx5_0");
  EXPECT_EQ(nic->FindOsDevice(OsDeviceType::kOpenFabrics)->info.at("NodeGUID"),
            "b83f:d203:00a1:0010");
  EXPECT_EQ(nic->FindOsDevice(OsDeviceType::kNetwork)->name, "ibp27s0");
  EXPECT_EQ(nic->local_cpus.ToListString(), "0-55,112-167");
}

TEST(HwlocTopologyTest, MissingInputsAreNotFound) {
  EXPECT_THAT(HwlocTopology::Load(Xml("/nonexistent/topo.xml")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/topo.xml")));
  EXPECT_THAT(HwlocTopology::Load(FsRoot("/nonexistent-root")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nonexistent-root")));
}

// Found by hwloc_xml_fuzzer: hwloc 2.9.0's XML import dereferences NULL for
// these (open-mpi/hwloc#787: a topology tag without '>'; #783: objects
// without complete_cpuset), and lstopo crashes on them too. The import runs
// in a child process, so the caller gets an error instead of a SIGSEGV.
TEST(HwlocTopologyTest, XmlThatCrashesHwlocIsInvalidArgument) {
  TempDir dir;
  const std::string no_bracket = "<topology version=\"2.0\"";
  const std::string no_complete_cpuset = R"(<?xml version="1.0" encoding="UTF-8"?>
<topology version="2.0">
  <object type="Machine" os_index="0" cpuset="0x3" complete_cpuset="0x3" nodeset="0x1" complete_nodeset="0x1" gp_index="1">
    <object type="NUMANode" os_index="0" cpuset="0x3" complete_cpuset="0x3" nodeset="0x1" complete_nodeset="0x1" gp_index="2" local_memory="1073741824"/>
    <object type="Core" os_index="1" cpuset="0x2" nodeset="0x1" gp_index="3">
      <object type="PU" os_index="1" cpuset="0x2" complete_cpuset="0x2" nodeset="0x1" complete_nodeset="0x1" gp_index="4"/>
    </object>
    <object type="Core" os_index="0" cpuset="0x1" nodeset="0x1" gp_index="5">
      <object type="PU" os_index="0" cpuset="0x1" complete_cpuset="0x1" nodeset="0x1" complete_nodeset="0x1" gp_index="6"/>
    </object>
  </object>
</topology>
)";
  for (const std::string& content : {no_bracket, no_complete_cpuset}) {
    const std::string path = dir.Sub("crash.xml");
    std::ofstream(path, std::ios::trunc) << content;
    EXPECT_THAT(HwlocTopology::Load(Xml(path)),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         ::testing::AllOf(HasSubstr(path), HasSubstr("hwloc crashed reading it"))))
        << content;
  }
}

// Found by hwloc_xml_fuzzer: a PU without os_index keeps hwloc 2.9.0 busy
// for half a minute (lstopo too). The child importing the file is killed at
// the deadline.
TEST(HwlocTopologyTest, XmlThatHwlocTakesTooLongOnIsDeadlineExceeded) {
  TempDir dir;
  const std::string path = dir.Sub("slow.xml");
  std::ofstream(path) << R"(<?xml version="1.0" encoding="UTF-8"?>
<topology version="2.0">
  <object type="Machine" os_index="0" cpuset="0x1" complete_cpuset="0x1" nodeset="0x1" complete_nodeset="0x1" gp_index="1">
    <object type="NUMANode" os_index="0" cpuset="0x1" complete_cpuset="0x1" nodeset="0x1" complete_nodeset="0x1" gp_index="2" local_memory="1073741824"/>
    <object type="PU" cpuset="0x1" complete_cpuset="0x1" nodeset="0x1" complete_nodeset="0x1" gp_index="3"/>
  </object>
</topology>
)";
  SetXmlImportDeadlineForTest(std::chrono::milliseconds(500));
  const auto start = std::chrono::steady_clock::now();
  auto loaded = HwlocTopology::Load(Xml(path));
  SetXmlImportDeadlineForTest(std::chrono::seconds(60));
  EXPECT_THAT(loaded, StatusIs(absl::StatusCode::kDeadlineExceeded,
                               ::testing::AllOf(HasSubstr(path), HasSubstr("within 500 ms"))));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

// Found by hwloc_xml_fuzzer: hwloc accepts two NUMA nodes with one os_index
// in an XML file; the model's ids are unique (the first node is kept).
TEST(HwlocTopologyTest, DuplicateNumaIdsInXmlKeepTheFirstNode) {
  TempDir dir;
  const std::string path = dir.Sub("dup.xml");
  std::ofstream(path) << R"(<?xml version="1.0" encoding="UTF-8"?>
<topology version="2.0">
  <object type="Machine" os_index="0" cpuset="0x3" complete_cpuset="0x3" nodeset="0x1" complete_nodeset="0x1" gp_index="1">
    <object type="Package" os_index="0" cpuset="0x1" complete_cpuset="0x1" nodeset="0x1" complete_nodeset="0x1" gp_index="2">
      <object type="NUMANode" os_index="0" cpuset="0x1" complete_cpuset="0x1" nodeset="0x1" complete_nodeset="0x1" gp_index="3" local_memory="1073741824"/>
      <object type="PU" os_index="0" cpuset="0x1" complete_cpuset="0x1" nodeset="0x1" complete_nodeset="0x1" gp_index="4"/>
    </object>
    <object type="Package" os_index="1" cpuset="0x2" complete_cpuset="0x2" nodeset="0x1" complete_nodeset="0x1" gp_index="5">
      <object type="NUMANode" os_index="0" cpuset="0x2" complete_cpuset="0x2" nodeset="0x1" complete_nodeset="0x1" gp_index="6" local_memory="2147483648"/>
      <object type="PU" os_index="1" cpuset="0x2" complete_cpuset="0x2" nodeset="0x1" complete_nodeset="0x1" gp_index="7"/>
    </object>
  </object>
</topology>
)";
  auto hwloc = HwlocTopology::Load(Xml(path));
  ASSERT_TRUE(hwloc.ok()) << hwloc.status();
  NodeTopology t = (*hwloc)->Extract();
  ASSERT_EQ(t.numa_nodes.size(), 1u);
  EXPECT_EQ(t.numa_nodes[0].id, 0);
  EXPECT_EQ(t.numa_nodes[0].memory_bytes, uint64_t{1} << 30);
  EXPECT_THAT(t.warnings, ElementsAre(HasSubstr("NUMA node 0 appears more than once")));
}

TEST(HwlocTopologyTest, UnreadableXmlIsInvalidArgument) {
  TempDir dir;
  for (std::string_view content : {"garbage", "<topology version=\"2.0\"><object type=\"Bogus\"/>",
                                   "", "<?xml version=\"1.0\"?>\n<notatopology/>\n"}) {
    const std::string path = dir.Sub("bad.xml");
    std::ofstream(path, std::ios::trunc) << content;
    EXPECT_THAT(HwlocTopology::Load(Xml(path)), StatusIs(absl::StatusCode::kInvalidArgument))
        << content;
  }
}

TEST(HwlocTopologyTest, ARootWithoutCpusNeverFallsBackToThisMachine) {
  // hwloc would otherwise describe the machine the test runs on.
  TempDir dir;
  SysfsTree tree(dir.path());
  tree.Dir("sys/bus/pci/devices");
  EXPECT_THAT(HwlocTopology::Load(FsRoot(dir.path())), StatusIs(absl::StatusCode::kNotFound));
  tree.Dir("sys/devices/system/cpu");  // present but empty
  EXPECT_THAT(HwlocTopology::Load(FsRoot(dir.path())),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(HwlocTopologyTest, LeavesTheEnvironmentAsItFoundIt) {
  ::setenv("HWLOC_FSROOT", "/somewhere-else", 1);
  auto hwloc = HwlocTopology::Load(FsRoot(BundledNodeDir()));
  ASSERT_TRUE(hwloc.ok()) << hwloc.status();
  EXPECT_EQ((*hwloc)->Extract().numa_nodes.size(), 2u);
  EXPECT_STREQ(::getenv("HWLOC_FSROOT"), "/somewhere-else");
  ::unsetenv("HWLOC_FSROOT");
  ASSERT_TRUE(HwlocTopology::Load(FsRoot(BundledNodeDir())).ok());
  EXPECT_EQ(::getenv("HWLOC_FSROOT"), nullptr);
}

// The XML import runs in a new copy of the program, not a forked child: a
// fork while another thread holds an allocator or library lock leaves the
// child waiting on it forever (clang-14's ASan allocator did so in about one
// agent start in six; this test, with fork, every time under ASan). Imports
// while other threads allocate all finish.
TEST(HwlocTopologyTest, XmlImportFinishesWhileOtherThreadsAllocate) {
  auto hwloc = HwlocTopology::Load(FsRoot(BundledNodeDir(), HwlocIo::kPciAndOsDevices));
  ASSERT_TRUE(hwloc.ok()) << hwloc.status();
  auto xml = (*hwloc)->ExportXml();
  ASSERT_TRUE(xml.ok()) << xml.status();
  TempDir dir;
  const std::string path = dir.Sub("node.xml");
  std::ofstream(path) << *xml;

  std::atomic<bool> stop{false};
  std::vector<std::thread> churn;
  for (int t = 0; t < 4; ++t) {
    churn.emplace_back([&stop, t] {
      std::vector<std::unique_ptr<char[]>> held(64);
      for (size_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        held[i % held.size()] = std::make_unique<char[]>(16 + (i * 37 + t) % 4096);
      }
    });
  }
  SetXmlImportDeadlineForTest(std::chrono::seconds(10));  // a blocked child: fail, not hang
  int loaded = 0;
  for (int i = 0; i < 20; ++i) {
    auto again = HwlocTopology::Load(Xml(path));
    EXPECT_TRUE(again.ok()) << "import " << i << ": " << again.status();
    if (!again.ok()) break;
    ++loaded;
  }
  SetXmlImportDeadlineForTest(std::chrono::seconds(60));
  stop = true;
  for (std::thread& t : churn) t.join();
  EXPECT_EQ(loaded, 20);
}

}  // namespace
}  // namespace tessera::topology
