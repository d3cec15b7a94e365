// LibnlNetlink: rtnetlink requests built and parsed with libnl-3's message and
// attribute helpers. Links are parsed from raw RTM_NEWLINK messages rather
// than libnl-route's rtnl_link objects because libnl 3.7 does not expose
// IFLA_MIN_MTU / IFLA_MAX_MTU / IFLA_PERM_ADDRESS, which the attach needs.
//
// Authorities: include/uapi/linux/rtnetlink.h, if_link.h, if_addr.h, netlink.h
// (NLM_F_DUMP_INTR, extended ack), net/core/rtnetlink.c (do_setlink: a move
// with IFLA_IFNAME renames in the target and uses the name if the old one is
// taken there).
#include "topology/libnl_netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <functional>
#include <thread>
#include <tuple>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "spdlog/fmt/fmt.h"
#include <netlink/attr.h>
#include <netlink/handlers.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace tessera::topology {
namespace {

// A dump restarted this many times in a row is reported as Aborted.
constexpr int kMaxDumpAttempts = 5;
// Receive buffer of event sockets: bursts (hundreds of VFs changing at once)
// fit before the kernel has to drop events.
constexpr int kEventSocketBufferBytes = 1 << 20;

struct SockDeleter {
  void operator()(nl_sock* sk) const { nl_socket_free(sk); }
};
using SockPtr = std::unique_ptr<nl_sock, SockDeleter>;
struct MsgDeleter {
  void operator()(nl_msg* m) const { nlmsg_free(m); }
};
using MsgPtr = std::unique_ptr<nl_msg, MsgDeleter>;
struct CbDeleter {
  void operator()(nl_cb* cb) const { nl_cb_put(cb); }
};
using CbPtr = std::unique_ptr<nl_cb, CbDeleter>;

// errno from a netlink ack -> Status code, following the Netlink contract in
// netlink.h (absl's generic table maps EBUSY and EEXIST differently).
absl::Status KernelError(int err, std::string_view what, std::string_view ext_ack) {
  std::string msg = base::StrCat(what, ": ", std::strerror(err));
  if (!ext_ack.empty()) base::StrAppend(&msg, " (", ext_ack, ")");
  switch (err) {
    case ENODEV:
    case ENOENT:
    case EADDRNOTAVAIL:
    case ESRCH:
      return absl::NotFoundError(msg);
    case EEXIST:
      return absl::AlreadyExistsError(msg);
    case EINVAL:
    case ERANGE:
      return absl::InvalidArgumentError(msg);
    case EBUSY:
    case EOPNOTSUPP:
      return absl::FailedPreconditionError(msg);
    case EPERM:
    case EACCES:
      return absl::PermissionDeniedError(msg);
    default:
      return base::Annotate(base::ErrnoStatus(err, "kernel"), what);
  }
}

// libnl's own failures (socket, sequence, parse): the socket may be out of
// step with the kernel, so it is reconnected before the next request.
absl::Status LibnlError(int nl_err, std::string_view what) {
  return absl::UnavailableError(base::StrCat(what, ": netlink: ", nl_geterror(nl_err)));
}

std::string FormatMac(const nlattr* attr) {
  if (attr == nullptr) return "";
  const auto* bytes = static_cast<const uint8_t*>(nla_data(attr));
  int len = nla_len(attr);
  bool all_zero = true;
  for (int i = 0; i < len; ++i) all_zero = all_zero && bytes[i] == 0;
  if (len <= 0 || all_zero) return "";
  std::string out;
  for (int i = 0; i < len; ++i) {
    if (i > 0) out.push_back(':');
    out += fmt::format("{:02x}", bytes[i]);
  }
  return out;
}

std::string AttrString(const nlattr* attr) {
  if (attr == nullptr) return "";
  const char* data = static_cast<const char*>(nla_data(attr));
  return std::string(data, strnlen(data, static_cast<size_t>(nla_len(attr))));
}

uint32_t AttrU32(const nlattr* attr) {
  if (attr == nullptr || nla_len(attr) < static_cast<int>(sizeof(uint32_t))) return 0;
  return nla_get_u32(const_cast<nlattr*>(attr));
}

OperState ToOperState(uint8_t v) {
  switch (v) {
    case IF_OPER_NOTPRESENT:
      return OperState::kNotPresent;
    case IF_OPER_DOWN:
      return OperState::kDown;
    case IF_OPER_LOWERLAYERDOWN:
      return OperState::kLowerLayerDown;
    case IF_OPER_TESTING:
      return OperState::kTesting;
    case IF_OPER_DORMANT:
      return OperState::kDormant;
    case IF_OPER_UP:
      return OperState::kUp;
    default:
      return OperState::kUnknown;
  }
}

// RTM_NEWLINK / RTM_DELLINK -> NetworkLink. False when the message is malformed.
bool ParseLink(nlmsghdr* h, NetworkLink* out) {
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) return false;
  const auto* ifi = static_cast<const ifinfomsg*>(nlmsg_data(h));
  nlattr* tb[IFLA_MAX + 1] = {};
  if (nlmsg_parse(h, sizeof(ifinfomsg), tb, IFLA_MAX, nullptr) < 0) return false;
  NetworkLink l;
  l.index = ifi->ifi_index;
  l.up = (ifi->ifi_flags & IFF_UP) != 0;
  l.lower_up = (ifi->ifi_flags & IFF_LOWER_UP) != 0;
  l.loopback = (ifi->ifi_flags & IFF_LOOPBACK) != 0;
  l.name = AttrString(tb[IFLA_IFNAME]);
  l.mtu = AttrU32(tb[IFLA_MTU]);
  l.min_mtu = AttrU32(tb[IFLA_MIN_MTU]);
  l.max_mtu = AttrU32(tb[IFLA_MAX_MTU]);
  l.mac = FormatMac(tb[IFLA_ADDRESS]);
  l.permanent_mac = FormatMac(tb[IFLA_PERM_ADDRESS]);
  if (tb[IFLA_OPERSTATE] != nullptr && nla_len(tb[IFLA_OPERSTATE]) >= 1) {
    l.oper_state = ToOperState(nla_get_u8(tb[IFLA_OPERSTATE]));
  }
  l.master_index = static_cast<int>(AttrU32(tb[IFLA_MASTER]));
  l.parent_index = static_cast<int>(AttrU32(tb[IFLA_LINK]));
  if (tb[IFLA_LINK_NETNSID] != nullptr && nla_len(tb[IFLA_LINK_NETNSID]) >= 4) {
    l.link_netnsid = nla_get_s32(tb[IFLA_LINK_NETNSID]);
  }
  if (tb[IFLA_LINKINFO] != nullptr) {
    nlattr* info[IFLA_INFO_MAX + 1] = {};
    if (nla_parse_nested(info, IFLA_INFO_MAX, tb[IFLA_LINKINFO], nullptr) == 0) {
      l.kind = AttrString(info[IFLA_INFO_KIND]);
    }
  }
  *out = std::move(l);
  return true;
}

