// node-debug kubelet: act as the kubelet against this node's plugins, the
// way an operator exercises a live node:
//   register   find registration sockets, GetInfo, validate, notify
//   prepare    NodePrepareResources for claims given as ns/name/uid
//   unprepare  NodeUnprepareResources for the same
//   health     read the DRAResourceHealth stream
// It uses kubelet/kubelet_client.h, which applies the kubelet's own checks.
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "agent/debug/command.h"
#include "agent/debug/options.h"
#include "agent/debug/output.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "kubelet/kubelet_client.h"
#include "kubelet/socket_paths.h"

namespace tessera::agent::debug {
namespace {

using base::StrCat;
using Json = nlohmann::ordered_json;

absl::StatusOr<kubelet::ClaimRef> ParseClaim(std::string_view text) {
  std::vector<std::string_view> parts = base::Split(text, '/');
  if (parts.size() != 3 || parts[0].empty() || parts[1].empty() || parts[2].empty()) {
    return absl::InvalidArgumentError(
        StrCat("--claim ", base::Quote(text), ": want <namespace>/<name>/<uid>"));
  }
  return kubelet::ClaimRef{.uid = std::string(parts[2]),
                           .namespace_ = std::string(parts[0]),
                           .name = std::string(parts[1])};
}

class KubeletCommand final : public Command {
 public:
  std::string_view name() const override { return "kubelet"; }
  std::string_view summary() const override {
    return "Act as the kubelet: register, prepare, unprepare, watch health";
  }

  void AddOptions(CLI::App& app) override {
    app.require_subcommand(1);
    register_ = app.add_subcommand("register", "Find, validate and register plugins like the kubelet");
    register_->add_option("--registry-dir", registry_dir_, "Plugin registration directory")
        ->capture_default_str();
    register_->add_option("--driver", driver_, "Only this driver");
    AddOutputOption(*register_, format_);

    for (CLI::App** sub : {&prepare_, &unprepare_}) {
      const bool prepare = sub == &prepare_;
      *sub = app.add_subcommand(prepare ? "prepare" : "unprepare",
                                prepare ? "Call NodePrepareResources" : "Call NodeUnprepareResources");
      AddPluginOptions(**sub);
      (*sub)->add_option("--claim", claims_, "A claim as <namespace>/<name>/<uid> (repeatable)")
          ->required();
      AddOutputOption(**sub, format_);
    }
    health_ = app.add_subcommand("health", "Read the health stream (DRAResourceHealth)");
    AddPluginOptions(*health_);
    health_->add_option("--updates", updates_, "Stop after this many updates")
        ->capture_default_str()->check(CLI::Range(1, 1000000));
    AddOutputOption(*health_, format_);
  }

  absl::Status Run(std::ostream& out) override {
    if (register_->parsed()) return Register(out);
    if (prepare_->parsed()) return Prepare(out, /*prepare=*/true);
    if (unprepare_->parsed()) return Prepare(out, /*prepare=*/false);
    return Health(out);
  }

 private:
  void AddPluginOptions(CLI::App& app) {
    app.add_option("--driver", driver_, "Driver name, e.g. gpu.tessera.dev")->required();
    app.add_option("--plugin-dir", plugin_dir_, "Kubelet plugin directory holding <driver>/dra.sock")
        ->capture_default_str();
    app.add_option("--endpoint", endpoint_, "DRA socket path (default: <plugin-dir>/<driver>/dra.sock)");
    app.add_option("--api", api_, "DRA API version: v1 or v1beta1")
        ->capture_default_str()->check(CLI::IsMember({"v1", "v1beta1"}));
  }

  absl::StatusOr<std::unique_ptr<kubelet::DraPluginClient>> Connect() {
    std::string endpoint = endpoint_;
    if (endpoint.empty()) {
      ASSIGN_OR_RETURN(kubelet::PluginPaths paths,
                             kubelet::ComputePluginPaths({.driver_name = driver_,
                                                          .plugin_dir = plugin_dir_}));
      endpoint = paths.dra_socket;
    }
    return kubelet::DraPluginClient::Connect(
        endpoint, api_ == "v1" ? kubelet::DraApiVersion::kV1 : kubelet::DraApiVersion::kV1beta1,
        std::chrono::seconds(5));
  }

