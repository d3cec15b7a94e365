// ResourceSlice validation as the API server does it (resource.k8s.io/v1,
// Kubernetes 1.35 rules; see ../shared/docs/dra-api-facts.md §4 and §5), on
// the JSON form of the object.
//
// Two layers, as upstream:
//   - DecodeCheckResourceSlice: what the strict JSON decoder rejects (unknown
//     fields, wrong JSON types, unparsable quantities). The API server answers
//     400 BadRequest for these.
//   - ValidateResourceSlice / ValidateResourceSliceUpdate: field validation
//     (names, limits, one-of rules). The API server answers 422 Invalid with
//     one cause per FieldError.
// ValidatePool adds the client-side pool checks of the upstream helper
// (device names and counter sets unique in the pool, no dangling counter
// references), which the API server cannot do for one object.
//
// The publisher validates what it is about to send, and test/fake_apiserver
// validates what it receives with the same code, so the two cannot drift.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace tessera::agent::kube {

// Limits of resource.k8s.io/v1 in Kubernetes 1.35.
inline constexpr size_t kMaxDevicesPerSlice = 128;
inline constexpr size_t kMaxDevicesPerSliceWithTaintsOrCounters = 64;
inline constexpr size_t kMaxCounterSetsPerSlice = 8;
inline constexpr size_t kMaxCountersPerCounterSet = 32;
inline constexpr size_t kMaxCounterConsumptionsPerDevice = 2;
inline constexpr size_t kMaxCountersPerConsumption = 32;
inline constexpr size_t kMaxAttributesAndCapacitiesPerDevice = 32;
inline constexpr size_t kMaxAttributeValueLength = 64;
inline constexpr size_t kMaxTaintsPerDevice = 16;
inline constexpr size_t kMaxBindingConditions = 4;
inline constexpr size_t kMaxValidValues = 10;
inline constexpr size_t kMaxIdLength = 32;         // C identifier part of a qualified name
inline constexpr size_t kMaxDomainLength = 63;     // domain part (validated as a driver name)
inline constexpr size_t kMaxPoolNameLength = 253;

// One finding, in the shape of k8s.io/apimachinery's field.Error.
struct FieldError {
  enum class Type {
    kRequired,      // FieldValueRequired
    kInvalid,       // FieldValueInvalid
    kDuplicate,     // FieldValueDuplicate
    kTooMany,       // FieldValueTooMany
    kTooLong,       // FieldValueTooLong
    kNotSupported,  // FieldValueNotSupported
    kForbidden,     // FieldValueForbidden
    kTypeInvalid,   // decoding: wrong JSON type or unparsable value
    kUnknownField,  // decoding: field not in the schema
  };
  Type type = Type::kInvalid;
  std::string field;   // "spec.devices[3].name"
  std::string value;   // the offending value, already rendered ("\"GPU-0\"", "129"); may be empty
  std::string detail;  // what is wrong

  // "FieldValueInvalid", ... as in a Status cause's "reason".
  std::string Reason() const;
  // "Invalid value: \"GPU-0\": a lowercase RFC 1123 label must ...", as in a
  // Status cause's "message".
  std::string Message() const;
  // "<field>: <Message()>", as the API server prints a field error.
  std::string ToString() const;
};
using FieldErrors = std::vector<FieldError>;

// Strict decoding of a ResourceSlice object: unknown fields, JSON types and
// quantity syntax. Null values count as absent, as in Go.
FieldErrors DecodeCheckResourceSlice(const nlohmann::json& slice);

// Field validation of a new ResourceSlice (metadata and spec).
FieldErrors ValidateResourceSlice(const nlohmann::json& slice);

// Field validation of an update: immutable fields (name, uid, driver,
// pool.name, nodeName) plus ValidateResourceSlice, where a device's capacity
// and taints are re-validated only when they changed (upstream ratcheting).
FieldErrors ValidateResourceSliceUpdate(const nlohmann::json& slice, const nlohmann::json& old);

// One device at `path` ("spec.devices[3]"); `old_device` (may be null) is the
// same-named device of the stored object on update.
FieldErrors ValidateDevice(const nlohmann::json& device, std::string_view path,
                           bool per_device_node_selection, const nlohmann::json* old_device);

// Client-side checks over all slices of one pool (the upstream helper's
// validateDriverResources): device names unique in the pool, counter set
// names unique in the pool, every consumesCounters entry naming a known set
// and known counters of it.
FieldErrors ValidatePool(const std::vector<nlohmann::json>& slices);

// OK when `errors` is empty, else InvalidArgument
// "<what>: <error 1>; <error 2>; ..." (at most 10 listed, then "and N more").
absl::Status ToStatus(const FieldErrors& errors, std::string_view what);

// Format checks, each returning the upstream messages (empty when valid).
std::vector<std::string> IsDns1123Label(std::string_view value);
std::vector<std::string> IsDns1123Subdomain(std::string_view value);
std::vector<std::string> IsCIdentifier(std::string_view value);
// A label key / taint key: [<DNS subdomain prefix>/]<name>.
std::vector<std::string> IsQualifiedName(std::string_view value);
std::vector<std::string> IsValidLabelValue(std::string_view value);
// Semantic version 2.0.0.
bool IsSemver(std::string_view value);
// A driver name (and the domain of a qualified attribute name): at most 63
// characters, a DNS subdomain when lower-cased.
std::vector<std::string> IsDriverName(std::string_view value);
// An attribute or capacity name: "<C identifier>" or "<domain>/<C identifier>".
std::vector<std::string> IsResourceQualifiedName(std::string_view value);

}  // namespace tessera::agent::kube
