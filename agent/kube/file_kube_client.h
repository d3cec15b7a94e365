// FileKubeClient: the standalone-mode "cluster", a KubeClient on plain files
// under <state-dir>/cluster (layout in docs/standalone.md), so that the
// publisher and the claim reader run unchanged without an API server.
//
//   resourceslices/<name>.yaml          one file per slice, written here
//   resourceslices/.resource-version    the last resourceVersion handed out
//   resourceclaims/<namespace>/<name>.yaml|.yml|.json   claims, written by the user
//   nodes/<name>.yaml                   optional Node (its uid becomes the owner)
//
// Slices get what an API server would give them: generateName suffixes, a
// uid, creationTimestamp, metadata.generation, a resourceVersion from one
// counter, canonical quantities; they are validated like upstream (strict
// decoding and field validation: InvalidArgument with every error); updates
// check the resourceVersion (Aborted when stale) and deletes their
// preconditions. There is no watch (Unimplemented): the publisher falls back
// to relisting every poll_interval, which also notices files edited or
// removed by hand. Files in resourceslices/ that do not parse are skipped
// and logged.
//
// Slice files are written atomically without fsync: they are derived state
// that the agent rewrites. Thread-safe (one process owns the directory);
// `fs` and `clock` must outlive the client.
#pragma once

#include <memory>
#include <random>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "agent/kube/kube_client.h"
#include "base/clock.h"
#include "base/filesystem.h"

namespace tessera::agent::kube {

class FileKubeClient final : public KubeClient {
 public:
  // Creates the directories. Errors from the filesystem, annotated.
  static absl::StatusOr<std::unique_ptr<FileKubeClient>> Create(base::Filesystem& fs,
                                                                base::Clock& clock,
                                                                std::string cluster_dir);

  absl::StatusOr<ObjectList> ListResourceSlices(const SliceSelector& selector) override;
  // Unimplemented: files cannot be watched here.
  absl::Status WatchResourceSlices(const SliceSelector& selector, const WatchOptions& options,
                                   const WatchHandler& handler, std::stop_token stop) override;
  absl::StatusOr<nlohmann::json> CreateResourceSlice(const nlohmann::json& slice) override;
  absl::StatusOr<nlohmann::json> UpdateResourceSlice(const nlohmann::json& slice) override;
  absl::Status DeleteResourceSlice(std::string_view name,
                                   const Preconditions& preconditions) override;
  absl::StatusOr<nlohmann::json> GetResourceClaim(std::string_view namespace_,
                                                  std::string_view name) override;
  absl::StatusOr<nlohmann::json> GetNode(std::string_view name) override;

  const std::string& dir() const { return dir_; }

 private:
  FileKubeClient(base::Filesystem& fs, base::Clock& clock, std::string dir, uint64_t rv);
  std::string SlicePath(std::string_view name) const;
  absl::StatusOr<nlohmann::json> ReadSliceLocked(std::string_view name) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::Status WriteSliceLocked(const nlohmann::json& slice) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string NextVersionLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string NowLocked() const;

  base::Filesystem& fs_;
  base::Clock& clock_;
  const std::string dir_;
  mutable absl::Mutex mu_;
  uint64_t rv_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::agent::kube
