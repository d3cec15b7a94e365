#include "agent/kube/rest_kube_client.h"

#include <array>
#include <charconv>
#include <mutex>
#include <optional>
#include <random>
#include <vector>

#include <curl/curl.h>

#include "agent/kube/api_status.h"
#include "agent/kube/internal/log.h"
#include "agent/kube/slice_validation.h"
#include "agent/kube/token_source.h"
#include "base/json_util.h"
#include "base/log.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace tessera::agent::kube {
namespace {

using Json = nlohmann::json;
using base::StrCat;

using internal::Log;

constexpr char kSlicesPath[] = "/apis/resource.k8s.io/v1/resourceslices";

struct Request {
  std::string verb;      // metric label: list, watch, get, create, update, delete
  std::string resource;  // metric label
  std::string method;    // GET, POST, PUT, DELETE
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  std::string body;
  bool idempotent = true;
  std::string operation;  // for messages: "create resourceslice node-a-gpu-"
};

struct Response {
  long code = 0;
  std::string body;
};

// State of one curl transfer, handed to the callbacks.
struct Transfer {
  CURL* handle = nullptr;
  size_t max_bytes = 0;
  std::string body;
  bool overflow = false;
  std::optional<std::chrono::seconds> retry_after;
  std::stop_token shutdown;
  std::stop_token caller;
  // Streaming (watch): called per complete line of a 200 answer; returns
  // false to end the transfer.
  std::function<bool(std::string_view)> on_line;
  std::string pending;
  bool ended_by_handler = false;
};

size_t OnWrite(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  long code = 0;
  curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &code);
  if (t->on_line && code == 200) {
    t->pending.append(data, n);
    size_t start = 0;
    while (true) {
      size_t nl = t->pending.find('\n', start);
      if (nl == std::string::npos) break;
      std::string_view line(t->pending.data() + start, nl - start);
      start = nl + 1;
      if (base::StripWhitespace(line).empty()) continue;
      if (!t->on_line(line)) {
        t->ended_by_handler = true;
        return 0;  // CURLE_WRITE_ERROR ends the transfer
      }
    }
    t->pending.erase(0, start);
    if (t->pending.size() > t->max_bytes) {
      t->overflow = true;
      return 0;
    }
    return n;
  }
  if (t->body.size() + n > t->max_bytes) {
    t->overflow = true;
    return 0;
  }
  t->body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  std::string_view line(data, n);
  base::SplitPair kv = base::SplitOnce(line, ':');
  if (kv.found && base::ToLower(base::StripWhitespace(kv.first)) == "retry-after") {
    std::string_view value = base::StripWhitespace(kv.second);
    int seconds = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc() && seconds >= 0) t->retry_after = std::chrono::seconds(seconds);
  }
  return n;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  return (t->shutdown.stop_requested() || t->caller.stop_requested()) ? 1 : 0;
}

enum class Failure { kNone, kConnect, kTimeout, kTransport, kCancelled, kOther };

Failure Classify(CURLcode rc) {
  switch (rc) {
    case CURLE_OK:
      return Failure::kNone;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SSL_CONNECT_ERROR:
      return Failure::kConnect;  // nothing reached the server
    case CURLE_OPERATION_TIMEDOUT:
      return Failure::kTimeout;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
      return Failure::kTransport;  // the request may or may not have been applied
    case CURLE_ABORTED_BY_CALLBACK:
      return Failure::kCancelled;
    default:
      return Failure::kOther;
  }
}

std::string Escape(CURL* handle, std::string_view s) {
  char* e = curl_easy_escape(handle, s.data(), static_cast<int>(s.size()));
  std::string out = e ? e : "";
  curl_free(e);
  return out;
}

absl::Status CheckObjectName(std::string_view name, std::string_view what) {
  std::vector<std::string> errors = IsDns1123Subdomain(name);
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(StrCat(what, " ", base::Quote(name), ": ", errors.front()));
}

