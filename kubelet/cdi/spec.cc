#include "kubelet/cdi/spec.h"

#include <array>
#include <climits>
#include <cstdint>
#include <optional>
#include <set>
#include <tuple>

#include "base/json_util.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace tessera::kubelet::cdi {
namespace {

using base::StrCat;
using base::json::Json;
namespace json = base::json;

// The released spec versions (CDI specs-go/version.go, pkg/cdi/version.go).
// Upstream never computes a minimum below 0.3.0 ("vEarliest"), so a spec
// declaring 0.1.0 or 0.2.0 is known but always fails the minimum check.
using Version = std::tuple<int, int, int>;
constexpr std::array<Version, 10> kKnownVersions = {{{0, 1, 0},
                                                     {0, 2, 0},
                                                     {0, 3, 0},
                                                     {0, 4, 0},
                                                     {0, 5, 0},
                                                     {0, 6, 0},
                                                     {0, 7, 0},
                                                     {0, 8, 0},
                                                     {1, 0, 0},
                                                     {1, 1, 0}}};
constexpr Version kEarliest = {0, 3, 0};

std::string VersionString(const Version& v) {
  return StrCat(std::get<0>(v), ".", std::get<1>(v), ".", std::get<2>(v));
}

std::optional<Version> ParseVersion(std::string_view text) {
  if (text.starts_with('v')) text.remove_prefix(1);
  std::vector<std::string_view> parts = base::Split(text, '.');
  if (parts.size() != 3) return std::nullopt;
  std::array<int, 3> numbers{};
  for (size_t i = 0; i < 3; ++i) {
    if (parts[i].empty() || parts[i].size() > 4) return std::nullopt;
    int n = 0;
    for (char c : parts[i]) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + (c - '0');
    }
    numbers[i] = n;
  }
  Version v = {numbers[0], numbers[1], numbers[2]};
  for (const Version& known : kKnownVersions) {
    if (known == v) return v;
  }
  return std::nullopt;
}

bool IsLetter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsLetter(c) || IsDigit(c); }

// A vendor or class name (CDI pkg/parser validateVendorOrClassName).
absl::Status ValidateQualifierPart(std::string_view what, std::string_view name, size_t max_len) {
  if (name.size() < 2) {
    // Upstream accepts one character, but podman 4.3's vendored parser
    // slices name[1:len-1] and panics on it.
    return absl::InvalidArgumentError(
        StrCat("cdi ", what, " ", base::Quote(name), ": must be at least 2 characters"));
  }
  if (name.size() > max_len) {
    return absl::InvalidArgumentError(
        StrCat("cdi ", what, " ", base::Quote(name), ": longer than ", max_len, " characters"));
  }
  if (!IsLetter(name.front())) {
    return absl::InvalidArgumentError(
        StrCat("cdi ", what, " ", base::Quote(name), ": must start with a letter"));
  }
  if (!IsAlnum(name.back())) {
    return absl::InvalidArgumentError(
        StrCat("cdi ", what, " ", base::Quote(name), ": must end with a letter or digit"));
  }
  for (char c : name) {
    if (!IsAlnum(c) && c != '_' && c != '-' && c != '.') {
      return absl::InvalidArgumentError(StrCat("cdi ", what, " ", base::Quote(name),
                                               ": invalid character ", base::Quote({&c, 1})));
    }
  }
  return absl::OkStatus();
}

// Valid UTF-8 without NUL bytes: JSON cannot carry anything else, and the
// runtime passes these strings to C APIs.
bool IsCleanUtf8(std::string_view s) {
  return s.find('\0') == std::string_view::npos && base::IsValidUtf8(s);
}

absl::Status CheckString(std::string_view path, std::string_view s) {
  if (!IsCleanUtf8(s)) {
    return absl::InvalidArgumentError(
        StrCat(path, ": ", base::Quote(s), " is not valid UTF-8 or contains a NUL byte"));
  }
  return absl::OkStatus();
}

