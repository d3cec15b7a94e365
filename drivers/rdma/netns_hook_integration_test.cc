// tessera-netns-hook as a real process against the real kernel (root only).
// Two throwaway namespaces stand in for the host and the container: the hook
// runs inside the "host" one (nsenter) and gets a synthetic OCI state whose
// pid is the "container" process. Results are checked with iproute2.
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "base/filesystem.h"
#include "drivers/rdma/netdev_attach.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"
#include "test/netns/net_sandbox.h"
#include "topology/netns.h"

namespace tessera::drivers::rdma {
namespace {

using ::tessera::testing::CmdResult;
using ::tessera::testing::InNetns;
using ::tessera::testing::Ip;
using ::tessera::testing::IpAddrs;
using ::tessera::testing::IpLink;
using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::LinkFingerprint;
using ::tessera::testing::NetnsProcess;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class NetnsHookProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!tessera::testing::IsRoot()) GTEST_SKIP() << "needs root to create network namespaces";
    if (!tessera::testing::HaveProgram("ip") || !tessera::testing::HaveProgram("nsenter")) {
      GTEST_SKIP() << "needs iproute2 (ip) and nsenter";
    }
    host_ = std::make_unique<NetnsProcess>();
    ctr_ = std::make_unique<NetnsProcess>();
    ASSERT_TRUE(host_->ok() && ctr_->ok());
    HostIp({"link", "add", "tsa", "type", "veth", "peer", "name", "tsb"});
    HostIp({"addr", "add", "10.80.0.1/24", "brd", "+", "dev", "tsa"});
    HostIp({"addr", "add", "10.80.0.9/24", "dev", "tsb"});
    HostIp({"link", "set", "tsa", "up"});
    HostIp({"link", "set", "tsb", "up"});
    HostIp({"link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"});
    HostIp({"addr", "add", "192.0.2.2/24", "dev", "eth0"});
    HostIp({"link", "set", "eth0", "up"});
    HostIp({"link", "set", "eth0p", "up"});
    HostIp({"route", "add", "default", "via", "192.0.2.1", "dev", "eth0"});
    before_ = LinkFingerprint(host_->pid(), "tsa");
  }

  void HostIp(std::vector<std::string> args) {
    CmdResult r = Ip(host_->pid(), args);
    ASSERT_EQ(r.exit_code, 0) << "ip " << base::Join(args, " ") << ": " << r.err;
  }

  std::string State(int pid) {
    return base::StrCat(R"({"ociVersion":"1.0.2-dev","id":"c0ffee","status":"creating","pid":)",
                        pid, R"(,"bundle":"/tmp/bundle"})");
  }

  // Runs the hook binary inside the stand-in host namespace.
  CmdResult Hook(std::vector<std::string> args, std::string stdin_data) {
    std::vector<std::string> argv = {TESSERA_NETNS_HOOK_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    return tessera::testing::RunCommand(InNetns(host_->pid(), std::move(argv)),
                                        std::move(stdin_data));
  }
  CmdResult Attach(std::vector<std::string> flags) {
    std::vector<std::string> args = {"attach", "--state-file=" + StateFile()};
    args.insert(args.end(), flags.begin(), flags.end());
    return Hook(args, State(ctr_->pid()));
  }

  std::string StateFile() { return dir_.Sub("state/nic0.json"); }

  // The refusal contract: a clear error, the link as it was, nothing inside.
  void ExpectRefusedUntouched(const CmdResult& r, int exit_code, std::string_view why) {
    EXPECT_EQ(r.exit_code, exit_code) << r.err;
    EXPECT_THAT(r.err, HasSubstr(why));
    EXPECT_EQ(LinkFingerprint(host_->pid(), "tsa"), before_);
    EXPECT_FALSE(IpLink(ctr_->pid(), "net1").has_value());
    EXPECT_FALSE(fs_.Exists(StateFile()));
  }

  std::unique_ptr<NetdevAttacher> HostAttacher() {
    auto host = namespaces_.OpenProcess(host_->pid());
    EXPECT_OK(host.status());
    auto a = NetdevAttacher::Create(namespaces_, std::move(host).value(), fs_);
    EXPECT_OK(a.status());
    return a.ok() ? std::move(a).value() : nullptr;
  }

  std::unique_ptr<NetnsProcess> host_;
  std::unique_ptr<NetnsProcess> ctr_;
  tessera::testing::TempDir dir_;
  base::RealFilesystem fs_;
  topology::ProcNetworkNamespaces namespaces_;
  std::string before_;
};

