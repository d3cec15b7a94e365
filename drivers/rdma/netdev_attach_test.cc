// NetdevAttacher on FakeNetworkNamespaces: what reaches the container, what
// is refused with the link untouched, rollback, and restore in every place
// the link can be found.
#include "drivers/rdma/netdev_attach.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "base/filesystem.h"
#include "test/fakes/base/faulty_filesystem.h"
#include "test/fakes/base/temp_dir.h"
#include "test/fakes/drivers/rdma/fake_rdma_netlink.h"
#include "test/fakes/topology/fake_netlink.h"
#include "test/fakes/topology/ip_prefix.h"
#include "test/matchers/status_matchers.h"

namespace tessera::drivers::rdma {
namespace {

using ::tessera::testing::FakeNetlink;
using ::tessera::testing::FakeNetworkNamespaces;
using ::tessera::testing::FakeRdmaNetlink;
using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::Prefix;
using ::tessera::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using topology::Address;
using topology::IpFamily;
using topology::NetworkLink;

constexpr int kContainerPid = 4242;
constexpr int kNicIndex = 7;
constexpr char kNicMac[] = "0c:42:a1:00:00:01";

std::vector<std::string> AddressTexts(const std::vector<Address>& addrs) {
  std::vector<std::string> out;
  for (const Address& a : addrs) out.push_back(a.prefix.ToString());
  return out;
}

class NetdevAttachTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeNetlink& host = world_.host();
    host.AddLink(NetworkLink{.index = 1, .name = "lo", .up = true, .loopback = true, .mtu = 65536});
    host.AddLink(NetworkLink{
        .index = 2, .name = "eth0", .up = true, .mtu = 1500, .mac = "02:fc:00:00:00:01"});
    host.AddLink(NetworkLink{.index = 3,
                             .name = "br0",
                             .kind = "bridge",
                             .up = true,
                             .mtu = 1500,
                             .mac = "02:fc:00:00:00:03"});
    host.AddLink(NetworkLink{.index = 4,
                             .name = "eno2",
                             .up = true,
                             .mtu = 1500,
                             .mac = "02:fc:00:00:00:04",
                             .master_index = 3});
    host.AddLink(NetworkLink{.index = kNicIndex,
                             .name = "ens6f0",
                             .up = true,
                             .lower_up = true,
                             .mtu = 1500,
                             .min_mtu = 68,
                             .max_mtu = 9978,
                             .mac = kNicMac});
    host.SetDefaultRouteLinks(IpFamily::kIpv4, {2});
    host.AddAddressForTest({.link_index = 2, .prefix = Prefix("192.0.2.2/24")});
    host.AddAddressForTest(
        {.link_index = kNicIndex, .prefix = Prefix("10.9.0.5/24"), .broadcast = "10.9.0.255"});
    host.AddAddressForTest(
        {.link_index = kNicIndex, .prefix = Prefix("fe80::e42:a1ff:fe00:1/64"), .scope = 253});
    container_ = &world_.AddNamespace(kContainerPid);
    rdma_.AddDevice("mlx5_0");
    ASSERT_OK_AND_ASSIGN(topology::NetnsHandle self, world_.OpenCurrent());
    ASSERT_OK_AND_ASSIGN(attacher_, NetdevAttacher::Create(world_, std::move(self), fs_, &rdma_));
  }

  topology::NetnsHandle Target() { return *world_.OpenProcess(kContainerPid); }
  std::string StateFile() { return dir_.Sub("netns/claim-1-nic0.json"); }

  NetdevConfig Config() {
    return NetdevConfig{.host_interface = "ens6f0",
                        .container_interface = "net1",
                        .mtu = 9000,
                        .addresses = {Prefix("10.10.0.2/24"), Prefix("fd10::2/64")}};
  }

  // The host as it was set up: link, addresses, and no changes recorded.
  void ExpectHostUntouched() {
    std::optional<NetworkLink> nic = world_.host().link("ens6f0");
    ASSERT_TRUE(nic.has_value());
    EXPECT_EQ(nic->index, kNicIndex);
    EXPECT_EQ(nic->mtu, 1500u);
    EXPECT_TRUE(nic->up);
    EXPECT_THAT(AddressTexts(world_.host().addresses(kNicIndex)),
                ElementsAre("10.9.0.5/24", "fe80::e42:a1ff:fe00:1/64"));
    EXPECT_THAT(world_.host().changes(), IsEmpty());
    EXPECT_FALSE(container_->link("net1").has_value());
    EXPECT_THAT(container_->changes(), IsEmpty());
    EXPECT_FALSE(fs_.Exists(StateFile())) << "state file left behind";
  }