std::string FormatIp(int family, const nlattr* attr) {
  if (attr == nullptr) return "";
  size_t want = family == AF_INET ? 4 : 16;
  if (static_cast<size_t>(nla_len(attr)) < want) return "";
  char buf[INET6_ADDRSTRLEN] = {};
  if (::inet_ntop(family, nla_data(attr), buf, sizeof(buf)) == nullptr) return "";
  return buf;
}

bool ParseAddress(nlmsghdr* h, Address* out) {
  if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH(sizeof(ifaddrmsg))) return false;
  const auto* ifa = static_cast<const ifaddrmsg*>(nlmsg_data(h));
  if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) return false;
  nlattr* tb[IFA_MAX + 1] = {};
  if (nlmsg_parse(h, sizeof(ifaddrmsg), tb, IFA_MAX, nullptr) < 0) return false;
  // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on
  // point-to-point links and the only one IPv6 usually sends.
  std::string local = FormatIp(ifa->ifa_family, tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS]);
  if (local.empty()) return false;
  Address a;
  a.link_index = static_cast<int>(ifa->ifa_index);
  a.prefix = IpPrefix{.family = ifa->ifa_family == AF_INET ? IpFamily::kIpv4 : IpFamily::kIpv6,
                      .address = local,
                      .prefix_length = ifa->ifa_prefixlen};
  if (ifa->ifa_family == AF_INET) a.broadcast = FormatIp(AF_INET, tb[IFA_BROADCAST]);
  a.scope = ifa->ifa_scope;
  *out = std::move(a);
  return true;
}

