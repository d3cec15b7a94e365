#include "agent/kube/slice_validation.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>

#include "base/quantity.h"
#include "base/strings.h"

// Validation rules and messages follow k8s.io/kubernetes
// pkg/apis/resource/validation/validation.go (1.35) and the apimachinery
// helpers it calls (IsDNS1123Label, IsQualifiedName, ...), so that an error
// found here reads exactly like the one the API server would return.

namespace tessera::agent::kube {

using Json = nlohmann::json;

namespace {

using base::StrCat;
using Type = FieldError::Type;

// ---------------------------------------------------------------- paths ---

std::string Child(std::string_view path, std::string_view name) {
  return path.empty() ? std::string(name) : StrCat(path, ".", name);
}
std::string Index(std::string_view path, size_t i) { return StrCat(path, "[", i, "]"); }
std::string Key(std::string_view path, std::string_view key) { return StrCat(path, "[", key, "]"); }

std::string Render(const Json& v) { return v.dump(-1, ' ', false, Json::error_handler_t::replace); }
std::string RenderString(std::string_view s) { return Render(Json(std::string(s))); }

FieldError Err(Type type, std::string field, std::string value, std::string detail) {
  return FieldError{type, std::move(field), std::move(value), std::move(detail)};
}
FieldError Required(std::string field, std::string detail = "") {
  return Err(Type::kRequired, std::move(field), "", std::move(detail));
}
FieldError Invalid(std::string field, std::string value, std::string detail) {
  return Err(Type::kInvalid, std::move(field), std::move(value), std::move(detail));
}
FieldError TooMany(std::string field, size_t actual, size_t max) {
  return Err(Type::kTooMany, std::move(field), StrCat(actual),
             StrCat("must have at most ", max, " items"));
}
FieldError TooLong(std::string field, size_t max) {
  return Err(Type::kTooLong, std::move(field), "", StrCat("may not be more than ", max, " bytes"));
}
FieldError Duplicate(std::string field, std::string_view key) {
  return Err(Type::kDuplicate, std::move(field), RenderString(key), "");
}
FieldError Forbidden(std::string field, std::string detail) {
  return Err(Type::kForbidden, std::move(field), "", std::move(detail));
}

void Append(FieldErrors& out, FieldErrors more) {
  for (FieldError& e : more) out.push_back(std::move(e));
}

// Messages of format checks become Invalid errors on `field`.
void AddInvalid(FieldErrors& out, const std::string& field, std::string_view value,
                const std::vector<std::string>& msgs) {
  for (const std::string& m : msgs) out.push_back(Invalid(field, RenderString(value), m));
}

// ------------------------------------------------------------- formats ----

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

bool MatchesDnsLabel(std::string_view s) {
  if (s.empty() || !IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsLowerAlnum(c) || c == '-'; });
}

bool MatchesDnsSubdomain(std::string_view s) {
  if (s.empty()) return false;
  for (std::string_view part : base::Split(s, '.')) {
    if (!MatchesDnsLabel(part)) return false;
  }
  return true;
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool MatchesQualifiedNamePart(std::string_view s) {
  if (s.empty() || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

constexpr char kDnsLabelMsg[] =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
constexpr char kDnsSubdomainMsg[] =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
constexpr char kCIdentifierMsg[] =
    "a valid C identifier must start with alphabetic character or '_', followed by a string of "
    "alphanumeric characters or '_' (e.g. 'my_name',  or 'MY_NAME',  or 'MyName', regex used for "
    "validation is '[A-Za-z_][A-Za-z0-9_]*')";
constexpr char kQualifiedNamePartMsg[] =
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
constexpr char kQualifiedNameMsg[] =
    "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS "
    "subdomain prefix and '/' (e.g. 'example.com/MyName')";
constexpr char kLabelValueMsg[] =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value', "
    " or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

// ------------------------------------------------------------ decoding ----

// The strict decoder's view of the schema: field name -> kind.
enum class Kind {
  kString,
  kInt,
  kBool,
  kQuantity,
  kRaw,     // any JSON (managedFields entries)
  kObject,  // nested schema
  kArray,   // of `elem`
  kMap,     // string keys -> `elem`
};
struct Schema;
struct FieldSpec {
  Kind kind;
  const Schema* schema = nullptr;  // for kObject, and the element of kArray / kMap
  Kind elem = Kind::kObject;       // element kind for kArray / kMap
};
struct Schema {
  const char* go_type;
  std::map<std::string, FieldSpec, std::less<>> fields;
};

FieldSpec Str() { return {Kind::kString}; }
FieldSpec Int() { return {Kind::kInt}; }
FieldSpec Bool() { return {Kind::kBool}; }
FieldSpec Qty() { return {Kind::kQuantity}; }
FieldSpec Obj(const Schema& s) { return {Kind::kObject, &s}; }
FieldSpec ArrOf(const Schema& s) { return {Kind::kArray, &s, Kind::kObject}; }
FieldSpec ArrOfKind(Kind k) { return {Kind::kArray, nullptr, k}; }
FieldSpec MapOf(const Schema& s) { return {Kind::kMap, &s, Kind::kObject}; }
FieldSpec MapOfKind(Kind k) { return {Kind::kMap, nullptr, k}; }

const Schema& Schemas(std::string_view which) {
  static const auto* all = [] {
    auto* m = new std::map<std::string, Schema, std::less<>>();
    Schema& owner = (*m)["OwnerReference"];
    owner = {"OwnerReference",
             {{"apiVersion", Str()},
              {"kind", Str()},
              {"name", Str()},
              {"uid", Str()},
              {"controller", Bool()},
              {"blockOwnerDeletion", Bool()}}};
    Schema& meta = (*m)["ObjectMeta"];
    meta = {"ObjectMeta",
            {{"name", Str()},
             {"generateName", Str()},
             {"namespace", Str()},
             {"selfLink", Str()},
             {"uid", Str()},
             {"resourceVersion", Str()},
             {"generation", Int()},
             {"creationTimestamp", Str()},
             {"deletionTimestamp", Str()},
             {"deletionGracePeriodSeconds", Int()},
             {"labels", MapOfKind(Kind::kString)},
             {"annotations", MapOfKind(Kind::kString)},
             {"ownerReferences", ArrOf(owner)},
             {"finalizers", ArrOfKind(Kind::kString)},
             {"managedFields", ArrOfKind(Kind::kRaw)}}};
    Schema& req = (*m)["NodeSelectorRequirement"];
    req = {"NodeSelectorRequirement",
           {{"key", Str()}, {"operator", Str()}, {"values", ArrOfKind(Kind::kString)}}};
    Schema& term = (*m)["NodeSelectorTerm"];
    term = {"NodeSelectorTerm", {{"matchExpressions", ArrOf(req)}, {"matchFields", ArrOf(req)}}};
    Schema& selector = (*m)["NodeSelector"];
    selector = {"NodeSelector", {{"nodeSelectorTerms", ArrOf(term)}}};
    Schema& pool = (*m)["ResourcePool"];
    pool = {"ResourcePool",
            {{"name", Str()}, {"generation", Int()}, {"resourceSliceCount", Int()}}};
    Schema& attr = (*m)["DeviceAttribute"];
    attr = {"DeviceAttribute",
            {{"int", Int()}, {"bool", Bool()}, {"string", Str()}, {"version", Str()}}};
    Schema& range = (*m)["CapacityRequestPolicyRange"];
    range = {"CapacityRequestPolicyRange", {{"min", Qty()}, {"max", Qty()}, {"step", Qty()}}};
    Schema& policy = (*m)["CapacityRequestPolicy"];
    policy = {"CapacityRequestPolicy",
              {{"default", Qty()},
               {"validValues", ArrOfKind(Kind::kQuantity)},
               {"validRange", Obj(range)}}};
    Schema& capacity = (*m)["DeviceCapacity"];
    capacity = {"DeviceCapacity", {{"value", Qty()}, {"requestPolicy", Obj(policy)}}};
    Schema& counter = (*m)["Counter"];
    counter = {"Counter", {{"value", Qty()}}};
    Schema& consumption = (*m)["DeviceCounterConsumption"];
    consumption = {"DeviceCounterConsumption",
                   {{"counterSet", Str()}, {"counters", MapOf(counter)}}};
    Schema& taint = (*m)["DeviceTaint"];
    taint = {"DeviceTaint",
             {{"key", Str()}, {"value", Str()}, {"effect", Str()}, {"timeAdded", Str()}}};
    Schema& device = (*m)["Device"];
    device = {"Device",
              {{"name", Str()},
               {"attributes", MapOf(attr)},
               {"capacity", MapOf(capacity)},
               {"consumesCounters", ArrOf(consumption)},
               {"nodeName", Str()},
               {"nodeSelector", Obj(selector)},
               {"allNodes", Bool()},
               {"taints", ArrOf(taint)},
               {"bindsToNode", Bool()},
               {"bindingConditions", ArrOfKind(Kind::kString)},
               {"bindingFailureConditions", ArrOfKind(Kind::kString)},
               {"allowMultipleAllocations", Bool()}}};
    Schema& counter_set = (*m)["CounterSet"];
    counter_set = {"CounterSet", {{"name", Str()}, {"counters", MapOf(counter)}}};
    Schema& spec = (*m)["ResourceSliceSpec"];
    spec = {"ResourceSliceSpec",
            {{"driver", Str()},
             {"pool", Obj(pool)},
             {"nodeName", Str()},
             {"nodeSelector", Obj(selector)},
             {"allNodes", Bool()},
             {"devices", ArrOf(device)},
             {"perDeviceNodeSelection", Bool()},
             {"sharedCounters", ArrOf(counter_set)}}};
    Schema& slice = (*m)["ResourceSlice"];
    slice = {
        "ResourceSlice",
        {{"apiVersion", Str()}, {"kind", Str()}, {"metadata", Obj(meta)}, {"spec", Obj(spec)}}};
    return m;
  }();
  return all->at(std::string(which));
}

void DecodeValue(const Json& v, Kind kind, const Schema* schema, Kind elem, const std::string& path,
                 FieldErrors& out);

void DecodeObject(const Json& v, const Schema& schema, const std::string& path, FieldErrors& out) {
  if (!v.is_object()) {
    out.push_back(
        Err(Type::kTypeInvalid, path, v.type_name(),
            StrCat("cannot unmarshal ", v.type_name(), " into Go value of type ", schema.go_type)));
    return;
  }
  for (auto it = v.begin(); it != v.end(); ++it) {
    auto f = schema.fields.find(it.key());
    std::string child = Child(path, it.key());
    if (f == schema.fields.end()) {
      out.push_back(Err(Type::kUnknownField, child, "", "unknown field"));
      continue;
    }
    if (it->is_null()) continue;  // null is "absent" for the Go decoder
    DecodeValue(*it, f->second.kind, f->second.schema, f->second.elem, child, out);
  }
}

void DecodeValue(const Json& v, Kind kind, const Schema* schema, Kind elem, const std::string& path,
                 FieldErrors& out) {
  auto type_error = [&](const char* want) {
    out.push_back(Err(Type::kTypeInvalid, path, v.type_name(),
                      StrCat("cannot unmarshal ", v.type_name(), " into Go value of type ", want)));
  };
  switch (kind) {
    case Kind::kString:
      if (!v.is_string()) type_error("string");
      return;
    case Kind::kInt:
      if (!v.is_number_integer() ||
          (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))) {
        type_error("int64");
      }
      return;
    case Kind::kBool:
      if (!v.is_boolean()) type_error("bool");
      return;
    case Kind::kRaw:
      return;
    case Kind::kQuantity: {
      std::string text;
      if (v.is_string()) {
        text = v.get<std::string>();
      } else if (v.is_number()) {
        text = v.dump();
      } else {
        type_error("resource.Quantity");
        return;
      }
      if (!base::Quantity::Parse(text).ok()) {
        out.push_back(Err(Type::kTypeInvalid, path, RenderString(text),
                          "quantities must match the regular expression "
                          "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"));
      }
      return;
    }
    case Kind::kObject:
      DecodeObject(v, *schema, path, out);
      return;
    case Kind::kArray: {
      if (!v.is_array()) {
        type_error("array");
        return;
      }
      for (size_t i = 0; i < v.size(); ++i) {
        if (v[i].is_null() && elem != Kind::kRaw) continue;
        DecodeValue(v[i], elem, schema, Kind::kObject, Index(path, i), out);
      }
      return;
    }
    case Kind::kMap: {
      if (!v.is_object()) {
        type_error("map");
        return;
      }
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (it->is_null()) continue;
        DecodeValue(*it, elem, schema, Kind::kObject, Key(path, it.key()), out);
      }
      return;
    }
  }
}

// ------------------------------------------------------------ accessors ---

// After decoding succeeded, fields have the right types; these helpers still
// tolerate anything so that validation never throws on bad input.
const Json* Get(const Json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}
std::optional<std::string> GetStr(const Json& obj, std::string_view key) {
  const Json* v = Get(obj, key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return v->get<std::string>();
}
std::string StrOr(const Json& obj, std::string_view key) { return GetStr(obj, key).value_or(""); }
std::optional<int64_t> GetInt(const Json& obj, std::string_view key) {
  const Json* v = Get(obj, key);
  if (v == nullptr || !v->is_number_integer()) return std::nullopt;
  return v->get<int64_t>();
}
std::optional<bool> GetBool(const Json& obj, std::string_view key) {
  const Json* v = Get(obj, key);
  if (v == nullptr || !v->is_boolean()) return std::nullopt;
  return v->get<bool>();
}
const Json& ArrayOrEmpty(const Json& obj, std::string_view key) {
  static const Json* empty = new Json(Json::array());
  const Json* v = Get(obj, key);
  return v != nullptr && v->is_array() ? *v : *empty;
}
const Json& ObjectOrEmpty(const Json& obj, std::string_view key) {
  static const Json* empty = new Json(Json::object());
  const Json* v = Get(obj, key);
  return v != nullptr && v->is_object() ? *v : *empty;
}
std::optional<base::Quantity> GetQty(const Json& obj, std::string_view key) {
  const Json* v = Get(obj, key);
  if (v == nullptr) return std::nullopt;
  std::string text = v->is_string() ? v->get<std::string>() : v->dump();
  absl::StatusOr<base::Quantity> q = base::Quantity::Parse(text);
  if (!q.ok()) return std::nullopt;
  return *q;
}

// ---------------------------------------------------------- validators ----

FieldErrors ValidateDriverName(std::string_view name, const std::string& path) {
  FieldErrors out;
  if (name.empty()) {
    out.push_back(Required(path));
    return out;
  }
  if (name.size() > kMaxDomainLength) out.push_back(TooLong(path, kMaxDomainLength));
  AddInvalid(out, path, name, IsDns1123Subdomain(base::ToLower(name)));
  return out;
}

FieldErrors ValidateDnsLabelField(std::string_view value, const std::string& path) {
  FieldErrors out;
  if (value.empty()) {
    out.push_back(Required(path));
    return out;
  }
  AddInvalid(out, path, value, IsDns1123Label(value));
  return out;
}

FieldErrors ValidateNodeName(std::string_view name, const std::string& path) {
  FieldErrors out;
  AddInvalid(out, path, name, IsDns1123Subdomain(name));
  return out;
}

FieldErrors ValidatePoolName(std::string_view name, const std::string& path) {
  FieldErrors out;
  if (name.empty()) {
    out.push_back(Required(path));
    return out;
  }
  if (name.size() > kMaxPoolNameLength) out.push_back(TooLong(path, kMaxPoolNameLength));
  for (std::string_view part : base::Split(name, '/')) {
    AddInvalid(out, path, part, IsDns1123Subdomain(part));
  }
  return out;
}

FieldErrors ValidateQualifiedAttributeName(std::string_view name, const std::string& path) {
  FieldErrors out;
  std::vector<std::string_view> parts = base::Split(name, '/');
  if (parts.size() == 1) {
    if (name.size() > kMaxIdLength) out.push_back(TooLong(path, kMaxIdLength));
    AddInvalid(out, path, name, IsCIdentifier(name));
  } else if (parts.size() == 2) {
    if (parts[0].empty()) {
      out.push_back(Invalid(path, "\"\"", "the domain must not be empty"));
    } else {
      Append(out, ValidateDriverName(parts[0], path));
    }
    if (parts[1].empty()) {
      out.push_back(Invalid(path, "\"\"", "the name must not be empty"));
    } else {
      if (parts[1].size() > kMaxIdLength) out.push_back(TooLong(path, kMaxIdLength));
      AddInvalid(out, path, parts[1], IsCIdentifier(parts[1]));
    }
  } else {
    out.push_back(Invalid(path, RenderString(name), "must not contain more than one slash"));
  }
  return out;
}

FieldErrors ValidateLabelName(std::string_view key, const std::string& path) {
  FieldErrors out;
  if (key.empty()) {
    out.push_back(Required(path));
    return out;
  }
  AddInvalid(out, path, key, IsQualifiedName(key));
  return out;
}

FieldErrors ValidateNodeSelector(const Json& selector, const std::string& path) {
  FieldErrors out;
  const Json& terms = ArrayOrEmpty(selector, "nodeSelectorTerms");
  std::string terms_path = Child(path, "nodeSelectorTerms");
  if (terms.empty()) {
    out.push_back(Required(terms_path, "must have at least one node selector term"));
    return out;
  }
  static const std::set<std::string, std::less<>> kOperators = {"In",           "NotIn", "Exists",
                                                                "DoesNotExist", "Gt",    "Lt"};
  for (size_t t = 0; t < terms.size(); ++t) {
    std::string term_path = Index(terms_path, t);
    for (const char* list : {"matchExpressions", "matchFields"}) {
      const Json& reqs = ArrayOrEmpty(terms[t], list);
      for (size_t r = 0; r < reqs.size(); ++r) {
        std::string req_path = Index(Child(term_path, list), r);
        std::string op = StrOr(reqs[r], "operator");
        size_t nvalues = ArrayOrEmpty(reqs[r], "values").size();
        std::string key = StrOr(reqs[r], "key");
        if (std::string_view(list) == "matchExpressions") {
          Append(out, ValidateLabelName(key, Child(req_path, "key")));
        } else if (key != "metadata.name") {
          out.push_back(Err(Type::kNotSupported, Child(req_path, "key"), RenderString(key),
                            "supported values: \"metadata.name\""));
        }
        if (op.empty()) {
          out.push_back(Required(Child(req_path, "operator")));
        } else if (!kOperators.contains(op)) {
          out.push_back(Invalid(Child(req_path, "operator"), RenderString(op),
                                "not a valid selector operator"));
        } else if ((op == "In" || op == "NotIn") && nvalues == 0) {
          out.push_back(Required(Child(req_path, "values"),
                                 "must be specified when `operator` is 'In' or 'NotIn'"));
        } else if ((op == "Exists" || op == "DoesNotExist") && nvalues > 0) {
          out.push_back(Forbidden(Child(req_path, "values"),
                                  "may not be specified when `operator` is 'Exists' or "
                                  "'DoesNotExist'"));
        } else if ((op == "Gt" || op == "Lt") && nvalues != 1) {
          out.push_back(Required(Child(req_path, "values"),
                                 "must be specified single value when `operator` is 'Lt' or "
                                 "'Gt'"));
        }
      }
    }
  }
  return out;
}

FieldErrors ValidateAttribute(const Json& attr, const std::string& path) {
  FieldErrors out;
  int fields = 0;
  if (Get(attr, "int") != nullptr) ++fields;
  if (Get(attr, "bool") != nullptr) ++fields;
  if (std::optional<std::string> s = GetStr(attr, "string")) {
    ++fields;
    if (s->size() > kMaxAttributeValueLength) {
      out.push_back(TooLong(Child(path, "string"), kMaxAttributeValueLength));
    }
  }
  if (std::optional<std::string> v = GetStr(attr, "version")) {
    ++fields;
    if (!IsSemver(*v)) {
      out.push_back(Invalid(Child(path, "version"), RenderString(*v),
                            "must be a string compatible with semver.org spec 2.0.0"));
    }
    if (v->size() > kMaxAttributeValueLength) {
      out.push_back(TooLong(Child(path, "version"), kMaxAttributeValueLength));
    }
  }
  if (fields == 0) {
    out.push_back(Invalid(path, "\"\"", "exactly one value must be specified"));
  } else if (fields > 1) {
    out.push_back(Invalid(path, Render(attr), "exactly one value must be specified"));
  }
  return out;
}

FieldErrors ValidateRequestPolicy(const base::Quantity& capacity, const Json& policy,
                                  const std::string& path) {
  FieldErrors out;
  const Json* valid_values = Get(policy, "validValues");
  const Json* valid_range = Get(policy, "validRange");
  bool has_values = valid_values != nullptr && valid_values->is_array() && !valid_values->empty();
  std::optional<base::Quantity> def = GetQty(policy, "default");
  if (has_values && valid_range != nullptr) {
    out.push_back(Forbidden(path,
                            "exactly one policy can be specified, cannot specify \"validValues\" "
                            "and \"validRange\" at the same time"));
    return out;
  }
  if (has_values) {
    if (!def) {
      out.push_back(Required(Child(path, "default"), "required when validValues is defined"));
      return out;
    }
    std::string vv_path = Child(path, "validValues");
    if (valid_values->size() > kMaxValidValues) {
      out.push_back(TooMany(vv_path, valid_values->size(), kMaxValidValues));
      return out;
    }
    std::vector<base::Quantity> values;
    for (const Json& v : *valid_values) {
      absl::StatusOr<base::Quantity> q =
          base::Quantity::Parse(v.is_string() ? v.get<std::string>() : v.dump());
      values.push_back(q.ok() ? *q : base::Quantity());
    }
    for (size_t i = 0; i + 1 < values.size(); ++i) {
      if (values[i] > values[i + 1]) {
        out.push_back(Invalid(Index(vv_path, i + 1), RenderString(values[i + 1].ToString()),
                              "values must be sorted in ascending order"));
      }
    }
    bool found_default = false;
    std::set<int64_t> seen;
    for (size_t i = 0; i < values.size(); ++i) {
      if (values[i] > capacity) {
        out.push_back(
            Invalid(Index(vv_path, i), RenderString(values[i].ToString()),
                    StrCat("option is larger than capacity value: ", capacity.ToString())));
      }
      if (values[i] == *def) found_default = true;
      if (!seen.insert(values[i].Value()).second) {
        out.push_back(Duplicate(Index(vv_path, i), StrCat(values[i].Value())));
      }
    }
    if (!found_default) {
      out.push_back(Invalid(vv_path, RenderString(def->ToString()),
                            "default value is not valid according to the requestPolicy"));
    }
    return out;
  }
  if (valid_range != nullptr) {
    std::string range_path = Child(path, "validRange");
    if (!def) {
      out.push_back(Required(Child(path, "default"), "required when validRange is defined"));
      return out;
    }
    std::optional<base::Quantity> min = GetQty(*valid_range, "min");
    if (!min) {
      out.push_back(Required(Child(range_path, "min"), "required when validRange is defined"));
      return out;
    }
    if (*min > capacity) {
      out.push_back(Invalid(Child(range_path, "min"), RenderString(min->ToString()),
                            StrCat("min is larger than capacity value: ", capacity.ToString())));
    }
    if (*def < *min) {
      out.push_back(Invalid(Child(range_path, "default"), RenderString(def->ToString()),
                            StrCat("default is less than min: ", min->ToString())));
    }
    std::optional<base::Quantity> max = GetQty(*valid_range, "max");
    if (max) {
      if (*min > *max) {
        out.push_back(Invalid(Child(range_path, "max"), RenderString(min->ToString()),
                              StrCat("min is larger than max: ", max->ToString())));
      }
      if (*max > capacity) {
        out.push_back(Invalid(Child(range_path, "max"), RenderString(max->ToString()),
                              StrCat("max is larger than capacity value: ", capacity.ToString())));
      }
      if (*def > *max) {
        out.push_back(Invalid(Child(range_path, "default"), RenderString(def->ToString()),
                              StrCat("default is more than max: ", max->ToString())));
      }
    }
    std::optional<base::Quantity> step = GetQty(*valid_range, "step");
    if (step) {
      std::string step_path = Child(range_path, "step");
      if (step->MilliValue() <= 0) {
        out.push_back(
            Invalid(step_path, RenderString(step->ToString()), "must be greater than zero"));
      } else {
        base::Quantity one_step = base::Quantity::FromMilli(min->MilliValue() + step->MilliValue());
        if (one_step > capacity) {
          out.push_back(Invalid(step_path, RenderString(step->ToString()),
                                StrCat("one step ", one_step.ToString(),
                                       " is larger than capacity value: ", capacity.ToString())));
        }
        // Integer arithmetic on whole units, as upstream without the
        // DRAFractionalCapacityRange gate.
        auto check_multiple = [&](const base::Quantity& v) {
          int64_t s = step->Value();
          if (s != 0 && (v.Value() - min->Value()) % s != 0) {
            out.push_back(Invalid(step_path, RenderString(v.ToString()),
                                  StrCat("value is not a multiple of a given step (",
                                         step->ToString(), ") from (", min->ToString(), ")")));
          }
        };
        check_multiple(*def);
        if (max) check_multiple(*max);
      }
    }
  }
  return out;
}

FieldErrors ValidateTaint(const Json& taint, const std::string& path) {
  FieldErrors out;
  Append(out, ValidateLabelName(StrOr(taint, "key"), Child(path, "key")));
  std::string value = StrOr(taint, "value");
  if (!value.empty()) AddInvalid(out, Child(path, "value"), value, IsValidLabelValue(value));
  std::string effect = StrOr(taint, "effect");
  if (effect.empty()) {
    out.push_back(Required(Child(path, "effect")));
  } else if (effect != "None" && effect != "NoSchedule" && effect != "NoExecute") {
    out.push_back(Err(Type::kNotSupported, Child(path, "effect"), RenderString(effect),
                      "supported values: \"NoExecute\", \"NoSchedule\", \"None\""));
  }
  return out;
}

FieldErrors ValidateCounterMap(const Json& counters, size_t max, const std::string& path) {
  FieldErrors out;
  if (counters.size() > max) {
    out.push_back(TooMany(path, counters.size(), max));
    return out;
  }
  for (auto it = counters.begin(); it != counters.end(); ++it) {
    AddInvalid(out, path, it.key(), IsDns1123Label(it.key()));
    if (it.key().empty()) out.push_back(Required(path));
  }
  return out;
}

FieldErrors ValidateCounterConsumption(const Json& c, const std::string& path) {
  FieldErrors out;
  Append(out, ValidateDnsLabelField(StrOr(c, "counterSet"), Child(path, "counterSet")));
  const Json& counters = ObjectOrEmpty(c, "counters");
  if (counters.empty()) {
    out.push_back(Required(Child(path, "counters")));
  } else {
    Append(out, ValidateCounterMap(counters, kMaxCountersPerConsumption, Child(path, "counters")));
  }
  return out;
}

FieldErrors ValidateCounterSet(const Json& set, const std::string& path) {
  FieldErrors out;
  Append(out, ValidateDnsLabelField(StrOr(set, "name"), Child(path, "name")));
  const Json& counters = ObjectOrEmpty(set, "counters");
  if (counters.empty()) {
    out.push_back(Required(Child(path, "counters")));
  } else {
    Append(out, ValidateCounterMap(counters, kMaxCountersPerCounterSet, Child(path, "counters")));
  }
  return out;
}

FieldErrors ValidateBindingParameters(const Json& device, const std::string& path) {
  FieldErrors out;
  const Json& conditions = ArrayOrEmpty(device, "bindingConditions");
  const Json& failures = ArrayOrEmpty(device, "bindingFailureConditions");
  std::string cpath = Child(path, "bindingConditions");
  std::string fpath = Child(path, "bindingFailureConditions");
  if (conditions.size() > kMaxBindingConditions) {
    out.push_back(TooMany(cpath, conditions.size(), kMaxBindingConditions));
  } else {
    for (size_t i = 0; i < conditions.size(); ++i) {
      Append(out,
             ValidateLabelName(conditions[i].is_string() ? conditions[i].get<std::string>() : "",
                               Index(cpath, i)));
    }
  }
  if (failures.size() > kMaxBindingConditions) {
    out.push_back(TooMany(fpath, failures.size(), kMaxBindingConditions));
  } else {
    for (size_t i = 0; i < failures.size(); ++i) {
      Append(out, ValidateLabelName(failures[i].is_string() ? failures[i].get<std::string>() : "",
                                    Index(fpath, i)));
    }
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < conditions.size(); ++i) {
    std::string c = conditions[i].is_string() ? conditions[i].get<std::string>() : "";
    if (!seen.insert(c).second) out.push_back(Duplicate(Index(cpath, i), c));
  }
  std::set<std::string> seen_failures;
  for (size_t i = 0; i < failures.size(); ++i) {
    std::string c = failures[i].is_string() ? failures[i].get<std::string>() : "";
    if (!seen_failures.insert(c).second) out.push_back(Duplicate(Index(fpath, i), c));
    if (seen.contains(c)) {
      out.push_back(Invalid(Index(fpath, i), RenderString(c),
                            "bindingFailureConditions must not overlap with bindingConditions"));
    }
  }
  if (conditions.empty() && !failures.empty()) {
    out.push_back(Invalid(cpath, "null",
                          "bindingConditions are required to use "
                          "bindingFailureConditions"));
  }
  if (failures.empty() && !conditions.empty()) {
    out.push_back(Invalid(fpath, "null",
                          "bindingFailureConditions are required to use "
                          "bindingConditions"));
  }
  return out;
}

bool HasTaintsOrCounters(const Json& devices) {
  for (const Json& d : devices) {
    if (!ArrayOrEmpty(d, "taints").empty() || !ArrayOrEmpty(d, "consumesCounters").empty()) {
      return true;
    }
  }
  return false;
}

FieldErrors ValidateObjectMeta(const Json& meta) {
  FieldErrors out;
  std::string name = StrOr(meta, "name");
  std::string generate_name = StrOr(meta, "generateName");
  if (!generate_name.empty()) {
    // A prefix may end in '-' (apimachinery's maskTrailingDash).
    std::string masked = generate_name;
    if (masked.size() > 1 && masked.back() == '-') masked.back() = 'a';
    AddInvalid(out, "metadata.generateName", generate_name, IsDns1123Subdomain(masked));
  }
  if (name.empty()) {
    if (generate_name.empty()) {
      out.push_back(Required("metadata.name", "name or generateName is required"));
    }
  } else {
    AddInvalid(out, "metadata.name", name, IsDns1123Subdomain(name));
  }
  if (!StrOr(meta, "namespace").empty()) {
    out.push_back(Forbidden("metadata.namespace", "not allowed on this type"));
  }
  if (std::optional<int64_t> g = GetInt(meta, "generation"); g && *g < 0) {
    out.push_back(Invalid("metadata.generation", StrCat(*g), "must be greater than or equal to 0"));
  }
  const Json& labels = ObjectOrEmpty(meta, "labels");
  for (auto it = labels.begin(); it != labels.end(); ++it) {
    AddInvalid(out, "metadata.labels", it.key(), IsQualifiedName(it.key()));
    std::string value = it->is_string() ? it->get<std::string>() : "";
    AddInvalid(out, "metadata.labels", value, IsValidLabelValue(value));
  }
  const Json& annotations = ObjectOrEmpty(meta, "annotations");
  size_t annotation_bytes = 0;
  for (auto it = annotations.begin(); it != annotations.end(); ++it) {
    AddInvalid(out, "metadata.annotations", it.key(), IsQualifiedName(base::ToLower(it.key())));
    annotation_bytes += it.key().size() + (it->is_string() ? it->get<std::string>().size() : 0);
  }
  if (annotation_bytes > 256 * 1024) {
    out.push_back(TooLong("metadata.annotations", 256 * 1024));
  }
  const Json& owners = ArrayOrEmpty(meta, "ownerReferences");
  int controllers = 0;
  for (size_t i = 0; i < owners.size(); ++i) {
    std::string p = Index("metadata.ownerReferences", i);
    if (StrOr(owners[i], "apiVersion").empty()) {
      out.push_back(Invalid(Child(p, "apiVersion"), "\"\"", "version must not be empty"));
    }
    if (StrOr(owners[i], "kind").empty()) {
      out.push_back(Invalid(Child(p, "kind"), "\"\"", "kind must not be empty"));
    }
    if (StrOr(owners[i], "name").empty()) {
      out.push_back(Invalid(Child(p, "name"), "\"\"", "name must not be empty"));
    }
    if (StrOr(owners[i], "uid").empty()) {
      out.push_back(Invalid(Child(p, "uid"), "\"\"", "uid must not be empty"));
    }
    if (GetBool(owners[i], "controller").value_or(false)) ++controllers;
  }
  if (controllers > 1) {
    out.push_back(Invalid("metadata.ownerReferences", "",
                          "Only one reference can have Controller set to true"));
  }
  const Json& finalizers = ArrayOrEmpty(meta, "finalizers");
  for (size_t i = 0; i < finalizers.size(); ++i) {
    std::string f = finalizers[i].is_string() ? finalizers[i].get<std::string>() : "";
    AddInvalid(out, Index("metadata.finalizers", i), f, IsQualifiedName(f));
  }
  return out;
}

const Json* FindDevice(const Json* spec, std::string_view name) {
  if (spec == nullptr) return nullptr;
  for (const Json& d : ArrayOrEmpty(*spec, "devices")) {
    if (StrOr(d, "name") == name) return &d;
  }
  return nullptr;
}

FieldErrors ValidateSpec(const Json& spec, const Json* old_spec) {
  FieldErrors out;
  Append(out, ValidateDriverName(StrOr(spec, "driver"), "spec.driver"));
  const Json& pool = ObjectOrEmpty(spec, "pool");
  Append(out, ValidatePoolName(StrOr(pool, "name"), "spec.pool.name"));
  int64_t count = GetInt(pool, "resourceSliceCount").value_or(0);
  if (count <= 0) {
    out.push_back(
        Invalid("spec.pool.resourceSliceCount", StrCat(count), "must be greater than zero"));
  }
  int64_t generation = GetInt(pool, "generation").value_or(0);
  if (generation < 0) {
    out.push_back(Invalid("spec.pool.generation", StrCat(generation),
                          "must be greater than or equal to zero"));
  }
  if (old_spec != nullptr) {
    const Json& old_pool = ObjectOrEmpty(*old_spec, "pool");
    auto immutable = [&](const std::string& path, const Json* now, const Json* before) {
      Json a = now ? *now : Json();
      Json b = before ? *before : Json();
      if (a != b) out.push_back(Invalid(path, Render(a), "field is immutable"));
    };
    immutable("spec.pool.name", Get(pool, "name"), Get(old_pool, "name"));
    immutable("spec.driver", Get(spec, "driver"), Get(*old_spec, "driver"));
    immutable("spec.nodeName", Get(spec, "nodeName"), Get(*old_spec, "nodeName"));
  }

  std::vector<std::string> set_fields;
  if (std::optional<std::string> node = GetStr(spec, "nodeName")) {
    if (!node->empty()) {
      set_fields.push_back("`nodeName`");
      Append(out, ValidateNodeName(*node, "spec.nodeName"));
    } else {
      out.push_back(
          Invalid("spec.nodeName", "\"\"", "must be either unset or set to a non-empty string"));
    }
  }
  if (const Json* selector = Get(spec, "nodeSelector")) {
    set_fields.push_back("`nodeSelector`");
    Append(out, ValidateNodeSelector(*selector, "spec.nodeSelector"));
    const Json& terms = ArrayOrEmpty(*selector, "nodeSelectorTerms");
    if (terms.size() != 1) {
      out.push_back(Invalid("spec.nodeSelector.nodeSelectorTerms", Render(terms),
                            "must have exactly one node selector term"));
    }
  }
  if (std::optional<bool> all = GetBool(spec, "allNodes")) {
    if (*all) {
      set_fields.push_back("`allNodes`");
    } else {
      out.push_back(Invalid("spec.allNodes", "false", "must be either unset or set to true"));
    }
  }
  std::optional<bool> per_device = GetBool(spec, "perDeviceNodeSelection");
  if (per_device) {
    if (*per_device) {
      set_fields.push_back("`perDeviceNodeSelection`");
    } else {
      out.push_back(
          Invalid("spec.perDeviceNodeSelection", "false", "must be either unset or set to true"));
    }
  }
  if (set_fields.empty()) {
    out.push_back(Required("spec",
                           "exactly one of `nodeName`, `nodeSelector`, `allNodes`, "
                           "`perDeviceNodeSelection` is required"));
  } else if (set_fields.size() > 1) {
    out.push_back(Invalid("spec", StrCat("\"{", base::Join(set_fields, ", "), "}\""),
                          "exactly one of `nodeName`, `nodeSelector`, `allNodes`, "
                          "`perDeviceNodeSelection` is required, but multiple fields are set"));
  }

  const Json* devices_field = Get(spec, "devices");
  const Json* counters_field = Get(spec, "sharedCounters");
  if (devices_field != nullptr && counters_field != nullptr) {
    out.push_back(Invalid("spec", "\"\"", "only one of `sharedCounters` or `devices` is allowed"));
  }

  const Json& devices = ArrayOrEmpty(spec, "devices");
  size_t max_devices =
      HasTaintsOrCounters(devices) ? kMaxDevicesPerSliceWithTaintsOrCounters : kMaxDevicesPerSlice;
  if (devices.size() > max_devices) {
    out.push_back(TooMany("spec.devices", devices.size(), max_devices));
  } else {
    std::set<std::string> names;
    for (size_t i = 0; i < devices.size(); ++i) {
      std::string path = Index("spec.devices", i);
      std::string name = StrOr(devices[i], "name");
      Append(out, ValidateDevice(devices[i], path, per_device.value_or(false),
                                 FindDevice(old_spec, name)));
    }
    for (size_t i = 0; i < devices.size(); ++i) {
      std::string name = StrOr(devices[i], "name");
      if (!names.insert(name).second) out.push_back(Duplicate(Index("spec.devices", i), name));
    }
  }

  const Json& sets = ArrayOrEmpty(spec, "sharedCounters");
  if (sets.size() > kMaxCounterSetsPerSlice) {
    out.push_back(TooMany("spec.sharedCounters", sets.size(), kMaxCounterSetsPerSlice));
  } else {
    std::set<std::string> names;
    for (size_t i = 0; i < sets.size(); ++i) {
      Append(out, ValidateCounterSet(sets[i], Index("spec.sharedCounters", i)));
    }
    for (size_t i = 0; i < sets.size(); ++i) {
      std::string name = StrOr(sets[i], "name");
      if (!names.insert(name).second) {
        out.push_back(Duplicate(Index("spec.sharedCounters", i), name));
      }
    }
  }
  return out;
}

}  // namespace

// ------------------------------------------------------------ public ------

std::string FieldError::Reason() const {
  switch (type) {
    case Type::kRequired:
      return "FieldValueRequired";
    case Type::kInvalid:
      return "FieldValueInvalid";
    case Type::kDuplicate:
      return "FieldValueDuplicate";
    case Type::kTooMany:
      return "FieldValueTooMany";
    case Type::kTooLong:
      return "FieldValueTooLong";
    case Type::kNotSupported:
      return "FieldValueNotSupported";
    case Type::kForbidden:
      return "FieldValueForbidden";
    case Type::kTypeInvalid:
      return "FieldValueTypeInvalid";
    case Type::kUnknownField:
      return "FieldValueUnknown";
  }
  return "FieldValueInvalid";
}

std::string FieldError::Message() const {
  switch (type) {
    case Type::kRequired:
      return detail.empty() ? "Required value" : StrCat("Required value: ", detail);
    case Type::kInvalid:
      return value.empty() ? StrCat("Invalid value: ", detail)
                           : StrCat("Invalid value: ", value, ": ", detail);
    case Type::kDuplicate:
      return StrCat("Duplicate value: ", value);
    case Type::kTooMany:
      return StrCat("Too many: ", value, ": ", detail);
    case Type::kTooLong:
      return StrCat("Too long: ", detail);
    case Type::kNotSupported:
      return StrCat("Unsupported value: ", value, ": ", detail);
    case Type::kForbidden:
      return StrCat("Forbidden: ", detail);
    case Type::kTypeInvalid:
      return StrCat("Invalid type: ", detail);
    case Type::kUnknownField:
      return "unknown field";
  }
  return detail;
}

std::string FieldError::ToString() const { return StrCat(field, ": ", Message()); }

FieldErrors DecodeCheckResourceSlice(const Json& slice) {
  FieldErrors out;
  DecodeObject(slice, Schemas("ResourceSlice"), "", out);
  return out;
}

FieldErrors ValidateDevice(const Json& device, std::string_view path_view,
                           bool per_device_node_selection, const Json* old_device) {
  FieldErrors out;
  std::string path(path_view);
  Append(out, ValidateDnsLabelField(StrOr(device, "name"), Child(path, "name")));
  const Json& attributes = ObjectOrEmpty(device, "attributes");
  const Json& capacity = ObjectOrEmpty(device, "capacity");
  size_t total = attributes.size() + capacity.size();
  if (total > kMaxAttributesAndCapacitiesPerDevice) {
    out.push_back(Invalid(path, StrCat(total),
                          StrCat("the total number of attributes and capacities must not exceed ",
                                 kMaxAttributesAndCapacitiesPerDevice)));
  }
  std::string attr_path = Child(path, "attributes");
  for (auto it = attributes.begin(); it != attributes.end(); ++it) {
    Append(out, ValidateQualifiedAttributeName(it.key(), attr_path));
    Append(out, ValidateAttribute(*it, Key(attr_path, it.key())));
  }
  bool multi = GetBool(device, "allowMultipleAllocations").value_or(false);
  std::string cap_path = Child(path, "capacity");
  bool capacity_unchanged =
      old_device != nullptr && ObjectOrEmpty(*old_device, "capacity") == capacity;
  if (!capacity_unchanged) {
    for (auto it = capacity.begin(); it != capacity.end(); ++it) {
      Append(out, ValidateQualifiedAttributeName(it.key(), cap_path));
      std::string item = Key(cap_path, it.key());
      if (Get(*it, "value") == nullptr) out.push_back(Required(Child(item, "value")));
      const Json* policy = Get(*it, "requestPolicy");
      if (policy == nullptr) continue;
      if (!multi) {
        out.push_back(
            Forbidden(Child(item, "requestPolicy"), "allowMultipleAllocations must be true"));
      } else {
        Append(out, ValidateRequestPolicy(GetQty(*it, "value").value_or(base::Quantity()), *policy,
                                          Child(item, "requestPolicy")));
      }
    }
  } else {
    for (auto it = capacity.begin(); it != capacity.end(); ++it) {
      Append(out, ValidateQualifiedAttributeName(it.key(), cap_path));
    }
  }
  const Json& taints = ArrayOrEmpty(device, "taints");
  bool taints_unchanged = old_device != nullptr && ArrayOrEmpty(*old_device, "taints") == taints;
  if (!taints_unchanged) {
    std::string taints_path = Child(path, "taints");
    if (taints.size() > kMaxTaintsPerDevice) {
      out.push_back(TooMany(taints_path, taints.size(), kMaxTaintsPerDevice));
    } else {
      for (size_t i = 0; i < taints.size(); ++i) {
        Append(out, ValidateTaint(taints[i], Index(taints_path, i)));
      }
    }
  }
  const Json& consumes = ArrayOrEmpty(device, "consumesCounters");
  std::string consumes_path = Child(path, "consumesCounters");
  if (consumes.size() > kMaxCounterConsumptionsPerDevice) {
    out.push_back(TooMany(consumes_path, consumes.size(), kMaxCounterConsumptionsPerDevice));
  } else {
    std::set<std::string> sets;
    for (size_t i = 0; i < consumes.size(); ++i) {
      Append(out, ValidateCounterConsumption(consumes[i], Index(consumes_path, i)));
    }
    for (size_t i = 0; i < consumes.size(); ++i) {
      std::string set = StrOr(consumes[i], "counterSet");
      if (!sets.insert(set).second) out.push_back(Duplicate(Index(consumes_path, i), set));
    }
  }
  const Json* node_name = Get(device, "nodeName");
  const Json* node_selector = Get(device, "nodeSelector");
  const Json* all_nodes = Get(device, "allNodes");
  if (per_device_node_selection) {
    std::vector<std::string> set_fields;
    if (node_name != nullptr) {
      std::string n = node_name->is_string() ? node_name->get<std::string>() : "";
      if (!n.empty()) {
        set_fields.push_back("`nodeName`");
        Append(out, ValidateNodeName(n, Child(path, "nodeName")));
      } else {
        out.push_back(Invalid(Child(path, "nodeName"), "\"\"", "must not be empty"));
      }
    }
    if (node_selector != nullptr) {
      set_fields.push_back("`nodeSelector`");
      Append(out, ValidateNodeSelector(*node_selector, Child(path, "nodeSelector")));
    }
    if (all_nodes != nullptr) {
      if (all_nodes->is_boolean() && all_nodes->get<bool>()) {
        set_fields.push_back("`allNodes`");
      } else {
        out.push_back(
            Invalid(Child(path, "allNodes"), "false", "must be either unset or set to true"));
      }
    }
    constexpr char kMsg[] =
        "exactly one of `nodeName`, `nodeSelector`, or `allNodes` is required when "
        "`perDeviceNodeSelection` is set to true in the ResourceSlice spec";
    if (set_fields.empty()) {
      out.push_back(Required(path, kMsg));
    } else if (set_fields.size() > 1) {
      out.push_back(Invalid(path, StrCat("\"{", base::Join(set_fields, ", "), "}\""), kMsg));
    }
  } else if (node_name != nullptr || node_selector != nullptr || all_nodes != nullptr) {
    out.push_back(Invalid(path, "null",
                          "`nodeName`, `nodeSelector` and `allNodes` can only be set if "
                          "`perDeviceNodeSelection` is set to true in the ResourceSlice spec"));
  }
  Append(out, ValidateBindingParameters(device, path));
  return out;
}

FieldErrors ValidateResourceSlice(const Json& slice) {
  FieldErrors out = ValidateObjectMeta(ObjectOrEmpty(slice, "metadata"));
  Append(out, ValidateSpec(ObjectOrEmpty(slice, "spec"), nullptr));
  return out;
}

FieldErrors ValidateResourceSliceUpdate(const Json& slice, const Json& old) {
  FieldErrors out = ValidateObjectMeta(ObjectOrEmpty(slice, "metadata"));
  const Json& meta = ObjectOrEmpty(slice, "metadata");
  const Json& old_meta = ObjectOrEmpty(old, "metadata");
  for (const char* field : {"name", "uid", "creationTimestamp"}) {
    const Json* now = Get(meta, field);
    const Json* before = Get(old_meta, field);
    Json a = now ? *now : Json();
    Json b = before ? *before : Json();
    if (a != b) {
      out.push_back(Invalid(StrCat("metadata.", field), Render(a), "field is immutable"));
    }
  }
  const Json& old_spec = ObjectOrEmpty(old, "spec");
  Append(out, ValidateSpec(ObjectOrEmpty(slice, "spec"), &old_spec));
  return out;
}

FieldErrors ValidatePool(const std::vector<Json>& slices) {
  FieldErrors out;
  // Counter sets of the pool: name -> counter names.
  std::map<std::string, std::set<std::string>> sets;
  for (size_t s = 0; s < slices.size(); ++s) {
    const Json& spec = ObjectOrEmpty(slices[s], "spec");
    const Json& shared = ArrayOrEmpty(spec, "sharedCounters");
    for (size_t i = 0; i < shared.size(); ++i) {
      std::string name = StrOr(shared[i], "name");
      std::string path = StrCat("slices[", s, "].spec.sharedCounters[", i, "]");
      if (sets.contains(name)) {
        out.push_back(Duplicate(Child(path, "name"), name));
        continue;
      }
      std::set<std::string>& counters = sets[name];
      const Json& c = ObjectOrEmpty(shared[i], "counters");
      for (auto it = c.begin(); it != c.end(); ++it) counters.insert(it.key());
    }
  }
  std::set<std::string> devices;
  for (size_t s = 0; s < slices.size(); ++s) {
    const Json& list = ArrayOrEmpty(ObjectOrEmpty(slices[s], "spec"), "devices");
    for (size_t i = 0; i < list.size(); ++i) {
      std::string path = StrCat("slices[", s, "].spec.devices[", i, "]");
      std::string name = StrOr(list[i], "name");
      if (!devices.insert(name).second) out.push_back(Duplicate(Child(path, "name"), name));
      const Json& consumes = ArrayOrEmpty(list[i], "consumesCounters");
      for (size_t c = 0; c < consumes.size(); ++c) {
        std::string cpath = Index(Child(path, "consumesCounters"), c);
        std::string set = StrOr(consumes[c], "counterSet");
        auto found = sets.find(set);
        if (found == sets.end()) {
          out.push_back(Invalid(Child(cpath, "counterSet"), RenderString(set),
                                "must reference a counter set of the pool"));
          continue;
        }
        const Json& counters = ObjectOrEmpty(consumes[c], "counters");
        for (auto it = counters.begin(); it != counters.end(); ++it) {
          if (!found->second.contains(it.key())) {
            out.push_back(Invalid(Key(Child(cpath, "counters"), it.key()), RenderString(it.key()),
                                  StrCat("must be a counter of counter set ", Render(Json(set)))));
          }
        }
      }
    }
  }
  return out;
}

absl::Status ToStatus(const FieldErrors& errors, std::string_view what) {
  if (errors.empty()) return absl::OkStatus();
  constexpr size_t kMaxListed = 10;
  std::vector<std::string> parts;
  for (size_t i = 0; i < errors.size() && i < kMaxListed; ++i)
    parts.push_back(errors[i].ToString());
  std::string message = StrCat(what, ": ", base::Join(parts, "; "));
  if (errors.size() > kMaxListed)
    base::StrAppend(&message, "; and ", errors.size() - kMaxListed, " more");
  return absl::InvalidArgumentError(message);
}

std::vector<std::string> IsDns1123Label(std::string_view value) {
  std::vector<std::string> out;
  if (value.size() > 63) out.push_back("must be no more than 63 characters");
  if (!MatchesDnsLabel(value)) out.push_back(kDnsLabelMsg);
  return out;
}

std::vector<std::string> IsDns1123Subdomain(std::string_view value) {
  std::vector<std::string> out;
  if (value.size() > 253) out.push_back("must be no more than 253 characters");
  if (!MatchesDnsSubdomain(value)) out.push_back(kDnsSubdomainMsg);
  return out;
}

std::vector<std::string> IsCIdentifier(std::string_view value) {
  auto ok_first = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; };
  auto ok_rest = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!value.empty() && ok_first(value.front()) &&
      std::all_of(value.begin() + 1, value.end(), ok_rest)) {
    return {};
  }
  return {kCIdentifierMsg};
}

