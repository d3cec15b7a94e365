// Tests against the real captures in ../shared/topologies: two hwloc XML
// exports and two sysfs tarballs, each with a truth.json transcribed from
// hwloc's own output. Skipped, saying so, when the folder is absent.
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <chrono>
#include <map>
#include <memory>
#include <set>

#include "base/command_runner.h"
#include "base/json_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/fakes/base/temp_dir.h"
#include "test/fakes/topology/sysfs_tree.h"
#include "topology/loader.h"

namespace tessera::topology {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

struct Capture {
  std::string folder;
  std::string input;  // file inside the folder
  bool tarball;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class SharedCaptureTest : public ::testing::TestWithParam<Capture> {
 protected:
  void SetUp() override {
    const std::string shared = ::tessera::testing::SharedTopologiesDir();
    if (shared.empty()) GTEST_SKIP() << "../shared/topologies is absent; real-capture tests skipped";
    const Capture& c = GetParam();
    const std::string folder = shared + "/" + c.folder;
    auto truth = base::json::Parse(ReadFile(folder + "/truth.json"), "truth.json");
    ASSERT_TRUE(truth.ok()) << truth.status();
    truth_ = std::move(*truth);

    TopologySource source = TopologySource::HwlocXml(folder + "/" + c.input);
    if (c.tarball) {
      auto root = ExtractOnce(folder + "/" + c.input);
      ASSERT_TRUE(root.ok()) << root.status();
      source = TopologySource::SysfsRoot(*root);
    }
    auto t = LoadTopology(source);
    ASSERT_TRUE(t.ok()) << t.status();
    topology_ = std::move(*t);
  }

  const PciDevice* Dev(const std::string& bdf) const {
    auto a = base::PciAddress::Parse(bdf);
    return a.ok() ? topology_.FindDevice(*a) : nullptr;
  }

  std::set<std::string> OurBdfs(std::initializer_list<DeviceKind> kinds) const {
    std::set<std::string> out;
    for (const PciDevice& d : topology_.devices) {
      for (DeviceKind k : kinds) {
        if (d.kind == k) out.insert(d.address.ToString());
      }
    }
    return out;
  }

  // Unpacks a capture into a temporary directory once per test process (file
  // creation can be slow on shared CI disks) and returns its fake root: the
  // single top folder inside the tarball.
  static absl::StatusOr<std::string> ExtractOnce(const std::string& tarball) {
    // Destroyed at exit, which removes the directories.
    static std::map<std::string, std::string> extracted;
    static std::vector<std::unique_ptr<::tessera::testing::TempDir>> dirs;
    if (auto it = extracted.find(tarball); it != extracted.end()) return it->second;
    auto& dir = dirs.emplace_back(std::make_unique<::tessera::testing::TempDir>());
    base::ProcessCommandRunner runner;
    auto result = runner.Run({.argv = {"tar", "-xjf", tarball, "-C", dir->path()},
                              .timeout = std::chrono::seconds(120)});
    if (!result.ok()) return result.status();
    if (result->exit_code != 0) {
      return absl::InternalError("tar -xjf " + tarball + ": " + result->stderr_data);
    }
    std::vector<fs::path> tops;
    for (const auto& e : fs::directory_iterator(dir->path())) tops.push_back(e.path());
    if (tops.size() != 1) return absl::InternalError("want one top folder in " + tarball);
    return extracted[tarball] = tops[0].string();
  }

  json truth_;
  NodeTopology topology_;
};

TEST_P(SharedCaptureTest, NumaNodesMatch) {
  const json& nodes = truth_.at("numa_nodes");
  ASSERT_EQ(topology_.numa_nodes.size(), nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    const NumaNode& n = topology_.numa_nodes[i];
    EXPECT_EQ(n.id, nodes[i].at("os_index").get<int>());
    EXPECT_EQ(n.cpus.ToListString(), nodes[i].at("cpulist").get<std::string>());
    EXPECT_EQ(n.memory_bytes, nodes[i].at("local_memory_bytes").get<uint64_t>());
  }
  // SLIT distances, when hwloc recorded them.
  for (const json& m : truth_.at("numa_distances")) {
    if (m.at("name") != "NUMALatency") continue;
    const json& matrix = m.at("matrix");
    for (size_t i = 0; i < matrix.size(); ++i) {
      std::vector<int> row;
      for (const json& v : matrix[i]) row.push_back(std::stoi(v.get<std::string>()));
      EXPECT_EQ(topology_.numa_nodes[i].distances, row) << "row " << i;
    }
  }
}

TEST_P(SharedCaptureTest, GpuAndRdmaInventoryMatch) {
  std::set<std::string> gpus, rdma, accels, nics;
  for (const json& d : truth_.at("devices")) {
    const std::string bdf = d.at("bdf");
    const std::string kind = d.at("kind");
    bool openfabrics = false;
    for (const json& os : d.at("os_devices")) openfabrics |= os.at("osdev_type") == "openfabrics";
    if (kind == "gpu") gpus.insert(bdf);
    if (kind == "gpu" || kind == "coprocessor") accels.insert(bdf);
    if (openfabrics || kind == "infiniband") rdma.insert(bdf);
  }
  for (const json& r : truth_.at("accel_nic_relations")) {
    accels.insert(r.at("accel").get<std::string>());
    nics.insert(r.at("nic").get<std::string>());
  }
  EXPECT_EQ(OurBdfs({DeviceKind::kGpu}), gpus);
  EXPECT_EQ(OurBdfs({DeviceKind::kRdma}), rdma);
  EXPECT_EQ(OurBdfs({DeviceKind::kGpu, DeviceKind::kNpu}), accels);
  if (!accels.empty()) {
    EXPECT_EQ(OurBdfs({DeviceKind::kRdma, DeviceKind::kNic}), nics);
  }
}

TEST_P(SharedCaptureTest, NumaNodeRootAndOsDevicesOfEachDevice) {
  for (const json& d : truth_.at("devices")) {
    const std::string bdf = d.at("bdf");
    const PciDevice* ours = Dev(bdf);
    ASSERT_NE(ours, nullptr) << bdf;
    const json& numa = d.at("locality").at("numa_nodes");
    if (numa.size() == 1) {
      EXPECT_EQ(ours->numa_node, numa[0].get<int>()) << bdf;
    } else {
      EXPECT_EQ(ours->numa_node, std::nullopt) << bdf << " is local to " << numa.dump();
    }
    EXPECT_EQ(topology_.PcieRootName(*ours),
              "pci" + d.at("host_bridge").at("root_bus").get<std::string>())
        << bdf;
    for (const json& os : d.at("os_devices")) {
      const std::string name = os.at("name");
      bool found = false;
      for (const OsDevice& mine : ours->os_devices) found |= mine.name == name;
      EXPECT_TRUE(found) << bdf << " lacks OS device " << name;
    }
  }
}

TEST_P(SharedCaptureTest, EveryRelationMatches) {
  size_t expected = 0;
  auto check = [&](const json& list, const char* a_key, const char* b_key) {
    for (const json& r : list) {
      ++expected;
      const PciDevice* a = Dev(r.at(a_key));
      const PciDevice* b = Dev(r.at(b_key));
      ASSERT_NE(a, nullptr);
      ASSERT_NE(b, nullptr);
      EXPECT_EQ(LinkTypeName(topology_.Relation(*a, *b)), r.at("relation").get<std::string>())
          << r.at(a_key) << " - " << r.at(b_key);
      // And the published link carries the same type.
      const int ia = static_cast<int>(a - topology_.devices.data());
      const int ib = static_cast<int>(b - topology_.devices.data());
      bool linked = false;
      for (const Link& l : topology_.links) {
        if ((l.a == std::min(ia, ib)) && (l.b == std::max(ia, ib))) {
          linked = true;
          EXPECT_EQ(LinkTypeName(l.type), r.at("relation").get<std::string>());
        }
      }
      EXPECT_TRUE(linked) << r.at(a_key) << " - " << r.at(b_key) << " has no link";
    }
  };
  check(truth_.at("accel_nic_relations"), "accel", "nic");
  check(truth_.at("accel_accel_relations"), "a", "b");
  EXPECT_EQ(topology_.links.size(), expected);
}

INSTANTIATE_TEST_SUITE_P(
    Captures, SharedCaptureTest,
    ::testing::Values(Capture{"xml-psmgmt-jurecadc-4xa100-4xhdr", "topo.jrc0323.xml", false},
                      Capture{"xml-mpibind-corona-8xmi50", "epyc-corona-p2.xml", false},
                      Capture{"hwloc-32em64t-2n8c-mlx4-mic-nvme", "32em64t-2n8c+dax+nvme+mic+dimms.tar.bz2",
                              true},
                      Capture{"hwloc-64amd64-4s-8numa", "64amd64-4s2n4ca2co.tar.bz2", true}),
    [](const ::testing::TestParamInfo<Capture>& param_info) {
      std::string name = param_info.param.folder;
      for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

// Switches: not in truth.json, so these are read off the captures' bridge
// ids (PEX/MI50/Pericom switch ports vs root ports and the ASPEED bridge).
class SharedSwitchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    shared_ = ::tessera::testing::SharedTopologiesDir();
    if (shared_.empty()) GTEST_SKIP() << "../shared/topologies is absent; real-capture tests skipped";
  }
  static std::optional<std::string> Switch(const NodeTopology& t, std::string_view bdf) {
    const PciDevice* d = t.FindDevice(*base::PciAddress::Parse(bdf));
    if (d == nullptr) return "missing";
    if (!d->pcie_switch) return std::nullopt;
    return d->pcie_switch->ToString();
  }
  std::string shared_;
};

TEST_F(SharedSwitchTest, JurecaPairsShareAPexSwitch) {
  auto t = LoadTopology(TopologySource::HwlocXml(shared_ + "/xml-psmgmt-jurecadc-4xa100-4xhdr/topo.jrc0323.xml"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(Switch(*t, "0000:44:00.0"), "0000:41:00.0");
  EXPECT_EQ(Switch(*t, "0000:43:00.0"), "0000:41:00.0");
  EXPECT_EQ(Switch(*t, "0000:03:00.0"), "0000:01:00.0");
  EXPECT_EQ(Switch(*t, "0000:62:00.0"), std::nullopt);  // ASPEED behind its AST1150: no switch
  EXPECT_EQ(Switch(*t, "0000:e1:00.0"), std::nullopt);  // directly on a root port
}

TEST_F(SharedSwitchTest, CoronaGpuSwitchesAndThePericomSwitch) {
  auto t = LoadTopology(TopologySource::HwlocXml(shared_ + "/xml-mpibind-corona-8xmi50/epyc-corona-p2.xml"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(Switch(*t, "0000:03:00.0"), "0000:01:00.0");  // MI50's own 1002:14a0
  EXPECT_EQ(Switch(*t, "0000:e7:00.1"), "0000:e4:00.0");  // Pericom 12d8:2404
  EXPECT_EQ(Switch(*t, "0000:c4:00.0"), std::nullopt);
  EXPECT_EQ(Switch(*t, "0000:65:00.0"), std::nullopt);
}

}  // namespace
}  // namespace tessera::topology
