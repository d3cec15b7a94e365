// NpuDriver on the simulated nodes: discovery through the real vendor
// library path (fake libdcmi/libhlml), prepare/unprepare with device nodes
// materialized under a temp dev root, and vNPUs through the recording npu-smi
// stand-in run by the real ProcessCommandRunner.
#include "drivers/npu/npu_driver.h"

#include <filesystem>
#include <mutex>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/base_sink.h"

#include "base/log.h"
#include "drivers/attributes.h"
#include "drivers/naming.h"
#include "drivers/npu/testing/npu_test_env.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera::drivers::npu {
namespace {

using ::tessera::testing::StatusIs;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::NpuFixture;
using testing::ScopedEnv;
using testing::SimNode;
using ::testing::UnorderedElementsAre;
using Argv = std::vector<std::string>;

// Counts log lines at warn or above (to check that an idle driver is quiet).
class CountingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  int Warnings() {
    std::lock_guard lock(mutex_);
    return warnings_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (msg.level >= spdlog::level::warn) ++warnings_;
  }
  void flush_() override {}

 private:
  int warnings_ = 0;
};

class NpuDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dev_root_ = dir_.Sub("dev-root");
    std::filesystem::create_directories(dev_root_ + "/dev");
    log_ = dir_.Sub("npu-smi.log");
    smi_log_.emplace("FAKE_NPU_SMI_LOG", log_);
    smi_dev_.emplace("FAKE_NPU_SMI_DEV_ROOT", dev_root_);
    smi_fail_.emplace("FAKE_NPU_SMI_FAIL", std::nullopt);
    dcmi_env_.emplace("TESSERA_FAKE_DCMI_CONFIG", NpuFixture("dcmi-8x910b3.json"));
    hlml_env_.emplace("TESSERA_FAKE_HLML_CONFIG", NpuFixture("hlml-8xgaudi2.json"));
    sink_ = std::make_shared<CountingSink>();
    base::log::Get("npu")->sinks().push_back(sink_);
  }
  void TearDown() override {
    auto& sinks = base::log::Get("npu")->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }

  // Options of a simulated node whose vendor libraries are the fakes.
  NpuDriverOptions Options(std::string_view node) {
    NpuDriverOptions o;
    o.domain = "tessera.dev";
    o.dev_root = dev_root_;
    o.host_root = testing::NodeFixture(node);
    o.simulated = true;
    o.dcmi_library = testing::FakeDcmiLibrary();
    o.hlml_library = testing::FakeHlmlLibrary();
    o.npu_smi = testing::FakeNpuSmi();
    return o;
  }

  std::unique_ptr<NpuDriver> Make(std::string_view node, NpuDriverOptions options) {
    nodes_.push_back(std::make_unique<SimNode>(node));
    const SimNode* sim = nodes_.back().get();
    auto driver = NpuDriver::Create(std::move(options), {.load_topology = sim->Loader(),
                                                         .sysfs = &sim->sysfs(),
                                                         .fs = &fs_,
                                                         .runner = &runner_,
                                                         .metrics = &registry_});
    EXPECT_OK(driver.status());
    return driver.ok() ? std::move(*driver) : nullptr;
  }
  std::unique_ptr<NpuDriver> Make(std::string_view node) { return Make(node, Options(node)); }

  // An Ascend driver with DCMI and vNPUs, its node's device nodes present.
  std::unique_ptr<NpuDriver> AscendWithVnpus() {
    NpuDriverOptions o = Options(testing::kAscendNode);
    o.publish_partitions = true;
    MaterializeAscendNodes();
    return Make(testing::kAscendNode, o);
  }

  void MaterializeAscendNodes() {
    std::vector<std::string> nodes = {"/dev/davinci_manager", "/dev/devmm_svm", "/dev/hisi_hdc"};
    for (int i = 0; i < 8; ++i) nodes.push_back(base::StrCat("/dev/davinci", i));
    testing::MaterializeNodes(dev_root_, nodes);
  }

  double Metric(std::string_view name, const base::metrics::Labels& labels) {
    if (name == "tessera_npu_vendor_library_missing") {
      return registry_.GetGauge(name, "", labels).value();
    }
    if (name == "tessera_npu_devices") return registry_.GetGauge(name, "", labels).value();
    return registry_.GetCounter(name, "", labels).value();
  }

  std::vector<Argv> NpuSmiCalls() { return testing::ReadNpuSmiLog(log_); }
  bool VnpuNodeExists(int id) {
    return std::filesystem::exists(base::StrCat(dev_root_, "/dev/vdavinci", id));
  }

  static DeviceAllocation Alloc(std::string request, std::string device) {
    return {.request = std::move(request), .device = std::move(device)};
  }
  static ClaimPrepareRequest Claim(std::string uid, std::vector<DeviceAllocation> devices) {
    return {.claim_uid = std::move(uid),
            .claim_namespace = "ns",
            .claim_name = "c",
            .devices = std::move(devices)};
  }
  static const Device* FindDevice(const Inventory& inv, std::string_view name) {
    for (const Device& d : inv.devices) {
      if (d.name == name) return &d;
    }
    return nullptr;
  }

  tessera::testing::TempDir dir_;
  std::string dev_root_, log_;
  std::optional<ScopedEnv> smi_log_, smi_dev_, smi_fail_, dcmi_env_, hlml_env_;
  base::RealFilesystem fs_;
  base::ProcessCommandRunner runner_;
  base::metrics::Registry registry_;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::shared_ptr<CountingSink> sink_;
};

