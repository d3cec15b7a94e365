#include "agent/kube/pool_plan.h"

#include <algorithm>
#include <set>

#include "agent/kube/slice_content.h"
#include "base/strings.h"

namespace tessera::agent::kube {

using Json = nlohmann::json;

namespace {

const Json& Field(const Json& obj, const char* key) {
  static const Json* null = new Json();
  if (!obj.is_object()) return *null;
  auto it = obj.find(key);
  return it == obj.end() ? *null : *it;
}

int64_t PoolGeneration(const Json& slice) {
  const Json& g = Field(Field(Field(slice, "spec"), "pool"), "generation");
  return g.is_number_integer() ? g.get<int64_t>() : 0;
}

std::string PoolName(const Json& slice) {
  const Json& n = Field(Field(Field(slice, "spec"), "pool"), "name");
  return n.is_string() ? n.get<std::string>() : "";
}

std::string Name(const Json& slice) {
  const Json& n = Field(Field(slice, "metadata"), "name");
  return n.is_string() ? n.get<std::string>() : "";
}

// Sorted names of a list of named entries ("devices" or "sharedCounters").
std::vector<std::string> Names(const Json& content, const char* list) {
  std::vector<std::string> out;
  const Json& items = Field(content, list);
  if (items.is_array()) {
    for (const Json& item : items) {
      const Json& n = Field(item, "name");
      out.push_back(n.is_string() ? n.get<std::string>() : "");
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string FullKey(const Json& content) {
  return base::StrCat(base::Join(Names(content, "devices"), ","), "|",
                      base::Join(Names(content, "sharedCounters"), ","));
}
std::string DeviceKey(const Json& content) { return base::Join(Names(content, "devices"), ","); }

// Keeps the server's timeAdded of taints that did not change (upstream
// copyTaintTimeAdded): without it every update would restamp them.
void CopyTaintTimes(const Json& existing_content, Json& content) {
  if (!content.contains("devices") || !content["devices"].is_array()) return;
  const Json& old_devices = Field(existing_content, "devices");
  if (!old_devices.is_array()) return;
  for (Json& d : content["devices"]) {
    if (!d.contains("taints") || !d["taints"].is_array()) continue;
    for (const Json& od : old_devices) {
      if (Field(od, "name") != Field(d, "name") || !Field(od, "taints").is_array()) continue;
      for (Json& t : d["taints"]) {
        if (t.contains("timeAdded")) continue;
        for (const Json& ot : od["taints"]) {
          if (Field(ot, "key") == Field(t, "key") && Field(ot, "value") == Field(t, "value") &&
              Field(ot, "effect") == Field(t, "effect") && Field(ot, "timeAdded").is_string()) {
            t["timeAdded"] = ot["timeAdded"];
          }
        }
      }
    }
  }
}

}  // namespace

std::string ContentKey(const Json& desired_content) {
  return NormalizeContent(desired_content).dump();
}

PoolPlan PlanPoolSync(const DesiredPool& desired, const std::vector<Json>& existing,
                      const std::optional<NodeOwner>& owner, const AdoptedContents& adopted) {
  PoolPlan plan;
  const size_t n = desired.slices.size();

  // 1. Current generation; everything of another pool or generation is obsolete.
  // nodeName is immutable: a slice of our pool without our node name cannot
  // be fixed by an update.
  auto ours = [&](const Json& s) {
    return PoolName(s) == desired.pool &&
           Field(Field(s, "spec"), "nodeName") == Json(desired.node_name);
  };
  int64_t generation = 0;
  for (const Json& s : existing) {
    if (ours(s)) generation = std::max(generation, PoolGeneration(s));
  }
  std::vector<const Json*> candidates;
  for (const Json& s : existing) {
    if (ours(s) && PoolGeneration(s) == generation) {
      candidates.push_back(&s);
    } else {
      plan.deletes.push_back(s);
    }
  }
  // Deterministic matching order.
  std::sort(candidates.begin(), candidates.end(),
            [](const Json* a, const Json* b) { return Name(*a) < Name(*b); });

  // 2. Match. Keys and normalized contents are computed once per slice.
  std::vector<std::string> desired_full(n), desired_devices(n);
  for (size_t i = 0; i < n; ++i) {
    desired_full[i] = FullKey(desired.slices[i]);
    desired_devices[i] = DeviceKey(desired.slices[i]);
  }
  std::vector<Json> candidate_content;
  candidate_content.reserve(candidates.size());
  for (const Json* c : candidates) candidate_content.push_back(SliceContent(*c));
  std::vector<const Json*> match(n, nullptr);
  std::vector<bool> used(candidates.size(), false);
  if (candidates.size() == 1 && n == 1) {
    match[0] = candidates[0];
    used[0] = true;
  } else {
    for (int pass = 0; pass < 2; ++pass) {
      const std::vector<std::string>& want = pass == 0 ? desired_full : desired_devices;
      for (size_t c = 0; c < candidates.size(); ++c) {
        if (used[c]) continue;
        std::string k = pass == 0 ? FullKey(candidate_content[c]) : DeviceKey(candidate_content[c]);
        for (size_t i = 0; i < n; ++i) {
          if (match[i] == nullptr && want[i] == k) {
            match[i] = candidates[c];
            used[c] = true;
            break;
          }
        }
      }
    }
  }
  for (size_t c = 0; c < candidates.size(); ++c) {
    if (!used[c]) plan.deletes.push_back(*candidates[c]);
  }

  // Which matched slices differ from what we want (pool fields compared with
  // the current generation first).
  auto effective = [&](size_t i) {
    Json normalized = NormalizeContent(desired.slices[i]);
    if (!adopted.empty()) {
      auto it = adopted.find(normalized.dump());
      if (it != adopted.end()) return it->second;
    }
    return normalized;
  };
  auto differs = [&](const Json& slice, size_t i, int64_t gen) {
    const Json& spec = Field(slice, "spec");
    Json want_pool = {{"name", desired.pool},
                      {"generation", gen},
                      {"resourceSliceCount", static_cast<int64_t>(n)}};
    if (Field(spec, "pool") != want_pool) return true;
    if (!Field(spec, "allNodes").is_null() || !Field(spec, "nodeSelector").is_null()) return true;
    return NormalizeContent(slice) != effective(i);
  };
  size_t matched = 0;
  std::vector<size_t> changed;
  for (size_t i = 0; i < n; ++i) {
    if (match[i] == nullptr) continue;
    ++matched;
    if (differs(*match[i], i, generation)) changed.push_back(i);
  }

  // 3. Generation.
  size_t new_slices = n - matched;
  bool bumped = !(new_slices == 0 && changed.size() <= 1);
  if (bumped) ++generation;
  plan.generation = generation;

  // 4. Updates and creates.
  for (size_t i = 0; i < n; ++i) {
    if (match[i] != nullptr) {
      if (!bumped && std::find(changed.begin(), changed.end(), i) == changed.end()) continue;
      Json object = *match[i];
      Json& spec = object["spec"];
      spec["pool"] = {{"name", desired.pool},
                      {"generation", generation},
                      {"resourceSliceCount", static_cast<int64_t>(n)}};
      spec.erase("allNodes");
      spec.erase("nodeSelector");
      Json content = desired.slices[i];
      CopyTaintTimes(SliceContent(*match[i]), content);
      for (const char* field : {"devices", "sharedCounters", "perDeviceNodeSelection"}) {
        if (content.contains(field)) {
          spec[field] = content[field];
        } else {
          spec.erase(field);
        }
      }
      plan.updates.push_back({i, std::move(object)});
    } else {
      plan.creates.push_back({i, RenderSlice(desired, i, generation, owner)});
    }
  }
  return plan;
}

}  // namespace tessera::agent::kube
