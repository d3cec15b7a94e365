#include "agent/kube/rest_kube_client.h"

#include <arpa/inet.h>

#include <array>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <vector>

#include "httplib.h"
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

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

using Json = nlohmann::json;

namespace {

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

absl::StatusOr<int> ParsePort(std::string_view text, std::string_view server) {
  int port = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || ptr != text.data() + text.size() || port < 1 || port > 65535) {
    return absl::InvalidArgumentError(
        StrCat("server ", base::Quote(server), ": port ", base::Quote(text), " is not 1-65535"));
  }
  return port;
}

// An IP address, v4 or v6, as 16 bytes (v4 mapped) and its prefix length.
std::optional<std::array<unsigned char, 16>> ParseIp(std::string_view text) {
  std::array<unsigned char, 16> out{};
  const std::string t(text);
  in_addr v4{};
  if (::inet_pton(AF_INET, t.c_str(), &v4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, t.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

}  // namespace

namespace internal {

absl::StatusOr<Endpoint> ParseServer(std::string_view server) {
  Endpoint e;
  std::string_view rest;
  if (server.starts_with("https://")) {
    e.tls = true;
    rest = server.substr(8);
  } else if (server.starts_with("http://")) {
    rest = server.substr(7);
  } else {
    return absl::InvalidArgumentError(
        StrCat("server ", base::Quote(server), " is not an http:// or https:// URL"));
  }
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view prefix = rest.substr(slash);
    while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
    if (prefix.find_first_of("?#") != std::string_view::npos) {
      return absl::InvalidArgumentError(
          StrCat("server ", base::Quote(server), ": a query or fragment is not allowed"));
    }
    e.prefix = std::string(prefix);
  }
  if (authority.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        StrCat("server ", base::Quote(server), ": user information is not allowed in the URL"));
  }
  e.authority = std::string(authority);
  e.port = e.tls ? 443 : 80;
  if (authority.starts_with('[')) {  // [IPv6]:port
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(StrCat("server ", base::Quote(server), ": unclosed '['"));
    }
    e.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        return absl::InvalidArgumentError(
            StrCat("server ", base::Quote(server), ": junk after the IPv6 address"));
      }
      ASSIGN_OR_RETURN(e.port, ParsePort(after.substr(1), server));
    }
  } else {
    const size_t colon = authority.rfind(':');
    e.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      ASSIGN_OR_RETURN(e.port, ParsePort(authority.substr(colon + 1), server));
    }
  }
  if (e.host.empty()) {
    return absl::InvalidArgumentError(StrCat("server ", base::Quote(server), " has no host"));
  }
  return e;
}

bool NoProxyMatches(std::string_view no_proxy, std::string_view host) {
  const std::string h = base::ToLower(host);
  const std::optional<std::array<unsigned char, 16>> host_ip = ParseIp(h);
  for (std::string_view entry : base::Split(no_proxy, ',')) {
    entry = base::StripWhitespace(entry);
    if (entry.empty()) continue;
    if (entry == "*") return true;
    if (const size_t slash = entry.find('/'); slash != std::string_view::npos) {  // CIDR
      std::optional<std::array<unsigned char, 16>> net = ParseIp(entry.substr(0, slash));
      int bits = -1;
      std::string_view len = entry.substr(slash + 1);
      std::from_chars(len.data(), len.data() + len.size(), bits);
      if (!net || !host_ip) continue;
      const bool v4 = entry.substr(0, slash).find(':') == std::string_view::npos;
      if (v4) bits += 96;  // within the v4-mapped form
      if (bits < 0 || bits > 128) continue;
      bool inside = true;
      for (int b = 0; b < bits && inside; ++b) {
        const int byte = b / 8, mask = 0x80 >> (b % 8);
        inside = ((*net)[byte] & mask) == ((*host_ip)[byte] & mask);
      }
      if (inside) return true;
      continue;
    }
    if (entry.starts_with('[')) {  // [v6] or [v6]:port
      entry = entry.substr(1, entry.find(']') - 1);
    } else if (const size_t colon = entry.rfind(':');
               colon != std::string_view::npos && entry.find(':') == colon) {
      entry = entry.substr(0, colon);  // "host:port": the port is not compared
    }
    if (host_ip) {
      if (std::optional<std::array<unsigned char, 16>> ip = ParseIp(entry); ip && *ip == *host_ip) {
        return true;
      }
      continue;
    }
    const std::string n = base::ToLower(entry);
    if (n.starts_with('.')) {  // subdomains only
      if (h.ends_with(n)) return true;
    } else if (h == n ||
               (h.size() > n.size() && h.ends_with(n) && h[h.size() - n.size() - 1] == '.')) {
      return true;  // the name and its subdomains
    }
  }
  return false;
}

}  // namespace internal

