// emit-gpu-slices OUT.json: writes, as one JSON array, the ResourceSlices the
// GPU driver's inventories become (agent/kube's builder) for the bundled
// simulated node with the fake NVML (default and all features on), the
// JURECA A100 capture (without NVML, and with its fake NVML and all
// features), and the Corona MI50 capture. test/schema/run_schema_test.sh then
// checks every slice against the upstream schema (npm kubernetes-models).
// Captures absent from ../shared/topologies are left out.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "agent/kube/slice_builder.h"
#include "base/status_macros.h"
#include "drivers/gpu/gpu_driver.h"
#include "drivers/gpu/testing/sim_node.h"

namespace tessera {
namespace {

using Json = nlohmann::json;
namespace kube = agent::kube;

struct Source {
  std::string node;
  std::string xml;            // "" = the bundled sim node
  std::string nvml_fixture;   // "" = no NVML
  bool all_features = false;
};

absl::StatusOr<drivers::Inventory> Enumerate(const Source& s) {
  drivers::gpu::GpuDriverOptions o;
  o.simulated = true;
  o.publish_partitionable = s.all_features;
  o.publish_consumable_capacity = s.all_features;
  if (s.xml.empty()) {
    drivers::gpu::testing::SimNode node;
    if (!node.error().empty()) return absl::InternalError(node.error());
    drivers::gpu::GpuDriverOptions so = node.DriverOptions();
    so.publish_partitionable = o.publish_partitionable;
    so.publish_consumable_capacity = o.publish_consumable_capacity;
    ASSIGN_OR_RETURN(std::unique_ptr<drivers::gpu::GpuDriver> d, node.MakeDriver(so));
    return d->Enumerate();
  }
  ASSIGN_OR_RETURN(topology::NodeTopology topo,
                   topology::LoadTopology(topology::TopologySource::HwlocXml(s.xml)));
  std::unique_ptr<drivers::nvidia::testing::ScopedFakeNvmlEnv> env;
  std::unique_ptr<drivers::nvidia::DlopenNvml> nvml;
  if (!s.nvml_fixture.empty()) {
    env = std::make_unique<drivers::nvidia::testing::ScopedFakeNvmlEnv>(s.nvml_fixture);
    ASSIGN_OR_RETURN(nvml,
                     drivers::nvidia::DlopenNvml::Load(drivers::nvidia::testing::FakeNvmlLibrary()));
  }
  base::DirSysfs sysfs("/nonexistent-sysfs");
  base::ProcessCommandRunner runner;
  base::RealFilesystem fs;
  base::SystemClock clock;
  tessera::testing::TempDir state;
  o.state_dir = state.path();
  ASSIGN_OR_RETURN(std::unique_ptr<drivers::gpu::GpuDriver> d,
                   drivers::gpu::GpuDriver::Create(
                       o, {.topology = std::make_shared<const topology::NodeTopology>(std::move(topo)),
                           .sysfs = sysfs,
                           .nvml = nvml.get(),
                           .commands = runner,
                           .fs = fs,
                           .clock = clock}));
  return d->Enumerate();
}

int Run(const std::string& path) {
  const std::string shared = std::string(TESSERA_SOURCE_DIR) + "/../shared/topologies/";
  const std::string jureca = shared + "xml-psmgmt-jurecadc-4xa100-4xhdr/topo.jrc0323.xml";
  const std::string corona = shared + "xml-mpibind-corona-8xmi50/epyc-corona-p2.xml";
  std::vector<Source> sources = {{"sim-hgx-01", "", "", false}, {"sim-hgx-01", "", "", true}};
  if (std::filesystem::exists(jureca)) {
    sources.push_back({"jrc0323", jureca, "", false});
    sources.push_back({"jrc0323", jureca,
                       drivers::gpu::testing::SourcePath("test/testdata/gpu/nvml-jureca-4xa100.json"),
                       true});
  }
  if (std::filesystem::exists(corona)) sources.push_back({"corona282", corona, "", true});
  Json all = Json::array();
  for (const Source& s : sources) {
    absl::StatusOr<drivers::Inventory> inv = Enumerate(s);
    if (!inv.ok()) {
      std::cerr << s.node << ": " << inv.status() << "\n";
      return 1;
    }
    kube::SliceBuildOptions options{.partitionable_devices = s.all_features,
                                    .consumable_capacity = s.all_features};
    absl::StatusOr<kube::DesiredPool> pool = kube::BuildPool("gpu.tessera.dev", s.node, *inv, options);
    if (!pool.ok()) {
      std::cerr << s.node << ": " << pool.status() << "\n";
      return 1;
    }
    for (size_t i = 0; i < pool->slices.size(); ++i) {
      Json slice = kube::RenderSlice(*pool, i, 1, kube::NodeOwner{s.node, "5f1c0d2e-9b8a-4c7d-8e6f-1a2b3c4d5e6f"});
      slice["metadata"]["name"] = s.node + "-gpu-" + std::to_string(all.size());
      all.push_back(std::move(slice));
    }
  }
  std::ofstream(path) << all.dump(1);
  std::cout << "wrote " << all.size() << " ResourceSlices to " << path << "\n";
  return 0;
}

}  // namespace
}  // namespace tessera

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: emit-gpu-slices OUT.json\n";
    return 2;
  }
  return tessera::Run(argv[1]);
}