// Appends the output interfaces of a default route of the main table.
void ParseDefaultRoute(nlmsghdr* h, std::vector<int>* out) {
  if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(rtmsg))) return;
  const auto* rtm = static_cast<const rtmsg*>(nlmsg_data(h));
  nlattr* tb[RTA_MAX + 1] = {};
  if (nlmsg_parse(h, sizeof(rtmsg), tb, RTA_MAX, nullptr) < 0) return;
  uint32_t table = tb[RTA_TABLE] != nullptr ? AttrU32(tb[RTA_TABLE]) : rtm->rtm_table;
  if (table != RT_TABLE_MAIN || rtm->rtm_dst_len != 0 || rtm->rtm_type != RTN_UNICAST) return;
  if (tb[RTA_OIF] != nullptr) out->push_back(static_cast<int>(AttrU32(tb[RTA_OIF])));
  if (tb[RTA_MULTIPATH] != nullptr) {
    const auto* nh = static_cast<const rtnexthop*>(nla_data(tb[RTA_MULTIPATH]));
    int left = nla_len(tb[RTA_MULTIPATH]);
    while (left >= static_cast<int>(sizeof(rtnexthop)) && nh->rtnh_len >= sizeof(rtnexthop) &&
           nh->rtnh_len <= left) {
      out->push_back(nh->rtnh_ifindex);
      left -= RTNH_ALIGN(nh->rtnh_len);
      nh = RTNH_NEXT(nh);
    }
  }
}

// Captures the errno and extended-ack text of an NLMSG_ERROR.
struct AckState {
  int error = 0;
  std::string ext_ack;
};

int OnError(sockaddr_nl*, nlmsgerr* e, void* arg) {
  auto* st = static_cast<AckState*>(arg);
  st->error = -e->error;
  // The error sits in an nlmsghdr; with NLM_F_ACK_TLVS, attributes follow the
  // (possibly capped) echoed request (include/uapi/linux/netlink.h).
  const auto* h =
      reinterpret_cast<const nlmsghdr*>(reinterpret_cast<const char*>(e) - NLMSG_HDRLEN);
  if ((h->nlmsg_flags & NLM_F_ACK_TLVS) == 0) return NL_STOP;
  size_t offset = sizeof(nlmsgerr);
  if ((h->nlmsg_flags & NLM_F_CAPPED) == 0) offset += e->msg.nlmsg_len - NLMSG_HDRLEN;
  size_t total = h->nlmsg_len - NLMSG_HDRLEN;
  if (offset >= total) return NL_STOP;
  nlattr* tb[NLMSGERR_ATTR_MAX + 1] = {};
  auto* tlvs = reinterpret_cast<nlattr*>(reinterpret_cast<char*>(e) + offset);
  if (nla_parse(tb, NLMSGERR_ATTR_MAX, tlvs, static_cast<int>(total - offset), nullptr) == 0) {
    st->ext_ack = AttrString(tb[NLMSGERR_ATTR_MSG]);
  }
  return NL_STOP;
}

int OnAck(nl_msg*, void*) { return NL_STOP; }

// Runs `fn` on a new thread that has joined the namespace of `netns_fd`
// (setns(2) changes only the calling thread for CLONE_NEWNET), so the caller's
// thread is never moved. Sockets created there stay bound to that namespace.
absl::Status RunInNetns(int netns_fd, const std::function<absl::Status()>& fn) {
  absl::Status result;
  std::thread t([&] {
    if (::setns(netns_fd, CLONE_NEWNET) != 0) {
      result = base::ErrnoStatus(errno, "setns");
      return;
    }
    result = fn();
  });
  t.join();
  return result;
}

