// node-debug slices: the ResourceSlices the agent would publish for this node
// (or a captured/simulated one), built by the same drivers and slice builder
// the agent runs, without running it and without an API server.
#include "CLI/CLI.hpp"
#include "agent/app/node.h"
#include "agent/debug/command.h"
#include "agent/debug/options.h"
#include "agent/debug/output.h"
#include "agent/kube/slice_builder.h"
#include "agent/kube/yaml_json.h"
#include "base/clock.h"
#include "base/command_runner.h"
#include "base/filesystem.h"
#include "base/metrics.h"
#include "base/strings.h"
#include "spdlog/fmt/fmt.h"

namespace tessera::agent::debug {
namespace {

using base::StrCat;

class SlicesCommand final : public Command {
 public:
  std::string_view name() const override { return "slices"; }
  std::string_view summary() const override {
    return "Print the ResourceSlices the agent would publish for this node";
  }
  void AddOptions(CLI::App& app) override {
    app.add_option("--sysfs-root", config_.sysfs_root, "Read a captured or simulated node from DIR");
    app.add_option("--hwloc-xml", config_.hwloc_xml, "Read a node from an hwloc XML export");
    app.add_option("--host-root", config_.host_root, "Host root of the live node")->capture_default_str();
    app.add_option("--node-name", config_.node_name, "Node name (pool name)")->capture_default_str();
    app.add_option("--driver-domain", config_.driver_domain, "Driver domain")->capture_default_str();
    app.add_option("--drivers", drivers_, "Driver families: gpu,rdma,npu")->capture_default_str();
    app.add_option("--nvml-lib", config_.nvml_lib, "NVML library to dlopen")->capture_default_str();
    app.add_flag("--publish-partitionable-devices", config_.publish_partitionable,
                 "Include counter sets and partitions (KEP-4815)");
    app.add_flag("--publish-consumable-capacity", config_.publish_consumable_capacity,
                 "Publish shareable devices with capacities (KEP-5075)");
    app.add_option("--output,-o", format_, "table, json or yaml")
        ->capture_default_str()->check(CLI::IsMember({"table", "json", "yaml"}));
  }

  absl::Status Run(std::ostream& out) override {
    config_.drivers.clear();
    for (std::string_view d : base::Split(drivers_, ',', base::SplitMode::kSkipEmpty)) {
      config_.drivers.emplace_back(base::StripWhitespace(d));
    }
    if (!config_.sysfs_root.empty() && !config_.hwloc_xml.empty()) {
      return absl::InvalidArgumentError("--sysfs-root and --hwloc-xml exclude each other");
    }
    // Read-only: the drivers get a state dir they never write to here.
    config_.state_dir = "/nonexistent/node-debug";
    base::SystemClock clock;
    base::RealFilesystem fs;
    base::ProcessCommandRunner commands;
    base::metrics::Registry metrics;
    const Host host{.clock = clock, .fs = fs, .commands = commands, .metrics = metrics};
    absl::StatusOr<NodeView> node = OpenNodeSysfs(config_);
    if (!node.ok()) return node.status();
    if (absl::Status s = LoadNodeTopology(config_, *node); !s.ok()) return s;
    absl::StatusOr<drivers::DriverSet> set = MakeNodeDrivers(config_, *node, host);
    if (!set.ok()) return set.status();
    const kube::SliceBuildOptions options{.partitionable_devices = config_.publish_partitionable,
                                          .consumable_capacity = config_.publish_consumable_capacity};
    nlohmann::json all = nlohmann::json::array();
    Table table({"DRIVER", "POOL", "SLICE", "DEVICE", "KEY ATTRIBUTES"});
    for (const auto& driver : set->drivers) {
      const std::string name = kube::DriverName(driver->family(), config_.driver_domain);
      absl::StatusOr<drivers::Inventory> inventory = driver->Enumerate();
      if (!inventory.ok()) return inventory.status();
      absl::StatusOr<std::vector<nlohmann::json>> slices =
          kube::BuildSlices(name, config_.node_name, *inventory, options);
      if (!slices.ok()) return slices.status();
      for (size_t i = 0; i < slices->size(); ++i) {
        const nlohmann::json& slice = (*slices)[i];
        all.push_back(slice);
        const nlohmann::json& spec = slice["spec"];
        if (spec.contains("sharedCounters")) {
          table.AddRow({name, config_.node_name, StrCat(i), "(counter sets)",
                        StrCat(spec["sharedCounters"].size(), " sets")});
        }
        if (!spec.contains("devices")) continue;
        for (const nlohmann::json& d : spec["devices"]) {
          table.AddRow({name, config_.node_name, StrCat(i), d["name"].get<std::string>(), KeyAttributes(d)});
        }
      }
    }
    if (!set->nvml_error.empty()) {
      std::cerr << "node-debug: note: " << set->nvml_error << "\n";
    }
    if (format_ == "json") {
      out << nlohmann::json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", all}}.dump(2) << "\n";
    } else if (format_ == "yaml") {
      for (const nlohmann::json& slice : all) out << "---\n" << kube::JsonToYaml(slice);
    } else if (table.rows() == 0) {
      out << "No devices to publish.\n";
    } else {
      table.Render(out);
    }
    return absl::OkStatus();
  }

 private:
  static std::string KeyAttributes(const nlohmann::json& device) {
    std::vector<std::string> parts;
    if (!device.contains("attributes")) return "-";
    for (const char* key : {"productName", "model", "rdmaDevice", "resource.kubernetes.io/numaNode",
                            "resource.kubernetes.io/pcieRoot"}) {
      if (!device["attributes"].contains(key)) continue;
      const nlohmann::json& v = device["attributes"][key];
      std::string text = v.contains("string") ? v["string"].get<std::string>() : v.begin()->dump();
      std::string_view short_key = key;
      if (size_t slash = short_key.rfind('/'); slash != std::string_view::npos) {
        short_key.remove_prefix(slash + 1);
      }
      parts.push_back(StrCat(short_key, "=", text));
    }
    for (auto it = device["attributes"].begin(); it != device["attributes"].end(); ++it) {
      if (base::EndsWith(it.key(), "/pcieSwitch") && it->contains("string")) {
        parts.push_back(StrCat("pcieSwitch=", (*it)["string"].get<std::string>()));
      }
    }
    return parts.empty() ? "-" : base::Join(parts, " ");
  }

  Config config_{.node_name = "node"};
  std::string drivers_ = "gpu,rdma,npu";
  std::string format_ = "table";
};

}  // namespace

std::unique_ptr<Command> MakeSlicesCommand() { return std::make_unique<SlicesCommand>(); }

}  // namespace tessera::agent::debug
