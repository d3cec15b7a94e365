// The DRAPlugin gRPC services (v1 and v1beta1) that the kubelet calls to
// prepare and unprepare claims. Both versions share one DraCore; the services
// only translate protos to ClaimHandler types and back.
//
// The contract (dra-api-facts.md §2, §3, §6.3-6.5):
//   - the response has exactly one entry per distinct claim uid of the
//     request; a claim the handler left out gets an error entry;
//   - a claim without uid, namespace or name fails alone (InvalidArgument in
//     its error field), as does a uid repeated with another namespace/name;
//   - one claim's failure is that claim's error, never the call's. Only a
//     call that cannot run at all (serialization lock timeout or shutdown)
//     returns a gRPC error, whose code is the absl code cast;
//   - request_names are reduced to base request names ("a/b" -> "a");
//   - share_id is sent on v1 only (v1beta1 has no such field).
//
// Thread-safety: DraCore is safe for concurrent use (it serializes through
// CallSerializer). Every referenced object must outlive the services.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "base/clock.h"
#include "kubelet/claim_handler.h"
#include "kubelet/kubelet_stats.h"
#include "kubelet/serializer.h"

namespace grpc {
class Service;
}  // namespace grpc

namespace tessera::kubelet {

// Longer per-claim error texts are cut (with "...") before they go on the wire.
inline constexpr size_t kMaxClaimErrorBytes = 4096;

class DraCore final {
 public:
  // `stop` aborts waits for the serialization lock when the plugin stops.
  DraCore(ClaimHandler& handler, CallSerializer& serializer, KubeletStats& stats,
          base::Clock& clock, std::stop_token stop);

  // One result per distinct uid of `claims`, with devices normalized as
  // described above. Whole-call errors: DeadlineExceeded / Cancelled from the
  // serializer, Cancelled when `cancelled()` says the caller is gone.
  absl::StatusOr<std::map<std::string, PrepareResult>> Prepare(
      const std::vector<ClaimRef>& claims, const std::function<bool()>& cancelled);
  absl::StatusOr<std::map<std::string, absl::Status>> Unprepare(
      const std::vector<ClaimRef>& claims, const std::function<bool()>& cancelled);

 private:
  ClaimHandler& handler_;
  CallSerializer& serializer_;
  KubeletStats& stats_;
  base::Clock& clock_;
  const std::stop_token stop_;
};

// k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin, advertised as "v1.DRAPlugin".
std::unique_ptr<grpc::Service> NewDraV1Service(DraCore& core, KubeletStats& stats,
                                               base::Clock& clock);
// k8s.io.kubelet.pkg.apis.dra.v1beta1.DRAPlugin, advertised as "v1beta1.DRAPlugin".
std::unique_ptr<grpc::Service> NewDraV1beta1Service(DraCore& core, KubeletStats& stats,
                                                    base::Clock& clock);

}  // namespace tessera::kubelet