  FakeNetworkNamespaces world_;
  FakeNetlink* container_ = nullptr;
  FakeRdmaNetlink rdma_;
  tessera::testing::TempDir dir_;
  base::RealFilesystem fs_;
  std::unique_ptr<NetdevAttacher> attacher_;
};

TEST_F(NetdevAttachTest, MovesRenamesAndConfiguresTheLink) {
  ASSERT_OK_AND_ASSIGN(AttachRecord record,
                       attacher_->Attach(Config(), kContainerPid, Target(), StateFile()));

  EXPECT_FALSE(world_.host().link("ens6f0").has_value());
  std::optional<NetworkLink> net1 = container_->link("net1");
  ASSERT_TRUE(net1.has_value());
  EXPECT_EQ(net1->mac, kNicMac);
  EXPECT_EQ(net1->mtu, 9000u);
  EXPECT_TRUE(net1->up);
  std::vector<Address> addrs = container_->addresses(net1->index);
  EXPECT_THAT(AddressTexts(addrs), ElementsAre("10.10.0.2/24", "fd10::2/64"));
  EXPECT_EQ(addrs[0].broadcast, "10.10.0.255");  // as "ip addr add ... brd +"
  EXPECT_EQ(addrs[1].broadcast, "");

  EXPECT_EQ(record.original.name, "ens6f0");
  EXPECT_EQ(record.original.index, kNicIndex);
  EXPECT_EQ(record.original.mac, kNicMac);
  EXPECT_EQ(record.original.mtu, 1500u);
  EXPECT_TRUE(record.original.up);
  EXPECT_THAT(AddressTexts(record.original.addresses),
              ElementsAre("10.9.0.5/24", "fe80::e42:a1ff:fe00:1/64"));
  EXPECT_EQ(record.container_interface, "net1");
  EXPECT_EQ(record.pid, kContainerPid);
  EXPECT_EQ(record.netns, container_->id());
  EXPECT_FALSE(record.rdma_moved);
  // The same record is on disk for the agent's unprepare.
  EXPECT_THAT(ReadAttachRecord(fs_, StateFile()), IsOkAndHolds(std::optional(record)));
}

TEST_F(NetdevAttachTest, KeepsMtuWhenNotConfiguredAndWorksWithoutStateFile) {
  NetdevConfig config{.host_interface = "ens6f0", .container_interface = "rdma0"};
  ASSERT_OK(attacher_->Attach(config, kContainerPid, Target(), ""));
  std::optional<NetworkLink> l = container_->link("rdma0");
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->mtu, 1500u);
  EXPECT_TRUE(l->up);
  EXPECT_THAT(container_->addresses(l->index), IsEmpty());
}

TEST_F(NetdevAttachTest, RefusesUnknownLink) {
  NetdevConfig config = Config();
  config.host_interface = "ens9f9";
  EXPECT_THAT(attacher_->Attach(config, kContainerPid, Target(), StateFile()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no link named ens9f9")));
  ExpectHostUntouched();
}

TEST_F(NetdevAttachTest, RefusesLinkWithTheDefaultRoute) {
  world_.host().SetDefaultRouteLinks(IpFamily::kIpv6, {kNicIndex});
  EXPECT_THAT(attacher_->Attach(Config(), kContainerPid, Target(), StateFile()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("carries the host's ipv6 default route")));
  ExpectHostUntouched();
  NetdevConfig eth0{.host_interface = "eth0"};
  EXPECT_THAT(attacher_->Attach(eth0, kContainerPid, Target(), ""),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("ipv4 default route")));
}

TEST_F(NetdevAttachTest, RefusesEnslavedAndLoopbackLinks) {
  EXPECT_THAT(attacher_->Attach({.host_interface = "eno2"}, kContainerPid, Target(), ""),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("enslaved to br0")));
  EXPECT_THAT(attacher_->Attach({.host_interface = "lo"}, kContainerPid, Target(), ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("loopback")));
  ExpectHostUntouched();
}

