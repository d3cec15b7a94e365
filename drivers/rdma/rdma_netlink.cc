#include "drivers/rdma/rdma_netlink.h"

#include <errno.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include <rdma/rdma_netlink.h>

#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace tessera::drivers::rdma {
namespace {

constexpr uint16_t kRequestAck = NLM_F_REQUEST | NLM_F_ACK;
// A reply that does not come within this time is Unavailable, so a wedged
// kernel path never blocks a claim forever.
constexpr int kReceiveTimeoutSeconds = 5;

void PutU16(std::vector<uint8_t>& out, uint16_t v) {
  uint8_t b[2];
  std::memcpy(b, &v, 2);
  out.insert(out.end(), b, b + 2);
}
void PutU32(std::vector<uint8_t>& out, uint32_t v) {
  uint8_t b[4];
  std::memcpy(b, &v, 4);
  out.insert(out.end(), b, b + 4);
}

std::vector<uint8_t> Header(uint16_t op, uint16_t flags, uint32_t seq) {
  std::vector<uint8_t> out;
  PutU32(out, NLMSG_HDRLEN);  // patched by Finish()
  PutU16(out, NldevMessageType(op));
  PutU16(out, flags);
  PutU32(out, seq);
  PutU32(out, 0);  // nlmsg_pid: 0, the kernel fills in the sender's port
  return out;
}

void PutAttrU32(std::vector<uint8_t>& out, uint16_t type, uint32_t v) {
  PutU16(out, NLA_HDRLEN + 4);
  PutU16(out, type);
  PutU32(out, v);  // 4 bytes: already aligned to NLA_ALIGNTO
}

std::vector<uint8_t> Finish(std::vector<uint8_t> msg) {
  uint32_t len = static_cast<uint32_t>(msg.size());
  std::memcpy(msg.data(), &len, 4);
  return msg;
}

// Walks the attributes of an RDMA netlink payload (no family header).
void ForEachAttr(std::span<const uint8_t> payload,
                 const std::function<void(uint16_t, std::span<const uint8_t>)>& fn) {
  size_t off = 0;
  while (off + NLA_HDRLEN <= payload.size()) {
    uint16_t len, type;
    std::memcpy(&len, payload.data() + off, 2);
    std::memcpy(&type, payload.data() + off + 2, 2);
    if (len < NLA_HDRLEN || off + len > payload.size()) return;
    fn(static_cast<uint16_t>(type & NLA_TYPE_MASK),
       payload.subspan(off + NLA_HDRLEN, len - NLA_HDRLEN));
    off += NLA_ALIGN(len);
  }
}

}  // namespace

std::string_view RdmaNetnsModeName(RdmaNetnsMode mode) {
  return mode == RdmaNetnsMode::kShared ? "shared" : "exclusive";
}

uint16_t NldevMessageType(uint16_t op) {
  return static_cast<uint16_t>(RDMA_NL_GET_TYPE(RDMA_NL_NLDEV, op));
}

std::vector<uint8_t> EncodeSysGetRequest(uint32_t seq) {
  return Finish(Header(RDMA_NLDEV_CMD_SYS_GET, kRequestAck, seq));
}

std::vector<uint8_t> EncodeDeviceDumpRequest(uint32_t seq) {
  return Finish(Header(RDMA_NLDEV_CMD_GET, kRequestAck | NLM_F_DUMP, seq));
}

std::vector<uint8_t> EncodeSetNetnsRequest(uint32_t seq, uint32_t device_index, uint32_t netns_fd) {
  std::vector<uint8_t> msg = Header(RDMA_NLDEV_CMD_SET, kRequestAck, seq);
  PutAttrU32(msg, RDMA_NLDEV_ATTR_DEV_INDEX, device_index);
  PutAttrU32(msg, RDMA_NLDEV_NET_NS_FD, netns_fd);
  return Finish(std::move(msg));
}

