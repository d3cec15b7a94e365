#include "kubelet/cdi/spec_dir.h"

#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace tessera::kubelet::cdi {
namespace {

absl::Status CheckFileName(std::string_view file_name) {
  if (file_name.empty() || file_name.front() == '.' ||
      file_name.find('/') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        base::StrCat("cdi spec file name ", base::Quote(file_name),
                     ": must be a plain name without '/' or a leading '.'"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string SpecDir::PathOf(std::string_view file_name) const {
  return base::StrCat(dir_, "/", file_name);
}

absl::Status SpecDir::Write(std::string_view file_name, const Spec& spec) {
  RETURN_IF_ERROR(CheckFileName(file_name));
  ASSIGN_OR_RETURN(std::string text, Marshal(spec));
  return fs_.WriteFileAtomic(PathOf(file_name), text, {.mode = 0644, .durable = false});
}

absl::Status SpecDir::Remove(std::string_view file_name) {
  RETURN_IF_ERROR(CheckFileName(file_name));
  absl::Status s = fs_.RemoveFile(PathOf(file_name), /*durable=*/false);
  if (absl::IsNotFound(s)) return absl::OkStatus();
  return s;
}

absl::StatusOr<Spec> SpecDir::Read(std::string_view file_name) const {
  RETURN_IF_ERROR(CheckFileName(file_name));
  const std::string path = PathOf(file_name);
  ASSIGN_OR_RETURN(std::string text, fs_.ReadFile(path, 1 << 20));
  return Parse(text, path);
}

absl::StatusOr<std::vector<std::string>> SpecDir::List() const {
  absl::StatusOr<std::vector<std::string>> names = fs_.ListDir(dir_);
  if (absl::IsNotFound(names.status())) return std::vector<std::string>();
  return names;
}

}  // namespace tessera::kubelet::cdi
