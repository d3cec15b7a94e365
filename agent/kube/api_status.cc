#include "agent/kube/api_status.h"

#include <vector>

#include "base/strings.h"

namespace tessera::agent::kube {

using Json = nlohmann::json;

namespace {

using base::StrCat;

std::string_view ReasonPhrase(int code) {
  switch (code) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

std::string StringField(const Json& obj, std::string_view key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

}  // namespace

absl::Status StatusFromResponse(int http_code, std::string_view body, std::string_view operation) {
  if (http_code >= 200 && http_code < 300) return absl::OkStatus();
  Json status = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  std::string reason = StringField(status, "reason");
  std::string detail = StringField(status, "message");
  if (http_code == 422 && status.is_object()) {
    // List every cause: the caller needs all the fields that were rejected.
    const Json* causes = nullptr;
    if (auto d = status.find("details"); d != status.end() && d->is_object()) {
      if (auto c = d->find("causes"); c != d->end() && c->is_array()) causes = &*c;
    }
    if (causes != nullptr && !causes->empty()) {
      std::vector<std::string> parts;
      for (const Json& cause : *causes) {
        std::string field = StringField(cause, "field");
        std::string message = StringField(cause, "message");
        parts.push_back(field.empty() ? message : StrCat(field, ": ", message));
      }
      detail = StrCat("invalid: ", base::Join(parts, "; "));
    }
  }
  if (detail.empty()) {
    // Not a Status (a proxy's HTML page, an empty body): show a bounded piece.
    detail = body.empty() ? std::string("empty response") : base::Quote(body, 200);
  }
  std::string phrase(ReasonPhrase(http_code));
  std::string message =
      StrCat(operation, ": ", http_code, phrase.empty() ? "" : " ", phrase, ": ", detail);
  switch (http_code) {
    case 400:
      return absl::InvalidArgumentError(message);
    case 401:
      return absl::UnauthenticatedError(message);
    case 403:
      return absl::PermissionDeniedError(message);
    case 404:
      return absl::NotFoundError(message);
    case 409:
      if (reason == "AlreadyExists") return absl::AlreadyExistsError(message);
      return absl::AbortedError(message);
    case 410:
      return absl::OutOfRangeError(message);
    case 422:
      return absl::InvalidArgumentError(message);
    case 429:
      return absl::UnavailableError(message);
    case 504:
      return absl::DeadlineExceededError(message);
    default:
      if (http_code >= 500 && http_code < 600) return absl::UnavailableError(message);
      return absl::UnknownError(message);
  }
}

Json MakeStatusObject(int http_code, std::string_view reason, std::string_view message,
                      const Json& details) {
  Json out = {{"kind", "Status"},
              {"apiVersion", "v1"},
              {"metadata", Json::object()},
              {"status", "Failure"},
              {"message", std::string(message)},
              {"reason", std::string(reason)},
              {"code", http_code}};
  if (!details.is_null()) out["details"] = details;
  return out;
}

Json MakeInvalidStatus(std::string_view kind, std::string_view group, std::string_view name,
                       const FieldErrors& errors) {
  Json causes = Json::array();
  std::vector<std::string> listed;
  for (const FieldError& e : errors) {
    causes.push_back({{"reason", e.Reason()}, {"message", e.Message()}, {"field", e.field}});
    listed.push_back(e.ToString());
  }
  std::string message =
      StrCat(kind, ".", group, " \"", name, "\" is invalid: [", base::Join(listed, ", "), "]");
  return MakeStatusObject(422, "Invalid", message,
                          Json{{"name", std::string(name)},
                               {"group", std::string(group)},
                               {"kind", std::string(kind)},
                               {"causes", std::move(causes)}});
}

}  // namespace tessera::agent::kube
