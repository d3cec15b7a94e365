// The kubelet plugin Registration service (pluginregistration.Registration)
// served on the registration socket: GetInfo tells the kubelet who we are and
// where the DRA services live; NotifyRegistrationStatus is the kubelet's
// verdict, kept here for readiness ("registered with the kubelet").
//
// GetInfo answers from constant data (the kubelet allows it 1 s). As the
// upstream helper does, a NotifyRegistrationStatus with plugin_registered =
// false is answered with a gRPC error (UNKNOWN) after it has been recorded.
//
// Thread-safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

#include "base/clock.h"
#include "kubelet/kubelet_stats.h"

namespace grpc {
class Service;
}  // namespace grpc

namespace tessera::kubelet {

inline constexpr std::string_view kDraPluginType = "DRAPlugin";
inline constexpr std::string_view kDraV1Service = "v1.DRAPlugin";
inline constexpr std::string_view kDraV1beta1Service = "v1beta1.DRAPlugin";
inline constexpr std::string_view kHealthV1alpha1Service = "v1alpha1.DRAResourceHealth";

// What GetInfo returns.
struct PluginInfo {
  std::string type;                             // "DRAPlugin"
  std::string name;                             // the driver name
  std::string endpoint;                         // absolute path of the DRA socket
  std::vector<std::string> supported_versions;  // services, most preferred first

  bool operator==(const PluginInfo&) const = default;
};

// The kubelet's last verdict.
struct RegistrationState {
  enum class Phase { kPending, kRegistered, kRejected };
  Phase phase = Phase::kPending;  // kPending until the first notification
  std::string error;              // the kubelet's reason when kRejected
  base::Clock::WallTime updated{};
  uint64_t notifications = 0;
};

// The registration state behind the service: the info we announce and the
// kubelet's verdicts. Outlives the gRPC service object.
class RegistrationRecorder final {
 public:
  RegistrationRecorder(PluginInfo info, KubeletStats& stats, base::Clock& clock);
  RegistrationRecorder(const RegistrationRecorder&) = delete;
  RegistrationRecorder& operator=(const RegistrationRecorder&) = delete;

  const PluginInfo& info() const { return info_; }
  RegistrationState state() const;
  // Keeps the kubelet's verdict and updates tessera_kubelet_registered.
  void Record(bool registered, std::string error);

 private:
  const PluginInfo info_;
  KubeletStats& stats_;
  base::Clock& clock_;
  mutable absl::Mutex mu_;
  RegistrationState state_ ABSL_GUARDED_BY(mu_);
};

// pluginregistration.Registration backed by `recorder`, which must outlive it.
std::unique_ptr<grpc::Service> NewRegistrationService(RegistrationRecorder& recorder,
                                                      KubeletStats& stats, base::Clock& clock);

}  // namespace tessera::kubelet
