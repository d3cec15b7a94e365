// Checks on what a fake API server stores for one pool, shared by the
// publisher's unit tests, integration tests and benchmark.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

#include "agent/kube/slice_builder.h"
#include "agent/kube/slice_content.h"

namespace tessera::testing {

// Device names across `slices`, with repetitions (a duplicate shows twice).
inline std::multiset<std::string> PublishedDeviceNames(const std::vector<nlohmann::json>& slices) {
  std::multiset<std::string> out;
  for (const nlohmann::json& s : slices) {
    if (!s.contains("spec") || !s["spec"].contains("devices")) continue;
    for (const nlohmann::json& d : s["spec"]["devices"]) out.insert(d.value("name", ""));
  }
  return out;
}

// The server holds exactly the desired pool: each desired slice's content
// once (semantically), one generation, resourceSliceCount = number of slices,
// and nothing else.
inline bool PoolConverged(const std::vector<nlohmann::json>& stored,
                          const agent::kube::DesiredPool& desired) {
  if (stored.size() != desired.slices.size()) return false;
  std::multiset<std::string> want;
  for (const nlohmann::json& c : desired.slices) {
    want.insert(agent::kube::NormalizeContent(c).dump());
  }
  std::multiset<std::string> got;
  int64_t generation = -1;
  for (const nlohmann::json& s : stored) {
    got.insert(agent::kube::NormalizeContent(s).dump());
    const nlohmann::json& pool = s["spec"]["pool"];
    if (pool["name"] != desired.pool || s["spec"].value("nodeName", "") != desired.node_name ||
        pool["resourceSliceCount"] != static_cast<int64_t>(desired.slices.size())) {
      return false;
    }
    if (generation >= 0 && pool["generation"] != generation) return false;
    generation = pool["generation"].get<int64_t>();
  }
  return want == got;
}

}  // namespace tessera::testing
