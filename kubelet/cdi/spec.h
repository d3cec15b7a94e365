// CDI spec model, validation, JSON writer and strict reader.
//
// A Spec is what a container runtime loads from a CDI directory: a kind
// ("vendor/class"), devices with their container edits, and edits applied
// whenever any device of the spec is used (dra-api-facts.md §7). Edits are
// base::ContainerEdits, which drivers return, so the kubelet layer owns the
// CDI encoding and drivers never see it.
//
// We write cdiVersion "0.5.0", the version the Kubernetes helper writes, and
// only the fields that version allows: no annotations, netDevices,
// additionalGids or intelRdt. Older containerd, CRI-O and podman reject a spec
// that uses a field newer than its declared version, and any unknown field.
//
// Validation follows the CDI rules and is stricter where a runtime would
// otherwise fail or crash later:
//   - vendor and class start with a letter, end with a letter or digit, and
//     contain only [A-Za-z0-9_.-]; both are at least 2 characters (podman
//     4.3's vendored CDI panics on 1-character names); the class has no '.'
//     (that needs 0.6.0), at most 63 characters; the vendor at most 253;
//   - device names start and end with a letter or digit and contain only
//     [A-Za-z0-9_.:-]; at least one device; names unique;
//   - every device has at least one edit (CDI rejects empty device edits);
//   - env entries have '=' at an index > 0; hooks have a known name and an
//     absolute path, and a positive timeout when set; mounts have both paths;
//     device nodes have an absolute path (and host path when set), a type in
//     {"", b, c, u, p}, non-negative major/minor, permissions a subset of
//     "rwm"; no string contains a NUL byte.
//
// Everything here is a pure function of its arguments; thread-compatible.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

#include "base/container_edits.h"

namespace tessera::kubelet::cdi {

// The version we write.
inline constexpr std::string_view kSpecVersion = "0.5.0";

struct Device {
  std::string name;  // unqualified; the qualified id is "<kind>=<name>"
  base::ContainerEdits edits;
  friend bool operator==(const Device&, const Device&) = default;
};

struct Spec {
  std::string version = std::string(kSpecVersion);
  std::string kind;  // "vendor/class"
  std::vector<Device> devices;
  base::ContainerEdits edits;  // applied when any device of the spec is used
  friend bool operator==(const Spec&, const Spec&) = default;
};

// Name checks; InvalidArgument naming the rule that failed.
absl::Status ValidateVendor(std::string_view vendor);
absl::Status ValidateClass(std::string_view class_name);
absl::Status ValidateKind(std::string_view kind);  // "vendor/class"
absl::Status ValidateDeviceName(std::string_view name);

// Checks one set of edits; `path` prefixes error messages ("devices[0]").
absl::Status ValidateEdits(const base::ContainerEdits& edits, std::string_view path);

// The lowest CDI version that can express `spec` (never below 0.3.0), as
// upstream's MinimumRequiredVersion computes it for the fields we model.
std::string MinimumVersion(const Spec& spec);

// Checks the whole spec: version known and not lower than MinimumVersion,
// kind, devices, edits. InvalidArgument naming the field.
absl::Status Validate(const Spec& spec);

// Validates and renders the spec as JSON (2-space indented, fields in CDI's
// order, empty optional fields omitted), ending with a newline.
// InvalidArgument when the spec is invalid or its version is not
// kSpecVersion (we only write what we know older runtimes accept).
absl::StatusOr<std::string> Marshal(const Spec& spec);

// Parses a spec strictly: unknown fields, wrong types, out-of-range numbers,
// unknown versions, fields newer than the declared version and fields this
// model cannot hold (annotations, netDevices, additionalGids, intelRdt) are
// InvalidArgument naming the field; the parsed spec must pass Validate.
// `what` names the document in errors (e.g. the file path).
absl::StatusOr<Spec> Parse(std::string_view text, std::string_view what);

// The "containerEdits" object encoding, shared with the checkpoint so a
// claim's spec can be rebuilt from it. EditsFromJson is as strict as Parse.
nlohmann::json EditsToJson(const base::ContainerEdits& edits);
absl::StatusOr<base::ContainerEdits> EditsFromJson(const nlohmann::json& json,
                                                   std::string_view path);

}  // namespace tessera::kubelet::cdi
