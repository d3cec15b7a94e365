#include "topology/netlink.h"

#include "base/log.h"
#include "base/strings.h"

namespace tessera::topology {

std::string_view OperStateName(OperState state) {
  switch (state) {
    case OperState::kUnknown:
      return "unknown";
    case OperState::kNotPresent:
      return "notpresent";
    case OperState::kDown:
      return "down";
    case OperState::kLowerLayerDown:
      return "lowerlayerdown";
    case OperState::kTesting:
      return "testing";
    case OperState::kDormant:
      return "dormant";
    case OperState::kUp:
      return "up";
  }
  return "unknown";
}

std::string_view LinkEventTypeName(LinkEventType type) {
  switch (type) {
    case LinkEventType::kNewLink:
      return "newlink";
    case LinkEventType::kDelLink:
      return "dellink";
    case LinkEventType::kOverflow:
      return "overflow";
  }
  return "unknown";
}

const NetworkLink* FindLinkByName(const std::vector<NetworkLink>& links, std::string_view name) {
  for (const NetworkLink& l : links) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

const NetworkLink* FindLinkByIndex(const std::vector<NetworkLink>& links, int index) {
  for (const NetworkLink& l : links) {
    if (l.index == index) return &l;
  }
  return nullptr;
}

const NetworkLink* FindLinkByMac(const std::vector<NetworkLink>& links, std::string_view mac) {
  if (mac.empty()) return nullptr;
  std::string want = base::ToLower(mac);
  const NetworkLink* found = nullptr;
  for (const NetworkLink& l : links) {
    if (l.mac == want || l.permanent_mac == want) {
      if (found != nullptr) return nullptr;  // ambiguous
      found = &l;
    }
  }
  return found;
}

NetlinkStats::NetlinkStats(base::metrics::Registry& registry)
    : available(registry.GetGauge("tessera_netlink_available",
                                  "1 while netlink link events are received, 0 when rescans "
                                  "poll only (degraded mode)")),
      events_total(
          registry.GetCounter("tessera_netlink_events_total", "Link events received from netlink")),
      event_overflows_total(
          registry.GetCounter("tessera_netlink_event_overflows_total",
                              "Times the kernel dropped link events (ENOBUFS), forcing a rescan")),
      dump_retries_total(registry.GetCounter(
          "tessera_netlink_dump_retries_total",
          "Netlink dumps restarted because the kernel marked them interrupted")) {}

std::unique_ptr<LinkEventStream> OpenLinkEventsOrDegrade(Netlink& netlink, NetlinkStats& stats) {
  absl::StatusOr<std::unique_ptr<LinkEventStream>> stream = netlink.WatchLinks();
  if (!stream.ok()) {
    stats.available.Set(0);
    base::log::Get("netlink")->warn(
        "link events unavailable, rescanning on the poll interval only error=\"{}\"",
        base::Std(stream.status().message()));
    return nullptr;
  }
  stats.available.Set(1);
  return std::move(stream).value();
}

}  // namespace tessera::topology
