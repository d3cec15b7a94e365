#include "kubelet/kubelet_stats.h"

#include <utility>

namespace tessera::kubelet {
namespace {
std::string Result(bool ok) { return ok ? "success" : "error"; }
}  // namespace

KubeletStats::KubeletStats(base::metrics::Registry& registry, std::string driver)
    : registry_(registry), driver_(std::move(driver)) {
  // Created eagerly so that /metrics shows them before the first event.
  SetRegistered(false);
  AddHealthStreams(0);
}

void KubeletStats::RecordRequest(std::string_view service, std::string_view method, bool ok,
                                 double duration_seconds) {
  CountRequest(service, method, ok);
  registry_
      .GetHistogram(
          "tessera_kubelet_request_duration_seconds", "Time to answer a kubelet gRPC request.",
          base::metrics::LatencyBuckets(),
          {{"driver", driver_}, {"service", std::string(service)}, {"method", std::string(method)}})
      .Observe(duration_seconds);
}

void KubeletStats::CountRequest(std::string_view service, std::string_view method, bool ok) {
  registry_
      .GetCounter("tessera_kubelet_requests_total", "gRPC requests served to the kubelet.",
                  {{"driver", driver_},
                   {"service", std::string(service)},
                   {"method", std::string(method)},
                   {"result", Result(ok)}})
      .Inc();
}

void KubeletStats::RecordClaim(std::string_view method, bool ok) {
  std::string_view name = method == "NodePrepareResources" ? "tessera_prepare_claims_total"
                                                           : "tessera_unprepare_claims_total";
  std::string_view help = method == "NodePrepareResources" ? "Claims prepared for the kubelet."
                                                           : "Claims unprepared for the kubelet.";
  registry_.GetCounter(name, help, {{"driver", driver_}, {"result", Result(ok)}}).Inc();
}

void KubeletStats::RecordSerializeWait(double seconds) {
  registry_
      .GetHistogram("tessera_kubelet_serialize_wait_seconds",
                    "Time a prepare or unprepare call waited for the serialization lock.",
                    base::metrics::LatencyBuckets(), {{"driver", driver_}})
      .Observe(seconds);
}

void KubeletStats::SetRegistered(bool registered) {
  registry_
      .GetGauge("tessera_kubelet_registered",
                "1 when the kubelet reported a successful plugin registration.",
                {{"driver", driver_}})
      .Set(registered ? 1 : 0);
}

void KubeletStats::AddHealthStreams(int delta) {
  registry_
      .GetGauge("tessera_kubelet_health_streams", "Open NodeWatchResources streams.",
                {{"driver", driver_}})
      .Add(delta);
}

void KubeletStats::RecordHealthReport(std::string_view reason) {
  registry_
      .GetCounter("tessera_kubelet_health_reports_total",
                  "Device health lists sent on NodeWatchResources streams.",
                  {{"driver", driver_}, {"reason", std::string(reason)}})
      .Inc();
}

}  // namespace tessera::kubelet