absl::StatusOr<SockPtr> ConnectRoute(int netns_fd, int groups_buffer_bytes) {
  SockPtr sk(nl_socket_alloc());
  if (!sk) return absl::ResourceExhaustedError("allocate netlink socket");
  auto connect = [&]() -> absl::Status {
    int rc = nl_connect(sk.get(), NETLINK_ROUTE);
    if (rc < 0) {
      return absl::UnavailableError(base::StrCat("open rtnetlink socket: ", nl_geterror(rc)));
    }
    return absl::OkStatus();
  };
  if (netns_fd >= 0) {
    RETURN_IF_ERROR(RunInNetns(netns_fd, connect));
  } else {
    RETURN_IF_ERROR(connect());
  }
  int one = 1;
  // Extended ack gives the kernel's reason ("The interface netns is
  // immutable") next to the errno; older kernels ignore the option.
  (void)::setsockopt(nl_socket_get_fd(sk.get()), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
  if (groups_buffer_bytes > 0) (void)nl_socket_set_buffer_size(sk.get(), groups_buffer_bytes, 0);
  return sk;
}

class LibnlLinkEventStream final : public LinkEventStream {
 public:
  LibnlLinkEventStream(SockPtr sk, int wake_fd, NetlinkStats* stats)
      : sk_(std::move(sk)), wake_fd_(wake_fd), stats_(stats) {}
  ~LibnlLinkEventStream() override { ::close(wake_fd_); }

  absl::StatusOr<LinkEvent> Next(std::stop_token stop) override {
    // A stop request wakes poll() through the eventfd.
    std::stop_callback on_stop(stop, [this] {
      uint64_t one = 1;
      (void)!::write(wake_fd_, &one, sizeof(one));
    });
    while (true) {
      if (stop.stop_requested()) return absl::CancelledError("watch links: stopped");
      if (!pending_.empty()) {
        LinkEvent e = std::move(pending_.front());
        pending_.pop_front();
        if (stats_ != nullptr) {
          stats_->events_total.Inc();
          if (e.type == LinkEventType::kOverflow) stats_->event_overflows_total.Inc();
        }
        return e;
      }
      pollfd fds[2] = {{nl_socket_get_fd(sk_.get()), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      int n = ::poll(fds, 2, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        return base::Annotate(base::ErrnoStatus(errno, "poll"), "watch links");
      }
      if (fds[1].revents != 0) {
        uint64_t v;
        (void)!::read(wake_fd_, &v, sizeof(v));
        continue;
      }
      // POLLIN, or POLLERR alone (a pending ENOBUFS): recv() tells which.
      RETURN_IF_ERROR(ReadAvailable());
    }
  }

 private:
  absl::Status ReadAvailable() {
    std::array<char, size_t{64} * 1024> buf;
    while (true) {
      ssize_t len = ::recv(nl_socket_get_fd(sk_.get()), buf.data(), buf.size(), MSG_DONTWAIT);
      if (len < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return absl::OkStatus();
        if (errno == ENOBUFS) {
          // Events were dropped; collapse into one overflow marker.
          if (pending_.empty() || pending_.back().type != LinkEventType::kOverflow) {
            pending_.push_back(LinkEvent{.type = LinkEventType::kOverflow});
          }
          continue;
        }
        return absl::UnavailableError(base::StrCat("watch links: recv: ", std::strerror(errno)));
      }
      if (len == 0) return absl::OkStatus();
      int left = static_cast<int>(len);
      for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); nlmsg_ok(h, left);
           h = nlmsg_next(h, &left)) {
        if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) continue;
        NetworkLink l;
        if (!ParseLink(h, &l)) continue;
        pending_.push_back(LinkEvent{.type = h->nlmsg_type == RTM_NEWLINK ? LinkEventType::kNewLink
                                                                          : LinkEventType::kDelLink,
                                     .index = l.index,
                                     .name = l.name});
      }
    }
  }

  SockPtr sk_;
  const int wake_fd_;
  NetlinkStats* const stats_;
  std::deque<LinkEvent> pending_;
};

}  // namespace

struct LibnlNetlink::Impl {
  // -1: the namespace of the thread that created it (never changes in the
  // agent); otherwise a duplicate of the target namespace's fd.
  int netns_fd = -1;
  NetlinkStats* stats = nullptr;
  absl::Mutex mu;
  SockPtr sk ABSL_GUARDED_BY(mu);

  ~Impl() {
    if (netns_fd >= 0) ::close(netns_fd);
  }

