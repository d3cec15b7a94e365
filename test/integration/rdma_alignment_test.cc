// GPU <-> NIC alignment across drivers: the example ResourceClaimTemplates in
// deploy/examples are satisfied by the attributes the RDMA driver publishes
// and the GPU side computes from the same node model, on the bundled 8-GPU
// node and on the JURECA-DC capture (../shared/topologies). A tiny allocator
// stands in for the scheduler: distinct devices per request, of the request's
// device class, with every matchAttribute constraint holding (CEL selectors
// are not evaluated; the alignment examples use none).
//
// Also: the RDMA inventories of the fixtures build ResourceSlices that pass
// the 1.35 validation (agent/kube), with and without the gated features.
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "agent/kube/slice_builder.h"
#include "agent/kube/yaml_json.h"
#include "base/filesystem.h"
#include "base/strings.h"
#include "drivers/attributes.h"
#include "drivers/naming.h"
#include "drivers/rdma/rdma_config.h"
#include "drivers/rdma/rdma_driver.h"
#include "test/fakes/base/fake_clock.h"
#include "test/fakes/topology/sysfs_tree.h"
#include "test/matchers/status_matchers.h"
#include "topology/loader.h"

namespace tessera {
namespace {

using Json = nlohmann::json;
using drivers::AttributeValue;
using ::testing::SizeIs;

constexpr char kSwitch[] = "tessera.dev/pcieSwitch";

// One published device, reduced to what the allocator needs.
struct PoolDevice {
  std::string device_class;  // "gpu.tessera.dev", "rdma.tessera.dev"
  std::string name;
  std::map<std::string, AttributeValue> attributes;  // fully qualified names
};

// The GPU side, computed from the node model the way the GPU driver does
// (drivers/gpu: AlignmentAttribute + PcieSwitchValue of the nearest switch,
// the standard pcieRoot and numaNode).
std::vector<PoolDevice> GpuDevices(const topology::NodeTopology& t) {
  std::vector<PoolDevice> out;
  for (const topology::PciDevice* g : t.DevicesOfKind(topology::DeviceKind::kGpu)) {
    PoolDevice d{"gpu.tessera.dev", drivers::DeviceNameForPci("gpu", g->address), {}};
    if (g->pcie_switch) {
      d.attributes[drivers::AlignmentAttribute("tessera.dev", drivers::kAlignPcieSwitch)] =
          drivers::PcieSwitchValue(*g->pcie_switch);
    }
    d.attributes[std::string(drivers::kAttrPcieRoot)] = t.PcieRootName(*g);
    out.push_back(std::move(d));
  }
  return out;
}

// The RDMA side: what RdmaDriver::Enumerate publishes; unqualified names are
// in the driver's domain.
std::vector<PoolDevice> RdmaDevices(const drivers::Inventory& inv) {
  std::vector<PoolDevice> out;
  for (const drivers::Device& dev : inv.devices) {
    PoolDevice d{"rdma.tessera.dev", dev.name, {}};
    for (const auto& [k, v] : dev.attributes) {
      d.attributes[k.find('/') == std::string::npos ? "rdma.tessera.dev/" + k : k] = v;
    }
    out.push_back(std::move(d));
  }
  return out;
}

struct Request {
  std::string name;
  std::string device_class;
};
struct Constraint {
  std::vector<std::string> requests;
  std::string match_attribute;
};
struct Template {
  std::string name;
  std::vector<Request> requests;
  std::vector<Constraint> constraints;
  std::vector<Json> opaque_parameters;  // config[].opaque.parameters for our drivers
};

// The ResourceClaimTemplates of a deploy/examples file (documents split on "---").
std::vector<Template> LoadTemplates(const std::string& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  std::vector<Template> out;
  std::string text = ss.str();
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find("\n---\n", start);
    std::string doc =
        text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    start = end == std::string::npos ? text.size() + 1 : end + 5;
    absl::StatusOr<Json> j = agent::kube::YamlToJson(doc, file);
    EXPECT_TRUE(j.ok()) << j.status();
    if (!j.ok() || !j->is_object() || j->value("kind", "") != "ResourceClaimTemplate") continue;
    EXPECT_EQ(j->value("apiVersion", ""), "resource.k8s.io/v1") << file;
    Template t{.name = (*j)["metadata"]["name"]};
    const Json& devices = (*j)["spec"]["spec"]["devices"];
    for (const Json& r : devices["requests"]) {
      t.requests.push_back({r["name"], r["exactly"]["deviceClassName"]});
      EXPECT_EQ(r["exactly"].value("count", 1), 1) << "the allocator handles count 1 only";
    }
    for (const Json& c : devices.value("constraints", Json::array())) {
      t.constraints.push_back({c["requests"].get<std::vector<std::string>>(), c["matchAttribute"]});
    }
    for (const Json& c : devices.value("config", Json::array())) {
      if (c.contains("opaque")) t.opaque_parameters.push_back(c["opaque"]["parameters"]);
    }
    out.push_back(std::move(t));
  }
  return out;
}

std::string Examples(std::string_view file) {
  return base::StrCat(TESSERA_SOURCE_DIR, "/deploy/examples/", file);
}

// Backtracking: request index -> device index, or nullopt when unsatisfiable.
class Allocator {
 public:
  Allocator(const Template& t, const std::vector<PoolDevice>& pool) : t_(t), pool_(pool) {}

