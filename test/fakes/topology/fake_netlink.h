// FakeNetlink: an in-memory network namespace (links, addresses, default
// routes) behind the Netlink seam, with the kernel rules the netdev attach
// depends on: a moved link arrives down, without addresses, renamed if asked,
// keeping its index unless taken; renaming an up link fails (EBUSY); names and
// addresses are unique; MTU is checked against min/max. Tests set state
// directly (AddLink, AddAddressForTest, SetDefaultRouteLinks), push link
// events (PushEvent) and inject failures (FailNext).
//
// FakeNetworkNamespaces holds several FakeNetlinks (the host and "container"
// namespaces reachable by pid or path) so moves between them work; handles
// from it have fd -1 and are told apart by NetnsId.
//
// Thread-safe; events wake blocked LinkEventStream::Next calls.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

#include "base/strings.h"
#include "topology/netlink.h"
#include "topology/netns.h"

namespace tessera::testing {

class FakeNetworkNamespaces;

class FakeNetlink final : public topology::Netlink {
 public:
  enum class Op {
    kListLinks,
    kListAddresses,
    kDefaultRouteLinks,
    kWatchLinks,
    kMove,
    kRename,
    kSetMtu,
    kSetUp,
    kAddAddress,
    kDeleteAddress,
  };

  explicit FakeNetlink(topology::NetnsId id = {.device = 4, .inode = 4026531840},
                       FakeNetworkNamespaces* world = nullptr)
      : id_(id), world_(world) {}

  const topology::NetnsId& id() const { return id_; }

  // --- State for tests.

  // Adds a link; index 0 picks the next free index. Returns the index.
  int AddLink(topology::NetworkLink link) {
    std::lock_guard lock(mu_);
    return AddLinkLocked(std::move(link));
  }
  void RemoveLink(int index) {
    std::lock_guard lock(mu_);
    RemoveLinkLocked(index);
  }
  void AddAddressForTest(const topology::Address& a) {
    std::lock_guard lock(mu_);
    addresses_.push_back(a);
  }
  void SetDefaultRouteLinks(topology::IpFamily family, std::vector<int> indexes) {
    std::lock_guard lock(mu_);
    default_routes_[family] = std::move(indexes);
  }
  // Copies of the current state.
  std::vector<topology::NetworkLink> links() const {
    std::lock_guard lock(mu_);
    return links_;
  }
  std::optional<topology::NetworkLink> link(std::string_view name) const {
    std::lock_guard lock(mu_);
    const topology::NetworkLink* l = topology::FindLinkByName(links_, name);
    return l ? std::optional<topology::NetworkLink>(*l) : std::nullopt;
  }
  std::vector<topology::Address> addresses(int link_index) const {
    std::lock_guard lock(mu_);
    std::vector<topology::Address> out;
    for (const auto& a : addresses_) {
      if (a.link_index == link_index) out.push_back(a);
    }
    return out;
  }
  // Every successful change, in order: "move 7 net:[1001] net1", "mtu 7 1400", ...
  std::vector<std::string> changes() const {
    std::lock_guard lock(mu_);
    return changes_;
  }

  // The next call of `op` (on this namespace) fails with `status`; repeated
  // calls queue several failures. A failing call changes nothing.
  void FailNext(Op op, absl::Status status) {
    std::lock_guard lock(mu_);
    failures_[op].push_back(std::move(status));
  }
  // Delivers an event to every open stream.
  void PushEvent(topology::LinkEvent event) {
    {
      std::lock_guard lock(mu_);
      for (auto& q : queues_) q->push_back(event);
    }
    cv_.notify_all();
  }

  // --- Netlink.