  absl::Status EnsureConnected() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (sk) return absl::OkStatus();
    ASSIGN_OR_RETURN(sk, ConnectRoute(netns_fd, 0));
    return absl::OkStatus();
  }

  // Sends `msg` and waits for the kernel's ack.
  absl::Status Transact(nl_msg* msg, std::string_view what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    RETURN_IF_ERROR(base::Annotate(EnsureConnected(), what));
    int rc = nl_send_auto(sk.get(), msg);
    if (rc < 0) {
      sk.reset();
      return LibnlError(rc, what);
    }
    CbPtr cb(nl_cb_alloc(NL_CB_DEFAULT));
    if (!cb) return absl::ResourceExhaustedError(base::StrCat(what, ": allocate callbacks"));
    AckState ack;
    nl_cb_err(cb.get(), NL_CB_CUSTOM, OnError, &ack);
    nl_cb_set(cb.get(), NL_CB_ACK, NL_CB_CUSTOM, OnAck, nullptr);
    rc = nl_recvmsgs(sk.get(), cb.get());
    if (ack.error != 0) return KernelError(ack.error, what, ack.ext_ack);
    if (rc < 0) {
      sk.reset();
      return LibnlError(rc, what);
    }
    return absl::OkStatus();
  }

  // Dumps `type` with `header` as the request payload, calling `on_msg` for
  // every reply message. The one place NLE_DUMP_INTR is retried.
  absl::Status Dump(int type, const void* header, size_t header_len, std::string_view what,
                    const std::function<void(nlmsghdr*)>& on_msg,
                    const std::function<void()>& reset) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    for (int attempt = 1;; ++attempt) {
      RETURN_IF_ERROR(base::Annotate(EnsureConnected(), what));
      reset();
      MsgPtr msg(nlmsg_alloc_simple(type, NLM_F_DUMP));
      if (!msg ||
          nlmsg_append(msg.get(), const_cast<void*>(header), header_len, NLMSG_ALIGNTO) < 0) {
        return absl::ResourceExhaustedError(base::StrCat(what, ": build request"));
      }
      int rc = nl_send_auto(sk.get(), msg.get());
      if (rc < 0) {
        sk.reset();
        return LibnlError(rc, what);
      }
      CbPtr cb(nl_cb_alloc(NL_CB_DEFAULT));
      if (!cb) return absl::ResourceExhaustedError(base::StrCat(what, ": allocate callbacks"));
      AckState ack;
      nl_cb_err(cb.get(), NL_CB_CUSTOM, OnError, &ack);
      auto trampoline = [](nl_msg* m, void* arg) -> int {
        (*static_cast<const std::function<void(nlmsghdr*)>*>(arg))(nlmsg_hdr(m));
        return NL_OK;
      };
      nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, trampoline,
                const_cast<std::function<void(nlmsghdr*)>*>(&on_msg));
      rc = nl_recvmsgs(sk.get(), cb.get());
      if (ack.error != 0) return KernelError(ack.error, what, ack.ext_ack);
      if (rc == -NLE_DUMP_INTR) {
        if (stats != nullptr) stats->dump_retries_total.Inc();
        if (attempt < kMaxDumpAttempts) continue;
        return absl::AbortedError(base::StrCat(what, ": interrupted by concurrent changes ",
                                               kMaxDumpAttempts, " times in a row"));
      }
      if (rc < 0) {
        sk.reset();
        return LibnlError(rc, what);
      }
      return absl::OkStatus();
    }
  }

  // RTM_NEWLINK on an existing link ("ip link set"): `ifi` selects the link
  // and carries flag changes; `attrs` adds the attributes to change.
  absl::Status SetLink(const ifinfomsg& ifi, std::string_view what,
                       const std::function<int(nl_msg*)>& attrs) {
    MsgPtr msg(nlmsg_alloc_simple(RTM_NEWLINK, 0));
    if (!msg ||
        nlmsg_append(msg.get(), const_cast<ifinfomsg*>(&ifi), sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
        attrs(msg.get()) < 0) {
      return absl::ResourceExhaustedError(base::StrCat(what, ": build request"));
    }
    absl::MutexLock lock(&mu);
    return Transact(msg.get(), what);
  }

  absl::Status ChangeAddress(int type, int flags, const Address& a, std::string_view what) {
    const int family = a.prefix.family == IpFamily::kIpv4 ? AF_INET : AF_INET6;
    std::array<uint8_t, 16> bytes{};
    if (::inet_pton(family, a.prefix.address.c_str(), bytes.data()) != 1) {
      return absl::InvalidArgumentError(base::StrCat(what, ": address ",
                                                     base::Quote(a.prefix.address), " is not ",
                                                     IpFamilyName(a.prefix.family)));
    }
    const int len = family == AF_INET ? 4 : 16;
    MsgPtr msg(nlmsg_alloc_simple(type, flags));
    ifaddrmsg ifa = {};
    ifa.ifa_family = static_cast<uint8_t>(family);
    ifa.ifa_prefixlen = static_cast<uint8_t>(a.prefix.prefix_length);
    ifa.ifa_scope = static_cast<uint8_t>(a.scope);
    ifa.ifa_index = static_cast<uint32_t>(a.link_index);
    bool ok = msg && nlmsg_append(msg.get(), &ifa, sizeof(ifa), NLMSG_ALIGNTO) == 0 &&
              nla_put(msg.get(), IFA_LOCAL, len, bytes.data()) == 0 &&
              nla_put(msg.get(), IFA_ADDRESS, len, bytes.data()) == 0;
    if (ok && family == AF_INET && !a.broadcast.empty()) {
      std::array<uint8_t, 4> brd{};
      if (::inet_pton(AF_INET, a.broadcast.c_str(), brd.data()) != 1) {
        return absl::InvalidArgumentError(
            base::StrCat(what, ": broadcast ", base::Quote(a.broadcast), " is not ipv4"));
      }
      ok = nla_put(msg.get(), IFA_BROADCAST, 4, brd.data()) == 0;
    }
    if (!ok) return absl::ResourceExhaustedError(base::StrCat(what, ": build request"));
    absl::MutexLock lock(&mu);
    return Transact(msg.get(), what);
  }
};

