// DlopenHlml on the fake libhlml.so (the real dlopen path).
#include "drivers/npu/dlopen_hlml.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "drivers/npu/testing/npu_test_env.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera::drivers::npu {
namespace {

using ::tessera::testing::StatusIs;
using testing::FakeHlmlLibrary;
using ::testing::HasSubstr;
using testing::NpuFixture;
using testing::ScopedEnv;

TEST(DlopenHlmlTest, ListsTheGaudi2Server) {
  ScopedEnv env("TESSERA_FAKE_HLML_CONFIG", NpuFixture("hlml-8xgaudi2.json"));
  ASSERT_OK_AND_ASSIGN(auto hlml, DlopenHlml::Load(FakeHlmlLibrary()));
  EXPECT_EQ(hlml->driver_version(), "1.17.0-fw-51.2.0");
  ASSERT_OK_AND_ASSIGN(std::vector<GaudiDevice> devices, hlml->ListDevices());
  ASSERT_EQ(devices.size(), 8u);
  const GaudiDevice& d = devices[3];
  EXPECT_EQ(d.index, 3u);
  EXPECT_EQ(d.name, "HL-225");
  EXPECT_EQ(d.serial, "AN02A03");
  ASSERT_TRUE(d.pci_address.has_value());
  EXPECT_EQ(d.pci_address->ToString(), "0000:3c:00.0");
  EXPECT_EQ(d.pci_vendor_id, 0x1da3);
  EXPECT_EQ(d.pci_device_id, 0x1020);
  EXPECT_EQ(d.module_id, 1u);
  EXPECT_EQ(d.minor_number, 3u);
  EXPECT_EQ(d.memory_total_bytes, uint64_t{96} << 30);
}

TEST(DlopenHlmlTest, UnsupportedOptionalQueriesLeaveFieldsEmpty) {
  tessera::testing::TempDir dir;
  std::ofstream(dir.Sub("h.json")) << R"({"devices": [{"pciBusId": "0000:19:00.0",
      "pciDeviceId": "0x1020", "serial": "AN1"}],
      "errors": [{"function": "hlml_device_get_serial", "return": 3}]})";
  ScopedEnv env("TESSERA_FAKE_HLML_CONFIG", dir.Sub("h.json"));
  ASSERT_OK_AND_ASSIGN(auto hlml, DlopenHlml::Load(FakeHlmlLibrary()));
  ASSERT_OK_AND_ASSIGN(std::vector<GaudiDevice> devices, hlml->ListDevices());
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].serial, "");
  EXPECT_EQ(devices[0].name, "");
  EXPECT_FALSE(devices[0].module_id.has_value());
  EXPECT_FALSE(devices[0].minor_number.has_value());
  EXPECT_FALSE(devices[0].memory_total_bytes.has_value());
  EXPECT_EQ(hlml->driver_version(), "");
}

TEST(DlopenHlmlTest, ALostDeviceFailsTheListAsUnavailable) {
  tessera::testing::TempDir dir;
  std::ofstream(dir.Sub("h.json")) << R"({"devices": [{"pciBusId": "0000:19:00.0"},
      {"pciBusId": "0000:1a:00.0"}],
      "errors": [{"function": "hlml_device_get_pci_info", "return": 15, "device": 1}]})";
  ScopedEnv env("TESSERA_FAKE_HLML_CONFIG", dir.Sub("h.json"));
  ASSERT_OK_AND_ASSIGN(auto hlml, DlopenHlml::Load(FakeHlmlLibrary()));
  EXPECT_THAT(hlml->ListDevices(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("get pci info of gaudi 1")));
}

TEST(DlopenHlmlTest, AGarbledBusIdIsInvalidArgument) {
  tessera::testing::TempDir dir;
  std::ofstream(dir.Sub("h.json")) << R"({"devices": [{"pciBusId": "not-a-bdf"}]})";
  ScopedEnv env("TESSERA_FAKE_HLML_CONFIG", dir.Sub("h.json"));
  ASSERT_OK_AND_ASSIGN(auto hlml, DlopenHlml::Load(FakeHlmlLibrary()));
  EXPECT_THAT(hlml->ListDevices(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"not-a-bdf\"")));
}

TEST(DlopenHlmlTest, DriverNotLoadedIsFailedPrecondition) {
  ScopedEnv env("TESSERA_FAKE_HLML_CONFIG", std::nullopt);
  EXPECT_THAT(DlopenHlml::Load(FakeHlmlLibrary()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("driver not loaded")));
}

TEST(DlopenHlmlTest, AMissingLibraryIsNotFound) {
  EXPECT_THAT(DlopenHlml::Load("libhlml-does-not-exist.so"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("Gaudi")));
  // The DCMI fake has none of the HLML symbols.
  EXPECT_THAT(DlopenHlml::Load(testing::FakeDcmiLibrary()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("hlml_init")));
}

TEST(HlmlStatusTest, MapsTheDocumentedCodes) {
  EXPECT_OK(HlmlStatus(0, "x"));
  EXPECT_THAT(HlmlStatus(3, "op"),
              StatusIs(absl::StatusCode::kUnimplemented, "op: hlml error 3 (not supported)"));
  EXPECT_THAT(HlmlStatus(6, "op"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(HlmlStatus(9, "op"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(HlmlStatus(10, "op"), StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(HlmlStatus(15, "op"), StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace tessera::drivers::npu
