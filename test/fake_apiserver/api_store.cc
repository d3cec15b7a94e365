#include "test/fake_apiserver/api_store.h"

#include <algorithm>
#include <charconv>
#include <ctime>

#include "agent/kube/api_status.h"
#include "agent/kube/slice_content.h"
#include "agent/kube/slice_validation.h"
#include "base/strings.h"
#include "spdlog/fmt/fmt.h"

namespace tessera::testing {
namespace {

using Json = nlohmann::json;
using base::StrCat;
namespace kube = agent::kube;

constexpr char kGroup[] = "resource.k8s.io";
constexpr char kSliceKind[] = "ResourceSlice";

ApiResponse Error(int code, std::string_view reason, std::string_view message,
                  const Json& details = nullptr) {
  return {code, kube::MakeStatusObject(code, reason, message, details)};
}

ApiResponse NotFound(std::string_view resource, std::string_view name) {
  return Error(404, "NotFound", StrCat(resource, " \"", name, "\" not found"),
               Json{{"name", std::string(name)}, {"group", kGroup}, {"kind", "resourceslices"}});
}

ApiResponse Conflict(std::string_view name, std::string_view why) {
  return Error(409, "Conflict",
               StrCat("Operation cannot be fulfilled on resourceslices.resource.k8s.io \"", name,
                      "\": ", why),
               Json{{"name", std::string(name)}, {"group", kGroup}, {"kind", "resourceslices"}});
}

ApiResponse BadRequest(std::string_view message) { return Error(400, "BadRequest", message); }

// The strict decoder's answer, as "ResourceSlice in version "v1" cannot be
// handled as a ResourceSlice: strict decoding error: unknown field "spec.x"".
std::optional<ApiResponse> DecodeError(const Json& body) {
  if (!body.is_object()) {
    return BadRequest("ResourceSlice in version \"v1\" cannot be handled as a ResourceSlice: "
                      "body is not a JSON object");
  }
  if (body.contains("apiVersion") && body["apiVersion"] != "resource.k8s.io/v1") {
    return BadRequest(StrCat("the API version in the data (", body["apiVersion"].dump(),
                             ") does not match the expected API version (resource.k8s.io/v1)"));
  }
  if (body.contains("kind") && body["kind"] != kSliceKind) {
    return BadRequest(StrCat("the kind in the data (", body["kind"].dump(),
                             ") does not match the expected kind (ResourceSlice)"));
  }
  kube::FieldErrors errors = kube::DecodeCheckResourceSlice(body);
  if (errors.empty()) return std::nullopt;
  std::vector<std::string> unknown;
  std::vector<std::string> other;
  for (const kube::FieldError& e : errors) {
    if (e.type == kube::FieldError::Type::kUnknownField) {
      unknown.push_back(StrCat("unknown field \"", e.field, "\""));
    } else {
      other.push_back(StrCat(e.field, ": ", e.detail));
    }
  }
  std::string message = "ResourceSlice in version \"v1\" cannot be handled as a ResourceSlice: ";
  if (!other.empty()) {
    base::StrAppend(&message, base::Join(other, ", "));
  } else {
    base::StrAppend(&message, "strict decoding error: ", base::Join(unknown, ", "));
  }
  return BadRequest(message);
}

Json& Meta(Json& obj) {
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = Json::object();
  return obj["metadata"];
}

std::string MetaString(const Json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains("metadata")) return "";
  const Json& m = obj["metadata"];
  if (!m.is_object() || !m.contains(key) || !m[key].is_string()) return "";
  return m[key].get<std::string>();
}

// Objects in a list carry no apiVersion/kind (the list does).
Json ListItem(Json obj) {
  obj.erase("apiVersion");
  obj.erase("kind");
  return obj;
}

bool AnyDevice(const Json* slice, const std::function<bool(const Json&)>& pred) {
  if (slice == nullptr || !slice->contains("spec")) return false;
  const Json& spec = (*slice)["spec"];
  if (!spec.is_object() || !spec.contains("devices") || !spec["devices"].is_array()) return false;
  return std::any_of(spec["devices"].begin(), spec["devices"].end(), pred);
}

}  // namespace

