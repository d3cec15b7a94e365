// JSON helpers around nlohmann::json that never throw and name the field.
//
// Every reader of outside JSON (API server objects, opaque claim config, CDI
// specs we read back, checkpoints) uses these, so a bad document yields
//   InvalidArgument "status.allocation.devices.results[2].pool: expected string, got number"
// instead of an exception or a silent default.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace tessera::base::json {

using Json = nlohmann::json;

// Parses `text`. InvalidArgument "<what>: <parser message>" on syntax errors,
// on nesting deeper than 128 levels, and on documents larger than `max_bytes`.
absl::StatusOr<Json> Parse(std::string_view text, std::string_view what,
                           size_t max_bytes = 16 << 20);

// "a.b" + "c" -> "a.b.c"; "" + "c" -> "c".
std::string Field(std::string_view path, std::string_view key);
// "a.b" + 3 -> "a.b[3]".
std::string Index(std::string_view path, size_t index);
// "expected <what>, got <type of v>".
absl::Status TypeError(std::string_view path, std::string_view expected, const Json& got);

// Required fields: NotFound-free by design; a missing field is InvalidArgument
// "<path>: required field missing".
absl::StatusOr<std::string> GetString(const Json& obj, std::string_view path, std::string_view key);
absl::StatusOr<int64_t> GetInt(const Json& obj, std::string_view path, std::string_view key);
absl::StatusOr<const Json*> GetObject(const Json& obj, std::string_view path, std::string_view key);
absl::StatusOr<const Json*> GetArray(const Json& obj, std::string_view path, std::string_view key);

// Optional fields: nullopt / nullptr when absent or null; an error when
// present with the wrong type.
absl::StatusOr<std::optional<std::string>> GetOptionalString(const Json& obj, std::string_view path,
                                                             std::string_view key);
absl::StatusOr<std::optional<int64_t>> GetOptionalInt(const Json& obj, std::string_view path,
                                                      std::string_view key);
absl::StatusOr<std::optional<bool>> GetOptionalBool(const Json& obj, std::string_view path,
                                                    std::string_view key);
absl::StatusOr<const Json*> GetOptionalObject(const Json& obj, std::string_view path,
                                              std::string_view key);
absl::StatusOr<const Json*> GetOptionalArray(const Json& obj, std::string_view path,
                                             std::string_view key);

// InvalidArgument naming the first key of `obj` not in `allowed`, for strict
// decoding of our own config kinds.
absl::Status RejectUnknownFields(const Json& obj, std::string_view path,
                                 std::initializer_list<std::string_view> allowed);

}  // namespace tessera::base::json
