// Helpers for integration tests that need real network namespaces (root).
//
// NetnsProcess forks a child that unshares its network namespace and waits;
// its /proc/<pid>/ns/net is a fresh namespace with only "lo", which dies with
// the child (and with it every virtual link inside: veth, ifb). Tests use one
// as a stand-in "host" and another as a "container", so the real host is
// never touched. Ip() runs iproute2 inside a namespace (through nsenter) to
// create fixtures and to check results independently of our netlink code.
#pragma once

#include <sched.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

#include "base/command_runner.h"
#include "base/strings.h"

namespace tessera::testing {

inline bool IsRoot() { return ::geteuid() == 0; }

// True when `name` is an executable on PATH (or an absolute path that is one).
inline bool HaveProgram(const std::string& name) {
  base::ProcessCommandRunner runner;
  auto r = runner.Run(base::Command{.argv = {"sh", "-c", "command -v " + name}});
  return r.ok() && r->exit_code == 0;
}

class NetnsProcess {
 public:
  NetnsProcess() {
    int ready[2];
    if (::pipe(ready) != 0) return;
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(ready[0]);
      char ok = ::unshare(CLONE_NEWNET) == 0 ? '1' : '0';
      (void)!::write(ready[1], &ok, 1);
      ::close(ready[1]);
      while (true) ::pause();  // until SIGKILL
    }
    ::close(ready[1]);
    char ok = '0';
    if (pid > 0 && ::read(ready[0], &ok, 1) == 1 && ok == '1') pid_ = pid;
    ::close(ready[0]);
    if (pid > 0 && pid_ == 0) Reap(pid);
  }
  ~NetnsProcess() {
    if (pid_ > 0) Reap(pid_);
  }
  NetnsProcess(const NetnsProcess&) = delete;
  NetnsProcess& operator=(const NetnsProcess&) = delete;

  bool ok() const { return pid_ > 0; }
  int pid() const { return pid_; }
  std::string netns_path() const { return "/proc/" + std::to_string(pid_) + "/ns/net"; }

 private:
  static void Reap(pid_t pid) {
    ::kill(pid, SIGKILL);
    int st;
    ::waitpid(pid, &st, 0);
  }
  int pid_ = 0;
};

struct CmdResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs argv; exit_code -1 when it could not be started.
inline CmdResult RunCommand(std::vector<std::string> argv, std::string stdin_data = "",
                            std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  base::ProcessCommandRunner runner;
  auto r = runner.Run(base::Command{
      .argv = std::move(argv), .stdin_data = std::move(stdin_data), .timeout = timeout});
  if (!r.ok()) return CmdResult{-1, "", std::string(r.status().message())};
  return CmdResult{r->exit_code, r->stdout_data, r->stderr_data};
}

// argv prefixed to run inside the network namespace of `pid` (0: the caller's).
inline std::vector<std::string> InNetns(int pid, std::vector<std::string> argv) {
  if (pid == 0) return argv;
  std::vector<std::string> out = {"nsenter", "--net=/proc/" + std::to_string(pid) + "/ns/net",
                                  "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

// `ip <args>` inside the namespace of `pid`.
inline CmdResult Ip(int pid, std::vector<std::string> args) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(InNetns(pid, std::move(argv)));
}

// `ip -j -d link show <name>` parsed; nullopt when the link does not exist.
inline std::optional<nlohmann::json> IpLink(int pid, const std::string& name) {
  CmdResult r = Ip(pid, {"-j", "-d", "link", "show", "dev", name});
  if (r.exit_code != 0) return std::nullopt;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded() || !j.is_array() || j.empty()) return std::nullopt;
  return j[0];
}

// "10.0.0.2/24"-style addresses of a link, global and link scope, in `ip` order.
inline std::vector<std::string> IpAddrs(int pid, const std::string& name,
                                        bool with_link_local = false) {
  std::vector<std::string> out;
  CmdResult r = Ip(pid, {"-j", "addr", "show", "dev", name});
  if (r.exit_code != 0) return out;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded() || !j.is_array() || j.empty()) return out;
  for (const auto& a : j[0].value("addr_info", nlohmann::json::array())) {
    if (!with_link_local && a.value("scope", "") == "link") continue;
    out.push_back(base::StrCat(a.value("local", ""), "/", a.value("prefixlen", 0)));
  }
  return out;
}

// What "untouched" means for a link: name, index, MTU, admin state, MAC,
// master, global addresses (with broadcast). Carrier, stats and timers are
// left out: they follow the peer, not us.
inline std::string LinkFingerprint(int pid, const std::string& name) {
  std::optional<nlohmann::json> l = IpLink(pid, name);
  if (!l.has_value()) return "absent";
  bool up = false;
  for (const auto& flag : l->value("flags", nlohmann::json::array())) up = up || flag == "UP";
  std::vector<std::string> brd;
  CmdResult r = Ip(pid, {"-j", "addr", "show", "dev", name});
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (!j.is_discarded() && j.is_array() && !j.empty()) {
    for (const auto& a : j[0].value("addr_info", nlohmann::json::array())) {
      if (a.value("scope", "") != "link") brd.push_back(a.value("broadcast", ""));
    }
  }
  nlohmann::json f = {{"ifname", l->value("ifname", "")},   {"ifindex", l->value("ifindex", 0)},
                      {"mtu", l->value("mtu", 0)},          {"up", up},
                      {"address", l->value("address", "")}, {"master", l->value("master", "")},
                      {"addrs", IpAddrs(pid, name)},        {"broadcast", brd}};
  return f.dump();
}

}  // namespace tessera::testing
