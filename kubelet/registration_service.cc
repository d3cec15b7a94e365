#include "kubelet/registration_service.h"

#include <chrono>
#include <utility>

#include "k8s.io/kubelet/pkg/apis/pluginregistration/v1/api.grpc.pb.h"

#include "base/log.h"
#include "base/strings.h"
#include "kubelet/internal/log.h"
#include "kubelet/internal/wire_text.h"

namespace tessera::kubelet {
namespace {

using internal::Log;

class RegistrationService final : public ::pluginregistration::Registration::Service {
 public:
  RegistrationService(RegistrationRecorder& recorder, KubeletStats& stats, base::Clock& clock)
      : recorder_(recorder), stats_(stats), clock_(clock) {}

  grpc::Status GetInfo(grpc::ServerContext* /*context*/,
                       const ::pluginregistration::InfoRequest* /*request*/,
                       ::pluginregistration::PluginInfo* response) override {
    base::Clock::MonoTime start = clock_.MonotonicNow();
    const PluginInfo& info = recorder_.info();
    response->set_type(info.type);
    response->set_name(info.name);
    response->set_endpoint(info.endpoint);
    for (const std::string& v : info.supported_versions) response->add_supported_versions(v);
    Record("GetInfo", true, start);
    return grpc::Status::OK;
  }

  grpc::Status NotifyRegistrationStatus(
      grpc::ServerContext* /*context*/, const ::pluginregistration::RegistrationStatus* request,
      ::pluginregistration::RegistrationStatusResponse* /*response*/) override {
    base::Clock::MonoTime start = clock_.MonotonicNow();
    recorder_.Record(request->plugin_registered(), request->error());
    Record("NotifyRegistrationStatus", true, start);
    if (request->plugin_registered()) return grpc::Status::OK;
    // The upstream helper answers a failed registration with an error, so a
    // kubelet-side log shows both halves of the failure.
    return grpc::Status(
        grpc::StatusCode::UNKNOWN,
        base::StrCat("plugin registration failed: ", internal::SanitizeUtf8(request->error())));
  }

 private:
  void Record(std::string_view method, bool ok, base::Clock::MonoTime start) {
    stats_.RecordRequest("Registration", method, ok,
                         std::chrono::duration<double>(clock_.MonotonicNow() - start).count());
  }

  RegistrationRecorder& recorder_;
  KubeletStats& stats_;
  base::Clock& clock_;
};

}  // namespace

RegistrationRecorder::RegistrationRecorder(PluginInfo info, KubeletStats& stats, base::Clock& clock)
    : info_(std::move(info)), stats_(stats), clock_(clock) {}

RegistrationState RegistrationRecorder::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

void RegistrationRecorder::Record(bool registered, std::string error) {
  {
    absl::MutexLock lock(&mu_);
    state_.phase =
        registered ? RegistrationState::Phase::kRegistered : RegistrationState::Phase::kRejected;
    state_.error = registered ? "" : error;
    state_.updated = clock_.Now();
    ++state_.notifications;
  }
  stats_.SetRegistered(registered);
  if (registered) {
    Log().info("registered with the kubelet driver={}", info_.name);
  } else {
    // Handled here: the kubelet retries by itself, a human may need to look.
    Log().error("kubelet rejected the plugin registration driver={} error={}", info_.name,
                internal::SanitizeUtf8(error));
  }
}

std::unique_ptr<grpc::Service> NewRegistrationService(RegistrationRecorder& recorder,
                                                      KubeletStats& stats, base::Clock& clock) {
  return std::make_unique<RegistrationService>(recorder, stats, clock);
}

}  // namespace tessera::kubelet
