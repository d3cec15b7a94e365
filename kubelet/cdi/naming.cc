#include "kubelet/cdi/naming.h"

#include "base/strings.h"

namespace tessera::kubelet::cdi {
namespace {

constexpr std::string_view kJsonSuffix = ".json";
constexpr size_t kShareIdPrefix = 8;

bool IsAsciiAlnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

}  // namespace

std::string VendorForDriver(std::string_view driver) { return base::StrCat("k8s.", driver); }

std::string ClaimKind(std::string_view driver) {
  return base::StrCat(VendorForDriver(driver), "/", kClaimClass);
}

std::string ClaimSpecFileName(std::string_view driver, std::string_view claim_uid) {
  // CDI's GenerateTransientSpecName: "<vendor>-<class>_<id>".
  return base::StrCat(VendorForDriver(driver), "-", kClaimClass, "_", claim_uid, kJsonSuffix);
}

std::optional<std::string> ClaimUidFromSpecFileName(std::string_view driver,
                                                    std::string_view file_name) {
  const std::string prefix = base::StrCat(VendorForDriver(driver), "-", kClaimClass, "_");
  if (!file_name.starts_with(prefix) || !file_name.ends_with(kJsonSuffix)) return std::nullopt;
  std::string_view uid = file_name.substr(prefix.size());
  if (uid.size() <= kJsonSuffix.size()) return std::nullopt;
  uid.remove_suffix(kJsonSuffix.size());
  if (!ValidateClaimUid(uid).ok()) return std::nullopt;
  return std::string(uid);
}

std::string ClaimDeviceName(std::string_view claim_uid, std::string_view device,
                            std::string_view share_id) {
  std::string name = base::StrCat(claim_uid, "-", device);
  if (!share_id.empty()) base::StrAppend(&name, "-", share_id.substr(0, kShareIdPrefix));
  return name;
}

std::string QualifiedName(std::string_view kind, std::string_view name) {
  return base::StrCat(kind, "=", name);
}

absl::Status ValidateClaimUid(std::string_view claim_uid) {
  if (claim_uid.empty() || claim_uid.size() > 128) {
    return absl::InvalidArgumentError(
        base::StrCat("claim uid ", base::Quote(claim_uid), ": must be 1 to 128 characters"));
  }
  if (!IsAsciiAlnum(claim_uid.front()) || !IsAsciiAlnum(claim_uid.back())) {
    return absl::InvalidArgumentError(base::StrCat("claim uid ", base::Quote(claim_uid),
                                                   ": must start and end with a letter or digit"));
  }
  for (char c : claim_uid) {
    if (!IsAsciiAlnum(c) && c != '-') {
      return absl::InvalidArgumentError(base::StrCat("claim uid ", base::Quote(claim_uid),
                                                     ": only letters, digits and '-' allowed"));
    }
  }
  return absl::OkStatus();
}

}  // namespace tessera::kubelet::cdi