// ------------------------------------------------------------ selectors ---

std::optional<std::vector<FieldRequirement>> ParseFieldSelector(const std::string& selector,
                                                               std::string* error) {
  std::vector<FieldRequirement> out;
  for (std::string_view part : base::Split(selector, ',', base::SplitMode::kSkipEmpty)) {
    FieldRequirement req;
    size_t pos = part.find("!=");
    size_t skip = 2;
    if (pos != std::string_view::npos) {
      req.negate = true;
    } else if ((pos = part.find("==")) != std::string_view::npos) {
    } else if ((pos = part.find('=')) != std::string_view::npos) {
      skip = 1;
    } else {
      *error = StrCat("invalid selector: '", selector, "'; can't understand '", part, "'");
      return std::nullopt;
    }
    req.field = std::string(base::StripWhitespace(part.substr(0, pos)));
    req.value = std::string(base::StripWhitespace(part.substr(pos + skip)));
    if (req.field != "spec.nodeName" && req.field != "spec.driver" && req.field != "metadata.name") {
      *error = StrCat("field label not supported: ", req.field);
      return std::nullopt;
    }
    out.push_back(std::move(req));
  }
  return out;
}

bool MatchesFieldSelector(const std::vector<FieldRequirement>& requirements, const Json& slice) {
  for (const FieldRequirement& r : requirements) {
    std::string actual;
    if (r.field == "metadata.name") {
      actual = MetaString(slice, "name");
    } else {
      const Json& spec = slice.contains("spec") ? slice["spec"] : Json();
      std::string key = r.field.substr(5);
      if (spec.is_object() && spec.contains(key) && spec[key].is_string()) {
        actual = spec[key].get<std::string>();
      }
    }
    if ((actual == r.value) == r.negate) return false;
  }
  return true;
}

// --------------------------------------------------------------- watch ----

class ApiStore::WatchImpl final : public ApiStore::Watch {
 public:
  WatchImpl(ApiStore& store, std::vector<FieldRequirement> selector, uint64_t from_rv,
            std::deque<Json> initial)
      : store_(store), selector_(std::move(selector)), last_rv_(from_rv), pending_(std::move(initial)) {}

  std::optional<Json> Next(std::chrono::steady_clock::time_point deadline,
                           std::stop_token stop) override {
    std::unique_lock lock(store_.mu_);
    while (true) {
      if (!pending_.empty()) {
        Json e = std::move(pending_.front());
        pending_.pop_front();
        return e;
      }
      if (expired_ || store_.shutdown_) return std::nullopt;
      if (last_rv_ < store_.compacted_rv_) {
        expired_ = true;
        return Json{{"type", "ERROR"},
                    {"object", kube::MakeStatusObject(
                                   410, "Expired",
                                   fmt::format("too old resource version: {} ({})", last_rv_,
                                               store_.compacted_rv_ + 1))}};
      }
      for (const Event& e : store_.history_) {
        if (e.rv <= last_rv_) continue;
        last_rv_ = e.rv;
        if (MatchesFieldSelector(selector_, e.object)) {
          return Json{{"type", e.type}, {"object", e.object}};
        }
      }
      if (!store_.cv_.wait_until(lock, stop, deadline, [&] {
            return store_.shutdown_ || store_.rv_ > last_rv_ || last_rv_ < store_.compacted_rv_;
          })) {
        return std::nullopt;  // deadline or stop
      }
    }
  }

  std::string resource_version() const override {
    std::lock_guard lock(store_.mu_);
    return std::to_string(last_rv_);
  }

 private:
  ApiStore& store_;
  const std::vector<FieldRequirement> selector_;
  uint64_t last_rv_;
  std::deque<Json> pending_;
  bool expired_ = false;
};

// --------------------------------------------------------------- store ----

ApiStore::ApiStore(Options options) : options_(std::move(options)), rng_(options_.seed) {}

ApiStore::~ApiStore() { Shutdown(); }

void ApiStore::RecordLocked(std::string type, const Json& object) {
  history_.push_back({rv_, std::move(type), object});
  while (history_.size() > options_.watch_history) {
    compacted_rv_ = history_.front().rv;
    history_.pop_front();
  }
  cv_.notify_all();
}

