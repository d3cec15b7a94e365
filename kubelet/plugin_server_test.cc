// PluginServer driven over real Unix sockets by the kubelet-side client, the
// way the kubelet drives it: registration, prepare/unprepare on v1 and
// v1beta1, the health stream, socket hygiene and serialization.
#include "kubelet/plugin_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "k8s.io/kubelet/pkg/apis/dra/v1/api.grpc.pb.h"
#include "k8s.io/kubelet/pkg/apis/dra/v1beta1/api.grpc.pb.h"
#include <grpcpp/grpcpp.h>

#include "kubelet/kubelet_client.h"
#include "test/fakes/base/fake_clock.h"
#include "test/fakes/base/faulty_filesystem.h"
#include "test/fakes/base/temp_dir.h"
#include "test/fakes/kubelet/fake_claim_handler.h"
#include "test/matchers/status_matchers.h"

namespace tessera::kubelet {
namespace {

using ::tessera::testing::FakeClaimHandler;
using ::tessera::testing::FakeClock;
using ::tessera::testing::IsOk;
using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;
using ::tessera::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using namespace std::chrono_literals;

constexpr char kDriver[] = "gpu.tessera.dev";
constexpr char kUidA[] = "11111111-2222-3333-4444-555555555555";
constexpr char kUidB[] = "66666666-7777-8888-9999-000000000000";

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode;
}
bool IsSocket(const std::string& path) { return S_ISSOCK(ModeOf(path)); }

// Leaves a socket file behind without anyone listening, like a crashed plugin.
void MakeStaleSocket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  path.copy(addr.sun_path, path.size());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << path;
  ::close(fd);
}

ClaimRef Claim(std::string uid, std::string name, std::string ns = "default") {
  return ClaimRef{.uid = std::move(uid), .namespace_ = std::move(ns), .name = std::move(name)};
}

class PluginServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    plugin_dir_ = tmp_.Sub("plugins");
    registry_dir_ = tmp_.Sub("plugins_registry");
    ASSERT_EQ(::mkdir(registry_dir_.c_str(), 0755), 0);  // made by the kubelet
  }

  PluginServerOptions Options(std::string pod_uid = "") {
    return PluginServerOptions{.driver_name = kDriver,
                               .plugin_dir = plugin_dir_,
                               .registry_dir = registry_dir_,
                               .pod_uid = std::move(pod_uid)};
  }
  PluginServerDeps Deps(base::Clock& clock) {
    return PluginServerDeps{
        .claims = handler_, .health = health_, .clock = clock, .fs = fs_, .metrics = metrics_};
  }
  PluginServerDeps Deps() { return Deps(clock_); }

  std::unique_ptr<PluginServer> StartOrDie(PluginServerOptions options) {
    absl::StatusOr<std::unique_ptr<PluginServer>> server =
        PluginServer::Create(std::move(options), Deps());
    EXPECT_THAT(server, IsOk());
    return server.ok() ? std::move(*server) : nullptr;
  }

  std::unique_ptr<DraPluginClient> Connect(const PluginServer& server, DraApiVersion api) {
    absl::StatusOr<std::unique_ptr<DraPluginClient>> client =
        DraPluginClient::Connect(server.paths().dra_socket, api, 5s);
    EXPECT_THAT(client, IsOk());
    return client.ok() ? std::move(*client) : nullptr;
  }

  double Counter(std::string_view name, base::metrics::Labels labels) {
    return metrics_.GetCounter(name, "", std::move(labels)).value();
  }

  TempDir tmp_;
  std::string plugin_dir_;
  std::string registry_dir_;
  FakeClock clock_;
  FakeClaimHandler handler_;
  HealthReporter health_{clock_};
  base::RealFilesystem fs_;
  base::metrics::Registry metrics_;
};

// ---- registration ----------------------------------------------------------

