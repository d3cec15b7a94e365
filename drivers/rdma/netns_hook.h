// tessera-netns-hook: the small binary the container runtime runs as a CDI
// createRuntime hook to move a NIC's netdev into the new container's network
// namespace. This header holds everything but main(): the argv contract, the
// OCI state parser, the CDI container edits that make the runtime run it, and
// the hook's logic over the NetworkNamespaces and Filesystem seams.
//
// argv contract (argv[0] is the program name; flags only as --name=value):
//
//   tessera-netns-hook attach --host-interface=<name> [--container-interface=<name>]
//       [--mtu=<68..65535>] [--address=<ip>/<prefix>]... [--rdma-device=<name>]
//       [--state-file=<absolute path>]
//     stdin: the OCI state JSON of the container (runtime-spec "state"; its
//     "pid" names the process whose network namespace receives the link).
//     --container-interface defaults to net1. --state-file records the link's
//     original settings (written before anything changes) for restore.
//     --rdma-device moves that RDMA device too when the host's RDMA netns mode
//     is exclusive (see rdma_netlink.h); it fails on hosts without RDMA.
//
//   tessera-netns-hook restore --state-file=<absolute path> [--pid=<pid> | --netns=<path>]
//     Puts the link back as recorded (operators, tests; the agent calls
//     NetdevAttacher::RestoreFromFile directly). stdin is not read.
//
// Exit status: 0 done, 1 refused or failed (one line on stderr says why; the
// runtime shows it and fails the container), 2 usage error.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "base/container_edits.h"
#include "base/filesystem.h"
#include "drivers/rdma/netdev_attach.h"
#include "drivers/rdma/rdma_netlink.h"
#include "topology/netns.h"

namespace tessera::drivers::rdma {

inline constexpr std::string_view kNetnsHookName = "tessera-netns-hook";

// The fields of the OCI runtime state (runtime-spec config.md, "State") the
// hook uses.
struct OciState {
  std::string oci_version;
  std::string id;
  std::string status;  // "creating" for createRuntime hooks; empty when absent
  int pid = 0;
  std::string bundle;
};
// Strict: a JSON object of at most 1 MiB with string "ociVersion", non-empty
// string "id", integer "pid" in 1..2^31-1, and, when present, a string
// "status" that is not "stopped". InvalidArgument naming the field otherwise.
absl::StatusOr<OciState> ParseOciState(std::string_view json);

enum class HookCommand { kAttach, kRestore };

struct HookArgs {
  HookCommand command = HookCommand::kAttach;
  NetdevConfig config;     // attach
  std::string state_file;  // attach: optional; restore: required
  std::optional<int> pid;  // restore
  std::string netns_path;  // restore
  friend bool operator==(const HookArgs&, const HookArgs&) = default;
};

// Parses argv (argv[0] is skipped). InvalidArgument with the usage on unknown
// commands or flags, missing values, repeated single-valued flags, bad
// numbers, relative paths; the attach config is checked with
// ValidateNetdevConfig.
absl::StatusOr<HookArgs> ParseHookArgs(const std::vector<std::string>& argv);
// The argv that ParseHookArgs reads back into `args` (argv[0] = kNetnsHookName).
std::vector<std::string> FormatHookArgs(const HookArgs& args);

struct HookEditsOptions {
  std::string hook_path;  // absolute path of tessera-netns-hook as the runtime sees it (the host's)
  std::optional<int> timeout_seconds = 30;
  std::vector<std::string>
      env;  // the hook process's environment ("K=V"); runtimes give it none otherwise
};

// The CDI container edits of one attached netdev: a createRuntime hook that
// runs `attach` with `config` and `state_file`. InvalidArgument for a bad
// config, a relative hook path or state file.
absl::StatusOr<base::ContainerEdits> BuildNetdevHookEdits(const NetdevConfig& config,
                                                          const std::string& state_file,
                                                          const HookEditsOptions& options);

// Runs one parsed invocation against the seams. `stdin_data` is the OCI state
// (attach only). `rdma` may be null unless the config names an RDMA device.
// Returns a one-line summary of what was done.
absl::StatusOr<std::string> RunNetnsHook(const HookArgs& args, std::string_view stdin_data,
                                         topology::NetworkNamespaces& namespaces,
                                         base::Filesystem& fs, RdmaNetlink* rdma);

// main() of the binary with real seams: parses `argv`, reads stdin (at most
// 1 MiB) for attach, runs, writes the summary or the error to `err`, and
// returns the exit status.
int NetnsHookMain(const std::vector<std::string>& argv, std::istream& in, std::ostream& err);

}  // namespace tessera::drivers::rdma