namespace {

using internal::Endpoint;
using internal::NoProxyMatches;
using internal::ParseServer;

// Query values percent-encoded (RFC 3986: only unreserved characters stay).
std::string Escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

// The proxy the environment names for `e` (HTTPS_PROXY / HTTP_PROXY, either
// case, unless NO_PROXY matches), as client-go reads them. Only http://
// proxies (CONNECT for TLS); nullopt for none.
struct Proxy {
  std::string host;
  int port = 0;
  std::string user, password;
};

std::string Env(const char* upper, const char* lower) {
  for (const char* name : {upper, lower}) {  // upper case first, as Go reads them
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') return v;
  }
  return "";
}

absl::StatusOr<std::optional<Proxy>> ProxyFor(const Endpoint& e) {
  std::string url = e.tls ? Env("HTTPS_PROXY", "https_proxy") : Env("HTTP_PROXY", "http_proxy");
  if (url.empty() || NoProxyMatches(Env("NO_PROXY", "no_proxy"), e.host)) return std::nullopt;
  if (url.find("://") == std::string::npos) url = StrCat("http://", url);
  if (!url.starts_with("http://")) {
    return absl::InvalidArgumentError(
        StrCat("proxy ", base::Quote(url), ": only http:// proxies are supported"));
  }
  Proxy p;
  std::string_view rest = std::string_view(url).substr(7);
  rest = rest.substr(0, rest.find('/'));
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) {
    base::SplitPair up = base::SplitOnce(rest.substr(0, at), ':');
    p.user = std::string(up.first);
    p.password = std::string(up.second);
    rest = rest.substr(at + 1);
  }
  ASSIGN_OR_RETURN(Endpoint pe, ParseServer(StrCat("http://", rest)));
  p.host = pe.host;
  p.port = pe.port;  // 80 when the URL has none, as in Go (curl would say 1080)
  return p;
}

// OpenSSL objects from PEM text. The caller owns what it gets.
absl::StatusOr<X509_STORE*> CaStore(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  X509_STORE* store = X509_STORE_new();
  int added = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (X509_STORE_add_cert(store, cert) == 1) ++added;
    X509_free(cert);
  }
  ERR_clear_error();  // the end of the PEM text reads as an error
  if (added == 0) {
    X509_STORE_free(store);
    return absl::InvalidArgumentError(
        "certificate authority: no PEM certificate (kubeconfig certificate-authority[-data], "
        "or the service account's ca.crt)");
  }
  return store;
}

struct ClientIdentity {
  X509* cert = nullptr;
  std::vector<X509*> chain;  // intermediates after the leaf
  EVP_PKEY* key = nullptr;
  ~ClientIdentity() {
    X509_free(cert);
    for (X509* c : chain) X509_free(c);
    EVP_PKEY_free(key);
  }
};

absl::Status LoadIdentity(std::string_view cert_pem, std::string_view key_pem, ClientIdentity& id) {
  std::unique_ptr<BIO, decltype(&BIO_free)> certs(
      BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())), &BIO_free);
  id.cert = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr);
  while (X509* extra = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr)) {
    id.chain.push_back(extra);
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> key(
      BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())), &BIO_free);
  id.key = PEM_read_bio_PrivateKey(key.get(), nullptr, nullptr, nullptr);
  ERR_clear_error();
  if (id.cert == nullptr) {
    return absl::InvalidArgumentError("client-certificate-data: no PEM certificate");
  }
  if (id.key == nullptr) {
    return absl::InvalidArgumentError("client-key-data: no PEM private key");
  }
  if (X509_check_private_key(id.cert, id.key) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "client-key-data: the key does not match client-certificate-data");
  }
  return absl::OkStatus();
}

