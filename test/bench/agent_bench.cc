// tessera_agent_bench: the agent's budgets, measured on the bundled simulated
// node (8 H100 through the fake NVML, 8 ConnectX-7), each as a ratio.
//
//   startup     exec of the real tessera-agent (gpu, rdma, npu) to every
//               driver registered by a kubelet peer and its slices published
//               to the fake API server over loopback. Budget 150 ms (median).
//   footprint   RSS of the real tessera-agent process after start and after
//               1,000 prepared claims. Budget 24 MiB.
//   prepare     latency of NodePrepareResources for a one-device claim over
//               the real socket, p50 and p99, against the floor measured in
//               the same run, interleaved: an empty NodePrepareResources on
//               the same socket plus two fsync'd small writes in the same
//               state directory. Budget p50 <= 1.5x, p99 <= 3x.
//   throughput  prepare+unprepare cycles per second, one call at a time as
//               the kubelet serializes them, and fsync calls per prepare and
//               per unprepare (budget: <= 2 and <= 1).
//
// Usage: tessera_agent_bench [--iterations N] [--claims N] [section...]
// Prints one "figure:" line per budget, the last line is the summary; exit
// code 1 when a budget is missed. Needs root (the simulated device nodes are
// made with mknod).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"
#include "spdlog/fmt/fmt.h"

#include "agent/app/agent.h"
#include "base/clock.h"
#include "base/command_runner.h"
#include "base/filesystem.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "kubelet/kubelet_client.h"
#include "test/fake_apiserver/fake_apiserver.h"

