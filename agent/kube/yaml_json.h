// YAML <-> JSON for Kubernetes objects and kubeconfig files (yaml-cpp in
// the .cc only; its exceptions never escape).
//
// YamlToJson types plain scalars by the YAML 1.2 core schema (null, ~, true,
// false, integers, floats); quoted scalars stay strings; map keys are
// strings. JsonToYaml quotes every string that would otherwise read back as
// another type, so JsonToYaml -> YamlToJson is the identity on JSON values,
// with one exception: yaml-cpp writes Unicode noncharacters (U+FDD0..U+FDEF,
// U+xFFFE, U+xFFFF) inside quoted scalars as U+FFFD (found by
// claim_reader_fuzzer; plain scalars keep them).
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace tessera::agent::kube {

// The first document of `yaml` (an empty document is null). InvalidArgument
// "<what>: line L, column C: <parser message>" on syntax errors, and on
// documents that expand to more than a million nodes (alias bombs), are
// larger than 16 MiB, or hold a key or scalar that is not valid UTF-8 (JSON
// cannot carry it: nlohmann::json would throw when the value is serialized).
absl::StatusOr<nlohmann::json> YamlToJson(std::string_view yaml, std::string_view what);

// Block-style YAML, keys in the JSON object's (sorted) order, ending in "\n".
std::string JsonToYaml(const nlohmann::json& value);

}  // namespace tessera::agent::kube
