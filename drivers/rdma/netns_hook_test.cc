// The hook's contract: argv, OCI state, the CDI edits, and a run on fakes.
#include "drivers/rdma/netns_hook.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "base/filesystem.h"
#include "test/fakes/base/temp_dir.h"
#include "test/fakes/topology/fake_netlink.h"
#include "test/fakes/topology/ip_prefix.h"
#include "test/matchers/status_matchers.h"

namespace tessera::drivers::rdma {
namespace {

using ::tessera::testing::FakeNetworkNamespaces;
using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::Prefix;
using ::tessera::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(OciStateTest, ParsesTheRuntimeState) {
  // As runc 1.1 writes it for a createRuntime hook (test-peers.md §1).
  constexpr char kState[] =
      R"({"ociVersion":"1.0.2-dev","id":"4c52ab","status":"creating","pid":2283,)"
      R"("bundle":"/var/lib/containers/storage/overlay-containers/4c52ab/userdata",)"
      R"("annotations":{"io.podman.annotations.autoremove":"TRUE"}})";
  ASSERT_OK_AND_ASSIGN(OciState s, ParseOciState(kState));
  EXPECT_EQ(s.oci_version, "1.0.2-dev");
  EXPECT_EQ(s.id, "4c52ab");
  EXPECT_EQ(s.status, "creating");
  EXPECT_EQ(s.pid, 2283);
  EXPECT_EQ(s.bundle, "/var/lib/containers/storage/overlay-containers/4c52ab/userdata");
}

TEST(OciStateTest, RejectsBadInputNamingTheField) {
  struct Bad {
    std::string json;
    std::string why;
  };
  for (const Bad& b : std::vector<Bad>{
           {"", "stdin is empty"},
           {"{", "invalid JSON"},
           {"[1]", "expected object"},
           {R"({"id":"x","pid":5})", "oci state.ociVersion: required"},
           {R"({"ociVersion":"1.0.2","pid":5})", "oci state.id: required"},
           {R"({"ociVersion":"1.0.2","id":"","pid":5})", "id: must not be empty"},
           {R"({"ociVersion":"1.0.2","id":"x"})", "oci state.pid: required"},
           {R"({"ociVersion":"1.0.2","id":"x","pid":"5"})", "pid: expected integer"},
           {R"({"ociVersion":"1.0.2","id":"x","pid":5.5})", "pid: expected integer"},
           {R"({"ociVersion":"1.0.2","id":"x","pid":0})", "not a process id"},
           {R"({"ociVersion":"1.0.2","id":"x","pid":-3})", "not a process id"},
           {R"({"ociVersion":"1.0.2","id":"x","pid":4294967296})", "not a process id"},
           {R"({"ociVersion":"1.0.2","id":"x","pid":5,"status":"stopped"})", "stopped"},
           {R"({"ociVersion":"1.0.2","id":"x","pid":5,"status":7})", "status: expected string"},
       }) {
    EXPECT_THAT(ParseOciState(b.json),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(b.why)))
        << b.json;
  }
  EXPECT_THAT(ParseOciState(std::string(2 << 20, ' ')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("exceeds")));
}

TEST(HookArgsTest, ParsesAttach) {
  ASSERT_OK_AND_ASSIGN(
      HookArgs a,
      ParseHookArgs({"tessera-netns-hook", "attach", "--host-interface=ens6f0", "--mtu=9000",
                     "--address=10.0.0.2/24", "--address=fd00::2/64", "--rdma-device=mlx5_0",
                     "--state-file=/var/lib/tessera/netns/a.json"}));
  EXPECT_EQ(a.command, HookCommand::kAttach);
  EXPECT_EQ(a.config, (NetdevConfig{.host_interface = "ens6f0",
                                    .container_interface = "net1",
                                    .mtu = 9000,
                                    .addresses = {Prefix("10.0.0.2/24"), Prefix("fd00::2/64")},
                                    .rdma_device = "mlx5_0"}));
  EXPECT_EQ(a.state_file, "/var/lib/tessera/netns/a.json");
}

TEST(HookArgsTest, ParsesRestore) {
  ASSERT_OK_AND_ASSIGN(HookArgs a,
                       ParseHookArgs({"hook", "restore", "--state-file=/s.json", "--pid=77"}));
  EXPECT_EQ(a.command, HookCommand::kRestore);
  EXPECT_EQ(a.pid, 77);
  EXPECT_EQ(a.state_file, "/s.json");
}

TEST(HookArgsTest, RejectsWhatIsNotInTheContract) {
  struct Bad {
    std::vector<std::string> argv;
    std::string why;
  };
  for (const Bad& b : std::vector<Bad>{
           {{"hook"}, "missing command"},
           {{"hook", "detach"}, "unknown command"},
           {{"hook", "attach"}, "--host-interface is required"},
           {{"hook", "attach", "--host-interface", "eth1"}, "expected --name=value"},
           {{"hook", "attach", "eth1"}, "unexpected argument"},
           {{"hook", "attach", "--host-interface=a", "--host-interface=b"}, "given twice"},
           {{"hook", "attach", "--host-interface=a", "--pid=3"}, "unknown flag --pid for attach"},
           {{"hook", "attach", "--host-interface=a", "--mtu=9k"}, "--mtu"},
           {{"hook", "attach", "--host-interface=a", "--mtu=67"}, "68..65535"},
           {{"hook", "attach", "--host-interface=a", "--mtu=-1"}, "--mtu"},
           {{"hook", "attach", "--host-interface=a", "--address=10.0.0.2"}, "--address"},
           {{"hook", "attach", "--host-interface=a", "--state-file=rel.json"}, "absolute path"},
           {{"hook", "attach", "--host-interface=a", "--container-interface="},
            "must not be empty"},
           {{"hook", "attach", "--host-interface=a/b"}, "hostInterface"},
           {{"hook", "restore"}, "--state-file is required"},
           {{"hook", "restore", "--state-file=/s", "--pid=1", "--netns=/run/netns/x"}, "not both"},
           {{"hook", "restore", "--state-file=/s", "--pid=0"}, "--pid"},
           {{"hook", "restore", "--state-file=/s", "--mtu=1500"}, "unknown flag --mtu"},
       }) {
    absl::StatusOr<HookArgs> r = ParseHookArgs(b.argv);
    EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(b.why)))
        << base::Join(b.argv, " ");
  }
  // Every usage error carries the usage.
  EXPECT_THAT(ParseHookArgs({"hook", "x"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("usage: tessera-netns-hook")));
}

