#include "agent/kube/slice_builder.h"

#include <map>
#include <set>

#include "agent/kube/slice_validation.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace tessera::agent::kube {

using Json = nlohmann::json;

namespace {
using base::StrCat;

Json EncodeAttribute(const drivers::AttributeValue& value) {
  Json out = Json::object();
  if (const auto* i = std::get_if<int64_t>(&value)) {
    out["int"] = *i;
  } else if (const auto* b = std::get_if<bool>(&value)) {
    out["bool"] = *b;
  } else if (const auto* s = std::get_if<std::string>(&value)) {
    out["string"] = *s;
  } else if (const auto* v = std::get_if<drivers::Version>(&value)) {
    out["version"] = v->value;
  }
  return out;
}

Json EncodeCounters(const std::map<std::string, base::Quantity>& counters) {
  Json out = Json::object();
  for (const auto& [name, q] : counters) out[name] = Json{{"value", q.ToString()}};
  return out;
}

Json EncodeRequestPolicy(const drivers::RequestPolicy& policy) {
  Json out = Json::object();
  if (policy.default_value) out["default"] = policy.default_value->ToString();
  if (!policy.valid_values.empty()) {
    Json values = Json::array();
    for (const base::Quantity& q : policy.valid_values) values.push_back(q.ToString());
    out["validValues"] = std::move(values);
  }
  if (policy.valid_range) {
    Json range = Json{{"min", policy.valid_range->min.ToString()}};
    if (policy.valid_range->max) range["max"] = policy.valid_range->max->ToString();
    if (policy.valid_range->step) range["step"] = policy.valid_range->step->ToString();
    out["validRange"] = std::move(range);
  }
  return out;
}

// "gpu.tessera.dev/uuid" -> "uuid" for driver gpu.tessera.dev; others unchanged.
std::string NormalizeName(std::string_view name, std::string_view driver) {
  std::string prefix = StrCat(driver, "/");
  if (name.starts_with(prefix)) return std::string(name.substr(prefix.size()));
  return std::string(name);
}

bool IsAdvanced(const Json& device) {
  return device.contains("taints") || device.contains("consumesCounters");
}

// Whether `device` consumes every counter of each set it names in full.
bool ConsumesWholeSets(const drivers::Device& device,
                       const std::map<std::string, const drivers::CounterSet*>& sets) {
  if (device.consumes_counters.empty()) return false;
  for (const drivers::CounterConsumption& c : device.consumes_counters) {
    auto it = sets.find(c.counter_set);
    if (it == sets.end()) return false;
    if (c.counters != it->second->counters) return false;
  }
  return true;
}

Json SliceOfDevices(Json devices) { return Json{{"devices", std::move(devices)}}; }

}  // namespace

std::string DriverName(std::string_view family, std::string_view domain) {
  return StrCat(family, ".", domain);
}

std::string SliceGenerateName(std::string_view node, std::string_view driver) {
  // The API server keeps at most 58 characters of a generateName (63 minus
  // the 5 random ones); cut it ourselves so that the prefix stays a valid
  // name (no trailing '.').
  constexpr size_t kMaxPrefix = 57;
  std::string base = StrCat(node, "-", driver);
  if (base.size() > kMaxPrefix) base.resize(kMaxPrefix);
  while (!base.empty() && (base.back() == '.' || base.back() == '-')) base.pop_back();
  return StrCat(base, "-");
}

Json EncodeDevice(const drivers::Device& device, std::string_view driver,
                  const SliceBuildOptions& options) {
  Json out = Json::object();
  out["name"] = device.name;
  if (!device.attributes.empty()) {
    Json attrs = Json::object();
    for (const auto& [name, value] : device.attributes) {
      attrs[NormalizeName(name, driver)] = EncodeAttribute(value);
    }
    out["attributes"] = std::move(attrs);
  }
  bool multi = options.consumable_capacity && device.allow_multiple_allocations;
  if (!device.capacity.empty()) {
    Json caps = Json::object();
    for (const auto& [name, cap] : device.capacity) {
      Json c = Json{{"value", cap.value.ToString()}};
      if (multi && cap.request_policy)
        c["requestPolicy"] = EncodeRequestPolicy(*cap.request_policy);
      caps[NormalizeName(name, driver)] = std::move(c);
    }
    out["capacity"] = std::move(caps);
  }
  if (options.partitionable_devices && !device.consumes_counters.empty()) {
    Json consumes = Json::array();
    for (const drivers::CounterConsumption& c : device.consumes_counters) {
      consumes.push_back(
          Json{{"counterSet", c.counter_set}, {"counters", EncodeCounters(c.counters)}});
    }
    out["consumesCounters"] = std::move(consumes);
  }
  if (multi) out["allowMultipleAllocations"] = true;
  if (options.device_taints) {
    Json taints = Json::array();
    for (const drivers::Taint& t : device.taints) {
      Json taint = Json{{"key", t.key}, {"effect", t.effect}};
      if (!t.value.empty()) taint["value"] = t.value;
      taints.push_back(std::move(taint));
    }
    if (device.health == drivers::Health::kUnhealthy) {
      std::string key = StrCat(driver, "/unhealthy");
      bool present = false;
      for (const drivers::Taint& t : device.taints) present = present || t.key == key;
      if (!present) taints.push_back(Json{{"key", key}, {"effect", "NoSchedule"}});
    }
    if (!taints.empty()) out["taints"] = std::move(taints);
  }
  return out;
}