TEST_F(PluginServerTest, DraServerServesBeforeRegistrationSocketAppears) {
  // Watch both directories the way the kubelet's plugin watcher does, and act
  // like the kubelet the instant the registration socket shows up.
  const std::string data_dir = plugin_dir_ + "/" + kDriver;
  ASSERT_EQ(::mkdir(plugin_dir_.c_str(), 0700), 0);
  ASSERT_EQ(::mkdir(data_dir.c_str(), 0700), 0);
  int inotify = ::inotify_init1(IN_CLOEXEC);
  ASSERT_GE(inotify, 0);
  // fsnotify, which the kubelet uses, reports both as "Create".
  int data_watch = ::inotify_add_watch(inotify, data_dir.c_str(), IN_CREATE | IN_MOVED_TO);
  int registry_watch = ::inotify_add_watch(inotify, registry_dir_.c_str(), IN_CREATE | IN_MOVED_TO);
  ASSERT_GE(data_watch, 0);
  ASSERT_GE(registry_watch, 0);

  std::vector<std::string> created;  // in event order
  absl::Status call_at_registration = absl::UnknownError("registration socket never appeared");
  std::jthread kubelet([&] {
    alignas(inotify_event) char buf[4096];
    while (true) {
      pollfd p{.fd = inotify, .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, 30'000) <= 0) return;
      ssize_t n = ::read(inotify, buf, sizeof(buf));
      for (char* at = buf; n > 0 && at < buf + n;) {
        auto* ev = reinterpret_cast<inotify_event*>(at);
        at += sizeof(inotify_event) + ev->len;
        std::string name = ev->len > 0 ? ev->name : "";
        if (name.starts_with(".")) continue;  // the watcher ignores these
        created.push_back((ev->wd == data_watch ? "data/" : "registry/") + name);
        if (ev->wd == registry_watch) {
          std::string socket = registry_dir_ + "/" + name;
          absl::StatusOr<ValidatedPlugin> plugin = [&]() -> absl::StatusOr<ValidatedPlugin> {
            absl::StatusOr<PluginInfo> info = GetPluginInfo(socket);
            if (!info.ok()) return info.status();
            return ValidatePluginInfo(*info, socket);
          }();
          if (!plugin.ok()) {
            call_at_registration = plugin.status();
            return;
          }
          auto client = DraPluginClient::Connect(plugin->endpoint, plugin->api, 1s);
          call_at_registration =
              client.ok() ? (*client)->NodeUnprepareResources({}, 1s).status() : client.status();
          return;
        }
      }
    }
  });

  std::unique_ptr<PluginServer> server = StartOrDie(Options());

  ASSERT_NE(server, nullptr);
  kubelet.join();
  ::close(inotify);
  EXPECT_THAT(call_at_registration, IsOk());
  EXPECT_THAT(created,
              ElementsAre("data/dra.sock", std::string("registry/") + kDriver + "-reg.sock"));
}

TEST_F(PluginServerTest, GetInfoAnnouncesDriverEndpointAndServices) {
  std::unique_ptr<PluginServer> server = StartOrDie(Options());
  ASSERT_NE(server, nullptr);
  absl::StatusOr<PluginInfo> info = GetPluginInfo(server->paths().registration_socket, 1s);
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->type, "DRAPlugin");
  EXPECT_EQ(info->name, kDriver);
  EXPECT_EQ(info->endpoint, plugin_dir_ + "/" + kDriver + "/dra.sock");
  EXPECT_THAT(info->supported_versions,
              ElementsAre("v1.DRAPlugin", "v1beta1.DRAPlugin", "v1alpha1.DRAResourceHealth"));
  EXPECT_EQ(*info, server->info());
}

TEST_F(PluginServerTest, RegistrationFlowMarksPluginRegistered) {
  std::unique_ptr<PluginServer> server = StartOrDie(Options());
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->registration().phase, RegistrationState::Phase::kPending);
  EXPECT_FALSE(server->registered());

  absl::StatusOr<ValidatedPlugin> plugin =
      RegisterPlugin(server->paths().registration_socket, kDriver);
  ASSERT_THAT(plugin, IsOk());
  EXPECT_EQ(plugin->api, DraApiVersion::kV1);
  EXPECT_TRUE(plugin->health);
  EXPECT_EQ(plugin->endpoint, server->paths().dra_socket);
  EXPECT_TRUE(server->registered());
  EXPECT_EQ(server->registration().notifications, 1u);
  EXPECT_EQ(server->registration().updated, clock_.Now());
  EXPECT_EQ(metrics_.GetGauge("tessera_kubelet_registered", "", {{"driver", kDriver}}).value(), 1);
}

TEST_F(PluginServerTest, FailedRegistrationIsRecordedAndAnsweredWithError) {
  std::unique_ptr<PluginServer> server = StartOrDie(Options());
  ASSERT_NE(server, nullptr);
  const std::string reg = server->paths().registration_socket;
  ASSERT_THAT(NotifyRegistrationStatus(reg, true, ""), IsOk());
  ASSERT_TRUE(server->registered());

  EXPECT_THAT(NotifyRegistrationStatus(reg, false, "version mismatch"),
              StatusIs(absl::StatusCode::kUnknown, HasSubstr("version mismatch")));
  EXPECT_FALSE(server->registered());
  EXPECT_EQ(server->registration().phase, RegistrationState::Phase::kRejected);
  EXPECT_EQ(server->registration().error, "version mismatch");
  EXPECT_EQ(metrics_.GetGauge("tessera_kubelet_registered", "", {{"driver", kDriver}}).value(), 0);
  EXPECT_EQ(Counter("tessera_kubelet_requests_total", {{"driver", kDriver},
                                                       {"service", "Registration"},
                                                       {"method", "NotifyRegistrationStatus"},
                                                       {"result", "success"}}),
            2);
}

