// KubeletStats: the metrics of one plugin's kubelet-facing services, bound to
// a base::metrics::Registry and labelled with the driver name (several
// plugins, one per driver, share the agent's registry).
//
//   tessera_kubelet_requests_total{driver,service,method,result}   counter
//   tessera_kubelet_request_duration_seconds{driver,service,method} histogram (unary)
//   tessera_prepare_claims_total{driver,result}                     counter
//   tessera_unprepare_claims_total{driver,result}                   counter
//   tessera_kubelet_serialize_wait_seconds{driver}                  histogram
//   tessera_kubelet_registered{driver}                              gauge 0/1
//   tessera_kubelet_health_streams{driver}                          gauge
//   tessera_kubelet_health_reports_total{driver,reason}             counter
//
// service is "v1.DRAPlugin", "v1beta1.DRAPlugin", "v1alpha1.DRAResourceHealth"
// or "Registration"; result is "success" or "error"; reason is "initial",
// "change" or "periodic". Thread-safe; the registry must outlive the object.
#pragma once

#include <string>
#include <string_view>

#include "base/metrics.h"

namespace tessera::kubelet {

class KubeletStats final {
 public:
  KubeletStats(base::metrics::Registry& registry, std::string driver);

  // A unary call: counted and its duration observed.
  void RecordRequest(std::string_view service, std::string_view method, bool ok,
                     double duration_seconds);
  // A call without a meaningful latency (a stream that ended): counted only.
  void CountRequest(std::string_view service, std::string_view method, bool ok);
  void RecordClaim(std::string_view method, bool ok);  // NodePrepare/NodeUnprepareResources
  void RecordSerializeWait(double seconds);
  void SetRegistered(bool registered);
  void AddHealthStreams(int delta);
  void RecordHealthReport(std::string_view reason);

 private:
  base::metrics::Registry& registry_;
  const std::string driver_;
};

}  // namespace tessera::kubelet