// State of one exchange, shared with httplib's callbacks.
struct Transfer {
  size_t max_bytes = 0;
  std::string body;
  bool overflow = false;
  bool timed_out = false;
  int status = 0;
  std::optional<std::chrono::seconds> retry_after;
  std::stop_token shutdown;
  std::stop_token caller;
  std::chrono::steady_clock::time_point deadline;
  // Streaming (watch): called per complete line of a 200 answer; returns
  // false to end the transfer.
  std::function<bool(std::string_view)> on_line;
  std::string pending;
  bool ended_by_handler = false;

  bool Cancelled() const { return shutdown.stop_requested() || caller.stop_requested(); }
  // httplib calls this between reads: false ends the exchange.
  bool KeepGoing() {
    if (Cancelled()) return false;
    if (std::chrono::steady_clock::now() >= deadline) {
      timed_out = true;
      return false;
    }
    return true;
  }

  bool OnHeaders(const httplib::Response& r) {
    status = r.status;
    const std::string value = r.get_header_value("Retry-After");
    int seconds = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (!value.empty() && ec == std::errc() && seconds >= 0) {
      retry_after = std::chrono::seconds(seconds);
    }
    return KeepGoing();
  }

  bool OnData(const char* data, size_t n) {
    if (!KeepGoing()) return false;
    if (on_line && status == 200) {
      pending.append(data, n);
      size_t start = 0;
      while (true) {
        size_t nl = pending.find('\n', start);
        if (nl == std::string::npos) break;
        std::string_view line(pending.data() + start, nl - start);
        start = nl + 1;
        if (base::StripWhitespace(line).empty()) continue;
        if (!on_line(line)) {
          ended_by_handler = true;
          return false;
        }
      }
      pending.erase(0, start);
      if (pending.size() > max_bytes) {
        overflow = true;
        return false;
      }
      return true;
    }
    if (body.size() + n > max_bytes) {
      overflow = true;
      return false;
    }
    body.append(data, n);
    return true;
  }
};

