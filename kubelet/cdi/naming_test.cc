#include "kubelet/cdi/naming.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "kubelet/cdi/spec.h"
#include "test/matchers/status_matchers.h"

namespace tessera::kubelet::cdi {
namespace {

using ::tessera::testing::IsOk;
using ::tessera::testing::StatusIs;

constexpr std::string_view kUid = "7f1c0a52-3d4e-4b6f-9a81-2c3d4e5f6a7b";

TEST(CdiNamingTest, FollowsTheArchitectureNames) {
  EXPECT_EQ(ClaimKind("gpu.tessera.dev"), "k8s.gpu.tessera.dev/claim");
  EXPECT_EQ(ClaimSpecFileName("gpu.tessera.dev", kUid),
            "k8s.gpu.tessera.dev-claim_7f1c0a52-3d4e-4b6f-9a81-2c3d4e5f6a7b.json");
  EXPECT_EQ(ClaimDeviceName(kUid, "gpu-0", ""), "7f1c0a52-3d4e-4b6f-9a81-2c3d4e5f6a7b-gpu-0");
  EXPECT_EQ(ClaimDeviceName(kUid, "gpu-0", "3a9e1c04-5b6d-4e7f-8a90-b1c2d3e4f5a6"),
            "7f1c0a52-3d4e-4b6f-9a81-2c3d4e5f6a7b-gpu-0-3a9e1c04");
  EXPECT_EQ(QualifiedName(ClaimKind("rdma.tessera.dev"), "u-mlx5-0"),
            "k8s.rdma.tessera.dev/claim=u-mlx5-0");
}

TEST(CdiNamingTest, GeneratedNamesAreValidCdiNames) {
  EXPECT_THAT(ValidateKind(ClaimKind("gpu.tessera.dev")), IsOk());
  EXPECT_THAT(ValidateKind(ClaimKind("npu.example.com")), IsOk());
  EXPECT_THAT(ValidateDeviceName(ClaimDeviceName(kUid, "gpu-0", "")), IsOk());
  EXPECT_THAT(ValidateDeviceName(ClaimDeviceName(kUid, "mig-1g-10gb-0", "abcdef0123456789")),
              IsOk());
}

TEST(CdiNamingTest, ExtractsUidOnlyFromOwnSpecFiles) {
  const std::string name = ClaimSpecFileName("gpu.tessera.dev", kUid);
  EXPECT_EQ(ClaimUidFromSpecFileName("gpu.tessera.dev", name), std::string(kUid));
  // Another driver of ours, a temp file of an atomic write, a static spec.
  EXPECT_EQ(ClaimUidFromSpecFileName("rdma.tessera.dev", name), std::nullopt);
  EXPECT_EQ(ClaimUidFromSpecFileName("gpu.tessera.dev", "." + name + ".tmp-12-ab"), std::nullopt);
  EXPECT_EQ(ClaimUidFromSpecFileName("gpu.tessera.dev", "nvidia.yaml"), std::nullopt);
  EXPECT_EQ(ClaimUidFromSpecFileName("gpu.tessera.dev", "k8s.gpu.tessera.dev-claim_.json"),
            std::nullopt);
  EXPECT_EQ(ClaimUidFromSpecFileName("gpu.tessera.dev", "k8s.gpu.tessera.dev-claim_a.b.json"),
            std::nullopt);
  // "gpu.tessera.dev" must not claim the files of "gpu.tessera.dev.other".
  EXPECT_EQ(
      ClaimUidFromSpecFileName("gpu.tessera.dev", ClaimSpecFileName("gpu.tessera.dev.other", kUid)),
      std::nullopt);
}

TEST(CdiNamingTest, ValidatesClaimUids) {
  EXPECT_THAT(ValidateClaimUid(kUid), IsOk());
  EXPECT_THAT(ValidateClaimUid("abc"), IsOk());
  EXPECT_THAT(ValidateClaimUid(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateClaimUid("../../etc/passwd"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateClaimUid("a/b"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateClaimUid("-abc"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateClaimUid("abc_def"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateClaimUid(std::string(129, 'a')),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace tessera::kubelet::cdi
