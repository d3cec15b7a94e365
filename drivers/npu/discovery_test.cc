// Discovery and inventory on the simulated NPU nodes (test/testdata/nodes,
// written by generate_sim_npu.py), with and without the vendor libraries.
#include "drivers/npu/discovery.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "base/byte_units.h"
#include "drivers/attributes.h"
#include "drivers/npu/dlopen_dcmi.h"
#include "drivers/npu/dlopen_hlml.h"
#include "drivers/npu/testing/npu_test_env.h"
#include "test/matchers/status_matchers.h"

namespace tessera::drivers::npu {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::NpuFixture;
using testing::ScopedEnv;
using testing::SimNode;

using base::kGiB;

std::vector<AscendChip> FixtureChips() {
  ScopedEnv env("TESSERA_FAKE_DCMI_CONFIG", NpuFixture("dcmi-8x910b3.json"));
  auto dcmi = DlopenDcmi::Load(testing::FakeDcmiLibrary());
  EXPECT_OK(dcmi.status());
  if (!dcmi.ok()) return {};
  auto chips = (*dcmi)->ListChips();
  EXPECT_OK(chips.status());
  return chips.ok() ? *chips : std::vector<AscendChip>{};
}

std::vector<GaudiDevice> FixtureGaudis() {
  ScopedEnv env("TESSERA_FAKE_HLML_CONFIG", NpuFixture("hlml-8xgaudi2.json"));
  auto hlml = DlopenHlml::Load(testing::FakeHlmlLibrary());
  EXPECT_OK(hlml.status());
  if (!hlml.ok()) return {};
  auto devices = (*hlml)->ListDevices();
  EXPECT_OK(devices.status());
  return devices.ok() ? *devices : std::vector<GaudiDevice>{};
}

const NpuRecord* Find(const std::vector<NpuRecord>& records, std::string_view name) {
  for (const NpuRecord& r : records) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

TEST(NpuTopologyTest, TheEngineClassifiesTheAscendFixture) {
  SimNode node(testing::kAscendNode);
  ASSERT_OK_AND_ASSIGN(topology::NodeTopology t, node.Load());
  EXPECT_TRUE(t.warnings.empty()) << base::Join(t.warnings, "\n");
  EXPECT_EQ(t.hostname, "sim-atlas-01");
  EXPECT_EQ(t.numa_nodes.size(), 4u);
  EXPECT_EQ(t.DevicesOfKind(topology::DeviceKind::kNpu).size(), 8u);
  EXPECT_EQ(t.DevicesOfKind(topology::DeviceKind::kRdma).size(), 8u);
  EXPECT_EQ(t.DevicesOfKind(topology::DeviceKind::kGpu).size(), 0u);  // the iBMC display is no GPU
  ASSERT_OK_AND_ASSIGN(auto npu, base::PciAddress::Parse("0000:43:00.0"));
  ASSERT_OK_AND_ASSIGN(auto nic, base::PciAddress::Parse("0000:45:00.1"));
  ASSERT_OK_AND_ASSIGN(auto far_nic, base::PciAddress::Parse("0000:85:00.0"));
  ASSERT_NE(t.FindDevice(npu), nullptr);
  EXPECT_EQ(t.Relation(*t.FindDevice(npu), *t.FindDevice(nic)), topology::LinkType::kPix);
  EXPECT_EQ(t.Relation(*t.FindDevice(npu), *t.FindDevice(far_nic)), topology::LinkType::kSys);
}

TEST(NpuTopologyTest, TheEngineClassifiesTheGaudiAndAccelFixtures) {
  ASSERT_OK_AND_ASSIGN(topology::NodeTopology gaudi, SimNode(testing::kGaudiNode).Load());
  EXPECT_TRUE(gaudi.warnings.empty()) << base::Join(gaudi.warnings, "\n");
  EXPECT_EQ(gaudi.DevicesOfKind(topology::DeviceKind::kNpu).size(), 8u);
  EXPECT_EQ(gaudi.DevicesOfKind(topology::DeviceKind::kGpu).size(), 0u);
  ASSERT_OK_AND_ASSIGN(topology::NodeTopology mtl, SimNode(testing::kAccelNode).Load());
  EXPECT_EQ(mtl.DevicesOfKind(topology::DeviceKind::kNpu).size(), 1u);
  EXPECT_EQ(mtl.DevicesOfKind(topology::DeviceKind::kGpu).size(), 1u);
}

TEST(AscendDiscoveryTest, WithoutDcmiIdentityComesFromSysfsAndHccnConf) {
  SimNode node(testing::kAscendNode);
  ASSERT_OK_AND_ASSIGN(topology::NodeTopology t, node.Load());
  std::vector<NpuRecord> records =
      DiscoverNpus({.topology = &t,
                    .sysfs = &node.sysfs(),
                    .hccn_addresses = ParseHccnConf("address_2=192.168.100.103\n")});
  ASSERT_EQ(records.size(), 8u);
  const NpuRecord* r = Find(records, "npu-0000-43-00-0");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->family, NpuFamily::kAscend);
  EXPECT_EQ(r->vendor, "huawei");
  EXPECT_EQ(r->model, "Ascend910B");  // no chip variant without DCMI
  EXPECT_EQ(r->index, 2);             // dev_id
  EXPECT_EQ(r->numa_node, 1);
  EXPECT_EQ(r->pcie_root, "pci0000:40");
  EXPECT_EQ(r->pcie_switch, "0000:41:00.0");
  EXPECT_EQ(r->kernel_driver, "devdrv_device_driver");
  EXPECT_EQ(r->roce_ip, "192.168.100.103");
  EXPECT_EQ(r->identity_source, "sysfs");
  EXPECT_EQ(r->health, Health::kHealthy);
  EXPECT_FALSE(r->memory_bytes.has_value());
  EXPECT_FALSE(r->card_id.has_value());
  EXPECT_TRUE(r->partitions.empty());
  EXPECT_THAT(r->device_nodes, ElementsAre("/dev/davinci2"));
}

TEST(AscendDiscoveryTest, WithDcmiTheChipIsNamedAndOffersVnpus) {
  SimNode node(testing::kAscendNode);
  ASSERT_OK_AND_ASSIGN(topology::NodeTopology t, node.Load());
  std::vector<AscendChip> chips = FixtureChips();
  ASSERT_EQ(chips.size(), 8u);
  std::vector<NpuRecord> records =
      DiscoverNpus({.topology = &t, .sysfs = &node.sysfs(), .dcmi_chips = &chips});
  ASSERT_EQ(records.size(), 8u);
  const NpuRecord* r = Find(records, "npu-0000-84-00-0");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->model, "Ascend910B3");
  EXPECT_EQ(r->chip_name, "910B3");
  EXPECT_EQ(r->index, 5);
  EXPECT_EQ(r->card_id, 5);
  EXPECT_EQ(r->chip_id, 0);
  EXPECT_EQ(r->aicore_count, 20u);
  EXPECT_EQ(r->memory_bytes, 64 * kGiB);
  EXPECT_EQ(r->roce_ip, "192.168.100.106");
  EXPECT_EQ(r->identity_source, "dcmi");
  EXPECT_EQ(r->vnpu_budget, (VnpuBudget{.aicore = 20, .aicpu = 7, .memory_bytes = 64 * kGiB}));
  ASSERT_EQ(r->partitions.size(), 6u);
  EXPECT_EQ(r->partitions[0].device_name, "npu-0000-84-00-0-vir10-3c-32g-0");
  EXPECT_EQ(r->partitions[0].vnpu_id, 180);  // 100 + 16 * 5
  EXPECT_EQ(r->partitions[5].device_name, "npu-0000-84-00-0-vir05-1c-16g-3");
  EXPECT_EQ(r->partitions[5].vnpu_id, 185);
  EXPECT_EQ(r->partitions[5].memory_bytes, 16 * kGiB);

