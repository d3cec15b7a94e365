// RestKubeClient: KubeClient over the API server's REST API, on cpp-httplib
// and OpenSSL (both included only in rest_kube_client.cc).
//
// Transport: HTTP/1.1 with keep-alive; a pool of idle connections shared by
// every request, so concurrent callers reuse connections. Every request has
// a deadline (request_timeout; a watch gets its timeoutSeconds plus a grace
// period). TLS with the config's CA bundle or the system's, optional client
// certificate (with its chain), or insecure-skip-tls-verify. The server URL
// may carry a path prefix (an authenticating proxy's). HTTPS_PROXY /
// HTTP_PROXY / NO_PROXY are honoured as client-go does (http:// proxies only).
// Shutdown and a watch's stop token close the socket under a blocked read,
// so they take effect at once.
//
// Why not libcurl: Debian's libcurl4 loads 25 libraries for protocols the
// agent never speaks (GnuTLS, Kerberos, LDAP, RTMP, SSH...), 3.5 MiB of the
// agent's resident memory (BENCHMARKS.md, footprint).
//
// Retries, with jittered exponential backoff slept on base::Clock:
//   - connection failures (nothing was sent): every verb;
//   - 429 (honouring Retry-After, capped at max_backoff) and 5xx: every verb;
//   - timeouts and connections dropped mid-request: idempotent verbs only
//     (get, list, update with resourceVersion, delete with preconditions). A
//     create whose answer was lost is not retried: it returns Unavailable and
//     the publisher's next sync finds (or re-creates) the slice;
//   - 401 with a token file: the token is re-read and the request repeated once.
// Error codes are those of kube_client.h (StatusFromResponse).
//
// Metrics: tessera_kube_requests_total{verb,resource,code},
// tessera_kube_request_duration_seconds{verb,resource,code} (per attempt;
// code is the HTTP status or "error"), tessera_kube_request_retries_total{verb,resource}.
//
// Thread-safe. `fs`, `clock` and `metrics` must outlive the client.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

#include "agent/kube/kube_client.h"
#include "agent/kube/kube_config.h"
#include "base/clock.h"
#include "base/filesystem.h"
#include "base/metrics.h"

namespace tessera::agent::kube {

struct RestOptions {
  std::chrono::milliseconds request_timeout{30'000};
  std::chrono::milliseconds connect_timeout{10'000};
  int max_attempts = 5;
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{10'000};  // also caps Retry-After
  std::chrono::seconds watch_grace{30};           // client deadline beyond timeoutSeconds
  std::chrono::seconds token_refresh{60};
  std::string user_agent = "tessera-agent/0.1";
  uint64_t jitter_seed = 0;  // 0: seeded from std::random_device
  size_t max_response_bytes = 64 << 20;
};

// The decoding of what the API server streams back, separate from the
// transport so that it can be tested and fuzzed on its own. Pure functions.
//
// A ResourceSliceList body (GET .../resourceslices): items that are not
// objects are skipped, each item gets apiVersion/kind (list items carry
// none), metadata.resourceVersion becomes the list's. InvalidArgument
// "<operation>: response..." when the body is not a JSON object or items is
// not an array.
absl::StatusOr<ObjectList> DecodeSliceList(std::string_view body, std::string_view operation);
// One line of a watch stream ({"type": ..., "object": {...}}). An ERROR event
// comes back as its Status (StatusFromResponse of the embedded metav1.Status,
// e.g. OutOfRange for 410 Expired; Unknown if it claims a 2xx code); a
// malformed line or an unknown type is InvalidArgument "<operation>: ...".
absl::StatusOr<WatchEvent> DecodeWatchEvent(std::string_view line, std::string_view operation);

namespace internal {  // exposed for tests

// The API server's address, split from the kubeconfig's server URL.
struct Endpoint {
  bool tls = false;
  std::string host;       // for connect() and certificate checks: no brackets
  std::string authority;  // for the Host header: as written in the URL
  int port = 0;
  std::string prefix;  // path prefix (a proxy's), without a trailing '/'
};
// http(s)://host[:port][/prefix], host a name, an IPv4 address or [IPv6].
// InvalidArgument naming the server and what is wrong.
absl::StatusOr<Endpoint> ParseServer(std::string_view server);

// Whether NO_PROXY exempts `host`, with Go's rules (golang.org/x/net
// httpproxy): "*" matches everything; a name matches itself and its
// subdomains, ".name" its subdomains only; an IP address matches itself and
// a CIDR block the addresses inside it; a ":port" suffix is ignored.
bool NoProxyMatches(std::string_view no_proxy, std::string_view host);

}  // namespace internal

class RestKubeClient final : public KubeClient {
 public:
  // InvalidArgument for a config without a usable server URL.
  static absl::StatusOr<std::unique_ptr<RestKubeClient>> Create(KubeConfig config,
                                                                const base::Filesystem& fs,
                                                                base::Clock& clock,
                                                                base::metrics::Registry& metrics,
                                                                RestOptions options = {});
  ~RestKubeClient() override;

  // Ends backoff waits and aborts in-flight requests and watches (they return
  // Cancelled); later calls fail with Cancelled. Idempotent.
  void Shutdown();

  absl::StatusOr<ObjectList> ListResourceSlices(const SliceSelector& selector) override;
  absl::Status WatchResourceSlices(const SliceSelector& selector, const WatchOptions& options,
                                   const WatchHandler& handler, std::stop_token stop) override;
  absl::StatusOr<nlohmann::json> CreateResourceSlice(const nlohmann::json& slice) override;
  absl::StatusOr<nlohmann::json> UpdateResourceSlice(const nlohmann::json& slice) override;
  absl::Status DeleteResourceSlice(std::string_view name,
                                   const Preconditions& preconditions) override;
  absl::StatusOr<nlohmann::json> GetResourceClaim(std::string_view namespace_,
                                                  std::string_view name) override;
  absl::StatusOr<nlohmann::json> GetNode(std::string_view name) override;

  struct Impl;

 private:
  explicit RestKubeClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::agent::kube
