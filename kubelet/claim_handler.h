// ClaimHandler: what the kubelet-facing DRA service calls to prepare and
// unprepare claims. Defined here, in the consumer's layer, and implemented in
// agent/claims (DeviceState), so kubelet/ never depends on drivers/.
//
// The service translates protos to these types and back and nothing else;
// one claim's failure is that claim's error, never the call's.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace tessera::kubelet {

// A claim as the kubelet names it: all three fields are required.
struct ClaimRef {
  std::string uid;
  std::string namespace_;
  std::string name;
};

struct PreparedDeviceResult {
  std::vector<std::string> request_names;  // base request names; empty = all requests
  std::string pool_name;
  std::string device_name;
  std::vector<std::string> cdi_device_ids;  // fully qualified "vendor/class=name"
  std::string share_id;                     // "" unless shared by capacity
};

struct PrepareResult {
  absl::Status status;  // non-OK: the claim failed; its message goes to the kubelet
  std::vector<PreparedDeviceResult> devices;
};

// Implementations must be safe for concurrent calls; the DRA service already
// serializes Prepare and Unprepare (in process, and across instances with a
// file lock during rolling updates).
class ClaimHandler {
 public:
  virtual ~ClaimHandler() = default;
  ClaimHandler() = default;
  ClaimHandler(const ClaimHandler&) = delete;
  ClaimHandler& operator=(const ClaimHandler&) = delete;

  // Returns exactly one entry per distinct claim uid of `claims`.
  virtual std::map<std::string, PrepareResult> Prepare(const std::vector<ClaimRef>& claims) = 0;
  // Returns exactly one entry per distinct claim uid; an unknown claim is OK.
  virtual std::map<std::string, absl::Status> Unprepare(const std::vector<ClaimRef>& claims) = 0;
};

}  // namespace tessera::kubelet
