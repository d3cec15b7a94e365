// SpecDir: reads, writes and removes CDI spec files in one directory
// (--cdi-dir, /var/run/cdi by default) through the base::Filesystem seam.
//
// Writes are atomic (temp file in the same directory, rename) so a runtime
// never loads a half-written spec, and not durable: the checkpoint is the
// durable record and a lost spec is rewritten from it at start. Files are
// 0644 so the container runtime can read them.
//
// Stateless beyond the directory name: safe for concurrent use on different
// files; callers serialize writers of the same file. `fs` must outlive this.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "base/filesystem.h"
#include "kubelet/cdi/spec.h"

namespace tessera::kubelet::cdi {

class SpecDir {
 public:
  SpecDir(base::Filesystem& fs, std::string dir) : fs_(fs), dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }
  std::string PathOf(std::string_view file_name) const;

  // Validates and marshals `spec` (see Marshal), then replaces the file.
  // InvalidArgument for an invalid spec or a file name with '/' or a leading
  // '.'; the Filesystem's code (ResourceExhausted, PermissionDenied, ...) when
  // writing fails, in which case the previous file, if any, is unchanged.
  absl::Status Write(std::string_view file_name, const Spec& spec);
  // Removes the file; OK when it does not exist.
  absl::Status Remove(std::string_view file_name);
  // Reads and strictly parses the file. NotFound when absent; InvalidArgument
  // when it is not a valid spec.
  absl::StatusOr<Spec> Read(std::string_view file_name) const;
  // Names of the entries in the directory, sorted; empty when it is absent.
  absl::StatusOr<std::vector<std::string>> List() const;

 private:
  base::Filesystem& fs_;
  const std::string dir_;
};

}  // namespace tessera::kubelet::cdi
