// tessera_kubelet_fake_plugin: a real PluginServer with a scripted claim
// handler, for peers written in other languages (python_peer_test.py).
//
//   tessera_kubelet_fake_plugin --plugin-dir D --registry-dir R
//       [--driver gpu.tessera.dev] [--pod-uid U] [--resend-interval-ms 10000]
//
// Prints one JSON line {"driver", "dra_socket", "registration_socket"} once
// both servers are up. Claims behave by name:
//   fail-*    prepare and unprepare fail with "simulated failure"
//   forget-*  the handler leaves the claim out of its answer
//   shared-*  one device with share_id and request "gpu/half"
//   others    one device {pool-0, dev-<name>, tessera.dev/test=<uid>} for
//             requests "gpu/large" and "nic"
// Health starts as pool-0/dev-a Healthy (timeout 45 s) and pool-0/dev-b
// Unknown ("starting"). A stdin line "health <device> <healthy|unhealthy|
// unknown> [message]" changes a device and answers "ok". The process stops
// cleanly on stdin EOF, SIGTERM or SIGINT.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "nlohmann/json.hpp"

#include "base/clock.h"
#include "base/filesystem.h"
#include "base/log.h"
#include "base/metrics.h"
#include "kubelet/plugin_server.h"

namespace tessera::kubelet {
namespace {

constexpr char kShareId[] = "5f0c7b2e-8d4a-4c3e-9b1a-2e6f7d8c9a0b";

class ScriptedClaimHandler final : public ClaimHandler {
 public:
  std::map<std::string, PrepareResult> Prepare(const std::vector<ClaimRef>& claims) override {
    std::map<std::string, PrepareResult> out;
    for (const ClaimRef& c : claims) {
      if (c.name.starts_with("forget-")) continue;
      if (c.name.starts_with("fail-")) {
        out[c.uid].status = absl::FailedPreconditionError("prepare claim " + c.namespace_ + "/" +
                                                          c.name + ": simulated failure");
      } else if (c.name.starts_with("shared-")) {
        out[c.uid].devices = {{.request_names = {"gpu/half"},
                               .pool_name = "pool-0",
                               .device_name = "dev-a",
                               .cdi_device_ids = {"tessera.dev/test=" + c.uid},
                               .share_id = kShareId}};
      } else {
        out[c.uid].devices = {{.request_names = {"gpu/large", "nic"},
                               .pool_name = "pool-0",
                               .device_name = "dev-" + c.name,
                               .cdi_device_ids = {"tessera.dev/test=" + c.uid}}};
      }
    }
    return out;
  }

  std::map<std::string, absl::Status> Unprepare(const std::vector<ClaimRef>& claims) override {
    std::map<std::string, absl::Status> out;
    for (const ClaimRef& c : claims) {
      if (c.name.starts_with("forget-")) continue;
      out[c.uid] = c.name.starts_with("fail-")
                       ? absl::UnavailableError("unprepare claim " + c.namespace_ + "/" + c.name +
                                                ": simulated failure")
                       : absl::OkStatus();
    }
    return out;
  }
};

struct Flags {
  PluginServerOptions options;
  bool ok = true;
};

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  f.options.driver_name = "gpu.tessera.dev";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) {
      f.ok = false;
      break;
    }
    std::string value = argv[++i];
    if (arg == "--plugin-dir") {
      f.options.plugin_dir = value;
    } else if (arg == "--registry-dir") {
      f.options.registry_dir = value;
    } else if (arg == "--driver") {
      f.options.driver_name = value;
    } else if (arg == "--pod-uid") {
      f.options.pod_uid = value;
    } else if (arg == "--resend-interval-ms") {
      f.options.health_resend_interval = std::chrono::milliseconds(std::stoll(value));
    } else {
      f.ok = false;
    }
  }
  return f;
}