enum class Failure { kNone, kConnect, kTimeout, kTransport, kCancelled, kVerify, kOther };

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
  Impl(KubeConfig c, Endpoint e, std::optional<Proxy> p, const base::Filesystem& fs,
       base::Clock& clk, base::metrics::Registry& m, RestOptions o)
      : config(std::move(c)),
        endpoint(std::move(e)),
        proxy(std::move(p)),
        tokens(config.bearer_token, config.token_file, fs, clk, o.token_refresh),
        clock(clk),
        metrics(m),
        options(std::move(o)),
        rng(options.jitter_seed != 0 ? options.jitter_seed : std::random_device{}()) {}

  // A new connection to the API server (it connects on first use).
  absl::StatusOr<std::unique_ptr<httplib::ClientImpl>> NewConnection() const {
    std::unique_ptr<httplib::ClientImpl> c;
    if (endpoint.tls) {
      std::unique_ptr<httplib::SSLClient> tls;
      if (!config.client_cert_pem.empty()) {
        ClientIdentity id;
        RETURN_IF_ERROR(LoadIdentity(config.client_cert_pem, config.client_key_pem, id));
        tls = std::make_unique<httplib::SSLClient>(endpoint.host, endpoint.port, id.cert, id.key);
        if (tls->is_valid()) {
          for (X509* extra : id.chain) {
            // The context takes this reference on success.
            if (SSL_CTX_add_extra_chain_cert(tls->ssl_context(), X509_dup(extra)) != 1) {
              ERR_clear_error();
            }
          }
        }
      } else {
        tls = std::make_unique<httplib::SSLClient>(endpoint.host, endpoint.port);
      }
      if (!tls->is_valid()) {
        ERR_clear_error();
        return absl::InvalidArgumentError("the TLS client could not be set up");
      }
      if (!config.ca_pem.empty()) {
        ASSIGN_OR_RETURN(X509_STORE * store, CaStore(config.ca_pem));
        tls->set_ca_cert_store(store);  // the context owns it
      }
      tls->enable_server_certificate_verification(!config.insecure_skip_tls_verify);
      c = std::move(tls);
    } else {
      c = std::make_unique<httplib::ClientImpl>(endpoint.host, endpoint.port);
    }
    c->set_keep_alive(true);
    c->set_url_encode(false);  // paths and queries are escaped here
    c->set_follow_location(false);
    c->set_tcp_nodelay(true);
    const auto connect = options.connect_timeout;
    c->set_connection_timeout(std::chrono::duration_cast<std::chrono::microseconds>(connect));
    if (proxy) {
      c->set_proxy(proxy->host, proxy->port);
      if (!proxy->user.empty()) c->set_proxy_basic_auth(proxy->user, proxy->password);
    }
    return c;
  }

  absl::StatusOr<std::unique_ptr<httplib::ClientImpl>> Acquire() {
    {
      std::lock_guard lock(pool_mu);
      if (!idle.empty()) {
        std::unique_ptr<httplib::ClientImpl> c = std::move(idle.back());
        idle.pop_back();
        return c;
      }
    }
    return NewConnection();
  }
  void Release(std::unique_ptr<httplib::ClientImpl> c) {
    std::lock_guard lock(pool_mu);
    if (idle.size() < kMaxIdle) idle.push_back(std::move(c));
  }

  std::string Target(const Request& req) const {
    std::string target = StrCat(endpoint.prefix, req.path);
    for (size_t i = 0; i < req.query.size(); ++i) {
      base::StrAppend(&target, i == 0 ? "?" : "&", req.query[i].first, "=",
                      Escape(req.query[i].second));
    }
    return target;
  }

  // One exchange. Fills `response` and `t`; returns what failed, with a
  // message for the failure in `what`.
  Failure Perform(const Request& req, const std::string& token, std::chrono::milliseconds timeout,
                  Transfer& t, Response& response, std::string& what) {
    t.max_bytes = options.max_response_bytes;
    t.shutdown = shutdown.get_token();
    t.deadline = std::chrono::steady_clock::now() + timeout;
    absl::StatusOr<std::unique_ptr<httplib::ClientImpl>> conn = Acquire();
    if (!conn.ok()) {
      what = StrCat(req.operation, ": ", base::Std(conn.status().message()));
      return Failure::kOther;
    }
    httplib::ClientImpl& c = **conn;
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(timeout);
    c.set_read_timeout(micros);
    c.set_write_timeout(micros);

    httplib::Request r;
    r.method = req.method;
    r.path = Target(req);
    r.headers = {{"Host", endpoint.authority},
                 {"Accept", "application/json"},
                 {"User-Agent", options.user_agent}};
    if (!token.empty()) r.headers.emplace("Authorization", StrCat("Bearer ", token));
    if (req.method != "GET") {
      r.headers.emplace("Content-Type", "application/json");
      r.body = req.body;
    }
    r.response_handler = [&t](const httplib::Response& h) { return t.OnHeaders(h); };
    r.content_receiver = [&t](const char* data, size_t n, uint64_t, uint64_t) {
      return t.OnData(data, n);
    };
    r.progress = [&t](uint64_t, uint64_t) { return t.KeepGoing(); };

    httplib::Response res;
    httplib::Error error = httplib::Error::Success;
    bool ok;
    {
      // Shutdown or the caller's stop closes the socket under a blocked read.
      std::stop_callback on_shutdown(t.shutdown, [&c] { c.stop(); });
      std::stop_callback on_caller(t.caller, [&c] { c.stop(); });
      ok = !t.Cancelled() && c.send(r, res, error);
    }
    response.code = ok ? res.status : t.status;
    response.body = std::move(t.body);
    Failure failure = Failure::kNone;
    if (!ok) failure = Classify(error, t, c, what, req.operation);
    // A connection whose exchange failed half-way is not reused.
    if (failure == Failure::kNone) Release(std::move(*conn));
    return failure;
  }

  Failure Classify(httplib::Error error, const Transfer& t, const httplib::ClientImpl& c,
                   std::string& what, std::string_view operation) const {
    const std::string server = StrCat(endpoint.authority, proxy ? " (through the proxy)" : "");
    if (t.Cancelled()) return Failure::kCancelled;
    if (t.timed_out || std::chrono::steady_clock::now() >= t.deadline) {
      what = StrCat(operation, ": no complete answer from ", server, " before the deadline");
      return Failure::kTimeout;
    }
    switch (error) {
      case httplib::Error::Connection:
      case httplib::Error::BindIPAddress:
        what = StrCat(operation, ": could not connect to ", server);
        return Failure::kConnect;
      case httplib::Error::ConnectionTimeout:
        what = StrCat(operation, ": connecting to ", server, " timed out");
        return Failure::kConnect;
      case httplib::Error::SSLConnection:
        what = StrCat(operation, ": TLS handshake with ", server,
                      " failed (is the client certificate accepted?)");
        return Failure::kConnect;
      case httplib::Error::SSLServerVerification: {
        long verify = 0;
        if (const auto* tls = dynamic_cast<const httplib::SSLClient*>(&c)) {
          verify = tls->get_openssl_verify_result();
        }
        what = StrCat(operation, ": the certificate of ", server, " is not trusted",
                      verify != X509_V_OK ? StrCat(": ", X509_verify_cert_error_string(verify))
                                          : std::string(" (host name mismatch)"));
        return Failure::kVerify;
      }
      case httplib::Error::SSLLoadingCerts:
        what = StrCat(operation, ": loading the trusted certificates failed");
        return Failure::kVerify;
      case httplib::Error::Read:
      case httplib::Error::Write:
        what = StrCat(operation, ": the connection to ", server, " was lost");
        return Failure::kTransport;
      default:
        what = StrCat(operation, ": ", httplib::to_string(error), " talking to ", server);
        return Failure::kOther;
    }
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
      std::string what;
      auto start = clock.MonotonicNow();
      Failure failure = Perform(req, *token, options.request_timeout, t, response, what);
      double seconds = std::chrono::duration<double>(clock.MonotonicNow() - start).count();
      if (t.overflow) {
        Record(req, "error", seconds);
        return absl::ResourceExhaustedError(
            StrCat(req.operation, ": response larger than ", options.max_response_bytes, " bytes"));
      }
      bool retry = false;
      std::optional<std::chrono::seconds> retry_after;
      if (failure != Failure::kNone) {
        Record(req, "error", seconds);
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
          default:  // kVerify, kOther: asking again would not help
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

  // Connections kept open between requests: the publishers' watches and
  // writes, and the claim reads of concurrent prepares.
  static constexpr size_t kMaxIdle = 8;
  KubeConfig config;
  const Endpoint endpoint;
  const std::optional<Proxy> proxy;
  TokenSource tokens;
  base::Clock& clock;
  base::metrics::Registry& metrics;
  const RestOptions options;
  std::mutex pool_mu;
  std::vector<std::unique_ptr<httplib::ClientImpl>> idle;
  std::stop_source shutdown;
  std::mutex rng_mu;
  std::mt19937_64 rng;
};

RestKubeClient::RestKubeClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RestKubeClient::~RestKubeClient() { Shutdown(); }

absl::StatusOr<std::unique_ptr<RestKubeClient>> RestKubeClient::Create(
    KubeConfig config, const base::Filesystem& fs, base::Clock& clock,
    base::metrics::Registry& metrics, RestOptions options) {
  ASSIGN_OR_RETURN(Endpoint endpoint,
                   base::Annotate(ParseServer(config.server), "create api client"));
  ASSIGN_OR_RETURN(std::optional<Proxy> proxy,
                   base::Annotate(ProxyFor(endpoint), "create api client"));
  if (options.max_attempts < 1) options.max_attempts = 1;
  auto impl = std::make_unique<Impl>(std::move(config), std::move(endpoint), std::move(proxy), fs,
                                     clock, metrics, std::move(options));
  // Bad certificates or keys are the kubeconfig's fault: say so now, not at
  // the first request.
  RETURN_IF_ERROR(base::Annotate(impl->NewConnection().status(), "create api client"));
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
  std::string what;
  auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout +
                                                                       impl.options.watch_grace);
  auto start = impl.clock.MonotonicNow();
  Failure failure = impl.Perform(req, *token, timeout, t, response, what);
  double seconds = std::chrono::duration<double>(impl.clock.MonotonicNow() - start).count();
  impl.Record(
      req,
      failure == Failure::kNone || t.ended_by_handler ? std::to_string(response.code) : "error",
      seconds);
  if (t.ended_by_handler) return stream_status;
  if (t.overflow) return absl::ResourceExhaustedError("watch resourceslices: event too large");
  if (failure == Failure::kCancelled)
    return absl::CancelledError("watch resourceslices: cancelled");
  if (failure == Failure::kTimeout) {
    // Our deadline is beyond the server's timeoutSeconds: just watch again.
    return absl::OkStatus();
  }
  if (failure != Failure::kNone) return absl::UnavailableError(what);
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