  absl::StatusOr<std::vector<topology::NetworkLink>> ListLinks() override {
    std::lock_guard lock(mu_);
    if (absl::Status s = TakeFailure(Op::kListLinks); !s.ok()) return s;
    return links_;
  }
  absl::StatusOr<std::vector<topology::Address>> ListAddresses(int link_index) override {
    std::lock_guard lock(mu_);
    if (absl::Status s = TakeFailure(Op::kListAddresses); !s.ok()) return s;
    std::vector<topology::Address> out;
    for (const auto& a : addresses_) {
      if (link_index == kAllLinks || a.link_index == link_index) out.push_back(a);
    }
    return out;
  }
  absl::StatusOr<std::vector<int>> DefaultRouteLinks(topology::IpFamily family) override {
    std::lock_guard lock(mu_);
    if (absl::Status s = TakeFailure(Op::kDefaultRouteLinks); !s.ok()) return s;
    auto it = default_routes_.find(family);
    return it == default_routes_.end() ? std::vector<int>{} : it->second;
  }
  absl::StatusOr<std::unique_ptr<topology::LinkEventStream>> WatchLinks() override;

  absl::Status MoveLinkToNetns(int index, const topology::NetnsHandle& target,
                               std::string_view name_in_target) override;
  absl::Status RenameLink(int index, std::string_view name) override {
    std::lock_guard lock(mu_);
    if (absl::Status s = TakeFailure(Op::kRename); !s.ok()) return s;
    topology::NetworkLink* l = Find(index);
    if (l == nullptr) return NoSuchLink("rename", index);
    if (l->up) return absl::FailedPreconditionError("rename link: device or resource busy");
    if (l->name != name && topology::FindLinkByName(links_, name) != nullptr) {
      return absl::AlreadyExistsError(base::StrCat("rename link: ", name, " exists"));
    }
    l->name = std::string(name);
    changes_.push_back(base::StrCat("rename ", index, " ", name));
    return absl::OkStatus();
  }
  absl::Status SetMtu(int index, uint32_t mtu) override {
    std::lock_guard lock(mu_);
    if (absl::Status s = TakeFailure(Op::kSetMtu); !s.ok()) return s;
    topology::NetworkLink* l = Find(index);
    if (l == nullptr) return NoSuchLink("set mtu", index);
    uint32_t max = l->max_mtu != 0 ? l->max_mtu : 65535;
    if (mtu < l->min_mtu || mtu > max) {
      return absl::InvalidArgumentError(base::StrCat("set mtu: ", mtu, " out of range"));
    }
    l->mtu = mtu;
    changes_.push_back(base::StrCat("mtu ", index, " ", mtu));
    return absl::OkStatus();
  }
  absl::Status SetUp(int index, bool up) override {
    std::lock_guard lock(mu_);
    if (absl::Status s = TakeFailure(Op::kSetUp); !s.ok()) return s;
    topology::NetworkLink* l = Find(index);
    if (l == nullptr) return NoSuchLink("set up", index);
    l->up = up;
    l->lower_up = up;
    l->oper_state = up ? topology::OperState::kUp : topology::OperState::kDown;
    changes_.push_back(base::StrCat(up ? "up " : "down ", index));
    return absl::OkStatus();
  }
  absl::Status AddAddress(const topology::Address& address) override {
    std::lock_guard lock(mu_);
    if (absl::Status s = TakeFailure(Op::kAddAddress); !s.ok()) return s;
    if (Find(address.link_index) == nullptr) return NoSuchLink("add address", address.link_index);
    for (const auto& a : addresses_) {
      if (a.link_index == address.link_index && a.prefix.address == address.prefix.address) {
        return absl::AlreadyExistsError(
            base::StrCat("add address ", address.prefix.ToString(), ": file exists"));
      }
    }
    addresses_.push_back(address);
    changes_.push_back(
        base::StrCat("addr add ", address.link_index, " ", address.prefix.ToString()));
    return absl::OkStatus();
  }
  absl::Status DeleteAddress(const topology::Address& address) override {
    std::lock_guard lock(mu_);
    if (absl::Status s = TakeFailure(Op::kDeleteAddress); !s.ok()) return s;
    auto it = std::find_if(addresses_.begin(), addresses_.end(), [&](const auto& a) {
      return a.link_index == address.link_index && a.prefix == address.prefix;
    });
    if (it == addresses_.end()) {
      return absl::NotFoundError(
          base::StrCat("delete address ", address.prefix.ToString(), ": not found"));
    }
    addresses_.erase(it);
    changes_.push_back(
        base::StrCat("addr del ", address.link_index, " ", address.prefix.ToString()));
    return absl::OkStatus();
  }