  std::optional<std::map<std::string, const PoolDevice*>> Allocate() {
    chosen_.assign(t_.requests.size(), -1);
    if (!Assign(0)) return std::nullopt;
    std::map<std::string, const PoolDevice*> out;
    for (size_t i = 0; i < t_.requests.size(); ++i) out[t_.requests[i].name] = &pool_[chosen_[i]];
    return out;
  }

 private:
  bool Consistent() const {
    for (const Constraint& c : t_.constraints) {
      std::optional<AttributeValue> value;
      for (const std::string& r : c.requests) {
        int idx = Index(r);
        if (idx < 0 || chosen_[idx] < 0) continue;
        auto it = pool_[chosen_[idx]].attributes.find(c.match_attribute);
        if (it == pool_[chosen_[idx]].attributes.end()) return false;  // must have it
        if (value && *value != it->second) return false;
        value = it->second;
      }
    }
    return true;
  }
  int Index(const std::string& request) const {
    for (size_t i = 0; i < t_.requests.size(); ++i) {
      if (t_.requests[i].name == request) return static_cast<int>(i);
    }
    return -1;
  }
  bool Assign(size_t i) {
    if (i == t_.requests.size()) return true;
    for (size_t d = 0; d < pool_.size(); ++d) {
      if (pool_[d].device_class != t_.requests[i].device_class) continue;
      if (std::find(chosen_.begin(), chosen_.begin() + i, static_cast<int>(d)) !=
          chosen_.begin() + i) {
        continue;
      }
      chosen_[i] = static_cast<int>(d);
      if (Consistent() && Assign(i + 1)) return true;
      chosen_[i] = -1;
    }
    return false;
  }

  const Template& t_;
  const std::vector<PoolDevice>& pool_;
  std::vector<int> chosen_;
};

class AlignmentTest : public ::testing::Test {
 protected:
  // GPUs and the RDMA driver's devices of `t` (a simulated node).
  std::vector<PoolDevice> Pool(const topology::NodeTopology& t, const base::Sysfs* sysfs) {
    auto topology = std::make_shared<const topology::NodeTopology>(t);
    auto driver = drivers::rdma::RdmaDriver::Create(
        {.simulated = true}, drivers::rdma::RdmaDriverDeps{
                                 .topology = topology, .sysfs = sysfs, .fs = fs_, .clock = clock_});
    EXPECT_TRUE(driver.ok()) << driver.status();
    absl::StatusOr<drivers::Inventory> inv = (*driver)->Enumerate();
    EXPECT_TRUE(inv.ok()) << inv.status();
    std::vector<PoolDevice> pool = GpuDevices(t);
    for (PoolDevice& d : RdmaDevices(*inv)) pool.push_back(std::move(d));
    return pool;
  }

