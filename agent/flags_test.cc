#include "agent/flags.h"

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include "gtest/gtest.h"
#include "test/matchers/status_matchers.h"

namespace tessera::agent {
namespace {

using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;

absl::StatusOr<std::optional<Config>> Parse(std::vector<const char*> args, std::string* out = nullptr) {
  args.insert(args.begin(), "tessera-agent");
  std::ostringstream os;
  auto r = ParseAgentFlags(static_cast<int>(args.size()), args.data(), os);
  if (out) *out = os.str();
  return r;
}

class FlagsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : {"NODE_NAME", "TESSERA_DRIVERS", "CDI_ROOT", "TESSERA_LOG_LEVEL"}) ::unsetenv(v);
  }
  void TearDown() override { SetUp(); }
};

TEST_F(FlagsTest, DefaultsMatchTheKubeletLayout) {
  ASSERT_OK_AND_ASSIGN(auto c, Parse({"--node-name", "node-a"}));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->plugin_dir, "/var/lib/kubelet/plugins");
  EXPECT_EQ(c->registry_dir, "/var/lib/kubelet/plugins_registry");
  EXPECT_EQ(c->cdi_dir, "/var/run/cdi");
  EXPECT_EQ(c->DriverNames(),
            (std::vector<std::string>{"gpu.tessera.dev", "rdma.tessera.dev", "npu.tessera.dev"}));
  EXPECT_FALSE(c->simulated());
}

TEST_F(FlagsTest, EnvironmentTwinsApplyAndFlagsWin) {
  ::setenv("NODE_NAME", "from-env", 1);
  ::setenv("CDI_ROOT", "/env/cdi", 1);
  ::setenv("TESSERA_DRIVERS", "rdma", 1);
  ASSERT_OK_AND_ASSIGN(auto c, Parse({"--cdi-dir", "/flag/cdi"}));
  EXPECT_EQ(c->node_name, "from-env");
  EXPECT_EQ(c->cdi_dir, "/flag/cdi");
  EXPECT_EQ(c->drivers, (std::vector<std::string>{"rdma"}));
}

TEST_F(FlagsTest, RejectsBadValuesNamingTheFlag) {
  EXPECT_THAT(Parse({"--node-name", "n", "--drivers", "gpu,fpga"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--drivers")));
  EXPECT_THAT(Parse({"--node-name", "n", "--driver-domain", "Not_A_Domain"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--driver-domain")));
  EXPECT_THAT(Parse({"--node-name", "n", "--cdi-dir", "relative/dir"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--cdi-dir")));
  EXPECT_THAT(Parse({"--node-name", "UPPER"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--node-name")));
  EXPECT_THAT(Parse({"--node-name", "n", "--sysfs-root", "/a", "--hwloc-xml", "/b"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("exclude")));
  EXPECT_THAT(Parse({"--node-name", "n", "--log-level", "kubelet=loud"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--log-level")));
  EXPECT_THAT(Parse({"--node-name", "n", "--health-interval", "30"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Parse({"--no-such-flag"}), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(FlagsTest, HelpListsEveryFlagWithItsEnvironmentTwin) {
  std::string out;
  ASSERT_OK_AND_ASSIGN(auto c, Parse({"--help"}, &out));
  EXPECT_FALSE(c.has_value());
  for (const char* s : {"--node-name", "NODE_NAME", "--kubeconfig", "--drivers", "--plugin-dir",
                        "KUBELET_PLUGINS_DIR", "--registry-dir", "--cdi-dir", "CDI_ROOT",
                        "--state-dir", "--sysfs-root", "--hwloc-xml", "--dev-root", "--pod-uid",
                        "POD_UID", "--metrics-addr", "--log-level"}) {
    EXPECT_THAT(out, HasSubstr(s));
  }
}

TEST_F(FlagsTest, EveryFlagIsDocumented) {
  std::string help;
  ASSERT_OK_AND_ASSIGN(auto c, Parse({"--help"}, &help));
  std::ifstream f(std::string(TESSERA_SOURCE_DIR) + "/docs/configuration.md");
  ASSERT_TRUE(f) << "docs/configuration.md missing";
  std::string doc((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::regex flag(R"((--[a-z][a-z-]+))");
  int count = 0;
  for (std::sregex_iterator it(help.begin(), help.end(), flag), end; it != end; ++it) {
    std::string name = (*it)[1];
    if (name == "--help" || name == "--version") continue;
    ++count;
    EXPECT_THAT(doc, HasSubstr("`" + name + "`")) << name << " is not in docs/configuration.md";
  }
  EXPECT_GT(count, 20);
}

TEST_F(FlagsTest, NpuFlagsHaveVendorDefaultsAndCheckTheAbsentPolicy) {
  ASSERT_OK_AND_ASSIGN(auto c, Parse({"--node-name", "n"}));
  EXPECT_EQ(c->dcmi_lib, "libdcmi.so");
  EXPECT_EQ(c->hlml_lib, "libhlml.so");
  EXPECT_EQ(c->npu_smi, "npu-smi");
  EXPECT_EQ(c->npu_when_absent, "idle");
  ASSERT_OK_AND_ASSIGN(c, Parse({"--node-name", "n", "--npu-when-absent", "skip", "--dcmi-lib", ""}));
  EXPECT_EQ(c->npu_when_absent, "skip");
  EXPECT_EQ(c->dcmi_lib, "");
  EXPECT_THAT(Parse({"--node-name", "n", "--npu-when-absent", "never"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--npu-when-absent")));
}

TEST_F(FlagsTest, DedupesDriversAndParsesLogModules) {
  ASSERT_OK_AND_ASSIGN(auto c, Parse({"--node-name", "n", "--drivers", "gpu, gpu,npu",
                                      "--log-level", "warn,kubelet=debug", "--log-format", "json"}));
  EXPECT_EQ(c->drivers, (std::vector<std::string>{"gpu", "npu"}));
  EXPECT_EQ(c->log.level, "warn");
  EXPECT_EQ(c->log.module_levels.at("kubelet"), "debug");
  EXPECT_TRUE(c->log.json);
}

TEST(DnsTest, Subdomains) {
  EXPECT_TRUE(IsDnsSubdomain("gpu.tessera.dev"));
  EXPECT_TRUE(IsDnsSubdomain("node-1"));
  EXPECT_FALSE(IsDnsSubdomain("-a"));
  EXPECT_FALSE(IsDnsSubdomain("a..b"));
  EXPECT_FALSE(IsDnsSubdomain(std::string(254, 'a')));
}

}  // namespace
}  // namespace tessera::agent
