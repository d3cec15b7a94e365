#include "drivers/rdma/sysfs_rdma.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "base/strings.h"
#include "test/fakes/base/faulty_sysfs.h"
#include "test/fakes/base/pci_addr.h"
#include "test/fakes/base/temp_dir.h"
#include "test/fakes/topology/sysfs_tree.h"
#include "test/matchers/status_matchers.h"

namespace tessera::drivers::rdma {
namespace {

using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::PciAddr;
using ::tessera::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::SizeIs;

TEST(ParsePortStateTest, ReadsTheKernelAndHwlocForms) {
  EXPECT_THAT(ParsePortState("4: ACTIVE\n"), IsOkAndHolds(PortState::kActive));
  EXPECT_THAT(ParsePortState("1: DOWN"), IsOkAndHolds(PortState::kDown));
  EXPECT_THAT(ParsePortState("2: INIT"), IsOkAndHolds(PortState::kInit));
  EXPECT_THAT(ParsePortState("5: ACTIVE_DEFER"), IsOkAndHolds(PortState::kActiveDefer));
  EXPECT_THAT(ParsePortState("4"), IsOkAndHolds(PortState::kActive));  // hwloc Port1State
  EXPECT_THAT(ParsePortState("9: WHAT"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an ib_port_state")));
  EXPECT_THAT(ParsePortState("ACTIVE"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParsePortState(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(IsActive(PortState::kActiveDefer));
  EXPECT_FALSE(IsActive(PortState::kArmed));
}

TEST(ParsePhysStateTest, KeepsCodeAndName) {
  EXPECT_THAT(ParsePhysState("5: LinkUp\n"), IsOkAndHolds(PhysState{5, "LinkUp"}));
  EXPECT_THAT(ParsePhysState("3: Disabled"), IsOkAndHolds(PhysState{3, "Disabled"}));
  EXPECT_THAT(ParsePhysState("x: LinkUp"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseRateTest, ConvertsToMegabits) {
  EXPECT_THAT(ParseRateMbps("400 Gb/sec (4X NDR)\n"), IsOkAndHolds(400000u));
  EXPECT_THAT(ParseRateMbps("56 Gb/sec (4X FDR)"), IsOkAndHolds(56000u));
  EXPECT_THAT(ParseRateMbps("2.5 Gb/sec (1X SDR)"), IsOkAndHolds(2500u));
  EXPECT_THAT(ParseRateMbps("53.125 Gb/sec (1X HDR)"), IsOkAndHolds(53125u));
  EXPECT_THAT(ParseRateMbps("100 Gb/sec"), IsOkAndHolds(100000u));
  for (std::string_view bad :
       {"", "fast", "400 Mb/sec", "4.5.1 Gb/sec", "1.2345 Gb/sec", "-1 Gb/sec", "400Gb/sec"}) {
    EXPECT_THAT(ParseRateMbps(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(ParseLinkLayerTest, KnowsTheTwoLayers) {
  EXPECT_THAT(ParseLinkLayer("InfiniBand\n"), IsOkAndHolds(LinkLayer::kInfiniBand));
  EXPECT_THAT(ParseLinkLayer("Ethernet"), IsOkAndHolds(LinkLayer::kEthernet));
  EXPECT_THAT(ParseLinkLayer("Omni-Path"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseDevNumberTest, MajorMinorWithinDevT) {
  EXPECT_THAT(ParseDevNumber("231:192\n"), IsOkAndHolds(DevNumber{231, 192}));
  EXPECT_THAT(ParseDevNumber("10:58"), IsOkAndHolds(DevNumber{10, 58}));
  for (std::string_view bad : {"231", "231:", ":1", "a:b", "4096:0", "1:1048576"}) {
    EXPECT_THAT(ParseDevNumber(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(ParseGuidTest, FourGroupsLowered) {
  EXPECT_THAT(ParseGuid("B83F:D203:00A1:0010\n"), IsOkAndHolds("b83f:d203:00a1:0010"));
  for (std::string_view bad :
       {"b83fd20300a10010", "b83f:d203:00a1", "b83f:d203:00a1:001g", "b83f:d203:00a1:00100"}) {
    EXPECT_THAT(ParseGuid(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(PciFunctionOfPathTest, TakesTheDeepestExtendedBdf) {
  EXPECT_EQ(PciFunctionOfPath("devices/pci0000:15/0000:15:01.0/0000:16:00.0/infiniband/mlx5_0"),
            PciAddr("0000:16:00.0"));
  // An auxiliary device below the function.
  EXPECT_EQ(PciFunctionOfPath("devices/pci0000:00/0000:00:02.0/0000:3b:00.0/mlx5_core.rdma.0/"
                              "infiniband/mlx5_0"),
            PciAddr("0000:3b:00.0"));
  EXPECT_EQ(PciFunctionOfPath("devices/virtual/net/lo"), std::nullopt);
  EXPECT_EQ(PciFunctionOfPath("devices/scif_dma_0/infiniband/scif0"), std::nullopt);
}

std::string TestData(std::string_view node) {
  return base::StrCat(TESSERA_SOURCE_DIR, "/test/testdata/rdma/", node, "/sys");
}

TEST(ReadRdmaFunctionsTest, ConnectX7InfiniBandWithVfs) {
  base::DirSysfs sysfs(TestData("cx7-ib-sriov"));
  auto fns = ReadRdmaFunctions(sysfs, {PciAddr("0000:04:00.0"), PciAddr("0000:04:00.2"),
                                       PciAddr("0000:81:00.0"), PciAddr("0000:99:00.0")});
  ASSERT_THAT(fns, SizeIs(4));

  const SysfsRdmaFunction& pf = fns.at(PciAddr("0000:04:00.0"));
  EXPECT_TRUE(pf.pci_dir_present);
  EXPECT_THAT(pf.problems, IsEmpty());
  ASSERT_THAT(pf.ib_devices, SizeIs(1));
  const SysfsIbDevice& ib = pf.ib_devices[0];
  EXPECT_EQ(ib.name, "mlx5_0");
  EXPECT_EQ(ib.node_guid, "b83f:d203:00a1:0010");
  EXPECT_EQ(ib.fw_ver, "28.39.1002");
  EXPECT_EQ(ib.hca_type, "MT4129");
  ASSERT_THAT(ib.ports, SizeIs(1));
  EXPECT_EQ(ib.ports[0].number, 1u);
  EXPECT_EQ(ib.ports[0].state, PortState::kActive);
  EXPECT_EQ(ib.ports[0].phys_state, (PhysState{5, "LinkUp"}));
  EXPECT_EQ(ib.ports[0].link_layer, LinkLayer::kInfiniBand);
  EXPECT_EQ(ib.ports[0].rate_mbps, 400000u);
  EXPECT_EQ(ib.ports[0].gid0, "fe80:0000:0000:0000:b83f:d203:00a1:0010");
  EXPECT_THAT(pf.uverbs, ElementsAre(SysfsCharDev{"uverbs0", "mlx5_0", 0, DevNumber{231, 192}}));
  EXPECT_THAT(pf.umad, ElementsAre(SysfsCharDev{"umad0", "mlx5_0", 1, DevNumber{231, 0}}));
  EXPECT_THAT(pf.issm, ElementsAre(SysfsCharDev{"issm0", "mlx5_0", 1, DevNumber{231, 64}}));
  ASSERT_THAT(pf.netdevs, SizeIs(1));
  EXPECT_EQ(pf.netdevs[0].name, "ibp4s0");
  EXPECT_EQ(pf.netdevs[0].port, 1u);
  EXPECT_EQ(pf.netdevs[0].operstate, "up");
  EXPECT_EQ(pf.netdevs[0].addr_len, 20);

  // The second VF: a port that is down, no netdev, no issm.
  const SysfsRdmaFunction& vf = fns.at(PciAddr("0000:04:00.2"));
  ASSERT_THAT(vf.ib_devices, SizeIs(1));
  EXPECT_EQ(vf.ib_devices[0].name, "mlx5_3");
  EXPECT_EQ(vf.ib_devices[0].ports.at(0).state, PortState::kDown);
  EXPECT_THAT(vf.issm, IsEmpty());
  EXPECT_THAT(vf.netdevs, IsEmpty());

  // Not a function of this tree: an empty entry, not an error.
  EXPECT_FALSE(fns.at(PciAddr("0000:99:00.0")).pci_dir_present);
  EXPECT_THAT(ReadRdmaCmDevNumber(sysfs), Optional(DevNumber{10, 58}));
}

TEST(ReadRdmaFunctionsTest, RoceNamesItsNetdevThroughTheGidTable) {
  base::DirSysfs sysfs(TestData("cx6dx-roce"));
  auto fns = ReadRdmaFunctions(
      sysfs, {PciAddr("0000:01:00.1"), PciAddr("0000:02:00.0"), PciAddr("0000:03:00.0")});
  const SysfsRdmaFunction& f1 = fns.at(PciAddr("0000:01:00.1"));
  ASSERT_THAT(f1.ib_devices, SizeIs(1));
  EXPECT_EQ(f1.ib_devices[0].ports.at(0).link_layer, LinkLayer::kEthernet);
  EXPECT_EQ(f1.ib_devices[0].ports.at(0).gid_netdev, "ens1f1np1");
  EXPECT_THAT(f1.netdevs, ElementsAre(Field(&SysfsNetdev::operstate, "down")));
  // ib_uverbs not loaded: an RDMA device without uverbs.
  EXPECT_THAT(fns.at(PciAddr("0000:02:00.0")).uverbs, IsEmpty());
  EXPECT_THAT(fns.at(PciAddr("0000:02:00.0")).ib_devices, SizeIs(1));
  // mlx5_ib not loaded: a netdev, no RDMA device.
  EXPECT_THAT(fns.at(PciAddr("0000:03:00.0")).ib_devices, IsEmpty());
  EXPECT_THAT(fns.at(PciAddr("0000:03:00.0")).netdevs, SizeIs(1));
  EXPECT_EQ(ReadRdmaCmDevNumber(sysfs), std::nullopt);
}

TEST(ReadRdmaFunctionsTest, ClassEntriesBelowTheFunctionAreFound) {
  // An RDMA device registered below an auxiliary device of the function
  // (mlx5 sub-functions): only class/infiniband leads to it.
  tessera::testing::TempDir dir;
  tessera::testing::SysfsTree tree(dir.path());
  const std::string fn = "sys/devices/pci0000:00/0000:00:01.0/0000:3b:00.0";
  tree.File(fn + "/vendor", "0x15b3\n");
  tree.Link("sys/bus/pci/devices/0000:3b:00.0", "/" + fn);
  const std::string aux = fn + "/mlx5_core.sf.2";
  tree.File(aux + "/infiniband/mlx5_4/node_guid", "0c42:a103:0000:0004\n");
  tree.File(aux + "/infiniband/mlx5_4/ports/1/state", "4: ACTIVE\n");
  tree.Link("sys/class/infiniband/mlx5_4", "/" + aux + "/infiniband/mlx5_4");
  tree.File(aux + "/infiniband_verbs/uverbs4/ibdev", "mlx5_4\n");
  tree.File(aux + "/infiniband_verbs/uverbs4/dev", "231:196\n");
  tree.Link("sys/class/infiniband_verbs/uverbs4", "/" + aux + "/infiniband_verbs/uverbs4");
  tree.File("sys/class/infiniband_verbs/abi_version", "6\n");

  base::DirSysfs sysfs(tree.sys());
  auto fns = ReadRdmaFunctions(sysfs, {PciAddr("0000:3b:00.0")});
  const SysfsRdmaFunction& f = fns.at(PciAddr("0000:3b:00.0"));
  ASSERT_THAT(f.ib_devices, SizeIs(1));
  EXPECT_EQ(f.ib_devices[0].name, "mlx5_4");
  EXPECT_EQ(f.ib_devices[0].ports.at(0).state, PortState::kActive);
  EXPECT_THAT(f.uverbs, ElementsAre(Field(&SysfsCharDev::dev, Optional(DevNumber{231, 196}))));
}

TEST(ReadRdmaFunctionsTest, BadValuesAreSkippedAndReported) {
  tessera::testing::TempDir dir;
  tessera::testing::SysfsTree tree(dir.path());
  const std::string fn = "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0";
  tree.Link("sys/bus/pci/devices/0000:01:00.0", "/" + fn);
  tree.File(fn + "/infiniband/mlx5_0/node_guid", "not-a-guid\n");
  tree.File(fn + "/infiniband/mlx5_0/ports/1/state", "7: BOGUS\n");
  tree.File(fn + "/infiniband/mlx5_0/ports/1/rate", "fast\n");
  tree.File(fn + "/infiniband/mlx5_0/ports/1/link_layer", "Ethernet\n");
  tree.File(fn + "/infiniband_verbs/uverbs0/ibdev", "mlx5_0\n");
  tree.File(fn + "/infiniband_verbs/uverbs0/dev", "231\n");

  base::DirSysfs sysfs(tree.sys());
  const SysfsRdmaFunction f =
      ReadRdmaFunctions(sysfs, {PciAddr("0000:01:00.0")}).at(PciAddr("0000:01:00.0"));
  ASSERT_THAT(f.ib_devices, SizeIs(1));
  EXPECT_EQ(f.ib_devices[0].node_guid, "");
  EXPECT_EQ(f.ib_devices[0].ports.at(0).state, PortState::kUnknown);
  EXPECT_EQ(f.ib_devices[0].ports.at(0).rate_mbps, std::nullopt);
  EXPECT_EQ(f.ib_devices[0].ports.at(0).link_layer, LinkLayer::kEthernet);  // the good one stays
  EXPECT_EQ(f.uverbs.at(0).dev, std::nullopt);
  EXPECT_THAT(f.problems, SizeIs(4));
  EXPECT_THAT(f.problems, ::testing::Contains(HasSubstr("ports/1/rate")));
}

TEST(ReadRdmaFunctionsTest, UnreadableAttributeIsAProblemNotAFailure) {
  base::DirSysfs real(TestData("cx7-ib-sriov"));
  tessera::testing::FaultySysfs faulty(real);
  faulty.set_injector([](std::string_view op, std::string_view path) {
    return op == "read" && path.ends_with("/mlx5_0/ports/1/state")
               ? absl::PermissionDeniedError("permission denied")
               : absl::OkStatus();
  });
  const SysfsRdmaFunction f =
      ReadRdmaFunctions(faulty, {PciAddr("0000:04:00.0")}).at(PciAddr("0000:04:00.0"));
  ASSERT_THAT(f.ib_devices, SizeIs(1));
  EXPECT_EQ(f.ib_devices[0].ports.at(0).state, PortState::kUnknown);
  EXPECT_EQ(f.ib_devices[0].ports.at(0).link_layer, LinkLayer::kInfiniBand);
  EXPECT_THAT(f.problems, ElementsAre(HasSubstr("permission denied")));
}

}  // namespace
}  // namespace tessera::drivers::rdma
