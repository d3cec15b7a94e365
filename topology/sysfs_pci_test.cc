#include "topology/sysfs_pci.h"

#include <algorithm>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "base/strings.h"
#include "test/fakes/base/faulty_sysfs.h"
#include "test/fakes/base/pci_addr.h"
#include "test/fakes/base/temp_dir.h"
#include "test/fakes/topology/sysfs_tree.h"
#include "test/matchers/status_matchers.h"

namespace tessera::topology {
namespace {

using ::tessera::testing::FaultySysfs;
using ::tessera::testing::PciAddr;
using ::tessera::testing::StatusIs;
using ::tessera::testing::SysfsTree;
using ::tessera::testing::TempDir;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const PciFunction* Find(const SysfsPciScan& scan, std::string_view bdf) {
  for (const PciFunction& f : scan.functions) {
    if (f.address == PciAddr(bdf)) return &f;
  }
  return nullptr;
}

std::vector<std::string> OsNames(const SysfsPciScan& scan, std::string_view bdf) {
  std::vector<std::string> out;
  for (const auto& [owner, os] : scan.os_devices) {
    if (owner == PciAddr(bdf)) out.push_back(os.name);
  }
  return out;
}

const OsDevice* FindOs(const SysfsPciScan& scan, std::string_view name) {
  for (const auto& [owner, os] : scan.os_devices) {
    if (os.name == name) return &os;
  }
  return nullptr;
}

class BundledNodeScanTest : public ::testing::Test {
 protected:
  BundledNodeScanTest()
      : sys_(::tessera::testing::BundledNodeDir() + "/sys"),
        proc_(::tessera::testing::BundledNodeDir() + "/proc") {}
  base::DirSysfs sys_;
  base::DirSysfs proc_;
};

TEST_F(BundledNodeScanTest, ReadsEveryFunctionWithItsPlace) {
  auto scan = ReadSysfsPci(sys_, &proc_);
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_THAT(scan->warnings, IsEmpty());
  EXPECT_TRUE(std::is_sorted(
      scan->functions.begin(), scan->functions.end(),
      [](const PciFunction& a, const PciFunction& b) { return a.address < b.address; }));

  const PciFunction* gpu = Find(*scan, "0000:1a:00.0");
  ASSERT_NE(gpu, nullptr);
  EXPECT_EQ(gpu->vendor_id, 0x10de);
  EXPECT_EQ(gpu->device_id, 0x2330);
  EXPECT_EQ(gpu->subsystem_vendor_id, 0x10de);
  EXPECT_EQ(gpu->subsystem_device_id, 0x16c1);
  EXPECT_EQ(gpu->class_code, 0x030200u);
  EXPECT_EQ(gpu->driver, "nvidia");
  EXPECT_EQ(gpu->sysfs_numa_node, 0);
  EXPECT_EQ(gpu->local_cpus.ToListString(), "0-55,112-167");
  EXPECT_EQ(gpu->root_name, "pci0000:15");
  EXPECT_THAT(gpu->upstream,
              ElementsAre(PciAddr("0000:15:01.0"), PciAddr("0000:16:00.0"), PciAddr("0000:17:00.0"),
                          PciAddr("0000:18:00.0"), PciAddr("0000:19:00.0")));
  EXPECT_FALSE(gpu->is_bridge);

  const PciFunction* nic = Find(*scan, "0000:1b:00.0");
  ASSERT_NE(nic, nullptr);
  EXPECT_EQ(nic->driver, "mlx5_core");
  EXPECT_EQ(nic->sriov_totalvfs, 16);
  EXPECT_EQ(nic->sriov_numvfs, 0);
  EXPECT_EQ(nic->physfn, std::nullopt);

  // Bridges carry their PCIe port types from config space.
  EXPECT_EQ(Find(*scan, "0000:15:01.0")->port_type, PciePortType::kRootPort);
  EXPECT_EQ(Find(*scan, "0000:16:00.0")->port_type, PciePortType::kSwitchUpstream);
  EXPECT_EQ(Find(*scan, "0000:17:00.0")->port_type, PciePortType::kSwitchDownstream);
  EXPECT_EQ(Find(*scan, "0000:02:00.0")->port_type, PciePortType::kPcieToPciBridge);
  EXPECT_EQ(Find(*scan, "0000:16:00.0")->secondary_bus, 0x17);
  EXPECT_EQ(Find(*scan, "0000:16:00.0")->subordinate_bus, 0x1f);

  // numa_node -1 is kept raw; the loader applies the rule.
  EXPECT_EQ(Find(*scan, "0000:c9:00.0")->sysfs_numa_node, -1);
}

TEST_F(BundledNodeScanTest, FindsOsDevicesFromClassAndProc) {
  auto scan = ReadSysfsPci(sys_, &proc_);
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_THAT(OsNames(*scan, "0000:1b:00.0"),
              ElementsAre("mlx5_0", "ibp27s0", "uverbs0", "issm0", "umad0"));
  EXPECT_THAT(OsNames(*scan, "0000:1a:00.0"), ElementsAre("card1", "renderD128", "nvidia0"));
  EXPECT_THAT(OsNames(*scan, "0000:03:00.0"), ElementsAre("card0"));
  EXPECT_THAT(OsNames(*scan, "0000:20:00.1"), ElementsAre("eno2"));

  const OsDevice* mlx = FindOs(*scan, "mlx5_0");
  ASSERT_NE(mlx, nullptr);
  EXPECT_EQ(mlx->type, OsDeviceType::kOpenFabrics);
  EXPECT_EQ(mlx->info.at("NodeGUID"), "b83f:d203:00a1:0010");
  EXPECT_EQ(mlx->info.at("Subsystem"), "infiniband");
  const OsDevice* uverbs = FindOs(*scan, "uverbs3");
  ASSERT_NE(uverbs, nullptr);
  EXPECT_EQ(uverbs->info.at("IBDev"), "mlx5_3");
  EXPECT_EQ(uverbs->info.at("Dev"), "231:195");
  const OsDevice* nv = FindOs(*scan, "nvidia7");
  ASSERT_NE(nv, nullptr);
  EXPECT_EQ(nv->info.at("GPUModel"), "NVIDIA H100 80GB HBM3");
  // Virtual devices (lo) and plain files in class dirs (drm/version, abi_version) are skipped.
  EXPECT_EQ(FindOs(*scan, "lo"), nullptr);
  EXPECT_EQ(FindOs(*scan, "version"), nullptr);
  EXPECT_EQ(FindOs(*scan, "abi_version"), nullptr);
}

TEST_F(BundledNodeScanTest, WithoutProcThereAreNoNvidiaNodes) {
  auto scan = ReadSysfsPci(sys_, nullptr);
  ASSERT_TRUE(scan.ok());
  EXPECT_THAT(OsNames(*scan, "0000:1a:00.0"), ElementsAre("card1", "renderD128"));
}

TEST_F(BundledNodeScanTest, DropsADeviceThatVanishesMidScan) {
  FaultySysfs faulty(sys_);
  // The listing still names 0000:1e:00.0, but its directory is gone.
  faulty.set_injector([](std::string_view op, std::string_view path) {
    if ((op == "list" || op == "readlink" || op == "read") &&
        path.find("0000:1e:00.0") != std::string_view::npos &&
        path.find("bus/pci/devices/0000:1e:00.0") == std::string_view::npos) {
      return absl::NotFoundError("gone");
    }
    return absl::OkStatus();
  });
  auto scan = ReadSysfsPci(faulty, &proc_);
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_EQ(Find(*scan, "0000:1e:00.0"), nullptr);
  EXPECT_NE(Find(*scan, "0000:1a:00.0"), nullptr);
  EXPECT_THAT(scan->warnings, Contains(HasSubstr("0000:1e:00.0: vanished during the scan")));
}

TEST_F(BundledNodeScanTest, ReadErrorsOnOptionalAttributesDegrade) {
  FaultySysfs faulty(sys_);
  faulty.set_injector([](std::string_view op, std::string_view path) {
    if (op == "read" && base::EndsWith(path, "0000:1a:00.0/numa_node")) {
      return absl::PermissionDeniedError("open numa_node: Permission denied");
    }
    if (op == "read" && base::EndsWith(path, "0000:1b:00.0/local_cpulist")) {
      return absl::InternalError("read local_cpulist: Input/output error");
    }
    return absl::OkStatus();
  });
  auto scan = ReadSysfsPci(faulty, nullptr);
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_EQ(Find(*scan, "0000:1a:00.0")->sysfs_numa_node, std::nullopt);
  EXPECT_TRUE(Find(*scan, "0000:1b:00.0")->local_cpus.empty());
  EXPECT_THAT(scan->warnings,
              Contains(HasSubstr("0000:1a:00.0: open numa_node: Permission denied")));
  EXPECT_THAT(scan->warnings, Contains(HasSubstr("0000:1b:00.0: read local_cpulist")));
}

TEST_F(BundledNodeScanTest, UnlistablePciBusIsAnError) {
  FaultySysfs faulty(sys_);
  faulty.set_injector([](std::string_view op, std::string_view path) {
    if (op == "list" && path == "bus/pci/devices") return absl::PermissionDeniedError("denied");
    return absl::OkStatus();
  });
  EXPECT_THAT(ReadSysfsPci(faulty, nullptr),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("read pci devices")));
}

class SmallTreeTest : public ::testing::Test {
 protected:
  SmallTreeTest() : tree_(dir_.path()) {}
  absl::StatusOr<SysfsPciScan> Scan() {
    base::DirSysfs sys(tree_.sys());
    return ReadSysfsPci(sys, nullptr);
  }
  TempDir dir_;
  SysfsTree tree_;
};

TEST_F(SmallTreeTest, NoPciBusGivesAnEmptyScan) {
  tree_.Dir("sys/devices/system/cpu");
  auto scan = Scan();
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_THAT(scan->functions, IsEmpty());
  EXPECT_THAT(scan->warnings, IsEmpty());
}

TEST_F(SmallTreeTest, FallsBackToTextAttributesWithoutConfig) {
  tree_.AddPci({.bdf = "0000:00:03.0",
                .vendor = 0x1af4,
                .device = 0x1041,
                .class_code = 0x020000,
                .config = false,
                .numa_node = "-1\n",
                .driver = "virtio-pci"});
  tree_.File("sys/devices/pci0000:00/0000:00:03.0/subsystem_vendor", "0x1af4\n");
  tree_.File("sys/devices/pci0000:00/0000:00:03.0/subsystem_device", "0x0001\n");
  auto scan = Scan();
  ASSERT_TRUE(scan.ok()) << scan.status();
  ASSERT_EQ(scan->functions.size(), 1u);
  const PciFunction& f = scan->functions[0];
  EXPECT_EQ(f.vendor_id, 0x1af4);
  EXPECT_EQ(f.device_id, 0x1041);
  EXPECT_EQ(f.class_code, 0x020000u);
  EXPECT_EQ(f.subsystem_device_id, 0x0001);
  EXPECT_EQ(f.sysfs_numa_node, -1);
  EXPECT_EQ(f.driver, "virtio-pci");
}

TEST_F(SmallTreeTest, TruncatedConfigFallsBackToo) {
  tree_.AddPci({.bdf = "0000:00:04.0",
                .vendor = 0x10de,
                .device = 0x2330,
                .class_code = 0x030200,
                .config = false});
  tree_.File("sys/devices/pci0000:00/0000:00:04.0/config", std::string(10, '\x42'));
  auto scan = Scan();
  ASSERT_TRUE(scan.ok());
  ASSERT_EQ(scan->functions.size(), 1u);
  EXPECT_EQ(scan->functions[0].vendor_id, 0x10de);
}

TEST_F(SmallTreeTest, GarbageIdentitySkipsTheDevice) {
  tree_.AddPci({.bdf = "0000:00:05.0", .config = false});
  tree_.File("sys/devices/pci0000:00/0000:00:05.0/class", "\xff\xfegarbage\n");
  tree_.AddPci({.bdf = "0000:00:06.0"});
  auto scan = Scan();
  ASSERT_TRUE(scan.ok());
  ASSERT_EQ(scan->functions.size(), 1u);
  EXPECT_EQ(scan->functions[0].address, PciAddr("0000:00:06.0"));
  EXPECT_THAT(scan->warnings, ElementsAre(HasSubstr("0000:00:05.0: invalid pci class")));
}

TEST_F(SmallTreeTest, GarbageAndNulTerminatedValues) {
  tree_.AddPci({.bdf = "0000:00:07.0",
                .numa_node = std::string("1\n\0", 3),
                .local_cpulist = std::string("0-1\n\0\0", 6)});
  tree_.AddPci({.bdf = "0000:00:08.0", .numa_node = "banana\n", .local_cpulist = "9-1\n"});
  tree_.AddPci({.bdf = "0000:00:09.0", .numa_node = std::nullopt, .local_cpulist = std::nullopt});
  tree_.File("sys/devices/pci0000:00/0000:00:09.0/local_cpus", "00000000,0000000c\n");
  tree_.File("sys/devices/pci0000:00/0000:00:09.0/sriov_totalvfs", "lots\n");
  auto scan = Scan();
  ASSERT_TRUE(scan.ok()) << scan.status();
  ASSERT_EQ(scan->functions.size(), 3u);
  EXPECT_EQ(scan->functions[0].sysfs_numa_node, 1);
  EXPECT_EQ(scan->functions[0].local_cpus.ToListString(), "0-1");
  EXPECT_EQ(scan->functions[1].sysfs_numa_node, std::nullopt);
  EXPECT_TRUE(scan->functions[1].local_cpus.empty());
  EXPECT_EQ(scan->functions[2].sysfs_numa_node, std::nullopt);
  EXPECT_EQ(scan->functions[2].local_cpus.ToListString(), "2-3");  // from the mask
  EXPECT_EQ(scan->functions[2].sriov_totalvfs, 0);
  EXPECT_THAT(scan->warnings, ElementsAre(HasSubstr("0000:00:08.0: invalid numa_node \"banana\""),
                                          HasSubstr("0000:00:08.0: local_cpulist"),
                                          HasSubstr("0000:00:09.0: sriov_totalvfs \"lots\"")));
}

TEST_F(SmallTreeTest, ReadsVirtualFunctions) {
  const std::string pf = tree_.AddPci({.bdf = "0000:3b:00.0", .vendor = 0x15b3, .device = 0x101d});
  tree_.File("sys/" + pf + "/sriov_totalvfs", "8\n");
  tree_.File("sys/" + pf + "/sriov_numvfs", "2\n");
  const std::string vf = tree_.AddPci({.bdf = "0000:3b:00.2", .vendor = 0x15b3, .device = 0x101e});
  tree_.Link("sys/" + vf + "/physfn", "../0000:3b:00.0");
  auto scan = Scan();
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ(Find(*scan, "0000:3b:00.0")->sriov_totalvfs, 8);
  EXPECT_EQ(Find(*scan, "0000:3b:00.0")->sriov_numvfs, 2);
  EXPECT_EQ(Find(*scan, "0000:3b:00.2")->physfn, PciAddr("0000:3b:00.0"));
}

TEST_F(SmallTreeTest, AbsoluteLinksStayInsideTheCapture) {
  // A capture whose links are absolute: they name the host's /sys, and must
  // be read inside the capture instead.
  tree_.AddPci({.bdf = "0000:00:0a.0", .vendor = 0x15b3, .device = 0x1017, .class_code = 0x020000});
  std::filesystem::remove(tree_.sys() + "/bus/pci/devices/0000:00:0a.0");
  tree_.Link("sys/bus/pci/devices/0000:00:0a.0", "/sys/devices/pci0000:00/0000:00:0a.0");
  tree_.Dir("sys/devices/pci0000:00/0000:00:0a.0/net/eth7");
  tree_.File("sys/devices/pci0000:00/0000:00:0a.0/net/eth7/address", "02:00:00:00:00:07\n");
  tree_.Link("sys/class/net/eth7", "/sys/devices/pci0000:00/0000:00:0a.0/net/eth7");
  auto scan = Scan();
  ASSERT_TRUE(scan.ok());
  ASSERT_NE(Find(*scan, "0000:00:0a.0"), nullptr);
  EXPECT_EQ(Find(*scan, "0000:00:0a.0")->vendor_id, 0x15b3);
  EXPECT_EQ(Find(*scan, "0000:00:0a.0")->root_name, "pci0000:00");
  const OsDevice* eth = FindOs(*scan, "eth7");
  ASSERT_NE(eth, nullptr);
  EXPECT_EQ(eth->info.at("Address"), "02:00:00:00:00:07");
}

TEST_F(SmallTreeTest, EntriesThatAreNotLinksOrAddresses) {
  tree_.AddPci({.bdf = "0000:00:0b.0"});
  tree_.Dir("sys/bus/pci/devices/not-an-address");
  // A flattened copy: a plain directory instead of a link.
  tree_.Dir("sys/bus/pci/devices/0000:00:0c.0");
  tree_.File("sys/bus/pci/devices/0000:00:0c.0/config",
             ::tessera::testing::PciConfigBytes(
                 {.vendor = 0x8086, .device = 0x1521, .class_code = 0x020000}));
  // A link that escapes the root.
  tree_.Link("sys/bus/pci/devices/0000:00:0d.0", "../../../../../../etc");
  auto scan = Scan();
  ASSERT_TRUE(scan.ok());
  ASSERT_EQ(scan->functions.size(), 2u);
  EXPECT_EQ(scan->functions[1].address, PciAddr("0000:00:0c.0"));
  EXPECT_EQ(scan->functions[1].root_name, "");
  EXPECT_THAT(scan->warnings,
              ElementsAre(HasSubstr("0000:00:0c.0: bus/pci/devices entry is not a link"),
                          HasSubstr("0000:00:0d.0: device link"),
                          HasSubstr("\"not-an-address\": not a PCI address")));
}

TEST_F(SmallTreeTest, UnprintableBytesNeverReachTheModel) {
  const std::string dev = tree_.AddPci(
      {.bdf = "0000:00:0f.0", .vendor = 0x15b3, .device = 0x1021, .class_code = 0x020700});
  const std::string ib = tree_.AddClassDevice("infiniband", "mlx5_0", dev);
  tree_.File("sys/" + ib + "/node_guid", "\xae\x93garbage\n");
  tree_.File("sys/" + ib + "/sys_image_guid", "0c42:a103:0000:0001\n");
  tree_.AddClassDevice("net", "eth\x01" "bad", dev);
  tree_.Link("sys/" + dev + "/driver", "../../../bus/pci/drivers/\xff\xfe");
  auto scan = Scan();
  ASSERT_TRUE(scan.ok()) << scan.status();
  ASSERT_EQ(scan->functions.size(), 1u);
  EXPECT_EQ(scan->functions[0].driver, "");
  ASSERT_EQ(scan->os_devices.size(), 1u);
  const OsDevice& os = scan->os_devices[0].second;
  EXPECT_EQ(os.name, "mlx5_0");
  EXPECT_EQ(os.info.count("NodeGUID"), 0u);
  EXPECT_EQ(os.info.at("SysImageGUID"), "0c42:a103:0000:0001");
  EXPECT_THAT(scan->warnings, ElementsAre(HasSubstr("driver link"), HasSubstr("mlx5_0: node_guid"),
                                          HasSubstr("not a printable name")));
}

TEST_F(SmallTreeTest, BadNvidiaInformationIsAWarning) {
  tree_.AddPci({.bdf = "0000:00:0e.0", .vendor = 0x10de, .device = 0x2330, .class_code = 0x030200});
  tree_.File("proc/driver/nvidia/gpus/0000:00:0e.0/information", "Device Minor: lots\n");
  tree_.File("proc/driver/nvidia/gpus/garbage/information", "Device Minor: 1\n");
  base::DirSysfs sys(tree_.sys());
  base::DirSysfs proc(tree_.proc());
  auto scan = ReadSysfsPci(sys, &proc);
  ASSERT_TRUE(scan.ok());
  EXPECT_THAT(scan->os_devices, IsEmpty());
  EXPECT_THAT(scan->warnings, ElementsAre(HasSubstr("invalid Device Minor")));
}

}  // namespace
}  // namespace tessera::topology