TEST_F(PluginServerTest, GetInfoAnswersWhilePrepareIsBusy) {
  std::unique_ptr<PluginServer> server = StartOrDie(Options());
  ASSERT_NE(server, nullptr);
  auto client = Connect(*server, DraApiVersion::kV1);
  handler_.CloseGate();
  std::jthread busy([&] { (void)client->NodePrepareResources({Claim("u1", "a")}); });
  ASSERT_TRUE(handler_.WaitForActiveCalls(1));
  EXPECT_THAT(GetPluginInfo(server->paths().registration_socket, 1s), IsOk());
  handler_.OpenGate();
}

TEST_F(PluginServerTest, HealthServiceCanBeLeftOut) {
  PluginServerOptions options = Options();
  options.serve_health = false;
  std::unique_ptr<PluginServer> server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  absl::StatusOr<ValidatedPlugin> plugin = RegisterPlugin(server->paths().registration_socket);
  ASSERT_THAT(plugin, IsOk());
  EXPECT_FALSE(plugin->health);
  EXPECT_THAT(plugin->info.supported_versions, ElementsAre("v1.DRAPlugin", "v1beta1.DRAPlugin"));
  auto client = Connect(*server, DraApiVersion::kV1);
  auto watch = client->WatchResources(5s);
  ASSERT_THAT(watch, IsOk());
  EXPECT_THAT((*watch)->Next(), StatusIs(absl::StatusCode::kUnimplemented));
}

TEST_F(PluginServerTest, FindRegistrationSocketsListsWhatTheKubeletWatches) {
  std::unique_ptr<PluginServer> server = StartOrDie(Options());
  ASSERT_NE(server, nullptr);
  MakeStaleSocket(registry_dir_ + "/.hidden-reg.sock");
  ASSERT_EQ(::mkdir((registry_dir_ + "/sub").c_str(), 0755), 0);
  MakeStaleSocket(registry_dir_ + "/sub/other.example.com-reg.sock");
  ASSERT_EQ(::close(::creat((registry_dir_ + "/not-a-socket").c_str(), 0644)), 0);

  EXPECT_THAT(FindRegistrationSockets(registry_dir_),
              IsOkAndHolds(ElementsAre(server->paths().registration_socket,
                                       registry_dir_ + "/sub/other.example.com-reg.sock")));
  EXPECT_THAT(FindRegistrationSockets(tmp_.Sub("missing")), StatusIs(absl::StatusCode::kNotFound));
}

// ---- sockets on disk --------------------------------------------------------

TEST_F(PluginServerTest, SocketsArePrivateAndKubeletDirKeepsItsMode) {
  std::unique_ptr<PluginServer> server = StartOrDie(Options());
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(ModeOf(server->paths().dra_socket) & 07777, 0600u);
  EXPECT_EQ(ModeOf(server->paths().registration_socket) & 07777, 0600u);
  EXPECT_EQ(ModeOf(server->paths().plugin_data_dir) & 07777, 0700u);
  EXPECT_EQ(ModeOf(plugin_dir_) & 07777, 0700u);
  EXPECT_EQ(ModeOf(registry_dir_) & 07777, 0755u);
}

TEST_F(PluginServerTest, CreatesMissingRegistryDirPrivate) {
  registry_dir_ = tmp_.Sub("fresh/plugins_registry");
  std::unique_ptr<PluginServer> server = StartOrDie(Options());
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(IsSocket(server->paths().registration_socket));
  EXPECT_EQ(ModeOf(registry_dir_) & 07777, 0700u);
}

TEST_F(PluginServerTest, ReplacesStaleSockets) {
  ASSERT_EQ(::mkdir(plugin_dir_.c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((plugin_dir_ + "/" + kDriver).c_str(), 0700), 0);
  const std::string dra = plugin_dir_ + "/" + kDriver + "/dra.sock";
  const std::string reg = registry_dir_ + "/" + kDriver + "-reg.sock";
  MakeStaleSocket(dra);
  MakeStaleSocket(reg);
  // Nobody listens on a stale socket.
  EXPECT_THAT(GetPluginInfo(reg, 1s), StatusIs(absl::StatusCode::kUnavailable));

  std::unique_ptr<PluginServer> server = StartOrDie(Options());

  ASSERT_NE(server, nullptr);
  EXPECT_THAT(RegisterPlugin(reg), IsOk());
  auto client = Connect(*server, DraApiVersion::kV1);
  EXPECT_THAT(client->NodeUnprepareResources({Claim("u1", "a")}), IsOk());
}

TEST_F(PluginServerTest, RefusesToDeleteNonSocketFiles) {
  const std::string reg = registry_dir_ + "/" + kDriver + "-reg.sock";
  ASSERT_EQ(::close(::creat(reg.c_str(), 0644)), 0);
  absl::StatusOr<std::unique_ptr<PluginServer>> server = PluginServer::Create(Options(), Deps());
  EXPECT_THAT(server, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(reg)));
  EXPECT_TRUE(S_ISREG(ModeOf(reg)));  // untouched
  // The DRA server that had already started is gone again.
  EXPECT_FALSE(IsSocket(plugin_dir_ + "/" + kDriver + "/dra.sock"));
}