// ---------------------------------------------------------------- discovery

TEST_F(NpuDriverTest, WithoutDcmiTheAscendNodeIsListedFromSysfsInDegradedMode) {
  NpuDriverOptions o = Options(testing::kAscendNode);
  o.dcmi_library = "libdcmi.so";  // a soname: not loaded on a simulated node
  o.publish_partitions = true;
  auto driver = Make(testing::kAscendNode, o);
  ASSERT_OK_AND_ASSIGN(Inventory inv, driver->Enumerate());
  ASSERT_EQ(inv.devices.size(), 8u);
  EXPECT_TRUE(inv.counter_sets.empty());  // vNPUs need DCMI
  const Device* d = FindDevice(inv, "npu-0000-c4-00-0");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->attributes.at("model"), AttributeValue(std::string("Ascend910B")));
  EXPECT_EQ(d->attributes.at("index"), AttributeValue(int64_t{7}));
  EXPECT_EQ(d->attributes.at("roceIP"), AttributeValue(std::string("192.168.100.108")));
  EXPECT_EQ(d->health, Health::kHealthy);
  EXPECT_EQ(Metric("tessera_npu_vendor_library_missing", {{"library", "dcmi"}}), 1);
  EXPECT_EQ(Metric("tessera_npu_devices", {{"family", "ascend"}}), 8);
  // One warning for the degraded mode, not one per scan.
  ASSERT_OK(driver->Enumerate().status());
  EXPECT_EQ(sink_->Warnings(), 1);
}

TEST_F(NpuDriverTest, WithDcmiTheAscendNodeIsNamedAndPartitioned) {
  NpuDriverOptions o = Options(testing::kAscendNode);
  o.publish_partitions = true;
  auto driver = Make(testing::kAscendNode, o);
  ASSERT_OK_AND_ASSIGN(Inventory inv, driver->Enumerate());
  EXPECT_EQ(inv.devices.size(), 56u);
  EXPECT_EQ(inv.counter_sets.size(), 8u);
  const Device* d = FindDevice(inv, "npu-0000-03-00-0");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->attributes.at("model"), AttributeValue(std::string("Ascend910B3")));
  EXPECT_EQ(d->attributes.at("chipName"), AttributeValue(std::string("910B3")));
  EXPECT_EQ(d->capacity.at("memory").value.ToString(), "64Gi");
  const Device* sick = FindDevice(inv, "npu-0000-c3-00-0");
  ASSERT_NE(sick, nullptr);
  EXPECT_EQ(sick->health, Health::kUnhealthy);
  EXPECT_EQ(Metric("tessera_npu_vendor_library_missing", {{"library", "dcmi"}}), 0);
  EXPECT_EQ(sink_->Warnings(), 0);
}

TEST_F(NpuDriverTest, ADcmiThatFailsAtRunTimeFallsBackToSysfs) {
  dcmi_env_.emplace("TESSERA_FAKE_DCMI_CONFIG", std::nullopt);  // dcmi_init fails
  auto driver = Make(testing::kAscendNode);
  ASSERT_OK_AND_ASSIGN(Inventory inv, driver->Enumerate());
  EXPECT_EQ(inv.devices.size(), 8u);
  EXPECT_EQ(Metric("tessera_npu_vendor_library_missing", {{"library", "dcmi"}}), 1);
  // The library appears (driver loaded later): the next scan uses it.
  dcmi_env_.emplace("TESSERA_FAKE_DCMI_CONFIG", NpuFixture("dcmi-8x910b3.json"));
  ASSERT_OK_AND_ASSIGN(inv, driver->Enumerate());
  EXPECT_EQ(inv.devices[0].attributes.at("model"), AttributeValue(std::string("Ascend910B3")));
  EXPECT_EQ(Metric("tessera_npu_vendor_library_missing", {{"library", "dcmi"}}), 0);
}