absl::Status CheckEnv(std::string_view path, const std::vector<std::string>& env) {
  for (size_t i = 0; i < env.size(); ++i) {
    const std::string field = json::Index(path, i);
    RETURN_IF_ERROR(CheckString(field, env[i]));
    size_t eq = env[i].find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          StrCat(field, ": ", base::Quote(env[i]), " is not NAME=VALUE"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckAbsolute(std::string_view path, std::string_view value) {
  RETURN_IF_ERROR(CheckString(path, value));
  if (value.empty()) return absl::InvalidArgumentError(StrCat(path, ": required"));
  if (value.front() != '/') {
    return absl::InvalidArgumentError(
        StrCat(path, ": ", base::Quote(value), " is not an absolute path"));
  }
  return absl::OkStatus();
}

constexpr std::array<std::string_view, 6> kHookNames = {
    "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"};

absl::Status CheckDeviceNode(std::string_view path, const base::DeviceNode& node) {
  RETURN_IF_ERROR(CheckAbsolute(json::Field(path, "path"), node.path));
  if (!node.host_path.empty()) {
    RETURN_IF_ERROR(CheckAbsolute(json::Field(path, "hostPath"), node.host_path));
  }
  if (!node.type.empty() && node.type != "b" && node.type != "c" && node.type != "u" &&
      node.type != "p") {
    return absl::InvalidArgumentError(StrCat(json::Field(path, "type"), ": ",
                                             base::Quote(node.type), " is not one of b, c, u, p"));
  }
  if (node.major.has_value() && *node.major < 0) {
    return absl::InvalidArgumentError(StrCat(json::Field(path, "major"), ": negative"));
  }
  if (node.minor.has_value() && *node.minor < 0) {
    return absl::InvalidArgumentError(StrCat(json::Field(path, "minor"), ": negative"));
  }
  // "none" is accepted by newer CDI only; older runtimes reject it.
  for (char c : node.permissions) {
    if (c != 'r' && c != 'w' && c != 'm') {
      return absl::InvalidArgumentError(StrCat(json::Field(path, "permissions"), ": ",
                                               base::Quote(node.permissions),
                                               " is not a subset of \"rwm\""));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckMount(std::string_view path, const base::Mount& mount) {
  RETURN_IF_ERROR(CheckString(json::Field(path, "hostPath"), mount.host_path));
  RETURN_IF_ERROR(CheckString(json::Field(path, "containerPath"), mount.container_path));
  RETURN_IF_ERROR(CheckString(json::Field(path, "type"), mount.type));
  if (mount.host_path.empty()) {
    return absl::InvalidArgumentError(StrCat(json::Field(path, "hostPath"), ": required"));
  }
  if (mount.container_path.empty()) {
    return absl::InvalidArgumentError(StrCat(json::Field(path, "containerPath"), ": required"));
  }
  for (size_t i = 0; i < mount.options.size(); ++i) {
    RETURN_IF_ERROR(CheckString(json::Index(json::Field(path, "options"), i), mount.options[i]));
  }
  return absl::OkStatus();
}

absl::Status CheckHook(std::string_view path, const base::Hook& hook) {
  bool known = false;
  for (std::string_view name : kHookNames) known = known || hook.hook_name == name;
  if (!known) {
    return absl::InvalidArgumentError(StrCat(json::Field(path, "hookName"), ": ",
                                             base::Quote(hook.hook_name),
                                             " is not a known hook name"));
  }
  RETURN_IF_ERROR(CheckAbsolute(json::Field(path, "path"), hook.path));
  for (size_t i = 0; i < hook.args.size(); ++i) {
    RETURN_IF_ERROR(CheckString(json::Index(json::Field(path, "args"), i), hook.args[i]));
  }
  RETURN_IF_ERROR(CheckEnv(json::Field(path, "env"), hook.env));
  if (hook.timeout_seconds.has_value() && *hook.timeout_seconds <= 0) {
    return absl::InvalidArgumentError(
        StrCat(json::Field(path, "timeout"), ": must be positive, got ", *hook.timeout_seconds));
  }
  return absl::OkStatus();
}

// --- JSON encoding (templated so the CDI file keeps CDI's field order while
// the checkpoint embeds plain nlohmann::json). ---

template <typename J>
J EncodeEdits(const base::ContainerEdits& edits) {
  J out = J::object();
  if (!edits.env.empty()) out["env"] = edits.env;
  if (!edits.device_nodes.empty()) {
    J nodes = J::array();
    for (const base::DeviceNode& n : edits.device_nodes) {
      J node = J::object();
      node["path"] = n.path;
      if (!n.host_path.empty()) node["hostPath"] = n.host_path;
      if (!n.type.empty()) node["type"] = n.type;
      if (n.major.has_value()) node["major"] = *n.major;
      if (n.minor.has_value()) node["minor"] = *n.minor;
      if (n.file_mode.has_value()) node["fileMode"] = *n.file_mode;
      if (!n.permissions.empty()) node["permissions"] = n.permissions;
      if (n.uid.has_value()) node["uid"] = *n.uid;
      if (n.gid.has_value()) node["gid"] = *n.gid;
      nodes.push_back(std::move(node));
    }
    out["deviceNodes"] = std::move(nodes);
  }
  if (!edits.hooks.empty()) {
    J hooks = J::array();
    for (const base::Hook& h : edits.hooks) {
      J hook = J::object();
      hook["hookName"] = h.hook_name;
      hook["path"] = h.path;
      if (!h.args.empty()) hook["args"] = h.args;
      if (!h.env.empty()) hook["env"] = h.env;
      if (h.timeout_seconds.has_value()) hook["timeout"] = *h.timeout_seconds;
      hooks.push_back(std::move(hook));
    }
    out["hooks"] = std::move(hooks);
  }
  if (!edits.mounts.empty()) {
    J mounts = J::array();
    for (const base::Mount& m : edits.mounts) {
      J mount = J::object();
      mount["hostPath"] = m.host_path;
      mount["containerPath"] = m.container_path;
      if (!m.type.empty()) mount["type"] = m.type;
      if (!m.options.empty()) mount["options"] = m.options;
      mounts.push_back(std::move(mount));
    }
    out["mounts"] = std::move(mounts);
  }
  return out;
}

// --- strict decoding ---

// Fields of later CDI versions that this model cannot hold: a clear message
// rather than "unknown field".
absl::Status RejectUnsupported(const Json& obj, std::string_view path,
                               std::initializer_list<std::string_view> names) {
  for (std::string_view name : names) {
    if (obj.contains(name)) {
      return absl::InvalidArgumentError(StrCat(json::Field(path, name),
                                               ": not supported (only cdiVersion ", kSpecVersion,
                                               " fields are)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> DecodeStrings(const Json& obj, std::string_view path,
                                                       std::string_view key) {
  std::vector<std::string> out;
  ASSIGN_OR_RETURN(const Json* arr, json::GetOptionalArray(obj, path, key));
  if (arr == nullptr) return out;
  const std::string field = json::Field(path, key);
  for (size_t i = 0; i < arr->size(); ++i) {
    const Json& v = (*arr)[i];
    if (!v.is_string()) return json::TypeError(json::Index(field, i), "string", v);
    out.push_back(v.get<std::string>());
  }
  return out;
}

absl::StatusOr<std::optional<int64_t>> DecodeRangedInt(const Json& obj, std::string_view path,
                                                       std::string_view key, int64_t min,
                                                       int64_t max) {
  ASSIGN_OR_RETURN(std::optional<int64_t> v, json::GetOptionalInt(obj, path, key));
  if (v.has_value() && (*v < min || *v > max)) {
    return absl::InvalidArgumentError(
        StrCat(json::Field(path, key), ": ", *v, " is out of range [", min, ", ", max, "]"));
  }
  return v;
}

absl::StatusOr<std::string> OptionalString(const Json& obj, std::string_view path,
                                           std::string_view key) {
  ASSIGN_OR_RETURN(std::optional<std::string> v, json::GetOptionalString(obj, path, key));
  return v.value_or("");
}

absl::StatusOr<base::DeviceNode> DecodeDeviceNode(const Json& obj, std::string_view path) {
  RETURN_IF_ERROR(json::RejectUnknownFields(
      obj, path,
      {"path", "hostPath", "type", "major", "minor", "fileMode", "permissions", "uid", "gid"}));
  base::DeviceNode node;
  ASSIGN_OR_RETURN(node.path, json::GetString(obj, path, "path"));
  ASSIGN_OR_RETURN(node.host_path, OptionalString(obj, path, "hostPath"));
  ASSIGN_OR_RETURN(node.type, OptionalString(obj, path, "type"));
  ASSIGN_OR_RETURN(node.major, DecodeRangedInt(obj, path, "major", 0, INT64_MAX));
  ASSIGN_OR_RETURN(node.minor, DecodeRangedInt(obj, path, "minor", 0, INT64_MAX));
  ASSIGN_OR_RETURN(std::optional<int64_t> mode,
                   DecodeRangedInt(obj, path, "fileMode", 0, UINT32_MAX));
  if (mode.has_value()) node.file_mode = static_cast<uint32_t>(*mode);
  ASSIGN_OR_RETURN(node.permissions, OptionalString(obj, path, "permissions"));
  ASSIGN_OR_RETURN(std::optional<int64_t> uid, DecodeRangedInt(obj, path, "uid", 0, UINT32_MAX));
  if (uid.has_value()) node.uid = static_cast<uint32_t>(*uid);
  ASSIGN_OR_RETURN(std::optional<int64_t> gid, DecodeRangedInt(obj, path, "gid", 0, UINT32_MAX));
  if (gid.has_value()) node.gid = static_cast<uint32_t>(*gid);
  return node;
}

absl::StatusOr<base::Mount> DecodeMount(const Json& obj, std::string_view path) {
  RETURN_IF_ERROR(
      json::RejectUnknownFields(obj, path, {"hostPath", "containerPath", "type", "options"}));
  base::Mount mount;
  ASSIGN_OR_RETURN(mount.host_path, json::GetString(obj, path, "hostPath"));
  ASSIGN_OR_RETURN(mount.container_path, json::GetString(obj, path, "containerPath"));
  ASSIGN_OR_RETURN(mount.type, OptionalString(obj, path, "type"));
  ASSIGN_OR_RETURN(mount.options, DecodeStrings(obj, path, "options"));
  return mount;
}

absl::StatusOr<base::Hook> DecodeHook(const Json& obj, std::string_view path) {
  RETURN_IF_ERROR(
      json::RejectUnknownFields(obj, path, {"hookName", "path", "args", "env", "timeout"}));
  base::Hook hook;
  ASSIGN_OR_RETURN(hook.hook_name, json::GetString(obj, path, "hookName"));
  ASSIGN_OR_RETURN(hook.path, json::GetString(obj, path, "path"));
  ASSIGN_OR_RETURN(hook.args, DecodeStrings(obj, path, "args"));
  ASSIGN_OR_RETURN(hook.env, DecodeStrings(obj, path, "env"));
  ASSIGN_OR_RETURN(std::optional<int64_t> timeout,
                   DecodeRangedInt(obj, path, "timeout", INT_MIN, INT_MAX));
  if (timeout.has_value()) hook.timeout_seconds = static_cast<int>(*timeout);
  return hook;
}

template <typename T, typename Decoder>
absl::Status DecodeList(const Json& obj, std::string_view path, std::string_view key,
                        Decoder decode, std::vector<T>& out) {
  ASSIGN_OR_RETURN(const Json* arr, json::GetOptionalArray(obj, path, key));
  if (arr == nullptr) return absl::OkStatus();
  const std::string field = json::Field(path, key);
  for (size_t i = 0; i < arr->size(); ++i) {
    const std::string item_path = json::Index(field, i);
    if (!(*arr)[i].is_object()) return json::TypeError(item_path, "object", (*arr)[i]);
    ASSIGN_OR_RETURN(T item, decode((*arr)[i], item_path));
    out.push_back(std::move(item));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateVendor(std::string_view vendor) {
  // The vendor is a DNS-subdomain-like prefix of at most 253 characters.
  return ValidateQualifierPart("vendor", vendor, 253);
}

absl::Status ValidateClass(std::string_view class_name) {
  return ValidateQualifierPart("class", class_name, 63);
}

absl::Status ValidateKind(std::string_view kind) {
  base::SplitPair parts = base::SplitOnce(kind, '/');
  if (!parts.found) {
    return absl::InvalidArgumentError(
        StrCat("cdi kind ", base::Quote(kind), ": expected vendor/class"));
  }
  RETURN_IF_ERROR(ValidateVendor(parts.first));
  return ValidateClass(parts.second);
}

absl::Status ValidateDeviceName(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("cdi device name: empty");
  if (!IsAlnum(name.front()) || !IsAlnum(name.back())) {
    return absl::InvalidArgumentError(StrCat("cdi device name ", base::Quote(name),
                                             ": must start and end with a letter or digit"));
  }
  for (char c : name) {
    if (!IsAlnum(c) && c != '_' && c != '-' && c != '.' && c != ':') {
      return absl::InvalidArgumentError(StrCat("cdi device name ", base::Quote(name),
                                               ": invalid character ", base::Quote({&c, 1})));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateEdits(const base::ContainerEdits& edits, std::string_view path) {
  RETURN_IF_ERROR(CheckEnv(json::Field(path, "env"), edits.env));
  for (size_t i = 0; i < edits.device_nodes.size(); ++i) {
    RETURN_IF_ERROR(
        CheckDeviceNode(json::Index(json::Field(path, "deviceNodes"), i), edits.device_nodes[i]));
  }
  for (size_t i = 0; i < edits.mounts.size(); ++i) {
    RETURN_IF_ERROR(CheckMount(json::Index(json::Field(path, "mounts"), i), edits.mounts[i]));
  }
  for (size_t i = 0; i < edits.hooks.size(); ++i) {
    RETURN_IF_ERROR(CheckHook(json::Index(json::Field(path, "hooks"), i), edits.hooks[i]));
  }
  return absl::OkStatus();
}

std::string MinimumVersion(const Spec& spec) {
  Version min = kEarliest;
  auto raise = [&min](Version v) {
    if (v > min) min = v;
  };
  std::vector<const base::ContainerEdits*> all = {&spec.edits};
  for (const Device& d : spec.devices) {
    all.push_back(&d.edits);
    // 0.5.0 allowed device names to start with a digit.
    if (!d.name.empty() && !IsLetter(d.name.front())) raise({0, 5, 0});
  }
  for (const base::ContainerEdits* e : all) {
    for (const base::Mount& m : e->mounts) {
      if (!m.type.empty()) raise({0, 4, 0});
    }
    for (const base::DeviceNode& n : e->device_nodes) {
      if (!n.host_path.empty()) raise({0, 5, 0});
    }
  }
  // 0.6.0 allowed '.' in the class.
  base::SplitPair kind = base::SplitOnce(spec.kind, '/');
  if (kind.found && kind.second.find('.') != std::string_view::npos) raise({0, 6, 0});
  return VersionString(min);
}

absl::Status Validate(const Spec& spec) {
  std::optional<Version> declared = ParseVersion(spec.version);
  if (!declared.has_value()) {
    return absl::InvalidArgumentError(
        StrCat("cdiVersion: ", base::Quote(spec.version), " is not a known CDI version"));
  }
  RETURN_IF_ERROR(base::Annotate(ValidateKind(spec.kind), "kind"));
  if (spec.devices.empty()) {
    return absl::InvalidArgumentError("devices: a spec needs at least one device");
  }
  std::set<std::string_view> names;
  for (size_t i = 0; i < spec.devices.size(); ++i) {
    const Device& d = spec.devices[i];
    const std::string path = json::Index("devices", i);
    RETURN_IF_ERROR(base::Annotate(ValidateDeviceName(d.name), json::Field(path, "name")));
    if (!names.insert(d.name).second) {
      return absl::InvalidArgumentError(
          StrCat(json::Field(path, "name"), ": duplicate device name ", base::Quote(d.name)));
    }
    if (d.edits.empty()) {
      return absl::InvalidArgumentError(
          StrCat(json::Field(path, "containerEdits"), ": a device needs at least one edit"));
    }
    RETURN_IF_ERROR(ValidateEdits(d.edits, json::Field(path, "containerEdits")));
  }
  RETURN_IF_ERROR(ValidateEdits(spec.edits, "containerEdits"));
  std::string min = MinimumVersion(spec);
  if (*ParseVersion(min) > *declared) {
    return absl::InvalidArgumentError(StrCat("cdiVersion: the spec uses fields of CDI ", min,
                                             ", newer than the declared ", spec.version));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Marshal(const Spec& spec) {
  if (spec.version != kSpecVersion) {
    return absl::InvalidArgumentError(StrCat("write cdi spec ", spec.kind, ": cdiVersion ",
                                             base::Quote(spec.version), " is not ", kSpecVersion));
  }
  RETURN_IF_ERROR(base::Annotate(Validate(spec), StrCat("write cdi spec ", spec.kind)));
  using OJson = nlohmann::ordered_json;
  OJson out = OJson::object();
  out["cdiVersion"] = spec.version;
  out["kind"] = spec.kind;
  OJson devices = OJson::array();
  for (const Device& d : spec.devices) {
    OJson device = OJson::object();
    device["name"] = d.name;
    device["containerEdits"] = EncodeEdits<OJson>(d.edits);
    devices.push_back(std::move(device));
  }
  out["devices"] = std::move(devices);
  if (!spec.edits.empty()) out["containerEdits"] = EncodeEdits<OJson>(spec.edits);
  // Strings were checked to be valid UTF-8, so dump() cannot throw.
  return out.dump(2) + "\n";
}

nlohmann::json EditsToJson(const base::ContainerEdits& edits) {
  return EncodeEdits<nlohmann::json>(edits);
}

absl::StatusOr<base::ContainerEdits> EditsFromJson(const Json& obj, std::string_view path) {
  if (!obj.is_object()) return json::TypeError(path, "object", obj);
  RETURN_IF_ERROR(RejectUnsupported(obj, path, {"netDevices", "additionalGids", "intelRdt"}));
  RETURN_IF_ERROR(json::RejectUnknownFields(obj, path, {"env", "deviceNodes", "hooks", "mounts"}));
  base::ContainerEdits edits;
  ASSIGN_OR_RETURN(edits.env, DecodeStrings(obj, path, "env"));
  RETURN_IF_ERROR(DecodeList(obj, path, "deviceNodes", DecodeDeviceNode, edits.device_nodes));
  RETURN_IF_ERROR(DecodeList(obj, path, "hooks", DecodeHook, edits.hooks));
  RETURN_IF_ERROR(DecodeList(obj, path, "mounts", DecodeMount, edits.mounts));
  RETURN_IF_ERROR(ValidateEdits(edits, path));
  return edits;
}

absl::StatusOr<Spec> Parse(std::string_view text, std::string_view what) {
  // Specs are small; a megabyte is far beyond anything we write.
  ASSIGN_OR_RETURN(Json doc, json::Parse(text, what, 1 << 20));
  auto annotate = [what](const absl::Status& s) { return base::Annotate(s, what); };
  if (!doc.is_object()) return annotate(json::TypeError("document", "object", doc));
  if (absl::Status s = RejectUnsupported(doc, "", {"annotations"}); !s.ok()) return annotate(s);
  if (absl::Status s =
          json::RejectUnknownFields(doc, "", {"cdiVersion", "kind", "devices", "containerEdits"});
      !s.ok()) {
    return annotate(s);
  }
  auto decode = [&]() -> absl::StatusOr<Spec> {
    Spec spec;
    ASSIGN_OR_RETURN(spec.version, json::GetString(doc, "", "cdiVersion"));
    ASSIGN_OR_RETURN(spec.kind, json::GetString(doc, "", "kind"));
    ASSIGN_OR_RETURN(const Json* devices, json::GetArray(doc, "", "devices"));
    for (size_t i = 0; i < devices->size(); ++i) {
      const Json& d = (*devices)[i];
      const std::string path = json::Index("devices", i);
      if (!d.is_object()) return json::TypeError(path, "object", d);
      RETURN_IF_ERROR(RejectUnsupported(d, path, {"annotations"}));
      RETURN_IF_ERROR(json::RejectUnknownFields(d, path, {"name", "containerEdits"}));
      Device device;
      ASSIGN_OR_RETURN(device.name, json::GetString(d, path, "name"));
      ASSIGN_OR_RETURN(const Json* edits, json::GetOptionalObject(d, path, "containerEdits"));
      if (edits != nullptr) {
        ASSIGN_OR_RETURN(device.edits, EditsFromJson(*edits, json::Field(path, "containerEdits")));
      }
      spec.devices.push_back(std::move(device));
    }
    ASSIGN_OR_RETURN(const Json* edits, json::GetOptionalObject(doc, "", "containerEdits"));
    if (edits != nullptr) {
      ASSIGN_OR_RETURN(spec.edits, EditsFromJson(*edits, "containerEdits"));
    }
    RETURN_IF_ERROR(Validate(spec));
    return spec;
  };
  absl::StatusOr<Spec> spec = decode();
  if (!spec.ok()) return annotate(spec.status());
  return spec;
}

}  // namespace tessera::kubelet::cdi