TEST_F(PluginServerTest, StopRemovesOwnSocketsAndNoOneElses) {
  std::unique_ptr<PluginServer> server = StartOrDie(Options());
  ASSERT_NE(server, nullptr);
  const std::string other = registry_dir_ + "/rdma.tessera.dev-reg.sock";
  MakeStaleSocket(other);
  PluginPaths paths = server->paths();
  server->Stop();
  EXPECT_FALSE(IsSocket(paths.registration_socket));
  EXPECT_FALSE(IsSocket(paths.dra_socket));
  EXPECT_TRUE(IsSocket(other));
  server->Stop();  // idempotent
}

TEST_F(PluginServerTest, StopLeavesASocketThatWasReplaced) {
  std::unique_ptr<PluginServer> server = StartOrDie(Options());
  ASSERT_NE(server, nullptr);
  const std::string reg = server->paths().registration_socket;
  // Another instance took the name over (deleted ours, listened anew).
  ASSERT_EQ(::unlink(reg.c_str()), 0);
  MakeStaleSocket(reg);
  server->Stop();
  EXPECT_TRUE(IsSocket(reg));
}

TEST_F(PluginServerTest, FileSystemErrorsFailCreateCleanly) {
  testing::FaultyFilesystem faulty(fs_);
  faulty.set_injector([](std::string_view op, const std::string&) {
    return op == "mkdir" ? absl::PermissionDeniedError("mkdir: read-only file system")
                         : absl::OkStatus();
  });
  PluginServerDeps deps{
      .claims = handler_, .health = health_, .clock = clock_, .fs = faulty, .metrics = metrics_};
  absl::StatusOr<std::unique_ptr<PluginServer>> server = PluginServer::Create(Options(), deps);
  EXPECT_THAT(server, StatusIs(absl::StatusCode::kPermissionDenied,
                               HasSubstr("start kubelet plugin gpu.tessera.dev")));
  EXPECT_THAT(FindRegistrationSockets(registry_dir_), IsOkAndHolds(IsEmpty()));
}

TEST_F(PluginServerTest, RejectsBadOptions) {
  PluginServerOptions options = Options();
  options.driver_name = "GPU";
  EXPECT_THAT(PluginServer::Create(options, Deps()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("driver name")));
}

// ---- rolling updates ---------------------------------------------------------

TEST_F(PluginServerTest, RollingUpdateInstancesCoexist) {
  std::unique_ptr<PluginServer> a = StartOrDie(Options(kUidA));
  ASSERT_NE(a, nullptr);
  std::unique_ptr<PluginServer> b = StartOrDie(Options(kUidB));
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->paths().registration_socket,
            registry_dir_ + "/" + kDriver + "-" + kUidA + "-reg.sock");
  EXPECT_EQ(a->paths().dra_socket, plugin_dir_ + "/" + kDriver + "/dra-" + kUidA + ".sock");
  EXPECT_THAT(FindRegistrationSockets(registry_dir_),
              IsOkAndHolds(UnorderedElementsAre(a->paths().registration_socket,
                                                b->paths().registration_socket)));
  absl::StatusOr<std::vector<std::string>> sockets = FindRegistrationSockets(registry_dir_);
  ASSERT_THAT(sockets, IsOk());
  for (const std::string& socket : *sockets) {
    absl::StatusOr<ValidatedPlugin> plugin = RegisterPlugin(socket, kDriver);
    ASSERT_THAT(plugin, IsOk());
    auto client = DraPluginClient::Connect(plugin->endpoint, plugin->api, 5s);
    ASSERT_THAT(client, IsOk());
    EXPECT_THAT((*client)->NodeUnprepareResources({Claim("u1", "a")}), IsOk());
  }
  a->Stop();  // the old pod goes; the new one stays reachable
  EXPECT_TRUE(IsSocket(b->paths().registration_socket));
  EXPECT_TRUE(IsSocket(b->paths().dra_socket));
  EXPECT_THAT(RegisterPlugin(b->paths().registration_socket), IsOk());
}

