// What a ResourceSlice publishes, apart from its identity and pool: the
// `devices`, `sharedCounters` and `perDeviceNodeSelection` of its spec. The
// publisher compares this part of what it wants with what the server stores.
//
// Comparison is semantic, as the upstream helper's DevicesDeepEqual:
// quantities compare by value ("1024Mi" == "1Gi") and a taint's timeAdded
// (set by the server) is ignored. Pure functions; thread-safe.
#pragma once

#include <string>

#include "nlohmann/json.hpp"

namespace tessera::agent::kube {

// {"devices": ..., "sharedCounters": ..., "perDeviceNodeSelection": ...} of a
// ResourceSlice object or of a DesiredPool slice entry; absent fields stay absent.
nlohmann::json SliceContent(const nlohmann::json& slice_or_content);

// The content in comparable form: quantities canonical, taint timeAdded
// removed, empty arrays/objects removed.
nlohmann::json NormalizeContent(const nlohmann::json& content);

// Whether two contents are semantically equal.
bool SameContent(const nlohmann::json& a, const nlohmann::json& b);

// The first path where two JSON values differ ("devices[3].taints"), "" when equal.
std::string FirstDifference(const nlohmann::json& a, const nlohmann::json& b);

// Rewrites every quantity of a ResourceSlice object (or content) in the
// canonical form the API server stores: "1024Mi" -> "1Gi", 100 -> "100".
void CanonicalizeQuantities(nlohmann::json& slice);

}  // namespace tessera::agent::kube
