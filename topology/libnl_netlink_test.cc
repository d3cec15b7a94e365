// LibnlNetlink against the real kernel, inside throwaway network namespaces
// (root only). Fixtures are made and checked with iproute2, independently of
// the code under test.
#include "topology/libnl_netlink.h"

#include <condition_variable>
#include <mutex>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "base/metrics.h"
#include "test/matchers/status_matchers.h"
#include "test/netns/net_sandbox.h"
#include "topology/netns.h"

namespace tessera::topology {
namespace {

using ::tessera::testing::Ip;
using ::tessera::testing::IpAddrs;
using ::tessera::testing::IpLink;
using ::tessera::testing::NetnsProcess;
using ::tessera::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class LibnlNetlinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!tessera::testing::IsRoot()) GTEST_SKIP() << "needs root to create network namespaces";
    if (!tessera::testing::HaveProgram("ip") || !tessera::testing::HaveProgram("nsenter")) {
      GTEST_SKIP() << "needs iproute2 (ip) and nsenter";
    }
    ns_ = std::make_unique<NetnsProcess>();
    ASSERT_TRUE(ns_->ok()) << "unshare(CLONE_NEWNET) failed";
    ASSERT_OK_AND_ASSIGN(handle_, namespaces_.OpenProcess(ns_->pid()));
    ASSERT_OK_AND_ASSIGN(nl_, LibnlNetlink::CreateInNetns(handle_.fd(), &stats_));
  }

  void Sh(std::vector<std::string> args) {
    auto r = Ip(ns_->pid(), args);
    ASSERT_EQ(r.exit_code, 0) << "ip " << base::Join(args, " ") << ": " << r.err;
  }

  int IndexOf(const std::string& name) {
    auto l = IpLink(ns_->pid(), name);
    return l.has_value() ? l->value("ifindex", 0) : 0;
  }

  ProcNetworkNamespaces namespaces_;
  base::metrics::Registry registry_;
  NetlinkStats stats_{registry_};
  std::unique_ptr<NetnsProcess> ns_;
  NetnsHandle handle_;
  std::unique_ptr<LibnlNetlink> nl_;
};

TEST_F(LibnlNetlinkTest, ListsLinksWithKindMacMtuAndPeer) {
  Sh({"link", "add", "tva", "mtu", "1400", "type", "veth", "peer", "name", "tvb"});
  Sh({"link", "add", "tifb", "type", "ifb"});
  Sh({"link", "set", "tva", "up"});
  ASSERT_OK_AND_ASSIGN(std::vector<NetworkLink> links, nl_->ListLinks());
  ASSERT_EQ(links.size(), 4u);  // lo, tva, tvb, tifb
  EXPECT_EQ(links[0].name, "lo");
  EXPECT_TRUE(links[0].loopback);
  EXPECT_TRUE(
      std::is_sorted(links.begin(), links.end(),
                     [](const NetworkLink& a, const NetworkLink& b) { return a.index < b.index; }));

  const NetworkLink* tva = FindLinkByName(links, "tva");
  const NetworkLink* tvb = FindLinkByName(links, "tvb");
  const NetworkLink* tifb = FindLinkByName(links, "tifb");
  ASSERT_TRUE(tva && tvb && tifb);
  auto ip_tva = IpLink(ns_->pid(), "tva");
  ASSERT_TRUE(ip_tva.has_value());
  EXPECT_EQ(tva->index, ip_tva->value("ifindex", -1));
  EXPECT_EQ(tva->kind, "veth");
  EXPECT_EQ(tifb->kind, "ifb");
  EXPECT_EQ(tva->mtu, 1400u);
  EXPECT_EQ(tva->mac, ip_tva->value("address", ""));
  EXPECT_EQ(tva->max_mtu, ip_tva->value("max_mtu", 0u));
  EXPECT_EQ(tva->min_mtu, ip_tva->value("min_mtu", 0u));
  EXPECT_TRUE(tva->up);
  EXPECT_FALSE(tvb->up);
  // The peer is down, so tva has no carrier.
  EXPECT_FALSE(tva->lower_up);
  EXPECT_EQ(tva->oper_state, OperState::kLowerLayerDown);
  EXPECT_EQ(tva->parent_index, tvb->index);
  EXPECT_EQ(tvb->parent_index, tva->index);
  EXPECT_FALSE(tva->link_netnsid.has_value());
}

