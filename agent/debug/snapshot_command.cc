// node-debug snapshot DIR: copies what topology discovery reads from this
// host (or from --sysfs-root) into DIR, with an hwloc XML export, so that
// `node-debug topology --sysfs-root DIR` shows the same node elsewhere: a
// test fixture or a bug report attachment. See docs/topology.md.
#include "CLI/CLI.hpp"

#include "agent/debug/command.h"
#include "agent/debug/options.h"
#include "agent/debug/output.h"
#include "topology/snapshot.h"

namespace tessera::agent::debug {
namespace {

class SnapshotCommand final : public Command {
 public:
  std::string_view name() const override { return "snapshot"; }
  std::string_view summary() const override {
    return "Copy the sysfs/procfs files discovery reads, plus an hwloc XML export, into a "
           "directory";
  }
  void AddOptions(CLI::App& app) override {
    app.add_option("dir", out_dir_, "Directory to write (must not exist or be empty)")->required();
    CLI::Option* root = app.add_option("--sysfs-root", sysfs_root_,
                                       "Snapshot a captured root instead of this host");
    CLI::Option* host = app.add_option("--host-root", host_root_,
                                       "Root of the host's filesystem when running in a container")
                            ->envname("HOST_ROOT")
                            ->capture_default_str();
    root->excludes(host);
    AddOutputOption(app, format_);
  }
  absl::Status Run(std::ostream& out) override {
    const std::string source = sysfs_root_.empty() ? host_root_ : sysfs_root_;
    absl::StatusOr<topology::SnapshotStats> stats = topology::WriteSnapshot(source, out_dir_);
    if (!stats.ok()) return stats.status();
    if (format_ == OutputFormat::kTable) {
      out << "Wrote a snapshot of " << source << " to " << out_dir_ << ": " << stats->files
          << " files, " << stats->links << " links, " << HumanBytes(stats->bytes) << ".\n"
          << "Load it with: node-debug topology --sysfs-root " << out_dir_ << "\n";
    } else {
      PrintDocument(out, format_,
                    {{"source", source},
                     {"directory", out_dir_},
                     {"files", stats->files},
                     {"links", stats->links},
                     {"directories", stats->directories},
                     {"bytes", stats->bytes}});
    }
    return absl::OkStatus();
  }

 private:
  std::string out_dir_;
  std::string sysfs_root_;
  std::string host_root_ = "/";
  OutputFormat format_ = OutputFormat::kTable;
};

}  // namespace

std::unique_ptr<Command> MakeSnapshotCommand() { return std::make_unique<SnapshotCommand>(); }

}  // namespace tessera::agent::debug