 private:
  friend class FakeNetworkNamespaces;

  class Stream final : public topology::LinkEventStream {
   public:
    Stream(FakeNetlink& owner, std::shared_ptr<std::deque<topology::LinkEvent>> queue)
        : owner_(owner), queue_(std::move(queue)) {}
    ~Stream() override {
      std::lock_guard lock(owner_.mu_);
      std::erase(owner_.queues_, queue_);
    }
    absl::StatusOr<topology::LinkEvent> Next(std::stop_token stop) override {
      std::unique_lock lock(owner_.mu_);
      if (!owner_.cv_.wait(lock, stop, [&] { return !queue_->empty(); })) {
        return absl::CancelledError("watch links: stopped");
      }
      topology::LinkEvent e = queue_->front();
      queue_->pop_front();
      return e;
    }

   private:
    FakeNetlink& owner_;
    std::shared_ptr<std::deque<topology::LinkEvent>> queue_;
  };

  absl::Status TakeFailure(Op op) {
    auto it = failures_.find(op);
    if (it == failures_.end() || it->second.empty()) return absl::OkStatus();
    absl::Status s = it->second.front();
    it->second.erase(it->second.begin());
    return s;
  }
  topology::NetworkLink* Find(int index) {
    for (auto& l : links_) {
      if (l.index == index) return &l;
    }
    return nullptr;
  }
  static absl::Status NoSuchLink(std::string_view what, int index) {
    return absl::NotFoundError(base::StrCat(what, ": link ", index, ": no such device"));
  }
  int AddLinkLocked(topology::NetworkLink link) {
    if (link.index == 0 || Find(link.index) != nullptr) {
      int max = 0;
      for (const auto& l : links_) max = std::max(max, l.index);
      link.index = max + 1;
    }
    int index = link.index;
    links_.push_back(std::move(link));
    std::sort(links_.begin(), links_.end(),
              [](const auto& a, const auto& b) { return a.index < b.index; });
    return index;
  }
  void RemoveLinkLocked(int index) {
    std::erase_if(links_, [&](const auto& l) { return l.index == index; });
    std::erase_if(addresses_, [&](const auto& a) { return a.link_index == index; });
  }

  const topology::NetnsId id_;
  FakeNetworkNamespaces* const world_;
  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  std::vector<topology::NetworkLink> links_;
  std::vector<topology::Address> addresses_;
  std::map<topology::IpFamily, std::vector<int>> default_routes_;
  std::map<Op, std::vector<absl::Status>> failures_;
  std::vector<std::string> changes_;
  std::vector<std::shared_ptr<std::deque<topology::LinkEvent>>> queues_;
};

class FakeNetworkNamespaces final : public topology::NetworkNamespaces {
 public:
  FakeNetworkNamespaces() {
    host_ = std::make_unique<FakeNetlink>(topology::NetnsId{.device = 4, .inode = 1000}, this);
  }

  FakeNetlink& host() { return *host_; }

