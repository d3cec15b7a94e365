#include "test/fake_apiserver/fake_kube_client.h"

#include "agent/kube/api_status.h"
#include "base/strings.h"

namespace tessera::testing {
namespace {

using Json = nlohmann::json;
namespace kube = agent::kube;

absl::StatusOr<Json> Result(const ApiResponse& r, std::string_view operation) {
  absl::Status s = kube::StatusFromResponse(r.code, r.body.dump(), operation);
  if (!s.ok()) return s;
  return r.body;
}

std::string Name(const Json& obj) {
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return "";
  const Json& m = obj["metadata"];
  if (m.contains("name") && m["name"].is_string()) return m["name"].get<std::string>();
  if (m.contains("generateName") && m["generateName"].is_string()) {
    return m["generateName"].get<std::string>();
  }
  return "";
}

}  // namespace

absl::Status FakeKubeClient::Begin(std::string_view verb) {
  Injector injector;
  {
    std::lock_guard lock(mu_);
    ++calls_[std::string(verb)];
    injector = injector_;
  }
  return injector ? injector(verb) : absl::OkStatus();
}

void FakeKubeClient::set_injector(Injector injector) {
  std::lock_guard lock(mu_);
  injector_ = std::move(injector);
}

std::map<std::string, int> FakeKubeClient::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

int FakeKubeClient::writes() const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const char* verb : {"create", "update", "delete"}) {
    auto it = calls_.find(verb);
    if (it != calls_.end()) n += it->second;
  }
  return n;
}

void FakeKubeClient::ResetCalls() {
  std::lock_guard lock(mu_);
  calls_.clear();
}

absl::StatusOr<kube::ObjectList> FakeKubeClient::ListResourceSlices(
    const kube::SliceSelector& selector) {
  if (absl::Status s = Begin("list"); !s.ok()) return s;
  absl::StatusOr<Json> list =
      Result(store_.ListSlices(selector.ToFieldSelector()), "list resourceslices");
  if (!list.ok()) return list.status();
  kube::ObjectList out;
  out.resource_version = (*list)["metadata"]["resourceVersion"].get<std::string>();
  for (Json& item : (*list)["items"]) {
    item["apiVersion"] = "resource.k8s.io/v1";
    item["kind"] = "ResourceSlice";
    out.items.push_back(std::move(item));
  }
  return out;
}

absl::Status FakeKubeClient::WatchResourceSlices(const kube::SliceSelector& selector,
                                                 const kube::WatchOptions& options,
                                                 const kube::WatchHandler& handler,
                                                 std::stop_token stop) {
  if (absl::Status s = Begin("watch"); !s.ok()) return s;
  ApiStore::WatchStart start = store_.StartWatch(selector.ToFieldSelector(), options.resource_version);
  if (start.error) {
    return kube::StatusFromResponse(start.error->code, start.error->body.dump(),
                                    "watch resourceslices");
  }
  // Real time bounds the stream; the stop token ends it at once.
  auto deadline = std::chrono::steady_clock::now() + options.timeout;
  while (true) {
    if (stop.stop_requested()) return absl::CancelledError("watch resourceslices: stopped");
    std::optional<Json> event = start.watch->Next(deadline, stop);
    if (!event) {
      if (stop.stop_requested()) return absl::CancelledError("watch resourceslices: stopped");
      return absl::OkStatus();  // the server ended the watch
    }
    std::string type = (*event)["type"].get<std::string>();
    if (type == "ERROR") {
      const Json& status = (*event)["object"];
      return kube::StatusFromResponse(status.value("code", 500), status.dump(), "watch resourceslices");
    }
    kube::WatchEvent e;
    e.type = type == "ADDED"      ? kube::WatchEventType::kAdded
             : type == "MODIFIED" ? kube::WatchEventType::kModified
             : type == "DELETED"  ? kube::WatchEventType::kDeleted
                                  : kube::WatchEventType::kBookmark;
    e.object = std::move((*event)["object"]);
    handler(e);
  }
}

absl::StatusOr<Json> FakeKubeClient::CreateResourceSlice(const Json& slice) {
  if (absl::Status s = Begin("create"); !s.ok()) return s;
  return Result(store_.CreateSlice(slice), base::StrCat("create resourceslice ", Name(slice)));
}

absl::StatusOr<Json> FakeKubeClient::UpdateResourceSlice(const Json& slice) {
  if (absl::Status s = Begin("update"); !s.ok()) return s;
  return Result(store_.UpdateSlice(Name(slice), slice),
                base::StrCat("update resourceslice ", Name(slice)));
}

absl::Status FakeKubeClient::DeleteResourceSlice(std::string_view name,
                                                 const kube::Preconditions& preconditions) {
  if (absl::Status s = Begin("delete"); !s.ok()) return s;
  Json options = Json::object();
  if (!preconditions.uid.empty()) options["preconditions"]["uid"] = preconditions.uid;
  if (!preconditions.resource_version.empty()) {
    options["preconditions"]["resourceVersion"] = preconditions.resource_version;
  }
  ApiResponse r = store_.DeleteSlice(std::string(name), options);
  return kube::StatusFromResponse(r.code, r.body.dump(), base::StrCat("delete resourceslice ", name));
}

absl::StatusOr<Json> FakeKubeClient::GetResourceClaim(std::string_view namespace_,
                                                      std::string_view name) {
  if (absl::Status s = Begin("get-claim"); !s.ok()) return s;
  return Result(store_.GetClaim(std::string(namespace_), std::string(name)),
                base::StrCat("get resourceclaim ", namespace_, "/", name));
}

absl::StatusOr<Json> FakeKubeClient::GetNode(std::string_view name) {
  if (absl::Status s = Begin("get-node"); !s.ok()) return s;
  return Result(store_.GetNode(std::string(name)), base::StrCat("get node ", name));
}

}  // namespace tessera::testing