absl::StatusOr<Json> ParseObject(std::string_view body, std::string_view operation) {
  absl::StatusOr<Json> obj = base::json::Parse(body, StrCat(operation, ": response"));
  if (!obj.ok()) return obj.status();
  if (!obj->is_object()) {
    return absl::InvalidArgumentError(StrCat(operation, ": response is not a JSON object"));
  }
  return obj;
}

std::string NameOf(const Json& obj) {
  if (obj.is_object() && obj.contains("metadata") && obj["metadata"].is_object()) {
    const Json& m = obj["metadata"];
    if (m.contains("name") && m["name"].is_string()) return m["name"].get<std::string>();
    if (m.contains("generateName") && m["generateName"].is_string()) {
      return m["generateName"].get<std::string>();
    }
  }
  return "";
}

}  // namespace

absl::StatusOr<ObjectList> DecodeSliceList(std::string_view body, std::string_view operation) {
  ASSIGN_OR_RETURN(Json list, ParseObject(body, operation));
  ObjectList out;
  const Json* items = list.contains("items") ? &list["items"] : nullptr;
  if (items != nullptr && !items->is_null() && !items->is_array()) {
    return absl::InvalidArgumentError(StrCat(operation, ": response: items is not an array"));
  }
  if (list.contains("metadata") && list["metadata"].is_object() &&
      list["metadata"].contains("resourceVersion") &&
      list["metadata"]["resourceVersion"].is_string()) {
    out.resource_version = list["metadata"]["resourceVersion"].get<std::string>();
  }
  if (items != nullptr && items->is_array()) {
    for (Json& item : list["items"]) {
      if (!item.is_object()) continue;
      // Items of a list carry no type; give them one so objects look alike.
      item["apiVersion"] = "resource.k8s.io/v1";
      item["kind"] = "ResourceSlice";
      out.items.push_back(std::move(item));
    }
  }
  return out;
}

absl::StatusOr<WatchEvent> DecodeWatchEvent(std::string_view line, std::string_view operation) {
  Json event = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (event.is_discarded() || !event.is_object() || !event.contains("type") ||
      !event["type"].is_string() || !event.contains("object") || !event["object"].is_object()) {
    return absl::InvalidArgumentError(
        StrCat(operation, ": malformed event ", base::Quote(line, 120)));
  }
  const std::string type = event["type"].get<std::string>();
  WatchEvent e;
  if (type == "ADDED") {
    e.type = WatchEventType::kAdded;
  } else if (type == "MODIFIED") {
    e.type = WatchEventType::kModified;
  } else if (type == "DELETED") {
    e.type = WatchEventType::kDeleted;
  } else if (type == "BOOKMARK") {
    e.type = WatchEventType::kBookmark;
  } else if (type == "ERROR") {
    const Json& status = event["object"];
    int code = status.contains("code") && status["code"].is_number_integer()
                   ? status["code"].get<int>()
                   : 500;
    absl::Status s = StatusFromResponse(code, status.dump(), operation);
    // An ERROR event always ends the watch, even one claiming success.
    if (s.ok()) s = absl::UnknownError(StrCat(operation, ": ERROR event with code ", code));
    return s;
  } else {
    return absl::InvalidArgumentError(
        StrCat(operation, ": unknown event type ", base::Quote(type)));
  }
  e.object = std::move(event["object"]);
  return e;
}

struct RestKubeClient::Impl {
  Impl(KubeConfig c, const base::Filesystem& fs, base::Clock& clk, base::metrics::Registry& m,
       RestOptions o)
      : config(std::move(c)),
        tokens(config.bearer_token, config.token_file, fs, clk, o.token_refresh),
        clock(clk),
        metrics(m),
        options(std::move(o)),
        rng(options.jitter_seed != 0 ? options.jitter_seed : std::random_device{}()) {}

  ~Impl() {
    for (CURL* h : free_handles) curl_easy_cleanup(h);
    if (share != nullptr) curl_share_cleanup(share);
  }