  // A new namespace reachable by OpenProcess(pid) (when pid > 0) and by
  // OpenPath(path) (when not empty). Starts with a loopback link "lo".
  FakeNetlink& AddNamespace(int pid, std::string path = "") {
    std::lock_guard lock(mu_);
    auto ns = std::make_unique<FakeNetlink>(
        topology::NetnsId{.device = 4, .inode = 1001 + namespaces_.size()}, this);
    ns->AddLink(topology::NetworkLink{
        .index = 1, .name = "lo", .up = true, .lower_up = true, .loopback = true, .mtu = 65536});
    FakeNetlink& ref = *ns;
    namespaces_.push_back(Entry{pid, std::move(path), std::move(ns)});
    return ref;
  }
  // The process exits and its namespace dies: virtual links (non-empty kind)
  // are destroyed, physical ones return to the host, as the kernel does.
  void KillNamespace(int pid) {
    std::unique_ptr<FakeNetlink> dead;
    {
      std::lock_guard lock(mu_);
      auto it = std::find_if(namespaces_.begin(), namespaces_.end(),
                             [&](const Entry& e) { return e.pid == pid; });
      if (it == namespaces_.end()) return;
      dead = std::move(it->ns);
      namespaces_.erase(it);
    }
    for (topology::NetworkLink l : dead->links()) {
      if (l.loopback || !l.kind.empty()) continue;
      l.up = false;
      l.lower_up = false;
      if (host_->link(l.name).has_value()) l.name = "dev0";
      host_->AddLink(std::move(l));
    }
  }
  void FailNextOpen(absl::Status status) {
    std::lock_guard lock(mu_);
    open_failures_.push_back(std::move(status));
  }

  FakeNetlink* Find(const topology::NetnsId& id) {
    if (host_->id() == id) return host_.get();
    std::lock_guard lock(mu_);
    for (auto& e : namespaces_) {
      if (e.ns->id() == id) return e.ns.get();
    }
    return nullptr;
  }

  absl::StatusOr<topology::NetnsHandle> OpenCurrent() override {
    if (absl::Status s = TakeOpenFailure(); !s.ok()) return s;
    return topology::NetnsHandle(-1, host_->id(), "/proc/self/ns/net");
  }
  absl::StatusOr<topology::NetnsHandle> OpenProcess(int pid) override {
    if (absl::Status s = TakeOpenFailure(); !s.ok()) return s;
    if (pid <= 0) return absl::InvalidArgumentError("open netns of process: bad pid");
    std::lock_guard lock(mu_);
    for (auto& e : namespaces_) {
      if (e.pid == pid) {
        return topology::NetnsHandle(-1, e.ns->id(), base::StrCat("/proc/", pid, "/ns/net"));
      }
    }
    return absl::NotFoundError(base::StrCat("open netns of process ", pid, ": no such process"));
  }
  absl::StatusOr<topology::NetnsHandle> OpenPath(std::string_view path) override {
    if (absl::Status s = TakeOpenFailure(); !s.ok()) return s;
    std::lock_guard lock(mu_);
    for (auto& e : namespaces_) {
      if (!e.path.empty() && e.path == path) {
        return topology::NetnsHandle(-1, e.ns->id(), std::string(path));
      }
      if (e.pid > 0 && path == base::StrCat("/proc/", e.pid, "/ns/net")) {
        return topology::NetnsHandle(-1, e.ns->id(), std::string(path));
      }
    }
    return absl::NotFoundError(base::StrCat("open netns ", path, ": no such file"));
  }
  absl::StatusOr<std::unique_ptr<topology::Netlink>> Connect(
      const topology::NetnsHandle& netns) override {
    FakeNetlink* ns = Find(netns.id());
    if (ns == nullptr) {
      return absl::NotFoundError(
          base::StrCat("connect netlink in ", netns.description(), ": namespace is gone"));
    }
    return std::unique_ptr<topology::Netlink>(new Proxy(*ns));
  }

