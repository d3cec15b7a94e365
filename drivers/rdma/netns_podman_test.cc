// The whole attach path with a real container runtime: a CDI spec (0.5.0,
// written here by hand) whose device carries the createRuntime hook built by
// BuildNetdevHookEdits, podman 4.3 + runc reading it from /var/run/cdi, the
// hook moving a veth into the container, and NetdevAttacher restoring it
// while the container still runs (a veth dies with its namespace, so the
// restore must come first; a real NIC would come back by itself).
//
// Needs root, podman, runc and a static busybox (busybox-static) to build a
// tiny image (`podman import`, cached as localhost/tessera-test-busybox:1).
// Runs in the host's network namespace with uniquely named links, and removes
// every link, container and spec it created, also on failure.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "base/filesystem.h"
#include "base/strings.h"
#include "drivers/rdma/netdev_attach.h"
#include "drivers/rdma/netns_hook.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"
#include "test/netns/net_sandbox.h"
#include "topology/netns.h"

namespace tessera::drivers::rdma {
namespace {

using ::tessera::testing::CmdResult;
using ::tessera::testing::Ip;
using ::tessera::testing::IpLink;
using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::LinkFingerprint;
using ::tessera::testing::RunCommand;
using ::testing::HasSubstr;

constexpr char kImage[] = "localhost/tessera-test-busybox:1";
constexpr char kCdiDir[] = "/var/run/cdi";
constexpr char kKind[] = "k8s.rdma-test.tessera.dev/claim";

// The CDI 0.5.0 JSON of one device (what kubelet/cdi will write for real).
nlohmann::json CdiSpec(const std::string& device, const base::ContainerEdits& edits) {
  nlohmann::json hooks = nlohmann::json::array();
  for (const base::Hook& h : edits.hooks) {
    nlohmann::json j = {{"hookName", h.hook_name}, {"path", h.path}, {"args", h.args}};
    if (!h.env.empty()) j["env"] = h.env;
    if (h.timeout_seconds.has_value()) j["timeout"] = *h.timeout_seconds;
    hooks.push_back(std::move(j));
  }
  return {{"cdiVersion", "0.5.0"},
          {"kind", kKind},
          {"devices",
           {{{"name", device},
             {"containerEdits", {{"env", {"TESSERA_NETDEV=net1"}}, {"hooks", hooks}}}}}}};
}

class NetnsPodmanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!tessera::testing::IsRoot()) GTEST_SKIP() << "needs root (rootful podman, netns)";
    for (const char* tool : {"podman", "runc", "ip"}) {
      if (!tessera::testing::HaveProgram(tool)) {
        GTEST_SKIP() << tool << " is not installed (apt-get install podman runc iproute2)";
      }
    }
    if (!std::filesystem::exists("/bin/busybox")) {
      GTEST_SKIP() << "/bin/busybox is missing (apt-get install busybox-static)";
    }
    suffix_ = std::to_string(::getpid() % 1000000);
    host_if_ = "tp" + suffix_ + "a";
    peer_if_ = "tp" + suffix_ + "b";
    container_ = "tessera-nt-" + suffix_;
    device_ = "test-" + suffix_ + "-nic0";
    spec_path_ = std::string(kCdiDir) + "/tessera-test-" + suffix_ + ".json";

    // Lowered ulimits and runc: what works on this kind of host (test-peers.md §1).
    conf_ = dir_.Sub("containers.conf");
    std::ofstream(conf_) << "[containers]\n"
                         << "default_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\n"
                         << "[engine]\nruntime = \"runc\"\n";
    ASSERT_NO_FATAL_FAILURE(EnsureImage());

    ASSERT_EQ(Ip(0, {"link", "add", host_if_, "type", "veth", "peer", "name", peer_if_}).exit_code,
              0);
    made_links_ = true;
    ASSERT_EQ(Ip(0, {"addr", "add", "198.18.77.1/24", "brd", "+", "dev", host_if_}).exit_code, 0);
    ASSERT_EQ(Ip(0, {"link", "set", host_if_, "up"}).exit_code, 0);
    ASSERT_EQ(Ip(0, {"link", "set", peer_if_, "up"}).exit_code, 0);
    before_ = LinkFingerprint(0, host_if_);