TEST_F(NpuDriverTest, GaudiNodeWithAndWithoutHlml) {
  auto with = Make(testing::kGaudiNode);
  ASSERT_OK_AND_ASSIGN(Inventory inv, with->Enumerate());
  ASSERT_EQ(inv.devices.size(), 8u);
  const Device* d = FindDevice(inv, "npu-0000-9a-00-0");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->attributes.at("vendor"), AttributeValue(std::string("habana")));
  EXPECT_EQ(d->attributes.at("type"), AttributeValue(std::string("gaudi")));
  EXPECT_EQ(d->attributes.at("model"), AttributeValue(std::string("Gaudi2")));
  EXPECT_EQ(d->attributes.at("index"), AttributeValue(int64_t{4}));
  EXPECT_EQ(d->attributes.at("moduleID"), AttributeValue(int64_t{6}));
  EXPECT_EQ(d->attributes.at("serial"), AttributeValue(std::string("AN02A04")));
  EXPECT_EQ(d->attributes.at(std::string(kAttrNumaNode)), AttributeValue(int64_t{1}));
  EXPECT_EQ(d->capacity.at("memory").value.ToString(), "96Gi");
  EXPECT_EQ(Metric("tessera_npu_vendor_library_missing", {{"library", "hlml"}}), 0);

  NpuDriverOptions o = Options(testing::kGaudiNode);
  o.hlml_library = "";  // disabled
  auto without = Make(testing::kGaudiNode, o);
  ASSERT_OK_AND_ASSIGN(inv, without->Enumerate());
  d = FindDevice(inv, "npu-0000-9a-00-0");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->attributes.at("moduleID"), AttributeValue(int64_t{6}));  // from sysfs
  EXPECT_FALSE(d->capacity.contains("memory"));
  EXPECT_FALSE(d->attributes.contains("uuid"));
  EXPECT_EQ(Metric("tessera_npu_vendor_library_missing", {{"library", "hlml"}}), 1);
}

TEST_F(NpuDriverTest, AccelNodeListsTheIntelNpu) {
  auto driver = Make(testing::kAccelNode);
  ASSERT_OK_AND_ASSIGN(Inventory inv, driver->Enumerate());
  ASSERT_EQ(inv.devices.size(), 1u);
  const Device& d = inv.devices[0];
  EXPECT_EQ(d.name, "npu-0000-00-0b-0");
  EXPECT_EQ(d.attributes.at("type"), AttributeValue(std::string("accel")));
  EXPECT_EQ(d.attributes.at("model"), AttributeValue(std::string("Intel NPU 3720")));
  EXPECT_FALSE(d.attributes.contains("tessera.dev/pcieSwitch"));  // on the root bus
  // No vendor library is needed or missing for the accel class.
  EXPECT_EQ(Metric("tessera_npu_vendor_library_missing", {{"library", "dcmi"}}), 0);
  EXPECT_EQ(Metric("tessera_npu_vendor_library_missing", {{"library", "hlml"}}), 0);
}

TEST_F(NpuDriverTest, ANodeWithoutNpusRunsIdleAndQuiet) {
  NpuDriverOptions o = Options(testing::kGpuNode);
  o.simulated = false;  // would try the default sonames, if it tried anything
  o.dcmi_library = "libdcmi.so";
  o.hlml_library = "libhlml.so";
  auto driver = Make(testing::kGpuNode, o);
  for (int scan = 0; scan < 3; ++scan) {
    ASSERT_OK_AND_ASSIGN(Inventory inv, driver->Enumerate());
    EXPECT_TRUE(inv.devices.empty());
    EXPECT_TRUE(inv.counter_sets.empty());
  }
  EXPECT_EQ(sink_->Warnings(), 0);
  EXPECT_EQ(Metric("tessera_npu_vendor_library_missing", {{"library", "dcmi"}}), 0);
  EXPECT_EQ(Metric("tessera_npu_vendor_library_missing", {{"library", "hlml"}}), 0);
  EXPECT_EQ(Metric("tessera_npu_devices", {{"family", "ascend"}}), 0);
  EXPECT_TRUE(driver->LastScan().empty());
}

TEST_F(NpuDriverTest, NpusAndTheirNicsShareThePcieSwitchAttribute) {
  auto driver = Make(testing::kAscendNode);
  ASSERT_OK_AND_ASSIGN(Inventory inv, driver->Enumerate());
  ASSERT_OK_AND_ASSIGN(topology::NodeTopology t, nodes_.back()->Load());
  // The fixture: per socket one switch (upstream B+1:00.0) with two NPUs and
  // a dual-port ConnectX-6 Dx. The RDMA driver names those NICs
  // rdma-<bdf> and gives them the same attribute from the same model.
  const std::string key = AlignmentAttribute("tessera.dev", kAlignPcieSwitch);
  std::map<std::string, std::vector<std::string>> nics_by_switch;
  for (const topology::PciDevice* nic : t.DevicesOfKind(topology::DeviceKind::kRdma)) {
    if (auto sw = PcieSwitchValue(*nic)) {
      nics_by_switch[*sw].push_back(DeviceNameForPci("rdma", nic->address));
    }
  }
  const Device* npu0 = FindDevice(inv, "npu-0000-03-00-0");
  const Device* npu1 = FindDevice(inv, "npu-0000-04-00-0");
  const Device* npu2 = FindDevice(inv, "npu-0000-43-00-0");
  ASSERT_TRUE(npu0 && npu1 && npu2);
  EXPECT_EQ(npu0->attributes.at(key), AttributeValue(std::string("0000:01:00.0")));
  EXPECT_EQ(npu1->attributes.at(key), npu0->attributes.at(key));
  EXPECT_NE(npu2->attributes.at(key), npu0->attributes.at(key));
  EXPECT_THAT(nics_by_switch["0000:01:00.0"],
              UnorderedElementsAre("rdma-0000-05-00-0", "rdma-0000-05-00-1"));
  EXPECT_THAT(nics_by_switch["0000:41:00.0"],
              UnorderedElementsAre("rdma-0000-45-00-0", "rdma-0000-45-00-1"));
  // Every NPU has NICs behind its switch, in its NUMA node.
  for (const Device& d : inv.devices) {
    const std::string& sw = std::get<std::string>(d.attributes.at(key));
    EXPECT_EQ(nics_by_switch[sw].size(), 2u) << d.name;
  }
}

