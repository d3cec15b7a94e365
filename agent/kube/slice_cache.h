// SliceCache: the publisher's view of its ResourceSlices on the server. The
// informer side (a list, then watch events) is overlaid with the results of
// the publisher's own writes until the informer catches up, as client-go's
// MutationCache does for the upstream helper: right after a create the new
// slice is visible even if its ADDED event has not arrived, so a second sync
// does not create a duplicate, and a slice just deleted does not come back
// from a late event.
//
// Versions are compared as integers (CompareResourceVersions); an entry of
// ours is dropped once the informer holds the same or a newer version of the
// object, or after `ttl`. Thread-safe; `clock` must outlive the cache.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "agent/kube/kube_client.h"
#include "base/clock.h"

namespace tessera::agent::kube {

class SliceCache {
 public:
  SliceCache(base::Clock& clock, std::chrono::seconds ttl) : clock_(clock), ttl_(ttl) {}

  // Informer side.
  void Replace(std::vector<nlohmann::json> items, std::string resource_version);
  void Apply(const WatchEvent& event);
  std::string resource_version() const;
  bool synced() const;

  // The publisher's own writes.
  void Stored(const nlohmann::json& object);   // a create/update answer
  void Deleted(const nlohmann::json& object);  // deleted (or already gone)

  // Every known slice, sorted by name.
  std::vector<nlohmann::json> View() const;

 private:
  struct Mutation {
    nlohmann::json object;
    base::Clock::MonoTime at;
  };
  void PruneLocked(base::Clock::MonoTime now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static std::string Uid(const nlohmann::json& object);
  static std::string Rv(const nlohmann::json& object);

  base::Clock& clock_;
  const std::chrono::seconds ttl_;
  mutable absl::Mutex mu_;
  std::map<std::string, nlohmann::json> informer_ ABSL_GUARDED_BY(mu_);  // by uid
  std::map<std::string, Mutation> mutations_ ABSL_GUARDED_BY(mu_);       // by uid
  std::map<std::string, base::Clock::MonoTime> deleted_ ABSL_GUARDED_BY(mu_);
  std::string resource_version_ ABSL_GUARDED_BY(mu_);
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace tessera::agent::kube