namespace tessera::bench {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;
using base::StrCat;

constexpr char kNode[] = "bench-node";
// The whole GPUs of the bundled node with the h100-80gb-8 NVML fixture (the
// last two are in MIG mode: they are published as their MIG devices).
constexpr const char* kGpus[] = {"gpu-0000-1a-00-0", "gpu-0000-1e-00-0", "gpu-0000-3c-00-0",
                                 "gpu-0000-40-00-0", "gpu-0000-9c-00-0", "gpu-0000-a0-00-0"};
constexpr int kWholeGpus = sizeof(kGpus) / sizeof(kGpus[0]);

std::string Source(std::string_view rel) { return StrCat(TESSERA_SOURCE_DIR, "/", rel); }
std::string NvmlConfig() { return Source("test/testdata/nvml/h100-80gb-8.json"); }
std::string BundledNode() { return Source("test/testdata/nodes/sim-8xh100-8xcx7"); }

struct Figure {
  std::string name;
  double value = 0;
  double budget = 0;
  std::string unit;
  bool pass() const { return value <= budget; }
};
std::vector<Figure> figures;

void Report(std::string name, double value, double budget, std::string unit) {
  Figure f{std::move(name), value, budget, std::move(unit)};
  fmt::print("figure: {} {:.3f}{} budget={}{} ratio={:.2f} {}\n", f.name, f.value, f.unit, f.budget,
             f.unit, f.value / f.budget, f.pass() ? "PASS" : "FAIL");
  std::fflush(stdout);
  figures.push_back(std::move(f));
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

double Ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

class WorkDir {
 public:
  WorkDir() {
    std::string tmpl = "/tmp/tessera-bench-XXXXXX";
    path_ = ::mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
  }
  ~WorkDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  std::string Sub(std::string_view rel) const { return StrCat(path_, "/", rel); }

 private:
  std::string path_;
};

std::string ClaimUid(int i) { return fmt::format("00000000-0000-4000-8000-{:012d}", i); }
kubelet::ClaimRef Ref(int i) {
  return {.uid = ClaimUid(i), .namespace_ = "default", .name = StrCat("c", i)};
}

// `n` one-GPU claims in the standalone store (round-robin over the GPUs: the
// agent trusts the scheduler's allocation).
void WriteClaims(const WorkDir& dir, int n) {
  const std::string claims = dir.Sub("state/cluster/resourceclaims/default");
  fs::create_directories(claims);
  for (int i = 0; i < n; ++i) {
    Json c = {
        {"apiVersion", "resource.k8s.io/v1"},
        {"kind", "ResourceClaim"},
        {"metadata", {{"namespace", "default"}, {"name", StrCat("c", i)}, {"uid", ClaimUid(i)}}}};
    c["status"]["allocation"]["devices"]["results"] =
        Json::array({{{"request", "gpu"},
                      {"driver", "gpu.tessera.dev"},
                      {"pool", kNode},
                      {"device", kGpus[i % kWholeGpus]}}});
    std::ofstream(StrCat(claims, "/c", i, ".json")) << c.dump();
  }
}

std::vector<std::string> CommonFlags(const WorkDir& dir) {
  return {"--node-name",    kNode,
          "--sysfs-root",   BundledNode(),
          "--nvml-lib",     TESSERA_FAKE_NVML_LIB,
          "--plugin-dir",   dir.Sub("plugins"),
          "--registry-dir", dir.Sub("registry"),
          "--cdi-dir",      dir.Sub("cdi"),
          "--state-dir",    dir.Sub("state"),
          "--log-level",    "error"};
}

// TESSERA_BENCH_AGENT replaces the agent binary, e.g. with a script that
// runs it under heaptrack to see where a footprint figure comes from.
pid_t SpawnAgent(std::vector<std::string> args) {
  const char* agent = std::getenv("TESSERA_BENCH_AGENT");
  args.insert(args.begin(), agent != nullptr && *agent != '\0' ? agent : TESSERA_AGENT_BIN);
  const std::string nvml = NvmlConfig();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("TESSERA_FAKE_NVML_CONFIG", nvml.c_str(), 1);
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

void StopAgent(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

bool Alive(pid_t pid) {
  int status = 0;
  return ::waitpid(pid, &status, WNOHANG) == 0;
}

// A field of /proc/<pid>/smaps_rollup in MiB ("Pss:", "Pss_Anon:").
double SmapsMiB(pid_t pid, std::string_view field) {
  std::ifstream in(StrCat("/proc/", pid, "/smaps_rollup"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(field)) return std::stod(line.substr(field.size())) / 1024.0;
  }
  return -1;
}

// With --smaps: the mappings of /proc/<pid>/smaps summed per file (anonymous
// mappings as "[anon]"), the largest first, so that a footprint regression
// names the library or heap that grew.
bool print_smaps = false;
void PrintSmaps(pid_t pid, std::string_view when) {
  if (!print_smaps) return;
  std::ifstream in(StrCat("/proc/", pid, "/smaps"));
  std::map<std::string, std::pair<double, double>> by_file;  // rss, private dirty (KiB)
  std::string line, current;
  while (std::getline(in, line)) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) &&
        line.find('-') < line.find(' ')) {
      std::istringstream fields(line);
      std::string range, perms, offset, dev, inode, path;
      fields >> range >> perms >> offset >> dev >> inode;
      std::getline(fields >> std::ws, path);
      current = path.empty() ? "[anon]" : fs::path(path).filename().string();
    } else if (line.starts_with("Rss:")) {
      by_file[current].first += std::stod(line.substr(4));
    } else if (line.starts_with("Private_Dirty:")) {
      by_file[current].second += std::stod(line.substr(14));
    }
  }
  std::vector<std::pair<std::string, std::pair<double, double>>> rows(by_file.begin(),
                                                                      by_file.end());
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  fmt::print("smaps {}: mapping rss_kib private_dirty_kib\n", when);
  for (size_t i = 0; i < rows.size() && i < 25; ++i) {
    fmt::print("  {:<40} {:>8.0f} {:>8.0f}\n", rows[i].first, rows[i].second.first,
               rows[i].second.second);
  }
}

double RssMiB(pid_t pid) {
  std::ifstream in(StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmRSS:")) return std::stod(line.substr(6)) / 1024.0;
  }
  return -1;
}

// ------------------------------------------------------------- startup

absl::Status Startup(int runs) {
  std::vector<double> ms;
  for (int run = 0; run < runs; ++run) {
    WorkDir dir;
    ASSIGN_OR_RETURN(auto api, testing::FakeApiServer::Start());
    api->store().AddNode(kNode);
    std::ofstream(dir.Sub("kubeconfig"))
        << "apiVersion: v1\nkind: Config\ncurrent-context: b\nclusters: [{name: b, cluster: "
           "{server: \""
        << api->url() << "\"}}]\ncontexts: [{name: b, context: {cluster: b}}]\n";
    std::vector<std::string> args = CommonFlags(dir);
    args.insert(args.end(), {"--kubeconfig", dir.Sub("kubeconfig")});

    const SteadyClock::time_point t0 = SteadyClock::now();
    const pid_t pid = SpawnAgent(args);
    std::set<std::string> registered;
    const std::set<std::string> want = {"gpu.tessera.dev", "rdma.tessera.dev", "npu.tessera.dev"};
    bool published = false;
    while (SteadyClock::now() - t0 < std::chrono::seconds(20) && Alive(pid)) {
      // The kubelet's plugin watcher: register each socket as it appears.
      if (auto sockets = kubelet::FindRegistrationSockets(dir.Sub("registry")); sockets.ok()) {
        for (const std::string& s : *sockets) {
          if (registered.size() == want.size()) break;
          auto p = kubelet::GetPluginInfo(s);
          if (!p.ok() || registered.contains(p->name)) continue;
          if (kubelet::RegisterPlugin(s).ok()) registered.insert(p->name);
        }
      }
      if (!published) {
        std::set<std::string> drivers;
        for (const Json& s : api->store().Slices()) drivers.insert(s["spec"]["driver"]);
        published = drivers == want;
      }
      if (published && registered == want) break;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    const double t = Ms(SteadyClock::now() - t0);
    StopAgent(pid);
    if (!published || registered != want) {
      return absl::DeadlineExceededError(fmt::format(
          "startup: run {}: registered {} of 3, published {}", run, registered.size(), published));
    }
    ms.push_back(t);
    fmt::print("startup run {}: {:.1f} ms\n", run, t);
  }
  Report("startup_ms_median", Percentile(ms, 0.5), 150, "ms");
  return absl::OkStatus();
}

// ------------------------------------------------------------- footprint

absl::Status Footprint(int claims) {
  WorkDir dir;
  WriteClaims(dir, claims);
  std::vector<std::string> args = CommonFlags(dir);
  args.insert(args.end(), {"--standalone", "--dev-root", dir.Sub("dev")});
  const pid_t pid = SpawnAgent(args);
  const std::string sock = dir.Sub("plugins/gpu.tessera.dev/dra.sock");
  std::unique_ptr<kubelet::DraPluginClient> client;
  for (int i = 0; i < 2000 && client == nullptr && Alive(pid); ++i) {
    if (fs::exists(sock)) {
      if (auto c = kubelet::DraPluginClient::Connect(sock, kubelet::DraApiVersion::kV1); c.ok()) {
        client = *std::move(c);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (client == nullptr) {
    StopAgent(pid);
    return absl::UnavailableError("footprint: the agent did not serve its DRA socket");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // first publish and rescan settle
  const double at_start = RssMiB(pid);
  const double pss_start = SmapsMiB(pid, "Pss:"), anon_start = SmapsMiB(pid, "Pss_Anon:");
  PrintSmaps(pid, "after start");
  for (int i = 0; i < claims; ++i) {
    absl::StatusOr<kubelet::PrepareResponse> r = client->NodePrepareResources({Ref(i)});
    if (!r.ok() || !kubelet::CheckPrepareResponse({Ref(i)}, *r).ok()) {
      StopAgent(pid);
      return absl::InternalError(fmt::format("footprint: prepare of claim {} failed", i));
    }
  }
  const double after = RssMiB(pid);
  const double pss_after = SmapsMiB(pid, "Pss:"), anon_after = SmapsMiB(pid, "Pss_Anon:");
  PrintSmaps(pid, fmt::format("after {} claims", claims));
  StopAgent(pid);
  // RSS counts every shared-library page the process touched (libgrpc,
  // libcrypto, libstdc++...), shared with other processes; PSS splits them,
  // anon is the agent's own heap and stacks.
  fmt::print(
      "footprint: after start rss {:.1f} MiB pss {:.1f} MiB anon {:.1f} MiB; after {} "
      "prepared claims rss {:.1f} MiB pss {:.1f} MiB anon {:.1f} MiB\n",
      at_start, pss_start, anon_start, claims, after, pss_after, anon_after);
  Report("rss_after_start_mib", at_start, 24, "MiB");
  Report(fmt::format("rss_after_{}_claims_mib", claims), after, 24, "MiB");
  return absl::OkStatus();
}

// ------------------------------------------------ prepare and throughput

// An in-process agent (gpu driver) on the real filesystem, so that its fsync
// calls are counted.
struct InProcess {
  WorkDir dir;
  base::SystemClock clock;
  base::RealFilesystem fs;
  base::ProcessCommandRunner commands;
  base::metrics::Registry metrics;
  std::unique_ptr<agent::Agent> agent;
  std::unique_ptr<kubelet::DraPluginClient> client;

  absl::Status Start(int claims) {
    ::setenv("TESSERA_FAKE_NVML_CONFIG", NvmlConfig().c_str(), 1);
    WriteClaims(dir, claims);
    agent::Config c;
    c.node_name = kNode;
    c.standalone = true;
    c.drivers = {"gpu"};
    c.sysfs_root = BundledNode();
    c.nvml_lib = TESSERA_FAKE_NVML_LIB;
    c.plugin_dir = dir.Sub("plugins");
    c.registry_dir = dir.Sub("registry");
    c.cdi_dir = dir.Sub("cdi");
    c.state_dir = dir.Sub("state");
    c.dev_root = dir.Sub("dev");
    c.rescan_interval = std::chrono::seconds(3600);
    ASSIGN_OR_RETURN(
        agent,
        agent::Agent::Create(
            c, agent::Host{.clock = clock, .fs = fs, .commands = commands, .metrics = metrics}));
    RETURN_IF_ERROR(agent->Start());
    ASSIGN_OR_RETURN(client,
                     kubelet::DraPluginClient::Connect(dir.Sub("plugins/gpu.tessera.dev/dra.sock"),
                                                       kubelet::DraApiVersion::kV1));
    return absl::OkStatus();
  }
};

absl::Status PrepareOne(kubelet::DraPluginClient& client, int i) {
  ASSIGN_OR_RETURN(kubelet::PrepareResponse r, client.NodePrepareResources({Ref(i)}));
  return kubelet::CheckPrepareResponse({Ref(i)}, r);
}

absl::Status UnprepareOne(kubelet::DraPluginClient& client, int i) {
  ASSIGN_OR_RETURN(kubelet::UnprepareResponse r, client.NodeUnprepareResources({Ref(i)}));
  return kubelet::CheckUnprepareResponse({Ref(i)}, r);
}

// The floor's disk part: two small fsync'd writes in the state directory
// (what a prepare must at least make durable: the CDI spec and the
// checkpoint record).
absl::Status TwoSyncedWrites(const std::string& dir) {
  static const std::string payload(512, 'x');
  for (const char* name : {"floor-a", "floor-b"}) {
    const int fd = ::open(StrCat(dir, "/", name).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return absl::InternalError("floor: open failed");
    const bool ok =
        ::write(fd, payload.data(), payload.size()) == static_cast<ssize_t>(payload.size()) &&
        ::fdatasync(fd) == 0;
    ::close(fd);
    if (!ok) return absl::InternalError("floor: write or fdatasync failed");
  }
  return absl::OkStatus();
}

absl::Status Prepare(int iterations) {
  InProcess p;
  RETURN_IF_ERROR(p.Start(iterations));
  std::vector<double> floor, prepare;
  for (int i = 0; i < iterations; ++i) {
    SteadyClock::time_point t = SteadyClock::now();
    RETURN_IF_ERROR(p.client->NodePrepareResources({}).status());  // empty call, same socket
    RETURN_IF_ERROR(TwoSyncedWrites(p.dir.Sub("state")));
    floor.push_back(Ms(SteadyClock::now() - t));

    t = SteadyClock::now();
    RETURN_IF_ERROR(PrepareOne(*p.client, i));
    prepare.push_back(Ms(SteadyClock::now() - t));
    RETURN_IF_ERROR(UnprepareOne(*p.client, i));
  }
  const double f50 = Percentile(floor, 0.5), f99 = Percentile(floor, 0.99);
  const double p50 = Percentile(prepare, 0.5), p99 = Percentile(prepare, 0.99);
  fmt::print(
      "prepare: floor p50 {:.3f} ms p99 {:.3f} ms; prepare p50 {:.3f} ms p99 {:.3f} ms "
      "({} iterations)\n",
      f50, f99, p50, p99, iterations);
  Report("prepare_p50_over_floor", p50 / f50, 1.5, "x");
  Report("prepare_p99_over_floor", p99 / f99, 3.0, "x");
  return absl::OkStatus();
}

absl::Status Throughput(int iterations) {
  InProcess p;
  RETURN_IF_ERROR(p.Start(iterations));
  // Per call: what the call itself made durable. The checkpoint's compaction
  // (a snapshot every 256 journal records: four fsyncs) lands on whichever
  // call crosses the threshold; it is reported amortized, per cycle.
  std::vector<double> prepare_syncs, unprepare_syncs;
  const uint64_t start_syncs = p.fs.fsync_count();
  const SteadyClock::time_point t0 = SteadyClock::now();
  for (int i = 0; i < iterations; ++i) {
    uint64_t before = p.fs.fsync_count();
    RETURN_IF_ERROR(PrepareOne(*p.client, i));
    prepare_syncs.push_back(static_cast<double>(p.fs.fsync_count() - before));
    before = p.fs.fsync_count();
    RETURN_IF_ERROR(UnprepareOne(*p.client, i));
    unprepare_syncs.push_back(static_cast<double>(p.fs.fsync_count() - before));
  }
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  const double per_cycle =
      static_cast<double>(p.fs.fsync_count() - start_syncs) / static_cast<double>(iterations);
  fmt::print(
      "throughput: {:.0f} prepare+unprepare cycles/s ({} cycles in {:.2f} s); fsync calls "
      "per prepare p50 {:.0f} max {:.0f}, per unprepare p50 {:.0f} max {:.0f}, per cycle "
      "amortized {:.3f} (compaction included)\n",
      iterations / seconds, iterations, seconds, Percentile(prepare_syncs, 0.5),
      Percentile(prepare_syncs, 1.0), Percentile(unprepare_syncs, 0.5),
      Percentile(unprepare_syncs, 1.0), per_cycle);
  Report("fsyncs_per_prepare_p50", Percentile(prepare_syncs, 0.5), 2, "");
  Report("fsyncs_per_unprepare_p50", Percentile(unprepare_syncs, 0.5), 1, "");
  Report("fsyncs_per_cycle_amortized", per_cycle, 3, "");
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  int iterations = 500, claims = 1000, runs = 5;
  std::set<std::string> sections;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--iterations" && i + 1 < argc) {
      iterations = std::atoi(argv[++i]);
    } else if (a == "--claims" && i + 1 < argc) {
      claims = std::atoi(argv[++i]);
    } else if (a == "--runs" && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else if (a == "--smaps") {
      print_smaps = true;
    } else if (a == "-h" || a == "--help") {
      std::cout << "usage: tessera_agent_bench [--iterations N] [--claims N] [--runs N] [--smaps] "
                   "[startup|footprint|prepare|throughput]...\n"
                   "  --smaps  with footprint: print the resident memory per mapping\n";
      return 0;
    } else {
      sections.insert(a);
    }
  }
  if (::geteuid() != 0) {
    std::cerr << "tessera_agent_bench: needs root (mknod of the simulated device nodes)\n";
    return 2;
  }
  (void)base::log::Init({.level = "error"});
  const std::vector<std::pair<std::string, std::function<absl::Status()>>> all = {
      {"startup", [&] { return Startup(runs); }},
      {"footprint", [&] { return Footprint(claims); }},
      {"prepare", [&] { return Prepare(iterations); }},
      {"throughput", [&] { return Throughput(iterations); }},
  };
  bool ok = true;
  for (const auto& [name, run] : all) {
    if (!sections.empty() && !sections.contains(name)) continue;
    if (absl::Status s = run(); !s.ok()) {
      std::cerr << name << ": " << base::Std(s.message()) << "\n";
      ok = false;
    }
  }
  int passed = 0;
  for (const Figure& f : figures) passed += f.pass() ? 1 : 0;
  fmt::print("figure: agent budgets {}/{} met{}\n", passed, figures.size(),
             ok ? "" : " (a section failed to run)");
  return ok && passed == static_cast<int>(figures.size()) ? 0 : 1;
}

}  // namespace
}  // namespace tessera::bench

int main(int argc, char** argv) { return tessera::bench::Main(argc, argv); }