// ---------------------------------------------------------------- prepare

TEST_F(NpuDriverTest, PreparesWholeAscendNpusWithSharedNodesAndVisibility) {
  MaterializeAscendNodes();
  auto driver = Make(testing::kAscendNode);
  ASSERT_OK(driver->Enumerate().status());
  ClaimPrepareRequest req =
      Claim("uid-1", {Alloc("npu", "npu-0000-43-00-0"), Alloc("npu", "npu-0000-03-00-0")});
  EXPECT_FALSE(driver->HasSideEffects(req));
  ASSERT_OK_AND_ASSIGN(PreparedClaim p, driver->PrepareClaim(req));
  ASSERT_EQ(p.devices.size(), 2u);
  EXPECT_EQ(p.devices[0].device, "npu-0000-43-00-0");
  ASSERT_EQ(p.devices[0].edits.device_nodes.size(), 1u);
  EXPECT_EQ(p.devices[0].edits.device_nodes[0].path, "/dev/davinci2");
  EXPECT_EQ(p.devices[0].edits.device_nodes[0].host_path, dev_root_ + "/dev/davinci2");
  std::vector<std::string> shared;
  for (const base::DeviceNode& n : p.claim_edits.device_nodes) shared.push_back(n.path);
  EXPECT_THAT(shared, ElementsAre("/dev/davinci_manager", "/dev/devmm_svm", "/dev/hisi_hdc"));
  EXPECT_THAT(p.claim_edits.env, ElementsAre("ASCEND_VISIBLE_DEVICES=0,2"));
  ASSERT_EQ(p.claim_edits.mounts.size(), 1u);
  EXPECT_EQ(p.claim_edits.mounts[0].container_path, "/etc/hccn.conf");
  EXPECT_EQ(p.claim_edits.mounts[0].host_path,
            testing::NodeFixture(testing::kAscendNode) + "/etc/hccn.conf");
  EXPECT_THAT(p.claim_edits.mounts[0].options, Contains("ro"));
  EXPECT_THAT(NpuSmiCalls(), IsEmpty());

  // Idempotent: the same result again.
  ASSERT_OK_AND_ASSIGN(PreparedClaim again, driver->PrepareClaim(req));
  EXPECT_EQ(again.claim_edits, p.claim_edits);
  EXPECT_OK(driver->UnprepareClaim("uid-1", p));
  EXPECT_OK(driver->UnprepareClaim("uid-1", p));
}

TEST_F(NpuDriverTest, ConfigsShapeTheAscendEnvironment) {
  MaterializeAscendNodes();
  auto driver = Make(testing::kAscendNode);
  DeviceAllocation a = Alloc("npu", "npu-0000-03-00-0");
  a.configs.push_back({.source = "FromClass",
                       .parameters = {{"apiVersion", "npu.tessera.dev/v1alpha1"},
                                      {"kind", "NpuConfig"},
                                      {"ascendRuntimeOptions", {"NODRV"}},
                                      {"mountHccnConf", false}}});
  // No scan before: the prepare scans by itself (right after a restart).
  ASSERT_OK_AND_ASSIGN(PreparedClaim p, driver->PrepareClaim(Claim("uid-c", {a})));
  EXPECT_THAT(p.claim_edits.env,
              ElementsAre("ASCEND_VISIBLE_DEVICES=0", "ASCEND_RUNTIME_OPTIONS=NODRV"));
  EXPECT_TRUE(p.claim_edits.mounts.empty());
}

