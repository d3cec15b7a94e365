// node-debug claims: the claims the agent prepared on this node, read from
// each driver's checkpoint (without a running agent, without writing), with
// the CDI spec each one's containers use.
#include <algorithm>

#include "CLI/CLI.hpp"
#include "agent/claims/device_state.h"
#include "agent/debug/command.h"
#include "agent/debug/options.h"
#include "agent/debug/output.h"
#include "base/filesystem.h"
#include "base/strings.h"
#include "kubelet/checkpoint/records.h"

namespace tessera::agent::debug {
namespace {

using base::StrCat;
using Json = nlohmann::ordered_json;

class ClaimsCommand final : public Command {
 public:
  std::string_view name() const override { return "claims"; }
  std::string_view summary() const override {
    return "List prepared claims from the agent's checkpoints, with their CDI specs";
  }
  void AddOptions(CLI::App& app) override {
    app.add_option("--state-dir", state_dir_, "The agent's --state-dir")->capture_default_str();
    app.add_option("--cdi-dir", cdi_dir_, "The agent's --cdi-dir")->capture_default_str();
    app.add_option("--driver", driver_, "Only this driver (e.g. gpu.tessera.dev)");
    app.add_flag("--show-spec", show_spec_, "Print each claim's CDI spec");
    AddOutputOption(app, format_);
  }

  absl::Status Run(std::ostream& out) override {
    base::RealFilesystem fs;
    absl::StatusOr<std::vector<std::string>> entries = fs.ListDir(state_dir_);
    if (!entries.ok()) return entries.status();
    Json drivers = Json::array();
    Table table({"DRIVER", "CLAIM", "UID", "PHASE", "DEVICES", "CDI SPEC"});
    for (const std::string& entry : *entries) {
      // A driver's checkpoint directory is named after the driver.
      const std::string dir = StrCat(state_dir_, "/", entry);
      if (!fs.Exists(StrCat(dir, "/checkpoint.json"))) continue;
      if (!driver_.empty() && entry != driver_) continue;
      absl::StatusOr<CheckpointView> view = ReadCheckpoint(fs, dir, cdi_dir_, entry);
      if (!view.ok()) {
        table.AddRow({entry, "-", "-", "-", "-", StrCat("error: ", base::Std(view.status().message()))});
        drivers.push_back({{"driver", entry}, {"error", base::Std(view.status().message())}});
        continue;
      }
      Json claims = Json::array();
      for (const CheckpointedClaim& c : view->claims) {
        const auto& r = c.record;
        std::vector<std::string> devices;
        Json jdevices = Json::array();
        for (const auto& d : r.devices) {
          devices.push_back(d.share_id.empty() ? d.device : StrCat(d.device, "@", d.share_id.substr(0, 8)));
          jdevices.push_back({{"pool", d.pool},
                              {"device", d.device},
                              {"shareId", d.share_id},
                              {"requestNames", d.request_names},
                              {"cdiDeviceIds", d.cdi_ids}});
        }
        const std::string who = r.recovered ? "(recovered)" : StrCat(r.namespace_, "/", r.name);
        table.AddRow({entry, who, r.uid, std::string(kubelet::checkpoint::PhaseName(r.phase)), base::Join(devices, ","),
                      c.spec_present ? c.spec_path : StrCat(c.spec_path, " (missing)")});
        Json jc = {{"uid", r.uid},
                   {"namespace", r.namespace_},
                   {"name", r.name},
                   {"phase", std::string(kubelet::checkpoint::PhaseName(r.phase))},
                   {"recovered", r.recovered},
                   {"devices", jdevices},
                   {"cdiSpec", c.spec_path},
                   {"cdiSpecPresent", c.spec_present}};
        if (show_spec_ && c.spec_present) {
          absl::StatusOr<std::string> spec = fs.ReadFile(c.spec_path, 1 << 20);
          if (spec.ok()) jc["spec"] = Json::parse(*spec, nullptr, /*allow_exceptions=*/false);
        }
        claims.push_back(jc);
      }
      drivers.push_back({{"driver", entry},
                         {"bootId", view->boot_id},
                         {"sequence", view->sequence},
                         {"claims", claims}});
    }
    if (format_ != OutputFormat::kTable) {
      PrintDocument(out, format_, {{"stateDir", state_dir_}, {"cdiDir", cdi_dir_}, {"drivers", drivers}});
      return absl::OkStatus();
    }
    if (table.rows() == 0) {
      out << "No prepared claims in " << state_dir_ << ".\n";
      return absl::OkStatus();
    }
    table.Render(out);
    if (show_spec_) {
      for (const auto& d : drivers) {
        if (!d.contains("claims")) continue;
        for (const auto& c : d["claims"]) {
          if (!c.contains("spec")) continue;
          out << "\n# " << c["cdiSpec"].get<std::string>() << "\n" << c["spec"].dump(2) << "\n";
        }
      }
    }
    return absl::OkStatus();
  }

 private:
  std::string state_dir_ = "/var/lib/tessera";
  std::string cdi_dir_ = "/var/run/cdi";
  std::string driver_;
  bool show_spec_ = false;
  OutputFormat format_ = OutputFormat::kTable;
};

}  // namespace

std::unique_ptr<Command> MakeClaimsCommand() { return std::make_unique<ClaimsCommand>(); }

}  // namespace tessera::agent::debug
