#include "kubelet/socket_paths.h"

#include <filesystem>

#include "base/strings.h"
#include "kubelet/internal/sha256.h"

namespace tessera::kubelet {
namespace {

std::string Join(std::string_view dir, std::string_view name) {
  if (dir == "/") return base::StrCat("/", name);
  return base::StrCat(dir, "/", name);
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// resource.k8s.io validates driver names as DNS subdomains of at most 63
// characters; the name also becomes part of file names here, so anything
// else (a '/', "..") must be refused before it reaches the file system.
absl::Status ValidateDriverName(std::string_view name) {
  if (name.empty() || name.size() > 63) {
    return absl::InvalidArgumentError(base::StrCat("plugin paths: driver name ", base::Quote(name),
                                                   " must be 1 to 63 characters"));
  }
  bool label_start = true;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool last = i + 1 == name.size() || name[i + 1] == '.';
    if (c == '.') {
      if (label_start) break;  // empty label
      label_start = true;
      continue;
    }
    if (!IsLowerAlnum(c) && !(c == '-' && !label_start && !last)) {
      return absl::InvalidArgumentError(
          base::StrCat("plugin paths: driver name ", base::Quote(name),
                       " is not a DNS subdomain (lowercase letters, digits, '-' and '.')"));
    }
    label_start = false;
  }
  if (label_start) {
    return absl::InvalidArgumentError(
        base::StrCat("plugin paths: driver name ", base::Quote(name), " has an empty label"));
  }
  return absl::OkStatus();
}

absl::Status ValidatePodUid(std::string_view uid) {
  if (uid.size() > 64) {
    return absl::InvalidArgumentError(
        base::StrCat("plugin paths: pod uid ", base::Quote(uid), " is longer than 64 characters"));
  }
  for (char c : uid) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(base::StrCat("plugin paths: pod uid ", base::Quote(uid),
                                                     " may only hold letters, digits and '-'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CleanAbsoluteDir(std::string_view dir, std::string_view what) {
  if (dir.empty() || dir.front() != '/') {
    return absl::InvalidArgumentError(
        base::StrCat("plugin paths: ", what, " ", base::Quote(dir), " is not an absolute path"));
  }
  return CleanPath(dir);
}

absl::Status CheckSocketLength(std::string_view path, std::string_view what) {
  if (path.size() > kMaxSocketPathBytes) {
    return absl::InvalidArgumentError(base::StrCat("plugin paths: ", what, " ", path, " is ",
                                                   path.size(), " bytes, more than the ",
                                                   kMaxSocketPathBytes, " a unix socket allows"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string CleanPath(std::string_view path) {
  std::string cleaned = std::filesystem::path(path).lexically_normal().string();
  while (cleaned.size() > 1 && cleaned.back() == '/') cleaned.pop_back();
  return cleaned;
}

std::string RollingUpdateRegistrationSocketName(std::string_view registry_dir,
                                                std::string_view driver_name,
                                                std::string_view pod_uid) {
  auto fits = [&](const std::string& name) {
    return Join(registry_dir, name).size() <= kMaxSocketPathBytes;
  };
  std::string full = base::StrCat(driver_name, "-", pod_uid, "-reg.sock");
  if (fits(full)) return full;
  std::string hashed_uid =
      base::StrCat(driver_name, "-", internal::Sha256Hex(pod_uid).substr(0, 16), "-reg.sock");
  if (fits(hashed_uid)) return hashed_uid;
  std::string both = base::StrCat(driver_name, std::string_view("\0", 1), pod_uid);
  return base::StrCat("dra-", internal::Sha256Hex(both).substr(0, 32), "-reg.sock");
}

absl::StatusOr<PluginPaths> ComputePluginPaths(const SocketPathOptions& options) {
  if (absl::Status s = ValidateDriverName(options.driver_name); !s.ok()) return s;
  if (absl::Status s = ValidatePodUid(options.pod_uid); !s.ok()) return s;
  absl::StatusOr<std::string> plugin_dir = CleanAbsoluteDir(options.plugin_dir, "plugin dir");
  if (!plugin_dir.ok()) return plugin_dir.status();
  absl::StatusOr<std::string> registry_dir = CleanAbsoluteDir(options.registry_dir, "registry dir");
  if (!registry_dir.ok()) return registry_dir.status();

  PluginPaths paths;
  paths.plugin_data_dir = Join(*plugin_dir, options.driver_name);
  paths.serialize_lock = Join(paths.plugin_data_dir, "serialize.lock");
  if (options.pod_uid.empty()) {
    paths.dra_socket = Join(paths.plugin_data_dir, "dra.sock");
    paths.registration_socket = Join(*registry_dir, base::StrCat(options.driver_name, "-reg.sock"));
  } else {
    paths.dra_socket = Join(paths.plugin_data_dir, base::StrCat("dra-", options.pod_uid, ".sock"));
    paths.registration_socket = Join(
        *registry_dir,
        RollingUpdateRegistrationSocketName(*registry_dir, options.driver_name, options.pod_uid));
  }
  if (absl::Status s = CheckSocketLength(paths.dra_socket, "DRA socket"); !s.ok()) return s;
  if (absl::Status s = CheckSocketLength(paths.registration_socket, "registration socket");
      !s.ok()) {
    return s;
  }
  return paths;
}

}  // namespace tessera::kubelet
