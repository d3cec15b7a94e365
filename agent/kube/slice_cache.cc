#include "agent/kube/slice_cache.h"

#include <algorithm>

namespace tessera::agent::kube {

using Json = nlohmann::json;

std::string SliceCache::Uid(const Json& object) {
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) {
    return "";
  }
  const Json& m = object["metadata"];
  if (m.contains("uid") && m["uid"].is_string()) return m["uid"].get<std::string>();
  // No uid (a backend that does not set one): fall back to the name.
  if (m.contains("name") && m["name"].is_string()) return "name:" + m["name"].get<std::string>();
  return "";
}

std::string SliceCache::Rv(const Json& object) {
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) {
    return "";
  }
  const Json& m = object["metadata"];
  return m.contains("resourceVersion") && m["resourceVersion"].is_string()
             ? m["resourceVersion"].get<std::string>()
             : "";
}

void SliceCache::Replace(std::vector<Json> items, std::string resource_version) {
  absl::MutexLock lock(&mu_);
  informer_.clear();
  for (Json& item : items) {
    std::string uid = Uid(item);
    if (!uid.empty()) informer_[uid] = std::move(item);
  }
  // Our writes that the list already covers are settled: an object missing
  // from a newer list was deleted by someone else and must not come back.
  std::erase_if(mutations_, [&](const auto& kv) {
    std::optional<int> cmp = CompareResourceVersions(Rv(kv.second.object), resource_version);
    return !cmp || *cmp <= 0;
  });
  resource_version_ = std::move(resource_version);
  synced_ = true;
}

void SliceCache::Apply(const WatchEvent& event) {
  absl::MutexLock lock(&mu_);
  std::string rv = Rv(event.object);
  if (!rv.empty()) resource_version_ = rv;
  if (event.type == WatchEventType::kBookmark) return;
  std::string uid = Uid(event.object);
  if (uid.empty()) return;
  if (event.type == WatchEventType::kDeleted) {
    informer_.erase(uid);
    mutations_.erase(uid);
    deleted_.erase(uid);  // the informer agrees now
    return;
  }
  informer_[uid] = event.object;
}

std::string SliceCache::resource_version() const {
  absl::MutexLock lock(&mu_);
  return resource_version_;
}

bool SliceCache::synced() const {
  absl::MutexLock lock(&mu_);
  return synced_;
}

void SliceCache::PruneLocked(base::Clock::MonoTime now) {
  std::erase_if(mutations_, [&](const auto& kv) { return now - kv.second.at > ttl_; });
  std::erase_if(deleted_, [&](const auto& kv) { return now - kv.second > ttl_; });
}

void SliceCache::Stored(const Json& object) {
  absl::MutexLock lock(&mu_);
  PruneLocked(clock_.MonotonicNow());
  std::string uid = Uid(object);
  if (uid.empty()) return;
  mutations_[uid] = {object, clock_.MonotonicNow()};
}

void SliceCache::Deleted(const Json& object) {
  absl::MutexLock lock(&mu_);
  PruneLocked(clock_.MonotonicNow());
  std::string uid = Uid(object);
  if (uid.empty()) return;
  mutations_.erase(uid);
  deleted_[uid] = clock_.MonotonicNow();
}

std::vector<Json> SliceCache::View() const {
  absl::MutexLock lock(&mu_);
  base::Clock::MonoTime now = clock_.MonotonicNow();
  std::map<std::string, Json> merged = informer_;
  for (const auto& [uid, m] : mutations_) {
    if (now - m.at > ttl_) continue;
    auto it = merged.find(uid);
    if (it != merged.end()) {
      std::optional<int> cmp = CompareResourceVersions(Rv(it->second), Rv(m.object));
      if (!cmp || *cmp >= 0) continue;  // the informer is as new or newer
    }
    merged[uid] = m.object;
  }
  for (const auto& [uid, at] : deleted_) {
    if (now - at <= ttl_) merged.erase(uid);
  }
  std::vector<std::pair<std::string, Json>> named;
  named.reserve(merged.size());
  for (auto& [uid, obj] : merged) {
    const Json& m = obj["metadata"];
    std::string name = m.contains("name") && m["name"].is_string() ? m["name"].get<std::string>() : "";
    named.emplace_back(std::move(name), std::move(obj));
  }
  std::sort(named.begin(), named.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Json> out;
  out.reserve(named.size());
  for (auto& [name, obj] : named) out.push_back(std::move(obj));
  return out;
}

}  // namespace tessera::agent::kube
