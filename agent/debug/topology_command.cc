// node-debug topology: the node as a tree. NUMA nodes with their CPUs and
// memory; under each, the PCIe roots whose devices are local to it; under a
// root, the PCIe switches (nested when cascaded) and the GPUs, NPUs and NICs
// with their OS devices. --output json|yaml prints the whole model
// (docs/topology.md).
#include <map>
#include <optional>
#include <set>

#include "CLI/CLI.hpp"
#include "spdlog/fmt/fmt.h"

#include "agent/debug/command.h"
#include "agent/debug/describe.h"
#include "agent/debug/options.h"
#include "agent/debug/output.h"
#include "topology/json.h"

namespace tessera::agent::debug {
namespace {

using topology::DeviceKind;
using topology::NodeTopology;
using topology::PciDevice;

// Switch upstream ports and devices below one root, as a tree.
struct SwitchNode {
  std::map<int, SwitchNode> switches;     // by bridge index
  std::vector<const PciDevice*> devices;  // in address order
};

std::string DeviceLine(const PciDevice& d) {
  std::string line = fmt::format("{:<5} {} [{}]", topology::DeviceKindName(d.kind),
                                 d.address.ToString(), VendorDevice(d.vendor_id, d.device_id));
  if (std::string name = ProductName(d); !name.empty()) line += " " + name;
  if (!d.driver.empty()) line += " driver=" + d.driver;
  if (!d.os_devices.empty()) line += " os=" + OsDeviceNames(d);
  return line;
}

void PrintSwitches(const NodeTopology& t, const SwitchNode& node, int depth, std::ostream& out) {
  const std::string indent(static_cast<size_t>(depth) * 2, ' ');
  for (const PciDevice* d : node.devices) out << indent << DeviceLine(*d) << "\n";
  for (const auto& [index, child] : node.switches) {
    const topology::PciBridge& b = t.bridges[static_cast<size_t>(index)];
    out << indent << "switch " << b.address.ToString() << " ["
        << VendorDevice(b.vendor_id, b.device_id) << "]\n";
    PrintSwitches(t, child, depth + 1, out);
  }
}

void PrintTree(const NodeTopology& t, bool all, std::ostream& out) {
  out << "Node " << (t.hostname.empty() ? "-" : t.hostname) << " (" << t.source << ")\n";

  // Root -> tree of shown devices; -1 collects devices without a root.
  std::map<int, SwitchNode> roots;
  std::map<int, std::set<std::optional<int>>> root_numa;
  for (const PciDevice& d : t.devices) {
    if (!all && !topology::IsAccelerator(d.kind) && !topology::IsNetwork(d.kind)) continue;
    std::vector<int> chain;
    for (int b = d.parent_bridge, guard = 0; b >= 0 && b < static_cast<int>(t.bridges.size()) &&
                                             guard <= static_cast<int>(t.bridges.size());
         b = t.bridges[static_cast<size_t>(b)].parent, ++guard) {
      if (t.bridges[static_cast<size_t>(b)].switch_upstream) chain.push_back(b);
    }
    SwitchNode* node = &roots[d.root];
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) node = &node->switches[*it];
    node->devices.push_back(&d);
    root_numa[d.root].insert(d.numa_node);
  }
  auto numa_of_root = [&](int root) -> std::optional<int> {
    const auto& set = root_numa[root];
    if (set.size() == 1 && *set.begin()) return *set.begin();
    return std::nullopt;
  };
  auto print_root = [&](int root, const SwitchNode& tree) {
    out << "  "
        << (root >= 0 ? t.roots[static_cast<size_t>(root)].name : std::string("(no root complex)"))
        << "\n";
    PrintSwitches(t, tree, 2, out);
  };

  for (const topology::NumaNode& n : t.numa_nodes) {
    out << fmt::format("NUMA node {}  cpus {}  memory {}", n.id,
                       n.cpus.empty() ? "-" : n.cpus.ToListString(), HumanBytes(n.memory_bytes));
    if (!n.distances.empty())
      out << "  distances " << fmt::format("{}", fmt::join(n.distances, ","));
    out << "\n";
    for (const auto& [root, tree] : roots) {
      if (numa_of_root(root) == n.id) print_root(root, tree);
    }
  }
  bool header = false;
  for (const auto& [root, tree] : roots) {
    auto numa = numa_of_root(root);
    if (numa && t.FindNumaNode(*numa) != nullptr) continue;
    if (!header) out << "NUMA node unknown or mixed\n";
    header = true;
    print_root(root, tree);
  }

  std::map<DeviceKind, int> count;
  for (const PciDevice& d : t.devices) ++count[d.kind];
  out << fmt::format("{} GPUs, {} NPUs, {} RDMA NICs, {} NICs, {} other PCI devices{}\n",
                     count[DeviceKind::kGpu], count[DeviceKind::kNpu], count[DeviceKind::kRdma],
                     count[DeviceKind::kNic], count[DeviceKind::kOther],
                     all ? "" : " (not shown; --all shows them)");
  if (!t.warnings.empty()) {
    out << "Warnings (" << t.warnings.size() << "):\n";
    for (const std::string& w : t.warnings) out << "  " << w << "\n";
  }
}

class TopologyCommand final : public Command {
 public:
  std::string_view name() const override { return "topology"; }
  std::string_view summary() const override {
    return "Show NUMA nodes, PCIe roots and switches, and the GPUs, NPUs and NICs below them";
  }
  void AddOptions(CLI::App& app) override {
    AddSourceOptions(app, source_);
    AddOutputOption(app, format_);
    app.add_flag("--all", all_,
                 "Also show other PCI devices (storage, BMC display, ...) in the tree");
  }
  absl::Status Run(std::ostream& out) override {
    absl::StatusOr<NodeTopology> t = LoadSelected(source_);
    if (!t.ok()) return t.status();
    if (format_ == OutputFormat::kTable) {
      PrintTree(*t, all_, out);
    } else {
      PrintDocument(out, format_, topology::TopologyToJson(*t));
    }
    return absl::OkStatus();
  }

 private:
  SourceOptions source_;
  OutputFormat format_ = OutputFormat::kTable;
  bool all_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeTopologyCommand() { return std::make_unique<TopologyCommand>(); }

}  // namespace tessera::agent::debug