  static void Lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<Impl*>(user)->share_locks[static_cast<size_t>(data) % kLocks].lock();
  }
  static void Unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<Impl*>(user)->share_locks[static_cast<size_t>(data) % kLocks].unlock();
  }

  CURL* Acquire() {
    {
      std::lock_guard lock(handles_mu);
      if (!free_handles.empty()) {
        CURL* h = free_handles.back();
        free_handles.pop_back();
        return h;
      }
    }
    return curl_easy_init();
  }
  void Release(CURL* h) {
    std::lock_guard lock(handles_mu);
    free_handles.push_back(h);
  }

  std::string Url(CURL* h, const Request& req) const {
    std::string url = StrCat(config.server, req.path);
    for (size_t i = 0; i < req.query.size(); ++i) {
      base::StrAppend(&url, i == 0 ? "?" : "&", req.query[i].first, "=",
                      Escape(h, req.query[i].second));
    }
    return url;
  }

  // One attempt. Fills `response`; returns the curl code.
  CURLcode Perform(const Request& req, const std::string& token, std::chrono::milliseconds timeout,
                   Transfer& t, Response& response) {
    CURL* h = Acquire();
    if (h == nullptr) return CURLE_OUT_OF_MEMORY;
    curl_easy_reset(h);
    t.handle = h;
    t.max_bytes = options.max_response_bytes;
    t.shutdown = shutdown.get_token();
    std::string url = Url(h, req);
    curl_easy_setopt(h, CURLOPT_SHARE, share);
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(h, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &OnWrite);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &OnProgress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
    if (!config.ca_pem.empty()) {
      curl_blob ca{const_cast<char*>(config.ca_pem.data()), config.ca_pem.size(), CURL_BLOB_COPY};
      curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
    }
    if (!config.client_cert_pem.empty()) {
      curl_blob cert{const_cast<char*>(config.client_cert_pem.data()),
                     config.client_cert_pem.size(), CURL_BLOB_COPY};
      curl_blob key{const_cast<char*>(config.client_key_pem.data()), config.client_key_pem.size(),
                    CURL_BLOB_COPY};
      curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert);
      curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
      curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
      curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (config.insecure_skip_tls_verify) {
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Accept: application/json");
    // No "Expect: 100-continue" round trip before large bodies.
    headers = curl_slist_append(headers, "Expect:");
    std::string auth;
    if (!token.empty()) {
      auth = StrCat("Authorization: Bearer ", token);
      headers = curl_slist_append(headers, auth.c_str());
    }
    if (req.method != "GET") {
      headers = curl_slist_append(headers, "Content-Type: application/json");
      if (req.method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
      if (req.method == "POST" || !req.body.empty()) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.c_str());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
      }
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.code);
    response.body = std::move(t.body);
    curl_slist_free_all(headers);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
    Release(h);
    return rc;
  }

  void Record(const Request& req, const std::string& code, double seconds) {
    base::metrics::Labels labels = {{"verb", req.verb}, {"resource", req.resource}, {"code", code}};
    metrics
        .GetCounter("tessera_kube_requests_total", "API server requests by verb and code", labels)
        .Inc();
    metrics
        .GetHistogram("tessera_kube_request_duration_seconds",
                      "API server request latency by verb and code",
                      base::metrics::LatencyBuckets(), labels)
        .Observe(seconds);
  }

  std::chrono::milliseconds Backoff(int attempt, std::optional<std::chrono::seconds> retry_after) {
    double base_ms = static_cast<double>(options.initial_backoff.count()) *
                     static_cast<double>(1LL << std::min(attempt, 20));
    base_ms = std::min(base_ms, static_cast<double>(options.max_backoff.count()));
    double jitter;
    {
      std::lock_guard lock(rng_mu);
      jitter = std::uniform_real_distribution<double>(0.5, 1.5)(rng);
    }
    auto delay = std::chrono::milliseconds(static_cast<int64_t>(base_ms * jitter));
    if (retry_after) {
      delay = std::max<std::chrono::milliseconds>(delay, *retry_after);
    }
    return std::min(delay, options.max_backoff);
  }

  // A request with retries. Non-2xx answers come back as their Status.
  absl::StatusOr<Response> Do(const Request& req, std::stop_token caller = {}) {
    bool reauthenticated = false;
    absl::Status last;
    for (int attempt = 0; attempt < options.max_attempts; ++attempt) {
      if (shutdown.stop_requested() || caller.stop_requested()) {
        return absl::CancelledError(StrCat(req.operation, ": cancelled"));
      }
      absl::StatusOr<std::string> token = tokens.Token();
      if (!token.ok()) return base::Annotate(token.status(), req.operation);
      Transfer t;
      t.caller = caller;
      Response response;
      auto start = clock.MonotonicNow();
      CURLcode rc = Perform(req, *token, options.request_timeout, t, response);
      double seconds = std::chrono::duration<double>(clock.MonotonicNow() - start).count();
      Failure failure = Classify(rc);
      if (t.overflow) {
        Record(req, "error", seconds);
        return absl::ResourceExhaustedError(
            StrCat(req.operation, ": response larger than ", options.max_response_bytes, " bytes"));
      }
      bool retry = false;
      std::optional<std::chrono::seconds> retry_after;
      if (failure != Failure::kNone) {
        Record(req, "error", seconds);
        std::string what = StrCat(req.operation, ": ", curl_easy_strerror(rc));
        switch (failure) {
          case Failure::kCancelled:
            return absl::CancelledError(StrCat(req.operation, ": cancelled"));
          case Failure::kConnect:
            last = absl::UnavailableError(what);
            retry = true;
            break;
          case Failure::kTimeout:
            last = absl::DeadlineExceededError(what);
            retry = req.idempotent;
            break;
          case Failure::kTransport:
            last = absl::UnavailableError(
                req.idempotent ? what : StrCat(what, " (the request may have been applied)"));
            retry = req.idempotent;
            break;
          default:
            last = absl::UnavailableError(what);
            break;
        }
      } else {
        Record(req, std::to_string(response.code), seconds);
        if (response.code == 401 && tokens.from_file() && !reauthenticated) {
          // The token may have rotated under us: read it again, once.
          tokens.Invalidate();
          reauthenticated = true;
          --attempt;
          continue;
        }
        int code = static_cast<int>(response.code);
        if (code == 429 || (code >= 500 && code <= 504)) {
          last = StatusFromResponse(code, response.body, req.operation);
          retry = true;
          retry_after = t.retry_after;
        } else {
          return response;
        }
      }
      if (!retry || attempt + 1 >= options.max_attempts) return last;
      metrics
          .GetCounter("tessera_kube_request_retries_total", "API server requests retried",
                      {{"verb", req.verb}, {"resource", req.resource}})
          .Inc();
      std::chrono::milliseconds delay = Backoff(attempt, retry_after);
      Log()->debug("retrying request op={} attempt={} delay_ms={} error={}", req.operation,
                   attempt + 1, delay.count(), base::Std(last.message()));
      std::stop_source wake;
      std::stop_callback on_shutdown(shutdown.get_token(), [&] { wake.request_stop(); });
      std::stop_callback on_caller(caller, [&] { wake.request_stop(); });
      if (!clock.SleepUntil(clock.MonotonicNow() + delay, wake.get_token())) {
        return absl::CancelledError(StrCat(req.operation, ": cancelled"));
      }
    }
    return last;
  }

  absl::StatusOr<Json> DoObject(const Request& req) {
    ASSIGN_OR_RETURN(Response r, Do(req));
    RETURN_IF_ERROR(StatusFromResponse(static_cast<int>(r.code), r.body, req.operation));
    return ParseObject(r.body, req.operation);
  }

  static constexpr size_t kLocks = 8;
  KubeConfig config;
  TokenSource tokens;
  base::Clock& clock;
  base::metrics::Registry& metrics;
  const RestOptions options;
  CURLSH* share = nullptr;
  std::array<std::mutex, kLocks> share_locks;
  std::mutex handles_mu;
  std::vector<CURL*> free_handles;
  std::stop_source shutdown;
  std::mutex rng_mu;
  std::mt19937_64 rng;
};