  absl::Status Register(std::ostream& out) {
    absl::StatusOr<std::vector<std::string>> sockets = kubelet::FindRegistrationSockets(registry_dir_);
    if (!sockets.ok()) return sockets.status();
    Json plugins = Json::array();
    Table table({"SOCKET", "DRIVER", "ENDPOINT", "API", "HEALTH", "RESULT"});
    int failures = 0;
    for (const std::string& socket : *sockets) {
      absl::StatusOr<kubelet::PluginInfo> info = kubelet::GetPluginInfo(socket);
      if (info.ok() && !driver_.empty() && info->name != driver_) continue;
      absl::StatusOr<kubelet::ValidatedPlugin> plugin =
          info.ok() ? kubelet::RegisterPlugin(socket, driver_) : info.status();
      std::string result = plugin.ok() ? "registered" : std::string(base::Std(plugin.status().message()));
      if (!plugin.ok()) ++failures;
      Json entry = {{"socket", socket},
                    {"driver", info.ok() ? info->name : ""},
                    {"endpoint", plugin.ok() ? plugin->endpoint : ""},
                    {"api", plugin.ok() ? std::string(kubelet::DraApiVersionName(plugin->api)) : ""},
                    {"health", plugin.ok() && plugin->health},
                    {"registered", plugin.ok()},
                    {"error", plugin.ok() ? "" : result}};
      plugins.push_back(entry);
      table.AddRow({socket, entry["driver"], entry["endpoint"], entry["api"],
                    plugin.ok() && plugin->health ? "yes" : "no", result});
    }
    if (format_ != OutputFormat::kTable) {
      PrintDocument(out, format_, {{"registryDir", registry_dir_}, {"plugins", plugins}});
    } else if (table.rows() == 0) {
      out << "No plugin registration sockets in " << registry_dir_ << ".\n";
    } else {
      table.Render(out);
    }
    if (failures > 0) {
      return absl::FailedPreconditionError(StrCat(failures, " plugin(s) failed registration"));
    }
    return absl::OkStatus();
  }