  // Physical id 6 reports a critical alarm.
  const NpuRecord* sick = Find(records, "npu-0000-c3-00-0");
  ASSERT_NE(sick, nullptr);
  EXPECT_EQ(sick->index, 6);
  EXPECT_EQ(sick->health, Health::kUnhealthy);
  EXPECT_THAT(sick->health_message, HasSubstr("health 3"));
}

TEST(GaudiDiscoveryTest, WithoutHlmlEverythingComesFromSysfs) {
  SimNode node(testing::kGaudiNode);
  ASSERT_OK_AND_ASSIGN(topology::NodeTopology t, node.Load());
  std::vector<NpuRecord> records = DiscoverNpus({.topology = &t, .sysfs = &node.sysfs()});
  ASSERT_EQ(records.size(), 8u);
  const NpuRecord* r = Find(records, "npu-0000-3b-00-0");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->family, NpuFamily::kGaudi);
  EXPECT_EQ(r->vendor, "habana");
  EXPECT_EQ(r->model, "Gaudi2");
  EXPECT_EQ(r->index, 2);       // accel2
  EXPECT_EQ(r->module_id, 0u);  // OAM slot, not the accel index
  EXPECT_EQ(r->serial, "AN02A02");
  EXPECT_EQ(r->uverbs_index, 2);
  EXPECT_EQ(r->numa_node, 0);
  EXPECT_EQ(r->pcie_root, "pci0000:38");
  EXPECT_EQ(r->pcie_switch, "0000:39:00.0");
  EXPECT_FALSE(r->memory_bytes.has_value());
  EXPECT_EQ(r->health, Health::kHealthy);
  EXPECT_THAT(r->device_nodes, ElementsAre("/dev/accel/accel2", "/dev/accel/accel_controlD2",
                                           "/dev/infiniband/uverbs2"));
  // accel5's habanalabs status is "needs reset".
  const NpuRecord* reset = Find(records, "npu-0000-9b-00-0");
  ASSERT_NE(reset, nullptr);
  EXPECT_EQ(reset->index, 5);
  EXPECT_EQ(reset->health, Health::kUnhealthy);
  EXPECT_THAT(reset->health_message, HasSubstr("\"needs reset\""));
}

