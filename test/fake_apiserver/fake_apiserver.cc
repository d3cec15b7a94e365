#include "test/fake_apiserver/fake_apiserver.h"

#include <vector>

#include "agent/kube/api_status.h"
#include "base/strings.h"
#include "httplib.h"

namespace tessera::testing {
namespace {

using Json = nlohmann::json;
namespace kube = agent::kube;

constexpr char kSlices[] = R"(/apis/resource\.k8s\.io/v1/resourceslices)";
constexpr char kSlice[] = R"(/apis/resource\.k8s\.io/v1/resourceslices/([^/]+))";
constexpr char kNode[] = R"(/api/v1/nodes/([^/]+))";
constexpr char kClaim[] = R"(/apis/resource\.k8s\.io/v1/namespaces/([^/]+)/resourceclaims/([^/]+))";

void Reply(httplib::Response& res, const ApiResponse& r) {
  res.status = r.code;
  res.set_content(r.body.dump(), "application/json");
}

void ReplyStatus(httplib::Response& res, int code, std::string_view reason, std::string_view msg) {
  Reply(res, {code, kube::MakeStatusObject(code, reason, msg)});
}

// Sends headers announcing a body, then closes the connection: the client
// sees the request fail in transit.
void DropConnection(httplib::Response& res) {
  res.status = 200;
  res.body.clear();  // a body would be written instead of the failing provider
  res.set_content_provider(
      512, "application/json",
      [](size_t /*offset*/, size_t /*length*/, httplib::DataSink& /*sink*/) { return false; });
}

std::optional<Json> ParseBody(const httplib::Request& req, httplib::Response& res) {
  Json body = Json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    ReplyStatus(res, 400, "BadRequest", "couldn't get version/kind; json parse error");
    return std::nullopt;
  }
  return body;
}

bool IsTrue(const std::string& v) { return v == "true" || v == "1"; }

}  // namespace

uint64_t RequestCounts::writes() const {
  uint64_t n = 0;
  for (const char* verb : {"create", "update", "delete", "deletecollection"}) {
    auto it = by_verb.find(verb);
    if (it != by_verb.end()) n += it->second;
  }
  return n;
}

uint64_t RequestCounts::total() const {
  uint64_t n = 0;
  for (const auto& [verb, count] : by_verb) n += count;
  return n;
}

FakeApiServer::FakeApiServer(Options options)
    : options_(std::move(options)),
      store_(options_.store),
      rng_(42),
      token_(options_.bearer_token) {
  if (options_.tls_cert_file.empty()) {
    server_ = std::make_unique<httplib::Server>();
  } else {
    server_ = std::make_unique<httplib::SSLServer>(
        options_.tls_cert_file.c_str(), options_.tls_key_file.c_str(),
        options_.client_ca_file.empty() ? nullptr : options_.client_ca_file.c_str());
  }
}

absl::StatusOr<std::unique_ptr<FakeApiServer>> FakeApiServer::Start(Options options) {
  std::unique_ptr<FakeApiServer> server(new FakeApiServer(std::move(options)));
  if (!server->server_->is_valid()) {
    return absl::InvalidArgumentError("start fake api server: invalid TLS certificate or key");
  }
  server->Install();
  if (server->options_.port == 0) {
    server->port_ = server->server_->bind_to_any_port("127.0.0.1");
  } else if (server->server_->bind_to_port("127.0.0.1", server->options_.port)) {
    server->port_ = server->options_.port;
  } else {
    server->port_ = -1;
  }
  if (server->port_ <= 0) {
    return absl::UnavailableError("start fake api server: cannot bind 127.0.0.1");
  }
  httplib::Server* raw = server->server_.get();
  server->thread_ = std::thread([raw] { raw->listen_after_bind(); });
  // httplib's stop() does nothing before the listen loop runs; wait for it so
  // that Stop() right after Start() cannot leave the thread listening.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!raw->is_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!raw->is_running()) return absl::UnavailableError("start fake api server: listen failed");
  return server;
}

