// The kubelet's half of the DRA plugin protocol, as a reusable client: find
// registration sockets, GetInfo, validate the answer as the kubelet does,
// NotifyRegistrationStatus, call NodePrepareResources/NodeUnprepareResources
// (v1 or v1beta1) and read the NodeWatchResources health stream.
//
// Used by node-debug's `kubelet` commands to exercise a live node, and by the
// tests as an independent peer of PluginServer. Timeouts default to the
// kubelet's own (dra-api-facts.md §1, §3): dial 10 s, GetInfo 1 s,
// NotifyRegistrationStatus 5 s, prepare/unprepare 45 s.
//
// gRPC errors become absl::Status with the same code (both follow
// google.rpc.Code) and a message naming the call and the socket.
// Thread-safety: free functions are thread-safe; DraPluginClient is safe for
// concurrent calls; a HealthWatch is read by one thread (Cancel from any).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "kubelet/claim_handler.h"
#include "kubelet/health_reporter.h"
#include "kubelet/registration_service.h"

namespace tessera::kubelet {

inline constexpr std::chrono::milliseconds kKubeletDialTimeout = std::chrono::seconds(10);
inline constexpr std::chrono::milliseconds kKubeletGetInfoTimeout = std::chrono::seconds(1);
inline constexpr std::chrono::milliseconds kKubeletNotifyTimeout = std::chrono::seconds(5);
inline constexpr std::chrono::milliseconds kKubeletCallTimeout = std::chrono::seconds(45);

enum class DraApiVersion { kV1, kV1beta1 };
// "v1.DRAPlugin" / "v1beta1.DRAPlugin".
std::string_view DraApiVersionName(DraApiVersion api);

// Unix sockets below `registry_dir` (recursively) whose names do not start
// with '.', sorted: what the kubelet's plugin watcher would try to register.
// NotFound when the directory is missing.
absl::StatusOr<std::vector<std::string>> FindRegistrationSockets(const std::string& registry_dir);

// GetInfo on a registration socket.
absl::StatusOr<PluginInfo> GetPluginInfo(
    const std::string& registration_socket,
    std::chrono::milliseconds timeout = kKubeletGetInfoTimeout);

// The outcome of the kubelet's DRA validation of a PluginInfo.
struct ValidatedPlugin {
  PluginInfo info;
  std::string endpoint;  // info.endpoint, or the registration socket when empty
  DraApiVersion api;     // the first entry of supported_versions we speak
  bool health = false;   // "v1alpha1.DRAResourceHealth" advertised
};

// Validates as the kubelet does: type "DRAPlugin", a non-empty name (equal to
// `expected_driver` when that is given), an absolute endpoint (or empty), and
// at least one supported service the kubelet knows, taking the first in the
// plugin's order. InvalidArgument otherwise.
absl::StatusOr<ValidatedPlugin> ValidatePluginInfo(const PluginInfo& info,
                                                   const std::string& registration_socket,
                                                   std::string_view expected_driver = "");

// NotifyRegistrationStatus; returns the plugin's answer (an error when
// `registered` is false, for plugins that follow the upstream helper).
absl::Status NotifyRegistrationStatus(const std::string& registration_socket, bool registered,
                                      std::string_view error,
                                      std::chrono::milliseconds timeout = kKubeletNotifyTimeout);

// The kubelet's whole registration step for one socket: GetInfo, validate,
// then NotifyRegistrationStatus(true), or (false, reason) and the validation
// error. A failed GetInfo is returned as is (nothing to notify).
absl::StatusOr<ValidatedPlugin> RegisterPlugin(const std::string& registration_socket,
                                               std::string_view expected_driver = "");

// One device of a NodePrepareResources answer, as it was on the wire.
struct PreparedDevice {
  std::vector<std::string> request_names;
  std::string pool_name;
  std::string device_name;
  std::vector<std::string> cdi_device_ids;
  std::optional<std::string> share_id;  // v1 only; nullopt when absent

  bool operator==(const PreparedDevice&) const = default;
};

struct ClaimPrepareResponse {
  std::string error;  // non-empty: the claim failed
  std::vector<PreparedDevice> devices;
};

using PrepareResponse = std::map<std::string, ClaimPrepareResponse>;  // by claim uid
using UnprepareResponse = std::map<std::string, std::string>;         // uid -> error ("" = ok)

// The kubelet's check of an answer against its request: an entry for a uid
// it did not ask about, or a missing entry, is an error (Internal), as is a
// non-empty error for any claim (the error text is included).
absl::Status CheckPrepareResponse(const std::vector<ClaimRef>& request,
                                  const PrepareResponse& response);
absl::Status CheckUnprepareResponse(const std::vector<ClaimRef>& request,
                                    const UnprepareResponse& response);

// An open NodeWatchResources stream.
class HealthWatch {
 public:
  virtual ~HealthWatch() = default;
  HealthWatch() = default;
  HealthWatch(const HealthWatch&) = delete;
  HealthWatch& operator=(const HealthWatch&) = delete;

  // Blocks for the next complete device list. OutOfRange when the plugin
  // ended the stream cleanly; the stream's gRPC error otherwise.
  virtual absl::StatusOr<std::vector<DeviceHealth>> Next() = 0;
  // Ends the stream from any thread; a blocked Next() returns Cancelled.
  virtual void Cancel() = 0;
};

class DraPluginClient final {
 public:
  // Connects to the DRA endpoint (an absolute socket path) and waits until the
  // channel is ready. Unavailable when it is not within `dial_timeout`.
  static absl::StatusOr<std::unique_ptr<DraPluginClient>> Connect(
      const std::string& endpoint, DraApiVersion api,
      std::chrono::milliseconds dial_timeout = kKubeletDialTimeout);
  ~DraPluginClient();
  DraPluginClient(const DraPluginClient&) = delete;
  DraPluginClient& operator=(const DraPluginClient&) = delete;

  DraApiVersion api() const { return api_; }
  const std::string& endpoint() const { return endpoint_; }

  // The raw answer (no CheckPrepareResponse); a gRPC error as Status.
  absl::StatusOr<PrepareResponse> NodePrepareResources(
      const std::vector<ClaimRef>& claims, std::chrono::milliseconds timeout = kKubeletCallTimeout);
  absl::StatusOr<UnprepareResponse> NodeUnprepareResources(
      const std::vector<ClaimRef>& claims, std::chrono::milliseconds timeout = kKubeletCallTimeout);

  // Opens v1alpha1.DRAResourceHealth/NodeWatchResources. Opening is lazy:
  // errors (e.g. UNIMPLEMENTED when the plugin has no health service) come
  // from the first Next(). The stream is cut (DeadlineExceeded) after
  // `max_duration`.
  absl::StatusOr<std::unique_ptr<HealthWatch>> WatchResources(
      std::chrono::milliseconds max_duration = std::chrono::hours(24));

 private:
  struct Stubs;
  DraPluginClient(std::string endpoint, DraApiVersion api, std::unique_ptr<Stubs> stubs);

  const std::string endpoint_;
  const DraApiVersion api_;
  std::unique_ptr<Stubs> stubs_;
};

}  // namespace tessera::kubelet
