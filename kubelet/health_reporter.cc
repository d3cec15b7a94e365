#include "kubelet/health_reporter.h"

#include <algorithm>
#include <tuple>

#include "kubelet/internal/wire_text.h"

namespace tessera::kubelet {
namespace {

// Equal for the kubelet: everything but the timestamp.
bool SameVisibleState(const std::vector<DeviceHealth>& a, const std::vector<DeviceHealth>& b) {
  return std::equal(
      a.begin(), a.end(), b.begin(), b.end(), [](const DeviceHealth& x, const DeviceHealth& y) {
        return std::tie(x.pool_name, x.device_name, x.health, x.message, x.health_check_timeout) ==
               std::tie(y.pool_name, y.device_name, y.health, y.message, y.health_check_timeout);
      });
}

}  // namespace

std::string_view HealthStatusName(HealthStatus status) {
  switch (status) {
    case HealthStatus::kHealthy:
      return "Healthy";
    case HealthStatus::kUnhealthy:
      return "Unhealthy";
    case HealthStatus::kUnknown:
      break;
  }
  return "Unknown";
}

HealthReporter::HealthReporter(base::Clock& clock) : clock_(clock), changed_(clock) {}

void HealthReporter::Report(std::vector<DeviceHealth> devices) {
  const base::Clock::WallTime now = clock_.Now();
  for (DeviceHealth& d : devices) {
    if (d.last_updated == base::Clock::WallTime{}) d.last_updated = now;
    d.message = internal::TruncateUtf8(internal::SanitizeUtf8(d.message), kMaxHealthMessageBytes);
  }
  // Stable sort + keep the last of equal keys = "last entry wins".
  auto key_less = [](const DeviceHealth& a, const DeviceHealth& b) {
    return std::tie(a.pool_name, a.device_name) < std::tie(b.pool_name, b.device_name);
  };
  std::stable_sort(devices.begin(), devices.end(), key_less);
  std::vector<DeviceHealth> unique;
  unique.reserve(devices.size());
  for (DeviceHealth& d : devices) {
    if (!unique.empty() && !key_less(unique.back(), d)) {
      unique.back() = std::move(d);
    } else {
      unique.push_back(std::move(d));
    }
  }

  absl::MutexLock lock(&mu_);
  bool changed = snapshot_.version == 0 || !SameVisibleState(snapshot_.devices, unique);
  snapshot_.devices = std::move(unique);
  if (changed) {
    ++snapshot_.version;
    changed_.NotifyAll();
  }
}

HealthReporter::Snapshot HealthReporter::Current() const {
  absl::MutexLock lock(&mu_);
  return snapshot_;
}

HealthReporter::Snapshot HealthReporter::WaitForChange(uint64_t seen_version,
                                                       base::Clock::MonoTime deadline,
                                                       std::stop_token stop) {
  absl::MutexLock lock(&mu_);
  changed_.WaitUntil(mu_, deadline, stop, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return snapshot_.version != seen_version;
  });
  return snapshot_;
}

}  // namespace tessera::kubelet