TEST(GaudiDiscoveryTest, WithHlmlNameUuidAndMemoryAreKnown) {
  SimNode node(testing::kGaudiNode);
  ASSERT_OK_AND_ASSIGN(topology::NodeTopology t, node.Load());
  std::vector<GaudiDevice> gaudis = FixtureGaudis();
  std::vector<NpuRecord> records =
      DiscoverNpus({.topology = &t, .sysfs = &node.sysfs(), .hlml_devices = &gaudis});
  const NpuRecord* r = Find(records, "npu-0000-bd-00-0");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->identity_source, "hlml");
  EXPECT_EQ(r->index, 7);
  EXPECT_EQ(r->module_id, 5u);
  EXPECT_EQ(r->uuid, "01P0-HL2080A0-15-TNB0A2-07-07-00");
  EXPECT_EQ(r->memory_bytes, 96 * kGiB);
}

TEST(AccelDiscoveryTest, ListsTheIntelNpuWithWhatSysfsTells) {
  SimNode node(testing::kAccelNode);
  ASSERT_OK_AND_ASSIGN(topology::NodeTopology t, node.Load());
  std::vector<NpuRecord> records = DiscoverNpus({.topology = &t, .sysfs = &node.sysfs()});
  ASSERT_EQ(records.size(), 1u);  // the iGPU is a GPU
  const NpuRecord& r = records[0];
  EXPECT_EQ(r.name, "npu-0000-00-0b-0");
  EXPECT_EQ(r.family, NpuFamily::kAccel);
  EXPECT_EQ(r.vendor, "intel");
  EXPECT_EQ(r.model, "Intel NPU 3720");
  EXPECT_EQ(r.index, 0);
  EXPECT_EQ(r.kernel_driver, "intel_vpu");
  EXPECT_EQ(r.pcie_root, "pci0000:00");
  EXPECT_FALSE(r.pcie_switch.has_value());
  EXPECT_EQ(r.numa_node, 0);  // numa_node -1, local cpus are node 0's
  EXPECT_THAT(r.device_nodes, ElementsAre("/dev/accel/accel0"));
}

TEST(NpuDiscoveryTest, TheGpuNodeHasNoNpu) {
  ASSERT_OK_AND_ASSIGN(topology::NodeTopology t, SimNode(testing::kGpuNode).Load());
  EXPECT_FALSE(HasNpuCandidates(t));
  EXPECT_TRUE(DiscoverNpus({.topology = &t}).empty());
}

