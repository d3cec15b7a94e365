#include "agent/kube/kube_client.h"

#include <charconv>

#include "base/json_util.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace tessera::agent::kube {

namespace json = base::json;
using Json = nlohmann::json;

std::string SliceSelector::ToFieldSelector() const {
  std::vector<std::string> parts;
  if (!driver.empty()) parts.push_back(base::StrCat("spec.driver=", driver));
  if (!node_name.empty()) parts.push_back(base::StrCat("spec.nodeName=", node_name));
  return base::Join(parts, ",");
}

bool SliceSelector::Matches(const Json& slice) const {
  const Json* spec = nullptr;
  if (slice.is_object()) {
    auto it = slice.find("spec");
    if (it != slice.end() && it->is_object()) spec = &*it;
  }
  auto field = [&](const char* key) -> std::string {
    if (spec == nullptr) return "";
    auto it = spec->find(key);
    return it != spec->end() && it->is_string() ? it->get<std::string>() : "";
  };
  if (!driver.empty() && field("driver") != driver) return false;
  if (!node_name.empty() && field("nodeName") != node_name) return false;
  return true;
}

std::string_view WatchEventTypeName(WatchEventType type) {
  switch (type) {
    case WatchEventType::kAdded: return "ADDED";
    case WatchEventType::kModified: return "MODIFIED";
    case WatchEventType::kDeleted: return "DELETED";
    case WatchEventType::kBookmark: return "BOOKMARK";
  }
  return "UNKNOWN";
}

absl::StatusOr<ObjectMeta> ParseObjectMeta(const Json& object) {
  ASSIGN_OR_RETURN(const Json* meta, json::GetObject(object, "", "metadata"));
  ObjectMeta out;
  ASSIGN_OR_RETURN(out.name, json::GetString(*meta, "metadata", "name"));
  ASSIGN_OR_RETURN(std::optional<std::string> uid, json::GetOptionalString(*meta, "metadata", "uid"));
  ASSIGN_OR_RETURN(std::optional<std::string> rv,
                   json::GetOptionalString(*meta, "metadata", "resourceVersion"));
  ASSIGN_OR_RETURN(std::optional<int64_t> generation,
                   json::GetOptionalInt(*meta, "metadata", "generation"));
  out.uid = uid.value_or("");
  out.resource_version = rv.value_or("");
  out.generation = generation.value_or(0);
  return out;
}

absl::StatusOr<SliceHeader> ParseSliceHeader(const Json& slice) {
  SliceHeader out;
  ASSIGN_OR_RETURN(out.meta, ParseObjectMeta(slice));
  ASSIGN_OR_RETURN(const Json* spec, json::GetObject(slice, "", "spec"));
  ASSIGN_OR_RETURN(out.driver, json::GetString(*spec, "spec", "driver"));
  ASSIGN_OR_RETURN(std::optional<std::string> node, json::GetOptionalString(*spec, "spec", "nodeName"));
  out.node_name = node.value_or("");
  ASSIGN_OR_RETURN(const Json* pool, json::GetObject(*spec, "spec", "pool"));
  ASSIGN_OR_RETURN(out.pool, json::GetString(*pool, "spec.pool", "name"));
  ASSIGN_OR_RETURN(std::optional<int64_t> generation,
                   json::GetOptionalInt(*pool, "spec.pool", "generation"));
  ASSIGN_OR_RETURN(std::optional<int64_t> count,
                   json::GetOptionalInt(*pool, "spec.pool", "resourceSliceCount"));
  out.generation = generation.value_or(0);
  out.resource_slice_count = count.value_or(0);
  return out;
}

std::optional<int> CompareResourceVersions(std::string_view a, std::string_view b) {
  auto parse = [](std::string_view s) -> std::optional<uint64_t> {
    uint64_t v = 0;
    if (s.empty()) return std::nullopt;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
    return v;
  };
  std::optional<uint64_t> x = parse(a);
  std::optional<uint64_t> y = parse(b);
  if (!x || !y) return std::nullopt;
  return *x < *y ? -1 : (*x > *y ? 1 : 0);
}

}  // namespace tessera::agent::kube