std::vector<DeviceHealth> InitialHealth() {
  return {DeviceHealth{.pool_name = "pool-0",
                       .device_name = "dev-a",
                       .health = HealthStatus::kHealthy,
                       .health_check_timeout = std::chrono::seconds(45)},
          DeviceHealth{.pool_name = "pool-0",
                       .device_name = "dev-b",
                       .health = HealthStatus::kUnknown,
                       .message = "starting"}};
}

// Applies "health <device> <state> [message]"; false when malformed.
bool ApplyHealthCommand(const std::string& line, std::vector<DeviceHealth>& devices) {
  std::istringstream in(line);
  std::string verb, device, state;
  in >> verb >> device >> state;
  std::string message;
  std::getline(in >> std::ws, message);
  if (verb != "health") return false;
  static const std::map<std::string, HealthStatus> kStates = {
      {"healthy", HealthStatus::kHealthy},
      {"unhealthy", HealthStatus::kUnhealthy},
      {"unknown", HealthStatus::kUnknown}};
  auto it = kStates.find(state);
  if (it == kStates.end()) return false;
  for (DeviceHealth& d : devices) {
    if (d.device_name != device) continue;
    d.health = it->second;
    d.message = message;
    d.last_updated = {};  // re-stamped by Report()
    return true;
  }
  return false;
}

int Main(int argc, char** argv) {
  Flags flags = ParseFlags(argc, argv);
  if (!flags.ok) {
    std::cerr << "usage: tessera_kubelet_fake_plugin --plugin-dir D --registry-dir R "
                 "[--driver N] [--pod-uid U] [--resend-interval-ms MS]\n";
    return 2;
  }
  // Signals are taken synchronously by sigwait below; block them everywhere.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);  // stdin EOF
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  (void)base::log::Init(base::log::Options{.level = "info"});
  base::SystemClock clock;
  base::RealFilesystem fs;
  base::metrics::Registry metrics;
  ScriptedClaimHandler handler;
  HealthReporter health(clock);
  std::vector<DeviceHealth> devices = InitialHealth();
  health.Report(devices);

  absl::StatusOr<std::unique_ptr<PluginServer>> server = PluginServer::Create(
      flags.options,
      PluginServerDeps{
          .claims = handler, .health = health, .clock = clock, .fs = fs, .metrics = metrics});
  if (!server.ok()) {
    std::cerr << "start: " << server.status() << "\n";
    return 1;
  }
  std::cout << nlohmann::json{{"driver", flags.options.driver_name},
                              {"dra_socket", (*server)->paths().dra_socket},
                              {"registration_socket", (*server)->paths().registration_socket}}
                   .dump()
            << std::endl;

  // Reads stdin commands until EOF (then wakes main via SIGUSR1) or until
  // main asks it to stop; poll() keeps it from blocking past that.
  std::jthread stdin_reader([&](std::stop_token stop) {
    std::string buffer;
    char chunk[512];
    while (!stop.stop_requested()) {
      pollfd p{.fd = STDIN_FILENO, .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      ssize_t n = ::read(STDIN_FILENO, chunk, sizeof(chunk));
      if (n <= 0) break;
      buffer.append(chunk, static_cast<size_t>(n));
      for (size_t eol; (eol = buffer.find('\n')) != std::string::npos;) {
        std::string line = buffer.substr(0, eol);
        buffer.erase(0, eol + 1);
        bool ok = ApplyHealthCommand(line, devices);
        if (ok) health.Report(devices);
        std::cout << (ok ? "ok" : "error: bad command") << std::endl;
      }
    }
    if (!stop.stop_requested()) ::kill(::getpid(), SIGUSR1);
  });

  int signal = 0;
  sigwait(&signals, &signal);
  stdin_reader.request_stop();
  stdin_reader.join();
  (*server)->Stop();
  return 0;
}

}  // namespace
}  // namespace tessera::kubelet

int main(int argc, char** argv) { return tessera::kubelet::Main(argc, argv); }
