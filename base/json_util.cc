#include "base/json_util.h"
#include "base/strings.h"

#include <algorithm>


namespace tessera::base::json {
namespace {

constexpr int kMaxDepth = 128;

const Json* Find(const Json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::Status Missing(std::string_view path, std::string_view key) {
  return absl::InvalidArgumentError(StrCat(Field(path, key), ": required field missing"));
}

}  // namespace

absl::StatusOr<Json> Parse(std::string_view text, std::string_view what, size_t max_bytes) {
  if (text.size() > max_bytes) {
    return absl::InvalidArgumentError(
        StrCat(what, ": document of ", text.size(), " bytes exceeds the limit of ", max_bytes));
  }
  // Bound nesting before handing the text to the recursive parser.
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxDepth) {
        return absl::InvalidArgumentError(
            StrCat(what, ": nesting deeper than ", kMaxDepth, " levels"));
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(StrCat(what, ": invalid JSON: ", e.what()));
  }
}

std::string Field(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return StrCat(path, ".", key);
}

std::string Index(std::string_view path, size_t index) {
  return StrCat(path, "[", index, "]");
}

absl::Status TypeError(std::string_view path, std::string_view expected, const Json& got) {
  return absl::InvalidArgumentError(
      StrCat(path, ": expected ", expected, ", got ", got.type_name()));
}

absl::StatusOr<std::string> GetString(const Json& obj, std::string_view path,
                                      std::string_view key) {
  const Json* v = Find(obj, key);
  if (v == nullptr) return Missing(path, key);
  if (!v->is_string()) return TypeError(Field(path, key), "string", *v);
  return v->get<std::string>();
}

absl::StatusOr<int64_t> GetInt(const Json& obj, std::string_view path, std::string_view key) {
  const Json* v = Find(obj, key);
  if (v == nullptr) return Missing(path, key);
  if (!v->is_number_integer()) return TypeError(Field(path, key), "integer", *v);
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    return absl::InvalidArgumentError(StrCat(Field(path, key), ": integer out of range"));
  }
  return v->get<int64_t>();
}

absl::StatusOr<const Json*> GetObject(const Json& obj, std::string_view path,
                                      std::string_view key) {
  const Json* v = Find(obj, key);
  if (v == nullptr) return Missing(path, key);
  if (!v->is_object()) return TypeError(Field(path, key), "object", *v);
  return v;
}

absl::StatusOr<const Json*> GetArray(const Json& obj, std::string_view path,
                                     std::string_view key) {
  const Json* v = Find(obj, key);
  if (v == nullptr) return Missing(path, key);
  if (!v->is_array()) return TypeError(Field(path, key), "array", *v);
  return v;
}

absl::StatusOr<std::optional<std::string>> GetOptionalString(const Json& obj,
                                                             std::string_view path,
                                                             std::string_view key) {
  const Json* v = Find(obj, key);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) return TypeError(Field(path, key), "string", *v);
  return std::optional<std::string>(v->get<std::string>());
}

absl::StatusOr<std::optional<int64_t>> GetOptionalInt(const Json& obj, std::string_view path,
                                                      std::string_view key) {
  if (Find(obj, key) == nullptr) return std::optional<int64_t>();
  absl::StatusOr<int64_t> v = GetInt(obj, path, key);
  if (!v.ok()) return v.status();
  return std::optional<int64_t>(*v);
}

absl::StatusOr<std::optional<bool>> GetOptionalBool(const Json& obj, std::string_view path,
                                                    std::string_view key) {
  const Json* v = Find(obj, key);
  if (v == nullptr) return std::optional<bool>();
  if (!v->is_boolean()) return TypeError(Field(path, key), "boolean", *v);
  return std::optional<bool>(v->get<bool>());
}

absl::StatusOr<const Json*> GetOptionalObject(const Json& obj, std::string_view path,
                                              std::string_view key) {
  const Json* v = Find(obj, key);
  if (v == nullptr) return static_cast<const Json*>(nullptr);
  if (!v->is_object()) return TypeError(Field(path, key), "object", *v);
  return v;
}

absl::StatusOr<const Json*> GetOptionalArray(const Json& obj, std::string_view path,
                                             std::string_view key) {
  const Json* v = Find(obj, key);
  if (v == nullptr) return static_cast<const Json*>(nullptr);
  if (!v->is_array()) return TypeError(Field(path, key), "array", *v);
  return v;
}

absl::Status RejectUnknownFields(const Json& obj, std::string_view path,
                                 std::initializer_list<std::string_view> allowed) {
  if (!obj.is_object()) return TypeError(path.empty() ? "document" : path, "object", obj);
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
      return absl::InvalidArgumentError(
          StrCat(Field(path, it.key()), ": unknown field"));
    }
  }
  return absl::OkStatus();
}

}  // namespace tessera::base::json
