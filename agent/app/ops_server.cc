#include "agent/app/ops_server.h"

#include <chrono>
#include <mutex>
#include <thread>

#include "base/log.h"
#include "base/parse.h"
#include "base/strings.h"
#include "httplib.h"

namespace tessera::agent {

struct OpsServer::Impl {
  httplib::Server server;
  std::thread thread;
  std::mutex mu;
  std::vector<std::pair<std::string, ReadinessCheck>> ready_checks;
  std::vector<std::pair<std::string, ReadinessCheck>> live_checks;

  // "" when every check passes, else one "name: reason" line per failure.
  std::string Evaluate(const std::vector<std::pair<std::string, ReadinessCheck>>& checks) {
    std::vector<std::pair<std::string, ReadinessCheck>> copy;
    {
      std::lock_guard lock(mu);
      copy = checks;
    }
    std::string failures;
    for (const auto& [name, check] : copy) {
      std::string why = check();
      if (!why.empty()) base::StrAppend(&failures, name, ": ", why, "\n");
    }
    return failures;
  }
};

absl::StatusOr<std::pair<std::string, int>> ParseHostPort(const std::string& address) {
  std::string host;
  std::string_view port_text;
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      return absl::InvalidArgumentError(base::StrCat("bad address ", base::Quote(address)));
    }
    host = address.substr(1, close - 1);
    port_text = std::string_view(address).substr(close + 2);
  } else {
    size_t colon = address.rfind(':');
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError(
          base::StrCat("bad address ", base::Quote(address), ": want host:port"));
    }
    host = address.substr(0, colon);
    port_text = std::string_view(address).substr(colon + 1);
  }
  absl::StatusOr<uint64_t> port = base::ParseUint64(port_text);
  if (!port.ok() || *port > 65535) {
    return absl::InvalidArgumentError(base::StrCat("bad port in address ", base::Quote(address)));
  }
  if (host.empty()) host = "0.0.0.0";
  return std::make_pair(host, static_cast<int>(*port));
}

OpsServer::OpsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

absl::StatusOr<std::unique_ptr<OpsServer>> OpsServer::Start(const std::string& address,
                                                            base::metrics::Registry& registry) {
  absl::StatusOr<std::pair<std::string, int>> hp = ParseHostPort(address);
  if (!hp.ok()) return hp.status();
  auto impl = std::make_unique<Impl>();
  Impl* raw = impl.get();
  // cpp-httplib sets SO_REUSEPORT by default, which lets a second agent bind
  // the same port silently; keep only SO_REUSEADDR so that is an error.
  raw->server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  raw->server.Get("/metrics", [&registry](const httplib::Request&, httplib::Response& res) {
    res.set_content(registry.RenderPrometheus(), "text/plain; version=0.0.4; charset=utf-8");
  });
  raw->server.Get("/healthz", [raw](const httplib::Request&, httplib::Response& res) {
    std::string failures = raw->Evaluate(raw->live_checks);
    res.status = failures.empty() ? 200 : 503;
    res.set_content(failures.empty() ? "ok\n" : failures, "text/plain");
  });
  raw->server.Get("/readyz", [raw](const httplib::Request&, httplib::Response& res) {
    std::string failures = raw->Evaluate(raw->ready_checks);
    res.status = failures.empty() ? 200 : 503;
    res.set_content(failures.empty() ? "ok\n" : failures, "text/plain");
  });
  int port = hp->second;
  if (port == 0) {
    port = raw->server.bind_to_any_port(hp->first.c_str());
    if (port < 0) {
      return absl::UnavailableError(base::StrCat("listen on ", address, ": bind failed"));
    }
  } else if (!raw->server.bind_to_port(hp->first.c_str(), port)) {
    return absl::UnavailableError(
        base::StrCat("listen on ", address, ": bind failed (address in use or not local)"));
  }
  raw->thread = std::thread([raw] { raw->server.listen_after_bind(); });
  // httplib's stop() is a no-op until the listen loop has marked itself
  // running; wait for that so a Stop() right after Start() cannot hang.
  for (int i = 0; i < 5000 && !raw->server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::unique_ptr<OpsServer> server(new OpsServer(std::move(impl)));
  server->port_ = port;
  base::log::Get("agent")->info("serving operations endpoint address={}:{}", hp->first, port);
  return server;
}

void OpsServer::AddReadinessCheck(std::string name, ReadinessCheck check) {
  std::lock_guard lock(impl_->mu);
  impl_->ready_checks.emplace_back(std::move(name), std::move(check));
}

void OpsServer::AddLivenessCheck(std::string name, ReadinessCheck check) {
  std::lock_guard lock(impl_->mu);
  impl_->live_checks.emplace_back(std::move(name), std::move(check));
}

void OpsServer::Stop() {
  if (impl_ && impl_->thread.joinable()) {
    impl_->server.stop();
    impl_->thread.join();
  }
}

OpsServer::~OpsServer() { Stop(); }

}  // namespace tessera::agent
