#include "drivers/rdma/netns_hook.h"

#include <istream>
#include <ostream>
#include <set>

#include "base/json_util.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "topology/netlink.h"

namespace tessera::drivers::rdma {
namespace {

constexpr size_t kMaxStateBytes = 1 << 20;

constexpr std::string_view kUsage =
    "usage: tessera-netns-hook attach --host-interface=NAME [--container-interface=NAME] "
    "[--mtu=N] [--address=IP/PREFIX]... [--rdma-device=NAME] [--state-file=PATH] "
    "< oci-state.json\n"
    "       tessera-netns-hook restore --state-file=PATH [--pid=PID | --netns=PATH]";

absl::Status Usage(std::string_view why) {
  return absl::InvalidArgumentError(base::StrCat(why, "\n", kUsage));
}

// Strict decimal in [lo, hi]: digits only, no sign, no spaces.
absl::StatusOr<int64_t> ParseBounded(std::string_view flag, std::string_view value, int64_t lo,
                                     int64_t hi) {
  bool ok = !value.empty() && value.size() <= 10;
  int64_t v = 0;
  for (char c : value) {
    ok = ok && c >= '0' && c <= '9';
    if (ok) v = v * 10 + (c - '0');
  }
  if (!ok || v < lo || v > hi) {
    return Usage(base::StrCat("--", flag, "=", base::Quote(value), ": expected an integer in ", lo,
                              "..", hi));
  }
  return v;
}

absl::Status RequireAbsolute(std::string_view flag, std::string_view path) {
  if (path.empty() || path[0] != '/') {
    return Usage(base::StrCat("--", flag, "=", base::Quote(path), ": expected an absolute path"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<OciState> ParseOciState(std::string_view json) {
  namespace j = base::json;
  constexpr std::string_view kWhat = "oci state";
  if (json.empty()) {
    return absl::InvalidArgumentError(
        "oci state: stdin is empty; the runtime passes the container state JSON on stdin");
  }
  ASSIGN_OR_RETURN(j::Json doc, j::Parse(json, kWhat, kMaxStateBytes));
  if (!doc.is_object()) return j::TypeError(kWhat, "object", doc);
  OciState s;
  ASSIGN_OR_RETURN(s.oci_version, j::GetString(doc, kWhat, "ociVersion"));
  ASSIGN_OR_RETURN(s.id, j::GetString(doc, kWhat, "id"));
  if (s.id.empty()) return absl::InvalidArgumentError("oci state.id: must not be empty");
  ASSIGN_OR_RETURN(int64_t pid, j::GetInt(doc, kWhat, "pid"));
  if (pid <= 0 || pid > INT32_MAX) {
    return absl::InvalidArgumentError(
        base::StrCat("oci state.pid: ", pid, " is not a process id (1..2147483647)"));
  }
  s.pid = static_cast<int>(pid);
  ASSIGN_OR_RETURN(std::optional<std::string> status, j::GetOptionalString(doc, kWhat, "status"));
  s.status = status.value_or("");
  if (s.status == "stopped") {
    return absl::InvalidArgumentError("oci state.status: the container is stopped");
  }
  ASSIGN_OR_RETURN(std::optional<std::string> bundle, j::GetOptionalString(doc, kWhat, "bundle"));
  s.bundle = bundle.value_or("");
  return s;
}

absl::StatusOr<HookArgs> ParseHookArgs(const std::vector<std::string>& argv) {
  if (argv.size() < 2) return Usage("missing command");
  HookArgs args;
  const std::string& command = argv[1];
  if (command == "attach") {
    args.command = HookCommand::kAttach;
  } else if (command == "restore") {
    args.command = HookCommand::kRestore;
  } else {
    return Usage(base::StrCat("unknown command ", base::Quote(command)));
  }
  const bool attach = args.command == HookCommand::kAttach;
  const std::set<std::string_view> allowed =
      attach ? std::set<std::string_view>{"host-interface", "container-interface", "mtu",
                                          "address",        "rdma-device",         "state-file"}
             : std::set<std::string_view>{"state-file", "pid", "netns"};
  std::set<std::string> seen;
  bool container_interface_set = false;
  for (size_t i = 2; i < argv.size(); ++i) {
    std::string_view arg = argv[i];
    if (!arg.starts_with("--")) {
      return Usage(base::StrCat("unexpected argument ", base::Quote(arg)));
    }
    base::SplitPair kv = base::SplitOnce(arg.substr(2), '=');
    if (!kv.found) return Usage(base::StrCat(base::Quote(arg), ": expected --name=value"));
    if (!allowed.contains(kv.first)) {
      return Usage(base::StrCat("unknown flag --", kv.first, " for ", command));
    }
    if (kv.first != "address" && !seen.insert(std::string(kv.first)).second) {
      return Usage(base::StrCat("--", kv.first, " given twice"));
    }
    const std::string value(kv.second);
    if (kv.first == "host-interface") {
      args.config.host_interface = value;
    } else if (kv.first == "container-interface") {
      args.config.container_interface = value;
      container_interface_set = true;
    } else if (kv.first == "mtu") {
      ASSIGN_OR_RETURN(int64_t mtu, ParseBounded("mtu", value, kMinMtu, kMaxMtu));
      args.config.mtu = static_cast<uint32_t>(mtu);
    } else if (kv.first == "address") {
      ASSIGN_OR_RETURN(topology::IpPrefix prefix,
                       base::Annotate(topology::ParseIpPrefix(value), "--address"));
      args.config.addresses.push_back(std::move(prefix));
    } else if (kv.first == "rdma-device") {
      args.config.rdma_device = value;
    } else if (kv.first == "state-file") {
      RETURN_IF_ERROR(RequireAbsolute("state-file", value));
      args.state_file = value;
    } else if (kv.first == "pid") {
      ASSIGN_OR_RETURN(int64_t pid, ParseBounded("pid", value, 1, INT32_MAX));
      args.pid = static_cast<int>(pid);
    } else if (kv.first == "netns") {
      RETURN_IF_ERROR(RequireAbsolute("netns", value));
      args.netns_path = value;
    }
  }
  if (attach) {
    if (args.config.host_interface.empty()) return Usage("attach: --host-interface is required");
    if (container_interface_set && args.config.container_interface.empty()) {
      return Usage("attach: --container-interface must not be empty");
    }
    RETURN_IF_ERROR(base::Annotate(ValidateNetdevConfig(args.config), "attach"));
  } else {
    if (args.state_file.empty()) return Usage("restore: --state-file is required");
    if (args.pid.has_value() && !args.netns_path.empty()) {
      return Usage("restore: give --pid or --netns, not both");
    }
  }
  return args;
}

std::vector<std::string> FormatHookArgs(const HookArgs& args) {
  std::vector<std::string> argv = {std::string(kNetnsHookName)};
  if (args.command == HookCommand::kAttach) {
    argv.push_back("attach");
    argv.push_back(base::StrCat("--host-interface=", args.config.host_interface));
    argv.push_back(base::StrCat("--container-interface=", args.config.container_interface));
    if (args.config.mtu.has_value()) argv.push_back(base::StrCat("--mtu=", *args.config.mtu));
    for (const topology::IpPrefix& a : args.config.addresses) {
      argv.push_back(base::StrCat("--address=", a.ToString()));
    }
    if (!args.config.rdma_device.empty()) {
      argv.push_back(base::StrCat("--rdma-device=", args.config.rdma_device));
    }
    if (!args.state_file.empty()) argv.push_back(base::StrCat("--state-file=", args.state_file));
  } else {
    argv.push_back("restore");
    argv.push_back(base::StrCat("--state-file=", args.state_file));
    if (args.pid.has_value()) argv.push_back(base::StrCat("--pid=", *args.pid));
    if (!args.netns_path.empty()) argv.push_back(base::StrCat("--netns=", args.netns_path));
  }
  return argv;
}

absl::StatusOr<base::ContainerEdits> BuildNetdevHookEdits(const NetdevConfig& config,
                                                          const std::string& state_file,
                                                          const HookEditsOptions& options) {
  const std::string what = base::StrCat("build netns hook edits for ", config.host_interface);
  RETURN_IF_ERROR(base::Annotate(ValidateNetdevConfig(config), what));
  if (options.hook_path.empty() || options.hook_path[0] != '/') {
    return absl::InvalidArgumentError(
        base::StrCat(what, ": hook path ", base::Quote(options.hook_path), " is not absolute"));
  }
  if (!state_file.empty() && state_file[0] != '/') {
    return absl::InvalidArgumentError(
        base::StrCat(what, ": state file ", base::Quote(state_file), " is not absolute"));
  }
  if (options.timeout_seconds.has_value() && *options.timeout_seconds <= 0) {
    return absl::InvalidArgumentError(base::StrCat(what, ": timeout must be positive"));
  }
  base::ContainerEdits edits;
  edits.hooks.push_back(base::Hook{
      .hook_name = "createRuntime",
      .path = options.hook_path,
      .args = FormatHookArgs(
          HookArgs{.command = HookCommand::kAttach, .config = config, .state_file = state_file}),
      .env = options.env,
      .timeout_seconds = options.timeout_seconds,
  });
  return edits;
}

absl::StatusOr<std::string> RunNetnsHook(const HookArgs& args, std::string_view stdin_data,
                                         topology::NetworkNamespaces& namespaces,
                                         base::Filesystem& fs, RdmaNetlink* rdma) {
  ASSIGN_OR_RETURN(topology::NetnsHandle host, namespaces.OpenCurrent());
  ASSIGN_OR_RETURN(std::unique_ptr<NetdevAttacher> attacher,
                   NetdevAttacher::Create(namespaces, std::move(host), fs, rdma));
  if (args.command == HookCommand::kRestore) {
    ASSIGN_OR_RETURN(RestoreOutcome outcome,
                     attacher->RestoreFromFile(args.state_file, args.pid, args.netns_path));
    return base::StrCat("restore state_file=", args.state_file,
                        " outcome=", RestoreOutcomeName(outcome));
  }
  ASSIGN_OR_RETURN(OciState state, ParseOciState(stdin_data));
  ASSIGN_OR_RETURN(
      topology::NetnsHandle target,
      base::Annotate(namespaces.OpenProcess(state.pid), base::StrCat("container ", state.id)));
  ASSIGN_OR_RETURN(AttachRecord record,
                   attacher->Attach(args.config, state.pid, target, args.state_file));
  std::vector<std::string> addresses;
  for (const topology::IpPrefix& a : args.config.addresses) addresses.push_back(a.ToString());
  return base::StrCat("attached link=", record.original.name, " as=", record.container_interface,
                      " container=", state.id, " pid=", state.pid,
                      " netns=", target.id().ToString(),
                      " mtu=", args.config.mtu.value_or(record.original.mtu),
                      " addresses=", base::Join(addresses, ","),
                      record.rdma_moved ? base::StrCat(" rdma_device=", record.rdma_device) : "");
}

int NetnsHookMain(const std::vector<std::string>& argv, std::istream& in, std::ostream& err) {
  absl::StatusOr<HookArgs> args = ParseHookArgs(argv);
  if (!args.ok()) {
    err << kNetnsHookName << ": " << base::Std(args.status().message()) << "\n";
    return 2;
  }
  std::string state;
  if (args->command == HookCommand::kAttach) {
    char buf[4096];
    while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
      state.append(buf, static_cast<size_t>(in.gcount()));
      if (state.size() > kMaxStateBytes) {
        err << kNetnsHookName << ": oci state on stdin exceeds " << kMaxStateBytes << " bytes\n";
        return 1;
      }
    }
  }
  topology::ProcNetworkNamespaces namespaces;
  base::RealFilesystem fs;
  // RDMA netlink only when it may be needed, so hosts without RDMA (and
  // shared-mode hosts) attach netdevs without it.
  std::unique_ptr<SocketRdmaNetlink> rdma;
  if (args->command == HookCommand::kRestore || !args->config.rdma_device.empty()) {
    absl::StatusOr<std::unique_ptr<SocketRdmaNetlink>> opened = SocketRdmaNetlink::Open();
    if (opened.ok()) {
      rdma = std::move(opened).value();
    } else if (args->command == HookCommand::kAttach) {
      err << kNetnsHookName << ": " << opened.status() << "\n";
      return 1;
    }
  }
  absl::StatusOr<std::string> summary = RunNetnsHook(*args, state, namespaces, fs, rdma.get());
  if (!summary.ok()) {
    err << kNetnsHookName << ": " << summary.status() << "\n";
    return 1;
  }
  err << kNetnsHookName << ": " << *summary << "\n";
  return 0;
}

}  // namespace tessera::drivers::rdma