  base::RealFilesystem fs_;
  tessera::testing::FakeClock clock_;
};

TEST_F(AlignmentTest, ExamplesAreWellFormedAndTheirConfigsDecode) {
  for (const char* file : {"gpu-nic-same-switch.yaml", "eight-gpus-eight-nics-pairwise.yaml",
                           "rdma-netdev-attach.yaml", "rdma-shared-hca.yaml"}) {
    std::vector<Template> templates = LoadTemplates(Examples(file));
    ASSERT_THAT(templates, SizeIs(1)) << file;
    for (const Json& params : templates[0].opaque_parameters) {
      EXPECT_OK(drivers::rdma::ResolveRdmaConfig({{"FromClaim", params}}, "tessera.dev").status())
          << file;
    }
  }
  std::vector<Template> eight = LoadTemplates(Examples("eight-gpus-eight-nics-pairwise.yaml"));
  EXPECT_THAT(eight[0].requests, SizeIs(16));
  EXPECT_THAT(eight[0].constraints, SizeIs(8));
}

TEST_F(AlignmentTest, BundledNodeSatisfiesOneAndEightPairs) {
  const std::string root = tessera::testing::BundledNodeDir();
  auto t = topology::LoadTopology(topology::TopologySource::SysfsRoot(root));
  ASSERT_TRUE(t.ok()) << t.status();
  base::DirSysfs sysfs(root + "/sys");
  std::vector<PoolDevice> pool = Pool(*t, &sysfs);

  Template one = LoadTemplates(Examples("gpu-nic-same-switch.yaml")).at(0);
  auto a = Allocator(one, pool).Allocate();
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->at("gpu")->attributes.at(kSwitch), a->at("nic")->attributes.at(kSwitch));

  Template eight = LoadTemplates(Examples("eight-gpus-eight-nics-pairwise.yaml")).at(0);
  auto all = Allocator(eight, pool).Allocate();
  ASSERT_TRUE(all.has_value()) << "8 GPU+NIC pairs under 8 switches";
  std::set<std::string> switches;
  for (int i = 0; i < 8; ++i) {
    const PoolDevice* gpu = all->at("gpu" + std::to_string(i));
    const PoolDevice* nic = all->at("nic" + std::to_string(i));
    EXPECT_EQ(gpu->attributes.at(kSwitch), nic->attributes.at(kSwitch)) << i;
    switches.insert(std::get<std::string>(gpu->attributes.at(kSwitch)));
  }
  EXPECT_THAT(switches, SizeIs(8));  // different pairs, different switches

  // The constraint is what makes it so, whatever the order the allocator
  // meets the devices in: with the NICs listed backwards, first fit without
  // the constraints pairs GPUs with NICs under other switches, and with them
  // still finds the aligned pairs.
  std::vector<PoolDevice> reversed;
  for (const PoolDevice& d : pool) {
    if (d.device_class == "gpu.tessera.dev") reversed.push_back(d);
  }
  for (auto it = pool.rbegin(); it != pool.rend(); ++it) {
    if (it->device_class == "rdma.tessera.dev") reversed.push_back(*it);
  }
  Template loose = eight;
  loose.constraints.clear();
  auto any = Allocator(loose, reversed).Allocate();
  ASSERT_TRUE(any.has_value());
  auto aligned = Allocator(eight, reversed).Allocate();
  ASSERT_TRUE(aligned.has_value());
  int misaligned = 0;
  for (int i = 0; i < 8; ++i) {
    const std::string g = "gpu" + std::to_string(i), n = "nic" + std::to_string(i);
    misaligned += any->at(g)->attributes.at(kSwitch) != any->at(n)->attributes.at(kSwitch) ? 1 : 0;
    EXPECT_EQ(aligned->at(g)->attributes.at(kSwitch), aligned->at(n)->attributes.at(kSwitch));
  }
  EXPECT_GT(misaligned, 0);
}