TEST_F(PluginServerTest, LongRegistryDirUsesShorterSocketName) {
  // Long enough that "<driver>-<uid>-reg.sock" would not fit in 107 bytes.
  const std::string driver = "gpu-accelerators.example.tessera.dev";
  // The DRA socket "<plugin dir>/<driver>/dra-<uid>.sock" needs a short dir.
  TempDir short_dir;  // /tmp/tessera-test-XXXXXX
  plugin_dir_ = short_dir.path();
  size_t dir_len = 107 - (1 + driver.size() + 1 + 16 + 9);  // hashed-uid form just fits
  ASSERT_GT(dir_len, tmp_.path().size() + 2);
  registry_dir_ = tmp_.path() + "/" + std::string(dir_len - tmp_.path().size() - 1, 'r');
  ASSERT_EQ(::mkdir(registry_dir_.c_str(), 0755), 0);
  PluginServerOptions options = Options(kUidA);
  options.driver_name = driver;
  std::unique_ptr<PluginServer> server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  const std::string& reg = server->paths().registration_socket;
  EXPECT_EQ(reg.size(), 107u);
  EXPECT_THAT(reg, ::testing::Not(HasSubstr(kUidA)));
  EXPECT_TRUE(IsSocket(reg));
  EXPECT_THAT(RegisterPlugin(reg, driver), IsOk());

  // One byte more and only the "dra-<hash>-reg.sock" form fits.
  server.reset();
  registry_dir_ += "x";
  ASSERT_EQ(::mkdir(registry_dir_.c_str(), 0755), 0);
  options.registry_dir = registry_dir_;
  server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  EXPECT_THAT(base::BaseName(server->paths().registration_socket), ::testing::StartsWith("dra-"));
  EXPECT_THAT(RegisterPlugin(server->paths().registration_socket, driver), IsOk());
}

// ---- prepare / unprepare -------------------------------------------------------

TEST_F(PluginServerTest, PrepareAnswersEveryClaimAndFailsOnlyTheBadOnes) {
  handler_.SetPrepareResult(
      "good", PrepareResult{.status = absl::OkStatus(),
                            .devices = {{.request_names = {"gpu/large", "gpu/small", "nic"},
                                         .pool_name = "node-1",
                                         .device_name = "gpu-0",
                                         .cdi_device_ids = {"tessera.dev/gpu=good-gpu-0"}}}});
  handler_.SetPrepareResult("broken",
                            PrepareResult{.status = absl::FailedPreconditionError(
                                              "prepare claim default/broken: gpu-1 is gone")});
  handler_.Omit("forgotten");
  std::unique_ptr<PluginServer> server = StartOrDie(Options());
  ASSERT_NE(server, nullptr);
  auto client = Connect(*server, DraApiVersion::kV1);

  std::vector<ClaimRef> request = {Claim("good", "a"), Claim("broken", "b"), Claim("nameless", ""),
                                   Claim("forgotten", "d"), Claim("good", "a")};
  absl::StatusOr<PrepareResponse> response = client->NodePrepareResources(request);
  ASSERT_THAT(response, IsOk());
  ASSERT_EQ(response->size(), 4u);
  const ClaimPrepareResponse& good = response->at("good");
  EXPECT_EQ(good.error, "");
  EXPECT_THAT(good.devices,
              ElementsAre(PreparedDevice{.request_names = {"gpu", "nic"},
                                         .pool_name = "node-1",
                                         .device_name = "gpu-0",
                                         .cdi_device_ids = {"tessera.dev/gpu=good-gpu-0"}}));
  EXPECT_EQ(response->at("broken").error, "prepare claim default/broken: gpu-1 is gone");
  EXPECT_THAT(response->at("broken").devices, IsEmpty());
  EXPECT_THAT(response->at("nameless").error, HasSubstr("has no name"));
  EXPECT_THAT(response->at("forgotten").error, HasSubstr("got no result"));
  EXPECT_THAT(CheckPrepareResponse(request, *response), StatusIs(absl::StatusCode::kInternal));

  // The handler saw each valid claim once, and never the malformed one.
  std::vector<std::vector<ClaimRef>> calls = handler_.prepare_calls();
  ASSERT_EQ(calls.size(), 1u);
  std::vector<std::string> uids;
  for (const ClaimRef& c : calls[0]) uids.push_back(c.uid);
  EXPECT_THAT(uids, UnorderedElementsAre("good", "broken", "forgotten"));

  EXPECT_EQ(Counter("tessera_prepare_claims_total", {{"driver", kDriver}, {"result", "success"}}),
            1);
  EXPECT_EQ(Counter("tessera_prepare_claims_total", {{"driver", kDriver}, {"result", "error"}}), 3);
  EXPECT_EQ(Counter("tessera_kubelet_requests_total", {{"driver", kDriver},
                                                       {"service", "v1.DRAPlugin"},
                                                       {"method", "NodePrepareResources"},
                                                       {"result", "success"}}),
            1);
  EXPECT_EQ(metrics_
                .GetHistogram("tessera_kubelet_request_duration_seconds", "",
                              base::metrics::LatencyBuckets(),
                              {{"driver", kDriver},
                               {"service", "v1.DRAPlugin"},
                               {"method", "NodePrepareResources"}})
                .count(),
            1u);
}