TEST_F(NetdevAttachTest, RefusesMtuOutsideWhatTheLinkSupports) {
  NetdevConfig config = Config();
  config.mtu = 9979;  // max_mtu is 9978
  EXPECT_THAT(attacher_->Attach(config, kContainerPid, Target(), StateFile()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outside 68..9978")));
  config.mtu = 67;
  EXPECT_THAT(attacher_->Attach(config, kContainerPid, Target(), StateFile()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("mtu")));
  config.mtu = 1200;  // fine for IPv4, too small for the IPv6 address
  EXPECT_THAT(attacher_->Attach(config, kContainerPid, Target(), StateFile()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("IPv6 minimum")));
  ExpectHostUntouched();
}

TEST_F(NetdevAttachTest, UsesTheKernelMaximumWhenTheLinkReportsNone) {
  world_.host().AddLink(NetworkLink{.index = 20, .name = "ifb7", .kind = "ifb", .mtu = 1500});
  EXPECT_THAT(
      attacher_->Attach({.host_interface = "ifb7", .mtu = 65535}, kContainerPid, Target(), ""),
      IsOkAndHolds(::testing::Field(&AttachRecord::container_interface, "net1")));
  EXPECT_EQ(container_->link("net1")->mtu, 65535u);
}

TEST_F(NetdevAttachTest, RefusesAddressInUseOnAnotherHostLink) {
  NetdevConfig config = Config();
  config.addresses = {Prefix("192.0.2.2/24")};  // eth0's
  EXPECT_THAT(attacher_->Attach(config, kContainerPid, Target(), StateFile()),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       HasSubstr("192.0.2.2 is already in use on host link eth0")));
  ExpectHostUntouched();
}

TEST_F(NetdevAttachTest, AllowsTheLinksOwnAddress) {
  NetdevConfig config = Config();
  config.addresses = {Prefix("10.9.0.5/24")};  // moves with the link
  ASSERT_OK(attacher_->Attach(config, kContainerPid, Target(), StateFile()));
  EXPECT_THAT(AddressTexts(container_->addresses(container_->link("net1")->index)),
              ElementsAre("10.9.0.5/24"));
}

TEST_F(NetdevAttachTest, RefusesNameClashAndAddressClashInTheTarget) {
  int idx = container_->AddLink(NetworkLink{.name = "net1", .kind = "veth"});
  EXPECT_THAT(attacher_->Attach(Config(), kContainerPid, Target(), StateFile()),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       HasSubstr("target namespace already has a link named net1")));
  container_->RemoveLink(idx);
  int eth = container_->AddLink(NetworkLink{.name = "eth0", .kind = "veth"});
  container_->AddAddressForTest({.link_index = eth, .prefix = Prefix("10.10.0.2/16")});
  EXPECT_THAT(
      attacher_->Attach(Config(), kContainerPid, Target(), StateFile()),
      StatusIs(absl::StatusCode::kAlreadyExists,
               HasSubstr("10.10.0.2 is already in use in the target namespace on link eth0")));
  ExpectHostUntouched();
}

TEST_F(NetdevAttachTest, RefusesTheHostNamespaceAsTarget) {
  ASSERT_OK_AND_ASSIGN(topology::NetnsHandle self, world_.OpenCurrent());
  EXPECT_THAT(attacher_->Attach(Config(), 1, self, StateFile()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("hostNetwork")));
  ExpectHostUntouched();
}

TEST_F(NetdevAttachTest, RefusesBadConfigBeforeLookingAtTheHost) {
  world_.host().FailNext(FakeNetlink::Op::kListLinks, absl::UnavailableError("must not be called"));
  NetdevConfig config = Config();
  config.container_interface = "net/1";
  EXPECT_THAT(attacher_->Attach(config, kContainerPid, Target(), StateFile()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("containerInterface")));
}

TEST_F(NetdevAttachTest, StateFileFailureChangesNothing) {
  tessera::testing::FaultyFilesystem faulty(fs_);
  faulty.set_injector([](std::string_view op, const std::string&) {
    return op == "write" ? absl::ResourceExhaustedError("write: No space left on device")
                         : absl::OkStatus();
  });
  ASSERT_OK_AND_ASSIGN(topology::NetnsHandle self, world_.OpenCurrent());
  ASSERT_OK_AND_ASSIGN(auto attacher, NetdevAttacher::Create(world_, std::move(self), faulty));
  EXPECT_THAT(
      attacher->Attach(Config(), kContainerPid, Target(), StateFile()),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("record original settings")));
  ExpectHostUntouched();
}