TEST_F(AlignmentTest, JurecaGpuAndHcaPairsShareTheirSwitch) {
  const std::string shared = tessera::testing::SharedTopologiesDir();
  if (shared.empty()) GTEST_SKIP() << "../shared/topologies is absent; JURECA-DC test skipped";
  auto t = topology::LoadTopology(topology::TopologySource::HwlocXml(
      shared + "/xml-psmgmt-jurecadc-4xa100-4xhdr/topo.jrc0323.xml"));
  ASSERT_TRUE(t.ok()) << t.status();
  std::vector<PoolDevice> pool = Pool(*t, nullptr);
  std::vector<const PoolDevice*> gpus, nics;
  for (const PoolDevice& d : pool) {
    (d.device_class == "gpu.tessera.dev" ? gpus : nics).push_back(&d);
  }
  ASSERT_THAT(gpus, SizeIs(4));
  ASSERT_THAT(nics, SizeIs(4));
  std::set<std::string> values;
  for (const PoolDevice* g : gpus) {
    ASSERT_TRUE(g->attributes.contains(kSwitch)) << g->name;
    int partners = 0;
    for (const PoolDevice* n : nics) {
      ASSERT_TRUE(n->attributes.contains(kSwitch)) << n->name;
      partners += n->attributes.at(kSwitch) == g->attributes.at(kSwitch) ? 1 : 0;
    }
    EXPECT_EQ(partners, 1) << g->name << " has one HCA under its switch";
    values.insert(std::get<std::string>(g->attributes.at(kSwitch)));
  }
  EXPECT_THAT(values, SizeIs(4));

  Template one = LoadTemplates(Examples("gpu-nic-same-switch.yaml")).at(0);
  EXPECT_TRUE(Allocator(one, pool).Allocate().has_value());
  // The pairwise template, cut to the node's four pairs, is satisfiable; all
  // eight pairs are not (four GPUs).
  Template eight = LoadTemplates(Examples("eight-gpus-eight-nics-pairwise.yaml")).at(0);
  EXPECT_FALSE(Allocator(eight, pool).Allocate().has_value());
  Template four = eight;
  std::erase_if(four.requests, [](const Request& r) { return r.name.back() >= '4'; });
  std::erase_if(four.constraints, [](const Constraint& c) { return c.requests[0].back() >= '4'; });
  auto a = Allocator(four, pool).Allocate();
  ASSERT_TRUE(a.has_value());
  std::set<std::string> hcas;
  for (int i = 0; i < 4; ++i) {
    hcas.insert(a->at("nic" + std::to_string(i))->name);
    EXPECT_EQ(a->at("gpu" + std::to_string(i))->attributes.at(kSwitch),
              a->at("nic" + std::to_string(i))->attributes.at(kSwitch));
  }
  EXPECT_THAT(hcas, SizeIs(4));
}

// What the publisher would send for the RDMA pools is valid for the API
// server (1.35 rules), for every fixture and every combination of the gates.
TEST_F(AlignmentTest, RdmaSlicesPassValidation) {
  std::vector<std::string> roots = {
      tessera::testing::BundledNodeDir(),
      base::StrCat(TESSERA_SOURCE_DIR, "/test/testdata/rdma/cx7-ib-sriov"),
      base::StrCat(TESSERA_SOURCE_DIR, "/test/testdata/rdma/cx6dx-roce")};
  for (const std::string& root : roots) {
    auto t = topology::LoadTopology(topology::TopologySource::SysfsRoot(root));
    ASSERT_TRUE(t.ok()) << t.status();
    base::DirSysfs sysfs(root + "/sys");
    for (bool shared : {false, true}) {
      auto driver = drivers::rdma::RdmaDriver::Create(
          {.simulated = true, .publish_consumable_capacity = shared},
          drivers::rdma::RdmaDriverDeps{
              .topology = std::make_shared<const topology::NodeTopology>(*t),
              .sysfs = &sysfs,
              .fs = fs_,
              .clock = clock_});
      ASSERT_TRUE(driver.ok());
      ASSERT_OK_AND_ASSIGN(drivers::Inventory inv, (*driver)->Enumerate());
      for (bool gates : {false, true}) {
        absl::StatusOr<agent::kube::DesiredPool> pool =
            agent::kube::BuildPool("rdma.tessera.dev", "node-1", inv,
                                   {.consumable_capacity = gates, .device_taints = gates});
        ASSERT_TRUE(pool.ok()) << root << ": " << pool.status();
        size_t published = 0;
        for (const Json& slice : pool->slices)
          published += slice.value("devices", Json::array()).size();
        size_t healthy = 0;
        for (const drivers::Device& d : inv.devices) {
          healthy += d.health != drivers::Health::kUnhealthy ? 1 : 0;
        }
        // Nothing is skipped as invalid; without taints the unhealthy
        // devices are left out (and say so), with taints all are published.
        for (const agent::kube::SkippedDevice& s : pool->skipped) {
          EXPECT_TRUE(base::StartsWith(s.reason, "unhealthy")) << s.device << ": " << s.reason;
        }
        EXPECT_EQ(pool->skipped.size(), gates ? 0 : inv.devices.size() - healthy) << root;
        EXPECT_EQ(published, gates ? inv.devices.size() : healthy) << root;
      }
    }
  }
}

}  // namespace
}  // namespace tessera
