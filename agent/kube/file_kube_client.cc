#include "agent/kube/file_kube_client.h"

#include <charconv>
#include <ctime>

#include "spdlog/fmt/fmt.h"

#include "agent/kube/internal/log.h"
#include "agent/kube/slice_content.h"
#include "agent/kube/slice_validation.h"
#include "agent/kube/yaml_json.h"
#include "base/log.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace tessera::agent::kube {

using Json = nlohmann::json;

namespace {
using base::StrCat;

constexpr char kSlicesDir[] = "resourceslices";
constexpr char kVersionFile[] = ".resource-version";
constexpr char kHeader[] =
    "# Written by tessera-agent (standalone mode). The agent rewrites this file;\n"
    "# see docs/standalone.md.\n";

using internal::Log;

std::string Meta(const Json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return "";
  const Json& m = obj["metadata"];
  return m.contains(key) && m[key].is_string() ? m[key].get<std::string>() : "";
}

absl::Status CheckName(std::string_view name, std::string_view what) {
  if (std::vector<std::string> e = IsDns1123Subdomain(name); !e.empty()) {
    return absl::InvalidArgumentError(StrCat(what, ": name ", base::Quote(name), ": ", e.front()));
  }
  return absl::OkStatus();
}

// The decoding and field checks of the API server, as one Status.
absl::Status Validate(const Json& slice, const Json* old, std::string_view what) {
  FieldErrors errors = DecodeCheckResourceSlice(slice);
  if (errors.empty()) {
    errors =
        old == nullptr ? ValidateResourceSlice(slice) : ValidateResourceSliceUpdate(slice, *old);
  }
  return ToStatus(errors, what);
}

uint64_t ParseVersion(std::string_view s) {
  uint64_t v = 0;
  std::string_view t = base::StripWhitespace(s);
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  return ec == std::errc() ? v : 0;
}

// The first existing file of `base` + one of the extensions.
std::optional<std::string> FindFile(const base::Filesystem& fs, const std::string& base) {
  for (const char* ext : {".yaml", ".yml", ".json"}) {
    std::string path = StrCat(base, ext);
    if (fs.Exists(path)) return path;
  }
  return std::nullopt;
}

absl::StatusOr<Json> ReadObject(const base::Filesystem& fs, const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, fs.ReadFile(path, 8 << 20));
  ASSIGN_OR_RETURN(Json obj, YamlToJson(text, path));
  if (!obj.is_object()) return absl::InvalidArgumentError(StrCat(path, ": not an object"));
  return obj;
}

}  // namespace

FileKubeClient::FileKubeClient(base::Filesystem& fs, base::Clock& clock, std::string dir,
                               uint64_t rv)
    : fs_(fs), clock_(clock), dir_(std::move(dir)), rv_(rv), rng_(std::random_device{}()) {}

absl::StatusOr<std::unique_ptr<FileKubeClient>> FileKubeClient::Create(base::Filesystem& fs,
                                                                       base::Clock& clock,
                                                                       std::string cluster_dir) {
  for (const char* sub : {"resourceslices", "resourceclaims", "nodes"}) {
    std::string path = StrCat(cluster_dir, "/", sub);
    RETURN_IF_ERROR(base::Annotate(fs.CreateDirectories(path, 0755),
                                   StrCat("create standalone cluster directory ", path)));
  }
  // Continue after the highest version handed out before (the counter file,
  // or a slice file written after it).
  uint64_t rv = 0;
  std::string slices = StrCat(cluster_dir, "/", kSlicesDir);
  absl::StatusOr<std::string> counter = fs.ReadFile(StrCat(slices, "/", kVersionFile), 64);
  if (counter.ok()) rv = ParseVersion(*counter);
  ASSIGN_OR_RETURN(std::vector<std::string> names, fs.ListDir(slices));
  for (const std::string& name : names) {
    if (!name.ends_with(".yaml")) continue;
    absl::StatusOr<Json> obj = ReadObject(fs, StrCat(slices, "/", name));
    if (obj.ok()) rv = std::max(rv, ParseVersion(Meta(*obj, "resourceVersion")));
  }
  return std::unique_ptr<FileKubeClient>(new FileKubeClient(fs, clock, std::move(cluster_dir), rv));
}

std::string FileKubeClient::SlicePath(std::string_view name) const {
  return StrCat(dir_, "/", kSlicesDir, "/", name, ".yaml");
}