TEST(HookArgsTest, FormatIsReadBackExactly) {
  std::vector<HookArgs> cases = {
      {.command = HookCommand::kAttach,
       .config = {.host_interface = "ens6f0",
                  .container_interface = "rdma0",
                  .mtu = 4200,
                  .addresses = {Prefix("10.0.0.2/24"), Prefix("fd00::2/64")},
                  .rdma_device = "mlx5_3"},
       .state_file = "/var/lib/t/a.json"},
      {.command = HookCommand::kAttach, .config = {.host_interface = "eth1"}},
      {.command = HookCommand::kRestore, .state_file = "/s.json", .netns_path = "/run/netns/p"},
      {.command = HookCommand::kRestore, .state_file = "/s.json", .pid = 9},
  };
  for (const HookArgs& a : cases) {
    std::vector<std::string> argv = FormatHookArgs(a);
    EXPECT_EQ(argv[0], "tessera-netns-hook");
    EXPECT_THAT(ParseHookArgs(argv), IsOkAndHolds(a)) << base::Join(argv, " ");
  }
}

TEST(HookEditsTest, BuildsOneCreateRuntimeHook) {
  NetdevConfig config{
      .host_interface = "ens6f0", .mtu = 9000, .addresses = {Prefix("10.0.0.2/24")}};
  ASSERT_OK_AND_ASSIGN(
      base::ContainerEdits edits,
      BuildNetdevHookEdits(config, "/var/lib/tessera/rdma.tessera.dev/netns/uid-nic0.json",
                           {.hook_path = "/var/lib/tessera/bin/tessera-netns-hook",
                            .timeout_seconds = 20,
                            .env = {"TESSERA_LOG=info"}}));
  EXPECT_TRUE(edits.env.empty());
  EXPECT_TRUE(edits.device_nodes.empty());
  EXPECT_TRUE(edits.mounts.empty());
  ASSERT_EQ(edits.hooks.size(), 1u);
  const base::Hook& h = edits.hooks[0];
  EXPECT_EQ(h.hook_name, "createRuntime");
  EXPECT_EQ(h.path, "/var/lib/tessera/bin/tessera-netns-hook");
  EXPECT_THAT(h.args,
              ElementsAre("tessera-netns-hook", "attach", "--host-interface=ens6f0",
                          "--container-interface=net1", "--mtu=9000", "--address=10.0.0.2/24",
                          "--state-file=/var/lib/tessera/rdma.tessera.dev/netns/uid-nic0.json"));
  EXPECT_THAT(h.env, ElementsAre("TESSERA_LOG=info"));
  EXPECT_EQ(h.timeout_seconds, 20);
}

