#include "agent/claims/select.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "test/matchers/status_matchers.h"

namespace tessera::agent {
namespace {

using ::tessera::testing::IsOk;
using ::tessera::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const SelectOptions kGpu{.driver = "gpu.tessera.dev", .pool = "node-1"};

AllocationResult AllocResult(std::string request, std::string device,
                             std::string driver = "gpu.tessera.dev", std::string pool = "node-1") {
  return {.request = std::move(request),
          .driver = std::move(driver),
          .pool = std::move(pool),
          .device = std::move(device)};
}

AllocationConfig ModeConfig(std::string source, std::string mode,
                            std::vector<std::string> requests = {},
                            std::string driver = "gpu.tessera.dev") {
  return {.source = std::move(source),
          .requests = std::move(requests),
          .driver = std::move(driver),
          .parameters = {{"kind", "FakeConfig"}, {"mode", std::move(mode)}}};
}

ResourceClaim AllocatedClaim(std::vector<AllocationResult> results,
                             std::vector<AllocationConfig> configs = {}) {
  return {.namespace_ = "team-a",
          .name = "train",
          .uid = "uid-1",
          .allocated = true,
          .results = std::move(results),
          .configs = std::move(configs)};
}

std::vector<std::string> Modes(const drivers::DeviceAllocation& d) {
  std::vector<std::string> out;
  for (const drivers::OpaqueConfig& c : d.configs) {
    out.push_back(c.source + ":" + c.parameters["mode"].get<std::string>());
  }
  return out;
}

TEST(SelectForDriverTest, KeepsOurResultsInClaimOrderWithBaseRequestNames) {
  ResourceClaim claim = AllocatedClaim(
      {AllocResult("gpus/large", "gpu-3"), AllocResult("nic", "mlx5-0", "rdma.tessera.dev"),
       AllocResult("gpus/large", "gpu-1"), AllocResult("other", "x-0", "gpu.example.com")});
  ASSERT_OK_AND_ASSIGN(drivers::ClaimPrepareRequest req, SelectForDriver(claim, kGpu));
  EXPECT_EQ(req.claim_uid, "uid-1");
  EXPECT_EQ(req.claim_namespace, "team-a");
  EXPECT_EQ(req.claim_name, "train");
  ASSERT_EQ(req.devices.size(), 2u);
  EXPECT_EQ(req.devices[0].device, "gpu-3");
  EXPECT_EQ(req.devices[0].request, "gpus");
  EXPECT_EQ(req.devices[1].device, "gpu-1");
  // Only drivers of our domain are peers.
  ASSERT_EQ(req.peers.size(), 1u);
  EXPECT_EQ(req.peers[0].driver, "rdma.tessera.dev");
  EXPECT_EQ(req.peers[0].device, "mlx5-0");
  EXPECT_EQ(req.peers[0].request, "nic");
}

TEST(SelectForDriverTest, AppliesClassConfigsBeforeClaimConfigs) {
  // The claim lists a FromClaim config first; FromClass must still come first.
  ResourceClaim claim =
      AllocatedClaim({AllocResult("gpu", "gpu-0")},
                     {ModeConfig("FromClaim", "claim-1"), ModeConfig("FromClass", "class-1"),
                      ModeConfig("FromClaim", "claim-2"), ModeConfig("FromClass", "class-2")});
  ASSERT_OK_AND_ASSIGN(drivers::ClaimPrepareRequest req, SelectForDriver(claim, kGpu));
  EXPECT_THAT(Modes(req.devices[0]), ElementsAre("FromClass:class-1", "FromClass:class-2",
                                                 "FromClaim:claim-1", "FromClaim:claim-2"));
}

TEST(SelectForDriverTest, MatchesConfigsToRequests) {
  ResourceClaim claim =
      AllocatedClaim({AllocResult("train/big", "gpu-0"), AllocResult("infer", "gpu-1")},
                     {ModeConfig("FromClaim", "all"), ModeConfig("FromClaim", "base", {"train"}),
                      ModeConfig("FromClaim", "sub", {"train/big"}),
                      ModeConfig("FromClaim", "other-sub", {"train/small"}),
                      ModeConfig("FromClaim", "infer-only", {"infer"}),
                      ModeConfig("FromClaim", "not-ours", {}, "rdma.tessera.dev")});
  ASSERT_OK_AND_ASSIGN(drivers::ClaimPrepareRequest req, SelectForDriver(claim, kGpu));
  EXPECT_THAT(Modes(req.devices[0]),
              ElementsAre("FromClaim:all", "FromClaim:base", "FromClaim:sub"));
  EXPECT_THAT(Modes(req.devices[1]), ElementsAre("FromClaim:all", "FromClaim:infer-only"));
}

TEST(SelectForDriverTest, EnforcesTheOpaqueParameterLimitOnOurConfigsOnly) {
  auto with_size = [](size_t bytes, std::string driver) {
    AllocationConfig c = ModeConfig("FromClaim", "", {}, std::move(driver));
    c.parameters["mode"] = "";
    c.parameters["mode"] = std::string(bytes - c.parameters.dump().size(), 'x');
    return c;
  };
  EXPECT_EQ(with_size(10240, "gpu.tessera.dev").parameters.dump().size(), 10240u);
  EXPECT_THAT(SelectForDriver(AllocatedClaim({AllocResult("gpu", "gpu-0")},
                                             {with_size(10240, "gpu.tessera.dev")}),
                              kGpu),
              IsOk());
  EXPECT_THAT(
      SelectForDriver(
          AllocatedClaim({AllocResult("gpu", "gpu-0")}, {with_size(10241, "gpu.tessera.dev")}),
          kGpu),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("status.allocation.devices.config[0].opaque.parameters: 10241 bytes, "
                         "more than the 10240 allowed")));
  // Another driver's oversized config is that driver's business.
  EXPECT_THAT(SelectForDriver(AllocatedClaim({AllocResult("gpu", "gpu-0")},
                                             {with_size(20000, "rdma.tessera.dev")}),
                              kGpu),
              IsOk());
}

TEST(SelectForDriverTest, RejectsMalformedInput) {
  AllocationConfig array_params = ModeConfig("FromClaim", "x");
  array_params.parameters = nlohmann::json::array({1, 2});
  EXPECT_THAT(SelectForDriver(AllocatedClaim({AllocResult("gpu", "gpu-0")},
                                             {ModeConfig("FromClass", "a"), array_params}),
                              kGpu),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("config[1].opaque.parameters: expected object, got array")));
  EXPECT_THAT(
      SelectForDriver(
          AllocatedClaim({AllocResult("gpu", "gpu-0")}, {ModeConfig("FromSomewhere", "a")}), kGpu),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("config[0].source")));
  EXPECT_THAT(
      SelectForDriver(AllocatedClaim({AllocResult("gpu", "gpu-0", "gpu.tessera.dev", "node-2")}),
                      kGpu),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("results[0].pool: \"node-2\" is not this node's pool \"node-1\"")));
  EXPECT_THAT(SelectForDriver(AllocatedClaim({AllocResult("gpu", "")}), kGpu),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("results[0].device")));
  EXPECT_THAT(SelectForDriver(
                  AllocatedClaim({AllocResult("gpu", "gpu-0"), AllocResult("gpu", "gpu-0")}), kGpu),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("allocated twice")));
  AllocationResult bad_share = AllocResult("gpu", "gpu-0");
  bad_share.share_id = "../../x";
  EXPECT_THAT(SelectForDriver(AllocatedClaim({bad_share}), kGpu),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shareID")));
}