// A hand-made model for the cases no fixture has.
topology::PciDevice Function(std::string_view bdf, uint16_t vendor, uint16_t device,
                             std::string_view driver) {
  topology::PciDevice d;
  d.address = *base::PciAddress::Parse(bdf);
  d.vendor_id = vendor;
  d.device_id = device;
  d.class_code = 0x120000;
  d.driver = std::string(driver);
  d.kind = topology::DeviceKind::kNpu;
  return d;
}

TEST(NpuDiscoveryTest, DevicesWithoutTheirKernelDriverAreListedUnhealthy) {
  topology::NodeTopology t;
  t.devices.push_back(Function("0000:01:00.0", 0x19e5, 0xd801, ""));  // Ascend, unbound
  t.devices.push_back(
      Function("0000:02:00.0", 0x1da3, 0x1030, "vfio-pci"));  // Gaudi3 passed through
  t.devices.push_back(Function("0000:03:00.0", 0x1e52, 0x401e, "tenstorrent"));  // no accel node
  std::vector<NpuRecord> records = DiscoverNpus({.topology = &t});
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].model, "Ascend910");
  EXPECT_EQ(records[0].health, Health::kUnhealthy);
  EXPECT_THAT(records[0].health_message,
              HasSubstr("devdrv_device_driver is not bound (bound: none)"));
  EXPECT_THAT(records[0].health_message, HasSubstr("not preparable"));
  EXPECT_FALSE(records[0].index.has_value());
  EXPECT_TRUE(records[0].device_nodes.empty());
  EXPECT_EQ(records[1].model, "Gaudi3");
  EXPECT_THAT(records[1].health_message, HasSubstr("habanalabs is not bound (bound: vfio-pci)"));
  EXPECT_FALSE(records[1].index.has_value());
  EXPECT_TRUE(HasNpuCandidates(t));
  EXPECT_FALSE(HasFamily(t, NpuFamily::kAccel));
}

TEST(NpuDiscoveryTest, ParsesHccnConf) {
  std::map<int, std::string> m = ParseHccnConf(
      "address_0=192.168.1.10\nnetmask_0=255.255.255.0\n  address_7 = 10.0.0.7  \n"
      "address_x=1.2.3.4\naddress_3=\n# comment\nnetdetect_0=192.168.1.1\n");
  EXPECT_EQ(m, (std::map<int, std::string>{{0, "192.168.1.10"}, {7, "10.0.0.7"}}));
  EXPECT_TRUE(ParseHccnConf("").empty());
}

TEST(NpuInventoryTest, WholeDevicesCarryTheStandardAndAlignmentAttributes) {
  SimNode node(testing::kAscendNode);
  ASSERT_OK_AND_ASSIGN(topology::NodeTopology t, node.Load());
  std::vector<AscendChip> chips = FixtureChips();
  std::vector<NpuRecord> records =
      DiscoverNpus({.topology = &t, .sysfs = &node.sysfs(), .dcmi_chips = &chips});
  Inventory inv = BuildInventory(records, {.domain = "example.com"});
  ASSERT_EQ(inv.devices.size(), 8u);  // partitions off
  EXPECT_TRUE(inv.counter_sets.empty());
  const Device& d = inv.devices[0];
  EXPECT_EQ(d.name, "npu-0000-03-00-0");
  auto attr = [&](std::string_view key) { return d.attributes.at(std::string(key)); };
  EXPECT_EQ(attr(kAttrVendor), AttributeValue(std::string("huawei")));
  EXPECT_EQ(attr(kAttrType), AttributeValue(std::string("ascend")));
  EXPECT_EQ(attr(kAttrModel), AttributeValue(std::string("Ascend910B3")));
  EXPECT_EQ(attr(kAttrIndex), AttributeValue(int64_t{0}));
  EXPECT_EQ(attr(kAttrPciBusId), AttributeValue(std::string("0000:03:00.0")));
  EXPECT_EQ(attr(kAttrPcieRoot), AttributeValue(std::string("pci0000:00")));
  EXPECT_EQ(attr(kAttrNumaNode), AttributeValue(int64_t{0}));
  EXPECT_EQ(attr("example.com/pcieSwitch"), AttributeValue(std::string("0000:01:00.0")));
  EXPECT_EQ(d.capacity.at("aiCores").value.ToString(), "20");
  EXPECT_FALSE(d.attributes.contains("aiCores"));  // a capacity; names must not repeat
  EXPECT_EQ(attr(kAttrRoceIp), AttributeValue(std::string("192.168.100.101")));
  EXPECT_EQ(d.capacity.at("memory").value.ToString(), "64Gi");
  EXPECT_TRUE(d.consumes_counters.empty());
}

