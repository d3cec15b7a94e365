// The file-system side of a listening Unix socket: clearing a stale one before
// listen, restricting it to its owner afterwards, and removing it on stop only
// while it is still ours. POSIX calls live here and nowhere else in kubelet/.
//
// All functions are thread-safe (they hold no state) and return:
//   NotFound            - the path does not exist (RemoveStaleSocket: never)
//   FailedPrecondition  - something other than a socket sits at the path
//   PermissionDenied / other errno codes - from the system call.
#pragma once

#include <sys/types.h>
#include <time.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tessera::kubelet::internal {

// Identity of a socket file (device, inode and change time), taken right
// after listen, so that stop never unlinks a socket that another process
// re-created since (inode numbers alone are reused at once).
struct SocketIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  struct timespec ctime = {};
};

// Unlinks `path` if it is a socket; OK when nothing is there. Anything that is
// not a socket is left alone (FailedPrecondition): a plugin must never delete
// files it did not create.
absl::Status RemoveStaleSocket(const std::string& path);

// A free name in the directory of `final_path` to listen on before the
// socket is published: ".<6 random characters>", never longer than the final
// name (so it fits wherever the final path fits), ignored by the kubelet's
// plugin watcher because it starts with '.'.
absl::StatusOr<std::string> TempSocketPath(const std::string& final_path);

// chmod 0600 on the socket at `path`.
absl::Status RestrictSocket(const std::string& path);

// The identity of the socket at `path`; FailedPrecondition if not a socket.
absl::StatusOr<SocketIdentity> IdentifySocket(const std::string& path);

// Atomically renames the listening socket `temp_path` to `final_path`: the
// kubelet sees the socket appear complete, already 0600 and accepting.
absl::Status PublishSocket(const std::string& temp_path, const std::string& final_path);

// Unlinks `path` only if it is still the socket described by `identity`.
// OK when it is already gone or was replaced by someone else's socket.
absl::Status RemoveOwnSocket(const std::string& path, const SocketIdentity& identity);

}  // namespace tessera::kubelet::internal
