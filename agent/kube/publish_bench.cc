// tessera_publish_bench: publishes a 1,024-device node (16 GPUs x 64
// partitions, 16 counter sets, 18 slices) with the real publisher and REST
// client to the fake API server over loopback, and compares with the budgets
// of BENCHMARKS.md:
//   API writes: exactly the number of slices on first publish, 0 on an
//               unchanged resync, 1 when one slice changed;
//   wall time:  under 1 s for the first publish.
// Prints one line per measurement as ratios to the budget; the last line is
// the figure. Exit code 1 when a budget is missed.
//   usage: tessera_publish_bench [repetitions]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "agent/kube/resource_slice_publisher.h"
#include "agent/kube/rest_kube_client.h"
#include "base/filesystem.h"
#include "base/log.h"
#include "test/fake_apiserver/fake_apiserver.h"
#include "test/fakes/kube/inventories.h"
#include "test/fakes/kube/pool_checks.h"

namespace tessera {
namespace {

using Clock = std::chrono::steady_clock;
namespace kube = agent::kube;

constexpr double kWallBudgetMs = 1000;

struct Round {
  double first_ms = 0;
  uint64_t first_writes = 0;
  uint64_t first_reads = 0;
  size_t slices = 0;
  double resync_ms = 0;
  uint64_t resync_calls = 0;
  double change_ms = 0;
  uint64_t change_writes = 0;
  bool converged = false;
};

uint64_t Reads(const testing::RequestCounts& c) {
  uint64_t n = 0;
  for (const char* verb : {"list", "get"}) {
    auto it = c.by_verb.find(verb);
    if (it != c.by_verb.end()) n += it->second;
  }
  return n;
}

absl::StatusOr<Round> RunOnce() {
  Round r;
  absl::StatusOr<std::unique_ptr<testing::FakeApiServer>> server = testing::FakeApiServer::Start();
  if (!server.ok()) return server.status();
  (*server)->store().AddNode("node-a");
  base::RealFilesystem fs;
  base::SystemClock clock;
  base::metrics::Registry metrics;
  absl::StatusOr<std::unique_ptr<kube::RestKubeClient>> client =
      kube::RestKubeClient::Create({.server = (*server)->url()}, fs, clock, metrics);
  if (!client.ok()) return client.status();
  kube::PublisherOptions options{.driver = "gpu.tessera.dev", .node_name = "node-a"};
  options.build.partitionable_devices = true;
  absl::StatusOr<std::unique_ptr<kube::Publisher>> publisher =
      kube::Publisher::Create(**client, clock, metrics, options);
  if (!publisher.ok()) return publisher.status();
  kube::Publisher& p = **publisher;
  std::jthread loop([&](std::stop_token stop) { p.Run(stop); });
  auto wait_until = Clock::now() + std::chrono::seconds(10);
  while (!p.CacheSynced() && Clock::now() < wait_until) std::this_thread::yield();
  if (!p.CacheSynced()) return absl::DeadlineExceededError("informer did not sync");

  drivers::Inventory inventory = testing::PartitionedGpuNode(16, 64);
  // First publish: build, validate, create every slice.
  (*server)->ResetCounts();
  auto t0 = Clock::now();
  absl::Status s = p.SetInventory(inventory);
  if (s.ok()) s = p.Sync();
  r.first_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (!s.ok()) return s;
  testing::RequestCounts counts = (*server)->counts();
  r.first_writes = counts.writes();
  r.first_reads = Reads(counts);
  r.slices = p.desired()->slices.size();

  // Unchanged resync: the inventory is set again and synced.
  (*server)->ResetCounts();
  t0 = Clock::now();
  s = p.SetInventory(inventory);
  if (s.ok()) s = p.Sync();
  r.resync_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (!s.ok()) return s;
  counts = (*server)->counts();
  r.resync_calls = counts.total() - counts.by_verb["watch"];

  // One device of one slice changes.
  inventory.devices[500].attributes["migProfile"] = std::string("2g.20gb");
  (*server)->ResetCounts();
  t0 = Clock::now();
  s = p.SetInventory(inventory);
  if (s.ok()) s = p.Sync();
  r.change_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (!s.ok()) return s;
  r.change_writes = (*server)->counts().writes();
  r.converged = testing::PoolConverged((*server)->store().Slices(), *p.desired());
  return r;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Main(int repetitions) {
  base::log::Options quiet;
  quiet.level = "warn";
  (void)base::log::Init(quiet);
  std::vector<Round> rounds;
  for (int i = 0; i < repetitions; ++i) {
    absl::StatusOr<Round> r = RunOnce();
    if (!r.ok()) {
      std::fprintf(stderr, "tessera_publish_bench: %s\n", r.status().ToString().c_str());
      return 2;
    }
    rounds.push_back(*r);
  }
  bool ok = true;
  std::vector<double> first, resync, change;
  for (const Round& r : rounds) {
    first.push_back(r.first_ms);
    resync.push_back(r.resync_ms);
    change.push_back(r.change_ms);
    ok = ok && r.converged && r.first_writes == r.slices && r.resync_calls == 0 &&
         r.change_writes == 1;
  }
  const Round& last = rounds.back();
  double first_ms = Median(first);
  ok = ok && first_ms < kWallBudgetMs;
  std::printf("devices=1024 slices=%zu repetitions=%d (median wall time)\n", last.slices,
              repetitions);
  std::printf(
      "first_publish:    api_writes=%llu budget=%zu ratio=%.2f  reads=%llu (node lookup)  "
      "wall_ms=%.1f budget_ms=%.0f ratio=%.3f\n",
      static_cast<unsigned long long>(last.first_writes), last.slices,
      static_cast<double>(last.first_writes) / static_cast<double>(last.slices),
      static_cast<unsigned long long>(last.first_reads), first_ms, kWallBudgetMs,
      first_ms / kWallBudgetMs);
  std::printf("unchanged_resync: api_calls=%llu budget=0 %s  wall_ms=%.2f\n",
              static_cast<unsigned long long>(last.resync_calls),
              last.resync_calls == 0 ? "within" : "OVER", Median(resync));
  std::printf("one_changed_slice: api_writes=%llu budget=1 ratio=%.2f  wall_ms=%.2f\n",
              static_cast<unsigned long long>(last.change_writes),
              static_cast<double>(last.change_writes), Median(change));
  std::printf("figure: publish_1024_devices wall_ratio=%.3f api_write_ratio=%.2f %s\n",
              first_ms / kWallBudgetMs,
              static_cast<double>(last.first_writes) / static_cast<double>(last.slices),
              ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace tessera

int main(int argc, char** argv) {
  int repetitions = argc > 1 ? std::atoi(argv[1]) : 5;
  if (repetitions < 1) repetitions = 1;
  return tessera::Main(repetitions);
}