std::vector<std::string> IsQualifiedName(std::string_view value) {
  std::vector<std::string> out;
  std::vector<std::string_view> parts = base::Split(value, '/');
  std::string_view name;
  if (parts.size() == 1) {
    name = parts[0];
  } else if (parts.size() == 2) {
    std::string_view prefix = parts[0];
    name = parts[1];
    if (prefix.empty()) {
      out.push_back("prefix part must be non-empty");
    } else {
      for (const std::string& m : IsDns1123Subdomain(prefix))
        out.push_back(StrCat("prefix part ", m));
    }
  } else {
    out.push_back(kQualifiedNameMsg);
    return out;
  }
  if (name.empty()) {
    out.push_back("name part must be non-empty");
  } else if (name.size() > 63) {
    out.push_back("name part must be no more than 63 characters");
  }
  if (!MatchesQualifiedNamePart(name)) out.push_back(kQualifiedNamePartMsg);
  return out;
}

std::vector<std::string> IsValidLabelValue(std::string_view value) {
  std::vector<std::string> out;
  if (value.size() > 63) out.push_back("must be no more than 63 characters");
  if (!value.empty() && !MatchesQualifiedNamePart(value)) out.push_back(kLabelValueMsg);
  return out;
}

namespace {
// numeric identifier: 0 | [1-9][0-9]*
bool IsNumericId(std::string_view s) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  return s.size() == 1 || s.front() != '0';
}
bool IsAlnumHyphen(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return IsAlnum(c) || c == '-'; });
}
// pre-release identifier: numeric identifier, or alphanumerics with at least one non-digit.
bool IsPreReleaseId(std::string_view s) {
  if (!IsAlnumHyphen(s)) return false;
  bool all_digits = std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  return !all_digits || IsNumericId(s);
}
}  // namespace

