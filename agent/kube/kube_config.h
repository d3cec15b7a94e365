// How to reach the API server: a kubeconfig file (--kubeconfig), the
// in-cluster service account, or neither (standalone mode, see
// docs/standalone.md).
//
// Everything is read through base::Filesystem. Library code never reads the
// environment: the caller passes KUBERNETES_SERVICE_HOST/PORT in InClusterEnv.
// Parse errors are InvalidArgument and name the field:
//   "kubeconfig /etc/k.yaml: users[0].user.client-key-data: invalid base64"
// Pure functions apart from the file reads; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/filesystem.h"

namespace tessera::agent::kube {

struct KubeConfig {
  std::string server;  // "https://10.96.0.1:443" or "http://127.0.0.1:8080"
  std::string ca_pem;  // CA bundle to trust; empty: the system's
  bool insecure_skip_tls_verify = false;
  std::string bearer_token;  // a fixed token
  std::string token_file;    // a token file, re-read when it rotates (wins over bearer_token)
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string source;  // for logs: "in-cluster", "kubeconfig <path> context <name>"
};

// Parses a kubeconfig (YAML or JSON). Supported: current-context (or
// `context` when non-empty), clusters[].cluster.{server,
// certificate-authority, certificate-authority-data,
// insecure-skip-tls-verify}, users[].user.{token, tokenFile,
// client-certificate, client-certificate-data, client-key, client-key-data}.
// Relative paths are resolved against `base_dir`. Files are read now, except
// tokenFile (read per request). exec, auth-provider, username/password and
// tls-server-name are rejected as Unimplemented naming the field.
absl::StatusOr<KubeConfig> ParseKubeconfig(std::string_view text, std::string_view base_dir,
                                           const base::Filesystem& fs,
                                           std::string_view context = "");
// Reads `path` and parses it (base_dir = its directory).
absl::StatusOr<KubeConfig> LoadKubeconfig(const base::Filesystem& fs, const std::string& path,
                                          std::string_view context = "");

// The environment of a pod, as the caller read it.
struct InClusterEnv {
  std::string service_host;  // KUBERNETES_SERVICE_HOST
  std::string service_port;  // KUBERNETES_SERVICE_PORT
};
inline constexpr char kServiceAccountDir[] = "/var/run/secrets/kubernetes.io/serviceaccount";

// The in-cluster config: https://<host>:<port> (IPv6 hosts bracketed), the
// token file <sa_dir>/token and the CA <sa_dir>/ca.crt. FailedPrecondition
// when the environment is not set or the token is missing; InvalidArgument
// for a bad port.
absl::StatusOr<KubeConfig> InClusterConfig(const base::Filesystem& fs, const InClusterEnv& env,
                                           std::string_view sa_dir = kServiceAccountDir);

enum class ClusterMode { kKubeconfig, kInCluster, kStandalone };
// A kubeconfig path wins; else in-cluster when the environment and the token
// file are there; else standalone.
ClusterMode SelectClusterMode(const base::Filesystem& fs, std::string_view kubeconfig_path,
                              const InClusterEnv& env,
                              std::string_view sa_dir = kServiceAccountDir);

// RFC 4648 base64 (padding optional, whitespace ignored). InvalidArgument
// "invalid base64" otherwise.
absl::StatusOr<std::string> DecodeBase64(std::string_view text);

}  // namespace tessera::agent::kube