TEST(HookEditsTest, RefusesWhatTheRuntimeCouldNotRun) {
  NetdevConfig config{.host_interface = "ens6f0"};
  EXPECT_THAT(BuildNetdevHookEdits(config, "", {.hook_path = "tessera-netns-hook"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not absolute")));
  EXPECT_THAT(BuildNetdevHookEdits(config, "state.json", {.hook_path = "/bin/h"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("state file")));
  EXPECT_THAT(BuildNetdevHookEdits(config, "", {.hook_path = "/bin/h", .timeout_seconds = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("timeout")));
  config.mtu = 10;
  EXPECT_THAT(BuildNetdevHookEdits(config, "", {.hook_path = "/bin/h"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("mtu")));
}

class RunNetnsHookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    world_.host().AddLink(topology::NetworkLink{
        .index = 7, .name = "ens6f0", .up = true, .mtu = 1500, .mac = "0c:42:a1:00:00:01"});
    world_.AddNamespace(2283);
  }
  FakeNetworkNamespaces world_;
  tessera::testing::TempDir dir_;
  base::RealFilesystem fs_;
};

TEST_F(RunNetnsHookTest, AttachesToThePidOfTheState) {
  ASSERT_OK_AND_ASSIGN(HookArgs args, ParseHookArgs({"h", "attach", "--host-interface=ens6f0",
                                                     "--mtu=9000", "--address=10.0.0.2/24",
                                                     "--state-file=" + dir_.Sub("a.json")}));
  EXPECT_THAT(
      RunNetnsHook(args, R"({"ociVersion":"1.0.2","id":"c1","pid":2283})", world_, fs_, nullptr),
      IsOkAndHolds(HasSubstr("attached link=ens6f0 as=net1 container=c1 pid=2283")));
  ASSERT_OK_AND_ASSIGN(topology::NetnsHandle ns, world_.OpenProcess(2283));
  auto* container = world_.Find(ns.id());
  ASSERT_TRUE(container->link("net1").has_value());
  EXPECT_EQ(container->link("net1")->mtu, 9000u);
  EXPECT_FALSE(world_.host().link("ens6f0").has_value());

  ASSERT_OK_AND_ASSIGN(HookArgs restore,
                       ParseHookArgs({"h", "restore", "--state-file=" + dir_.Sub("a.json")}));
  EXPECT_THAT(RunNetnsHook(restore, "", world_, fs_, nullptr),
              IsOkAndHolds(HasSubstr("outcome=restored")));
  EXPECT_TRUE(world_.host().link("ens6f0").has_value());
}

TEST_F(RunNetnsHookTest, BadStateOrGonePidLeavesTheLinkAlone) {
  ASSERT_OK_AND_ASSIGN(HookArgs args, ParseHookArgs({"h", "attach", "--host-interface=ens6f0"}));
  EXPECT_THAT(RunNetnsHook(args, "garbage", world_, fs_, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("oci state")));
  EXPECT_THAT(
      RunNetnsHook(args, R"({"ociVersion":"1","id":"c2","pid":31337})", world_, fs_, nullptr),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("container c2")));
  EXPECT_TRUE(world_.host().link("ens6f0").has_value());
  EXPECT_TRUE(world_.host().changes().empty());
}

TEST(NetnsHookMainTest, UsageErrorsExitTwoWithoutTouchingAnything) {
  std::istringstream in("");
  std::ostringstream err;
  EXPECT_EQ(NetnsHookMain({"tessera-netns-hook", "attach", "--mtu=1500"}, in, err), 2);
  EXPECT_THAT(err.str(), HasSubstr("--host-interface is required"));
  EXPECT_THAT(err.str(), HasSubstr("usage:"));
}

}  // namespace
}  // namespace tessera::drivers::rdma