TEST_F(PluginServerTest, PrepareOfAllGoodClaimsPassesTheKubeletCheck) {
  std::unique_ptr<PluginServer> server = StartOrDie(Options());
  ASSERT_NE(server, nullptr);
  auto client = Connect(*server, DraApiVersion::kV1);
  std::vector<ClaimRef> request = {Claim("u1", "a"), Claim("u2", "b", "team-x")};
  absl::StatusOr<PrepareResponse> response = client->NodePrepareResources(request);
  ASSERT_THAT(response, IsOk());
  EXPECT_THAT(CheckPrepareResponse(request, *response), IsOk());
  EXPECT_THAT(handler_.prepared(), UnorderedElementsAre("u1", "u2"));
  EXPECT_EQ(response->at("u2").devices.at(0).cdi_device_ids.at(0), "tessera.dev/test=u2");
}

TEST_F(PluginServerTest, ConflictingDuplicateUidFailsThatClaim) {
  std::unique_ptr<PluginServer> server = StartOrDie(Options());
  ASSERT_NE(server, nullptr);
  auto client = Connect(*server, DraApiVersion::kV1);
  absl::StatusOr<PrepareResponse> response =
      client->NodePrepareResources({Claim("dup", "a"), Claim("dup", "b"), Claim("fine", "c")});
  ASSERT_THAT(response, IsOk());
  EXPECT_THAT(response->at("dup").error, HasSubstr("given as both"));
  EXPECT_EQ(response->at("fine").error, "");
}

TEST_F(PluginServerTest, UnprepareAnswersEveryClaim) {
  handler_.SetUnprepareResult("stuck", absl::UnavailableError("unprepare claim stuck: busy"));
  handler_.Omit("forgotten");
  std::unique_ptr<PluginServer> server = StartOrDie(Options());
  ASSERT_NE(server, nullptr);
  auto client = Connect(*server, DraApiVersion::kV1);
  std::vector<ClaimRef> request = {Claim("never-prepared", "a"), Claim("stuck", "b"),
                                   Claim("forgotten", "c"), Claim("", "d")};
  absl::StatusOr<UnprepareResponse> response = client->NodeUnprepareResources(request);
  ASSERT_THAT(response, IsOk());
  ASSERT_EQ(response->size(), 4u);
  EXPECT_EQ(response->at("never-prepared"), "");
  EXPECT_EQ(response->at("stuck"), "unprepare claim stuck: busy");
  EXPECT_THAT(response->at("forgotten"), HasSubstr("got no result"));
  EXPECT_THAT(response->at(""), HasSubstr("has no uid"));
  EXPECT_EQ(Counter("tessera_unprepare_claims_total", {{"driver", kDriver}, {"result", "error"}}),
            3);
}

TEST_F(PluginServerTest, EmptyRequestsNeedNoHandler) {
  std::unique_ptr<PluginServer> server = StartOrDie(Options());
  ASSERT_NE(server, nullptr);
  auto client = Connect(*server, DraApiVersion::kV1beta1);
  EXPECT_THAT(client->NodePrepareResources({}), IsOkAndHolds(IsEmpty()));
  EXPECT_THAT(client->NodeUnprepareResources({}), IsOkAndHolds(IsEmpty()));
  EXPECT_THAT(handler_.prepare_calls(), IsEmpty());
}

