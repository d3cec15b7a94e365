// The API server's error responses (metav1.Status) and their mapping to
// absl::Status codes, shared by RestKubeClient, the fakes and the fake API
// server so that every backend reports a failure the same way.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "agent/kube/slice_validation.h"
#include "nlohmann/json.hpp"

namespace tessera::agent::kube {

// Maps an HTTP status and its body (a metav1.Status, or anything) to a
// Status: 2xx OK; 400 InvalidArgument; 401 Unauthenticated; 403
// PermissionDenied; 404 NotFound; 409 AlreadyExists (reason AlreadyExists)
// or Aborted; 410 OutOfRange; 422 InvalidArgument with every cause
// ("<field>: <message>") in the message; 429 and 5xx Unavailable (504
// DeadlineExceeded); others Unknown. The message starts with `operation`:
//   "update resourceslice node-a-gpu-x: 409 Conflict: the object has been modified ..."
absl::Status StatusFromResponse(int http_code, std::string_view body, std::string_view operation);

// A metav1.Status object: {"kind":"Status","apiVersion":"v1","status":"Failure",
// "message":..., "reason":..., "code":...} plus `details` when not null.
nlohmann::json MakeStatusObject(int http_code, std::string_view reason, std::string_view message,
                                const nlohmann::json& details = nullptr);

// The 422 Status for a rejected object, causes as the API server writes them:
// message "<Kind>.<group> \"<name>\" is invalid: [<error>, ...]".
nlohmann::json MakeInvalidStatus(std::string_view kind, std::string_view group,
                                 std::string_view name, const FieldErrors& errors);

}  // namespace tessera::agent::kube