TEST(NpuInventoryTest, PartitionsConsumeTheChipsCountersAndTheWholeChipTakesAll) {
  SimNode node(testing::kAscendNode);
  ASSERT_OK_AND_ASSIGN(topology::NodeTopology t, node.Load());
  std::vector<AscendChip> chips = FixtureChips();
  std::vector<NpuRecord> records =
      DiscoverNpus({.topology = &t, .sysfs = &node.sysfs(), .dcmi_chips = &chips});
  Inventory inv = BuildInventory(records, {.publish_partitions = true});
  ASSERT_EQ(inv.devices.size(), 8u * 7u);
  ASSERT_EQ(inv.counter_sets.size(), 8u);
  const CounterSet& set = inv.counter_sets[0];
  EXPECT_EQ(set.name, "npu-0000-03-00-0-counters");
  EXPECT_EQ(set.counters.at("aicore").ToString(), "20");
  EXPECT_EQ(set.counters.at("aicpu").ToString(), "7");
  EXPECT_EQ(set.counters.at("memory").ToString(), "64Gi");

  const Device* whole = nullptr;
  const Device* part = nullptr;
  for (const Device& d : inv.devices) {
    if (d.name == "npu-0000-03-00-0") whole = &d;
    if (d.name == "npu-0000-03-00-0-vir05-1c-16g-2") part = &d;
  }
  ASSERT_NE(whole, nullptr);
  ASSERT_NE(part, nullptr);
  ASSERT_EQ(whole->consumes_counters.size(), 1u);
  EXPECT_EQ(whole->consumes_counters[0].counters, set.counters);
  ASSERT_EQ(part->consumes_counters.size(), 1u);
  EXPECT_EQ(part->consumes_counters[0].counter_set, set.name);
  EXPECT_EQ(part->consumes_counters[0].counters.at("aicore").ToString(), "5");
  EXPECT_EQ(part->consumes_counters[0].counters.at("aicpu").ToString(), "1");
  EXPECT_EQ(part->consumes_counters[0].counters.at("memory").ToString(), "16Gi");
  EXPECT_EQ(part->attributes.at(std::string(kAttrVnpuTemplate)),
            AttributeValue(std::string("vir05_1c_16g")));
  EXPECT_EQ(part->attributes.at(std::string(kAttrVnpuId)), AttributeValue(int64_t{104}));
  EXPECT_EQ(part->attributes.at(std::string(kAttrParentDevice)),
            AttributeValue(std::string("npu-0000-03-00-0")));
  // A vNPU sits behind the same switch as its chip.
  EXPECT_EQ(part->attributes.at("tessera.dev/pcieSwitch"),
            whole->attributes.at("tessera.dev/pcieSwitch"));
  EXPECT_EQ(part->capacity.at("memory").value.ToString(), "16Gi");
  EXPECT_EQ(part->capacity.at("aiCores").value.ToString(), "5");
}

TEST(NpuInventoryTest, WithoutDcmiThereAreNoPartitionsEvenWhenEnabled) {
  SimNode node(testing::kAscendNode);
  ASSERT_OK_AND_ASSIGN(topology::NodeTopology t, node.Load());
  Inventory inv = BuildInventory(DiscoverNpus({.topology = &t, .sysfs = &node.sysfs()}),
                                 {.publish_partitions = true});
  EXPECT_EQ(inv.devices.size(), 8u);
  EXPECT_TRUE(inv.counter_sets.empty());
}

}  // namespace
}  // namespace tessera::drivers::npu