FakeApiServer::~FakeApiServer() { Stop(); }

void FakeApiServer::Stop() {
  if (stopped_.exchange(true)) return;
  store_.Shutdown();
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string FakeApiServer::url() const {
  return base::StrCat(options_.tls_cert_file.empty() ? "http" : "https", "://127.0.0.1:", port_);
}

void FakeApiServer::SetFaults(const Faults& faults) {
  std::lock_guard lock(mu_);
  faults_ = faults;
  rng_.seed(faults.seed);
}

void FakeApiServer::SetBearerToken(const std::string& token) {
  std::lock_guard lock(mu_);
  token_ = token;
}

RequestCounts FakeApiServer::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

void FakeApiServer::ResetCounts() {
  std::lock_guard lock(mu_);
  counts_ = {};
}

void FakeApiServer::Count(const std::string& verb, const std::string& fault) {
  std::lock_guard lock(mu_);
  ++counts_.by_verb[verb];
  if (!fault.empty()) ++counts_.faults[fault.starts_with("server_error") ? "server_error" : fault];
}

std::string FakeApiServer::DrawFault(bool is_watch) {
  std::lock_guard lock(mu_);
  if (faults_.rate <= 0 || (is_watch && !faults_.watches)) return "";
  std::uniform_real_distribution<double> coin(0, 1);
  if (coin(rng_) >= faults_.rate) return "";
  std::vector<std::string> kinds;
  if (faults_.server_errors) kinds.push_back("server_error");
  if (faults_.throttling) kinds.push_back("throttle");
  if (faults_.slow) kinds.push_back("slow");
  if (faults_.drop_before) kinds.push_back("drop_before");
  if (faults_.drop_after) kinds.push_back("drop_after");
  if (kinds.empty()) return "";
  std::string kind = kinds[rng_() % kinds.size()];
  if (kind == "server_error") kind = (rng_() % 2) ? "server_error_503" : "server_error_500";
  return kind;
}

void FakeApiServer::Install() {
  httplib::Server& s = *server_;
  s.new_task_queue = [] { return new httplib::ThreadPool(64); };
  s.set_keep_alive_max_count(100000);
  s.set_keep_alive_timeout(60);

  // Everything a handler does, wrapped: authentication, counting, faults.
  // `apply` performs the request and fills the response.
  auto handle = [this](const std::string& verb, const httplib::Request& req,
                       httplib::Response& res, const std::function<void()>& apply) {
    std::string token;
    {
      std::lock_guard lock(mu_);
      token = token_;
    }
    if (!token.empty() && req.get_header_value("Authorization") != "Bearer " + token) {
      Count(verb, "");
      ReplyStatus(res, 401, "Unauthorized", "Unauthorized");
      return;
    }
    std::string fault = DrawFault(verb == "watch");
    Count(verb, fault);
    Faults faults;
    {
      std::lock_guard lock(mu_);
      faults = faults_;
    }
    if (fault.starts_with("server_error")) {
      bool unavailable = fault == "server_error_503";
      ReplyStatus(res, unavailable ? 503 : 500, unavailable ? "ServiceUnavailable" : "InternalError",
                  "injected fault: the server is unable to handle the request");
      return;
    }
    if (fault == "throttle") {
      res.set_header("Retry-After", std::to_string(faults.retry_after_seconds));
      ReplyStatus(res, 429, "TooManyRequests", "injected fault: too many requests, please try again later");
      return;
    }
    if (fault == "drop_before") {
      DropConnection(res);
      return;
    }
    if (fault == "slow") std::this_thread::sleep_for(faults.slow_delay);
    apply();
    if (fault == "drop_after") DropConnection(res);
  };

  s.Get(kSlices, [this, handle](const httplib::Request& req, httplib::Response& res) {
    std::string selector = req.get_param_value("fieldSelector");
    if (!IsTrue(req.get_param_value("watch"))) {
      handle("list", req, res, [&] { Reply(res, store_.ListSlices(selector)); });
      return;
    }
    handle("watch", req, res, [&] {
      ApiStore::WatchStart start = store_.StartWatch(selector, req.get_param_value("resourceVersion"));
      if (start.error) {
        Reply(res, *start.error);
        return;
      }
      int timeout_s = 1800;
      if (req.has_param("timeoutSeconds")) {
        timeout_s = std::atoi(req.get_param_value("timeoutSeconds").c_str());
      }
      bool bookmarks = IsTrue(req.get_param_value("allowWatchBookmarks"));
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
      std::shared_ptr<ApiStore::Watch> watch(std::move(start.watch));
      res.status = 200;
      res.set_chunked_content_provider(
          "application/json",
          [this, watch, deadline, bookmarks](size_t /*offset*/, httplib::DataSink& sink) {
            while (true) {
              if (stopped_ || !sink.is_writable()) {
                sink.done();
                return true;
              }
              auto now = std::chrono::steady_clock::now();
              if (now >= deadline) {
                if (bookmarks) {
                  Json bookmark = {{"type", "BOOKMARK"},
                                   {"object",
                                    {{"kind", "ResourceSlice"},
                                     {"apiVersion", "resource.k8s.io/v1"},
                                     {"metadata", {{"resourceVersion", watch->resource_version()}}}}}};
                  std::string line = bookmark.dump() + "\n";
                  sink.write(line.data(), line.size());
                }
                sink.done();
                return true;
              }
              auto step = std::min(deadline, now + std::chrono::milliseconds(100));
              std::optional<Json> event = watch->Next(step, {});
              if (!event) continue;
              std::string line = event->dump() + "\n";
              if (!sink.write(line.data(), line.size())) return false;
              if ((*event)["type"] == "ERROR") {
                sink.done();
                return true;
              }
              return true;
            }
          });
    });
  });

  s.Post(kSlices, [this, handle](const httplib::Request& req, httplib::Response& res) {
    handle("create", req, res, [&] {
      if (std::optional<Json> body = ParseBody(req, res)) Reply(res, store_.CreateSlice(*body));
    });
  });

  s.Delete(kSlices, [this, handle](const httplib::Request& req, httplib::Response& res) {
    handle("deletecollection", req, res, [&] {
      Reply(res, store_.DeleteSliceCollection(req.get_param_value("fieldSelector")));
    });
  });

  s.Get(kSlice, [this, handle](const httplib::Request& req, httplib::Response& res) {
    handle("get", req, res, [&] { Reply(res, store_.GetSlice(req.matches[1])); });
  });

  s.Put(kSlice, [this, handle](const httplib::Request& req, httplib::Response& res) {
    handle("update", req, res, [&] {
      if (std::optional<Json> body = ParseBody(req, res)) {
        Reply(res, store_.UpdateSlice(req.matches[1], *body));
      }
    });
  });

  s.Delete(kSlice, [this, handle](const httplib::Request& req, httplib::Response& res) {
    handle("delete", req, res, [&] {
      Json options = nullptr;
      if (!req.body.empty()) {
        std::optional<Json> body = ParseBody(req, res);
        if (!body) return;
        options = *body;
      }
      Reply(res, store_.DeleteSlice(req.matches[1], options));
    });
  });

  s.Get(kNode, [this, handle](const httplib::Request& req, httplib::Response& res) {
    handle("get", req, res, [&] { Reply(res, store_.GetNode(req.matches[1])); });
  });

  s.Get(kClaim, [this, handle](const httplib::Request& req, httplib::Response& res) {
    handle("get", req, res, [&] { Reply(res, store_.GetClaim(req.matches[1], req.matches[2])); });
  });
}

}  // namespace tessera::testing