absl::StatusOr<DesiredPool> BuildPool(std::string_view driver, std::string_view node,
                                      const drivers::Inventory& inventory,
                                      const SliceBuildOptions& options) {
  if (std::vector<std::string> errs = IsDriverName(driver); !errs.empty()) {
    return absl::InvalidArgumentError(
        StrCat("build resource slices: driver name ", base::Quote(driver), ": ", errs.front()));
  }
  if (std::vector<std::string> errs = IsDns1123Subdomain(node); !errs.empty()) {
    return absl::InvalidArgumentError(
        StrCat("build resource slices: node name ", base::Quote(node), ": ", errs.front()));
  }
  DesiredPool pool;
  pool.driver = std::string(driver);
  pool.pool = std::string(node);
  pool.node_name = std::string(node);

  // Counter sets (only published with partitionable devices, but always used
  // for the whole-device rule).
  std::map<std::string, const drivers::CounterSet*> sets;
  Json published_sets = Json::array();
  for (const drivers::CounterSet& set : inventory.counter_sets) {
    if (sets.contains(set.name)) {
      pool.skipped.push_back({StrCat("counter set ", set.name), "duplicate counter set name"});
      continue;
    }
    Json encoded = Json{{"name", set.name}, {"counters", EncodeCounters(set.counters)}};
    if (options.partitionable_devices) {
      // Reuse the field validation of a slice holding just this set.
      Json probe = Json{{"metadata", {{"name", "probe"}}},
                        {"spec",
                         {{"driver", pool.driver},
                          {"pool", {{"name", pool.pool}, {"resourceSliceCount", 1}}},
                          {"nodeName", pool.node_name},
                          {"sharedCounters", Json::array({encoded})}}}};
      FieldErrors errors = ValidateResourceSlice(probe);
      if (!errors.empty()) {
        pool.skipped.push_back({StrCat("counter set ", set.name), errors.front().ToString()});
        continue;
      }
      published_sets.push_back(std::move(encoded));
    }
    sets[set.name] = &set;
  }

  // Devices, in name order.
  std::vector<const drivers::Device*> ordered;
  for (const drivers::Device& d : inventory.devices) ordered.push_back(&d);
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto* a, const auto* b) { return a->name < b->name; });
  std::set<std::string> names;
  std::set<std::string> sets_taken;  // whole-device rule with partitions off
  Json devices = Json::array();
  for (const drivers::Device* device : ordered) {
    if (!names.insert(device->name).second) {
      pool.skipped.push_back({device->name, "duplicate device name in the pool"});
      continue;
    }
    if (device->health == drivers::Health::kUnhealthy && !options.device_taints) {
      pool.skipped.push_back(
          {device->name, StrCat("unhealthy", device->health_message.empty() ? "" : ": ",
                                device->health_message)});
      continue;
    }
    if (!device->consumes_counters.empty()) {
      if (options.partitionable_devices) {
        std::string dangling;
        for (const drivers::CounterConsumption& c : device->consumes_counters) {
          auto it = sets.find(c.counter_set);
          if (it == sets.end()) {
            dangling = StrCat("consumes from unknown counter set ", base::Quote(c.counter_set));
            break;
          }
          for (const auto& [counter, q] : c.counters) {
            if (!it->second->counters.contains(counter)) {
              dangling = StrCat("consumes unknown counter ", base::Quote(counter), " of set ",
                                base::Quote(c.counter_set));
              break;
            }
          }
          if (!dangling.empty()) break;
        }
        if (!dangling.empty()) {
          pool.skipped.push_back({device->name, dangling});
          continue;
        }
      } else {
        if (!ConsumesWholeSets(*device, sets)) {
          pool.skipped.push_back({device->name,
                                  "a partition of a device: needs partitionable devices "
                                  "(DRAPartitionableDevices)"});
          continue;
        }
        bool overlap = false;
        for (const drivers::CounterConsumption& c : device->consumes_counters) {
          overlap = overlap || sets_taken.contains(c.counter_set);
        }
        if (overlap) {
          pool.skipped.push_back({device->name,
                                  "overlaps a published device: needs partitionable devices "
                                  "(DRAPartitionableDevices)"});
          continue;
        }
        for (const drivers::CounterConsumption& c : device->consumes_counters) {
          sets_taken.insert(c.counter_set);
        }
      }
    }
    // Two attribute names that normalize to the same key would be ambiguous.
    std::set<std::string> keys;
    std::string clash;
    for (const auto& [name, value] : device->attributes) {
      if (!keys.insert(NormalizeName(name, driver)).second) clash = name;
    }
    for (const auto& [name, cap] : device->capacity) {
      if (!keys.insert(NormalizeName(name, driver)).second) clash = name;
    }
    if (!clash.empty()) {
      pool.skipped.push_back({device->name, StrCat("attribute or capacity ", base::Quote(clash),
                                                   " given twice (qualified and unqualified)")});
      continue;
    }
    Json encoded = EncodeDevice(*device, driver, options);
    FieldErrors errors = ValidateDevice(encoded, "device", false, nullptr);
    if (!errors.empty()) {
      pool.skipped.push_back({device->name, errors.front().ToString()});
      continue;
    }
    devices.push_back(std::move(encoded));
  }

  // Counter-set slices first: devices reference them.
  for (size_t i = 0; i < published_sets.size(); i += kMaxCounterSetsPerSlice) {
    Json chunk = Json::array();
    for (size_t j = i; j < published_sets.size() && j < i + kMaxCounterSetsPerSlice; ++j) {
      chunk.push_back(published_sets[j]);
    }
    pool.slices.push_back(Json{{"sharedCounters", std::move(chunk)}});
  }
  Json current = Json::array();
  bool current_advanced = false;
  for (Json& device : devices) {
    bool advanced = IsAdvanced(device);
    size_t limit = (current_advanced || advanced) ? kMaxDevicesPerSliceWithTaintsOrCounters
                                                  : kMaxDevicesPerSlice;
    if (current.size() + 1 > limit) {
      pool.slices.push_back(SliceOfDevices(std::move(current)));
      current = Json::array();
      current_advanced = false;
    }
    current_advanced = current_advanced || advanced;
    current.push_back(std::move(device));
  }
  if (!current.empty()) pool.slices.push_back(SliceOfDevices(std::move(current)));
  if (pool.slices.empty()) pool.slices.push_back(Json::object());

  // Everything we emit must pass what the API server checks.
  std::vector<Json> rendered;
  for (size_t i = 0; i < pool.slices.size(); ++i) {
    Json slice =
        RenderSlice(pool, i, 1, NodeOwner{pool.node_name, "00000000-0000-0000-0000-000000000000"});
    slice["metadata"]["name"] = "probe";
    FieldErrors errors = ValidateResourceSlice(slice);
    if (!errors.empty()) {
      return ToStatus(errors, StrCat("build resource slices of pool ", node, " slice ", i));
    }
    rendered.push_back(std::move(slice));
  }
  RETURN_IF_ERROR(ToStatus(ValidatePool(rendered), StrCat("build resource slices of pool ", node)));
  return pool;
}