TEST_F(NetdevAttachTest, FailureAfterTheMoveRollsBack) {
  container_->FailNext(FakeNetlink::Op::kAddAddress,
                       absl::PermissionDeniedError("IPv6 is disabled on this device"));
  absl::StatusOr<AttachRecord> r =
      attacher_->Attach(Config(), kContainerPid, Target(), StateFile());
  EXPECT_THAT(r,
              StatusIs(absl::StatusCode::kPermissionDenied,
                       ::testing::AllOf(HasSubstr("IPv6 is disabled"), HasSubstr("rolled back"))));
  std::optional<NetworkLink> nic = world_.host().link("ens6f0");
  ASSERT_TRUE(nic.has_value());
  EXPECT_EQ(nic->mtu, 1500u);
  EXPECT_TRUE(nic->up);
  // The kernel flushed the addresses on the moves; the global one came back,
  // the IPv6 link-local one is the kernel's to regenerate.
  EXPECT_THAT(AddressTexts(world_.host().addresses(nic->index)), ElementsAre("10.9.0.5/24"));
  EXPECT_EQ(world_.host().addresses(nic->index)[0].broadcast, "10.9.0.255");
  EXPECT_FALSE(container_->link("net1").has_value());
  EXPECT_FALSE(fs_.Exists(StateFile()));
}

TEST_F(NetdevAttachTest, FailedRollbackKeepsTheRecordForALaterRestore) {
  container_->FailNext(FakeNetlink::Op::kSetUp, absl::InternalError("boom"));
  container_->FailNext(FakeNetlink::Op::kMove, absl::UnavailableError("netlink went away"));
  EXPECT_THAT(attacher_->Attach(Config(), kContainerPid, Target(), StateFile()),
              StatusIs(absl::StatusCode::kInternal,
                       ::testing::AllOf(HasSubstr("rollback failed"), HasSubstr(StateFile()))));
  EXPECT_TRUE(container_->link("net1").has_value());
  ASSERT_TRUE(fs_.Exists(StateFile()));

  EXPECT_THAT(attacher_->RestoreFromFile(StateFile()), IsOkAndHolds(RestoreOutcome::kRestored));
  std::optional<NetworkLink> nic = world_.host().link("ens6f0");
  ASSERT_TRUE(nic.has_value());
  EXPECT_EQ(nic->mtu, 1500u);
  EXPECT_TRUE(nic->up);
  EXPECT_FALSE(fs_.Exists(StateFile()));
}

