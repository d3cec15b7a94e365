#include "agent/kube/kube_config.h"

#include "base/filesystem.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/fakes/base/temp_dir.h"
#include "test/matchers/status_matchers.h"

namespace tessera::agent::kube {
namespace {

using ::testing::HasSubstr;
using tessera::testing::StatusIs;

// base64 of "CA-PEM", "CERT-PEM", "KEY-PEM".
constexpr char kCaB64[] = "Q0EtUEVN";
constexpr char kCertB64[] = "Q0VSVC1QRU0=";
constexpr char kKeyB64[] = "S0VZLVBFTQ==";

class KubeConfigTest : public ::testing::Test {
 protected:
  void Write(const std::string& rel, const std::string& text) {
    ASSERT_OK(fs_.CreateDirectories(base::DirName(dir_.Sub(rel)), 0755));
    ASSERT_OK(fs_.WriteFileAtomic(dir_.Sub(rel), text, {.durable = false}));
  }
  absl::StatusOr<KubeConfig> Parse(const std::string& text, std::string_view context = "") {
    return ParseKubeconfig(text, dir_.path(), fs_, context);
  }

  testing::TempDir dir_;
  base::RealFilesystem fs_;
};

constexpr char kTwoContexts[] = R"(
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: local
  cluster:
    server: http://127.0.0.1:8080/
- name: prod
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority-data: Q0EtUEVN
users:
- name: dev-user
  user:
    token: abc123
- name: prod-user
  user:
    client-certificate-data: Q0VSVC1QRU0=
    client-key-data: S0VZLVBFTQ==
contexts:
- name: dev
  context: {cluster: local, user: dev-user}
- name: prod
  context: {cluster: prod, user: prod-user, namespace: kube-system}
)";

TEST_F(KubeConfigTest, CurrentContextWithHttpAndToken) {
  ASSERT_OK_AND_ASSIGN(KubeConfig c, Parse(kTwoContexts));
  EXPECT_EQ(c.server, "http://127.0.0.1:8080");  // trailing slash dropped
  EXPECT_EQ(c.bearer_token, "abc123");
  EXPECT_TRUE(c.ca_pem.empty());
  EXPECT_EQ(c.source, "context dev");
}

TEST_F(KubeConfigTest, ExplicitContextWithCaAndClientCertificateData) {
  ASSERT_OK_AND_ASSIGN(KubeConfig c, Parse(kTwoContexts, "prod"));
  EXPECT_EQ(c.server, "https://10.0.0.1:6443");
  EXPECT_EQ(c.ca_pem, "CA-PEM");
  EXPECT_EQ(c.client_cert_pem, "CERT-PEM");
  EXPECT_EQ(c.client_key_pem, "KEY-PEM");
  EXPECT_TRUE(c.bearer_token.empty());
  EXPECT_FALSE(c.insecure_skip_tls_verify);
}

TEST_F(KubeConfigTest, FilesAreRelativeToTheKubeconfig) {
  Write("pki/ca.crt", "CA FROM FILE");
  Write("pki/client.crt", "CERT FROM FILE");
  Write("pki/client.key", "KEY FROM FILE");
  Write("config", R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://k:443", certificate-authority: pki/ca.crt}}]
users: [{name: u, user: {tokenFile: tokens/t, client-certificate: pki/client.crt, client-key: pki/client.key}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)");
  ASSERT_OK_AND_ASSIGN(KubeConfig c, LoadKubeconfig(fs_, dir_.Sub("config")));
  EXPECT_EQ(c.ca_pem, "CA FROM FILE");
  EXPECT_EQ(c.client_cert_pem, "CERT FROM FILE");
  EXPECT_EQ(c.client_key_pem, "KEY FROM FILE");
  EXPECT_EQ(c.token_file, dir_.Sub("tokens/t"));
  EXPECT_THAT(c.source, HasSubstr("kubeconfig " + dir_.Sub("config") + " context c"));
}

TEST_F(KubeConfigTest, InsecureSkipTlsVerify) {
  ASSERT_OK_AND_ASSIGN(KubeConfig c, Parse(R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://k", insecure-skip-tls-verify: true}}]
contexts: [{name: c, context: {cluster: k}}]
)"));
  EXPECT_TRUE(c.insecure_skip_tls_verify);
  EXPECT_TRUE(c.bearer_token.empty());
}

struct BadCase {
  std::string name;
  std::string yaml;
  absl::StatusCode code;
  std::string message;
};

class KubeConfigErrorTest : public KubeConfigTest, public ::testing::WithParamInterface<BadCase> {};

TEST_P(KubeConfigErrorTest, NamesTheField) {
  EXPECT_THAT(Parse(GetParam().yaml), StatusIs(GetParam().code, HasSubstr(GetParam().message)));
}

std::string WithUser(const std::string& user) {
  return R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://k"}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: )" + user + "}]\n";
}

INSTANTIATE_TEST_SUITE_P(
    Fields, KubeConfigErrorTest,
    ::testing::Values(
        BadCase{"BadBase64", WithUser("{client-certificate-data: Q0VSVC1QRU0=, client-key-data: '%%%'}"),
                absl::StatusCode::kInvalidArgument, "users[0].user.client-key-data: invalid base64"},
        BadCase{"CertWithoutKey", WithUser("{client-certificate-data: Q0VSVC1QRU0=}"),
                absl::StatusCode::kInvalidArgument, "client-certificate and client-key must be given together"},
        BadCase{"ExecPlugin", WithUser("{exec: {command: aws}}"), absl::StatusCode::kUnimplemented,
                "users[0].user.exec: not supported"},
        BadCase{"TokenNotString", WithUser("{token: [1]}"), absl::StatusCode::kInvalidArgument,
                "users[0].user.token: expected string"},
        BadCase{"MissingServer",
                "current-context: c\nclusters: [{name: k, cluster: {}}]\ncontexts: [{name: c, context: {cluster: k}}]\n",
                absl::StatusCode::kInvalidArgument, "clusters[0].cluster.server: required field missing"},
        BadCase{"ServerNotUrl",
                "current-context: c\nclusters: [{name: k, cluster: {server: k8s:443}}]\ncontexts: [{name: c, context: {cluster: k}}]\n",
                absl::StatusCode::kInvalidArgument, "is not an http:// or https:// URL"},
        BadCase{"UnknownContext",
                "current-context: nope\ncontexts: [{name: c, context: {cluster: k}}]\n",
                absl::StatusCode::kInvalidArgument, "context \"nope\": contexts: no entry named \"nope\""},
        BadCase{"UnknownCluster",
                "current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n",
                absl::StatusCode::kInvalidArgument, "clusters: no entry named \"k\""},
        BadCase{"NoCurrentContext", "clusters: []\n", absl::StatusCode::kInvalidArgument,
                "current-context: required field missing"},
        BadCase{"ContextWithoutCluster",
                "current-context: c\ncontexts: [{name: c, context: {user: u}}]\n",
                absl::StatusCode::kInvalidArgument, "contexts[0].context.cluster: required field missing"},
        BadCase{"MissingCaFile",
                "current-context: c\nclusters: [{name: k, cluster: {server: 'https://k', certificate-authority: /nonexistent/ca.crt}}]\ncontexts: [{name: c, context: {cluster: k}}]\n",
                absl::StatusCode::kNotFound, "clusters[0].cluster.certificate-authority: read /nonexistent/ca.crt"},
        BadCase{"TlsServerName",
                "current-context: c\nclusters: [{name: k, cluster: {server: 'https://k', tls-server-name: x}}]\ncontexts: [{name: c, context: {cluster: k}}]\n",
                absl::StatusCode::kUnimplemented, "clusters[0].cluster.tls-server-name: not supported"},
        BadCase{"NotYaml", "a: [", absl::StatusCode::kInvalidArgument, "kubeconfig: line"},
        BadCase{"NotAMap", "- 1\n- 2\n", absl::StatusCode::kInvalidArgument, "document: expected object"}),
    [](const ::testing::TestParamInfo<BadCase>& param_info) { return param_info.param.name; });

TEST_F(KubeConfigTest, LoadNamesTheFile) {
  EXPECT_THAT(LoadKubeconfig(fs_, dir_.Sub("missing")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("read kubeconfig " + dir_.Sub("missing"))));
  Write("bad", "current-context: c\n");
  EXPECT_THAT(LoadKubeconfig(fs_, dir_.Sub("bad")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("kubeconfig " + dir_.Sub("bad") + ": context")));
}

TEST_F(KubeConfigTest, InClusterReadsTheServiceAccount) {
  Write("sa/token", "tok\n");
  Write("sa/ca.crt", "CLUSTER CA");
  ASSERT_OK_AND_ASSIGN(KubeConfig c, InClusterConfig(fs_, {"10.96.0.1", "443"}, dir_.Sub("sa")));
  EXPECT_EQ(c.server, "https://10.96.0.1:443");
  EXPECT_EQ(c.token_file, dir_.Sub("sa/token"));
  EXPECT_EQ(c.ca_pem, "CLUSTER CA");
  EXPECT_EQ(c.source, "in-cluster");
  ASSERT_OK_AND_ASSIGN(KubeConfig v6, InClusterConfig(fs_, {"fd00::1", "6443"}, dir_.Sub("sa")));
  EXPECT_EQ(v6.server, "https://[fd00::1]:6443");
}

TEST_F(KubeConfigTest, InClusterErrors) {
  EXPECT_THAT(InClusterConfig(fs_, {"", ""}, dir_.Sub("sa")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("KUBERNETES_SERVICE_HOST")));
  EXPECT_THAT(InClusterConfig(fs_, {"10.0.0.1", "443"}, dir_.Sub("sa")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("token")));
  Write("sa/token", "tok");
  EXPECT_THAT(InClusterConfig(fs_, {"10.0.0.1", "http"}, dir_.Sub("sa")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not a port")));
  EXPECT_THAT(InClusterConfig(fs_, {"10.0.0.1", "443"}, dir_.Sub("sa")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("ca.crt")));
}

TEST_F(KubeConfigTest, SelectsTheMode) {
  InClusterEnv env{"10.0.0.1", "443"};
  EXPECT_EQ(SelectClusterMode(fs_, "/k", env, dir_.Sub("sa")), ClusterMode::kKubeconfig);
  EXPECT_EQ(SelectClusterMode(fs_, "", env, dir_.Sub("sa")), ClusterMode::kStandalone);
  Write("sa/token", "tok");
  EXPECT_EQ(SelectClusterMode(fs_, "", env, dir_.Sub("sa")), ClusterMode::kInCluster);
  EXPECT_EQ(SelectClusterMode(fs_, "", {}, dir_.Sub("sa")), ClusterMode::kStandalone);
}

TEST(Base64Test, DecodesAndRejects) {
  EXPECT_THAT(DecodeBase64(kCaB64), testing::IsOkAndHolds(std::string("CA-PEM")));
  EXPECT_THAT(DecodeBase64(kCertB64), testing::IsOkAndHolds(std::string("CERT-PEM")));
  EXPECT_THAT(DecodeBase64(kKeyB64), testing::IsOkAndHolds(std::string("KEY-PEM")));
  EXPECT_THAT(DecodeBase64("S0VZ\nLVBF\nTQ"), testing::IsOkAndHolds(std::string("KEY-PEM")));
  EXPECT_THAT(DecodeBase64(""), testing::IsOkAndHolds(std::string("")));
  for (const char* bad : {"%%%", "QQ=Q", "Q", "QR==", "Q0VSVC1QRU0==="}) {
    EXPECT_THAT(DecodeBase64(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

}  // namespace
}  // namespace tessera::agent::kube