TEST_F(PluginServerTest, V1beta1GivesTheSameAnswersWithoutShareId) {
  handler_.SetPrepareResult(
      "shared", PrepareResult{.status = absl::OkStatus(),
                              .devices = {{.request_names = {"gpu/half"},
                                           .pool_name = "node-1",
                                           .device_name = "gpu-0",
                                           .cdi_device_ids = {"tessera.dev/gpu=shared-0"},
                                           .share_id = "0a1b2c3d-0000-4000-8000-000000000001"}}});
  handler_.SetPrepareResult("broken", PrepareResult{.status = absl::InternalError("boom")});
  std::unique_ptr<PluginServer> server = StartOrDie(Options());
  ASSERT_NE(server, nullptr);
  std::vector<ClaimRef> request = {Claim("shared", "a"), Claim("plain", "b"), Claim("broken", "c")};

  absl::StatusOr<PrepareResponse> v1 =
      Connect(*server, DraApiVersion::kV1)->NodePrepareResources(request);
  absl::StatusOr<PrepareResponse> v1beta1 =
      Connect(*server, DraApiVersion::kV1beta1)->NodePrepareResources(request);
  ASSERT_THAT(v1, IsOk());
  ASSERT_THAT(v1beta1, IsOk());

  EXPECT_EQ(v1->at("shared").devices.at(0).share_id, "0a1b2c3d-0000-4000-8000-000000000001");
  EXPECT_EQ(v1->at("plain").devices.at(0).share_id, std::nullopt);  // absent, not ""
  for (const auto& [uid, entry] : *v1) {
    const ClaimPrepareResponse& other = v1beta1->at(uid);
    EXPECT_EQ(other.error, entry.error) << uid;
    ASSERT_EQ(other.devices.size(), entry.devices.size()) << uid;
    for (size_t i = 0; i < entry.devices.size(); ++i) {
      PreparedDevice expected = entry.devices[i];
      expected.share_id.reset();
      EXPECT_EQ(other.devices[i], expected) << uid;
    }
  }
  EXPECT_EQ(v1beta1->size(), v1->size());
  EXPECT_EQ(Counter("tessera_kubelet_requests_total", {{"driver", kDriver},
                                                       {"service", "v1beta1.DRAPlugin"},
                                                       {"method", "NodePrepareResources"},
                                                       {"result", "success"}}),
            1);

  // Nothing of share_id leaks onto the v1beta1 wire, not even as an unknown
  // field of Device.
  namespace beta = ::k8s::io::kubelet::pkg::apis::dra::v1beta1;
  auto stub = beta::DRAPlugin::NewStub(grpc::CreateChannel("unix:" + server->paths().dra_socket,
                                                           grpc::InsecureChannelCredentials()));
  beta::NodePrepareResourcesRequest raw_request;
  auto* claim = raw_request.add_claims();
  claim->set_uid("shared");
  claim->set_namespace_("default");
  claim->set_name("a");
  beta::NodePrepareResourcesResponse raw_response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 5s);
  ASSERT_TRUE(stub->NodePrepareResources(&context, raw_request, &raw_response).ok());
  const beta::Device& device = raw_response.claims().at("shared").devices(0);
  // The messages are lite (no reflection): rebuilt from the known fields
  // only, the device must serialize to the same bytes.
  beta::Device known;
  *known.mutable_request_names() = device.request_names();
  known.set_pool_name(device.pool_name());
  known.set_device_name(device.device_name());
  *known.mutable_cdi_device_ids() = device.cdi_device_ids();
  EXPECT_EQ(device.SerializeAsString(), known.SerializeAsString());
}

TEST_F(PluginServerTest, SerializeTimeoutFailsTheWholeCall) {
  PluginServerOptions options = Options();
  options.serialize_max_wait = 2s;
  std::unique_ptr<PluginServer> server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  auto client = Connect(*server, DraApiVersion::kV1);
  handler_.CloseGate();
  std::jthread first([&] { (void)client->NodePrepareResources({Claim("u1", "a")}); });
  ASSERT_TRUE(handler_.WaitForActiveCalls(1));

  absl::StatusOr<UnprepareResponse> second;
  std::jthread waiter([&] { second = client->NodeUnprepareResources({Claim("u2", "b")}); });
  clock_.WaitForSleepers(1);  // parked behind the first call
  clock_.Advance(2s);
  waiter.join();
  EXPECT_THAT(second, StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("held the lock")));
  handler_.OpenGate();
  first.join();
  EXPECT_EQ(handler_.max_concurrent_calls(), 1);
}

TEST_F(PluginServerTest, RollingUpdateInstancesSerializeThroughTheLockFile) {
  // Two instances of one driver (as during a DaemonSet rolling update) with
  // separate in-process locks: only the flock on serialize.lock orders them.
  std::unique_ptr<PluginServer> old_pod = StartOrDie(Options(kUidA));
  ASSERT_NE(old_pod, nullptr);
  std::unique_ptr<PluginServer> new_pod = StartOrDie(Options(kUidB));
  ASSERT_NE(new_pod, nullptr);
  auto old_client = Connect(*old_pod, DraApiVersion::kV1);
  auto new_client = Connect(*new_pod, DraApiVersion::kV1);

  handler_.CloseGate();
  std::jthread first([&] { (void)old_client->NodePrepareResources({Claim("u1", "a")}); });
  ASSERT_TRUE(handler_.WaitForActiveCalls(1));
  absl::StatusOr<PrepareResponse> second;
  std::jthread other([&] { second = new_client->NodePrepareResources({Claim("u2", "b")}); });
  clock_.WaitForSleepers(1);  // the new pod is polling the lock file
  EXPECT_EQ(handler_.active_calls(), 1);

  handler_.OpenGate();
  first.join();
  // Let the poller try again: the lock is free now.
  while (!handler_.WaitForCompletedCalls(2, 0ms)) {
    clock_.Advance(50ms);
    std::this_thread::yield();
  }
  other.join();
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->at("u2").error, "");
  EXPECT_EQ(handler_.max_concurrent_calls(), 1);
}

