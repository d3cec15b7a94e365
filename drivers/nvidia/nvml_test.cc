// Pure helpers of the NVML layer: names, versions, PCI bus ids, and the
// NVML-return-to-status table.
#include "drivers/nvidia/nvml.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "drivers/nvidia/internal/nvml_abi.h"
#include "drivers/nvidia/internal/nvml_status.h"
#include "test/matchers/status_matchers.h"

namespace tessera::drivers::nvidia {
namespace {

using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ParseNvmlBusIdTest, NormalizesNvmlForms) {
  struct Case {
    std::string_view in;
    std::string_view out;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"00000000:1B:00.0", "0000:1b:00.0"},   // nvmlPciInfo_t.busId
           {"0000:1B:00.0", "0000:1b:00.0"},       // busIdLegacy
           {"00000001:AF:00.0", "0001:af:00.0"},   // non-zero domain
           {"00010000:03:00.0", "10000:03:00.0"},  // VMD domain above 16 bits
           {std::string_view("00000000:44:00.0\0\0junk", 22), "0000:44:00.0"},  // char buffer
       }) {
    absl::StatusOr<base::PciAddress> got = ParseNvmlBusId(c.in);
    ASSERT_TRUE(got.ok()) << c.in << ": " << got.status();
    EXPECT_EQ(got->ToString(), c.out) << c.in;
  }
}

TEST(ParseNvmlBusIdTest, RejectsWhatIsNotABusId) {
  for (std::string_view bad : {"", "44:00.0", "00000000:1B:00", "GPU-1234", "000000000:1B:00.0",
                               "00000000:1B:20.0", "00000000:1B:00.8"}) {
    EXPECT_THAT(ParseNvmlBusId(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(ArchitectureTest, NamesRoundTrip) {
  for (Architecture a : {Architecture::kVolta, Architecture::kTuring, Architecture::kAmpere,
                         Architecture::kAda, Architecture::kHopper, Architecture::kBlackwell}) {
    EXPECT_EQ(ParseArchitecture(ArchitectureName(a)), a);
  }
  EXPECT_EQ(ArchitectureName(Architecture::kHopper), "Hopper");
  EXPECT_EQ(ParseArchitecture("ampere"), Architecture::kAmpere);
  EXPECT_EQ(ParseArchitecture("Lovelace"), std::nullopt);
}

TEST(ArchitectureTest, FromComputeCapability) {
  struct Case {
    ComputeCapability cc;
    Architecture want;
  };
  for (const Case& c : std::initializer_list<Case>{
           {{7, 0}, Architecture::kVolta},
           {{7, 2}, Architecture::kVolta},
           {{7, 5}, Architecture::kTuring},
           {{8, 0}, Architecture::kAmpere},
           {{8, 6}, Architecture::kAmpere},
           {{8, 7}, Architecture::kAmpere},
           {{8, 9}, Architecture::kAda},
           {{9, 0}, Architecture::kHopper},
           {{10, 0}, Architecture::kBlackwell},
           {{12, 0}, Architecture::kBlackwell},
           {{6, 0}, Architecture::kPascal},
           {{2, 1}, Architecture::kUnknown},
       }) {
    EXPECT_EQ(ArchitectureFromComputeCapability(c.cc), c.want) << c.cc.ToString();
  }
}

TEST(ComputeModeTest, NamesRoundTrip) {
  for (ComputeMode m :
       {ComputeMode::kDefault, ComputeMode::kExclusiveProcess, ComputeMode::kProhibited}) {
    EXPECT_EQ(ParseComputeMode(ComputeModeName(m)), m);
  }
  EXPECT_EQ(ParseComputeMode("Exclusive_Thread"), std::nullopt);
}

TEST(CudaVersionStringTest, DecodesNvmlEncoding) {
  EXPECT_EQ(CudaVersionString(12040), "12.4");
  EXPECT_EQ(CudaVersionString(13000), "13.0");  // an R580 driver
  EXPECT_EQ(CudaVersionString(11080), "11.8");
  EXPECT_EQ(CudaVersionString(0), "");
}

TEST(MigPlacementTest, Overlaps) {
  EXPECT_TRUE((MigPlacement{0, 4}).Overlaps({3, 1}));
  EXPECT_TRUE((MigPlacement{4, 4}).Overlaps({0, 8}));
  EXPECT_FALSE((MigPlacement{0, 4}).Overlaps({4, 4}));
  EXPECT_FALSE((MigPlacement{6, 2}).Overlaps({4, 2}));
}

TEST(NvmlStatusTest, CodesFollowTheHouseTable) {
  namespace abi = ::tessera::drivers::nvidia::abi;
  using absl::StatusCode;
  struct Case {
    int nvml;
    StatusCode code;
  };
  for (const Case& c : std::initializer_list<Case>{
           {abi::NVML_SUCCESS, StatusCode::kOk},
           {abi::NVML_ERROR_UNINITIALIZED, StatusCode::kInternal},
           {abi::NVML_ERROR_INVALID_ARGUMENT, StatusCode::kInvalidArgument},
           {abi::NVML_ERROR_NOT_SUPPORTED, StatusCode::kUnimplemented},
           {abi::NVML_ERROR_NO_PERMISSION, StatusCode::kPermissionDenied},
           {abi::NVML_ERROR_NOT_FOUND, StatusCode::kNotFound},
           {abi::NVML_ERROR_INSUFFICIENT_SIZE, StatusCode::kInternal},
           {abi::NVML_ERROR_DRIVER_NOT_LOADED, StatusCode::kFailedPrecondition},
           {abi::NVML_ERROR_TIMEOUT, StatusCode::kDeadlineExceeded},
           {abi::NVML_ERROR_GPU_IS_LOST, StatusCode::kUnavailable},
           {abi::NVML_ERROR_RESET_REQUIRED, StatusCode::kFailedPrecondition},
           {abi::NVML_ERROR_OPERATING_SYSTEM, StatusCode::kPermissionDenied},
           {abi::NVML_ERROR_LIB_RM_VERSION_MISMATCH, StatusCode::kFailedPrecondition},
           {abi::NVML_ERROR_IN_USE, StatusCode::kFailedPrecondition},
           {abi::NVML_ERROR_MEMORY, StatusCode::kResourceExhausted},
           {abi::NVML_ERROR_INSUFFICIENT_RESOURCES, StatusCode::kResourceExhausted},
           {abi::NVML_ERROR_ARGUMENT_VERSION_MISMATCH, StatusCode::kUnimplemented},
           {abi::NVML_ERROR_CORRUPTED_INFOROM, StatusCode::kDataLoss},
           {abi::NVML_ERROR_UNKNOWN, StatusCode::kUnknown},
           {12345, StatusCode::kUnknown},
       }) {
    EXPECT_EQ(internal::NvmlReturnToCode(c.nvml), c.code) << internal::NvmlReturnName(c.nvml);
  }
}

TEST(NvmlStatusTest, MessageNamesOperationAndNvmlWords) {
  EXPECT_THAT(internal::NvmlStatus(15, "get memory info of gpu 3", "GPU is lost"),
              StatusIs(absl::StatusCode::kUnavailable,
                       "get memory info of gpu 3: GPU is lost (nvml error 15)"));
  // Without the library's string, our own name for the code.
  EXPECT_THAT(internal::NvmlStatus(23, "create", ""),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("NVML_ERROR_INSUFFICIENT_RESOURCES")));
  EXPECT_TRUE(internal::NvmlStatus(0, "anything", "").ok());
}

}  // namespace
}  // namespace tessera::drivers::nvidia