TEST_F(NetnsHookProcessTest, AttachesThenRestoreBringsItBackAsItWas) {
  CmdResult r = Attach(
      {"--host-interface=tsa", "--mtu=1400", "--address=10.81.0.2/24", "--address=fd81::2/64"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("attached link=tsa as=net1"));

  EXPECT_FALSE(IpLink(host_->pid(), "tsa").has_value());
  std::optional<nlohmann::json> net1 = IpLink(ctr_->pid(), "net1");
  ASSERT_TRUE(net1.has_value());
  EXPECT_EQ(net1->value("mtu", 0), 1400);
  EXPECT_THAT(net1->value("flags", std::vector<std::string>{}), ::testing::Contains("UP"));
  EXPECT_THAT(IpAddrs(ctr_->pid(), "net1"), ElementsAre("10.81.0.2/24", "fd81::2/64"));
  EXPECT_TRUE(fs_.Exists(StateFile()));

  std::unique_ptr<NetdevAttacher> attacher = HostAttacher();
  ASSERT_NE(attacher, nullptr);
  EXPECT_THAT(attacher->RestoreFromFile(StateFile(), ctr_->pid()),
              IsOkAndHolds(RestoreOutcome::kRestored));
  EXPECT_EQ(LinkFingerprint(host_->pid(), "tsa"), before_);
  EXPECT_FALSE(IpLink(ctr_->pid(), "net1").has_value());
  EXPECT_FALSE(fs_.Exists(StateFile()));
  // Again: nothing left to do.
  EXPECT_THAT(attacher->RestoreFromFile(StateFile(), ctr_->pid()),
              IsOkAndHolds(RestoreOutcome::kAlreadyRestored));
}

TEST_F(NetnsHookProcessTest, RestoreSubcommandUsesTheRecordedPid) {
  ASSERT_EQ(Attach({"--host-interface=tsa", "--container-interface=rdma0"}).exit_code, 0);
  EXPECT_TRUE(IpLink(ctr_->pid(), "rdma0").has_value());
  CmdResult r = Hook({"restore", "--state-file=" + StateFile()}, "");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("outcome=restored"));
  EXPECT_EQ(LinkFingerprint(host_->pid(), "tsa"), before_);
}