// ---- health -------------------------------------------------------------------

TEST_F(PluginServerTest, HealthStreamSendsFullListOnChangeAndPeriodically) {
  health_.Report(
      {DeviceHealth{.pool_name = "node-1",
                    .device_name = "gpu-0",
                    .health = HealthStatus::kHealthy,
                    .health_check_timeout = 45s},
       DeviceHealth{
           .pool_name = "node-1", .device_name = "gpu-1", .health = HealthStatus::kHealthy}});
  const auto reported_at = std::chrono::floor<std::chrono::seconds>(clock_.Now());
  std::unique_ptr<PluginServer> server = StartOrDie(Options());
  ASSERT_NE(server, nullptr);
  auto client = Connect(*server, DraApiVersion::kV1);
  auto watch = client->WatchResources(60s);
  ASSERT_THAT(watch, IsOk());

  absl::StatusOr<std::vector<DeviceHealth>> first = (*watch)->Next();
  ASSERT_THAT(first, IsOk());
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].device_name, "gpu-0");
  EXPECT_EQ((*first)[0].health, HealthStatus::kHealthy);
  EXPECT_EQ((*first)[0].health_check_timeout, 45s);
  EXPECT_EQ((*first)[0].last_updated, reported_at);
  EXPECT_EQ((*first)[1].health_check_timeout, 0s);

  // A change goes out at once, as the complete list.
  clock_.WaitForSleepers(1);
  clock_.Advance(3s);
  health_.Report({DeviceHealth{.pool_name = "node-1",
                               .device_name = "gpu-0",
                               .health = HealthStatus::kHealthy,
                               .health_check_timeout = 45s},
                  DeviceHealth{.pool_name = "node-1",
                               .device_name = "gpu-1",
                               .health = HealthStatus::kUnhealthy,
                               .message = "xid 79: fallen off the bus"}});
  absl::StatusOr<std::vector<DeviceHealth>> changed = (*watch)->Next();
  ASSERT_THAT(changed, IsOk());
  ASSERT_EQ(changed->size(), 2u);
  EXPECT_EQ((*changed)[1].health, HealthStatus::kUnhealthy);
  EXPECT_EQ((*changed)[1].message, "xid 79: fallen off the bus");
  EXPECT_EQ((*changed)[1].last_updated, reported_at + 3s);

  // Nothing changes: the list is re-sent after the resend interval, not before.
  clock_.WaitForSleepers(1);
  clock_.Advance(9s);
  EXPECT_EQ(Counter("tessera_kubelet_health_reports_total",
                    {{"driver", kDriver}, {"reason", "periodic"}}),
            0);
  clock_.Advance(1s);
  absl::StatusOr<std::vector<DeviceHealth>> periodic = (*watch)->Next();
  ASSERT_THAT(periodic, IsOk());
  EXPECT_EQ(*periodic, *changed);

  EXPECT_EQ(
      Counter("tessera_kubelet_health_reports_total", {{"driver", kDriver}, {"reason", "initial"}}),
      1);
  EXPECT_EQ(
      Counter("tessera_kubelet_health_reports_total", {{"driver", kDriver}, {"reason", "change"}}),
      1);
  EXPECT_EQ(Counter("tessera_kubelet_health_reports_total",
                    {{"driver", kDriver}, {"reason", "periodic"}}),
            1);
  EXPECT_EQ(metrics_.GetGauge("tessera_kubelet_health_streams", "", {{"driver", kDriver}}).value(),
            1);
}

TEST_F(PluginServerTest, StopEndsOpenHealthStreamsPromptly) {
  health_.Report(
      {DeviceHealth{.pool_name = "p", .device_name = "d", .health = HealthStatus::kHealthy}});
  PluginServerOptions options = Options();
  options.shutdown_grace = 60s;  // a stuck stream would make Stop take this long
  std::unique_ptr<PluginServer> server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  auto client = Connect(*server, DraApiVersion::kV1);
  auto watch = client->WatchResources(120s);
  ASSERT_THAT(watch, IsOk());
  ASSERT_THAT((*watch)->Next(), IsOk());
  clock_.WaitForSleepers(1);

  auto start = std::chrono::steady_clock::now();
  server->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_THAT((*watch)->Next(), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_EQ(metrics_.GetGauge("tessera_kubelet_health_streams", "", {{"driver", kDriver}}).value(),
            0);
}

}  // namespace
}  // namespace tessera::kubelet