TEST_F(NpuDriverTest, RefusesBadConfigsNamingTheRequestAndField) {
  MaterializeAscendNodes();
  auto driver = Make(testing::kAscendNode);
  DeviceAllocation a = Alloc("big", "npu-0000-03-00-0");
  a.configs.push_back({.source = "FromClaim",
                       .parameters = {{"apiVersion", "npu.tessera.dev/v1alpha1"},
                                      {"kind", "NpuConfig"},
                                      {"habanaVisibleModules", "yes"}}});
  EXPECT_THAT(driver->PrepareClaim(Claim("uid-b", {a})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("request big: configs[0].parameters.habanaVisibleModules")));
  a.configs[0].parameters["habanaVisibleModules"] = false;
  EXPECT_THAT(driver->PrepareClaim(Claim("uid-b", {a})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("habanaVisibleModules applies to Gaudi NPUs; device "
                                 "npu-0000-03-00-0 is ascend")));
}

TEST_F(NpuDriverTest, RefusesUnknownDevicesAndMissingNodes) {
  auto driver = Make(testing::kAscendNode);
  EXPECT_THAT(driver->PrepareClaim(Claim("u", {Alloc("npu", "npu-0000-99-00-0")})),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("npu-0000-99-00-0")));
  // No /dev/davinci0 under the dev root yet.
  EXPECT_THAT(driver->PrepareClaim(Claim("u", {Alloc("npu", "npu-0000-03-00-0")})),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("device node /dev/davinci0 is missing")));
  MaterializeAscendNodes();
  EXPECT_OK(driver->PrepareClaim(Claim("u", {Alloc("npu", "npu-0000-03-00-0")})).status());
}

TEST_F(NpuDriverTest, APartOfTheModelWithoutDriverCannotBePrepared) {
  topology::NodeTopology t;
  topology::PciDevice d;
  d.address = *base::PciAddress::Parse("0000:01:00.0");
  d.vendor_id = 0x19e5;
  d.device_id = 0xd802;
  d.kind = topology::DeviceKind::kNpu;
  t.devices.push_back(d);  // no kernel driver bound
  auto driver =
      NpuDriver::Create(Options(testing::kAscendNode), {.load_topology = [t]() { return t; },
                                                        .fs = &fs_,
                                                        .runner = &runner_,
                                                        .metrics = &registry_});
  ASSERT_OK(driver.status());
  ASSERT_OK_AND_ASSIGN(Inventory inv, (*driver)->Enumerate());
  ASSERT_EQ(inv.devices.size(), 1u);
  EXPECT_EQ(inv.devices[0].health, Health::kUnhealthy);
  EXPECT_THAT((*driver)->PrepareClaim(Claim("u", {Alloc("npu", "npu-0000-01-00-0")})),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("cannot be prepared")));
}

TEST_F(NpuDriverTest, PreparesGaudisWithTheirModules) {
  std::vector<std::string> nodes;
  for (int i = 0; i < 8; ++i) {
    nodes.push_back(base::StrCat("/dev/accel/accel", i));
    nodes.push_back(base::StrCat("/dev/accel/accel_controlD", i));
    nodes.push_back(base::StrCat("/dev/infiniband/uverbs", i));
  }
  testing::MaterializeNodes(dev_root_, nodes);
  auto driver = Make(testing::kGaudiNode);
  ASSERT_OK_AND_ASSIGN(PreparedClaim p,
                       driver->PrepareClaim(Claim(
                           "g", {Alloc("a", "npu-0000-3c-00-0"), Alloc("b", "npu-0000-3b-00-0")})));
  std::vector<std::string> own;
  for (const base::DeviceNode& n : p.devices[1].edits.device_nodes) own.push_back(n.path);
  EXPECT_THAT(own, ElementsAre("/dev/accel/accel2", "/dev/accel/accel_controlD2",
                               "/dev/infiniband/uverbs2"));
  // Sorted by accel index; module ids in the same order (accel2 is OAM 0, accel3 OAM 1).
  EXPECT_THAT(p.claim_edits.env,
              ElementsAre("HABANA_VISIBLE_DEVICES=2,3", "HABANA_VISIBLE_MODULES=0,1"));
  EXPECT_TRUE(p.claim_edits.device_nodes.empty());

  DeviceAllocation off = Alloc("a", "npu-0000-19-00-0");
  off.configs.push_back({.source = "FromClass",
                         .parameters = {{"apiVersion", "npu.tessera.dev/v1alpha1"},
                                        {"kind", "NpuConfig"},
                                        {"habanaVisibleModules", false}}});
  ASSERT_OK_AND_ASSIGN(PreparedClaim q, driver->PrepareClaim(Claim("h", {off})));
  EXPECT_THAT(q.claim_edits.env, ElementsAre("HABANA_VISIBLE_DEVICES=0"));
  off.configs[0].parameters = {{"apiVersion", "npu.tessera.dev/v1alpha1"},
                               {"kind", "NpuConfig"},
                               {"ascendRuntimeOptions", {"NODRV"}}};
  EXPECT_THAT(driver->PrepareClaim(Claim("i", {off})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("apply to Ascend NPUs")));
}