TEST_F(LibnlNetlinkTest, ListsAddressesAndDefaultRoutes) {
  Sh({"link", "add", "tva", "type", "veth", "peer", "name", "tvb"});
  Sh({"addr", "add", "10.66.0.1/24", "brd", "+", "dev", "tva"});
  Sh({"addr", "add", "fd66::1/64", "dev", "tva", "nodad"});
  Sh({"addr", "add", "10.66.1.1/16", "dev", "tvb"});
  Sh({"link", "set", "tva", "up"});
  Sh({"link", "set", "tvb", "up"});
  Sh({"route", "add", "default", "via", "10.66.0.254", "dev", "tva"});
  Sh({"-6", "route", "add", "default", "dev", "tvb"});
  const int tva = IndexOf("tva");
  const int tvb = IndexOf("tvb");

  ASSERT_OK_AND_ASSIGN(std::vector<Address> addrs, nl_->ListAddresses(tva));
  std::vector<std::string> texts;
  for (const Address& a : addrs) {
    EXPECT_EQ(a.link_index, tva);
    if (!a.prefix.IsLinkLocal()) texts.push_back(a.prefix.ToString());
  }
  EXPECT_THAT(texts, ElementsAre("10.66.0.1/24", "fd66::1/64"));
  EXPECT_EQ(addrs[0].broadcast, "10.66.0.255");
  EXPECT_EQ(addrs[0].scope, 0);

  ASSERT_OK_AND_ASSIGN(std::vector<Address> all, nl_->ListAddresses(Netlink::kAllLinks));
  EXPECT_TRUE(std::any_of(all.begin(), all.end(), [&](const Address& a) {
    return a.link_index == tvb && a.prefix.ToString() == "10.66.1.1/16" && a.broadcast.empty();
  }));

  EXPECT_THAT(nl_->DefaultRouteLinks(IpFamily::kIpv4),
              ::tessera::testing::IsOkAndHolds(ElementsAre(tva)));
  EXPECT_THAT(nl_->DefaultRouteLinks(IpFamily::kIpv6),
              ::tessera::testing::IsOkAndHolds(ElementsAre(tvb)));
  // A default route in another table is policy routing, not the host's.
  Sh({"route", "del", "default"});
  Sh({"route", "add", "default", "via", "10.66.1.254", "dev", "tvb", "table", "100"});
  EXPECT_THAT(nl_->DefaultRouteLinks(IpFamily::kIpv4), ::tessera::testing::IsOkAndHolds(IsEmpty()));
}

TEST_F(LibnlNetlinkTest, ChangesLinksAsIpShowsThem) {
  Sh({"link", "add", "tifb", "type", "ifb"});
  const int idx = IndexOf("tifb");
  ASSERT_OK(nl_->SetMtu(idx, 9000));
  ASSERT_OK(nl_->RenameLink(idx, "tren"));
  ASSERT_OK(nl_->SetUp(idx, true));
  ASSERT_OK(nl_->AddAddress(Address{
      .link_index = idx, .prefix = *ParseIpPrefix("10.67.0.2/24"), .broadcast = "10.67.0.255"}));
  ASSERT_OK(nl_->AddAddress(Address{.link_index = idx, .prefix = *ParseIpPrefix("fd67::2/64")}));
  auto l = IpLink(ns_->pid(), "tren");
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->value("mtu", 0), 9000);
  EXPECT_THAT(l->value("flags", std::vector<std::string>{}), ::testing::Contains("UP"));
  EXPECT_THAT(IpAddrs(ns_->pid(), "tren"), ElementsAre("10.67.0.2/24", "fd67::2/64"));

  ASSERT_OK(
      nl_->DeleteAddress(Address{.link_index = idx, .prefix = *ParseIpPrefix("10.67.0.2/24")}));
  EXPECT_THAT(IpAddrs(ns_->pid(), "tren"), ElementsAre("fd67::2/64"));
  ASSERT_OK(nl_->SetUp(idx, false));
  EXPECT_THAT(IpLink(ns_->pid(), "tren")->value("flags", std::vector<std::string>{}),
              ::testing::Not(::testing::Contains("UP")));
}

