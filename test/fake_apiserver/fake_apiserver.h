// FakeApiServer: ApiStore served over HTTP/1.1 on 127.0.0.1 (cpp-httplib),
// with the API server's paths, so that the real RestKubeClient and the
// publisher can be tested over loopback.
//
//   GET    /apis/resource.k8s.io/v1/resourceslices[?fieldSelector=&watch=1&resourceVersion=&timeoutSeconds=]
//   POST   /apis/resource.k8s.io/v1/resourceslices
//   DELETE /apis/resource.k8s.io/v1/resourceslices?fieldSelector=   (deletecollection)
//   GET|PUT|DELETE /apis/resource.k8s.io/v1/resourceslices/<name>
//   GET    /api/v1/nodes/<name>
//   GET    /apis/resource.k8s.io/v1/namespaces/<ns>/resourceclaims/<name>
//
// Watches stream one JSON event per line (chunked), end after timeoutSeconds
// with a BOOKMARK carrying the current resourceVersion, and report a
// compacted resourceVersion as an ERROR event with a 410 Status.
//
// Fault injection (Faults): with probability `rate` a request gets one of the
// enabled faults, drawn uniformly: 500/503, 429 with Retry-After, a slow
// answer, the connection dropped before the request is applied, or after (the
// change is made but the answer is lost). A deterministic seed makes runs
// repeatable. With `bearer_token` set, requests without that token get 401.
//
// Thread-safe. The server runs on its own threads until Stop() or destruction.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "test/fake_apiserver/api_store.h"

namespace httplib {
class Server;
}

namespace tessera::testing {

struct Faults {
  double rate = 0;  // 0..1, per request
  bool server_errors = true;
  bool throttling = true;
  bool slow = true;
  bool drop_before = true;
  bool drop_after = true;
  bool watches = false;  // also fault watch requests
  std::chrono::milliseconds slow_delay{200};
  int retry_after_seconds = 1;
  uint64_t seed = 42;
};

// Requests served, by verb: "list", "watch", "get", "create", "update",
// "delete", "deletecollection"; and faults injected, by kind.
struct RequestCounts {
  std::map<std::string, uint64_t> by_verb;
  std::map<std::string, uint64_t> faults;
  uint64_t writes() const;  // create + update + delete + deletecollection
  uint64_t total() const;
};

class FakeApiServer {
 public:
  struct Options {
    ApiStore::Options store;
    std::string bearer_token;  // required when non-empty
    int port = 0;              // 0: any free port
    // HTTPS when set (PEM files); with client_ca_file, clients must present
    // a certificate signed by it.
    std::string tls_cert_file;
    std::string tls_key_file;
    std::string client_ca_file;
  };

  static absl::StatusOr<std::unique_ptr<FakeApiServer>> Start(Options options);
  static absl::StatusOr<std::unique_ptr<FakeApiServer>> Start() { return Start(Options{}); }
  ~FakeApiServer();
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  // "http://127.0.0.1:<port>" ("https://" with TLS)
  std::string url() const;
  int port() const { return port_; }
  ApiStore& store() { return store_; }

  void SetFaults(const Faults& faults);
  void SetBearerToken(const std::string& token);
  RequestCounts counts() const;
  void ResetCounts();
  void Stop();

 private:
  explicit FakeApiServer(Options options);
  void Install();
  // Decides the fault for one request ("" for none).
  std::string DrawFault(bool is_watch);
  void Count(const std::string& verb, const std::string& fault);

  Options options_;
  ApiStore store_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> stopped_{false};

  mutable std::mutex mu_;
  Faults faults_;
  std::mt19937_64 rng_;
  std::string token_;
  RequestCounts counts_;
};

}  // namespace tessera::testing