std::string ApiStore::RandomSuffixLocked() {
  // apiserver's SimpleNameGenerator alphabet (no vowels, no confusables).
  static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string out;
  for (int i = 0; i < 5; ++i) out.push_back(kAlphabet[rng_() % (sizeof(kAlphabet) - 1)]);
  return out;
}

std::string ApiStore::NewUidLocked() {
  uint64_t a = rng_();
  uint64_t b = rng_();
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", static_cast<uint32_t>(a >> 32),
                     static_cast<uint16_t>(a >> 16), static_cast<uint16_t>(a) & 0xfff,
                     (static_cast<uint16_t>(b >> 48) & 0x3fff) | 0x8000, b & 0xffffffffffffULL);
}

std::string ApiStore::NowLocked() const {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void ApiStore::DropDisabledFieldsLocked(Json& slice, const Json* old) const {
  const std::set<std::string>& off = options_.disabled_gates;
  if (!slice.contains("spec") || !slice["spec"].is_object()) return;
  Json& spec = slice["spec"];
  auto old_uses = [&](const std::function<bool(const Json&)>& pred) { return AnyDevice(old, pred); };
  auto drop_device_fields = [&](std::initializer_list<const char*> fields) {
    if (!spec.contains("devices") || !spec["devices"].is_array()) return;
    for (Json& d : spec["devices"]) {
      for (const char* f : fields) d.erase(f);
    }
  };
  if (off.contains(kGateDeviceTaints) &&
      !old_uses([](const Json& d) { return d.contains("taints"); })) {
    drop_device_fields({"taints"});
  }
  if (off.contains(kGatePartitionableDevices)) {
    bool old_used = (old != nullptr && old->contains("spec") &&
                     (*old)["spec"].contains("sharedCounters")) ||
                    old_uses([](const Json& d) { return d.contains("consumesCounters"); });
    if (!old_used) {
      spec.erase("sharedCounters");
      spec.erase("perDeviceNodeSelection");
      drop_device_fields({"consumesCounters", "nodeName", "nodeSelector", "allNodes"});
    }
  }
  if (off.contains(kGateConsumableCapacity) &&
      !old_uses([](const Json& d) { return d.contains("allowMultipleAllocations"); })) {
    drop_device_fields({"allowMultipleAllocations"});
    if (spec.contains("devices") && spec["devices"].is_array()) {
      for (Json& d : spec["devices"]) {
        if (!d.contains("capacity") || !d["capacity"].is_object()) continue;
        for (auto& [name, cap] : d["capacity"].items()) {
          if (cap.is_object()) cap.erase("requestPolicy");
        }
      }
    }
  }
  if (off.contains(kGateBindingConditions) &&
      !old_uses([](const Json& d) { return d.contains("bindingConditions"); })) {
    drop_device_fields({"bindsToNode", "bindingConditions", "bindingFailureConditions"});
  }
}

void ApiStore::SetTaintTimesLocked(Json& slice, const Json* old) const {
  if (!slice.contains("spec") || !slice["spec"].is_object() || !slice["spec"].contains("devices") ||
      !slice["spec"]["devices"].is_array()) {
    return;
  }
  for (Json& d : slice["spec"]["devices"]) {
    if (!d.is_object() || !d.contains("taints") || !d["taints"].is_array()) continue;
    for (Json& t : d["taints"]) {
      if (!t.is_object() || t.contains("timeAdded")) continue;
      std::string time = NowLocked();
      // Keep the time of the same taint on the stored device.
      if (old != nullptr && old->contains("spec") && (*old)["spec"].contains("devices")) {
        for (const Json& od : (*old)["spec"]["devices"]) {
          if (od.value("name", "") != d.value("name", "") || !od.contains("taints")) continue;
          for (const Json& ot : od["taints"]) {
            if (ot.value("key", "") == t.value("key", "") &&
                ot.value("value", "") == t.value("value", "") &&
                ot.value("effect", "") == t.value("effect", "") && ot.contains("timeAdded")) {
              time = ot["timeAdded"].get<std::string>();
            }
          }
        }
      }
      t["timeAdded"] = time;
    }
  }
}

ApiResponse ApiStore::ListSlices(const std::string& field_selector) {
  std::string error;
  std::optional<std::vector<FieldRequirement>> selector = ParseFieldSelector(field_selector, &error);
  if (!selector) return BadRequest(error);
  std::lock_guard lock(mu_);
  Json items = Json::array();
  for (const auto& [name, slice] : slices_) {
    if (MatchesFieldSelector(*selector, slice)) items.push_back(ListItem(slice));
  }
  return {200, Json{{"kind", "ResourceSliceList"},
                    {"apiVersion", "resource.k8s.io/v1"},
                    {"metadata", {{"resourceVersion", std::to_string(rv_)}}},
                    {"items", std::move(items)}}};
}

ApiResponse ApiStore::GetSlice(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = slices_.find(name);
  if (it == slices_.end()) return NotFound("resourceslices.resource.k8s.io", name);
  return {200, it->second};
}

ApiResponse ApiStore::CreateSlice(const Json& body) {
  if (std::optional<ApiResponse> bad = DecodeError(body)) return *bad;
  std::lock_guard lock(mu_);
  Json slice = body;
  slice["apiVersion"] = "resource.k8s.io/v1";
  slice["kind"] = kSliceKind;
  Json& meta = Meta(slice);
  // Server-managed fields are reset on create.
  for (const char* f : {"uid", "resourceVersion", "generation", "creationTimestamp",
                        "deletionTimestamp", "selfLink", "managedFields"}) {
    meta.erase(f);
  }
  std::string name = MetaString(slice, "name");
  std::string prefix = MetaString(slice, "generateName");
  if (name.empty() && !prefix.empty()) {
    std::string base_name = prefix.size() > 58 ? prefix.substr(0, 58) : prefix;
    name = base_name + RandomSuffixLocked();
    meta["name"] = name;
  }
  DropDisabledFieldsLocked(slice, nullptr);
  kube::FieldErrors errors = kube::ValidateResourceSlice(slice);
  if (!errors.empty()) {
    return {422, kube::MakeInvalidStatus(kSliceKind, kGroup, name, errors)};
  }
  if (slices_.contains(name)) {
    return Error(409, "AlreadyExists",
                 StrCat("resourceslices.resource.k8s.io \"", name, "\" already exists"),
                 Json{{"name", name}, {"group", kGroup}, {"kind", "resourceslices"}});
  }
  kube::CanonicalizeQuantities(slice);
  SetTaintTimesLocked(slice, nullptr);
  meta["uid"] = NewUidLocked();
  meta["creationTimestamp"] = NowLocked();
  meta["generation"] = 1;
  meta["resourceVersion"] = std::to_string(NextRvLocked());
  slices_[name] = slice;
  RecordLocked("ADDED", slice);
  return {201, slice};
}

ApiResponse ApiStore::UpdateSlice(const std::string& name, const Json& body) {
  if (std::optional<ApiResponse> bad = DecodeError(body)) return *bad;
  std::lock_guard lock(mu_);
  std::string body_name = MetaString(body, "name");
  if (body_name != name) {
    return BadRequest(StrCat("the name of the object (", body_name,
                             ") does not match the name on the URL (", name, ")"));
  }
  auto it = slices_.find(name);
  if (it == slices_.end()) return NotFound("resourceslices.resource.k8s.io", name);
  const Json& old = it->second;
  std::string rv = MetaString(body, "resourceVersion");
  if (!rv.empty() && rv != MetaString(old, "resourceVersion")) {
    return Conflict(name, "the object has been modified; please apply your changes to the latest "
                          "version and try again");
  }
  std::string uid = MetaString(body, "uid");
  if (!uid.empty() && uid != MetaString(old, "uid")) {
    return Conflict(name, StrCat("Precondition failed: UID in precondition: ", uid,
                                 ", UID in object meta: ", MetaString(old, "uid")));
  }
  Json slice = body;
  slice["apiVersion"] = "resource.k8s.io/v1";
  slice["kind"] = kSliceKind;
  Json& meta = Meta(slice);
  // Server-managed fields keep their stored values.
  for (const char* f : {"uid", "creationTimestamp", "generation", "resourceVersion"}) {
    if (old["metadata"].contains(f)) {
      meta[f] = old["metadata"][f];
    } else {
      meta.erase(f);
    }
  }
  DropDisabledFieldsLocked(slice, &old);
  kube::FieldErrors errors = kube::ValidateResourceSliceUpdate(slice, old);
  if (!errors.empty()) {
    return {422, kube::MakeInvalidStatus(kSliceKind, kGroup, name, errors)};
  }
  kube::CanonicalizeQuantities(slice);
  SetTaintTimesLocked(slice, &old);
  if (slice == old) return {200, old};  // no-op: nothing written, version unchanged
  if (slice["spec"] != old["spec"]) {
    meta["generation"] = old["metadata"].value("generation", int64_t{1}) + 1;
  }
  meta["resourceVersion"] = std::to_string(NextRvLocked());
  it->second = slice;
  RecordLocked("MODIFIED", slice);
  return {200, slice};
}

ApiResponse ApiStore::DeleteSlice(const std::string& name, const Json& delete_options) {
  std::lock_guard lock(mu_);
  auto it = slices_.find(name);
  if (it == slices_.end()) return NotFound("resourceslices.resource.k8s.io", name);
  if (delete_options.is_object() && delete_options.contains("preconditions") &&
      delete_options["preconditions"].is_object()) {
    const Json& pre = delete_options["preconditions"];
    std::string uid = pre.value("uid", "");
    std::string rv = pre.value("resourceVersion", "");
    if (!uid.empty() && uid != MetaString(it->second, "uid")) {
      return Conflict(name, StrCat("Precondition failed: UID in precondition: ", uid,
                                   ", UID in object meta: ", MetaString(it->second, "uid")));
    }
    if (!rv.empty() && rv != MetaString(it->second, "resourceVersion")) {
      return Conflict(name, StrCat("Precondition failed: ResourceVersion in precondition: ", rv,
                                   ", ResourceVersion in object meta: ",
                                   MetaString(it->second, "resourceVersion")));
    }
  }
  Json gone = it->second;
  slices_.erase(it);
  Meta(gone)["resourceVersion"] = std::to_string(NextRvLocked());
  RecordLocked("DELETED", gone);
  return {200, Json{{"kind", "Status"},
                    {"apiVersion", "v1"},
                    {"metadata", Json::object()},
                    {"status", "Success"},
                    {"details",
                     {{"name", name}, {"group", kGroup}, {"kind", "resourceslices"},
                      {"uid", MetaString(gone, "uid")}}}}};
}

ApiResponse ApiStore::DeleteSliceCollection(const std::string& field_selector) {
  std::string error;
  std::optional<std::vector<FieldRequirement>> selector = ParseFieldSelector(field_selector, &error);
  if (!selector) return BadRequest(error);
  std::lock_guard lock(mu_);
  Json items = Json::array();
  for (auto it = slices_.begin(); it != slices_.end();) {
    if (!MatchesFieldSelector(*selector, it->second)) {
      ++it;
      continue;
    }
    Json gone = it->second;
    it = slices_.erase(it);
    Meta(gone)["resourceVersion"] = std::to_string(NextRvLocked());
    RecordLocked("DELETED", gone);
    items.push_back(ListItem(gone));
  }
  return {200, Json{{"kind", "ResourceSliceList"},
                    {"apiVersion", "resource.k8s.io/v1"},
                    {"metadata", {{"resourceVersion", std::to_string(rv_)}}},
                    {"items", std::move(items)}}};
}

ApiStore::WatchStart ApiStore::StartWatch(const std::string& field_selector,
                                          const std::string& resource_version) {
  std::string error;
  std::optional<std::vector<FieldRequirement>> selector = ParseFieldSelector(field_selector, &error);
  if (!selector) return {BadRequest(error), nullptr};
  std::lock_guard lock(mu_);
  std::deque<Json> initial;
  uint64_t from = rv_;
  if (resource_version.empty() || resource_version == "0") {
    for (const auto& [name, slice] : slices_) {
      if (MatchesFieldSelector(*selector, slice)) {
        initial.push_back(Json{{"type", "ADDED"}, {"object", slice}});
      }
    }
  } else {
    uint64_t rv = 0;
    auto [ptr, ec] = std::from_chars(resource_version.data(),
                                     resource_version.data() + resource_version.size(), rv);
    if (ec != std::errc() || ptr != resource_version.data() + resource_version.size()) {
      return {Error(400, "BadRequest",
                    StrCat("invalid resource version \"", resource_version, "\"")),
              nullptr};
    }
    from = rv;  // rv older than the history: Next() reports 410
  }
  return {std::nullopt, std::make_unique<WatchImpl>(*this, *selector, from, std::move(initial))};
}

ApiResponse ApiStore::GetNode(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(name);
  if (it == nodes_.end()) {
    return Error(404, "NotFound", StrCat("nodes \"", name, "\" not found"),
                 Json{{"name", name}, {"kind", "nodes"}});
  }
  return {200, it->second};
}

Json ApiStore::AddNode(const std::string& name) {
  std::lock_guard lock(mu_);
  Json node = {{"apiVersion", "v1"},
               {"kind", "Node"},
               {"metadata",
                {{"name", name},
                 {"uid", NewUidLocked()},
                 {"resourceVersion", std::to_string(NextRvLocked())},
                 {"creationTimestamp", NowLocked()}}}};
  nodes_[name] = node;
  return node;
}

ApiResponse ApiStore::GetClaim(const std::string& namespace_, const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = claims_.find({namespace_, name});
  if (it == claims_.end()) {
    return Error(404, "NotFound",
                 StrCat("resourceclaims.resource.k8s.io \"", name, "\" not found"),
                 Json{{"name", name}, {"group", kGroup}, {"kind", "resourceclaims"}});
  }
  return {200, it->second};
}

void ApiStore::PutClaim(const Json& claim) {
  std::lock_guard lock(mu_);
  claims_[{MetaString(claim, "namespace"), MetaString(claim, "name")}] = claim;
}

std::vector<Json> ApiStore::Slices() const {
  std::lock_guard lock(mu_);
  std::vector<Json> out;
  for (const auto& [name, slice] : slices_) out.push_back(slice);
  return out;
}

bool ApiStore::RemoveSlice(const std::string& name) {
  return DeleteSlice(name, nullptr).code == 200;
}

bool ApiStore::ReplaceSliceSpec(const std::string& name, const Json& spec) {
  std::lock_guard lock(mu_);
  auto it = slices_.find(name);
  if (it == slices_.end()) return false;
  it->second["spec"] = spec;
  it->second["metadata"]["generation"] = it->second["metadata"].value("generation", int64_t{1}) + 1;
  it->second["metadata"]["resourceVersion"] = std::to_string(NextRvLocked());
  RecordLocked("MODIFIED", it->second);
  return true;
}

void ApiStore::CompactHistory() {
  std::lock_guard lock(mu_);
  history_.clear();
  compacted_rv_ = rv_;
  cv_.notify_all();
}

void ApiStore::SetDisabledGates(std::set<std::string> gates) {
  std::lock_guard lock(mu_);
  options_.disabled_gates = std::move(gates);
}

void ApiStore::Shutdown() {
  std::lock_guard lock(mu_);
  shutdown_ = true;
  cv_.notify_all();
}

std::string ApiStore::resource_version() const {
  std::lock_guard lock(mu_);
  return std::to_string(rv_);
}

bool ApiStore::WaitFor(const std::function<bool(const std::vector<Json>&)>& predicate,
                       std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mu_);
  while (true) {
    std::vector<Json> now;
    for (const auto& [name, slice] : slices_) now.push_back(slice);
    if (predicate(now)) return true;
    uint64_t seen = rv_;
    if (!cv_.wait_until(lock, deadline, [&] { return rv_ != seen || shutdown_; })) return false;
    if (shutdown_) return false;
  }
}

}  // namespace tessera::testing