absl::StatusOr<std::vector<NlMessage>> SplitNetlinkMessages(std::span<const uint8_t> buffer) {
  std::vector<NlMessage> out;
  size_t off = 0;
  while (off < buffer.size()) {
    if (buffer.size() - off < NLMSG_HDRLEN) {
      return absl::InvalidArgumentError(
          base::StrCat("rdma netlink: truncated message header at byte ", off));
    }
    nlmsghdr h;
    std::memcpy(&h, buffer.data() + off, sizeof(h));
    if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > buffer.size() - off) {
      return absl::InvalidArgumentError(
          base::StrCat("rdma netlink: bad message length ", h.nlmsg_len, " at byte ", off));
    }
    out.push_back(
        NlMessage{.type = h.nlmsg_type,
                  .flags = h.nlmsg_flags,
                  .seq = h.nlmsg_seq,
                  .payload = buffer.subspan(off + NLMSG_HDRLEN, h.nlmsg_len - NLMSG_HDRLEN)});
    off += NLMSG_ALIGN(h.nlmsg_len);
  }
  return out;
}

absl::Status DecodeNetlinkError(std::span<const uint8_t> payload, std::string_view what) {
  if (payload.size() < sizeof(int32_t)) {
    return absl::InvalidArgumentError(base::StrCat(what, ": truncated netlink error message"));
  }
  int32_t error;
  std::memcpy(&error, payload.data(), sizeof(error));
  if (error == 0) return absl::OkStatus();
  return base::ErrnoStatus(-error, what);
}

absl::StatusOr<RdmaNetnsMode> DecodeSysGetReply(std::span<const uint8_t> payload) {
  std::optional<uint8_t> mode;
  ForEachAttr(payload, [&](uint16_t type, std::span<const uint8_t> value) {
    if (type == RDMA_NLDEV_SYS_ATTR_NETNS_MODE && !value.empty()) mode = value[0];
  });
  if (!mode.has_value()) {
    return absl::InvalidArgumentError("rdma system reply: RDMA_NLDEV_SYS_ATTR_NETNS_MODE missing");
  }
  // nldev.c: nla_put_u8(msg, RDMA_NLDEV_SYS_ATTR_NETNS_MODE, (u8)ib_devices_shared_netns).
  return *mode != 0 ? RdmaNetnsMode::kShared : RdmaNetnsMode::kExclusive;
}

absl::StatusOr<RdmaDeviceRef> DecodeDeviceReply(std::span<const uint8_t> payload) {
  std::optional<uint32_t> index;
  std::string name;
  ForEachAttr(payload, [&](uint16_t type, std::span<const uint8_t> value) {
    if (type == RDMA_NLDEV_ATTR_DEV_INDEX && value.size() >= 4) {
      uint32_t v;
      std::memcpy(&v, value.data(), 4);
      index = v;
    } else if (type == RDMA_NLDEV_ATTR_DEV_NAME) {
      const char* s = reinterpret_cast<const char*>(value.data());
      name.assign(s, strnlen(s, value.size()));
    }
  });
  if (!index.has_value() || name.empty()) {
    return absl::InvalidArgumentError("rdma device reply: device index or name missing");
  }
  return RdmaDeviceRef{.index = *index, .name = std::move(name)};
}

absl::Status RdmaSocketError(int error_number) {
  std::string cause = base::StrCat("open rdma netlink socket: ", std::strerror(error_number));
  switch (error_number) {
    case EPROTONOSUPPORT:
    case EAFNOSUPPORT:
    case ENOENT:
      return absl::FailedPreconditionError(base::StrCat(
          cause,
          ": this kernel has no RDMA netlink (NETLINK_RDMA): CONFIG_INFINIBAND is off or "
          "ib_core is not loaded"));
    case EPERM:
    case EACCES:
      return absl::PermissionDeniedError(cause);
    default:
      return absl::UnavailableError(cause);
  }
}

struct SocketRdmaNetlink::Impl {
  int fd = -1;
  absl::Mutex mu;
  uint32_t seq ABSL_GUARDED_BY(mu) = 1;

  ~Impl() {
    if (fd >= 0) ::close(fd);
  }