    std::filesystem::create_directories(kCdiDir);
  }

  void TearDown() override {
    if (!container_.empty()) Podman({"rm", "-f", "-t", "0", container_});
    if (!spec_path_.empty()) std::filesystem::remove(spec_path_);
    // kCdiDir stays: a parallel test may have just made its DeviceState there.
    if (made_links_ && IpLink(0, host_if_).has_value()) Ip(0, {"link", "del", host_if_});
    if (made_links_ && IpLink(0, peer_if_).has_value()) Ip(0, {"link", "del", peer_if_});
  }

  CmdResult Podman(std::vector<std::string> args) {
    std::vector<std::string> argv = {"env", "CONTAINERS_CONF=" + conf_, "podman"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(std::move(argv), "", std::chrono::seconds(120));
  }

  void EnsureImage() {
    if (Podman({"image", "exists", kImage}).exit_code == 0) return;
    std::string root = dir_.Sub("rootfs");
    for (const char* d : {"bin", "dev", "proc", "sys", "tmp", "etc"}) {
      std::filesystem::create_directories(root + "/" + d);
    }
    std::filesystem::copy_file("/bin/busybox", root + "/bin/busybox");
    CmdResult applets = RunCommand({root + "/bin/busybox", "--list"});
    ASSERT_EQ(applets.exit_code, 0);
    for (std::string_view a : base::Split(applets.out, '\n', base::SplitMode::kSkipEmpty)) {
      if (a != "busybox")
        std::filesystem::create_symlink("busybox", root + "/bin/" + std::string(a));
    }
    CmdResult r = RunCommand(
        {"sh", "-c",
         "tar -C '" + root + "' -c . | CONTAINERS_CONF='" + conf_ + "' podman import - " + kImage},
        "", std::chrono::seconds(120));
    ASSERT_EQ(r.exit_code, 0) << "podman import: " << r.err;
  }

  // Writes the CDI spec for `config`, as the driver would at prepare.
  void WriteSpec(const NetdevConfig& config) {
    absl::StatusOr<base::ContainerEdits> edits = BuildNetdevHookEdits(
        config, StateFile(), {.hook_path = TESSERA_NETNS_HOOK_PATH, .timeout_seconds = 30});
    ASSERT_OK(edits.status());
    std::ofstream(spec_path_) << CdiSpec(device_, *edits).dump(2);
  }

  CmdResult StartContainer() {
    return Podman({"run", "-d", "--name", container_, "--network", "none", "--device",
                   std::string(kKind) + "=" + device_, kImage, "sleep", "600"});
  }

  CmdResult Exec(std::vector<std::string> cmd) {
    std::vector<std::string> args = {"exec", container_};
    args.insert(args.end(), cmd.begin(), cmd.end());
    return Podman(args);
  }

  std::string StateFile() { return dir_.Sub("state/nic0.json"); }

  tessera::testing::TempDir dir_;
  base::RealFilesystem fs_;
  std::string suffix_, host_if_, peer_if_, container_, device_, spec_path_, conf_, before_;
  bool made_links_ = false;
};

TEST_F(NetnsPodmanTest, HookPutsTheLinkInTheContainerAndRestoreBringsItBack) {
  NetdevConfig config{.host_interface = host_if_,
                      .container_interface = "net1",
                      .mtu = 1400,
                      .addresses = {*topology::ParseIpPrefix("198.18.78.2/24")}};
  ASSERT_NO_FATAL_FAILURE(WriteSpec(config));
  CmdResult run = StartContainer();
  ASSERT_EQ(run.exit_code, 0) << run.err;

  // Inside: net1 with the address and MTU, up; CDI env applied too.
  CmdResult addr = Exec({"ip", "-o", "addr", "show", "dev", "net1"});
  ASSERT_EQ(addr.exit_code, 0) << addr.err;
  EXPECT_THAT(addr.out, HasSubstr("inet 198.18.78.2/24"));
  EXPECT_THAT(Exec({"cat", "/sys/class/net/net1/mtu"}).out, HasSubstr("1400"));
  EXPECT_THAT(Exec({"cat", "/sys/class/net/net1/operstate"}).out, HasSubstr("up"));
  // CDI env lands in the OCI spec of the container's process (podman exec
  // does not re-read it).
  EXPECT_THAT(Exec({"sh", "-c", "tr '\\0' '\\n' < /proc/1/environ"}).out,
              HasSubstr("TESSERA_NETDEV=net1"));
  // Outside: gone from the host.
  EXPECT_FALSE(IpLink(0, host_if_).has_value());

  // Unprepare, while the container still runs (the veth would die with it).
  topology::ProcNetworkNamespaces namespaces;
  ASSERT_OK_AND_ASSIGN(topology::NetnsHandle host, namespaces.OpenCurrent());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<NetdevAttacher> attacher,
                       NetdevAttacher::Create(namespaces, std::move(host), fs_));
  // No pid given: the hook recorded the container's pid and namespace.
  EXPECT_THAT(attacher->RestoreFromFile(StateFile()), IsOkAndHolds(RestoreOutcome::kRestored));
  EXPECT_EQ(LinkFingerprint(0, host_if_), before_);
  EXPECT_NE(Exec({"ip", "link", "show", "net1"}).exit_code, 0);

  EXPECT_EQ(Podman({"rm", "-f", "-t", "0", container_}).exit_code, 0);
  EXPECT_EQ(LinkFingerprint(0, host_if_), before_);
}

TEST_F(NetnsPodmanTest, RefusalFailsTheContainerAndLeavesTheLinkAlone) {
  NetdevConfig config{.host_interface = host_if_,
                      .addresses = {*topology::ParseIpPrefix("198.18.78.9/24")}};
  ASSERT_EQ(Ip(0, {"addr", "add", "198.18.78.9/24", "dev", peer_if_}).exit_code, 0);
  ASSERT_NO_FATAL_FAILURE(WriteSpec(config));
  CmdResult run = StartContainer();
  EXPECT_NE(run.exit_code, 0);
  // runc reports the hook's stderr.
  EXPECT_THAT(run.err, HasSubstr("is already in use on host link " + peer_if_));
  EXPECT_EQ(LinkFingerprint(0, host_if_), before_);
  EXPECT_FALSE(std::filesystem::exists(StateFile()));
}

}  // namespace
}  // namespace tessera::drivers::rdma
