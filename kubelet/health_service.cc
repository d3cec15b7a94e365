#include "kubelet/health_service.h"

#include <string_view>

#include "k8s.io/kubelet/pkg/apis/dra-health/v1alpha1/api.grpc.pb.h"

#include "base/log.h"
#include "kubelet/internal/log.h"
#include "kubelet/internal/wire_text.h"

namespace tessera::kubelet {
namespace {

using internal::Log;

::v1alpha1::HealthStatus ToProto(HealthStatus h) {
  switch (h) {
    case HealthStatus::kHealthy:
      return ::v1alpha1::HEALTHY;
    case HealthStatus::kUnhealthy:
      return ::v1alpha1::UNHEALTHY;
    case HealthStatus::kUnknown:
      break;
  }
  return ::v1alpha1::UNKNOWN;
}

::v1alpha1::NodeWatchResourcesResponse ToProto(const HealthReporter::Snapshot& snapshot) {
  ::v1alpha1::NodeWatchResourcesResponse response;
  for (const DeviceHealth& d : snapshot.devices) {
    ::v1alpha1::DeviceHealth* out = response.add_devices();
    out->mutable_device()->set_pool_name(internal::SanitizeUtf8(d.pool_name));
    out->mutable_device()->set_device_name(internal::SanitizeUtf8(d.device_name));
    out->set_health(ToProto(d.health));
    out->set_last_updated_time(
        std::chrono::duration_cast<std::chrono::seconds>(d.last_updated.time_since_epoch())
            .count());
    out->set_health_check_timeout_seconds(d.health_check_timeout.count());
    out->set_message(d.message);  // sanitized and truncated by the reporter
  }
  return response;
}

class HealthService final : public ::v1alpha1::DRAResourceHealth::Service {
 public:
  HealthService(HealthReporter& reporter, KubeletStats& stats, base::Clock& clock,
                std::chrono::nanoseconds resend_interval, std::stop_token stop)
      : reporter_(reporter),
        stats_(stats),
        clock_(clock),
        resend_interval_(resend_interval),
        stop_(stop) {}

  grpc::Status NodeWatchResources(
      grpc::ServerContext* context, const ::v1alpha1::NodeWatchResourcesRequest* /*request*/,
      grpc::ServerWriter<::v1alpha1::NodeWatchResourcesResponse>* writer) override {
    stats_.AddHealthStreams(1);
    HealthReporter::Snapshot snapshot = reporter_.Current();
    std::string_view reason = "initial";
    bool client_gone = false;
    while (!stop_.stop_requested() && !context->IsCancelled()) {
      // Counted before the write so that a reader never sees a report the
      // counter does not include yet.
      stats_.RecordHealthReport(reason);
      if (!writer->Write(ToProto(snapshot))) {
        client_gone = true;
        break;
      }
      uint64_t sent = snapshot.version;
      snapshot = reporter_.WaitForChange(sent, clock_.MonotonicNow() + resend_interval_, stop_);
      reason = snapshot.version != sent ? "change" : "periodic";
    }
    stats_.AddHealthStreams(-1);
    stats_.CountRequest("v1alpha1.DRAResourceHealth", "NodeWatchResources", true);
    Log().debug("health stream ended client_gone={} stopping={}", client_gone,
                stop_.stop_requested());
    return grpc::Status::OK;
  }

 private:
  HealthReporter& reporter_;
  KubeletStats& stats_;
  base::Clock& clock_;
  const std::chrono::nanoseconds resend_interval_;
  const std::stop_token stop_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewHealthService(HealthReporter& reporter, KubeletStats& stats,
                                                base::Clock& clock,
                                                std::chrono::nanoseconds resend_interval,
                                                std::stop_token stop) {
  return std::make_unique<HealthService>(reporter, stats, clock, resend_interval, stop);
}

}  // namespace tessera::kubelet
