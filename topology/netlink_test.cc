// The seam's helpers and the degraded-mode contract, on FakeNetlink.
#include "topology/netlink.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "base/metrics.h"
#include "test/fakes/topology/fake_netlink.h"
#include "test/matchers/status_matchers.h"

namespace tessera::topology {
namespace {

using ::tessera::testing::FakeNetlink;
using ::tessera::testing::StatusIs;

std::vector<NetworkLink> SampleLinks() {
  return {
      NetworkLink{.index = 1, .name = "lo", .loopback = true},
      NetworkLink{.index = 2, .name = "eth0", .mac = "02:fc:00:00:00:01"},
      NetworkLink{.index = 5, .name = "veth0", .kind = "veth", .mac = "aa:bb:cc:00:00:01"},
      NetworkLink{.index = 6,
                  .name = "veth1",
                  .kind = "veth",
                  .mac = "aa:bb:cc:00:00:02",
                  .permanent_mac = "0c:42:a1:00:00:09"},
  };
}

TEST(NetlinkLookupTest, FindsByNameIndexAndMac) {
  std::vector<NetworkLink> links = SampleLinks();
  ASSERT_NE(FindLinkByName(links, "veth0"), nullptr);
  EXPECT_EQ(FindLinkByName(links, "veth0")->index, 5);
  EXPECT_EQ(FindLinkByName(links, "veth9"), nullptr);
  EXPECT_EQ(FindLinkByIndex(links, 6)->name, "veth1");
  EXPECT_EQ(FindLinkByIndex(links, 7), nullptr);
  EXPECT_EQ(FindLinkByMac(links, "AA:BB:CC:00:00:01")->name, "veth0");
  // The permanent address finds a link whose current MAC was changed.
  EXPECT_EQ(FindLinkByMac(links, "0c:42:a1:00:00:09")->name, "veth1");
  EXPECT_EQ(FindLinkByMac(links, ""), nullptr);
}

TEST(NetlinkLookupTest, AmbiguousMacMatchesNothing) {
  std::vector<NetworkLink> links = SampleLinks();
  links.push_back(NetworkLink{.index = 7, .name = "clone", .mac = "aa:bb:cc:00:00:01"});
  EXPECT_EQ(FindLinkByMac(links, "aa:bb:cc:00:00:01"), nullptr);
}

TEST(NetlinkDegradedTest, WatchFailureMeansPollOnlyAndGaugeZero) {
  base::metrics::Registry registry;
  NetlinkStats stats(registry);
  stats.available.Set(1);
  FakeNetlink netlink;
  netlink.FailNext(FakeNetlink::Op::kWatchLinks,
                   absl::UnavailableError("open rtnetlink socket: Permission denied"));
  EXPECT_EQ(OpenLinkEventsOrDegrade(netlink, stats), nullptr);
  EXPECT_EQ(stats.available.value(), 0);
  EXPECT_THAT(registry.RenderPrometheus(), ::testing::HasSubstr("tessera_netlink_available 0"));
}

TEST(NetlinkDegradedTest, WorkingStreamDeliversEventsAndSetsGauge) {
  base::metrics::Registry registry;
  NetlinkStats stats(registry);
  FakeNetlink netlink;
  std::unique_ptr<LinkEventStream> stream = OpenLinkEventsOrDegrade(netlink, stats);
  ASSERT_NE(stream, nullptr);
  EXPECT_EQ(stats.available.value(), 1);
  netlink.PushEvent({LinkEventType::kNewLink, 5, "veth0"});
  netlink.PushEvent({LinkEventType::kOverflow, 0, ""});
  std::stop_source never;
  EXPECT_THAT(stream->Next(never.get_token()),
              ::tessera::testing::IsOkAndHolds(LinkEvent{LinkEventType::kNewLink, 5, "veth0"}));
  EXPECT_THAT(stream->Next(never.get_token()),
              ::tessera::testing::IsOkAndHolds(LinkEvent{LinkEventType::kOverflow, 0, ""}));
}

TEST(NetlinkDegradedTest, StopRequestEndsABlockedNext) {
  FakeNetlink netlink;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LinkEventStream> stream, netlink.WatchLinks());
  absl::Status result;
  std::jthread reader([&](std::stop_token stop) { result = stream->Next(stop).status(); });
  reader.request_stop();
  reader.join();
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kCancelled));
}

TEST(NetlinkNamesTest, EnumNames) {
  EXPECT_EQ(OperStateName(OperState::kLowerLayerDown), "lowerlayerdown");
  EXPECT_EQ(OperStateName(OperState::kUp), "up");
  EXPECT_EQ(LinkEventTypeName(LinkEventType::kDelLink), "dellink");
}

}  // namespace
}  // namespace tessera::topology