 private:
  struct Entry {
    int pid;
    std::string path;
    std::unique_ptr<FakeNetlink> ns;
  };
  // A non-owning Netlink for Connect(): the namespace stays in the world.
  class Proxy final : public topology::Netlink {
   public:
    explicit Proxy(FakeNetlink& ns) : ns_(ns) {}
    absl::StatusOr<std::vector<topology::NetworkLink>> ListLinks() override {
      return ns_.ListLinks();
    }
    absl::StatusOr<std::vector<topology::Address>> ListAddresses(int i) override {
      return ns_.ListAddresses(i);
    }
    absl::StatusOr<std::vector<int>> DefaultRouteLinks(topology::IpFamily f) override {
      return ns_.DefaultRouteLinks(f);
    }
    absl::StatusOr<std::unique_ptr<topology::LinkEventStream>> WatchLinks() override {
      return ns_.WatchLinks();
    }
    absl::Status MoveLinkToNetns(int i, const topology::NetnsHandle& t,
                                 std::string_view n) override {
      return ns_.MoveLinkToNetns(i, t, n);
    }
    absl::Status RenameLink(int i, std::string_view n) override { return ns_.RenameLink(i, n); }
    absl::Status SetMtu(int i, uint32_t m) override { return ns_.SetMtu(i, m); }
    absl::Status SetUp(int i, bool u) override { return ns_.SetUp(i, u); }
    absl::Status AddAddress(const topology::Address& a) override { return ns_.AddAddress(a); }
    absl::Status DeleteAddress(const topology::Address& a) override { return ns_.DeleteAddress(a); }

   private:
    FakeNetlink& ns_;
  };

  absl::Status TakeOpenFailure() {
    std::lock_guard lock(mu_);
    if (open_failures_.empty()) return absl::OkStatus();
    absl::Status s = open_failures_.front();
    open_failures_.erase(open_failures_.begin());
    return s;
  }

  std::unique_ptr<FakeNetlink> host_;
  std::mutex mu_;
  std::vector<Entry> namespaces_;
  std::vector<absl::Status> open_failures_;
};

inline absl::StatusOr<std::unique_ptr<topology::LinkEventStream>> FakeNetlink::WatchLinks() {
  std::lock_guard lock(mu_);
  if (absl::Status s = TakeFailure(Op::kWatchLinks); !s.ok()) return s;
  auto queue = std::make_shared<std::deque<topology::LinkEvent>>();
  queues_.push_back(queue);
  return std::unique_ptr<topology::LinkEventStream>(new Stream(*this, std::move(queue)));
}

inline absl::Status FakeNetlink::MoveLinkToNetns(int index, const topology::NetnsHandle& target,
                                                 std::string_view name_in_target) {
  FakeNetlink* dst = world_ != nullptr ? world_->Find(target.id()) : nullptr;
  if (dst == nullptr) {
    return absl::NotFoundError(
        base::StrCat("move link ", index, ": target netns ", target.description(), " is gone"));
  }
  if (dst == this) {
    std::lock_guard lock(mu_);
    if (absl::Status s = TakeFailure(Op::kMove); !s.ok()) return s;
    if (Find(index) == nullptr) return NoSuchLink("move", index);
    return absl::OkStatus();  // the kernel treats a move to the same netns as a no-op
  }
  std::scoped_lock lock(mu_, dst->mu_);
  if (absl::Status s = TakeFailure(Op::kMove); !s.ok()) return s;
  topology::NetworkLink* l = Find(index);
  if (l == nullptr) return NoSuchLink("move", index);
  if (l->loopback) return absl::InvalidArgumentError("move link: the interface netns is immutable");
  topology::NetworkLink moved = *l;
  if (!name_in_target.empty()) moved.name = std::string(name_in_target);
  if (topology::FindLinkByName(dst->links_, moved.name) != nullptr) {
    return absl::AlreadyExistsError(base::StrCat("move link: ", moved.name, " exists in target"));
  }
  moved.up = false;
  moved.lower_up = false;
  moved.oper_state = topology::OperState::kDown;
  std::string old_name = l->name;
  RemoveLinkLocked(index);
  int new_index = dst->AddLinkLocked(std::move(moved));
  changes_.push_back(base::StrCat("move ", index, " ", target.id().ToString(), " ",
                                  name_in_target.empty() ? old_name : std::string(name_in_target)));
  for (auto& q : queues_) q->push_back({topology::LinkEventType::kDelLink, index, old_name});
  for (auto& q : dst->queues_) {
    q->push_back({topology::LinkEventType::kNewLink, new_index, dst->Find(new_index)->name});
  }
  cv_.notify_all();
  dst->cv_.notify_all();
  return absl::OkStatus();
}

}  // namespace tessera::testing
