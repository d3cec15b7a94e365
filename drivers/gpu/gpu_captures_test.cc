// The GPU driver on real machines captured by others (../shared/topologies):
// JURECA-DC (4x A100 + 4x HDR, hwloc XML without NVML OS devices: identity
// from PCI ids) and LLNL Corona (8x MI50, hwloc XML with RSMI OS devices).
// Expected placement facts come from each capture's truth.json, which hwloc
// computed, not from this code. Skipped when the captures are absent.
#include <filesystem>
#include <fstream>
#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "base/command_runner.h"
#include "base/filesystem.h"
#include "drivers/attributes.h"
#include "drivers/gpu/discovery.h"
#include "drivers/gpu/gpu_driver.h"
#include "drivers/gpu/testing/recording_tools.h"
#include "drivers/gpu/testing/sim_node.h"
#include "test/fakes/base/fake_clock.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"
#include "topology/loader.h"

namespace tessera::drivers::gpu {
namespace {

using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;
using Json = nlohmann::json;

std::string SharedDir() { return std::string(TESSERA_SOURCE_DIR) + "/../shared/topologies"; }

struct Capture {
  std::string xml;
  Json truth;
};

std::optional<Capture> LoadCapture(const std::string& folder, const std::string& xml) {
  const std::string dir = SharedDir() + "/" + folder;
  if (!std::filesystem::exists(dir + "/" + xml)) return std::nullopt;
  std::ifstream in(dir + "/truth.json");
  return Capture{dir + "/" + xml, Json::parse(in)};
}

int Rank(const std::string& relation) {
  static const std::map<std::string, int> kRank = {
      {"PIX", 0}, {"PXB", 1}, {"PHB", 2}, {"NODE", 3}, {"SYS", 4}};
  return kRank.at(relation);
}

// The closest NIC with an RDMA device to `accel`, by truth.json's relations.
struct Nearest {
  std::string bdf;
  std::string relation;
};
Nearest TruthNearestRdma(const Json& truth, const std::string& accel) {
  std::set<std::string> rdma;
  for (const Json& d : truth["devices"]) {
    for (const Json& os : d["os_devices"]) {
      if (os["osdev_type"] == "openfabrics") rdma.insert(d["bdf"].get<std::string>());
    }
  }
  Nearest best;
  for (const Json& r : truth["accel_nic_relations"]) {
    if (r["accel"] != accel || rdma.count(r["nic"].get<std::string>()) == 0) continue;
    const std::string rel = r["relation"];
    const std::string nic = r["nic"];
    if (best.bdf.empty() || Rank(rel) < Rank(best.relation) ||
        (Rank(rel) == Rank(best.relation) && nic < best.bdf)) {
      best = {nic, rel};
    }
  }
  return best;
}

const Json& TruthDevice(const Json& truth, const std::string& bdf) {
  for (const Json& d : truth["devices"]) {
    if (d["bdf"] == bdf) return d;
  }
  static const Json kNone;
  ADD_FAILURE() << "truth.json has no device " << bdf;
  return kNone;
}

// Placement facts every capture's GPUs must show as hwloc computed them.
void ExpectPlacementMatchesTruth(const Discovery& d, const Json& truth) {
  for (const GpuRecord& g : d.gpus) {
    const std::string bdf = g.address.ToString();
    SCOPED_TRACE(bdf);
    const Json& t = TruthDevice(truth, bdf);
    EXPECT_EQ(g.pcie_root, "pci" + t["host_bridge"]["root_bus"].get<std::string>());
    if (t["locality"]["numa_nodes"].size() == 1) {
      EXPECT_EQ(g.numa_node, std::optional<int>(t["locality"]["numa_nodes"][0].get<int>()));
    }
    Nearest want = TruthNearestRdma(truth, bdf);
    ASSERT_TRUE(g.nearest_rdma.has_value());
    EXPECT_EQ(g.nearest_rdma->address.ToString(), want.bdf);
    EXPECT_EQ(topology::LinkTypeName(g.nearest_rdma->link), want.relation);
  }
}

TEST(GpuCapturesTest, JurecaA100IdentityComesFromPciIdsWithoutNvml) {
  std::optional<Capture> c = LoadCapture("xml-psmgmt-jurecadc-4xa100-4xhdr", "topo.jrc0323.xml");
  if (!c) GTEST_SKIP() << "shared/topologies JURECA capture absent";
  absl::StatusOr<topology::NodeTopology> topo =
      topology::LoadTopology(topology::TopologySource::HwlocXml(c->xml));
  ASSERT_OK(topo);
  base::DirSysfs no_sysfs("/nonexistent-sysfs");
  Discovery d = DiscoverGpus(*topo, no_sysfs, nullptr, "not loaded", {.simulated = true});
  ASSERT_EQ(d.gpus.size(), 4u);
  int index = 0;
  for (const GpuRecord& g : d.gpus) {
    SCOPED_TRACE(g.address.ToString());
    EXPECT_EQ(g.vendor, Vendor::kNvidia);
    EXPECT_EQ(g.product_name, "NVIDIA A100-SXM4-40GB");
    EXPECT_EQ(g.model, "A100-SXM4-40GB");
    EXPECT_EQ(g.architecture, "Ampere");
    EXPECT_EQ(g.compute_capability, (std::optional<nvidia::ComputeCapability>({8, 0})));
    EXPECT_EQ(g.memory_bytes, std::optional<uint64_t>(uint64_t{40960} << 20));
    EXPECT_EQ(g.identity_source, "pci-ids");
    EXPECT_TRUE(g.uuid.empty());
    // Minors in PCI order, as the NVIDIA driver numbers GPUs by default.
    EXPECT_EQ(g.nvidia_minor, std::optional<uint32_t>(index++));
    EXPECT_TRUE(g.preparable);
  }
  ExpectPlacementMatchesTruth(d, c->truth);
  // One HCA per PCIe switch: every A100 has its own PIX neighbour.
  for (const GpuRecord& g : d.gpus) EXPECT_EQ(g.nearest_rdma->link, topology::LinkType::kPix);
}

TEST(GpuCapturesTest, JurecaWithTheFakeNvmlTakesIdentityFromNvmlByPciAddress) {
  std::optional<Capture> c = LoadCapture("xml-psmgmt-jurecadc-4xa100-4xhdr", "topo.jrc0323.xml");
  if (!c) GTEST_SKIP() << "shared/topologies JURECA capture absent";
  absl::StatusOr<topology::NodeTopology> topo =
      topology::LoadTopology(topology::TopologySource::HwlocXml(c->xml));
  ASSERT_OK(topo);
  nvidia::testing::ScopedFakeNvmlEnv env(
      testing::SourcePath("test/testdata/gpu/nvml-jureca-4xa100.json"));
  absl::StatusOr<std::unique_ptr<nvidia::DlopenNvml>> nvml =
      nvidia::DlopenNvml::Load(nvidia::testing::FakeNvmlLibrary());
  ASSERT_OK(nvml);
  base::DirSysfs no_sysfs("/nonexistent-sysfs");
  Discovery d = DiscoverGpus(*topo, no_sysfs, nvml->get(), "", {.simulated = true});
  ASSERT_EQ(d.gpus.size(), 4u);
  EXPECT_EQ(d.gpus[0].uuid, "GPU-4f6e2b1c-8a3d-4e7f-9b21-0c5d7e8f9a10");
  EXPECT_EQ(d.gpus[3].uuid, "GPU-4f6e2b1c-8a3d-4e7f-9b21-0c5d7e8f9a13");
  EXPECT_EQ(d.gpus[2].address.ToString(), "0000:84:00.0");
  EXPECT_EQ(d.gpus[0].identity_source, "nvml");
  EXPECT_EQ(d.gpus[0].driver_version, "535.161.08");  // the A100 fixture's driver
  EXPECT_FALSE(d.gpus[1].mig_enabled());
  EXPECT_TRUE(d.gpus[2].mig_enabled());
  EXPECT_EQ(d.gpus[2].mig_profiles.size(), 7u);
  ExpectPlacementMatchesTruth(d, c->truth);
}

class CoronaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    capture_ = LoadCapture("xml-mpibind-corona-8xmi50", "epyc-corona-p2.xml");
    if (!capture_) GTEST_SKIP() << "shared/topologies Corona capture absent";
    absl::StatusOr<topology::NodeTopology> topo =
        topology::LoadTopology(topology::TopologySource::HwlocXml(capture_->xml));
    ASSERT_OK(topo);
    topo_ = std::make_shared<const topology::NodeTopology>(std::move(*topo));
  }
  std::optional<Capture> capture_;
  std::shared_ptr<const topology::NodeTopology> topo_;
  base::DirSysfs no_sysfs_{"/nonexistent-sysfs"};
};