LibnlNetlink::LibnlNetlink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LibnlNetlink::~LibnlNetlink() = default;

absl::StatusOr<std::unique_ptr<LibnlNetlink>> LibnlNetlink::Create(NetlinkStats* stats) {
  auto impl = std::make_unique<Impl>();
  impl->stats = stats;
  {
    absl::MutexLock lock(&impl->mu);
    RETURN_IF_ERROR(impl->EnsureConnected());
  }
  return std::unique_ptr<LibnlNetlink>(new LibnlNetlink(std::move(impl)));
}

absl::StatusOr<std::unique_ptr<LibnlNetlink>> LibnlNetlink::CreateInNetns(int netns_fd,
                                                                          NetlinkStats* stats) {
  auto impl = std::make_unique<Impl>();
  impl->stats = stats;
  impl->netns_fd = ::fcntl(netns_fd, F_DUPFD_CLOEXEC, 0);
  if (impl->netns_fd < 0) return base::ErrnoStatus(errno, "duplicate netns fd");
  {
    absl::MutexLock lock(&impl->mu);
    RETURN_IF_ERROR(impl->EnsureConnected());
  }
  return std::unique_ptr<LibnlNetlink>(new LibnlNetlink(std::move(impl)));
}

absl::StatusOr<std::vector<NetworkLink>> LibnlNetlink::ListLinks() {
  std::vector<NetworkLink> links;
  ifinfomsg hdr = {};
  hdr.ifi_family = AF_UNSPEC;
  absl::MutexLock lock(&impl_->mu);
  RETURN_IF_ERROR(impl_->Dump(
      RTM_GETLINK, &hdr, sizeof(hdr), "list links",
      [&](nlmsghdr* h) {
        NetworkLink l;
        if (h->nlmsg_type == RTM_NEWLINK && ParseLink(h, &l)) links.push_back(std::move(l));
      },
      [&] { links.clear(); }));
  std::sort(links.begin(), links.end(),
            [](const NetworkLink& a, const NetworkLink& b) { return a.index < b.index; });
  return links;
}

absl::StatusOr<std::vector<Address>> LibnlNetlink::ListAddresses(int link_index) {
  std::vector<Address> out;
  ifaddrmsg hdr = {};
  hdr.ifa_family = AF_UNSPEC;
  absl::MutexLock lock(&impl_->mu);
  RETURN_IF_ERROR(impl_->Dump(
      RTM_GETADDR, &hdr, sizeof(hdr), "list addresses",
      [&](nlmsghdr* h) {
        Address a;
        if (ParseAddress(h, &a) && (link_index == kAllLinks || a.link_index == link_index)) {
          out.push_back(std::move(a));
        }
      },
      [&] { out.clear(); }));
  std::sort(out.begin(), out.end(), [](const Address& a, const Address& b) {
    return std::tie(a.link_index, a.prefix.family, a.prefix.address, a.prefix.prefix_length) <
           std::tie(b.link_index, b.prefix.family, b.prefix.address, b.prefix.prefix_length);
  });
  return out;
}

