#include "agent/kube/kube_config.h"

#include <cctype>
#include <charconv>

#include "agent/kube/yaml_json.h"
#include "base/json_util.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace tessera::agent::kube {

using Json = nlohmann::json;

namespace {

using base::StrCat;
namespace json = base::json;

std::string JoinPath(std::string_view dir, std::string_view path) {
  if (path.empty() || path.front() == '/' || dir.empty()) return std::string(path);
  return StrCat(dir, dir.back() == '/' ? "" : "/", path);
}

// Finds `name` in a kubeconfig list ("clusters", "users", "contexts") and
// returns the entry's inner object (entry[inner]) with its path.
struct Found {
  const Json* value = nullptr;
  std::string path;
};
absl::StatusOr<Found> FindNamed(const Json& doc, std::string_view list, std::string_view inner,
                                std::string_view name) {
  ASSIGN_OR_RETURN(const Json* items, json::GetOptionalArray(doc, "", list));
  if (items != nullptr) {
    for (size_t i = 0; i < items->size(); ++i) {
      std::string path = json::Index(list, i);
      const Json& entry = (*items)[i];
      if (!entry.is_object()) return json::TypeError(path, "object", entry);
      ASSIGN_OR_RETURN(std::string entry_name, json::GetString(entry, path, "name"));
      if (entry_name != name) continue;
      ASSIGN_OR_RETURN(const Json* value, json::GetOptionalObject(entry, path, inner));
      static const Json* empty = new Json(Json::object());
      return Found{value != nullptr ? value : empty, json::Field(path, inner)};
    }
  }
  return absl::InvalidArgumentError(StrCat(list, ": no entry named ", base::Quote(name)));
}

// Reads "<key>-data" (base64) or "<key>" (a file) into `out`.
absl::Status ReadPem(const Json& obj, const std::string& path, std::string_view key,
                     std::string_view base_dir, const base::Filesystem& fs, std::string* out) {
  std::string data_key = StrCat(key, "-data");
  ASSIGN_OR_RETURN(std::optional<std::string> data, json::GetOptionalString(obj, path, data_key));
  if (data) {
    absl::StatusOr<std::string> decoded = DecodeBase64(*data);
    if (!decoded.ok()) return base::Annotate(decoded.status(), json::Field(path, data_key));
    *out = *std::move(decoded);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::optional<std::string> file, json::GetOptionalString(obj, path, key));
  if (file) {
    std::string resolved = JoinPath(base_dir, *file);
    absl::StatusOr<std::string> contents = fs.ReadFile(resolved, 1 << 20);
    if (!contents.ok()) {
      return base::Annotate(contents.status(), StrCat(json::Field(path, key), ": read ", resolved));
    }
    *out = *std::move(contents);
  }
  return absl::OkStatus();
}

absl::Status RejectUnsupported(const Json& obj, const std::string& path,
                               std::initializer_list<std::string_view> keys) {
  for (std::string_view key : keys) {
    if (obj.contains(key) && !obj[std::string(key)].is_null()) {
      return absl::UnimplementedError(StrCat(json::Field(path, key), ": not supported"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<KubeConfig> ParseDocument(const Json& doc, std::string_view base_dir,
                                         const base::Filesystem& fs, std::string_view context) {
  if (!doc.is_object()) return json::TypeError("document", "object", doc);
  std::string context_name(context);
  if (context_name.empty()) {
    ASSIGN_OR_RETURN(std::optional<std::string> current,
                     json::GetOptionalString(doc, "", "current-context"));
    if (!current || current->empty()) {
      return absl::InvalidArgumentError("current-context: required field missing");
    }
    context_name = *current;
  }
  absl::StatusOr<Found> ctx = FindNamed(doc, "contexts", "context", context_name);
  if (!ctx.ok()) return base::Annotate(ctx.status(), StrCat("context ", base::Quote(context_name)));
  ASSIGN_OR_RETURN(std::string cluster_name, json::GetString(*ctx->value, ctx->path, "cluster"));
  ASSIGN_OR_RETURN(std::optional<std::string> user_name,
                   json::GetOptionalString(*ctx->value, ctx->path, "user"));

  KubeConfig config;
  config.source = StrCat("context ", context_name);
  ASSIGN_OR_RETURN(Found cluster, FindNamed(doc, "clusters", "cluster", cluster_name));
  const Json& c = *cluster.value;
  ASSIGN_OR_RETURN(config.server, json::GetString(c, cluster.path, "server"));
  if (!config.server.starts_with("https://") && !config.server.starts_with("http://")) {
    return absl::InvalidArgumentError(StrCat(json::Field(cluster.path, "server"), ": ",
                                             base::Quote(config.server),
                                             " is not an http:// or https:// URL"));
  }
  while (config.server.size() > 8 && config.server.back() == '/') config.server.pop_back();
  RETURN_IF_ERROR(RejectUnsupported(c, cluster.path, {"tls-server-name", "proxy-url"}));
  RETURN_IF_ERROR(ReadPem(c, cluster.path, "certificate-authority", base_dir, fs, &config.ca_pem));
  ASSIGN_OR_RETURN(std::optional<bool> insecure,
                   json::GetOptionalBool(c, cluster.path, "insecure-skip-tls-verify"));
  config.insecure_skip_tls_verify = insecure.value_or(false);

  if (user_name && !user_name->empty()) {
    ASSIGN_OR_RETURN(Found user, FindNamed(doc, "users", "user", *user_name));
    const Json& u = *user.value;
    RETURN_IF_ERROR(
        RejectUnsupported(u, user.path, {"exec", "auth-provider", "username", "password"}));
    ASSIGN_OR_RETURN(std::optional<std::string> token,
                     json::GetOptionalString(u, user.path, "token"));
    config.bearer_token = token.value_or("");
    ASSIGN_OR_RETURN(std::optional<std::string> token_file,
                     json::GetOptionalString(u, user.path, "tokenFile"));
    if (token_file) config.token_file = JoinPath(base_dir, *token_file);
    RETURN_IF_ERROR(
        ReadPem(u, user.path, "client-certificate", base_dir, fs, &config.client_cert_pem));
    RETURN_IF_ERROR(ReadPem(u, user.path, "client-key", base_dir, fs, &config.client_key_pem));
    if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
      return absl::InvalidArgumentError(
          StrCat(user.path, ": client-certificate and client-key must be given together"));
    }
  }
  return config;
}

}  // namespace

absl::StatusOr<std::string> DecodeBase64(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  size_t padding = 0;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    int v = value(c);
    if (v < 0 || padding > 0) return absl::InvalidArgumentError("invalid base64");
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  // Leftover bits must be zero padding of a final partial group (2 or 4 bits).
  if (bits >= 6 || padding > 2 || (buffer & ((1u << bits) - 1)) != 0) {
    return absl::InvalidArgumentError("invalid base64");
  }
  return out;
}

absl::StatusOr<KubeConfig> ParseKubeconfig(std::string_view text, std::string_view base_dir,
                                           const base::Filesystem& fs, std::string_view context) {
  ASSIGN_OR_RETURN(Json doc, YamlToJson(text, "kubeconfig"));
  return ParseDocument(doc, base_dir, fs, context);
}

absl::StatusOr<KubeConfig> LoadKubeconfig(const base::Filesystem& fs, const std::string& path,
                                          std::string_view context) {
  std::string what = StrCat("kubeconfig ", path);
  absl::StatusOr<std::string> text = fs.ReadFile(path, 4 << 20);
  if (!text.ok()) return base::Annotate(text.status(), StrCat("read ", what));
  absl::StatusOr<KubeConfig> config = ParseKubeconfig(*text, base::DirName(path), fs, context);
  if (!config.ok()) return base::Annotate(config.status(), what);
  config->source = StrCat(what, " ", config->source);
  return config;
}

absl::StatusOr<KubeConfig> InClusterConfig(const base::Filesystem& fs, const InClusterEnv& env,
                                           std::string_view sa_dir) {
  if (env.service_host.empty() || env.service_port.empty()) {
    return absl::FailedPreconditionError(
        "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  }
  int port = 0;
  auto [ptr, ec] = std::from_chars(env.service_port.data(),
                                   env.service_port.data() + env.service_port.size(), port);
  if (ec != std::errc() || ptr != env.service_port.data() + env.service_port.size() || port <= 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(StrCat("in-cluster config: KUBERNETES_SERVICE_PORT ",
                                             base::Quote(env.service_port), " is not a port"));
  }
  KubeConfig config;
  config.source = "in-cluster";
  bool ipv6 = env.service_host.find(':') != std::string::npos;
  config.server = ipv6 ? StrCat("https://[", env.service_host, "]:", port)
                       : StrCat("https://", env.service_host, ":", port);
  config.token_file = StrCat(sa_dir, "/token");
  if (!fs.Exists(config.token_file)) {
    return absl::FailedPreconditionError(
        StrCat("in-cluster config: service account token ", config.token_file, " is missing"));
  }
  std::string ca_path = StrCat(sa_dir, "/ca.crt");
  absl::StatusOr<std::string> ca = fs.ReadFile(ca_path, 1 << 20);
  if (!ca.ok()) return base::Annotate(ca.status(), StrCat("in-cluster config: read ", ca_path));
  config.ca_pem = *std::move(ca);
  return config;
}

ClusterMode SelectClusterMode(const base::Filesystem& fs, std::string_view kubeconfig_path,
                              const InClusterEnv& env, std::string_view sa_dir) {
  if (!kubeconfig_path.empty()) return ClusterMode::kKubeconfig;
  if (!env.service_host.empty() && !env.service_port.empty() &&
      fs.Exists(StrCat(sa_dir, "/token"))) {
    return ClusterMode::kInCluster;
  }
  return ClusterMode::kStandalone;
}

}  // namespace tessera::agent::kube
