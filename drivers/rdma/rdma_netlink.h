// RDMA netlink (NETLINK_RDMA, client RDMA_NL_NLDEV): the host's RDMA network
// namespace mode (`rdma system show`: shared or exclusive) and moving an RDMA
// device into a network namespace (`rdma dev set <dev> netns <ns>`).
//
// In shared mode (the kernel default) every namespace sees every RDMA device,
// so moving the netdev is enough. In exclusive mode an RDMA device belongs to
// one namespace and must be moved with its netdev; the kernel moves it back
// to the initial namespace when that namespace dies.
//
// The wire format is produced and parsed by pure functions below (tested
// byte for byte against the uapi constants); SocketRdmaNetlink sends them.
// On kernels without RDMA (CONFIG_INFINIBAND off, ib_core not loaded) the
// NETLINK_RDMA socket cannot be opened: Open() returns FailedPrecondition
// "this kernel has no RDMA netlink", and the driver treats the mode as shared.
//
// Authority: include/uapi/rdma/rdma_netlink.h (RDMA_NL_GET_TYPE,
// RDMA_NLDEV_CMD_*, RDMA_NLDEV_ATTR_*), drivers/infiniband/core/nldev.c, and
// iproute2 rdma/sys.c, rdma/dev.c (the requests `rdma` sends).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "topology/netns.h"

namespace tessera::drivers::rdma {

enum class RdmaNetnsMode { kShared, kExclusive };
std::string_view RdmaNetnsModeName(RdmaNetnsMode mode);  // "shared", "exclusive"

struct RdmaDeviceRef {
  uint32_t index = 0;  // RDMA_NLDEV_ATTR_DEV_INDEX
  std::string name;    // RDMA_NLDEV_ATTR_DEV_NAME, "mlx5_0"
  friend bool operator==(const RdmaDeviceRef&, const RdmaDeviceRef&) = default;
};

// Safe for concurrent use.
class RdmaNetlink {
 public:
  virtual ~RdmaNetlink() = default;
  RdmaNetlink() = default;
  RdmaNetlink(const RdmaNetlink&) = delete;
  RdmaNetlink& operator=(const RdmaNetlink&) = delete;

  virtual absl::StatusOr<RdmaNetnsMode> GetNetnsMode() = 0;
  // The RDMA devices of the caller's namespace, sorted by index.
  virtual absl::StatusOr<std::vector<RdmaDeviceRef>> ListDevices() = 0;
  // NotFound when `device` is not in the caller's namespace; the kernel's
  // errno otherwise (EPERM in shared mode, EBUSY while in use).
  virtual absl::Status MoveDeviceToNetns(std::string_view device,
                                         const topology::NetnsHandle& target) = 0;
};

class SocketRdmaNetlink final : public RdmaNetlink {
 public:
  // FailedPrecondition "this kernel has no RDMA netlink" when NETLINK_RDMA is
  // not supported; PermissionDenied; Unavailable for other socket errors.
  static absl::StatusOr<std::unique_ptr<SocketRdmaNetlink>> Open();
  ~SocketRdmaNetlink() override;

  absl::StatusOr<RdmaNetnsMode> GetNetnsMode() override;
  absl::StatusOr<std::vector<RdmaDeviceRef>> ListDevices() override;
  absl::Status MoveDeviceToNetns(std::string_view device,
                                 const topology::NetnsHandle& target) override;

  struct Impl;

 private:
  explicit SocketRdmaNetlink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The Status for a failed socket(AF_NETLINK, SOCK_RAW, NETLINK_RDMA) with
// `error_number` (EPROTONOSUPPORT on kernels without RDMA).
absl::Status RdmaSocketError(int error_number);

// --- Wire format (host byte order, as netlink is). RDMA netlink messages
// carry no family header: attributes follow the nlmsghdr directly.

// `rdma system show`: RDMA_NLDEV_CMD_SYS_GET, NLM_F_REQUEST | NLM_F_ACK.
std::vector<uint8_t> EncodeSysGetRequest(uint32_t seq);
// `rdma dev show`: RDMA_NLDEV_CMD_GET, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP.
std::vector<uint8_t> EncodeDeviceDumpRequest(uint32_t seq);
// `rdma dev set <dev> netns <ns>`: RDMA_NLDEV_CMD_SET, NLM_F_REQUEST |
// NLM_F_ACK, with RDMA_NLDEV_ATTR_DEV_INDEX and RDMA_NLDEV_NET_NS_FD (u32 each).
std::vector<uint8_t> EncodeSetNetnsRequest(uint32_t seq, uint32_t device_index, uint32_t netns_fd);

// One netlink message of a received buffer.
struct NlMessage {
  uint16_t type = 0;
  uint16_t flags = 0;
  uint32_t seq = 0;
  std::span<const uint8_t> payload;  // after the nlmsghdr
};
// Splits a received buffer into messages. InvalidArgument on a truncated or
// malformed header.
absl::StatusOr<std::vector<NlMessage>> SplitNetlinkMessages(std::span<const uint8_t> buffer);
// NLMSG_ERROR payload: OK for an ack (error 0), else the errno as a Status
// with `what` as context. InvalidArgument when truncated.
absl::Status DecodeNetlinkError(std::span<const uint8_t> payload, std::string_view what);
// Payload of the RDMA_NLDEV_CMD_SYS_GET reply. InvalidArgument when the
// netns mode attribute is missing or malformed.
absl::StatusOr<RdmaNetnsMode> DecodeSysGetReply(std::span<const uint8_t> payload);
// Payload of one RDMA_NLDEV_CMD_GET reply.
absl::StatusOr<RdmaDeviceRef> DecodeDeviceReply(std::span<const uint8_t> payload);
// RDMA_NL_GET_TYPE(RDMA_NL_NLDEV, op), the nlmsg_type of requests and replies.
uint16_t NldevMessageType(uint16_t op);

}  // namespace tessera::drivers::rdma
