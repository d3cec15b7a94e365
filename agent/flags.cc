#include "agent/flags.h"

#include <unistd.h>

#include <cctype>
#include <cstdlib>

#include "CLI/CLI.hpp"
#include "base/strings.h"

namespace tessera::agent {
namespace {

constexpr std::string_view kFamilies[] = {"gpu", "rdma", "npu"};

bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  auto alnum = [](char c) { return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)); };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  for (char c : s) {
    if (!alnum(c) && c != '-') return false;
  }
  return true;
}

absl::Status RequireAbsolute(std::string_view flag, const std::string& path, bool may_be_empty) {
  if (path.empty() && may_be_empty) return absl::OkStatus();
  if (path.empty() || path.front() != '/') {
    return absl::InvalidArgumentError(
        base::StrCat("--", flag, ": want an absolute path, got ", base::Quote(path)));
  }
  return absl::OkStatus();
}

std::string Hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "";
  return base::ToLower(buf);
}

}  // namespace

bool IsDnsSubdomain(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (std::string_view label : base::Split(name, '.')) {
    if (!IsDnsLabel(label)) return false;
  }
  return true;
}

std::vector<std::string> Config::DriverNames() const {
  std::vector<std::string> out;
  for (const std::string& family : drivers) out.push_back(base::StrCat(family, ".", driver_domain));
  return out;
}