Json RenderSlice(const DesiredPool& pool, size_t index, int64_t generation,
                 const std::optional<NodeOwner>& owner) {
  Json metadata = Json{{"generateName", SliceGenerateName(pool.node_name, pool.driver)}};
  if (owner) {
    metadata["ownerReferences"] = Json::array({Json{{"apiVersion", "v1"},
                                                    {"kind", "Node"},
                                                    {"name", owner->name},
                                                    {"uid", owner->uid},
                                                    {"controller", true}}});
  }
  Json spec = pool.slices[index];
  spec["driver"] = pool.driver;
  spec["pool"] = Json{{"name", pool.pool},
                      {"generation", generation},
                      {"resourceSliceCount", static_cast<int64_t>(pool.slices.size())}};
  spec["nodeName"] = pool.node_name;
  return Json{{"apiVersion", "resource.k8s.io/v1"},
              {"kind", "ResourceSlice"},
              {"metadata", std::move(metadata)},
              {"spec", std::move(spec)}};
}

absl::StatusOr<std::vector<Json>> BuildSlices(std::string_view driver, std::string_view node,
                                              const drivers::Inventory& inventory,
                                              const SliceBuildOptions& options) {
  ASSIGN_OR_RETURN(DesiredPool pool, BuildPool(driver, node, inventory, options));
  std::vector<Json> out;
  for (size_t i = 0; i < pool.slices.size(); ++i) {
    out.push_back(RenderSlice(pool, i, 1, std::nullopt));
  }
  return out;
}

}  // namespace tessera::agent::kube