TEST_F(LibnlNetlinkTest, KernelErrorsKeepTheirMeaning) {
  Sh({"link", "add", "tva", "type", "veth", "peer", "name", "tvb"});
  Sh({"link", "set", "tva", "up"});
  const int idx = IndexOf("tva");
  EXPECT_THAT(nl_->SetMtu(idx, 70000), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(nl_->SetMtu(99999, 1500), StatusIs(absl::StatusCode::kNotFound));
  Address a{.link_index = idx, .prefix = *ParseIpPrefix("10.68.0.1/24")};
  ASSERT_OK(nl_->AddAddress(a));
  EXPECT_THAT(nl_->AddAddress(a), StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_OK(nl_->DeleteAddress(a));
  EXPECT_THAT(nl_->DeleteAddress(a), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK(nl_->SetUp(idx, false));
  EXPECT_THAT(nl_->RenameLink(idx, "tvb"), StatusIs(absl::StatusCode::kAlreadyExists));
  // The kernel's extended ack travels with the errno.
  NetnsProcess other;
  ASSERT_TRUE(other.ok());
  ASSERT_OK_AND_ASSIGN(NetnsHandle other_handle, namespaces_.OpenProcess(other.pid()));
  EXPECT_THAT(nl_->MoveLinkToNetns(1, other_handle, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("netns is immutable")));
}

TEST_F(LibnlNetlinkTest, MovesLinkToAnotherNamespaceRenamedAndBack) {
  NetnsProcess other;
  ASSERT_TRUE(other.ok());
  ASSERT_OK_AND_ASSIGN(NetnsHandle other_handle, namespaces_.OpenProcess(other.pid()));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Netlink> other_nl, namespaces_.Connect(other_handle));
  Sh({"link", "add", "tva", "type", "veth", "peer", "name", "tvb"});
  Sh({"addr", "add", "10.69.0.1/24", "dev", "tva"});
  const int idx = IndexOf("tva");

  ASSERT_OK(nl_->MoveLinkToNetns(idx, other_handle, "net1"));
  EXPECT_FALSE(IpLink(ns_->pid(), "tva").has_value());
  auto moved = IpLink(other.pid(), "net1");
  ASSERT_TRUE(moved.has_value());
  EXPECT_THAT(IpAddrs(other.pid(), "net1"), IsEmpty());  // the kernel flushed them
  ASSERT_OK_AND_ASSIGN(std::vector<NetworkLink> there, other_nl->ListLinks());
  const NetworkLink* l = FindLinkByName(there, "net1");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->kind, "veth");
  EXPECT_TRUE(l->link_netnsid.has_value());  // its peer stayed behind

  ASSERT_OK(other_nl->MoveLinkToNetns(l->index, handle_, "tva"));
  EXPECT_TRUE(IpLink(ns_->pid(), "tva").has_value());
  EXPECT_FALSE(IpLink(other.pid(), "net1").has_value());
}

TEST_F(LibnlNetlinkTest, StreamsLinkEvents) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LinkEventStream> stream, nl_->WatchLinks());
  Sh({"link", "add", "tev", "type", "ifb"});
  const int idx = IndexOf("tev");
  Sh({"link", "del", "tev"});

  // A watchdog ends the wait if the kernel never sends the events.
  std::stop_source stop;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::jthread watchdog([&] {
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return done; })) stop.request_stop();
  });
  bool saw_new = false, saw_del = false;
  while (!(saw_new && saw_del)) {
    absl::StatusOr<LinkEvent> e = stream->Next(stop.get_token());
    ASSERT_OK(e);
    if (e->index != idx) continue;
    EXPECT_EQ(e->name, "tev");
    if (e->type == LinkEventType::kNewLink) saw_new = true;
    if (e->type == LinkEventType::kDelLink) {
      EXPECT_TRUE(saw_new) << "dellink before newlink";
      saw_del = true;
    }
  }
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_all();
  EXPECT_GE(stats_.events_total.value(), 2);
}

TEST_F(LibnlNetlinkTest, StopEndsAnIdleStream) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LinkEventStream> stream, nl_->WatchLinks());
  absl::Status result;
  std::jthread reader([&](std::stop_token stop) { result = stream->Next(stop).status(); });
  reader.request_stop();
  reader.join();
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kCancelled));
}

TEST(LibnlNetlinkHostTest, CreateInOwnNamespaceListsLoopback) {
  // Opening rtnetlink needs no privileges; this also runs unprivileged.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LibnlNetlink> nl, LibnlNetlink::Create());
  ASSERT_OK_AND_ASSIGN(std::vector<NetworkLink> links, nl->ListLinks());
  const NetworkLink* lo = FindLinkByName(links, "lo");
  ASSERT_NE(lo, nullptr);
  EXPECT_TRUE(lo->loopback);
  EXPECT_EQ(lo->mac, "");  // all-zero hardware address means none
}

}  // namespace
}  // namespace tessera::topology
