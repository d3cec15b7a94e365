// libFuzzer harness for reading a ResourceClaim, from the API server's JSON
// (RestClaimSource: base::json::Parse) or a standalone claim file
// (FileClaimSource: YamlToJson), through ParseResourceClaim to what a driver
// is asked to prepare (SelectForDriver, for every driver the claim names).
//
// The first byte selects the reader: even JSON, odd YAML.
// Invariants: no crash; errors are InvalidArgument (FailedPrecondition from
// SelectForDriver when nothing is ours) with a message; YamlToJson yields
// JSON that serializes, and JsonToYaml -> YamlToJson gives it back unchanged
// (the documented identity, noncharacters aside); a parsed claim keeps the
// API's limits (uid set, at most 32 results and 64 configs, opaque parameters
// objects); the selected devices are all from the driver and pool asked for,
// with non-empty request names, each (device, shareID) once, and configs of
// at most 10 KiB.
#include <cstdint>
#include <set>
#include <string>
#include <utility>

#include "agent/claims/select.h"
#include "agent/kube/claim_reader.h"
#include "agent/kube/yaml_json.h"
#include "base/json_util.h"
#include "test/fuzz/fuzz_check.h"

namespace {

namespace kube = tessera::agent::kube;
namespace agent = tessera::agent;
using Json = nlohmann::json;
using tessera::base::Std;
using tessera::fuzz::CheckCleanError;

// Whether `j` serializes (strings are valid UTF-8): everything downstream
// (checkpoint, CDI, API requests) dumps JSON strictly.
bool Serializes(const Json& j) {
  try {
    (void)j.dump();
    return true;
  } catch (const Json::exception&) {
    return false;
  }
}

// `s` with Unicode noncharacters (U+FDD0..U+FDEF, U+xFFFE, U+xFFFF) replaced
// by U+FFFD, as yaml-cpp writes them in quoted scalars (yaml_json.h).
std::string ReplaceNoncharacters(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len && i + k < s.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    }
    if ((cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE) {
      out += "\xEF\xBF\xBD";
    } else {
      out.append(s, i, len);
    }
    i += len;
  }
  return out;
}

Json ReplaceNoncharacters(const Json& j) {
  if (j.is_string()) return ReplaceNoncharacters(j.get<std::string>());
  if (j.is_array()) {
    Json out = Json::array();
    for (const Json& item : j) out.push_back(ReplaceNoncharacters(item));
    return out;
  }
  if (j.is_object()) {
    Json out = Json::object();
    for (auto it = j.begin(); it != j.end(); ++it) {
      out[ReplaceNoncharacters(it.key())] = ReplaceNoncharacters(*it);
    }
    return out;
  }
  return j;
}

void CheckYamlRoundTrip(const Json& j) {
  const std::string yaml = kube::JsonToYaml(j);
  absl::StatusOr<Json> back = kube::YamlToJson(yaml, "round trip");
  FUZZ_CHECK(back.ok(),
             "JsonToYaml output does not parse: ", back.ok() ? "" : Std(back.status().message()),
             "\n", yaml);
  FUZZ_CHECK(*back == j || ReplaceNoncharacters(*back) == ReplaceNoncharacters(j),
             "JsonToYaml -> YamlToJson changed the value: ",
             j.dump(-1, ' ', false, Json::error_handler_t::replace), " -> ",
             back->dump(-1, ' ', false, Json::error_handler_t::replace));
}

void CheckSelection(const agent::ResourceClaim& claim, const agent::SelectOptions& options) {
  absl::StatusOr<tessera::drivers::ClaimPrepareRequest> req =
      agent::SelectForDriver(claim, options);
  if (!req.ok()) {
    return CheckCleanError(
        req.status(), {absl::StatusCode::kInvalidArgument, absl::StatusCode::kFailedPrecondition},
        "SelectForDriver");
  }
  FUZZ_CHECK(req->claim_uid == claim.uid, "claim uid not carried");
  FUZZ_CHECK(!req->devices.empty(), "selection without devices");
  std::set<std::pair<std::string, std::string>> seen;
  for (const tessera::drivers::DeviceAllocation& d : req->devices) {
    FUZZ_CHECK(!d.request.empty() && d.request.find('/') == std::string::npos, "request ",
               d.request, " is not a base request name");
    FUZZ_CHECK(!d.device.empty(), "empty device name");
    FUZZ_CHECK(seen.emplace(d.device, d.share_id).second, "device ", d.device, " twice");
    bool ours = false;
    for (const agent::AllocationResult& r : claim.results) {
      ours = ours || (r.driver == options.driver && r.pool == options.pool && r.device == d.device);
    }
    FUZZ_CHECK(ours, "device ", d.device, " is not from ", options.driver, "/", options.pool);
    for (const tessera::drivers::OpaqueConfig& c : d.configs) {
      FUZZ_CHECK(c.parameters.is_object(), "config parameters are not an object");
      FUZZ_CHECK(c.parameters.dump(-1, ' ', false, Json::error_handler_t::replace).size() <=
                     options.max_opaque_parameters_bytes,
                 "config over the size limit passed");
      FUZZ_CHECK(c.source == "FromClass" || c.source == "FromClaim", "config source ", c.source);
    }
  }
  for (const tessera::drivers::PeerDevice& p : req->peers) {
    FUZZ_CHECK(p.driver != options.driver, "a device of our own driver listed as a peer");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tessera::fuzz::Input in(data, size);
  const bool yaml = in.Byte() % 2 == 1;
  const std::string_view text = in.Rest();
  absl::StatusOr<Json> doc = yaml ? kube::YamlToJson(text, "resourceclaim file")
                                  : tessera::base::json::Parse(text, "response");
  if (!doc.ok()) {
    CheckCleanError(doc.status(), {absl::StatusCode::kInvalidArgument}, "parse");
    return 0;
  }
  FUZZ_CHECK(Serializes(*doc), yaml ? "YamlToJson" : "json::Parse",
             " returned JSON that does not serialize (invalid UTF-8)");
  CheckYamlRoundTrip(*doc);

  absl::StatusOr<agent::ResourceClaim> claim = kube::ParseResourceClaim(*doc);
  if (!claim.ok()) {
    CheckCleanError(claim.status(), {absl::StatusCode::kInvalidArgument}, "ParseResourceClaim");
    return 0;
  }
  FUZZ_CHECK(!claim->uid.empty(), "claim without uid accepted");
  FUZZ_CHECK(claim->results.size() <= kube::kMaxAllocationResults, "too many results accepted");
  FUZZ_CHECK(claim->configs.size() <= kube::kMaxAllocationConfigs, "too many configs accepted");
  FUZZ_CHECK(claim->allocated || (claim->results.empty() && claim->configs.empty()),
             "results without an allocation");
  for (const agent::AllocationConfig& c : claim->configs) {
    FUZZ_CHECK(c.parameters.is_object(), "opaque parameters that are not an object accepted");
  }
  // What each driver named in the claim would be asked to prepare.
  std::set<std::pair<std::string, std::string>> drivers;
  for (const agent::AllocationResult& r : claim->results) drivers.emplace(r.driver, r.pool);
  drivers.emplace("gpu.tessera.dev", "node-a");
  for (const auto& [driver, pool] : drivers) {
    CheckSelection(*claim, {.driver = driver, .pool = pool});
  }
  return 0;
}