TEST_F(NpuDriverTest, PreparesAccelDevicesWithTheGenericVariable) {
  testing::MaterializeNodes(dev_root_, {"/dev/accel/accel0"});
  auto driver = Make(testing::kAccelNode);
  ASSERT_OK_AND_ASSIGN(PreparedClaim p,
                       driver->PrepareClaim(Claim("x", {Alloc("npu", "npu-0000-00-0b-0")})));
  ASSERT_EQ(p.devices.size(), 1u);
  EXPECT_EQ(p.devices[0].edits.device_nodes[0].path, "/dev/accel/accel0");
  EXPECT_THAT(p.claim_edits.env, ElementsAre("TESSERA_ACCEL_VISIBLE_DEVICES=0"));
}

TEST_F(NpuDriverTest, WithoutDevRootNodesAreCheckedUnderTheHostRootAndHostPathsArePlain) {
  tessera::testing::TempDir host;
  testing::MaterializeNodes(host.path(), {"/dev/accel/accel0"});
  NpuDriverOptions o = Options(testing::kAccelNode);
  o.dev_root = "";
  o.host_root = host.path();
  auto driver = Make(testing::kAccelNode, o);
  ASSERT_OK_AND_ASSIGN(PreparedClaim p,
                       driver->PrepareClaim(Claim("x", {Alloc("npu", "npu-0000-00-0b-0")})));
  EXPECT_EQ(p.devices[0].edits.device_nodes[0].host_path, "");
}

// ---------------------------------------------------------------- vNPUs

TEST_F(NpuDriverTest, CreatesAndDestroysVnpusThroughNpuSmi) {
  auto driver = AscendWithVnpus();
  ASSERT_OK(driver->Enumerate().status());
  ClaimPrepareRequest req = Claim("v1", {Alloc("small", "npu-0000-03-00-0-vir05-1c-16g-0"),
                                         Alloc("small", "npu-0000-03-00-0-vir05-1c-16g-1")});
  EXPECT_TRUE(driver->HasSideEffects(req));
  ASSERT_OK_AND_ASSIGN(PreparedClaim p, driver->PrepareClaim(req));
  const std::string smi = testing::FakeNpuSmi();
  EXPECT_THAT(NpuSmiCalls(), ElementsAre(Argv{"set", "-t", "create-vnpu", "-i", "0", "-c", "0",
                                              "-f", "vir05_1c_16g", "-v", "102"},
                                         Argv{"set", "-t", "create-vnpu", "-i", "0", "-c", "0",
                                              "-f", "vir05_1c_16g", "-v", "103"}));
  EXPECT_TRUE(VnpuNodeExists(102));
  EXPECT_TRUE(VnpuNodeExists(103));
  EXPECT_EQ(p.devices[0].edits.device_nodes[0].path, "/dev/vdavinci102");
  EXPECT_EQ(p.devices[0].edits.device_nodes[0].host_path, dev_root_ + "/dev/vdavinci102");
  EXPECT_THAT(p.claim_edits.env,
              ElementsAre("ASCEND_VISIBLE_DEVICES=102,103", "ASCEND_RUNTIME_OPTIONS=VIRTUAL"));
  EXPECT_EQ(p.devices[1].state["vnpuId"], 103);
  EXPECT_EQ(p.devices[1].state["template"], "vir05_1c_16g");
  EXPECT_EQ(
      Metric("tessera_npu_vnpu_operations_total", {{"operation", "create"}, {"result", "success"}}),
      2);

  ASSERT_OK(driver->UnprepareClaim("v1", p));
  std::vector<Argv> calls = NpuSmiCalls();
  ASSERT_EQ(calls.size(), 4u);
  // Destroyed in reverse order.
  EXPECT_EQ(calls[2], (Argv{"set", "-t", "destroy-vnpu", "-i", "0", "-c", "0", "-v", "103"}));
  EXPECT_EQ(calls[3], (Argv{"set", "-t", "destroy-vnpu", "-i", "0", "-c", "0", "-v", "102"}));
  EXPECT_FALSE(VnpuNodeExists(102));
  EXPECT_FALSE(VnpuNodeExists(103));
  // Unprepare again: nothing left to do, no call.
  ASSERT_OK(driver->UnprepareClaim("v1", p));
  EXPECT_EQ(NpuSmiCalls().size(), 4u);
}