  // Sends `request` and reads replies until the ack, the end of a dump or an
  // error, handing data messages to `on_data`.
  // `encode` builds the request for a sequence number.
  absl::Status Transact(const std::function<std::vector<uint8_t>(uint32_t)>& encode,
                        std::string_view what,
                        const std::function<absl::Status(const NlMessage&)>& on_data)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const uint32_t my_seq = seq++;
    const std::vector<uint8_t> request = encode(my_seq);
    sockaddr_nl kernel = {};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd, request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                 sizeof(kernel)) < 0) {
      return base::ErrnoStatus(errno, base::StrCat(what, ": send"));
    }
    std::vector<uint8_t> buf(size_t{64} * 1024);
    while (true) {
      ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          return absl::UnavailableError(base::StrCat(what, ": no reply from the kernel within ",
                                                     kReceiveTimeoutSeconds, "s"));
        }
        return base::ErrnoStatus(errno, base::StrCat(what, ": recv"));
      }
      ASSIGN_OR_RETURN(std::vector<NlMessage> msgs,
                       SplitNetlinkMessages(std::span<const uint8_t>(buf.data(), n)));
      for (const NlMessage& m : msgs) {
        if (m.seq != my_seq) continue;  // a late reply to an earlier request
        if (m.type == NLMSG_ERROR) return DecodeNetlinkError(m.payload, what);
        if (m.type == NLMSG_DONE) return absl::OkStatus();
        RETURN_IF_ERROR(on_data(m));
      }
    }
  }
};

SocketRdmaNetlink::SocketRdmaNetlink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SocketRdmaNetlink::~SocketRdmaNetlink() = default;

absl::StatusOr<std::unique_ptr<SocketRdmaNetlink>> SocketRdmaNetlink::Open() {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_RDMA);
  if (fd < 0) return RdmaSocketError(errno);
  auto impl = std::make_unique<Impl>();
  impl->fd = fd;
  timeval tv = {.tv_sec = kReceiveTimeoutSeconds, .tv_usec = 0};
  (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return std::unique_ptr<SocketRdmaNetlink>(new SocketRdmaNetlink(std::move(impl)));
}

absl::StatusOr<RdmaNetnsMode> SocketRdmaNetlink::GetNetnsMode() {
  std::optional<RdmaNetnsMode> mode;
  absl::MutexLock lock(&impl_->mu);
  RETURN_IF_ERROR(impl_->Transact(EncodeSysGetRequest, "get rdma netns mode",
                                  [&](const NlMessage& m) -> absl::Status {
                                    if (m.type != NldevMessageType(RDMA_NLDEV_CMD_SYS_GET)) {
                                      return absl::OkStatus();
                                    }
                                    ASSIGN_OR_RETURN(mode, DecodeSysGetReply(m.payload));
                                    return absl::OkStatus();
                                  }));
  if (!mode.has_value()) {
    return absl::InvalidArgumentError("get rdma netns mode: the kernel sent no reply message");
  }
  return *mode;
}

absl::StatusOr<std::vector<RdmaDeviceRef>> SocketRdmaNetlink::ListDevices() {
  std::vector<RdmaDeviceRef> out;
  absl::MutexLock lock(&impl_->mu);
  RETURN_IF_ERROR(impl_->Transact(EncodeDeviceDumpRequest, "list rdma devices",
                                  [&](const NlMessage& m) -> absl::Status {
                                    if (m.type != NldevMessageType(RDMA_NLDEV_CMD_GET)) {
                                      return absl::OkStatus();
                                    }
                                    ASSIGN_OR_RETURN(RdmaDeviceRef d, DecodeDeviceReply(m.payload));
                                    out.push_back(std::move(d));
                                    return absl::OkStatus();
                                  }));
  std::sort(out.begin(), out.end(),
            [](const RdmaDeviceRef& a, const RdmaDeviceRef& b) { return a.index < b.index; });
  return out;
}

absl::Status SocketRdmaNetlink::MoveDeviceToNetns(std::string_view device,
                                                  const topology::NetnsHandle& target) {
  const std::string what =
      base::StrCat("move rdma device ", device, " to netns ", target.description());
  if (target.fd() < 0) {
    return absl::InvalidArgumentError(base::StrCat(what, ": the namespace handle has no fd"));
  }
  ASSIGN_OR_RETURN(std::vector<RdmaDeviceRef> devices, base::Annotate(ListDevices(), what));
  auto it = std::find_if(devices.begin(), devices.end(),
                         [&](const RdmaDeviceRef& d) { return d.name == device; });
  if (it == devices.end()) {
    return absl::NotFoundError(base::StrCat(what, ": no such rdma device in this namespace"));
  }
  const uint32_t index = it->index;
  const uint32_t fd = static_cast<uint32_t>(target.fd());
  absl::MutexLock lock(&impl_->mu);
  return impl_->Transact([&](uint32_t seq) { return EncodeSetNetnsRequest(seq, index, fd); }, what,
                         [](const NlMessage&) { return absl::OkStatus(); });
}

}  // namespace tessera::drivers::rdma