TEST_F(CoronaTest, Mi50IdentityComesFromTheRsmiOsDevices) {
  Discovery d = DiscoverGpus(*topo_, no_sysfs_, nullptr, "not loaded", {.simulated = true});
  ASSERT_EQ(d.gpus.size(), 8u);
  for (const GpuRecord& g : d.gpus) {
    const std::string bdf = g.address.ToString();
    SCOPED_TRACE(bdf);
    EXPECT_EQ(g.vendor, Vendor::kAmd);
    // hwloc 2.5's RSMI backend recorded "deon Instinct MI50 32GB".
    EXPECT_EQ(g.product_name, "Radeon Instinct MI50 32GB");
    EXPECT_EQ(g.architecture, "gfx906");
    // The capture's OpenCL device: 33538048 KiB of global memory.
    EXPECT_EQ(g.memory_bytes, std::optional<uint64_t>(uint64_t{33538048} * 1024));
    std::string amd_uuid;
    for (const Json& os : TruthDevice(capture_->truth, bdf)["os_devices"]) {
      if (os["infos"].contains("AMDUUID")) amd_uuid = os["infos"]["AMDUUID"];
    }
    EXPECT_EQ(g.uuid, amd_uuid);
    EXPECT_FALSE(g.mps_capable());
  }
  ExpectPlacementMatchesTruth(d, capture_->truth);
}