TEST_F(NetdevAttachTest, AttachIsIdempotentForTheSameContainer) {
  ASSERT_OK_AND_ASSIGN(AttachRecord first,
                       attacher_->Attach(Config(), kContainerPid, Target(), StateFile()));
  size_t changes = container_->changes().size();
  EXPECT_THAT(attacher_->Attach(Config(), kContainerPid, Target(), StateFile()),
              IsOkAndHolds(first));
  EXPECT_EQ(container_->changes().size(), changes);
  // Without the record there is no way to tell: the link is simply not on the host.
  EXPECT_THAT(attacher_->Attach(Config(), kContainerPid, Target(), ""),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(NetdevAttachTest, RestoresFromALiveContainer) {
  ASSERT_OK(attacher_->Attach(Config(), kContainerPid, Target(), StateFile()));
  EXPECT_THAT(attacher_->RestoreFromFile(StateFile()), IsOkAndHolds(RestoreOutcome::kRestored));
  std::optional<NetworkLink> nic = world_.host().link("ens6f0");
  ASSERT_TRUE(nic.has_value());
  EXPECT_EQ(nic->mac, kNicMac);
  EXPECT_EQ(nic->mtu, 1500u);
  EXPECT_TRUE(nic->up);
  EXPECT_THAT(AddressTexts(world_.host().addresses(nic->index)), ElementsAre("10.9.0.5/24"));
  EXPECT_FALSE(container_->link("net1").has_value());
  EXPECT_FALSE(fs_.Exists(StateFile()));
  // Idempotent: the record is gone, and so is the work.
  EXPECT_THAT(attacher_->RestoreFromFile(StateFile()),
              IsOkAndHolds(RestoreOutcome::kAlreadyRestored));
}

TEST_F(NetdevAttachTest, RestoreOfALinkAlreadyBackChangesNothing) {
  ASSERT_OK_AND_ASSIGN(AttachRecord record,
                       attacher_->Attach(Config(), kContainerPid, Target(), StateFile()));
  ASSERT_THAT(attacher_->Restore({.record = record}), IsOkAndHolds(RestoreOutcome::kRestored));
  size_t changes = world_.host().changes().size();
  EXPECT_THAT(attacher_->Restore({.record = record}),
              IsOkAndHolds(RestoreOutcome::kAlreadyRestored));
  EXPECT_EQ(world_.host().changes().size(), changes);
}

TEST_F(NetdevAttachTest, RestoreIgnoresAReusedPid) {
  ASSERT_OK_AND_ASSIGN(AttachRecord record,
                       attacher_->Attach(Config(), kContainerPid, Target(), StateFile()));
  record.netns.inode += 1000;  // the recorded pid now lives in another namespace
  EXPECT_THAT(attacher_->Restore({.record = record}),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("retry")));
  EXPECT_TRUE(container_->link("net1").has_value());
  // An explicit pid or namespace path is trusted.
  EXPECT_THAT(attacher_->Restore({.record = record, .netns_path = "/proc/4242/ns/net"}),
              IsOkAndHolds(RestoreOutcome::kRestored));
}

TEST_F(NetdevAttachTest, PhysicalNicReturnedByTheKernelIsRenamedAndRestored) {
  ASSERT_OK(attacher_->Attach(Config(), kContainerPid, Target(), StateFile()));
  // Before the dying namespace is cleaned up the NIC is nowhere: retry later.
  world_.KillNamespace(999);  // unrelated
  ASSERT_OK_AND_ASSIGN(std::optional<AttachRecord> record, ReadAttachRecord(fs_, StateFile()));
  record->pid = 0;
  EXPECT_THAT(attacher_->Restore({.record = *record}),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("retry")));
  // The pod's namespace dies; the kernel hands the NIC back as "net1", down.
  world_.KillNamespace(kContainerPid);
  ASSERT_TRUE(world_.host().link("net1").has_value());
  EXPECT_THAT(attacher_->RestoreFromFile(StateFile()), IsOkAndHolds(RestoreOutcome::kRestored));
  std::optional<NetworkLink> nic = world_.host().link("ens6f0");
  ASSERT_TRUE(nic.has_value());
  EXPECT_EQ(nic->mtu, 1500u);
  EXPECT_TRUE(nic->up);
  EXPECT_THAT(AddressTexts(world_.host().addresses(nic->index)), ElementsAre("10.9.0.5/24"));
  EXPECT_FALSE(world_.host().link("net1").has_value());
}

TEST_F(NetdevAttachTest, VirtualLinkThatDiedWithItsNamespaceIsGone) {
  world_.host().AddLink(NetworkLink{
      .index = 30, .name = "veth9", .kind = "veth", .mtu = 1500, .mac = "aa:00:00:00:00:09"});
  ASSERT_OK(attacher_->Attach({.host_interface = "veth9"}, kContainerPid, Target(), StateFile()));
  world_.KillNamespace(kContainerPid);
  EXPECT_THAT(attacher_->RestoreFromFile(StateFile()), IsOkAndHolds(RestoreOutcome::kLinkGone));
  EXPECT_FALSE(fs_.Exists(StateFile()));
}

TEST_F(NetdevAttachTest, RestoreRefusesToClobberANewLinkWithTheOriginalName) {
  ASSERT_OK(attacher_->Attach(Config(), kContainerPid, Target(), StateFile()));
  world_.host().AddLink(NetworkLink{.name = "ens6f0", .kind = "veth", .mac = "aa:00:00:00:00:10"});
  EXPECT_THAT(attacher_->RestoreFromFile(StateFile(), kContainerPid),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("the host has another link named ens6f0")));
  EXPECT_TRUE(container_->link("net1").has_value());
  EXPECT_TRUE(fs_.Exists(StateFile()));
}

