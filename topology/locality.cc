#include "topology/locality.h"

#include <algorithm>
#include <set>
#include <utility>

namespace tessera::topology {
namespace {

enum class Facing {
  kDown,      // root port or switch downstream port: a link below it
  kUpstream,  // switch upstream port: an internal bus with downstream ports below
  kLeaf,      // other bridge (PCIe-to-PCI, PCI-to-PCI)
};

std::vector<int> ChainOf(const NodeTopology& t, const PciDevice& d) {
  std::vector<int> chain;  // nearest first
  int b = d.parent_bridge;
  // Bounded by the number of bridges: a malformed parent loop cannot hang us.
  for (size_t guard = 0;
       b >= 0 && b < static_cast<int>(t.bridges.size()) && guard <= t.bridges.size(); ++guard) {
    chain.push_back(b);
    b = t.bridges[static_cast<size_t>(b)].parent;
  }
  return chain;
}

std::set<int> NumaLocality(const NodeTopology& t, const PciDevice& d) {
  if (d.numa_node) return {*d.numa_node};
  std::set<int> out;
  for (const NumaNode& n : t.numa_nodes) {
    if (n.cpus.Intersects(d.local_cpus)) out.insert(n.id);
  }
  return out;
}

}  // namespace

std::optional<int> ResolveNumaNode(std::optional<int> sysfs_numa_node,
                                   const base::CpuSet& local_cpus,
                                   const std::vector<NumaNode>& numa_nodes) {
  if (sysfs_numa_node && *sysfs_numa_node >= 0) {
    for (const NumaNode& n : numa_nodes) {
      if (n.id == *sysfs_numa_node) return n.id;
    }
    return std::nullopt;
  }
  if (sysfs_numa_node && *sysfs_numa_node != -1) return std::nullopt;
  if (local_cpus.empty()) return std::nullopt;
  std::optional<int> found;
  for (const NumaNode& n : numa_nodes) {
    if (n.cpus.empty() || !local_cpus.IsSubsetOf(n.cpus)) continue;
    if (found) return std::nullopt;  // overlapping nodes: ambiguous
    found = n.id;
  }
  return found;
}

void MarkSwitchUpstreamPorts(std::vector<PciBridge>& bridges) {
  const size_t n = bridges.size();
  std::vector<std::vector<int>> children(n);
  std::vector<int> tops;
  for (size_t i = 0; i < n; ++i) {
    const int p = bridges[i].parent;
    if (p >= 0 && p < static_cast<int>(n) && p != static_cast<int>(i)) {
      children[static_cast<size_t>(p)].push_back(static_cast<int>(i));
    } else {
      tops.push_back(static_cast<int>(i));
    }
  }
  auto distinct_child_slots = [&](size_t i) {
    std::set<std::pair<uint8_t, uint8_t>> slots;
    for (int c : children[i]) {
      const auto& a = bridges[static_cast<size_t>(c)].address;
      slots.insert({a.bus, a.device});
    }
    return slots.size();
  };
  auto facing_of_known = [](PciePortType t) {
    switch (t) {
      case PciePortType::kRootPort:
      case PciePortType::kSwitchDownstream:
      case PciePortType::kPciToPcieBridge:
        return Facing::kDown;
      case PciePortType::kSwitchUpstream:
        return Facing::kUpstream;
      default:
        return Facing::kLeaf;
    }
  };

  std::vector<bool> seen(n, false);
  // (bridge, what the port above it faces), iterative DFS from the tops.
  std::vector<std::pair<int, Facing>> stack;
  stack.reserve(n);
  for (int t : tops) stack.emplace_back(t, Facing::kDown);  // unknown tops: root ports
  while (!stack.empty()) {
    auto [i, above] = stack.back();
    stack.pop_back();
    const size_t u = static_cast<size_t>(i);
    if (seen[u]) continue;
    seen[u] = true;
    PciBridge& b = bridges[u];
    Facing facing;
    if (b.port_type != PciePortType::kUnknown) {
      facing = facing_of_known(b.port_type);
    } else if (distinct_child_slots(u) >= 2) {
      facing = Facing::kUpstream;
    } else {
      // A top-level bridge is taken for the root port (tops are pushed with
      // kDown above them, but a root port itself faces down).
      const bool top = b.parent < 0 || b.parent >= static_cast<int>(n);
      if (top || above == Facing::kUpstream) {
        facing = Facing::kDown;
      } else if (above == Facing::kDown) {
        facing = children[u].empty() ? Facing::kLeaf : Facing::kUpstream;
      } else {
        facing = Facing::kLeaf;
      }
    }
    b.switch_upstream = facing == Facing::kUpstream;
    for (int c : children[u]) stack.emplace_back(c, facing);
  }
  // Bridges on a parent cycle (malformed input) are never reached from a top.
  for (size_t i = 0; i < n; ++i) {
    if (!seen[i])
      bridges[i].switch_upstream = bridges[i].port_type == PciePortType::kSwitchUpstream;
  }
}

std::optional<base::PciAddress> NearestSwitchUpstream(const std::vector<PciBridge>& bridges,
                                                      int parent_bridge) {
  int b = parent_bridge;
  for (size_t guard = 0; b >= 0 && b < static_cast<int>(bridges.size()) && guard <= bridges.size();
       ++guard) {
    const PciBridge& bridge = bridges[static_cast<size_t>(b)];
    if (bridge.switch_upstream) return bridge.address;
    b = bridge.parent;
  }
  return std::nullopt;
}

LinkType RelationBetween(const NodeTopology& t, const PciDevice& a, const PciDevice& b) {
  if (a.root >= 0 && a.root == b.root) {
    const std::vector<int> chain_a = ChainOf(t, a);
    const std::vector<int> chain_b = ChainOf(t, b);
    for (size_t ia = 0; ia < chain_a.size(); ++ia) {
      auto it = std::find(chain_b.begin(), chain_b.end(), chain_a[ia]);
      if (it == chain_b.end()) continue;
      const size_t ib = static_cast<size_t>(it - chain_b.begin());
      // ia / ib: bridges strictly between each device and the common bridge.
      return ia <= 1 && ib <= 1 ? LinkType::kPix : LinkType::kPxb;
    }
    return LinkType::kPhb;
  }
  const std::set<int> la = NumaLocality(t, a);
  const std::set<int> lb = NumaLocality(t, b);
  return !la.empty() && la == lb ? LinkType::kNode : LinkType::kSys;
}

std::vector<Link> ComputeLinks(const NodeTopology& t) {
  std::vector<Link> links;
  const size_t n = t.devices.size();
  for (size_t i = 0; i < n; ++i) {
    const DeviceKind ki = t.devices[i].kind;
    if (!IsAccelerator(ki) && !IsNetwork(ki)) continue;
    for (size_t j = i + 1; j < n; ++j) {
      const DeviceKind kj = t.devices[j].kind;
      const bool pair = (IsAccelerator(ki) && (IsAccelerator(kj) || IsNetwork(kj))) ||
                        (IsNetwork(ki) && IsAccelerator(kj));
      if (!pair) continue;
      links.push_back(Link{static_cast<int>(i), static_cast<int>(j),
                           RelationBetween(t, t.devices[i], t.devices[j])});
    }
  }
  return links;
}

}  // namespace tessera::topology
