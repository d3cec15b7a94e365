#include "topology/pci_tree.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "base/parse.h"
#include "base/strings.h"

namespace tessera::topology {

absl::StatusOr<RootName> ParseRootName(std::string_view name) {
  auto invalid = [&] {
    return absl::InvalidArgumentError(
        base::StrCat("invalid root complex name ", base::Quote(name), ": want pciDDDD:BB"));
  };
  if (!base::StartsWith(name, "pci")) return invalid();
  base::SplitPair parts = base::SplitOnce(name.substr(3), ':');
  if (!parts.found || parts.first.empty() || parts.first.size() > 8 || parts.second.empty() ||
      parts.second.size() > 2) {
    return invalid();
  }
  auto domain = base::ParseHex(parts.first);
  auto bus = base::ParseHex(parts.second);
  if (!domain.ok() || !bus.ok() || *domain > 0xffffffffULL || *bus > 0xff) return invalid();
  // ParseHex accepts a "0x" prefix; a root name never has one.
  if (base::StartsWith(parts.first, "0x") || base::StartsWith(parts.second, "0x")) return invalid();
  return RootName{static_cast<uint32_t>(*domain), static_cast<uint8_t>(*bus)};
}

PciTree BuildPciTree(std::vector<PciFunction> functions) {
  PciTree tree;
  std::sort(functions.begin(), functions.end(),
            [](const PciFunction& a, const PciFunction& b) { return a.address < b.address; });
  functions.erase(std::unique(functions.begin(), functions.end(),
                              [](const PciFunction& a, const PciFunction& b) {
                                return a.address == b.address;
                              }),
                  functions.end());

  std::set<base::PciAddress> known;
  for (const PciFunction& f : functions) known.insert(f.address);

  // Roots, in (domain, bus) order.
  std::map<std::pair<uint32_t, uint8_t>, std::string> root_names;
  for (const PciFunction& f : functions) {
    if (f.root_name.empty()) continue;
    if (auto parsed = ParseRootName(f.root_name); parsed.ok()) {
      root_names.emplace(std::make_pair(parsed->domain, parsed->bus), f.root_name);
    }
  }
  std::map<std::string, int> root_index;
  for (const auto& [key, name] : root_names) {
    PciRoot root;
    root.name = name;
    root.domain = key.first;
    root.first_bus = key.second;
    root.last_bus = key.second;
    root_index[name] = static_cast<int>(tree.roots.size());
    tree.roots.push_back(std::move(root));
  }

  std::map<base::PciAddress, int> bridge_index;
  for (const PciFunction& f : functions) {
    if (!f.is_bridge) continue;
    bridge_index[f.address] = static_cast<int>(tree.bridges.size());
    PciBridge b;
    b.address = f.address;
    b.vendor_id = f.vendor_id;
    b.device_id = f.device_id;
    b.secondary_bus = f.secondary_bus;
    b.subordinate_bus = f.subordinate_bus;
    b.port_type = f.port_type;
    tree.bridges.push_back(b);
  }

  auto root_of = [&](const PciFunction& f) {
    auto it = root_index.find(f.root_name);
    return it == root_index.end() ? -1 : it->second;
  };
  auto parent_of = [&](const PciFunction& f) {
    for (auto it = f.upstream.rbegin(); it != f.upstream.rend(); ++it) {
      if (auto b = bridge_index.find(*it); b != bridge_index.end()) return b->second;
      if (!known.count(*it)) {
        tree.warnings.push_back(base::StrCat(f.address.ToString(), ": upstream function ",
                                             it->ToString(),
                                             " is not in bus/pci/devices; skipped in the tree"));
      }
      // A known non-bridge function in the path (a VMD controller, say) is
      // not a bridge of the model; keep walking up.
    }
    return -1;
  };
  auto widen_root = [&](int root, uint8_t bus) {
    if (root < 0) return;
    PciRoot& r = tree.roots[static_cast<size_t>(root)];
    r.last_bus = std::max(r.last_bus, bus);
  };

  for (const PciFunction& f : functions) {
    const int root = root_of(f);
    const int parent = parent_of(f);
    if (f.is_bridge) {
      PciBridge& b = tree.bridges[static_cast<size_t>(bridge_index[f.address])];
      b.root = root;
      b.parent = parent;
      widen_root(root, std::max(f.address.bus, f.subordinate_bus));
      continue;
    }
    widen_root(root, f.address.bus);
    PciDevice d;
    d.address = f.address;
    d.vendor_id = f.vendor_id;
    d.device_id = f.device_id;
    d.subsystem_vendor_id = f.subsystem_vendor_id;
    d.subsystem_device_id = f.subsystem_device_id;
    d.class_code = f.class_code;
    d.driver = f.driver;
    d.local_cpus = f.local_cpus;
    d.root = root;
    d.parent_bridge = parent;
    d.physfn = f.physfn;
    d.sriov_totalvfs = f.sriov_totalvfs;
    d.sriov_numvfs = f.sriov_numvfs;
    tree.devices.push_back(std::move(d));
    tree.sysfs_numa_node.push_back(f.sysfs_numa_node);
  }
  return tree;
}

void SortPciTree(NodeTopology& topology) {
  auto permutation = [](size_t n, auto less) {
    std::vector<int> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = static_cast<int>(i);
    std::stable_sort(order.begin(), order.end(), less);
    std::vector<int> new_index(n);
    for (size_t i = 0; i < n; ++i) new_index[static_cast<size_t>(order[i])] = static_cast<int>(i);
    return std::make_pair(order, new_index);
  };
  auto remap = [](int index, const std::vector<int>& new_index) {
    return index < 0 ? -1 : new_index[static_cast<size_t>(index)];
  };

  auto& roots = topology.roots;
  auto [root_order, root_new] = permutation(roots.size(), [&](int a, int b) {
    const PciRoot& x = roots[static_cast<size_t>(a)];
    const PciRoot& y = roots[static_cast<size_t>(b)];
    return std::tie(x.domain, x.first_bus) < std::tie(y.domain, y.first_bus);
  });
  auto& bridges = topology.bridges;
  auto [bridge_order, bridge_new] = permutation(bridges.size(), [&](int a, int b) {
    return bridges[static_cast<size_t>(a)].address < bridges[static_cast<size_t>(b)].address;
  });
  auto& devices = topology.devices;
  auto [device_order, device_new] = permutation(devices.size(), [&](int a, int b) {
    return devices[static_cast<size_t>(a)].address < devices[static_cast<size_t>(b)].address;
  });

  std::vector<PciRoot> sorted_roots;
  for (int i : root_order) sorted_roots.push_back(std::move(roots[static_cast<size_t>(i)]));
  std::vector<PciBridge> sorted_bridges;
  for (int i : bridge_order) {
    PciBridge b = bridges[static_cast<size_t>(i)];
    b.root = remap(b.root, root_new);
    b.parent = remap(b.parent, bridge_new);
    sorted_bridges.push_back(b);
  }
  std::vector<PciDevice> sorted_devices;
  for (int i : device_order) {
    PciDevice d = std::move(devices[static_cast<size_t>(i)]);
    d.root = remap(d.root, root_new);
    d.parent_bridge = remap(d.parent_bridge, bridge_new);
    sorted_devices.push_back(std::move(d));
  }
  for (Link& l : topology.links) {
    l.a = remap(l.a, device_new);
    l.b = remap(l.b, device_new);
    if (l.a > l.b) std::swap(l.a, l.b);
  }
  std::sort(topology.links.begin(), topology.links.end(),
            [](const Link& x, const Link& y) { return std::tie(x.a, x.b) < std::tie(y.a, y.b); });
  roots = std::move(sorted_roots);
  bridges = std::move(sorted_bridges);
  devices = std::move(sorted_devices);
}

}  // namespace tessera::topology