TEST_F(NpuDriverTest, RefusesVnpusBeyondTheChipsCountersWithoutTouchingTheHost) {
  auto driver = AscendWithVnpus();
  // Two 10-core vNPUs take all 20 AI cores of chip 1.
  ASSERT_OK_AND_ASSIGN(
      PreparedClaim big,
      driver->PrepareClaim(Claim("a", {Alloc("r", "npu-0000-04-00-0-vir10-3c-32g-0"),
                                       Alloc("r", "npu-0000-04-00-0-vir10-3c-32g-1")})));
  const size_t calls = NpuSmiCalls().size();
  EXPECT_THAT(driver->PrepareClaim(Claim("b", {Alloc("r", "npu-0000-04-00-0-vir05-1c-16g-0")})),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("does not fit npu npu-0000-04-00-0: aicore 20/20")));
  // The whole chip is taken by vNPUs as well.
  testing::MaterializeNodes(dev_root_, {"/dev/davinci1"});
  EXPECT_THAT(driver->PrepareClaim(Claim("c", {Alloc("r", "npu-0000-04-00-0")})),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("has vnpus of claim a")));
  // The same slot for another claim.
  EXPECT_THAT(driver->PrepareClaim(Claim("d", {Alloc("r", "npu-0000-04-00-0-vir10-3c-32g-1")})),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("in use by claim a")));
  EXPECT_EQ(NpuSmiCalls().size(), calls);  // refusals run nothing

  // Chip 1 free again: the small one fits.
  ASSERT_OK(driver->UnprepareClaim("a", big));
  EXPECT_OK(
      driver->PrepareClaim(Claim("b", {Alloc("r", "npu-0000-04-00-0-vir05-1c-16g-0")})).status());
}

TEST_F(NpuDriverTest, AWholeChipClaimBlocksVnpusOnIt) {
  auto driver = AscendWithVnpus();
  ASSERT_OK(driver->PrepareClaim(Claim("w", {Alloc("r", "npu-0000-44-00-0")})).status());
  EXPECT_THAT(
      driver->PrepareClaim(Claim("v", {Alloc("r", "npu-0000-44-00-0-vir05-1c-16g-0")})),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("prepared whole for claim w")));
}

TEST_F(NpuDriverTest, RollsBackTheVnpusItMadeWhenALaterOneFails) {
  auto driver = AscendWithVnpus();
  smi_fail_.emplace("FAKE_NPU_SMI_FAIL", "create-vnpu:119");
  // Chip 1: ids 116.. ; vir05 instances 0 and 1 are 118 and 119.
  EXPECT_THAT(driver->PrepareClaim(Claim("r", {Alloc("r", "npu-0000-04-00-0-vir10-3c-32g-0"),
                                               Alloc("r", "npu-0000-04-00-0-vir05-1c-16g-0"),
                                               Alloc("r", "npu-0000-04-00-0-vir05-1c-16g-1")})),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("create vnpu 119 (vir05_1c_16g on npu-0000-04-00-0)")));
  std::vector<Argv> calls = NpuSmiCalls();
  ASSERT_EQ(calls.size(), 5u);
  EXPECT_EQ(calls[0].back(), "116");
  EXPECT_EQ(calls[1].back(), "118");
  EXPECT_EQ(calls[2].back(), "119");
  EXPECT_EQ(calls[3], (Argv{"set", "-t", "destroy-vnpu", "-i", "1", "-c", "0", "-v", "118"}));
  EXPECT_EQ(calls[4], (Argv{"set", "-t", "destroy-vnpu", "-i", "1", "-c", "0", "-v", "116"}));
  EXPECT_FALSE(VnpuNodeExists(116));
  EXPECT_FALSE(VnpuNodeExists(118));
  EXPECT_EQ(
      Metric("tessera_npu_vnpu_operations_total", {{"operation", "create"}, {"result", "error"}}),
      1);
  // Nothing of the failed claim is held: its slots are free.
  smi_fail_.emplace("FAKE_NPU_SMI_FAIL", std::nullopt);
  EXPECT_OK(
      driver->PrepareClaim(Claim("s", {Alloc("r", "npu-0000-04-00-0-vir10-3c-32g-0")})).status());
}

