// The DRAResourceHealth v1alpha1 gRPC service (KEP-4680): NodeWatchResources
// streams the driver's complete device health list from a HealthReporter,
// first at once, then whenever the reporter's version moves, and at least
// every `resend_interval` (the kubelet marks a device Unknown when it hears
// nothing about it for its health_check_timeout, 30 s by default).
//
// A stream ends with OK when the plugin stops (`stop` requested) and ends
// when a write fails because the kubelet went away. The sync gRPC API only
// notices a vanished client on the next write, so such a stream holds its
// thread for at most one resend interval.
//
// Thread-safety: safe for concurrent streams. Referenced objects must outlive
// the service.
#pragma once

#include <chrono>
#include <memory>
#include <stop_token>

#include "base/clock.h"
#include "kubelet/health_reporter.h"
#include "kubelet/kubelet_stats.h"

namespace grpc {
class Service;
}  // namespace grpc

namespace tessera::kubelet {

inline constexpr std::chrono::seconds kDefaultHealthResendInterval{10};

// v1alpha1.DRAResourceHealth, advertised as "v1alpha1.DRAResourceHealth".
std::unique_ptr<grpc::Service> NewHealthService(HealthReporter& reporter, KubeletStats& stats,
                                                base::Clock& clock,
                                                std::chrono::nanoseconds resend_interval,
                                                std::stop_token stop);

}  // namespace tessera::kubelet