TEST(SelectForDriverTest, TwoSharesOfOneDeviceAreDistinct) {
  AllocationResult a = AllocResult("gpu", "gpu-0");
  a.share_id = "3a9e1c04-5b6d-4e7f-8a90-b1c2d3e4f5a6";
  AllocationResult b = AllocResult("gpu", "gpu-0");
  b.share_id = "9f8e7d6c-5b6d-4e7f-8a90-b1c2d3e4f5a6";
  ASSERT_OK_AND_ASSIGN(drivers::ClaimPrepareRequest req,
                       SelectForDriver(AllocatedClaim({a, b}), kGpu));
  ASSERT_EQ(req.devices.size(), 2u);
  EXPECT_EQ(req.devices[1].share_id, b.share_id);
}

TEST(SelectForDriverTest, NoResultForUsIsFailedPrecondition) {
  EXPECT_THAT(
      SelectForDriver(AllocatedClaim({AllocResult("nic", "mlx5-0", "rdma.tessera.dev")}), kGpu),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("gpu.tessera.dev")));
  EXPECT_THAT(SelectForDriver(AllocatedClaim({}), kGpu),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(SelectForDriverTest, BaseRequestName) {
  EXPECT_EQ(BaseRequestName("gpu"), "gpu");
  EXPECT_EQ(BaseRequestName("gpu/small"), "gpu");
  EXPECT_THAT(BaseRequestName(""), IsEmpty());
}

}  // namespace
}  // namespace tessera::agent
