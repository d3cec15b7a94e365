#include "topology/json.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/fakes/topology/sysfs_tree.h"
#include "topology/loader.h"

namespace tessera::topology {
namespace {

using nlohmann::json;

const json* DeviceById(const json& doc, std::string_view bdf) {
  for (const json& d : doc.at("devices")) {
    if (d.at("pciBusID") == bdf) return &d;
  }
  return nullptr;
}

TEST(TopologyJsonTest, HasTheDocumentedSchema) {
  auto t = LoadTopology(TopologySource::SysfsRoot(::tessera::testing::BundledNodeDir()));
  ASSERT_TRUE(t.ok()) << t.status();
  const json doc = TopologyToJson(*t);

  ASSERT_TRUE(doc.at("numaNodes").is_array());
  const json& n1 = doc.at("numaNodes").at(1);
  EXPECT_EQ(n1.at("id"), 1);
  EXPECT_EQ(n1.at("cpus"), "56-111,168-223");
  EXPECT_EQ(n1.at("memoryBytes"), 1056715548ull * 1024);
  EXPECT_EQ(n1.at("distances"), json::array({21, 10}));

  const json* gpu = DeviceById(doc, "0000:1a:00.0");
  ASSERT_NE(gpu, nullptr);
  EXPECT_EQ(gpu->at("kind"), "gpu");
  EXPECT_EQ(gpu->at("vendorID"), "0x10de");
  EXPECT_EQ(gpu->at("deviceID"), "0x2330");
  EXPECT_EQ(gpu->at("class"), "0x0302");
  EXPECT_EQ(gpu->at("classCode"), "0x030200");
  EXPECT_EQ(gpu->at("numaNode"), 0);
  EXPECT_EQ(gpu->at("pcieRoot"), "pci0000:15");
  EXPECT_EQ(gpu->at("pcieSwitch"), "0000:18:00.0");
  EXPECT_EQ(gpu->at("driver"), "nvidia");
  ASSERT_TRUE(gpu->at("osDevices").is_array());
  EXPECT_EQ(gpu->at("osDevices").at(2).at("name"), "nvidia0");
  EXPECT_EQ(gpu->at("osDevices").at(2).at("type"), "gpu");
  EXPECT_EQ(gpu->at("osDevices").at(2).at("info").at("DeviceMinor"), "0");

  const json* vga = DeviceById(doc, "0000:03:00.0");
  ASSERT_NE(vga, nullptr);
  EXPECT_EQ(vga->at("kind"), "other");
  EXPECT_TRUE(vga->at("pcieSwitch").is_null());

  // Unknown values are null, never -1 or "".
  EXPECT_TRUE(DeviceById(doc, "0000:00:00.0")->at("driver").is_null());

  ASSERT_EQ(doc.at("links").size(), t->links.size());
  const json& first = doc.at("links").at(0);
  EXPECT_EQ(first.at("a"), "0000:1a:00.0");
  EXPECT_EQ(first.at("b"), "0000:1b:00.0");
  EXPECT_EQ(first.at("type"), "PIX");
  EXPECT_TRUE(doc.at("warnings").is_array());
}

TEST(TopologyJsonTest, NullNumaNodeWhenUnknown) {
  NodeTopology t;
  PciDevice d;
  d.address = *base::PciAddress::Parse("0000:05:00.0");
  d.class_code = 0x020000;
  t.devices.push_back(d);
  const json doc = TopologyToJson(t);
  const json& dev = doc.at("devices").at(0);
  EXPECT_TRUE(dev.at("numaNode").is_null());
  EXPECT_TRUE(dev.at("pcieRoot").is_null());
  EXPECT_EQ(dev.at("class"), "0x0200");
  EXPECT_TRUE(doc.at("hostname").is_null());
}

}  // namespace
}  // namespace tessera::topology
