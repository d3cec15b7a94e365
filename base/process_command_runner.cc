#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>

#include "base/command_runner.h"
#include "base/strings.h"
#include "base/status.h"

extern char** environ;

namespace tessera::base {
namespace {

constexpr size_t kMaxOutput = 4 << 20;

struct Pipe {
  int fds[2] = {-1, -1};
  ~Pipe() { CloseAll(); }
  void CloseAll() {
    for (int& fd : fds) {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
  }
};

std::vector<std::string> MergedEnvironment(const std::vector<std::string>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv = *e;
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env[std::string(kv.substr(0, eq))] = std::string(kv);
  }
  for (const std::string& kv : extra) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    env[kv.substr(0, eq)] = kv;
  }
  std::vector<std::string> out;
  out.reserve(env.size());
  for (auto& [k, v] : env) out.push_back(std::move(v));
  return out;
}

}  // namespace

absl::StatusOr<CommandResult> ProcessCommandRunner::Run(const Command& command) {
  // A child that exits before reading its stdin must not kill the agent with
  // SIGPIPE; the write then fails with EPIPE, which is handled below.
  static std::once_flag ignore_sigpipe;
  std::call_once(ignore_sigpipe, [] { ::signal(SIGPIPE, SIG_IGN); });
  if (command.argv.empty() || command.argv[0].empty()) {
    return absl::InvalidArgumentError("run command: empty argv");
  }
  const std::string name = Join(command.argv, " ");
  Pipe in, out, err, exec_err;
  if (::pipe2(in.fds, O_CLOEXEC) != 0 || ::pipe2(out.fds, O_CLOEXEC) != 0 ||
      ::pipe2(err.fds, O_CLOEXEC) != 0 || ::pipe2(exec_err.fds, O_CLOEXEC) != 0) {
    return ErrnoStatus(errno, StrCat("run ", name, ": pipe"));
  }
  std::vector<std::string> env = MergedEnvironment(command.env);
  std::vector<char*> envp;
  for (std::string& kv : env) envp.push_back(kv.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = command.argv;
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) return ErrnoStatus(errno, StrCat("run ", name, ": fork"));
  if (pid == 0) {
    // Child: only async-signal-safe calls from here on.
    ::setpgid(0, 0);
    ::dup2(in.fds[0], 0);
    ::dup2(out.fds[1], 1);
    ::dup2(err.fds[1], 2);
    ::execvpe(argv[0], argv.data(), envp.data());
    int e = errno;
    ssize_t ignored = ::write(exec_err.fds[1], &e, sizeof(e));
    (void)ignored;
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  ::close(in.fds[0]);
  in.fds[0] = -1;
  ::close(out.fds[1]);
  out.fds[1] = -1;
  ::close(err.fds[1]);
  err.fds[1] = -1;
  ::close(exec_err.fds[1]);
  exec_err.fds[1] = -1;

  int exec_errno = 0;
  if (::read(exec_err.fds[0], &exec_errno, sizeof(exec_errno)) == sizeof(exec_errno)) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return ErrnoStatus(exec_errno, StrCat("run ", command.argv[0]));
  }

  CommandResult result;
  std::string_view pending_in = command.stdin_data;
  if (pending_in.empty()) {
    ::close(in.fds[1]);
    in.fds[1] = -1;
  } else {
    ::fcntl(in.fds[1], F_SETFL, O_NONBLOCK);
  }
  const auto deadline = std::chrono::steady_clock::now() + command.timeout;
  bool timed_out = false;
  while (out.fds[0] >= 0 || err.fds[0] >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfds[3];
    int n = 0;
    int idx_out = -1, idx_err = -1, idx_in = -1;
    if (out.fds[0] >= 0) { idx_out = n; pfds[n++] = {out.fds[0], POLLIN, 0}; }
    if (err.fds[0] >= 0) { idx_err = n; pfds[n++] = {err.fds[0], POLLIN, 0}; }
    if (in.fds[1] >= 0) { idx_in = n; pfds[n++] = {in.fds[1], POLLOUT, 0}; }
    int rc = ::poll(pfds, n, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (rc < 0 && errno != EINTR) break;
    char buf[8192];
    auto drain = [&](int idx, Pipe& p, std::string& dst) {
      if (idx < 0 || !(pfds[idx].revents & (POLLIN | POLLHUP | POLLERR))) return;
      ssize_t r = ::read(p.fds[0], buf, sizeof(buf));
      if (r <= 0) {
        ::close(p.fds[0]);
        p.fds[0] = -1;
      } else if (dst.size() < kMaxOutput) {
        dst.append(buf, std::min(static_cast<size_t>(r), kMaxOutput - dst.size()));
      }
    };
    drain(idx_out, out, result.stdout_data);
    drain(idx_err, err, result.stderr_data);
    if (idx_in >= 0 && (pfds[idx_in].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = ::write(in.fds[1], pending_in.data(), pending_in.size());
      if (w > 0) pending_in.remove_prefix(static_cast<size_t>(w));
      if (w < 0 && errno != EAGAIN && errno != EINTR) pending_in = {};
      if (pending_in.empty()) {
        ::close(in.fds[1]);
        in.fds[1] = -1;
      }
    }
  }
  if (timed_out) ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return absl::DeadlineExceededError(
        StrCat("run ", name, ": killed after ", command.timeout.count(), " ms"));
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
  }
  return result;
}

}  // namespace tessera::base
