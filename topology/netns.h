// Network namespaces, behind a seam: a NetnsHandle names one namespace (an
// open nsfs file descriptor plus its identity), and NetworkNamespaces opens
// them (the caller's own, a process's, a bind-mounted path) and connects a
// Netlink whose socket lives inside one.
//
// ProcNetworkNamespaces is the real one (open(2) under a proc root, setns(2)
// on a short-lived thread to create the netlink socket inside the target, so
// the calling thread never changes namespace). FakeNetworkNamespaces in
// test/fakes/topology/fake_netlink.h models several namespaces in memory.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"

namespace tessera::topology {

class Netlink;

// The identity of a network namespace: st_dev and st_ino of its nsfs file.
// Two handles name the same namespace exactly when their ids are equal.
struct NetnsId {
  uint64_t device = 0;
  uint64_t inode = 0;
  std::string ToString() const;  // "net:[4026531840]" like /proc/<pid>/ns/net links
  friend bool operator==(const NetnsId&, const NetnsId&) = default;
};

// An open network namespace. Owns its file descriptor (closed on destruction);
// fd() is -1 for namespaces of the fake. Move-only.
class NetnsHandle {
 public:
  NetnsHandle() = default;
  NetnsHandle(int fd, NetnsId id, std::string description)
      : fd_(fd), id_(id), description_(std::move(description)) {}
  ~NetnsHandle();
  NetnsHandle(NetnsHandle&& other) noexcept;
  NetnsHandle& operator=(NetnsHandle&& other) noexcept;
  NetnsHandle(const NetnsHandle&) = delete;
  NetnsHandle& operator=(const NetnsHandle&) = delete;

  int fd() const { return fd_; }
  const NetnsId& id() const { return id_; }
  // Where it was opened from, for messages: "/proc/1234/ns/net".
  const std::string& description() const { return description_; }

 private:
  int fd_ = -1;
  NetnsId id_;
  std::string description_;
};

// Safe for concurrent use.
class NetworkNamespaces {
 public:
  virtual ~NetworkNamespaces() = default;
  NetworkNamespaces() = default;
  NetworkNamespaces(const NetworkNamespaces&) = delete;
  NetworkNamespaces& operator=(const NetworkNamespaces&) = delete;

  // The namespace of the calling process (the host's, for the agent and the
  // hook). PermissionDenied or another errno code on failure.
  virtual absl::StatusOr<NetnsHandle> OpenCurrent() = 0;
  // The namespace of process `pid`. NotFound when there is no such process;
  // InvalidArgument when pid <= 0.
  virtual absl::StatusOr<NetnsHandle> OpenProcess(int pid) = 0;
  // A namespace file: a bind mount such as /run/netns/<name> or an nsfs path
  // such as /proc/<pid>/ns/net. NotFound when absent; InvalidArgument when the
  // file is not a network namespace.
  virtual absl::StatusOr<NetnsHandle> OpenPath(std::string_view path) = 0;
  // A Netlink whose requests act inside `netns`. The result does not borrow
  // `netns`. Unavailable when no netlink socket can be opened there.
  virtual absl::StatusOr<std::unique_ptr<Netlink>> Connect(const NetnsHandle& netns) = 0;
};

// The real namespaces of this host. `proc_root` is "/proc" normally, or
// "$HOST_ROOT/proc" for an agent that sees the host's proc elsewhere.
class ProcNetworkNamespaces final : public NetworkNamespaces {
 public:
  explicit ProcNetworkNamespaces(std::string proc_root = "/proc");

  absl::StatusOr<NetnsHandle> OpenCurrent() override;
  absl::StatusOr<NetnsHandle> OpenProcess(int pid) override;
  absl::StatusOr<NetnsHandle> OpenPath(std::string_view path) override;
  absl::StatusOr<std::unique_ptr<Netlink>> Connect(const NetnsHandle& netns) override;

 private:
  const std::string proc_root_;
};

}  // namespace tessera::topology