TEST_F(CoronaTest, Mi50PreparesWithDrmNodesKfdAndRocrVisibleDevices) {
  tessera::testing::TempDir dev, state;
  testing::RecordingTools tools;
  base::ProcessCommandRunner runner;
  base::RealFilesystem fs;
  tessera::testing::FakeClock clock;
  GpuDriverOptions o;
  o.dev_root = dev.path();
  o.state_dir = state.path();
  o.simulated = true;
  o.tools = {.nvidia_smi = tools.nvidia_smi(), .mps_control = tools.mps_control()};
  absl::StatusOr<std::unique_ptr<GpuDriver>> driver = GpuDriver::Create(
      o, {.topology = topo_, .sysfs = no_sysfs_, .commands = runner, .fs = fs, .clock = clock});
  ASSERT_OK(driver);
  for (const std::string& rel : (*driver)->DeviceNodePaths()) {
    std::filesystem::create_directories(std::filesystem::path(dev.Sub(rel)).parent_path());
    std::ofstream(dev.Sub(rel)).flush();
  }
  absl::StatusOr<Inventory> inv = (*driver)->Enumerate();
  ASSERT_OK(inv);
  ASSERT_EQ(inv->devices.size(), 8u);
  const Device& first = inv->devices[0];
  EXPECT_EQ(first.name, "gpu-0000-03-00-0");
  EXPECT_EQ(std::get<std::string>(first.attributes.at(std::string(kAttrVendor))), "amd");

  ClaimPrepareRequest req{.claim_uid = "uid-amd",
                          .devices = {{.request = "gpu", .device = "gpu-0000-27-00-0"}}};
  absl::StatusOr<PreparedClaim> p = (*driver)->PrepareClaim(req);
  ASSERT_OK(p);
  std::vector<std::string> nodes;
  for (const base::DeviceNode& n : p->devices[0].edits.device_nodes) nodes.push_back(n.path);
  // The second MI50 in PCI order: the simulated node numbers its DRM nodes 1.
  EXPECT_THAT(nodes, ::testing::ElementsAre("/dev/dri/card1", "/dev/dri/renderD129"));
  ASSERT_EQ(p->claim_edits.device_nodes.size(), 1u);
  EXPECT_EQ(p->claim_edits.device_nodes[0].path, "/dev/kfd");
  EXPECT_THAT(p->claim_edits.env, ::testing::Contains("ROCR_VISIBLE_DEVICES=GPU-fd6050c17326b1e1"));

  req.devices[0].configs.push_back({.source = "FromClaim",
                                    .parameters = {{"apiVersion", "gpu.tessera.dev/v1alpha1"},
                                                   {"kind", "GpuConfig"},
                                                   {"sharing", {{"strategy", "MPS"}}}}});
  EXPECT_THAT((*driver)->PrepareClaim(req),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("MPS needs an NVIDIA GPU; this GPU is amd")));
  EXPECT_TRUE(tools.Commands().empty());
}

}  // namespace
}  // namespace tessera::drivers::gpu
