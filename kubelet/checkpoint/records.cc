#include "kubelet/checkpoint/records.h"

#include "base/json_util.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "kubelet/cdi/spec.h"

namespace tessera::kubelet::checkpoint {
namespace {

using base::json::Json;
namespace json = base::json;

absl::StatusOr<std::vector<std::string>> Strings(const Json& obj, std::string_view path,
                                                 std::string_view key) {
  ASSIGN_OR_RETURN(const Json* arr, json::GetArray(obj, path, key));
  std::vector<std::string> out;
  for (size_t i = 0; i < arr->size(); ++i) {
    if (!(*arr)[i].is_string()) {
      return json::TypeError(json::Index(json::Field(path, key), i), "string", (*arr)[i]);
    }
    out.push_back((*arr)[i].get<std::string>());
  }
  return out;
}

absl::StatusOr<base::ContainerEdits> Edits(const Json& obj, std::string_view path,
                                           std::string_view key) {
  ASSIGN_OR_RETURN(const Json* edits, json::GetOptionalObject(obj, path, key));
  if (edits == nullptr) return base::ContainerEdits();
  return cdi::EditsFromJson(*edits, json::Field(path, key));
}

absl::StatusOr<DeviceRecord> DeviceFromJson(const Json& obj, std::string_view path) {
  RETURN_IF_ERROR(json::RejectUnknownFields(
      obj, path, {"requestNames", "pool", "device", "shareId", "cdiDeviceIds", "state", "edits"}));
  DeviceRecord d;
  ASSIGN_OR_RETURN(d.request_names, Strings(obj, path, "requestNames"));
  ASSIGN_OR_RETURN(d.pool, json::GetString(obj, path, "pool"));
  ASSIGN_OR_RETURN(d.device, json::GetString(obj, path, "device"));
  ASSIGN_OR_RETURN(std::optional<std::string> share, json::GetOptionalString(obj, path, "shareId"));
  d.share_id = share.value_or("");
  ASSIGN_OR_RETURN(d.cdi_ids, Strings(obj, path, "cdiDeviceIds"));
  if (auto it = obj.find("state"); it != obj.end()) d.state = *it;
  ASSIGN_OR_RETURN(d.edits, Edits(obj, path, "edits"));
  return d;
}

}  // namespace

std::string_view PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kPrepareStarted:
      return "PrepareStarted";
    case Phase::kPrepared:
      return "Prepared";
  }
  return "Unknown";
}

Json ClaimToJson(const ClaimRecord& claim) {
  Json out = Json::object();
  out["uid"] = claim.uid;
  out["namespace"] = claim.namespace_;
  out["name"] = claim.name;
  out["phase"] = PhaseName(claim.phase);
  if (claim.recovered) out["recovered"] = true;
  Json devices = Json::array();
  for (const DeviceRecord& d : claim.devices) {
    Json dev = Json::object();
    dev["requestNames"] = d.request_names;
    dev["pool"] = d.pool;
    dev["device"] = d.device;
    if (!d.share_id.empty()) dev["shareId"] = d.share_id;
    dev["cdiDeviceIds"] = d.cdi_ids;
    dev["state"] = d.state;
    if (!d.edits.empty()) dev["edits"] = cdi::EditsToJson(d.edits);
    devices.push_back(std::move(dev));
  }
  out["devices"] = std::move(devices);
  if (!claim.claim_edits.empty()) out["claimEdits"] = cdi::EditsToJson(claim.claim_edits);
  return out;
}

absl::StatusOr<ClaimRecord> ClaimFromJson(const Json& obj, std::string_view path) {
  RETURN_IF_ERROR(json::RejectUnknownFields(
      obj, path, {"uid", "namespace", "name", "phase", "recovered", "devices", "claimEdits"}));
  ClaimRecord c;
  ASSIGN_OR_RETURN(c.uid, json::GetString(obj, path, "uid"));
  ASSIGN_OR_RETURN(c.namespace_, json::GetString(obj, path, "namespace"));
  ASSIGN_OR_RETURN(c.name, json::GetString(obj, path, "name"));
  ASSIGN_OR_RETURN(std::string phase, json::GetString(obj, path, "phase"));
  if (phase == PhaseName(Phase::kPrepareStarted)) {
    c.phase = Phase::kPrepareStarted;
  } else if (phase == PhaseName(Phase::kPrepared)) {
    c.phase = Phase::kPrepared;
  } else {
    return absl::InvalidArgumentError(
        base::StrCat(json::Field(path, "phase"), ": unknown phase ", base::Quote(phase)));
  }
  ASSIGN_OR_RETURN(std::optional<bool> recovered, json::GetOptionalBool(obj, path, "recovered"));
  c.recovered = recovered.value_or(false);
  ASSIGN_OR_RETURN(const Json* devices, json::GetArray(obj, path, "devices"));
  for (size_t i = 0; i < devices->size(); ++i) {
    const std::string dpath = json::Index(json::Field(path, "devices"), i);
    if (!(*devices)[i].is_object()) return json::TypeError(dpath, "object", (*devices)[i]);
    ASSIGN_OR_RETURN(DeviceRecord d, DeviceFromJson((*devices)[i], dpath));
    c.devices.push_back(std::move(d));
  }
  ASSIGN_OR_RETURN(c.claim_edits, Edits(obj, path, "claimEdits"));
  return c;
}

}  // namespace tessera::kubelet::checkpoint
