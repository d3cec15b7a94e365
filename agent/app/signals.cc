#include "agent/app/signals.h"

#include <pthread.h>
#include <signal.h>

namespace tessera::agent {
namespace {

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR2);  // internal wake-up used by the destructor
  return set;
}

}  // namespace

SignalWatcher::SignalWatcher() {
  sigset_t set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A write to a closed socket or pipe must return EPIPE, not kill the agent.
  ::signal(SIGPIPE, SIG_IGN);
  thread_ = std::jthread([this, set] {
    while (true) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (sig == SIGUSR2) return;
      received_.store(sig);
      source_.request_stop();
    }
  });
}

SignalWatcher::~SignalWatcher() {
  pthread_kill(thread_.native_handle(), SIGUSR2);
}

}  // namespace tessera::agent
