// topology_bench: how long building the node model takes, as a ratio to
// `lstopo-no-graphics --of xml` on the same input in the same run.
//
// For every shared capture (../shared/topologies: two hwloc XML exports, two
// sysfs tarballs, unpacked once into a temporary directory) and the bundled
// simulated node, it measures interleaved, N times each:
//   lstopo   `lstopo-no-graphics -i <input> --of xml -`, a process;
//   model    LoadTopology() in this process: building the model, the figure
//            the budget applies to;
//   start    this binary re-run as `--load-quiet <kind> <input>`: process start
//            (dynamic linking) plus building the model, no output;
//   process  this binary re-run as `--load <kind> <input>`: also prints the
//            model's JSON, like `node-debug topology --output json`.
// It prints medians and ratios, the worst process/lstopo ratio, and last the
// worst model/lstopo ratio over the shared captures. Budget: 1.20. Exit
// status 1 when over budget.
//
//   build/topology/topology_bench [--runs N] [--shared DIR] [--repo DIR]
// (--repo: the source tree holding test/testdata, default the one built from)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "spdlog/fmt/fmt.h"

#include "base/command_runner.h"
#include "topology/json.h"
#include "topology/loader.h"

namespace tessera::topology {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr double kBudget = 1.20;

struct Input {
  std::string name;
  std::string kind;  // "xml" or "sysfs"
  std::string path;
  bool shared = true;  // counts for the budget
};

TopologySource SourceOf(const std::string& kind, const std::string& path) {
  return kind == "xml" ? TopologySource::HwlocXml(path) : TopologySource::SysfsRoot(path);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Times one process run; -1 when it failed.
double TimeProcess(base::CommandRunner& runner, const std::vector<std::string>& argv) {
  const auto start = Clock::now();
  auto result = runner.Run({.argv = argv, .timeout = std::chrono::seconds(60)});
  const double ms = Ms(Clock::now() - start);
  if (!result.ok() || result->exit_code != 0 || result->stdout_data.empty()) {
    std::cerr << "topology_bench: " << argv[0] << " failed: "
              << (result.ok() ? result->stderr_data : std::string(result.status().message()))
              << "\n";
    return -1;
  }
  return ms;
}

class TempRoot {
 public:
  TempRoot() {
    std::string tmpl = (fs::temp_directory_path() / "tessera-bench-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempRoot() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

int LoadOnce(const std::string& kind, const std::string& path, bool print) {
  auto t = LoadTopology(SourceOf(kind, path));
  if (!t.ok()) {
    std::cerr << t.status() << "\n";
    return 1;
  }
  if (print) {
    std::cout << TopologyToJson(*t).dump(-1, ' ', false, Json::error_handler_t::replace) << "\n";
  } else {
    std::cout << t->devices.size() << "\n";
  }
  return 0;
}

int Run(int argc, char** argv) {
  int runs = 21;
  std::string repo = TESSERA_SOURCE_DIR;
  std::string shared;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--load" && i + 2 < argc) return LoadOnce(argv[i + 1], argv[i + 2], true);
    if (a == "--load-quiet" && i + 2 < argc) return LoadOnce(argv[i + 1], argv[i + 2], false);
    if (a == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--shared" && i + 1 < argc) {
      shared = argv[++i];
    } else if (a == "--repo" && i + 1 < argc) {
      repo = argv[++i];
    } else {
      std::cerr << "usage: topology_bench [--runs N] [--shared DIR] [--repo DIR]\n";
      return 2;
    }
  }
  if (shared.empty()) shared = repo + "/../shared/topologies";
  const std::string self = fs::canonical("/proc/self/exe").string();
  base::ProcessCommandRunner runner;
  TempRoot tmp;

  std::vector<Input> inputs;
  std::error_code ec;
  if (fs::is_directory(shared, ec)) {
    inputs.push_back({"jurecadc-4xa100-4xhdr (xml)", "xml",
                      shared + "/xml-psmgmt-jurecadc-4xa100-4xhdr/topo.jrc0323.xml"});
    inputs.push_back(
        {"corona-8xmi50 (xml)", "xml", shared + "/xml-mpibind-corona-8xmi50/epyc-corona-p2.xml"});
    struct Tar {
      std::string name, folder, file, top;
    };
    for (const Tar& t : {Tar{"32em64t-mlx4-mic (sysfs)", "hwloc-32em64t-2n8c-mlx4-mic-nvme",
                             "32em64t-2n8c+dax+nvme+mic+dimms.tar.bz2", "32em64t-2n8c+1mic"},
                         Tar{"64amd64-8numa (sysfs)", "hwloc-64amd64-4s-8numa",
                             "64amd64-4s2n4ca2co.tar.bz2", "64amd64-4s2n4ca2co"}}) {
      auto r = runner.Run(
          {.argv = {"tar", "-xjf", shared + "/" + t.folder + "/" + t.file, "-C", tmp.path()},
           .timeout = std::chrono::seconds(300)});
      if (!r.ok() || r->exit_code != 0) {
        std::cerr << "topology_bench: cannot unpack " << t.file << "\n";
        return 1;
      }
      inputs.push_back({t.name, "sysfs", tmp.path() + "/" + t.top});
    }
  } else {
    std::cerr << "topology_bench: " << shared << " is absent; only the bundled node is measured\n";
  }
  inputs.push_back({"bundled sim-8xh100-8xcx7 (sysfs)", "sysfs",
                    repo + "/test/testdata/nodes/sim-8xh100-8xcx7", false});

  std::cout << fmt::format("{:<34} {:>9} {:>9} {:>9} {:>9} {:>11} {:>12}\n",
                           "input (median of " + std::to_string(runs) + ", ms)", "lstopo", "model",
                           "start", "process", "model/lstopo", "process/lstopo");
  double worst_model = 0;
  double worst_process = 0;
  for (const Input& in : inputs) {
    std::vector<double> lstopo, model, start, process;
    for (int i = 0; i < runs; ++i) {
      const double l =
          TimeProcess(runner, {"lstopo-no-graphics", "-i", in.path, "--of", "xml", "-"});
      const auto t0 = Clock::now();
      auto t = LoadTopology(SourceOf(in.kind, in.path));
      const double m = Ms(Clock::now() - t0);
      const double s = TimeProcess(runner, {self, "--load-quiet", in.kind, in.path});
      const double p = TimeProcess(runner, {self, "--load", in.kind, in.path});
      if (l < 0 || s < 0 || p < 0 || !t.ok()) return 1;
      lstopo.push_back(l);
      model.push_back(m);
      start.push_back(s);
      process.push_back(p);
    }
    const double lm = Median(lstopo);
    const double model_ratio = Median(model) / lm;
    const double process_ratio = Median(process) / lm;
    if (in.shared) {
      worst_model = std::max(worst_model, model_ratio);
      worst_process = std::max(worst_process, process_ratio);
    }
    std::cout << fmt::format("{:<34} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} {:>11.2f} {:>12.2f}\n",
                             in.name, lm, Median(model), Median(start), Median(process),
                             model_ratio, process_ratio);
  }
  if (worst_model == 0) {
    std::cout << "ratio: no shared capture measured\n";
    return 0;
  }
  std::cout << fmt::format(
      "worst process/lstopo ratio (process start and JSON output included): {:.2f}\n",
      worst_process);
  std::cout << fmt::format(
      "ratio (worst shared capture, model build / lstopo --of xml): {:.2f} (budget {:.2f}) {}\n",
      worst_model, kBudget, worst_model <= kBudget ? "OK" : "OVER BUDGET");
  return worst_model <= kBudget ? 0 : 1;
}

}  // namespace
}  // namespace tessera::topology

int main(int argc, char** argv) { return tessera::topology::Run(argc, argv); }
