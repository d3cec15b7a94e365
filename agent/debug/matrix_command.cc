// node-debug matrix: how every GPU, NPU and NIC pair is connected, in the
// layout and with the legend of `nvidia-smi topo -m`.
#include "CLI/CLI.hpp"

#include "agent/debug/command.h"
#include "agent/debug/describe.h"
#include "agent/debug/options.h"
#include "agent/debug/output.h"
#include "topology/json.h"

namespace tessera::agent::debug {
namespace {

using topology::DeviceKind;
using topology::LinkType;
using topology::NodeTopology;
using topology::PciDevice;

// nvidia-smi topo -m's legend, extended to NPUs and NICs.
constexpr std::pair<std::string_view, std::string_view> kLegend[] = {
    {"X", "Self"},
    {"SYS",
     "Connection traversing PCIe as well as the SMP interconnect between NUMA nodes (e.g., "
     "QPI/UPI)"},
    {"NODE",
     "Connection traversing PCIe as well as the interconnect between PCIe Host Bridges within a "
     "NUMA node"},
    {"PHB", "Connection traversing PCIe as well as a PCIe Host Bridge (typically the CPU)"},
    {"PXB",
     "Connection traversing multiple PCIe bridges (without traversing the PCIe Host Bridge)"},
    {"PIX", "Connection traversing at most a single PCIe bridge"},
};

struct Entry {
  std::string label;  // GPU0, NPU0, NIC0
  const PciDevice* device;
};

std::vector<Entry> Entries(const NodeTopology& t) {
  std::vector<Entry> out;
  int gpus = 0, npus = 0, nics = 0;
  for (DeviceKind kind : {DeviceKind::kGpu, DeviceKind::kNpu}) {
    for (const PciDevice* d : t.DevicesOfKind(kind)) {
      out.push_back({(kind == DeviceKind::kGpu ? "GPU" + std::to_string(gpus++)
                                               : "NPU" + std::to_string(npus++)),
                     d});
    }
  }
  // RDMA NICs first (NIC<i> then follows mlx5_<i> order on most nodes), then the others.
  for (DeviceKind kind : {DeviceKind::kRdma, DeviceKind::kNic}) {
    for (const PciDevice* d : t.DevicesOfKind(kind))
      out.push_back({"NIC" + std::to_string(nics++), d});
  }
  return out;
}

std::string Describe(const PciDevice& d) {
  std::string s = d.address.ToString() + " " + std::string(topology::DeviceKindName(d.kind)) +
                  " [" + VendorDevice(d.vendor_id, d.device_id) + "]";
  if (!d.os_devices.empty()) s += " " + OsDeviceNames(d);
  return s;
}

class MatrixCommand final : public Command {
 public:
  std::string_view name() const override { return "matrix"; }
  std::string_view summary() const override {
    return "Show how GPUs, NPUs and NICs are connected, like nvidia-smi topo -m";
  }
  void AddOptions(CLI::App& app) override {
    AddSourceOptions(app, source_);
    AddOutputOption(app, format_);
  }
  absl::Status Run(std::ostream& out) override {
    absl::StatusOr<NodeTopology> t = LoadSelected(source_);
    if (!t.ok()) return t.status();
    const std::vector<Entry> entries = Entries(*t);
    if (format_ != OutputFormat::kTable) {
      topology::Json devices = topology::Json::array();
      for (const Entry& e : entries) {
        devices.push_back({{"label", e.label},
                           {"pciBusID", e.device->address.ToString()},
                           {"kind", std::string(topology::DeviceKindName(e.device->kind))},
                           {"numaNode", e.device->numa_node ? topology::Json(*e.device->numa_node)
                                                            : topology::Json(nullptr)},
                           {"cpuAffinity", e.device->local_cpus.ToListString()}});
      }
      topology::Json links = topology::Json::array();
      for (const topology::Link& l : t->links) links.push_back(topology::LinkToJson(*t, l));
      topology::Json legend = topology::Json::object();
      for (const auto& [k, v] : kLegend) legend[std::string(k)] = std::string(v);
      PrintDocument(out, format_, {{"devices", devices}, {"links", links}, {"legend", legend}});
      return absl::OkStatus();
    }
    if (entries.empty()) {
      out << "No GPUs, NPUs or NICs found (" << t->source << ").\n";
      return absl::OkStatus();
    }
    std::vector<std::string> header = {""};
    for (const Entry& e : entries) header.push_back(e.label);
    header.push_back("CPU Affinity");
    header.push_back("NUMA Affinity");
    Table table(header);
    for (const Entry& row : entries) {
      std::vector<std::string> cells = {row.label};
      for (const Entry& col : entries) {
        cells.push_back(row.device == col.device ? "X"
                                                 : std::string(topology::LinkTypeName(
                                                       t->Relation(*row.device, *col.device))));
      }
      cells.push_back(row.device->local_cpus.empty() ? "-" : row.device->local_cpus.ToListString());
      cells.push_back(NumaText(*row.device));
      table.AddRow(std::move(cells));
    }
    table.Render(out);
    out << "\nLegend:\n\n";
    for (const auto& [k, v] : kLegend)
      out << "  " << k << std::string(5 - k.size(), ' ') << "= " << v << "\n";
    out << "\nDevices:\n\n";
    for (const Entry& e : entries) out << "  " << e.label << ": " << Describe(*e.device) << "\n";
    return absl::OkStatus();
  }

 private:
  SourceOptions source_;
  OutputFormat format_ = OutputFormat::kTable;
};

}  // namespace

std::unique_ptr<Command> MakeMatrixCommand() { return std::make_unique<MatrixCommand>(); }

}  // namespace tessera::agent::debug
