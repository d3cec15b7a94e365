// node-debug devices: one line per GPU, NPU and NIC (every PCI device with
// --all) with ids, driver, NUMA node, PCIe root and switch, and OS devices.
#include "CLI/CLI.hpp"
#include "spdlog/fmt/fmt.h"

#include "agent/debug/command.h"
#include "agent/debug/describe.h"
#include "agent/debug/options.h"
#include "agent/debug/output.h"
#include "topology/json.h"

namespace tessera::agent::debug {
namespace {

using topology::NodeTopology;
using topology::PciDevice;

class DevicesCommand final : public Command {
 public:
  std::string_view name() const override { return "devices"; }
  std::string_view summary() const override {
    return "List GPUs, NPUs and NICs with their NUMA node, PCIe root, switch and OS devices";
  }
  void AddOptions(CLI::App& app) override {
    AddSourceOptions(app, source_);
    AddOutputOption(app, format_);
    app.add_flag("--all", all_, "List every PCI device, not only GPUs, NPUs and NICs");
  }
  absl::Status Run(std::ostream& out) override {
    absl::StatusOr<NodeTopology> t = LoadSelected(source_);
    if (!t.ok()) return t.status();
    std::vector<const PciDevice*> shown;
    for (const PciDevice& d : t->devices) {
      if (all_ || topology::IsAccelerator(d.kind) || topology::IsNetwork(d.kind))
        shown.push_back(&d);
    }
    if (format_ != OutputFormat::kTable) {
      topology::Json devices = topology::Json::array();
      for (const PciDevice* d : shown) devices.push_back(topology::DeviceToJson(*t, *d));
      PrintDocument(out, format_, {{"source", t->source}, {"devices", devices}});
      return absl::OkStatus();
    }
    Table table({"PCI ADDRESS", "KIND", "VENDOR:DEVICE", "CLASS", "DRIVER", "NUMA", "PCIE ROOT",
                 "PCIE SWITCH", "OS DEVICES"});
    for (const PciDevice* d : shown) {
      const std::string root = t->PcieRootName(*d);
      table.AddRow({d->address.ToString(), std::string(topology::DeviceKindName(d->kind)),
                    VendorDevice(d->vendor_id, d->device_id),
                    fmt::format("{:04x}", d->class_code >> 8), d->driver.empty() ? "-" : d->driver,
                    NumaText(*d), root.empty() ? "-" : root,
                    d->pcie_switch ? d->pcie_switch->ToString() : "-", OsDeviceNames(*d)});
    }
    if (table.rows() == 0) {
      out << "No " << (all_ ? "PCI devices" : "GPUs, NPUs or NICs") << " found (" << t->source
          << ").\n";
      return absl::OkStatus();
    }
    table.Render(out);
    return absl::OkStatus();
  }

 private:
  SourceOptions source_;
  OutputFormat format_ = OutputFormat::kTable;
  bool all_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeDevicesCommand() { return std::make_unique<DevicesCommand>(); }

}  // namespace tessera::agent::debug