TEST_F(NpuDriverTest, RefusesMixingWholeNpusAndVnpusInOneClaim) {
  auto driver = AscendWithVnpus();
  EXPECT_THAT(driver->PrepareClaim(Claim("m", {Alloc("a", "npu-0000-03-00-0"),
                                               Alloc("b", "npu-0000-04-00-0-vir05-1c-16g-0")})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cannot mix")));
  EXPECT_THAT(NpuSmiCalls(), IsEmpty());
}

TEST_F(NpuDriverTest, UnprepareAfterACrashFindsTheVnpuByName) {
  // A prepare created vNPU 102 and the agent died before recording it: the
  // agent rolls back with the request's devices only (no state).
  auto driver = AscendWithVnpus();
  testing::MaterializeNodes(dev_root_, {"/dev/vdavinci102"});
  PreparedClaim from_request;
  from_request.devices.push_back({.request = "r", .device = "npu-0000-03-00-0-vir05-1c-16g-0"});
  from_request.devices.push_back({.request = "r", .device = "npu-0000-03-00-0-vir05-1c-16g-1"});
  ASSERT_OK(driver->UnprepareClaim("crashed", from_request));
  // 103 was never made: only 102 is destroyed.
  EXPECT_THAT(NpuSmiCalls(),
              ElementsAre(Argv{"set", "-t", "destroy-vnpu", "-i", "0", "-c", "0", "-v", "102"}));
  EXPECT_FALSE(VnpuNodeExists(102));
}

TEST_F(NpuDriverTest, APrepareRetriedAfterACrashAdoptsItsVnpu) {
  auto driver = AscendWithVnpus();
  testing::MaterializeNodes(dev_root_, {"/dev/vdavinci102"});
  ASSERT_OK_AND_ASSIGN(
      PreparedClaim p,
      driver->PrepareClaim(Claim("again", {Alloc("r", "npu-0000-03-00-0-vir05-1c-16g-0")})));
  EXPECT_THAT(NpuSmiCalls(), IsEmpty());
  EXPECT_EQ(p.devices[0].state["adopted"], true);
  ASSERT_OK(driver->UnprepareClaim("again", p));
  EXPECT_EQ(NpuSmiCalls().size(), 1u);
}

TEST_F(NpuDriverTest, RestoredClaimsKeepTheirSlotsAndAreReappliedAfterReboot) {
  PreparedClaim p;
  {
    auto first = AscendWithVnpus();
    ASSERT_OK_AND_ASSIGN(
        p, first->PrepareClaim(Claim("keep", {Alloc("r", "npu-0000-03-00-0-vir10-3c-32g-0"),
                                              Alloc("r", "npu-0000-03-00-0-vir10-3c-32g-1")})));
  }
  // A new agent process: state comes from the checkpoint.
  auto second = AscendWithVnpus();
  ASSERT_OK(second->RestoreState({{"keep", p}}));
  EXPECT_THAT(second->PrepareClaim(Claim("other", {Alloc("r", "npu-0000-03-00-0-vir05-1c-16g-0")})),
              StatusIs(absl::StatusCode::kResourceExhausted));
  ASSERT_OK_AND_ASSIGN(PreparedClaim same, second->PrepareClaim(Claim("keep", {})));
  EXPECT_EQ(same.claim_edits, p.claim_edits);

  // Reboot without vNPU recovery: the nodes are gone; re-apply makes them.
  std::filesystem::remove(dev_root_ + "/dev/vdavinci100");
  const size_t before = NpuSmiCalls().size();
  ASSERT_OK(second->ReapplyClaim("keep", p));
  std::vector<Argv> calls = NpuSmiCalls();
  ASSERT_EQ(calls.size(), before + 1);
  EXPECT_EQ(calls.back(), (Argv{"set", "-t", "create-vnpu", "-i", "0", "-c", "0", "-f",
                                "vir10_3c_32g", "-v", "100"}));
  EXPECT_TRUE(VnpuNodeExists(100));
}

TEST_F(NpuDriverTest, AFailedDestroyKeepsTheClaimForARetry) {
  auto driver = AscendWithVnpus();
  ASSERT_OK_AND_ASSIGN(PreparedClaim p, driver->PrepareClaim(Claim(
                                            "k", {Alloc("r", "npu-0000-03-00-0-vir05-1c-16g-0")})));
  smi_fail_.emplace("FAKE_NPU_SMI_FAIL", "destroy-vnpu:102");
  EXPECT_THAT(driver->UnprepareClaim("k", p),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("destroy vnpu 102")));
  // The slot is still held.
  EXPECT_THAT(driver->PrepareClaim(Claim("x", {Alloc("r", "npu-0000-03-00-0-vir05-1c-16g-0")})),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("in use by claim k")));
  smi_fail_.emplace("FAKE_NPU_SMI_FAIL", std::nullopt);
  EXPECT_OK(driver->UnprepareClaim("k", p));
  EXPECT_FALSE(VnpuNodeExists(102));
}

TEST_F(NpuDriverTest, AMissingNpuSmiIsFailedPrecondition) {
  NpuDriverOptions o = Options(testing::kAscendNode);
  o.publish_partitions = true;
  o.npu_smi = dir_.Sub("no-npu-smi");
  MaterializeAscendNodes();
  auto driver = Make(testing::kAscendNode, o);
  EXPECT_THAT(driver->PrepareClaim(Claim("n", {Alloc("r", "npu-0000-03-00-0-vir05-1c-16g-0")})),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no-npu-smi")));
}

TEST(NpuDriverOptionsTest, AbsentPolicyParsesBothWords) {
  EXPECT_EQ(ParseAbsentPolicy("idle"), AbsentPolicy::kIdle);
  EXPECT_EQ(ParseAbsentPolicy("skip"), AbsentPolicy::kSkip);
  EXPECT_EQ(ParseAbsentPolicy("off"), std::nullopt);
  EXPECT_EQ(AbsentPolicyName(AbsentPolicy::kSkip), "skip");
}

TEST(NpuDriverOptionsTest, CreateRequiresItsDependencies) {
  EXPECT_THAT(NpuDriver::Create({}, {}), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace tessera::drivers::npu