bool IsSemver(std::string_view value) {
  std::string_view core = value;
  std::string_view pre;
  std::string_view build;
  bool has_pre = false;
  bool has_build = false;
  if (size_t plus = core.find('+'); plus != std::string_view::npos) {
    build = core.substr(plus + 1);
    core = core.substr(0, plus);
    has_build = true;
  }
  if (size_t dash = core.find('-'); dash != std::string_view::npos) {
    pre = core.substr(dash + 1);
    core = core.substr(0, dash);
    has_pre = true;
  }
  std::vector<std::string_view> nums = base::Split(core, '.');
  if (nums.size() != 3 || !std::all_of(nums.begin(), nums.end(), IsNumericId)) return false;
  if (has_pre) {
    for (std::string_view id : base::Split(pre, '.')) {
      if (!IsPreReleaseId(id)) return false;
    }
  }
  if (has_build) {
    for (std::string_view id : base::Split(build, '.')) {
      if (!IsAlnumHyphen(id)) return false;
    }
  }
  return true;
}

std::vector<std::string> IsDriverName(std::string_view value) {
  std::vector<std::string> out;
  if (value.empty()) return {"must not be empty"};
  if (value.size() > kMaxDomainLength) out.push_back("must be no more than 63 characters");
  for (std::string& m : IsDns1123Subdomain(base::ToLower(value))) out.push_back(std::move(m));
  return out;
}

std::vector<std::string> IsResourceQualifiedName(std::string_view value) {
  std::vector<std::string> out;
  for (const FieldError& e : ValidateQualifiedAttributeName(value, "name")) {
    out.push_back(e.Message());
  }
  return out;
}

}  // namespace tessera::agent::kube
