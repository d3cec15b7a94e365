#include "agent/kube/slice_validation.h"

#include <functional>
#include <string>

#include "base/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/matchers/status_matchers.h"

namespace tessera::agent::kube {
namespace {

using Json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Type = FieldError::Type;

Json Device(const std::string& name) {
  return Json{{"name", name}, {"attributes", {{"model", {{"string", "H100"}}}}}};
}

Json ValidSlice() {
  return Json{{"apiVersion", "resource.k8s.io/v1"},
              {"kind", "ResourceSlice"},
              {"metadata", {{"name", "node-a-gpu.tessera.dev-x7k2p"}}},
              {"spec",
               {{"driver", "gpu.tessera.dev"},
                {"pool", {{"name", "node-a"}, {"generation", 1}, {"resourceSliceCount", 1}}},
                {"nodeName", "node-a"},
                {"devices", Json::array({Device("gpu-0"), Device("gpu-1")})}}}};
}

Json Taint(const std::string& key) { return Json{{"key", key}, {"effect", "NoSchedule"}}; }

Json Counters(int n) {
  Json c = Json::object();
  for (int i = 0; i < n; ++i) c[base::StrCat("c", i)] = Json{{"value", "1"}};
  return c;
}

// Renders the errors for a readable failure message.
std::string Show(const FieldErrors& errors) {
  std::string out;
  for (const FieldError& e : errors) base::StrAppend(&out, e.ToString(), "\n");
  return out;
}

bool HasError(const FieldErrors& errors, Type type, const std::string& field) {
  for (const FieldError& e : errors) {
    if (e.type == type && e.field == field) return true;
  }
  return false;
}

TEST(SliceValidationTest, ValidSlicePasses) {
  EXPECT_THAT(ValidateResourceSlice(ValidSlice()), IsEmpty());
  EXPECT_THAT(DecodeCheckResourceSlice(ValidSlice()), IsEmpty());
}

struct Case {
  std::string name;
  std::function<void(Json&)> mutate;
  Type type;
  std::string field;
};

class SliceValidationTableTest : public ::testing::TestWithParam<Case> {};

TEST_P(SliceValidationTableTest, ReportsTheUpstreamError) {
  Json slice = ValidSlice();
  GetParam().mutate(slice);
  FieldErrors errors = ValidateResourceSlice(slice);
  EXPECT_TRUE(HasError(errors, GetParam().type, GetParam().field))
      << "want " << GetParam().field << ", got:\n"
      << Show(errors);
}

Json& Spec(Json& s) { return s["spec"]; }
Json& Dev0(Json& s) { return s["spec"]["devices"][0]; }

INSTANTIATE_TEST_SUITE_P(
    Limits, SliceValidationTableTest,
    ::testing::Values(
        Case{"TooManyDevices",
             [](Json& s) {
               Spec(s)["devices"] = Json::array();
               for (int i = 0; i < 129; ++i) Spec(s)["devices"].push_back(Device(base::StrCat("d", i)));
             },
             Type::kTooMany, "spec.devices"},
        Case{"TooManyDevicesWithTaints",
             [](Json& s) {
               Spec(s)["devices"] = Json::array();
               for (int i = 0; i < 65; ++i) Spec(s)["devices"].push_back(Device(base::StrCat("d", i)));
               Spec(s)["devices"][64]["taints"] = Json::array({Taint("example.com/t")});
             },
             Type::kTooMany, "spec.devices"},
        Case{"TooManyDevicesWithCounters",
             [](Json& s) {
               Spec(s)["devices"] = Json::array();
               for (int i = 0; i < 65; ++i) Spec(s)["devices"].push_back(Device(base::StrCat("d", i)));
               Spec(s)["devices"][3]["consumesCounters"] =
                   Json::array({{{"counterSet", "gpu-0"}, {"counters", Counters(1)}}});
             },
             Type::kTooMany, "spec.devices"},
        Case{"DuplicateDeviceName",
             [](Json& s) { Spec(s)["devices"][1]["name"] = "gpu-0"; }, Type::kDuplicate,
             "spec.devices[1]"},
        Case{"DeviceNameNotDnsLabel", [](Json& s) { Dev0(s)["name"] = "GPU_0"; }, Type::kInvalid,
             "spec.devices[0].name"},
        Case{"DeviceNameTooLong", [](Json& s) { Dev0(s)["name"] = std::string(64, 'a'); },
             Type::kInvalid, "spec.devices[0].name"},
        Case{"DeviceNameMissing", [](Json& s) { Dev0(s).erase("name"); }, Type::kRequired,
             "spec.devices[0].name"},
        Case{"TooManyAttributesAndCapacities",
             [](Json& s) {
               for (int i = 0; i < 20; ++i) Dev0(s)["attributes"][base::StrCat("a", i)] = {{"int", i}};
               for (int i = 0; i < 13; ++i) Dev0(s)["capacity"][base::StrCat("c", i)] = {{"value", "1"}};
             },
             Type::kInvalid, "spec.devices[0]"},
        Case{"StringAttributeTooLong",
             [](Json& s) { Dev0(s)["attributes"]["model"] = {{"string", std::string(65, 'x')}}; },
             Type::kTooLong, "spec.devices[0].attributes[model].string"},
        Case{"VersionNotSemver",
             [](Json& s) { Dev0(s)["attributes"]["v"] = {{"version", "12.4"}}; }, Type::kInvalid,
             "spec.devices[0].attributes[v].version"},
        Case{"VersionLeadingZero",
             [](Json& s) { Dev0(s)["attributes"]["v"] = {{"version", "1.02.3"}}; }, Type::kInvalid,
             "spec.devices[0].attributes[v].version"},
        Case{"AttributeTwoValues",
             [](Json& s) { Dev0(s)["attributes"]["x"] = {{"int", 1}, {"bool", true}}; },
             Type::kInvalid, "spec.devices[0].attributes[x]"},
        Case{"AttributeNoValue", [](Json& s) { Dev0(s)["attributes"]["x"] = Json::object(); },
             Type::kInvalid, "spec.devices[0].attributes[x]"},
        Case{"AttributeNameTwoSlashes",
             [](Json& s) { Dev0(s)["attributes"]["a.com/b/c"] = {{"int", 1}}; }, Type::kInvalid,
             "spec.devices[0].attributes"},
        Case{"AttributeNameNotCIdentifier",
             [](Json& s) { Dev0(s)["attributes"]["9lives"] = {{"int", 1}}; }, Type::kInvalid,
             "spec.devices[0].attributes"},
        Case{"AttributeIdTooLong",
             [](Json& s) { Dev0(s)["attributes"][std::string(33, 'a')] = {{"int", 1}}; },
             Type::kTooLong, "spec.devices[0].attributes"},
        Case{"AttributeDomainInvalid",
             [](Json& s) { Dev0(s)["attributes"]["bad_domain/x"] = {{"int", 1}}; },
             Type::kInvalid, "spec.devices[0].attributes"},
        Case{"AttributeDomainTooLong",
             [](Json& s) { Dev0(s)["attributes"][std::string(64, 'a') + "/x"] = {{"int", 1}}; },
             Type::kTooLong, "spec.devices[0].attributes"},
        Case{"CapacityNameInvalid",
             [](Json& s) { Dev0(s)["capacity"]["mem-ory"] = {{"value", "1Gi"}}; }, Type::kInvalid,
             "spec.devices[0].capacity"},
        Case{"RequestPolicyNeedsMultipleAllocations",
             [](Json& s) {
               Dev0(s)["capacity"]["memory"] = {{"value", "80Gi"},
                                                {"requestPolicy", {{"default", "1Gi"}}}};
             },
             Type::kForbidden, "spec.devices[0].capacity[memory].requestPolicy"},
        Case{"ValidValuesUnsorted",
             [](Json& s) {
               Dev0(s)["allowMultipleAllocations"] = true;
               Dev0(s)["capacity"]["memory"] = {
                   {"value", "80Gi"},
                   {"requestPolicy", {{"default", "10Gi"}, {"validValues", {"20Gi", "10Gi"}}}}};
             },
             Type::kInvalid, "spec.devices[0].capacity[memory].requestPolicy.validValues[1]"},
        Case{"ValidValuesWithoutDefault",
             [](Json& s) {
               Dev0(s)["allowMultipleAllocations"] = true;
               Dev0(s)["capacity"]["memory"] = {{"value", "80Gi"},
                                                {"requestPolicy", {{"validValues", {"10Gi"}}}}};
             },
             Type::kRequired, "spec.devices[0].capacity[memory].requestPolicy.default"},
        Case{"ValidValuesMissDefault",
             [](Json& s) {
               Dev0(s)["allowMultipleAllocations"] = true;
               Dev0(s)["capacity"]["memory"] = {
                   {"value", "80Gi"},
                   {"requestPolicy", {{"default", "5Gi"}, {"validValues", {"10Gi"}}}}};
             },
             Type::kInvalid, "spec.devices[0].capacity[memory].requestPolicy.validValues"},
        Case{"TooManyValidValues",
             [](Json& s) {
               Dev0(s)["allowMultipleAllocations"] = true;
               Json values = Json::array();
               for (int i = 1; i <= 11; ++i) values.push_back(base::StrCat(i, "Gi"));
               Dev0(s)["capacity"]["memory"] = {
                   {"value", "80Gi"}, {"requestPolicy", {{"default", "1Gi"}, {"validValues", values}}}};
             },
             Type::kTooMany, "spec.devices[0].capacity[memory].requestPolicy.validValues"},
        Case{"BothValuesAndRange",
             [](Json& s) {
               Dev0(s)["allowMultipleAllocations"] = true;
               Dev0(s)["capacity"]["memory"] = {
                   {"value", "80Gi"},
                   {"requestPolicy",
                    {{"default", "1Gi"}, {"validValues", {"1Gi"}}, {"validRange", {{"min", "1Gi"}}}}}};
             },
             Type::kForbidden, "spec.devices[0].capacity[memory].requestPolicy"},
        Case{"RangeMinAboveCapacity",
             [](Json& s) {
               Dev0(s)["allowMultipleAllocations"] = true;
               Dev0(s)["capacity"]["memory"] = {
                   {"value", "8Gi"},
                   {"requestPolicy", {{"default", "10Gi"}, {"validRange", {{"min", "10Gi"}}}}}};
             },
             Type::kInvalid, "spec.devices[0].capacity[memory].requestPolicy.validRange.min"},
        Case{"RangeDefaultBelowMin",
             [](Json& s) {
               Dev0(s)["allowMultipleAllocations"] = true;
               Dev0(s)["capacity"]["memory"] = {
                   {"value", "80Gi"},
                   {"requestPolicy", {{"default", "1Gi"}, {"validRange", {{"min", "2Gi"}}}}}};
             },
             Type::kInvalid, "spec.devices[0].capacity[memory].requestPolicy.validRange.default"},
        Case{"RangeMaxAboveCapacity",
             [](Json& s) {
               Dev0(s)["allowMultipleAllocations"] = true;
               Dev0(s)["capacity"]["memory"] = {
                   {"value", "80Gi"},
                   {"requestPolicy",
                    {{"default", "2Gi"}, {"validRange", {{"min", "2Gi"}, {"max", "90Gi"}}}}}};
             },
             Type::kInvalid, "spec.devices[0].capacity[memory].requestPolicy.validRange.max"},
        Case{"RangeStepNotMultiple",
             [](Json& s) {
               Dev0(s)["allowMultipleAllocations"] = true;
               Dev0(s)["capacity"]["cores"] = {
                   {"value", "100"},
                   {"requestPolicy",
                    {{"default", "15"}, {"validRange", {{"min", "10"}, {"step", "10"}}}}}};
             },
             Type::kInvalid, "spec.devices[0].capacity[cores].requestPolicy.validRange.step"},
        Case{"RangeOneStepAboveCapacity",
             [](Json& s) {
               Dev0(s)["allowMultipleAllocations"] = true;
               Dev0(s)["capacity"]["cores"] = {
                   {"value", "15"},
                   {"requestPolicy",
                    {{"default", "10"}, {"validRange", {{"min", "10"}, {"step", "10"}}}}}};
             },
             Type::kInvalid, "spec.devices[0].capacity[cores].requestPolicy.validRange.step"},
        Case{"TooManyTaints",
             [](Json& s) {
               for (int i = 0; i < 17; ++i) Dev0(s)["taints"].push_back(Taint(base::StrCat("k", i)));
             },
             Type::kTooMany, "spec.devices[0].taints"},
        Case{"TaintEffectUnknown",
             [](Json& s) {
               Dev0(s)["taints"] = Json::array({{{"key", "k"}, {"effect", "PreferNoSchedule"}}});
             },
             Type::kNotSupported, "spec.devices[0].taints[0].effect"},
        Case{"TaintEffectMissing",
             [](Json& s) { Dev0(s)["taints"] = Json::array({{{"key", "k"}}}); }, Type::kRequired,
             "spec.devices[0].taints[0].effect"},
        Case{"TaintKeyInvalid",
             [](Json& s) { Dev0(s)["taints"] = Json::array({Taint("-bad")}); }, Type::kInvalid,
             "spec.devices[0].taints[0].key"},
        Case{"TaintValueInvalid",
             [](Json& s) {
               Dev0(s)["taints"] =
                   Json::array({{{"key", "k"}, {"value", "a b"}, {"effect", "NoExecute"}}});
             },
             Type::kInvalid, "spec.devices[0].taints[0].value"},
        Case{"TooManyConsumptions",
             [](Json& s) {
               for (int i = 0; i < 3; ++i) {
                 Dev0(s)["consumesCounters"].push_back(
                     {{"counterSet", base::StrCat("s", i)}, {"counters", Counters(1)}});
               }
             },
             Type::kTooMany, "spec.devices[0].consumesCounters"},
        Case{"TooManyCountersInConsumption",
             [](Json& s) {
               Dev0(s)["consumesCounters"] =
                   Json::array({{{"counterSet", "s"}, {"counters", Counters(33)}}});
             },
             Type::kTooMany, "spec.devices[0].consumesCounters[0].counters"},
        Case{"DuplicateConsumption",
             [](Json& s) {
               Dev0(s)["consumesCounters"] =
                   Json::array({{{"counterSet", "s"}, {"counters", Counters(1)}},
                                {{"counterSet", "s"}, {"counters", Counters(1)}}});
             },
             Type::kDuplicate, "spec.devices[0].consumesCounters[1]"},
        Case{"ConsumptionWithoutCounters",
             [](Json& s) { Dev0(s)["consumesCounters"] = Json::array({{{"counterSet", "s"}}}); },
             Type::kRequired, "spec.devices[0].consumesCounters[0].counters"},
        Case{"TooManyCounterSets",
             [](Json& s) {
               Spec(s).erase("devices");
               for (int i = 0; i < 9; ++i) {
                 Spec(s)["sharedCounters"].push_back(
                     {{"name", base::StrCat("s", i)}, {"counters", Counters(1)}});
               }
             },
             Type::kTooMany, "spec.sharedCounters"},
        Case{"TooManyCountersInSet",
             [](Json& s) {
               Spec(s).erase("devices");
               Spec(s)["sharedCounters"] = Json::array({{{"name", "s"}, {"counters", Counters(33)}}});
             },
             Type::kTooMany, "spec.sharedCounters[0].counters"},
        Case{"CounterNameNotDnsLabel",
             [](Json& s) {
               Spec(s).erase("devices");
               Spec(s)["sharedCounters"] =
                   Json::array({{{"name", "s"}, {"counters", {{"Memory", {{"value", "1"}}}}}}});
             },
             Type::kInvalid, "spec.sharedCounters[0].counters"},
        Case{"DuplicateCounterSet",
             [](Json& s) {
               Spec(s).erase("devices");
               Spec(s)["sharedCounters"] = Json::array({{{"name", "s"}, {"counters", Counters(1)}},
                                                        {{"name", "s"}, {"counters", Counters(1)}}});
             },
             Type::kDuplicate, "spec.sharedCounters[1]"},
        Case{"DevicesAndCountersTogether",
             [](Json& s) {
               Spec(s)["sharedCounters"] = Json::array({{{"name", "s"}, {"counters", Counters(1)}}});
             },
             Type::kInvalid, "spec"},
        Case{"NoNodeSelection", [](Json& s) { Spec(s).erase("nodeName"); }, Type::kRequired, "spec"},
        Case{"TwoNodeSelections", [](Json& s) { Spec(s)["allNodes"] = true; }, Type::kInvalid, "spec"},
        Case{"EmptyNodeName", [](Json& s) { Spec(s)["nodeName"] = ""; }, Type::kInvalid,
             "spec.nodeName"},
        Case{"BadNodeName", [](Json& s) { Spec(s)["nodeName"] = "Node_A"; }, Type::kInvalid,
             "spec.nodeName"},
        Case{"AllNodesFalse",
             [](Json& s) {
               Spec(s).erase("nodeName");
               Spec(s)["allNodes"] = false;
             },
             Type::kInvalid, "spec.allNodes"},
        Case{"PerDeviceNodeSelectionFalse",
             [](Json& s) { Spec(s)["perDeviceNodeSelection"] = false; }, Type::kInvalid,
             "spec.perDeviceNodeSelection"},
        Case{"NodeSelectorTwoTerms",
             [](Json& s) {
               Spec(s).erase("nodeName");
               Json term = {{"matchExpressions",
                             {{{"key", "zone"}, {"operator", "In"}, {"values", {"a"}}}}}};
               Spec(s)["nodeSelector"] = {{"nodeSelectorTerms", {term, term}}};
             },
             Type::kInvalid, "spec.nodeSelector.nodeSelectorTerms"},
        Case{"DeviceNodeNameWithoutPerDevice",
             [](Json& s) { Dev0(s)["nodeName"] = "node-a"; }, Type::kInvalid, "spec.devices[0]"},
        Case{"PerDeviceWithoutDeviceSelection",
             [](Json& s) {
               Spec(s).erase("nodeName");
               Spec(s)["perDeviceNodeSelection"] = true;
             },
             Type::kRequired, "spec.devices[0]"},
        Case{"TooManyBindingConditions",
             [](Json& s) {
               Dev0(s)["bindingConditions"] = {"a", "b", "c", "d", "e"};
               Dev0(s)["bindingFailureConditions"] = {"f"};
             },
             Type::kTooMany, "spec.devices[0].bindingConditions"},
        Case{"BindingConditionsOverlap",
             [](Json& s) {
               Dev0(s)["bindingConditions"] = {"a"};
               Dev0(s)["bindingFailureConditions"] = {"a"};
             },
             Type::kInvalid, "spec.devices[0].bindingFailureConditions[0]"},
        Case{"BindingFailureWithoutConditions",
             [](Json& s) { Dev0(s)["bindingFailureConditions"] = {"a"}; }, Type::kInvalid,
             "spec.devices[0].bindingConditions"},
        Case{"DriverMissing", [](Json& s) { Spec(s).erase("driver"); }, Type::kRequired,
             "spec.driver"},
        Case{"DriverTooLong",
             [](Json& s) { Spec(s)["driver"] = std::string(60, 'a') + ".com"; }, Type::kTooLong,
             "spec.driver"},
        Case{"DriverNotSubdomain", [](Json& s) { Spec(s)["driver"] = "gpu_driver"; },
             Type::kInvalid, "spec.driver"},
        Case{"PoolNameMissing", [](Json& s) { Spec(s)["pool"].erase("name"); }, Type::kRequired,
             "spec.pool.name"},
        Case{"PoolNamePartInvalid", [](Json& s) { Spec(s)["pool"]["name"] = "a/B"; },
             Type::kInvalid, "spec.pool.name"},
        Case{"PoolNameTooLong",
             [](Json& s) { Spec(s)["pool"]["name"] = std::string(200, 'a') + "/" + std::string(60, 'b'); },
             Type::kTooLong, "spec.pool.name"},
        Case{"SliceCountZero", [](Json& s) { Spec(s)["pool"]["resourceSliceCount"] = 0; },
             Type::kInvalid, "spec.pool.resourceSliceCount"},
        Case{"GenerationNegative", [](Json& s) { Spec(s)["pool"]["generation"] = -1; },
             Type::kInvalid, "spec.pool.generation"},
        Case{"NameInvalid", [](Json& s) { s["metadata"]["name"] = "Slice"; }, Type::kInvalid,
             "metadata.name"},
        Case{"NameAndGenerateNameMissing", [](Json& s) { s["metadata"].erase("name"); },
             Type::kRequired, "metadata.name"},
        Case{"GenerateNameInvalid",
             [](Json& s) {
               s["metadata"].erase("name");
               s["metadata"]["generateName"] = "Node-";
             },
             Type::kInvalid, "metadata.generateName"},
        Case{"NamespaceForbidden", [](Json& s) { s["metadata"]["namespace"] = "default"; },
             Type::kForbidden, "metadata.namespace"},
        Case{"OwnerWithoutUid",
             [](Json& s) {
               s["metadata"]["ownerReferences"] =
                   Json::array({{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", "node-a"}}});
             },
             Type::kInvalid, "metadata.ownerReferences[0].uid"}),
    [](const ::testing::TestParamInfo<Case>& param_info) { return param_info.param.name; });

TEST(SliceValidationTest, AcceptsValuesAtTheLimits) {
  Json slice = ValidSlice();
  Spec(slice)["devices"] = Json::array();
  for (int i = 0; i < 128; ++i) Spec(slice)["devices"].push_back(Device(base::StrCat("d", i)));
  Json& d = Dev0(slice);
  d["attributes"] = Json::object();
  for (int i = 0; i < 16; ++i) d["attributes"][base::StrCat("a", i)] = {{"string", std::string(64, 'x')}};
  for (int i = 0; i < 16; ++i) d["capacity"][base::StrCat("example.com/c", i)] = {{"value", "1Gi"}};
  d["attributes"][std::string(32, 'b')] = {{"version", "1.2.3-rc.1+build.5"}};
  d["attributes"].erase("a0");
  Spec(slice)["driver"] = "GPU.Example.Com";  // case-insensitive, like a CSI driver name
  Spec(slice)["pool"]["name"] = "a.b/c-d";
  EXPECT_THAT(ValidateResourceSlice(slice), IsEmpty()) << Show(ValidateResourceSlice(slice));

  Json tainted = ValidSlice();
  Spec(tainted)["devices"] = Json::array();
  for (int i = 0; i < 64; ++i) {
    Json dev = Device(base::StrCat("d", i));
    dev["taints"] = Json::array();
    for (int t = 0; t < 16; ++t) dev["taints"].push_back(Taint(base::StrCat("example.com/t", t)));
    Spec(tainted)["devices"].push_back(dev);
  }
  EXPECT_THAT(ValidateResourceSlice(tainted), IsEmpty()) << Show(ValidateResourceSlice(tainted));
}

TEST(SliceValidationTest, AcceptsConsumableCapacityPolicies) {
  Json slice = ValidSlice();
  Json& d = Dev0(slice);
  d["allowMultipleAllocations"] = true;
  d["capacity"]["memory"] = {
      {"value", "80Gi"},
      {"requestPolicy", {{"default", "10Gi"}, {"validValues", {"10Gi", "20Gi", "40Gi"}}}}};
  d["capacity"]["cores"] = {
      {"value", "100"},
      {"requestPolicy",
       {{"default", "10"}, {"validRange", {{"min", "10"}, {"max", "100"}, {"step", "10"}}}}}};
  EXPECT_THAT(ValidateResourceSlice(slice), IsEmpty()) << Show(ValidateResourceSlice(slice));
}

TEST(SliceValidationTest, DecodeRejectsUnknownFieldsTypesAndQuantities) {
  Json slice = ValidSlice();
  Dev0(slice)["basic"] = Json::object();  // the v1beta1 shape
  Spec(slice)["pool"]["generation"] = "1";
  Dev0(slice)["capacity"]["memory"] = {{"value", "80 GiB"}};
  Spec(slice)["devices"][1]["attributes"]["x"] = {{"int", 1.5}};
  FieldErrors errors = DecodeCheckResourceSlice(slice);
  EXPECT_TRUE(HasError(errors, Type::kUnknownField, "spec.devices[0].basic")) << Show(errors);
  EXPECT_TRUE(HasError(errors, Type::kTypeInvalid, "spec.pool.generation")) << Show(errors);
  EXPECT_TRUE(HasError(errors, Type::kTypeInvalid, "spec.devices[0].capacity[memory].value"))
      << Show(errors);
  EXPECT_TRUE(HasError(errors, Type::kTypeInvalid, "spec.devices[1].attributes[x].int"))
      << Show(errors);
}

TEST(SliceValidationTest, DecodeTreatsNullAsAbsentAndAcceptsNumericQuantities) {
  Json slice = ValidSlice();
  Spec(slice)["nodeSelector"] = nullptr;
  Dev0(slice)["capacity"]["cores"] = {{"value", 100}};
  EXPECT_THAT(DecodeCheckResourceSlice(slice), IsEmpty());
  EXPECT_THAT(ValidateResourceSlice(slice), IsEmpty());
}

TEST(SliceValidationTest, UpdateKeepsImmutableFields) {
  Json old = ValidSlice();
  old["metadata"]["uid"] = "3f1d1b0e-0000-4000-8000-000000000001";
  Json now = old;
  Spec(now)["driver"] = "nic.tessera.dev";
  Spec(now)["pool"]["name"] = "node-b";
  Spec(now)["nodeName"] = "node-b";
  now["metadata"]["uid"] = "3f1d1b0e-0000-4000-8000-000000000002";
  FieldErrors errors = ValidateResourceSliceUpdate(now, old);
  EXPECT_TRUE(HasError(errors, Type::kInvalid, "spec.driver")) << Show(errors);
  EXPECT_TRUE(HasError(errors, Type::kInvalid, "spec.pool.name")) << Show(errors);
  EXPECT_TRUE(HasError(errors, Type::kInvalid, "spec.nodeName")) << Show(errors);
  EXPECT_TRUE(HasError(errors, Type::kInvalid, "metadata.uid")) << Show(errors);
}

TEST(SliceValidationTest, UpdateRatchetsUnchangedCapacity) {
  // A stored device whose request policy became invalid (e.g. a rule
  // tightened) is not rejected again as long as the capacity is unchanged.
  Json old = ValidSlice();
  Dev0(old)["capacity"]["memory"] = {{"value", "80Gi"}, {"requestPolicy", {{"default", "1Gi"}}}};
  Json now = old;
  Dev0(now)["attributes"]["model"] = {{"string", "H200"}};
  EXPECT_THAT(ValidateResourceSliceUpdate(now, old), IsEmpty());
  Dev0(now)["capacity"]["memory"]["value"] = "81Gi";
  EXPECT_TRUE(HasError(ValidateResourceSliceUpdate(now, old), Type::kForbidden,
                       "spec.devices[0].capacity[memory].requestPolicy"));
}

TEST(SliceValidationTest, PoolRejectsDuplicatesAndDanglingCounters) {
  Json counters = ValidSlice();
  Spec(counters).erase("devices");
  Spec(counters)["sharedCounters"] =
      Json::array({{{"name", "gpu-0"}, {"counters", {{"memory", {{"value", "80Gi"}}}}}}});
  Json devices = ValidSlice();
  Dev0(devices)["consumesCounters"] = Json::array(
      {{{"counterSet", "gpu-0"}, {"counters", {{"memory", {{"value", "10Gi"}}}}}}});
  EXPECT_THAT(ValidatePool({counters, devices}), IsEmpty());

  Json more = ValidSlice();  // gpu-0 and gpu-1 again
  Dev0(more)["consumesCounters"] = Json::array(
      {{{"counterSet", "gpu-9"}, {"counters", {{"memory", {{"value", "1"}}}}}}});
  Spec(more)["devices"][1]["consumesCounters"] = Json::array(
      {{{"counterSet", "gpu-0"}, {"counters", {{"sm", {{"value", "1"}}}}}}});
  FieldErrors errors = ValidatePool({counters, devices, more, counters});
  EXPECT_TRUE(HasError(errors, Type::kDuplicate, "slices[2].spec.devices[0].name")) << Show(errors);
  EXPECT_TRUE(HasError(errors, Type::kDuplicate, "slices[3].spec.sharedCounters[0].name"))
      << Show(errors);
  EXPECT_TRUE(HasError(errors, Type::kInvalid, "slices[2].spec.devices[0].consumesCounters[0].counterSet"))
      << Show(errors);
  EXPECT_TRUE(HasError(errors, Type::kInvalid,
                       "slices[2].spec.devices[1].consumesCounters[0].counters[sm]"))
      << Show(errors);
}

TEST(SliceValidationTest, MessagesReadLikeTheApiServer) {
  Json slice = ValidSlice();
  Dev0(slice)["name"] = "GPU0";
  FieldErrors errors = ValidateResourceSlice(slice);
  ASSERT_EQ(errors.size(), 1u) << Show(errors);
  EXPECT_EQ(errors[0].Reason(), "FieldValueInvalid");
  EXPECT_THAT(errors[0].ToString(),
              HasSubstr("spec.devices[0].name: Invalid value: \"GPU0\": a lowercase RFC 1123 label"));
  EXPECT_THAT(ToStatus(errors, "create resourceslice"),
              testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                HasSubstr("create resourceslice: spec.devices[0].name")));
  EXPECT_OK(ToStatus({}, "x"));
}

TEST(FormatTest, Semver) {
  for (const char* ok : {"0.0.0", "1.2.3", "10.20.30", "1.2.3-alpha.1", "1.2.3-0a", "1.0.0+build.1",
                         "1.2.3-rc.1+sha.abc-def"}) {
    EXPECT_TRUE(IsSemver(ok)) << ok;
  }
  for (const char* bad : {"", "1", "1.2", "v1.2.3", "01.2.3", "1.2.3-", "1.2.3-01", "1.2.3+",
                          "1.2.3-a..b", "1.2.3.4"}) {
    EXPECT_FALSE(IsSemver(bad)) << bad;
  }
}

TEST(FormatTest, NamesAndLabels) {
  EXPECT_THAT(IsDns1123Label("gpu-0"), IsEmpty());
  EXPECT_THAT(IsDns1123Label("-gpu"), ::testing::Not(IsEmpty()));
  EXPECT_THAT(IsDns1123Subdomain("a.b-c.d"), IsEmpty());
  EXPECT_THAT(IsDns1123Subdomain("a..b"), ::testing::Not(IsEmpty()));
  EXPECT_THAT(IsQualifiedName("example.com/My_Name.1"), IsEmpty());
  EXPECT_THAT(IsQualifiedName("/x"), ::testing::Not(IsEmpty()));
  EXPECT_THAT(IsQualifiedName("a/b/c"), ::testing::Not(IsEmpty()));
  EXPECT_THAT(IsValidLabelValue(""), IsEmpty());
  EXPECT_THAT(IsValidLabelValue("x_"), ::testing::Not(IsEmpty()));
  EXPECT_THAT(IsCIdentifier("_ok9"), IsEmpty());
  EXPECT_THAT(IsResourceQualifiedName("resource.kubernetes.io/pcieRoot"), IsEmpty());
  EXPECT_THAT(IsResourceQualifiedName("resource.kubernetes.io/pcie-root"), ::testing::Not(IsEmpty()));
  EXPECT_THAT(IsDriverName("GPU.tessera.dev"), IsEmpty());
}

}  // namespace
}  // namespace tessera::agent::kube