TEST_F(NetdevAttachTest, CheckAttachableRunsTheHostChecksOnly) {
  EXPECT_OK(attacher_->CheckAttachable(Config()));
  EXPECT_THAT(attacher_->CheckAttachable({.host_interface = "eth0"}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(attacher_->CheckAttachable({.host_interface = "nope"}),
              StatusIs(absl::StatusCode::kNotFound));
  ExpectHostUntouched();
}

// --- RDMA exclusive mode.

TEST_F(NetdevAttachTest, MovesTheRdmaDeviceInExclusiveMode) {
  rdma_.set_mode(RdmaNetnsMode::kExclusive);
  NetdevConfig config = Config();
  config.rdma_device = "mlx5_0";
  ASSERT_OK_AND_ASSIGN(AttachRecord record,
                       attacher_->Attach(config, kContainerPid, Target(), StateFile()));
  EXPECT_TRUE(record.rdma_moved);
  EXPECT_THAT(rdma_.moves(), ElementsAre("mlx5_0 -> " + container_->id().ToString()));
  // Restore waits for the kernel to hand the device back.
  EXPECT_THAT(attacher_->RestoreFromFile(StateFile(), kContainerPid),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("mlx5_0 is not back")));
  rdma_.ReturnDevice("mlx5_0");
  EXPECT_THAT(attacher_->RestoreFromFile(StateFile(), kContainerPid),
              IsOkAndHolds(RestoreOutcome::kAlreadyRestored));
  EXPECT_FALSE(fs_.Exists(StateFile()));
}

TEST_F(NetdevAttachTest, LeavesTheRdmaDeviceInSharedMode) {
  NetdevConfig config = Config();
  config.rdma_device = "mlx5_0";
  ASSERT_OK_AND_ASSIGN(AttachRecord record,
                       attacher_->Attach(config, kContainerPid, Target(), StateFile()));
  EXPECT_FALSE(record.rdma_moved);
  EXPECT_THAT(rdma_.moves(), IsEmpty());
}

TEST_F(NetdevAttachTest, RdmaProblemsRefuseOrRollBack) {
  rdma_.set_mode(RdmaNetnsMode::kExclusive);
  NetdevConfig config = Config();
  config.rdma_device = "mlx5_9";
  EXPECT_THAT(attacher_->Attach(config, kContainerPid, Target(), StateFile()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no rdma device named mlx5_9")));
  ExpectHostUntouched();

  config.rdma_device = "mlx5_0";
  rdma_.FailNext(FakeRdmaNetlink::Op::kMove, absl::FailedPreconditionError("device busy"));
  EXPECT_THAT(attacher_->Attach(config, kContainerPid, Target(), StateFile()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("rolled back")));
  EXPECT_TRUE(world_.host().link("ens6f0").has_value());
  EXPECT_FALSE(container_->link("net1").has_value());

  ASSERT_OK_AND_ASSIGN(topology::NetnsHandle self, world_.OpenCurrent());
  ASSERT_OK_AND_ASSIGN(auto no_rdma, NetdevAttacher::Create(world_, std::move(self), fs_));
  EXPECT_THAT(
      no_rdma->Attach(config, kContainerPid, Target(), StateFile()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("RDMA netlink is not available")));
}

// --- Config validation and the record format.

TEST(NetdevConfigTest, ValidatesNamesMtuAndAddresses) {
  NetdevConfig good{.host_interface = "ens6f0np0",
                    .mtu = 1500,
                    .addresses = {Prefix("10.0.0.2/24"), Prefix("fd00::2/64")}};
  EXPECT_OK(ValidateNetdevConfig(good));
  struct Bad {
    std::function<void(NetdevConfig&)> change;
    std::string why;
  };
  for (const Bad& b : std::vector<Bad>{
           {[](NetdevConfig& c) { c.host_interface = ""; }, "hostInterface: required"},
           {[](NetdevConfig& c) { c.host_interface = "a-name-of-16-chr"; }, "longer than 15"},
           {[](NetdevConfig& c) { c.container_interface = ".."; }, "not allowed"},
           {[](NetdevConfig& c) { c.container_interface = "net 1"; }, "containerInterface"},
           {[](NetdevConfig& c) { c.container_interface = "net%d"; }, "containerInterface"},
           {[](NetdevConfig& c) { c.container_interface = "a:b"; }, "containerInterface"},
           {[](NetdevConfig& c) { c.mtu = 67; }, "outside 68..65535"},
           {[](NetdevConfig& c) { c.mtu = 65536; }, "outside 68..65535"},
           {[](NetdevConfig& c) { c.mtu = 1279; }, "IPv6 minimum"},
           {[](NetdevConfig& c) { c.addresses.push_back(Prefix("10.0.0.2/16")); }, "listed twice"},
           {[](NetdevConfig& c) { c.addresses.push_back(Prefix("127.0.0.5/8")); }, "addresses[2]"},
           {[](NetdevConfig& c) { c.rdma_device = "mlx5/0"; }, "rdmaDevice"},
       }) {
    NetdevConfig c = good;
    b.change(c);
    EXPECT_THAT(ValidateNetdevConfig(c),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(b.why)))
        << b.why;
  }
}

TEST(AttachRecordTest, RoundTripsThroughJson) {
  AttachRecord r{
      .original = {.name = "ens6f0",
                   .index = 7,
                   .mac = kNicMac,
                   .kind = "",
                   .mtu = 1500,
                   .up = true,
                   .addresses = {{.link_index = 7,
                                  .prefix = Prefix("10.9.0.5/24"),
                                  .broadcast = "10.9.0.255"},
                                 {.link_index = 7, .prefix = Prefix("fd09::5/64"), .scope = 0}}},
      .container_interface = "net1",
      .pid = 4242,
      .netns = {.device = 4, .inode = 4026532179},
      .rdma_device = "mlx5_0",
      .rdma_moved = true};
  nlohmann::json j = AttachRecordToJson(r);
  EXPECT_EQ(j["apiVersion"], "tessera.dev/v1");
  EXPECT_EQ(j["kind"], "NetdevAttachRecord");
  EXPECT_EQ(j["original"]["addresses"][0]["address"], "10.9.0.5/24");
  EXPECT_THAT(AttachRecordFromJson(j, "record"), IsOkAndHolds(r));
}

TEST(AttachRecordTest, RejectsBadDocumentsNamingTheField) {
  nlohmann::json good =
      AttachRecordToJson({.original = {.name = "eth1", .index = 3, .mtu = 1500, .up = false},
                          .container_interface = "net1"});
  ASSERT_OK(AttachRecordFromJson(good, "f"));
  struct Bad {
    std::function<void(nlohmann::json&)> change;
    std::string why;
  };
  for (const Bad& b : std::vector<Bad>{
           {[](nlohmann::json& j) { j["kind"] = "Other"; }, "expected tessera.dev/v1"},
           {[](nlohmann::json& j) { j["original"].erase("name"); }, "f.original.name: required"},
           {[](nlohmann::json& j) { j["original"]["mtu"] = "1500"; },
            "f.original.mtu: expected integer"},
           {[](nlohmann::json& j) { j["original"]["mtu"] = -1; }, "f.original.mtu: out of range"},
           {[](nlohmann::json& j) { j["original"].erase("up"); }, "f.original.up: required"},
           {[](nlohmann::json& j) {
              j["original"]["addresses"] = {{{"address", "x/1"}}};
            },
            "f.original.addresses[0].address"},
           {[](nlohmann::json& j) { j["containerInterface"] = "a/b"; }, "f.containerInterface"},
           {[](nlohmann::json& j) {
              j["netns"] = {{"device", 1}};
            },
            "f.netns.inode: required"},
           {[](nlohmann::json& j) { j["rdmaMoved"] = true; }, "f.rdmaDevice: required"},
       }) {
    nlohmann::json j = good;
    b.change(j);
    EXPECT_THAT(AttachRecordFromJson(j, "f"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(b.why)))
        << b.why;
  }
}

TEST(AttachRecordTest, ReadsFromFile) {
  tessera::testing::TempDir dir;
  base::RealFilesystem fs;
  EXPECT_THAT(ReadAttachRecord(fs, dir.Sub("absent.json")), IsOkAndHolds(std::nullopt));
  ASSERT_OK(fs.WriteFileAtomic(dir.Sub("bad.json"), "{not json", {}));
  EXPECT_THAT(ReadAttachRecord(fs, dir.Sub("bad.json")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad.json")));
}

}  // namespace
}  // namespace tessera::drivers::rdma
