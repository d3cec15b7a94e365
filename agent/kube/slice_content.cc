#include "agent/kube/slice_content.h"

#include <set>

#include "base/quantity.h"
#include "base/strings.h"

namespace tessera::agent::kube {

using Json = nlohmann::json;

namespace {

constexpr const char* kContentFields[] = {"devices", "sharedCounters", "perDeviceNodeSelection"};

void CanonicalizeQuantity(Json& v) {
  if (v.is_null()) return;
  std::string text = v.is_string() ? v.get<std::string>() : v.dump();
  absl::StatusOr<base::Quantity> q = base::Quantity::Parse(text);
  if (q.ok()) v = q->ToString();
}

void CanonicalizeCounters(Json& counters) {
  if (!counters.is_object()) return;
  for (auto& [name, counter] : counters.items()) {
    if (counter.is_object() && counter.contains("value")) CanonicalizeQuantity(counter["value"]);
  }
}

void CanonicalizeContent(Json& content) {
  if (!content.is_object()) return;
  if (content.contains("sharedCounters") && content["sharedCounters"].is_array()) {
    for (Json& set : content["sharedCounters"]) {
      if (set.is_object() && set.contains("counters")) CanonicalizeCounters(set["counters"]);
    }
  }
  if (!content.contains("devices") || !content["devices"].is_array()) return;
  for (Json& device : content["devices"]) {
    if (!device.is_object()) continue;
    if (device.contains("capacity") && device["capacity"].is_object()) {
      for (auto& [name, cap] : device["capacity"].items()) {
        if (!cap.is_object()) continue;
        if (cap.contains("value")) CanonicalizeQuantity(cap["value"]);
        if (!cap.contains("requestPolicy") || !cap["requestPolicy"].is_object()) continue;
        Json& policy = cap["requestPolicy"];
        if (policy.contains("default")) CanonicalizeQuantity(policy["default"]);
        if (policy.contains("validValues") && policy["validValues"].is_array()) {
          for (Json& v : policy["validValues"]) CanonicalizeQuantity(v);
        }
        if (policy.contains("validRange") && policy["validRange"].is_object()) {
          for (const char* k : {"min", "max", "step"}) {
            if (policy["validRange"].contains(k)) CanonicalizeQuantity(policy["validRange"][k]);
          }
        }
      }
    }
    if (device.contains("consumesCounters") && device["consumesCounters"].is_array()) {
      for (Json& c : device["consumesCounters"]) {
        if (c.is_object() && c.contains("counters")) CanonicalizeCounters(c["counters"]);
      }
    }
  }
}

// Drops nulls and empty arrays/objects: the API server omits them.
void DropEmpty(Json& v) {
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end();) {
      DropEmpty(*it);
      if (it->is_null() || ((it->is_array() || it->is_object()) && it->empty())) {
        it = v.erase(it);
      } else {
        ++it;
      }
    }
  } else if (v.is_array()) {
    for (Json& item : v) DropEmpty(item);
  }
}

void Diff(const Json& a, const Json& b, const std::string& path, std::string* out) {
  if (!out->empty()) return;
  if (a.type() != b.type()) {
    *out = path.empty() ? "." : path;
    return;
  }
  if (a.is_object()) {
    std::set<std::string> keys;
    for (auto it = a.begin(); it != a.end(); ++it) keys.insert(it.key());
    for (auto it = b.begin(); it != b.end(); ++it) keys.insert(it.key());
    for (const std::string& k : keys) {
      std::string child = path.empty() ? k : base::StrCat(path, ".", k);
      if (!a.contains(k) || !b.contains(k)) {
        *out = child;
        return;
      }
      Diff(a[k], b[k], child, out);
      if (!out->empty()) return;
    }
    return;
  }
  if (a.is_array()) {
    if (a.size() != b.size()) {
      *out = path;
      return;
    }
    for (size_t i = 0; i < a.size(); ++i) {
      Diff(a[i], b[i], base::StrCat(path, "[", i, "]"), out);
      if (!out->empty()) return;
    }
    return;
  }
  if (a != b) *out = path.empty() ? "." : path;
}

}  // namespace

Json SliceContent(const Json& slice_or_content) {
  const Json* src = &slice_or_content;
  if (slice_or_content.is_object() && slice_or_content.contains("spec") &&
      slice_or_content["spec"].is_object()) {
    src = &slice_or_content["spec"];
  }
  Json out = Json::object();
  if (!src->is_object()) return out;
  for (const char* field : kContentFields) {
    if (src->contains(field) && !(*src)[field].is_null()) out[field] = (*src)[field];
  }
  return out;
}

Json NormalizeContent(const Json& content) {
  Json out = SliceContent(content);
  CanonicalizeContent(out);
  if (out.contains("devices") && out["devices"].is_array()) {
    for (Json& d : out["devices"]) {
      if (!d.is_object() || !d.contains("taints") || !d["taints"].is_array()) continue;
      for (Json& t : d["taints"]) {
        if (t.is_object()) t.erase("timeAdded");
      }
    }
  }
  DropEmpty(out);
  return out;
}

bool SameContent(const Json& a, const Json& b) {
  return NormalizeContent(a) == NormalizeContent(b);
}

std::string FirstDifference(const Json& a, const Json& b) {
  std::string out;
  Diff(a, b, "", &out);
  return out;
}

void CanonicalizeQuantities(Json& slice) {
  if (slice.is_object() && slice.contains("spec") && slice["spec"].is_object()) {
    CanonicalizeContent(slice["spec"]);
  } else {
    CanonicalizeContent(slice);
  }
}

}  // namespace tessera::agent::kube
