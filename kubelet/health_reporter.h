// HealthReporter: the device health of one DRA driver, as the kubelet's
// health stream (DRAResourceHealth.NodeWatchResources, KEP-4680) reports it.
//
// The agent feeds it the driver's complete device list after every scan
// (level-triggered, like the inventory); the health service streams the full
// list to the kubelet whenever it changes and re-sends it periodically. The
// reporter keeps a version that moves only when something the kubelet would
// see changes (a device appears or vanishes, its health, message or timeout
// changes); a report that only refreshes timestamps keeps the version.
//
// Thread-safety: safe for concurrent use. The clock must outlive the object.
#pragma once

#include <chrono>
#include <cstdint>
#include <stop_token>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

#include "base/clock.h"
#include "kubelet/internal/clock_condition.h"

namespace tessera::kubelet {

enum class HealthStatus { kUnknown, kHealthy, kUnhealthy };

// "Unknown", "Healthy" or "Unhealthy".
std::string_view HealthStatusName(HealthStatus status);

// The kubelet truncates longer messages; we do it first, on a UTF-8 boundary.
inline constexpr size_t kMaxHealthMessageBytes = 1024;

struct DeviceHealth {
  std::string pool_name;
  std::string device_name;
  HealthStatus health = HealthStatus::kUnknown;
  std::string message;  // why, for humans; at most kMaxHealthMessageBytes
  // How long the kubelet trusts this status without a new report; zero
  // selects the kubelet's default (30 s).
  std::chrono::seconds health_check_timeout{0};
  // When the driver last determined the status. Report() stamps it with the
  // clock's wall time when left at the epoch.
  base::Clock::WallTime last_updated{};

  bool operator==(const DeviceHealth&) const = default;
};

class HealthReporter final {
 public:
  explicit HealthReporter(base::Clock& clock);
  HealthReporter(const HealthReporter&) = delete;
  HealthReporter& operator=(const HealthReporter&) = delete;

  struct Snapshot {
    uint64_t version = 0;               // 0 until the first Report()
    std::vector<DeviceHealth> devices;  // sorted by (pool, device), unique
  };

  // Replaces the driver's complete device list. Devices are sorted; for a
  // duplicate (pool, device) the last entry wins. Messages are cut to
  // kMaxHealthMessageBytes. Wakes the waiters when the visible state changed.
  void Report(std::vector<DeviceHealth> devices);

  Snapshot Current() const;

  // Blocks until the version differs from `seen_version`, `deadline` passes
  // on the clock, or `stop` is requested; returns the state at that moment.
  Snapshot WaitForChange(uint64_t seen_version, base::Clock::MonoTime deadline,
                         std::stop_token stop);

 private:
  base::Clock& clock_;
  mutable absl::Mutex mu_;
  internal::ClockCondition changed_ ABSL_GUARDED_BY(mu_);
  Snapshot snapshot_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::kubelet