  absl::Status Prepare(std::ostream& out, bool prepare) {
    std::vector<kubelet::ClaimRef> refs;
    for (const std::string& c : claims_) {
      absl::StatusOr<kubelet::ClaimRef> ref = ParseClaim(c);
      if (!ref.ok()) return ref.status();
      refs.push_back(*ref);
    }
    absl::StatusOr<std::unique_ptr<kubelet::DraPluginClient>> client = Connect();
    if (!client.ok()) return client.status();
    Json claims = Json::array();
    int failed = 0;
    if (prepare) {
      absl::StatusOr<kubelet::PrepareResponse> r = (*client)->NodePrepareResources(refs);
      if (!r.ok()) return r.status();
      if (absl::Status s = kubelet::CheckPrepareResponse(refs, *r); !s.ok()) return s;
      Table table({"CLAIM", "REQUESTS", "POOL", "DEVICE", "SHARE", "CDI DEVICE IDS"});
      for (const kubelet::ClaimRef& ref : refs) {
        const kubelet::ClaimPrepareResponse& c = r->at(ref.uid);
        const std::string who = StrCat(ref.namespace_, "/", ref.name);
        Json devices = Json::array();
        for (const kubelet::PreparedDevice& d : c.devices) {
          devices.push_back({{"requestNames", d.request_names},
                             {"poolName", d.pool_name},
                             {"deviceName", d.device_name},
                             {"cdiDeviceIds", d.cdi_device_ids},
                             {"shareId", d.share_id.value_or("")}});
          table.AddRow({who, base::Join(d.request_names, ","), d.pool_name, d.device_name,
                        d.share_id.value_or("-"), base::Join(d.cdi_device_ids, " ")});
        }
        if (!c.error.empty()) {
          ++failed;
          table.AddRow({who, "-", "-", "-", "-", StrCat("error: ", c.error)});
        }
        claims.push_back({{"namespace", ref.namespace_}, {"name", ref.name}, {"uid", ref.uid},
                          {"error", c.error}, {"devices", devices}});
      }
      if (format_ == OutputFormat::kTable) table.Render(out);
    } else {
      absl::StatusOr<kubelet::UnprepareResponse> r = (*client)->NodeUnprepareResources(refs);
      if (!r.ok()) return r.status();
      if (absl::Status s = kubelet::CheckUnprepareResponse(refs, *r); !s.ok()) return s;
      Table table({"CLAIM", "UID", "RESULT"});
      for (const kubelet::ClaimRef& ref : refs) {
        const std::string& error = r->at(ref.uid);
        if (!error.empty()) ++failed;
        table.AddRow({StrCat(ref.namespace_, "/", ref.name), ref.uid,
                      error.empty() ? "unprepared" : StrCat("error: ", error)});
        claims.push_back({{"namespace", ref.namespace_}, {"name", ref.name}, {"uid", ref.uid},
                          {"error", error}});
      }
      if (format_ == OutputFormat::kTable) table.Render(out);
    }
    if (format_ != OutputFormat::kTable) PrintDocument(out, format_, {{"claims", claims}});
    if (failed > 0) {
      return absl::FailedPreconditionError(
          StrCat(failed, " claim(s) failed to ", prepare ? "prepare" : "unprepare"));
    }
    return absl::OkStatus();
  }

  absl::Status Health(std::ostream& out) {
    absl::StatusOr<std::unique_ptr<kubelet::DraPluginClient>> client = Connect();
    if (!client.ok()) return client.status();
    absl::StatusOr<std::unique_ptr<kubelet::HealthWatch>> watch = (*client)->WatchResources();
    if (!watch.ok()) return watch.status();
    for (int i = 0; i < updates_; ++i) {
      absl::StatusOr<std::vector<kubelet::DeviceHealth>> update = (*watch)->Next();
      if (!update.ok()) return update.status();
      Json devices = Json::array();
      Table table({"POOL", "DEVICE", "HEALTH", "MESSAGE"});
      for (const kubelet::DeviceHealth& d : *update) {
        std::string health = d.health == kubelet::HealthStatus::kHealthy     ? "Healthy"
                             : d.health == kubelet::HealthStatus::kUnhealthy ? "Unhealthy"
                                                                             : "Unknown";
        devices.push_back({{"pool", d.pool_name}, {"device", d.device_name}, {"health", health},
                           {"message", d.message}});
        table.AddRow({d.pool_name, d.device_name, health, d.message.empty() ? "-" : d.message});
      }
      if (format_ == OutputFormat::kTable) {
        out << "update " << (i + 1) << ": " << update->size() << " devices\n";
        table.Render(out);
      } else {
        PrintDocument(out, format_, {{"update", i + 1}, {"devices", devices}});
      }
      out.flush();
    }
    (*watch)->Cancel();
    return absl::OkStatus();
  }

  CLI::App* register_ = nullptr;
  CLI::App* prepare_ = nullptr;
  CLI::App* unprepare_ = nullptr;
  CLI::App* health_ = nullptr;
  std::string registry_dir_{kubelet::kDefaultRegistryDir};
  std::string plugin_dir_{kubelet::kDefaultPluginDir};
  std::string driver_;
  std::string endpoint_;
  std::string api_ = "v1";
  std::vector<std::string> claims_;
  int updates_ = 1;
  OutputFormat format_ = OutputFormat::kTable;
};

}  // namespace

std::unique_ptr<Command> MakeKubeletCommand() { return std::make_unique<KubeletCommand>(); }

}  // namespace tessera::agent::debug