absl::StatusOr<std::vector<int>> LibnlNetlink::DefaultRouteLinks(IpFamily family) {
  std::vector<int> out;
  rtmsg hdr = {};
  hdr.rtm_family = family == IpFamily::kIpv4 ? AF_INET : AF_INET6;
  absl::MutexLock lock(&impl_->mu);
  RETURN_IF_ERROR(impl_->Dump(
      RTM_GETROUTE, &hdr, sizeof(hdr), base::StrCat("list ", IpFamilyName(family), " routes"),
      [&](nlmsghdr* h) { ParseDefaultRoute(h, &out); }, [&] { out.clear(); }));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  out.erase(std::remove(out.begin(), out.end(), 0), out.end());
  return out;
}

absl::StatusOr<std::unique_ptr<LinkEventStream>> LibnlNetlink::WatchLinks() {
  ASSIGN_OR_RETURN(
      SockPtr sk,
      base::Annotate(ConnectRoute(impl_->netns_fd, kEventSocketBufferBytes), "watch links"));
  nl_socket_disable_seq_check(sk.get());
  int rc = nl_socket_add_membership(sk.get(), RTNLGRP_LINK);
  if (rc < 0) return LibnlError(rc, "watch links: join RTNLGRP_LINK");
  int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) return base::Annotate(base::ErrnoStatus(errno, "eventfd"), "watch links");
  return std::unique_ptr<LinkEventStream>(
      new LibnlLinkEventStream(std::move(sk), wake, impl_->stats));
}

namespace {
ifinfomsg LinkHeader(int index) {
  ifinfomsg ifi = {};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = index;
  return ifi;
}
}  // namespace

absl::Status LibnlNetlink::MoveLinkToNetns(int index, const NetnsHandle& target,
                                           std::string_view name_in_target) {
  std::string what = base::StrCat("move link ", index, " to netns ", target.description());
  if (target.fd() < 0) {
    return absl::InvalidArgumentError(base::StrCat(what, ": the namespace handle has no fd"));
  }
  std::string name(name_in_target);
  return impl_->SetLink(LinkHeader(index), what, [&](nl_msg* m) {
    if (nla_put_u32(m, IFLA_NET_NS_FD, static_cast<uint32_t>(target.fd())) < 0) return -1;
    if (!name.empty() && nla_put_string(m, IFLA_IFNAME, name.c_str()) < 0) return -1;
    return 0;
  });
}

absl::Status LibnlNetlink::RenameLink(int index, std::string_view name) {
  std::string n(name);
  return impl_->SetLink(LinkHeader(index),
                        base::StrCat("rename link ", index, " to ", base::Quote(name)),
                        [&](nl_msg* m) { return nla_put_string(m, IFLA_IFNAME, n.c_str()); });
}

absl::Status LibnlNetlink::SetMtu(int index, uint32_t mtu) {
  return impl_->SetLink(LinkHeader(index), base::StrCat("set mtu of link ", index, " to ", mtu),
                        [&](nl_msg* m) { return nla_put_u32(m, IFLA_MTU, mtu); });
}

absl::Status LibnlNetlink::SetUp(int index, bool up) {
  ifinfomsg ifi = LinkHeader(index);
  ifi.ifi_flags = up ? IFF_UP : 0;
  ifi.ifi_change = IFF_UP;
  return impl_->SetLink(ifi, base::StrCat("set link ", index, up ? " up" : " down"),
                        [](nl_msg*) { return 0; });
}

absl::Status LibnlNetlink::AddAddress(const Address& address) {
  return impl_->ChangeAddress(
      RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, address,
      base::StrCat("add address ", address.prefix.ToString(), " to link ", address.link_index));
}

absl::Status LibnlNetlink::DeleteAddress(const Address& address) {
  return impl_->ChangeAddress(RTM_DELADDR, 0, address,
                              base::StrCat("delete address ", address.prefix.ToString(),
                                           " from link ", address.link_index));
}

}  // namespace tessera::topology
