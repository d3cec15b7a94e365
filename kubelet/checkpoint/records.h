// What the checkpoint records about each claim, and its JSON encoding (v1).
//
// A ClaimRecord holds everything needed after a restart to answer a repeated
// Prepare with identical results, to undo the driver's work on Unprepare, to
// re-apply host state after a reboot, and to rebuild the claim's CDI spec:
// the kubelet-visible result per device, the driver's opaque state, and the
// CDI edits. Plain values; thread-compatible.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

#include "base/container_edits.h"

namespace tessera::kubelet::checkpoint {

enum class Phase {
  kPrepareStarted,  // the driver may have changed host state; not answered yet
  kPrepared,        // spec written, result returned to the kubelet
};
std::string_view PhaseName(Phase phase);  // "PrepareStarted", "Prepared"

struct DeviceRecord {
  std::vector<std::string> request_names;  // base request names
  std::string pool;
  std::string device;
  std::string share_id;                             // "" unless shared by capacity
  std::vector<std::string> cdi_ids;                 // fully qualified
  nlohmann::json state = nlohmann::json::object();  // the driver's record
  base::ContainerEdits edits;                       // this device's CDI edits
  friend bool operator==(const DeviceRecord&, const DeviceRecord&) = default;
};

struct ClaimRecord {
  std::string uid;
  std::string namespace_;
  std::string name;
  Phase phase = Phase::kPrepared;
  // Rebuilt from a CDI spec after the checkpoint was lost: devices carry only
  // the CDI ids and edits, no driver state, request names or namespace/name.
  bool recovered = false;
  std::vector<DeviceRecord> devices;
  base::ContainerEdits claim_edits;  // spec-level CDI edits
  friend bool operator==(const ClaimRecord&, const ClaimRecord&) = default;
};

// v1 encoding. Decoding is strict (unknown fields and wrong types are
// InvalidArgument naming the field under `path`).
nlohmann::json ClaimToJson(const ClaimRecord& claim);
absl::StatusOr<ClaimRecord> ClaimFromJson(const nlohmann::json& json, std::string_view path);

}  // namespace tessera::kubelet::checkpoint
