// DlopenDcmi on the fake libdcmi.so (the real dlopen path).
#include "drivers/npu/dlopen_dcmi.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "base/byte_units.h"
#include "drivers/npu/testing/npu_test_env.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera::drivers::npu {
namespace {

using ::tessera::testing::StatusIs;
using testing::FakeDcmiLibrary;
using ::testing::HasSubstr;
using testing::NpuFixture;
using testing::ScopedEnv;

using base::kGiB;

class DlopenDcmiTest : public ::testing::Test {
 protected:
  // Writes `json` as the fake's machine and points the fake at it.
  void UseMachine(const std::string& json) {
    std::string path = dir_.Sub("dcmi.json");
    std::ofstream(path) << json;
    env_.emplace("TESSERA_FAKE_DCMI_CONFIG", path);
  }
  tessera::testing::TempDir dir_;
  std::optional<ScopedEnv> env_;
};

TEST_F(DlopenDcmiTest, ListsTheChipsOfThe910B3Server) {
  ScopedEnv env("TESSERA_FAKE_DCMI_CONFIG", NpuFixture("dcmi-8x910b3.json"));
  ASSERT_OK_AND_ASSIGN(auto dcmi, DlopenDcmi::Load(FakeDcmiLibrary()));
  EXPECT_EQ(dcmi->version(), "24.1.rc2");
  EXPECT_TRUE(dcmi->missing_symbols().empty());
  ASSERT_OK_AND_ASSIGN(std::vector<AscendChip> chips, dcmi->ListChips());
  ASSERT_EQ(chips.size(), 8u);
  const AscendChip& c = chips[2];
  EXPECT_EQ(c.card_id, 2);
  EXPECT_EQ(c.device_id, 0);
  EXPECT_EQ(c.physical_id, 2);
  EXPECT_EQ(c.chip_type, "Ascend");
  EXPECT_EQ(c.chip_name, "910B3");
  EXPECT_EQ(c.aicore_count, 20u);
  ASSERT_TRUE(c.pci_address.has_value());
  EXPECT_EQ(c.pci_address->ToString(), "0000:43:00.0");
  EXPECT_EQ(c.pci_vendor_id, 0x19e5);
  EXPECT_EQ(c.pci_device_id, 0xd802);
  EXPECT_EQ(c.memory_bytes, 64 * kGiB);
  EXPECT_EQ(c.health, 0u);
  EXPECT_EQ(c.roce_ip, "192.168.100.103");
  EXPECT_EQ(chips[6].health, 3u);
}

TEST_F(DlopenDcmiTest, MapsLogicIdsToPhysicalIdsAndSkipsMcuUnits) {
  // A 310P Duo card: two chips whose logic ids differ from their physical
  // ids, and an MCU unit DCMI also counts in the card.
  UseMachine(R"({"cards": [{"cardId": 5, "chips": [
      {"logicId": 0, "physicalId": 2, "chipName": "310P3", "pciBusId": "0000:81:00.0",
       "pciDeviceId": "0xd500", "ddrMiB": 24576},
      {"logicId": 1, "physicalId": 3, "chipName": "310P3", "pciBusId": "0000:82:00.0",
       "pciDeviceId": "0xd500", "ddrMiB": 24576},
      {"type": "mcu", "logicId": 9}]}]})");
  ASSERT_OK_AND_ASSIGN(auto dcmi, DlopenDcmi::Load(FakeDcmiLibrary()));
  ASSERT_OK_AND_ASSIGN(std::vector<AscendChip> chips, dcmi->ListChips());
  ASSERT_EQ(chips.size(), 2u);
  EXPECT_EQ(chips[1].card_id, 5);
  EXPECT_EQ(chips[1].device_id, 1);
  EXPECT_EQ(chips[1].logic_id, 1);
  EXPECT_EQ(chips[1].physical_id, 3);
  // No HBM: the DDR size is the memory.
  EXPECT_EQ(chips[1].memory_bytes, 24 * kGiB);
  EXPECT_FALSE(chips[1].health.has_value());
  EXPECT_EQ(chips[1].roce_ip, "");
}

