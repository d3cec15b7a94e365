// PlanPoolSync: what to delete, update and create so that the slices of one
// pool on the server become the desired ones. A pure function of (desired
// pool, existing slices, owner, adopted contents), so the upstream helper's
// algorithm (DRAlib v0.35 resourceslice controller, dra-api-facts.md §6.7) is
// table-tested without an API server:
//
//   1. G = the highest pool generation among existing slices of the pool;
//      slices with a lower generation, of another pool, or without our
//      nodeName (immutable) are obsolete.
//   2. Match existing slices to desired ones by identical device-name sets
//      (for counter-set slices: counter-set names); a single existing and a
//      single desired slice always match. A second match-pass on device
//      names alone pairs counter-set slices whose sets the server dropped.
//      Unmatched existing slices (duplicates included) are obsolete.
//   3. New generation: keep G when no slice must be created and at most one
//      matched slice changed; else G+1 (G+1 = 1 for a new pool).
//   4. Delete obsolete slices (with uid + resourceVersion preconditions),
//      update changed matched slices (all matched ones after a bump), create
//      the missing ones with resourceSliceCount = number of desired slices.
//
// "Changed" compares the pool {name, generation, resourceSliceCount}, the
// absence of allNodes/nodeSelector, and the content (slice_content.h: devices, sharedCounters,
// perDeviceNodeSelection). Where the server dropped fields earlier, the
// content it stored instead is in `adopted` (keyed by ContentKey of the
// desired content) and is what the existing slice is compared with, so
// dropped fields never cause an update loop.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/kube/slice_builder.h"
#include "nlohmann/json.hpp"

namespace tessera::agent::kube {

// Desired content -> the (normalized) content the server stores for it.
using AdoptedContents = std::map<std::string, nlohmann::json>;
// The key of a desired slice's content in AdoptedContents.
std::string ContentKey(const nlohmann::json& desired_content);

struct PlannedWrite {
  size_t desired_index = 0;
  nlohmann::json object;  // the full object to send
};

struct PoolPlan {
  int64_t generation = 0;               // of the pool after the plan
  std::vector<nlohmann::json> deletes;  // existing objects; delete with their uid + resourceVersion
  std::vector<PlannedWrite> updates;    // existing objects with the new spec
  std::vector<PlannedWrite> creates;    // new objects (generateName)
  bool empty() const { return deletes.empty() && updates.empty() && creates.empty(); }
  size_t writes() const { return deletes.size() + updates.size() + creates.size(); }
};

// `existing`: the ResourceSlices of this driver on this node (any pool).
PoolPlan PlanPoolSync(const DesiredPool& desired, const std::vector<nlohmann::json>& existing,
                      const std::optional<NodeOwner>& owner, const AdoptedContents& adopted);

}  // namespace tessera::agent::kube