absl::StatusOr<std::optional<Config>> ParseAgentFlags(int argc, const char* const* argv,
                                                      std::ostream& out) {
  Config c;
  CLI::App app{
      "tessera-agent: the Tessera DRA node agent. Discovers GPUs, NPUs and RDMA NICs, publishes\n"
      "them as resource.k8s.io/v1 ResourceSlices and serves the kubelet's DRA plugin API.\n"
      "Every flag has an environment twin (shown as ENV); the command line wins.",
      "tessera-agent"};
  app.set_version_flag("--version", "tessera-agent 0.1.0");
  app.get_formatter()->column_width(38);

  std::string drivers = base::Join(c.drivers, ",");
  std::string log_level = "info";
  std::string log_format = "text";
  int rescan_s = static_cast<int>(c.rescan_interval.count());
  int health_s = static_cast<int>(c.health_interval.count());

  app.add_option("--node-name", c.node_name, "This node's name (default: the hostname)")
      ->envname("NODE_NAME")->group("Identity");
  app.add_option("--driver-domain", c.driver_domain,
                 "Domain of the driver names (<family>.<domain>) and of shared attributes")
      ->envname("TESSERA_DRIVER_DOMAIN")->capture_default_str()->group("Identity");
  app.add_option("--drivers", drivers, "Comma-separated driver families to run: gpu,rdma,npu")
      ->envname("TESSERA_DRIVERS")->capture_default_str()->group("Identity");
  app.add_option("--pod-uid", c.pod_uid,
                 "This agent pod's uid: enables rolling-update socket names and the cross-instance lock")
      ->envname("POD_UID")->group("Identity");

  app.add_option("--kubeconfig", c.kubeconfig,
                 "kubeconfig file; without it and outside a cluster the agent runs standalone")
      ->envname("KUBECONFIG")->group("Kubernetes");
  app.add_flag("--standalone", c.standalone,
               "Use the file-backed store in <state-dir>/cluster even in a cluster")
      ->envname("TESSERA_STANDALONE")->group("Kubernetes");

  app.add_option("--plugin-dir", c.plugin_dir, "Kubelet plugin directory (DRA sockets)")
      ->envname("KUBELET_PLUGINS_DIR")->capture_default_str()->group("Paths");
  app.add_option("--registry-dir", c.registry_dir, "Kubelet plugin registration directory")
      ->envname("KUBELET_REGISTRAR_DIR")->capture_default_str()->group("Paths");
  app.add_option("--cdi-dir", c.cdi_dir, "Directory for the per-claim CDI specs")
      ->envname("CDI_ROOT")->capture_default_str()->group("Paths");
  app.add_option("--state-dir", c.state_dir, "Directory for checkpoints and standalone state")
      ->envname("TESSERA_STATE_DIR")->capture_default_str()->group("Paths");

  app.add_option("--host-root", c.host_root, "Host filesystem root (sys/, proc/, dev/) when in a container")
      ->envname("HOST_ROOT")->capture_default_str()->group("Hardware");
  app.add_option("--sysfs-root", c.sysfs_root,
                 "Read a captured or simulated node from DIR (holding sys/ and proc/)")
      ->envname("TESSERA_SYSFS_ROOT")->group("Hardware");
  app.add_option("--hwloc-xml", c.hwloc_xml, "Read a node's topology from an hwloc XML export")
      ->envname("TESSERA_HWLOC_XML")->group("Hardware");
  app.add_option("--dev-root", c.dev_root,
                 "Host prefix of device nodes (a simulated node's /dev), e.g. /var/lib/tessera/sim-dev")
      ->envname("TESSERA_DEV_ROOT")->group("Hardware");
  app.add_option("--nvml-lib", c.nvml_lib, "NVML library to dlopen")
      ->envname("TESSERA_NVML_LIB")->capture_default_str()->group("Hardware");
  app.add_option("--dcmi-lib", c.dcmi_lib, "Ascend DCMI library to dlopen (empty: never)")
      ->envname("TESSERA_DCMI_LIB")->capture_default_str()->group("Hardware");
  app.add_option("--hlml-lib", c.hlml_lib, "Gaudi HLML library to dlopen (empty: never)")
      ->envname("TESSERA_HLML_LIB")->capture_default_str()->group("Hardware");
  app.add_option("--npu-smi", c.npu_smi, "npu-smi executable, for Ascend vNPUs")
      ->envname("TESSERA_NPU_SMI")->capture_default_str()->group("Hardware");
  app.add_option("--netns-hook", c.netns_hook,
                 "tessera-netns-hook as the container runtime sees it (host path); empty: RDMA "
                 "netdev attachment is refused")
      ->envname("TESSERA_NETNS_HOOK")->group("Hardware");
  app.add_option("--npu-when-absent", c.npu_when_absent,
                 "On a node without NPUs: idle (empty pool) or skip (no NPU driver)")
      ->envname("TESSERA_NPU_WHEN_ABSENT")->capture_default_str()
      ->check(CLI::IsMember({"idle", "skip"}))->group("Hardware");

  app.add_flag("--publish-partitionable-devices", c.publish_partitionable,
               "Publish counter sets and partitions (KEP-4815; DRAPartitionableDevices gate)")
      ->envname("TESSERA_PUBLISH_PARTITIONABLE")->group("Publishing");
  app.add_flag("--publish-consumable-capacity", c.publish_consumable_capacity,
               "Publish shareable devices with capacities (KEP-5075; DRAConsumableCapacity gate)")
      ->envname("TESSERA_PUBLISH_CONSUMABLE_CAPACITY")->group("Publishing");
  app.add_option("--rescan-interval", rescan_s, "Seconds between full rescans (events also trigger one)")
      ->envname("TESSERA_RESCAN_INTERVAL")->capture_default_str()->check(CLI::Range(1, 86400))
      ->group("Publishing");
  app.add_option("--health-interval", health_s, "Seconds between health stream resends (at most 10)")
      ->envname("TESSERA_HEALTH_INTERVAL")->capture_default_str()->check(CLI::Range(1, 10))
      ->group("Publishing");

  app.add_option("--metrics-addr", c.metrics_addr,
                 "Serve /metrics, /healthz and /readyz on HOST:PORT (empty: off)")
      ->envname("TESSERA_METRICS_ADDR")->group("Operations");
  app.add_option("--log-level", log_level,
                 "Level, optionally per module: info,kubelet=debug,topology=trace")
      ->envname("TESSERA_LOG_LEVEL")->capture_default_str()->group("Operations");
  app.add_option("--log-format", log_format, "text or json")
      ->envname("TESSERA_LOG_FORMAT")->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}))->group("Operations");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    out << app.help();
    return std::optional<Config>();
  } catch (const CLI::CallForVersion& e) {
    out << e.what() << "\n";
    return std::optional<Config>();
  } catch (const CLI::ParseError& e) {
    return absl::InvalidArgumentError(base::StrCat(e.what(), " (see --help)"));
  }

  // Set by the kubelet in every pod; not flags, so read here directly.
  if (const char* h = std::getenv("KUBERNETES_SERVICE_HOST")) c.kubernetes_service_host = h;
  if (const char* p = std::getenv("KUBERNETES_SERVICE_PORT")) c.kubernetes_service_port = p;
  c.rescan_interval = std::chrono::seconds(rescan_s);
  c.health_interval = std::chrono::seconds(health_s);
  c.drivers.clear();
  for (std::string_view d : base::Split(drivers, ',', base::SplitMode::kSkipEmpty)) {
    d = base::StripWhitespace(d);
    bool known = false;
    for (std::string_view f : kFamilies) known |= (d == f);
    if (!known) {
      return absl::InvalidArgumentError(base::StrCat(
          "--drivers: unknown driver family ", base::Quote(d), " (want gpu, rdma, npu)"));
    }
    if (std::find(c.drivers.begin(), c.drivers.end(), d) == c.drivers.end()) {
      c.drivers.emplace_back(d);
    }
  }
  if (c.drivers.empty()) return absl::InvalidArgumentError("--drivers: no driver family given");
  if (!IsDnsSubdomain(c.driver_domain) || c.driver_domain.size() > 63 - 5) {
    return absl::InvalidArgumentError(base::StrCat(
        "--driver-domain: ", base::Quote(c.driver_domain),
        " is not a lower-case DNS subdomain short enough for driver names (<= 58 characters)"));
  }
  if (c.node_name.empty()) c.node_name = Hostname();
  if (!IsDnsSubdomain(c.node_name)) {
    return absl::InvalidArgumentError(
        base::StrCat("--node-name: ", base::Quote(c.node_name), " is not a DNS subdomain"));
  }
  if (!c.sysfs_root.empty() && !c.hwloc_xml.empty()) {
    return absl::InvalidArgumentError("--sysfs-root and --hwloc-xml exclude each other");
  }
  for (auto [flag, path, may_be_empty] :
       {std::tuple<std::string_view, const std::string&, bool>{"plugin-dir", c.plugin_dir, false},
        {"registry-dir", c.registry_dir, false},
        {"cdi-dir", c.cdi_dir, false},
        {"state-dir", c.state_dir, false},
        {"host-root", c.host_root, false},
        {"dev-root", c.dev_root, true}}) {
    if (absl::Status s = RequireAbsolute(flag, path, may_be_empty); !s.ok()) return s;
  }
  absl::StatusOr<base::log::Options> log = base::log::ParseLevels(log_level);
  if (!log.ok()) {
    return absl::InvalidArgumentError(base::StrCat("--log-level: ", base::Std(log.status().message())));
  }
  c.log = *log;
  c.log.json = log_format == "json";
  return std::optional<Config>(std::move(c));
}

}  // namespace tessera::agent