TEST_F(DlopenDcmiTest, AFailingOptionalQueryLeavesOnlyThatFieldEmpty) {
  UseMachine(R"({"cards": [{"cardId": 0, "chips": [
      {"chipName": "910B3", "pciBusId": "0000:03:00.0", "pciDeviceId": "0xd802", "hbmMiB": 65536,
       "health": 0, "roceIp": "10.0.0.1"}]}],
     "errors": [{"function": "dcmi_get_device_hbm_info", "return": -8009},
                {"function": "dcmi_get_device_ip", "return": -8255}]})");
  ASSERT_OK_AND_ASSIGN(auto dcmi, DlopenDcmi::Load(FakeDcmiLibrary()));
  ASSERT_OK_AND_ASSIGN(std::vector<AscendChip> chips, dcmi->ListChips());
  ASSERT_EQ(chips.size(), 1u);
  EXPECT_FALSE(chips[0].memory_bytes.has_value());
  EXPECT_EQ(chips[0].roce_ip, "");
  EXPECT_EQ(chips[0].health, 0u);
  EXPECT_EQ(chips[0].chip_name, "910B3");
}

TEST_F(DlopenDcmiTest, AFailingRequiredQueryFailsTheListWithTheMappedCode) {
  UseMachine(R"({"cards": [{"cardId": 0, "chips": [{"pciBusId": "0000:03:00.0"}]}],
     "errors": [{"function": "dcmi_get_device_pcie_info_v2", "return": -8008, "card": 0}]})");
  ASSERT_OK_AND_ASSIGN(auto dcmi, DlopenDcmi::Load(FakeDcmiLibrary()));
  EXPECT_THAT(dcmi->ListChips(),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("get pcie info of chip 0 of card 0: dcmi error -8008")));
}

TEST_F(DlopenDcmiTest, ImpossibleValuesFromTheLibraryAreInvalidArgument) {
  UseMachine(R"({"cards": [{"cardId": 0, "chips": [{"pciBusId": "0000:1ff:00.0"}]}]})");
  ASSERT_OK_AND_ASSIGN(auto dcmi, DlopenDcmi::Load(FakeDcmiLibrary()));
  EXPECT_THAT(dcmi->ListChips(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("impossible address")));
}

TEST_F(DlopenDcmiTest, InitFailureIsFailedPrecondition) {
  ScopedEnv env("TESSERA_FAKE_DCMI_CONFIG", std::nullopt);  // like a host without the driver
  EXPECT_THAT(DlopenDcmi::Load(FakeDcmiLibrary()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("initialize dcmi")));
}

TEST_F(DlopenDcmiTest, AMissingLibraryIsNotFound) {
  EXPECT_THAT(DlopenDcmi::Load("libdcmi-does-not-exist.so"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("Ascend driver")));
  EXPECT_THAT(DlopenDcmi::Load(dir_.Sub("libdcmi.so")), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(DlopenDcmiTest, ALibraryWithoutTheRequiredSymbolsIsRefused) {
  EXPECT_THAT(DlopenDcmi::Load(testing::BrokenDcmiLibrary()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("dcmi_get_card_num_list: not exported")));
}

TEST(DcmiStatusTest, MapsTheDocumentedCodes) {
  EXPECT_OK(DcmiStatus(0, "x"));
  EXPECT_THAT(DcmiStatus(-8001, "op"), StatusIs(absl::StatusCode::kInvalidArgument,
                                                "op: dcmi error -8001 (invalid parameter)"));
  EXPECT_THAT(DcmiStatus(-8002, "op"), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(DcmiStatus(-8006, "op"), StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(DcmiStatus(-8007, "op"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(DcmiStatus(-8020, "op"), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(DcmiStatus(-8255, "op"), StatusIs(absl::StatusCode::kUnimplemented));
  EXPECT_THAT(DcmiStatus(-8013, "op"), StatusIs(absl::StatusCode::kUnimplemented));
  EXPECT_THAT(DcmiStatus(-8005, "op"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(DcmiStatus(-1, "op"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("unknown error")));
}

}  // namespace
}  // namespace tessera::drivers::npu
