// FakeKubeClient: a KubeClient that calls an ApiStore in-process, for unit
// tests that must not touch the network or real time (the publisher with a
// FakeClock). Errors are mapped with the same StatusFromResponse as the REST
// client, so codes and messages match.
//
// Failure injection: set_injector() decides, per call, an error to return
// instead of calling the store (verb is "list", "watch", "create", "update",
// "delete", "get-claim", "get-node"). Calls are counted per verb.
// Thread-safe; `store` must outlive the client.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "agent/kube/kube_client.h"
#include "test/fake_apiserver/api_store.h"

namespace tessera::testing {

class FakeKubeClient final : public agent::kube::KubeClient {
 public:
  using Injector = std::function<absl::Status(std::string_view verb)>;

  explicit FakeKubeClient(ApiStore& store) : store_(store) {}

  absl::StatusOr<agent::kube::ObjectList> ListResourceSlices(
      const agent::kube::SliceSelector& selector) override;
  absl::Status WatchResourceSlices(const agent::kube::SliceSelector& selector,
                                   const agent::kube::WatchOptions& options,
                                   const agent::kube::WatchHandler& handler,
                                   std::stop_token stop) override;
  absl::StatusOr<nlohmann::json> CreateResourceSlice(const nlohmann::json& slice) override;
  absl::StatusOr<nlohmann::json> UpdateResourceSlice(const nlohmann::json& slice) override;
  absl::Status DeleteResourceSlice(std::string_view name,
                                   const agent::kube::Preconditions& preconditions) override;
  absl::StatusOr<nlohmann::json> GetResourceClaim(std::string_view namespace_,
                                                  std::string_view name) override;
  absl::StatusOr<nlohmann::json> GetNode(std::string_view name) override;

  void set_injector(Injector injector);
  // Calls made so far, by verb (injected failures included).
  std::map<std::string, int> calls() const;
  int writes() const;  // create + update + delete
  void ResetCalls();

 private:
  absl::Status Begin(std::string_view verb);

  ApiStore& store_;
  mutable std::mutex mu_;
  Injector injector_;
  std::map<std::string, int> calls_;
};

}  // namespace tessera::testing
