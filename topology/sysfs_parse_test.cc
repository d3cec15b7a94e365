#include "topology/sysfs_parse.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "test/fakes/base/pci_addr.h"
#include "test/fakes/topology/sysfs_tree.h"
#include "test/matchers/status_matchers.h"

namespace tessera::topology {
namespace {

using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::PciAddr;
using ::tessera::testing::PciConfigBytes;
using ::tessera::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;

TEST(NormalizeLinkTargetTest, JoinsRelativeTargets) {
  struct Case {
    std::string_view dir, target;
    std::optional<std::string> want;
  };
  const Case cases[] = {
      {"bus/pci/devices", "../../../devices/pci0000:80/0000:80:02.2/0000:82:00.0",
       "devices/pci0000:80/0000:80:02.2/0000:82:00.0"},
      {"class/net", "../../devices/virtual/net/lo", "devices/virtual/net/lo"},
      {"class/net", "./../../devices//x/", "devices/x"},
      // Absolute targets name the host's /sys and are re-anchored at the root.
      {"bus/pci/devices", "/sys/devices/pci0000:00/0000:00:02.0",
       "devices/pci0000:00/0000:00:02.0"},
      {"bus/pci/devices", "/devices/pci0000:00", "devices/pci0000:00"},
      // Climbing above the root is refused.
      {"class/net", "../../../../etc", std::nullopt},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(NormalizeLinkTarget(c.dir, c.target), c.want) << c.dir << " + " << c.target;
  }
}

TEST(ParsePciDevicePathTest, GivesRootAndUpstreamChain) {
  auto path =
      ParsePciDevicePath("devices/pci0000:40/0000:40:01.1/0000:41:00.0/0000:42:01.0/0000:44:00.0",
                         PciAddr("0000:44:00.0"));
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(path->root_name, "pci0000:40");
  EXPECT_THAT(path->upstream, ElementsAre(PciAddr("0000:40:01.1"), PciAddr("0000:41:00.0"),
                                          PciAddr("0000:42:01.0")));
}

TEST(ParsePciDevicePathTest, SkipsNonPciComponentsBelowTheRoot) {
  // A device behind an Intel VMD controller: its own root "pci10000:e0" sits
  // below the VMD function; pcieRoot stays the outer root, as upstream
  // Kubernetes' deviceattribute helper computes it.
  auto path =
      ParsePciDevicePath("devices/pci0000:00/0000:00:0e.0/pci10000:e0/10000:e0:1d.0/10000:e1:00.0",
                         PciAddr("10000:e1:00.0"));
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(path->root_name, "pci0000:00");
  EXPECT_THAT(path->upstream, ElementsAre(PciAddr("0000:00:0e.0"), PciAddr("10000:e0:1d.0")));
}

TEST(ParsePciDevicePathTest, RejectsPathsThatDoNotNameTheDevice) {
  const base::PciAddress self = PciAddr("0000:82:00.0");
  EXPECT_THAT(ParsePciDevicePath("devices/pci0000:80/0000:80:02.2/0000:83:00.0", self),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not end")));
  EXPECT_THAT(ParsePciDevicePath("devices/platform/0000:82:00.0", self),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("root complex")));
  EXPECT_THAT(ParsePciDevicePath("0000:82:00.0", self),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParsePciDevicePath("", self), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(OwnerPciAddressTest, FindsTheOwningFunction) {
  EXPECT_THAT(OwnerPciAddress("devices/pci0000:00/0000:00:03.0/virtio1/net/eth0"),
              Optional(PciAddr("0000:00:03.0")));
  EXPECT_THAT(OwnerPciAddress("devices/pci0000:80/0000:80:02.2/0000:82:00.0/infiniband/mlx4_0"),
              Optional(PciAddr("0000:82:00.0")));
  EXPECT_EQ(OwnerPciAddress("devices/virtual/net/lo"), std::nullopt);
  EXPECT_EQ(OwnerPciAddress("devices/scif_dma_0/infiniband/scif0"), std::nullopt);
  EXPECT_EQ(OwnerPciAddress(""), std::nullopt);
}

TEST(ParsePciConfigTest, ReadsEndpointHeader) {
  std::string bytes = PciConfigBytes({.vendor = 0x10de,
                                      .device = 0x2330,
                                      .class_code = 0x030200,
                                      .subsystem_vendor = 0x10de,
                                      .subsystem_device = 0x16c1,
                                      .port_type = 0});
  auto c = ParsePciConfig(bytes);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->vendor_id, 0x10de);
  EXPECT_EQ(c->device_id, 0x2330);
  EXPECT_EQ(c->class_code, 0x030200u);
  EXPECT_EQ(c->header_type, 0);
  EXPECT_EQ(c->subsystem_vendor_id, 0x10de);
  EXPECT_EQ(c->subsystem_device_id, 0x16c1);
  EXPECT_TRUE(c->is_pcie);
  EXPECT_EQ(c->port_type, PciePortType::kOther);  // an endpoint, not a bridge port type
}

TEST(ParsePciConfigTest, ReadsBridgeBusesAndPortType) {
  struct Case {
    int port_type;
    PciePortType want;
  };
  for (const Case& c :
       {Case{4, PciePortType::kRootPort}, Case{5, PciePortType::kSwitchUpstream},
        Case{6, PciePortType::kSwitchDownstream}, Case{7, PciePortType::kPcieToPciBridge},
        Case{8, PciePortType::kPciToPcieBridge}}) {
    auto parsed = ParsePciConfig(PciConfigBytes({.vendor = 0x1000,
                                                 .device = 0xc030,
                                                 .class_code = 0x060400,
                                                 .bridge = true,
                                                 .bus = 0x41,
                                                 .secondary = 0x42,
                                                 .subordinate = 0x45,
                                                 .port_type = c.port_type}));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->header_type, 1);
    EXPECT_EQ(parsed->secondary_bus, 0x42);
    EXPECT_EQ(parsed->subordinate_bus, 0x45);
    EXPECT_EQ(parsed->port_type, c.want) << c.port_type;
  }
}

TEST(ParsePciConfigTest, PortTypeUnknownWhenOnlyTheHeaderIsReadable) {
  // Unprivileged reads of sysfs config stop at 64 bytes: the capability at
  // 0x40 is out of reach.
  auto c = ParsePciConfig(PciConfigBytes({.vendor = 0x8086,
                                          .device = 0x3c06,
                                          .class_code = 0x060400,
                                          .bridge = true,
                                          .bus = 0x80,
                                          .secondary = 0x82,
                                          .subordinate = 0x82,
                                          .port_type = 4,
                                          .size = 64}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->secondary_bus, 0x82);
  EXPECT_FALSE(c->is_pcie);
  EXPECT_EQ(c->port_type, PciePortType::kUnknown);
}

TEST(ParsePciConfigTest, RejectsShortAndAbsentDevices) {
  EXPECT_THAT(ParsePciConfig(std::string(63, '\x01')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("63 bytes")));
  // A vanished device reads as all ones.
  EXPECT_THAT(ParsePciConfig(std::string(256, '\xff')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no device")));
  EXPECT_THAT(ParsePciConfig(std::string(256, '\0')), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParsePciConfigTest, SurvivesCapabilityLoopsAndBadPointers) {
  std::string c = PciConfigBytes(
      {.vendor = 0x8086, .device = 0x1, .class_code = 0x060400, .bridge = true, .port_type = 4});
  // A capability that points at itself, never reaching a PCIe capability.
  c[0x40] = 0x01;  // power management
  c[0x41] = 0x40;
  auto looped = ParsePciConfig(c);
  ASSERT_TRUE(looped.ok());
  EXPECT_EQ(looped->port_type, PciePortType::kUnknown);
  // A pointer into the header or past the end.
  c[0x34] = 0x10;
  EXPECT_EQ(ParsePciConfig(c)->port_type, PciePortType::kUnknown);
  c[0x34] = static_cast<char>(0xfe);
  EXPECT_EQ(ParsePciConfig(c)->port_type, PciePortType::kUnknown);
}

TEST(ParsePciIdTest, ParsesSysfsIds) {
  EXPECT_THAT(ParsePciId("0x10de\n"), IsOkAndHolds(0x10de));
  EXPECT_THAT(ParsePciId("0x15b3\n\0\0"), IsOkAndHolds(0x15b3));
  for (std::string_view bad : {"", "10de", "0x", "0x10dex", "0x123456", "garbage\n"}) {
    EXPECT_THAT(ParsePciId(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(ParsePciClassTest, ParsesSysfsClass) {
  EXPECT_THAT(ParsePciClass("0x030200\n"), IsOkAndHolds(0x030200u));
  EXPECT_THAT(ParsePciClass("0x028000"), IsOkAndHolds(0x028000u));
  for (std::string_view bad : {"", "030200", "0x1000000", "0xzz"}) {
    EXPECT_THAT(ParsePciClass(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(ParseNumaNodeValueTest, AcceptsKernelValues) {
  EXPECT_THAT(ParseNumaNodeValue("-1\n"), IsOkAndHolds(-1));
  EXPECT_THAT(ParseNumaNodeValue("0\n"), IsOkAndHolds(0));
  EXPECT_THAT(ParseNumaNodeValue("3"), IsOkAndHolds(3));
  // NUL-terminated, as seen in captures.
  EXPECT_THAT(ParseNumaNodeValue(std::string_view("1\n\0", 3)), IsOkAndHolds(1));
  EXPECT_THAT(ParseNumaNodeValue(std::string_view("1\0\0\0", 4)), IsOkAndHolds(1));
}

TEST(ParseNumaNodeValueTest, RejectsGarbage) {
  for (std::string_view bad : {"", "\n", "-2", "x", "1x", "0x1", "99999999999999999999", "4096"}) {
    EXPECT_THAT(ParseNumaNodeValue(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(ParseKeyValueLinesTest, SplitsAtTheFirstColon) {
  EXPECT_THAT(
      ParseKeyValueLines("Model: \t\t NVIDIA H100\nBus Location: \t 0000:1a:00.0\nnoise\n:x\n"),
      ::testing::UnorderedElementsAre(::testing::Pair("Model", "NVIDIA H100"),
                                      ::testing::Pair("Bus Location", "0000:1a:00.0")));
}

TEST(ParseNvidiaGpuInformationTest, BuildsTheDeviceNode) {
  auto os = ParseNvidiaGpuInformation(
      "Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   \t\t 0\nGPU UUID: \t GPU-5e1b0000-7c3a\n"
      "Bus Location: \t 0000:1a:00.0\nDevice Minor: \t 3\n");
  ASSERT_TRUE(os.ok()) << os.status();
  EXPECT_EQ(os->name, "nvidia3");
  EXPECT_EQ(os->type, OsDeviceType::kGpu);
  EXPECT_EQ(os->info.at("DeviceMinor"), "3");
  EXPECT_EQ(os->info.at("GPUModel"), "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(os->info.at("NVIDIAUUID"), "GPU-5e1b0000-7c3a");
}

TEST(ParseNvidiaGpuInformationTest, RejectsMissingOrBadMinor) {
  EXPECT_THAT(ParseNvidiaGpuInformation("Model: x\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Device Minor")));
  EXPECT_THAT(ParseNvidiaGpuInformation("Device Minor: 256\n"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseNvidiaGpuInformation("Device Minor: -1\n"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseNvidiaGpuInformation(std::string("Device Minor: \0\n", 16)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(IsPrintableTextTest, AcceptsOnlyPrintableAscii) {
  EXPECT_TRUE(IsPrintableText("mlx5_0"));
  EXPECT_TRUE(IsPrintableText("NVIDIA H100 80GB HBM3"));
  EXPECT_FALSE(IsPrintableText(""));
  EXPECT_FALSE(IsPrintableText("eth\x01"));
  EXPECT_FALSE(IsPrintableText("caf\xc3\xa9"));
  EXPECT_FALSE(IsPrintableText(std::string_view("a\0b", 3)));
  EXPECT_FALSE(IsPrintableText("tab\there"));
}

TEST(LinkBaseNameTest, TakesTheLastComponent) {
  EXPECT_EQ(LinkBaseName("../../../bus/pci/drivers/mlx5_core"), "mlx5_core");
  EXPECT_EQ(LinkBaseName("../../0000:82:00.0/"), "0000:82:00.0");
  EXPECT_EQ(LinkBaseName("nvme"), "nvme");
  EXPECT_EQ(LinkBaseName(""), "");
}

}  // namespace
}  // namespace tessera::topology