TEST_F(NetnsHookProcessTest, SecondRunForTheSameContainerIsANoOp) {
  ASSERT_EQ(Attach({"--host-interface=tsa", "--mtu=1400"}).exit_code, 0);
  CmdResult again = Attach({"--host-interface=tsa", "--mtu=1400"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(IpLink(ctr_->pid(), "net1")->value("mtu", 0), 1400);
}

TEST_F(NetnsHookProcessTest, RefusesUnknownLink) {
  ExpectRefusedUntouched(Attach({"--host-interface=nope0"}), 1, "no link named nope0");
}

TEST_F(NetnsHookProcessTest, RefusesAddressInUseOnTheHost) {
  ExpectRefusedUntouched(Attach({"--host-interface=tsa", "--address=10.80.0.9/24"}), 1,
                         "10.80.0.9 is already in use on host link tsb");
}

TEST_F(NetnsHookProcessTest, RefusesNameClashInTheContainer) {
  ASSERT_EQ(Ip(ctr_->pid(), {"link", "add", "net1", "type", "ifb"}).exit_code, 0);
  std::string inside = LinkFingerprint(ctr_->pid(), "net1");
  CmdResult r = Attach({"--host-interface=tsa"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("already has a link named net1"));
  EXPECT_EQ(LinkFingerprint(host_->pid(), "tsa"), before_);
  EXPECT_EQ(LinkFingerprint(ctr_->pid(), "net1"), inside);
  EXPECT_FALSE(fs_.Exists(StateFile()));
}

TEST_F(NetnsHookProcessTest, RefusesMtuOutOfRange) {
  ExpectRefusedUntouched(Attach({"--host-interface=tsa", "--mtu=60"}), 2, "68..65535");
  ExpectRefusedUntouched(Attach({"--host-interface=tsa", "--mtu=1000", "--address=fd81::2/64"}), 2,
                         "IPv6 minimum");
}

TEST_F(NetnsHookProcessTest, RefusesTheDefaultRouteLink) {
  std::string eth0 = LinkFingerprint(host_->pid(), "eth0");
  CmdResult r = Attach({"--host-interface=eth0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("carries the host's ipv4 default route"));
  EXPECT_EQ(LinkFingerprint(host_->pid(), "eth0"), eth0);
  EXPECT_FALSE(IpLink(ctr_->pid(), "net1").has_value());
}

TEST_F(NetnsHookProcessTest, RefusesTheHostNamespaceAndBadState) {
  ExpectRefusedUntouched(Hook({"attach", "--host-interface=tsa"}, State(host_->pid())), 1,
                         "shares the host network namespace");
  ExpectRefusedUntouched(Hook({"attach", "--host-interface=tsa"}, "{\"pid\": 12"), 1, "oci state");
  ExpectRefusedUntouched(Hook({"attach", "--host-interface=tsa"}, ""), 1, "stdin is empty");
}

TEST_F(NetnsHookProcessTest, KernelRefusalAfterTheMoveIsRolledBack) {
  // A macvlan reports max_mtu 65535 but cannot exceed its lower device's MTU:
  // the kernel refuses only once the link is inside.
  HostIp({"link", "add", "tmv", "link", "tsb", "type", "macvlan", "mode", "bridge"});
  HostIp({"addr", "add", "10.82.0.1/24", "brd", "+", "dev", "tmv"});
  HostIp({"link", "set", "tmv", "up"});
  std::string mv_before = LinkFingerprint(host_->pid(), "tmv");
  CmdResult r = Attach({"--host-interface=tmv", "--mtu=9000"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("rolled back"));
  EXPECT_EQ(LinkFingerprint(host_->pid(), "tmv"), mv_before);
  EXPECT_FALSE(IpLink(ctr_->pid(), "net1").has_value());
  EXPECT_FALSE(fs_.Exists(StateFile()));
}

TEST_F(NetnsHookProcessTest, IpDisabledInTheContainerIsRolledBack) {
  // A link moved into this namespace gets its "default" IPv6 settings.
  CmdResult s = tessera::testing::RunCommand(
      InNetns(ctr_->pid(), {"sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6"}));
  ASSERT_EQ(s.exit_code, 0) << s.err;
  CmdResult r = Attach({"--host-interface=tsa", "--address=10.81.0.2/24", "--address=fd81::2/64"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("rolled back"));
  EXPECT_EQ(LinkFingerprint(host_->pid(), "tsa"), before_);
  EXPECT_FALSE(IpLink(ctr_->pid(), "net1").has_value());
}

TEST_F(NetnsHookProcessTest, VethDestroyedWithItsNamespaceIsReportedGone) {
  ASSERT_EQ(Attach({"--host-interface=tsa"}).exit_code, 0);
  ctr_.reset();  // the container exits; its namespace and the veth die
  std::unique_ptr<NetdevAttacher> attacher = HostAttacher();
  ASSERT_NE(attacher, nullptr);
  // The namespace teardown is asynchronous; the restore waits for nothing:
  // the veth is gone from the container, and never comes back to the host.
  absl::StatusOr<RestoreOutcome> outcome = attacher->RestoreFromFile(StateFile());
  EXPECT_THAT(outcome, IsOkAndHolds(RestoreOutcome::kLinkGone));
  EXPECT_FALSE(fs_.Exists(StateFile()));
}

}  // namespace
}  // namespace tessera::drivers::rdma