RestKubeClient::RestKubeClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RestKubeClient::~RestKubeClient() { Shutdown(); }

absl::StatusOr<std::unique_ptr<RestKubeClient>> RestKubeClient::Create(
    KubeConfig config, const base::Filesystem& fs, base::Clock& clock,
    base::metrics::Registry& metrics, RestOptions options) {
  static std::once_flag init;
  static CURLcode init_rc = CURLE_OK;
  std::call_once(init, [] { init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (init_rc != CURLE_OK) {
    return absl::InternalError(
        StrCat("create api client: curl_global_init: ", curl_easy_strerror(init_rc)));
  }
  if (!config.server.starts_with("https://") && !config.server.starts_with("http://")) {
    return absl::InvalidArgumentError(StrCat("create api client: server ",
                                             base::Quote(config.server),
                                             " is not an http:// or https:// URL"));
  }
  while (config.server.size() > 8 && config.server.back() == '/') config.server.pop_back();
  if (options.max_attempts < 1) options.max_attempts = 1;
  auto impl = std::make_unique<Impl>(std::move(config), fs, clock, metrics, std::move(options));
  impl->share = curl_share_init();
  if (impl->share == nullptr)
    return absl::InternalError("create api client: curl_share_init failed");
  curl_share_setopt(impl->share, CURLSHOPT_LOCKFUNC, &Impl::Lock);
  curl_share_setopt(impl->share, CURLSHOPT_UNLOCKFUNC, &Impl::Unlock);
  curl_share_setopt(impl->share, CURLSHOPT_USERDATA, impl.get());
  curl_share_setopt(impl->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  curl_share_setopt(impl->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(impl->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  return std::unique_ptr<RestKubeClient>(new RestKubeClient(std::move(impl)));
}

void RestKubeClient::Shutdown() { impl_->shutdown.request_stop(); }

absl::StatusOr<ObjectList> RestKubeClient::ListResourceSlices(const SliceSelector& selector) {
  Request req{.verb = "list", .resource = "resourceslices", .method = "GET", .path = kSlicesPath};
  std::string fs = selector.ToFieldSelector();
  if (!fs.empty()) req.query.push_back({"fieldSelector", fs});
  req.operation = "list resourceslices";
  ASSIGN_OR_RETURN(Response r, impl_->Do(req));
  RETURN_IF_ERROR(StatusFromResponse(static_cast<int>(r.code), r.body, req.operation));
  return DecodeSliceList(r.body, req.operation);
}

absl::Status RestKubeClient::WatchResourceSlices(const SliceSelector& selector,
                                                 const WatchOptions& options,
                                                 const WatchHandler& handler,
                                                 std::stop_token stop) {
  Impl& impl = *impl_;
  Request req{.verb = "watch", .resource = "resourceslices", .method = "GET", .path = kSlicesPath};
  req.query.push_back({"watch", "1"});
  req.query.push_back({"allowWatchBookmarks", "true"});
  req.query.push_back({"timeoutSeconds", std::to_string(options.timeout.count())});
  if (!options.resource_version.empty())
    req.query.push_back({"resourceVersion", options.resource_version});
  std::string fs = selector.ToFieldSelector();
  if (!fs.empty()) req.query.push_back({"fieldSelector", fs});
  req.operation = "watch resourceslices";
  if (impl.shutdown.stop_requested() || stop.stop_requested()) {
    return absl::CancelledError("watch resourceslices: cancelled");
  }
  absl::StatusOr<std::string> token = impl.tokens.Token();
  if (!token.ok()) return base::Annotate(token.status(), req.operation);

  absl::Status stream_status = absl::OkStatus();
  Transfer t;
  t.caller = stop;
  t.on_line = [&](std::string_view line) {
    absl::StatusOr<WatchEvent> e = DecodeWatchEvent(line, req.operation);
    if (!e.ok()) {
      stream_status = e.status();
      return false;
    }
    handler(*e);
    return true;
  };
  Response response;
  auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout +
                                                                       impl.options.watch_grace);
  auto start = impl.clock.MonotonicNow();
  CURLcode rc = impl.Perform(req, *token, timeout, t, response);
  double seconds = std::chrono::duration<double>(impl.clock.MonotonicNow() - start).count();
  impl.Record(req, rc == CURLE_OK || t.ended_by_handler ? std::to_string(response.code) : "error",
              seconds);
  if (t.ended_by_handler) return stream_status;
  if (t.overflow) return absl::ResourceExhaustedError("watch resourceslices: event too large");
  if (rc == CURLE_ABORTED_BY_CALLBACK)
    return absl::CancelledError("watch resourceslices: cancelled");
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    // Our deadline is beyond the server's timeoutSeconds: just watch again.
    return absl::OkStatus();
  }
  if (rc != CURLE_OK) {
    return absl::UnavailableError(StrCat("watch resourceslices: ", curl_easy_strerror(rc)));
  }
  if (response.code == 401) impl.tokens.Invalidate();
  return StatusFromResponse(static_cast<int>(response.code), response.body, req.operation);
}

absl::StatusOr<Json> RestKubeClient::CreateResourceSlice(const Json& slice) {
  Request req{
      .verb = "create", .resource = "resourceslices", .method = "POST", .path = kSlicesPath};
  req.query.push_back({"fieldValidation", "Strict"});
  req.body = slice.dump();
  req.idempotent = false;
  req.operation = StrCat("create resourceslice ", NameOf(slice));
  return impl_->DoObject(req);
}

absl::StatusOr<Json> RestKubeClient::UpdateResourceSlice(const Json& slice) {
  std::string name = NameOf(slice);
  RETURN_IF_ERROR(CheckObjectName(name, "update resourceslice"));
  Request req{.verb = "update",
              .resource = "resourceslices",
              .method = "PUT",
              .path = StrCat(kSlicesPath, "/", name)};
  req.query.push_back({"fieldValidation", "Strict"});
  req.body = slice.dump();
  // With a resourceVersion a repeated update fails with a conflict instead
  // of applying twice.
  req.idempotent = slice.contains("metadata") && slice["metadata"].contains("resourceVersion");
  req.operation = StrCat("update resourceslice ", name);
  return impl_->DoObject(req);
}

absl::Status RestKubeClient::DeleteResourceSlice(std::string_view name,
                                                 const Preconditions& preconditions) {
  RETURN_IF_ERROR(CheckObjectName(name, "delete resourceslice"));
  Request req{.verb = "delete",
              .resource = "resourceslices",
              .method = "DELETE",
              .path = StrCat(kSlicesPath, "/", name)};
  Json options = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (!preconditions.uid.empty()) options["preconditions"]["uid"] = preconditions.uid;
  if (!preconditions.resource_version.empty()) {
    options["preconditions"]["resourceVersion"] = preconditions.resource_version;
  }
  req.body = options.dump();
  req.operation = StrCat("delete resourceslice ", name);
  ASSIGN_OR_RETURN(Response r, impl_->Do(req));
  return StatusFromResponse(static_cast<int>(r.code), r.body, req.operation);
}

absl::StatusOr<Json> RestKubeClient::GetResourceClaim(std::string_view namespace_,
                                                      std::string_view name) {
  std::string operation = StrCat("get resourceclaim ", namespace_, "/", name);
  if (std::vector<std::string> e = IsDns1123Label(namespace_); !e.empty()) {
    return absl::InvalidArgumentError(
        StrCat(operation, ": namespace ", base::Quote(namespace_), ": ", e.front()));
  }
  RETURN_IF_ERROR(CheckObjectName(name, StrCat(operation, ": name")));
  Request req{
      .verb = "get",
      .resource = "resourceclaims",
      .method = "GET",
      .path = StrCat("/apis/resource.k8s.io/v1/namespaces/", namespace_, "/resourceclaims/", name)};
  req.operation = operation;
  return impl_->DoObject(req);
}

absl::StatusOr<Json> RestKubeClient::GetNode(std::string_view name) {
  RETURN_IF_ERROR(CheckObjectName(name, "get node"));
  Request req{
      .verb = "get", .resource = "nodes", .method = "GET", .path = StrCat("/api/v1/nodes/", name)};
  req.operation = StrCat("get node ", name);
  return impl_->DoObject(req);
}

}  // namespace tessera::agent::kube
