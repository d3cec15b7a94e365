// LibnlNetlink: the real Netlink (netlink.h), rtnetlink through libnl-3.
// libnl headers stay in libnl_netlink.cc. Dumps that the kernel marks as
// interrupted (NLM_F_DUMP_INTR: the table changed while it was read) are
// retried in one place, a few times, then reported as Aborted.
#pragma once

#include <memory>

#include "absl/status/statusor.h"

#include "topology/netlink.h"

namespace tessera::topology {

class LibnlNetlink final : public Netlink {
 public:
  // Connects to rtnetlink in the caller's network namespace. Unavailable when
  // the socket cannot be opened (degraded mode, see netlink.h). `stats`, when
  // given, must outlive the object and every stream it opens.
  static absl::StatusOr<std::unique_ptr<LibnlNetlink>> Create(NetlinkStats* stats = nullptr);
  // Connects inside the namespace of `netns_fd` (borrowed; duplicated, so the
  // caller may close it). The calling thread never changes namespace.
  static absl::StatusOr<std::unique_ptr<LibnlNetlink>> CreateInNetns(int netns_fd,
                                                                     NetlinkStats* stats = nullptr);
  ~LibnlNetlink() override;

  absl::StatusOr<std::vector<NetworkLink>> ListLinks() override;
  absl::StatusOr<std::vector<Address>> ListAddresses(int link_index) override;
  absl::StatusOr<std::vector<int>> DefaultRouteLinks(IpFamily family) override;
  absl::StatusOr<std::unique_ptr<LinkEventStream>> WatchLinks() override;
  absl::Status MoveLinkToNetns(int index, const NetnsHandle& target,
                               std::string_view name_in_target) override;
  absl::Status RenameLink(int index, std::string_view name) override;
  absl::Status SetMtu(int index, uint32_t mtu) override;
  absl::Status SetUp(int index, bool up) override;
  absl::Status AddAddress(const Address& address) override;
  absl::Status DeleteAddress(const Address& address) override;

  struct Impl;  // defined in the .cc (holds the libnl socket)

 private:
  explicit LibnlNetlink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::topology
