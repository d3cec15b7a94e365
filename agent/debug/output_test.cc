#include "agent/debug/output.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

#include "agent/debug/options.h"

namespace tessera::agent::debug {
namespace {

TEST(TableTest, PadsColumnsAndTrimsTrailingSpace) {
  Table t({"A", "LONG HEADER", "C"});
  t.AddRow({"wide cell", "x", ""});
  t.AddRow({"y"});
  std::ostringstream out;
  t.Render(out);
  EXPECT_EQ(out.str(),
            "A          LONG HEADER  C\n"
            "wide cell  x\n"
            "y\n");
}

TEST(ToYamlTest, KeepsStringsStringsAndOrder) {
  nlohmann::ordered_json doc = {{"vendorID", "0x10de"},
                                {"cpus", "0-3"},
                                {"flag", "yes"},
                                {"numaNode", nullptr},
                                {"memoryBytes", 1099511627776ull},
                                {"list", {1, 2}},
                                {"nested", {{"b", true}}}};
  const std::string yaml = ToYaml(doc);
  EXPECT_LT(yaml.find("vendorID"), yaml.find("cpus"));
  YAML::Node n = YAML::Load(yaml);
  EXPECT_EQ(n["vendorID"].as<std::string>(), "0x10de");
  EXPECT_EQ(n["cpus"].as<std::string>(), "0-3");
  EXPECT_EQ(n["flag"].as<std::string>(), "yes");
  EXPECT_TRUE(n["numaNode"].IsNull());
  EXPECT_EQ(n["memoryBytes"].as<uint64_t>(), 1099511627776ull);
  EXPECT_EQ(n["list"][1].as<int>(), 2);
  EXPECT_TRUE(n["nested"]["b"].as<bool>());
}

TEST(PrintDocumentTest, InvalidUtf8NeverAbortsTheOutput) {
  topology::Json doc = {{"hostname", std::string("caf\xe9")}, {"ok", "yes"}};
  std::ostringstream json, yaml;
  PrintDocument(json, OutputFormat::kJson, doc);
  EXPECT_THAT(json.str(), ::testing::HasSubstr("\"ok\": \"yes\""));
  EXPECT_THAT(json.str(), ::testing::HasSubstr("caf\xef\xbf\xbd"));  // U+FFFD
  PrintDocument(yaml, OutputFormat::kYaml, doc);
  EXPECT_THAT(yaml.str(), ::testing::HasSubstr("ok: \"yes\""));
}

TEST(HumanBytesTest, BinaryUnits) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(1082076721152ull), "1007.8 GiB");
  EXPECT_EQ(HumanBytes(1ull << 40), "1.0 TiB");
}

}  // namespace
}  // namespace tessera::agent::debug