std::string FileKubeClient::NextVersionLocked() {
  ++rv_;
  std::string text = std::to_string(rv_);
  absl::Status s = fs_.WriteFileAtomic(StrCat(dir_, "/", kSlicesDir, "/", kVersionFile),
                                       text + "\n", {.durable = false});
  if (!s.ok()) {
    // The counter file only speeds up the next start; versions stay unique
    // in this process either way.
    Log()->warn("write standalone resource version failed error={}", base::Std(s.message()));
  }
  return text;
}

std::string FileKubeClient::NowLocked() const {
  std::time_t t = std::chrono::system_clock::to_time_t(clock_.Now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

absl::StatusOr<Json> FileKubeClient::ReadSliceLocked(std::string_view name) const {
  std::string path = SlicePath(name);
  if (!fs_.Exists(path)) {
    return absl::NotFoundError(StrCat("resourceslices \"", name, "\" not found (", path, ")"));
  }
  return ReadObject(fs_, path);
}

absl::Status FileKubeClient::WriteSliceLocked(const Json& slice) {
  return fs_.WriteFileAtomic(SlicePath(Meta(slice, "name")), StrCat(kHeader, JsonToYaml(slice)),
                             {.durable = false});
}

absl::StatusOr<ObjectList> FileKubeClient::ListResourceSlices(const SliceSelector& selector) {
  absl::ReaderMutexLock lock(&mu_);
  std::string dir = StrCat(dir_, "/", kSlicesDir);
  ASSIGN_OR_RETURN(std::vector<std::string> names,
                   base::Annotate(fs_.ListDir(dir), "list resourceslices"));
  ObjectList out;
  out.resource_version = std::to_string(rv_);
  for (const std::string& name : names) {
    if (!name.ends_with(".yaml") || name.starts_with(".")) continue;
    absl::StatusOr<Json> obj = ReadObject(fs_, StrCat(dir, "/", name));
    if (!obj.ok()) {
      Log()->warn("skipping unreadable standalone resource slice file={} error={}", name,
                  base::Std(obj.status().message()));
      continue;
    }
    if (selector.Matches(*obj)) out.items.push_back(*std::move(obj));
  }
  return out;
}

absl::Status FileKubeClient::WatchResourceSlices(const SliceSelector&, const WatchOptions&,
                                                 const WatchHandler&, std::stop_token) {
  return absl::UnimplementedError("watch resourceslices: the standalone store cannot watch");
}

absl::StatusOr<Json> FileKubeClient::CreateResourceSlice(const Json& slice) {
  absl::MutexLock lock(&mu_);
  Json obj = slice;
  if (!obj.is_object()) return absl::InvalidArgumentError("create resourceslice: not an object");
  obj["apiVersion"] = "resource.k8s.io/v1";
  obj["kind"] = "ResourceSlice";
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = Json::object();
  Json& meta = obj["metadata"];
  for (const char* f : {"uid", "resourceVersion", "generation", "creationTimestamp"}) meta.erase(f);
  std::string name = Meta(obj, "name");
  std::string prefix = Meta(obj, "generateName");
  for (int attempt = 0; name.empty() && !prefix.empty() && attempt < 10; ++attempt) {
    static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    std::string candidate = prefix.substr(0, 58);
    for (int i = 0; i < 5; ++i) candidate.push_back(kAlphabet[rng_() % (sizeof(kAlphabet) - 1)]);
    if (!fs_.Exists(SlicePath(candidate))) name = candidate;
  }
  if (!name.empty()) meta["name"] = name;
  std::string what = StrCat("create resourceslice ", name.empty() ? prefix : name);
  RETURN_IF_ERROR(Validate(obj, nullptr, what));
  if (fs_.Exists(SlicePath(name))) {
    return absl::AlreadyExistsError(StrCat(what, ": already exists"));
  }
  CanonicalizeQuantities(obj);
  uint64_t a = rng_();
  uint64_t b = rng_();
  meta["uid"] =
      fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", static_cast<uint32_t>(a >> 32),
                  static_cast<uint16_t>(a >> 16), static_cast<uint16_t>(a) & 0xfff,
                  (static_cast<uint16_t>(b >> 48) & 0x3fff) | 0x8000, b & 0xffffffffffffULL);
  meta["creationTimestamp"] = NowLocked();
  meta["generation"] = 1;
  meta["resourceVersion"] = NextVersionLocked();
  RETURN_IF_ERROR(base::Annotate(WriteSliceLocked(obj), what));
  return obj;
}

absl::StatusOr<Json> FileKubeClient::UpdateResourceSlice(const Json& slice) {
  absl::MutexLock lock(&mu_);
  std::string name = Meta(slice, "name");
  std::string what = StrCat("update resourceslice ", name);
  RETURN_IF_ERROR(CheckName(name, what));
  ASSIGN_OR_RETURN(Json old, base::Annotate(ReadSliceLocked(name), what));
  std::string rv = Meta(slice, "resourceVersion");
  if (!rv.empty() && rv != Meta(old, "resourceVersion")) {
    return absl::AbortedError(StrCat(what, ": the object has been modified (resourceVersion ", rv,
                                     ", stored ", Meta(old, "resourceVersion"), ")"));
  }
  std::string uid = Meta(slice, "uid");
  if (!uid.empty() && uid != Meta(old, "uid")) {
    return absl::AbortedError(StrCat(what, ": uid ", uid, " does not match ", Meta(old, "uid")));
  }
  Json obj = slice;
  obj["apiVersion"] = "resource.k8s.io/v1";
  obj["kind"] = "ResourceSlice";
  Json& meta = obj["metadata"];
  for (const char* f : {"uid", "creationTimestamp", "generation", "resourceVersion"}) {
    if (old["metadata"].contains(f)) {
      meta[f] = old["metadata"][f];
    } else {
      meta.erase(f);
    }
  }
  RETURN_IF_ERROR(Validate(obj, &old, what));
  CanonicalizeQuantities(obj);
  if (obj == old) return old;
  if (obj["spec"] != old["spec"]) {
    meta["generation"] = old["metadata"].value("generation", int64_t{1}) + 1;
  }
  meta["resourceVersion"] = NextVersionLocked();
  RETURN_IF_ERROR(base::Annotate(WriteSliceLocked(obj), what));
  return obj;
}

absl::Status FileKubeClient::DeleteResourceSlice(std::string_view name,
                                                 const Preconditions& preconditions) {
  absl::MutexLock lock(&mu_);
  std::string what = StrCat("delete resourceslice ", name);
  RETURN_IF_ERROR(CheckName(name, what));
  ASSIGN_OR_RETURN(Json old, base::Annotate(ReadSliceLocked(name), what));
  if (!preconditions.uid.empty() && preconditions.uid != Meta(old, "uid")) {
    return absl::AbortedError(StrCat(what, ": precondition failed: uid ", preconditions.uid));
  }
  if (!preconditions.resource_version.empty() &&
      preconditions.resource_version != Meta(old, "resourceVersion")) {
    return absl::AbortedError(
        StrCat(what, ": precondition failed: resourceVersion ", preconditions.resource_version));
  }
  RETURN_IF_ERROR(base::Annotate(fs_.RemoveFile(SlicePath(name), /*durable=*/false), what));
  NextVersionLocked();
  return absl::OkStatus();
}

absl::StatusOr<Json> FileKubeClient::GetResourceClaim(std::string_view namespace_,
                                                      std::string_view name) {
  std::string what = StrCat("get resourceclaim ", namespace_, "/", name);
  if (std::vector<std::string> e = IsDns1123Label(namespace_); !e.empty()) {
    return absl::InvalidArgumentError(StrCat(what, ": namespace: ", e.front()));
  }
  RETURN_IF_ERROR(CheckName(name, what));
  std::string base = StrCat(dir_, "/resourceclaims/", namespace_, "/", name);
  std::optional<std::string> path = FindFile(fs_, base);
  if (!path) return absl::NotFoundError(StrCat(what, ": no file ", base, ".yaml (or .yml, .json)"));
  return base::Annotate(ReadObject(fs_, *path), what);
}

absl::StatusOr<Json> FileKubeClient::GetNode(std::string_view name) {
  std::string what = StrCat("get node ", name);
  RETURN_IF_ERROR(CheckName(name, what));
  std::string base = StrCat(dir_, "/nodes/", name);
  std::optional<std::string> path = FindFile(fs_, base);
  if (!path) return absl::NotFoundError(StrCat(what, ": no file ", base, ".yaml"));
  return base::Annotate(ReadObject(fs_, *path), what);
}

}  // namespace tessera::agent::kube
