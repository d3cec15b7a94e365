#include "agent/app/agent.h"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "agent/app/internal/log.h"
#include "agent/app/lifecycle.h"
#include "agent/app/node.h"
#include "agent/app/ops_server.h"
#include "agent/claims/device_state.h"
#include "agent/kube/cluster.h"
#include "agent/kube/resource_slice_publisher.h"
#include "base/log.h"
#include "base/parse.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/sysfs.h"
#include "drivers/gpu/dev_nodes.h"
#include "drivers/rdma/rdma_driver.h"
#include "drivers/rdma/rescan.h"
#include "drivers/registry.h"
#include "kubelet/health_reporter.h"
#include "kubelet/plugin_server.h"
#include "kubelet/serializer.h"
#include "kubelet/socket_paths.h"
#include "topology/libnl_netlink.h"
#include "topology/loader.h"
#include "topology/netlink.h"

namespace tessera::agent {
namespace {

using base::StrCat;

using internal::Log;

kubelet::HealthStatus ToKubeletHealth(drivers::Health h) {
  switch (h) {
    case drivers::Health::kHealthy:
      return kubelet::HealthStatus::kHealthy;
    case drivers::Health::kUnhealthy:
      return kubelet::HealthStatus::kUnhealthy;
    case drivers::Health::kUnknown:
      return kubelet::HealthStatus::kUnknown;
  }
  return kubelet::HealthStatus::kUnknown;
}

}  // namespace

// Everything one driver family needs at run time. Members are declared in
// construction order, so they are destroyed in reverse: the publisher's
// thread first, then the sockets, then the claim state.
struct DriverRuntime {
  std::string name;  // "gpu.tessera.dev"
  drivers::DeviceDriver* driver = nullptr;
  std::unique_ptr<kubelet::HealthReporter> health;
  std::unique_ptr<DeviceState> state;
  std::unique_ptr<kubelet::PluginServer> server;
  std::unique_ptr<kube::Publisher> publisher;
  std::jthread publisher_thread;
  std::optional<drivers::Inventory> last_inventory;
};

struct Agent::Impl {
  Impl(Config c, Host h) : config(std::move(c)), host(h), lifecycle(h.clock) {}

  Config config;
  Host host;
  Lifecycle lifecycle;

  std::string boot_id;
  std::unique_ptr<NodeView> node;
  drivers::DriverSet driver_set;
  kube::Cluster cluster;
  std::vector<std::unique_ptr<DriverRuntime>> runtimes;

  // Rescan loop.
  std::jthread rescan_thread;
  std::mutex rescan_mu;
  bool rescan_requested = false;           // guarded by rescan_mu
  std::stop_source* current_wake = nullptr;  // guarded by rescan_mu
  std::atomic<uint64_t> rescans{0};
  std::atomic<int64_t> last_rescan_ms{0};  // monotonic, for liveness

  std::unique_ptr<OpsServer> ops;

  // Link and port events of a live node's RDMA NICs make the rescan happen
  // sooner (rate-limited and coalesced by the trigger).
  std::unique_ptr<topology::NetlinkStats> netlink_stats;
  std::unique_ptr<topology::Netlink> event_netlink;
  std::unique_ptr<drivers::rdma::RescanTrigger> link_trigger;
  std::unique_ptr<drivers::rdma::LinkEventWatcher> link_watcher;
  std::jthread link_thread;  // after what it uses: stopped and joined first

  absl::Status OpenHost();
  absl::Status Discover();
  absl::Status CreateDrivers();
  absl::Status ConnectApi();
  absl::Status RestoreClaims();
  absl::Status StartPlugins();
  absl::Status StartPublishers();
  absl::Status StartRescan();
  void StartLinkEvents();
  void StopLinkEvents();
  void RequestRescan();
  absl::Status ServeMetrics();

  void Rescan();
  void RescanLoop(std::stop_token stop);
  void Publish(DriverRuntime& rt, drivers::Inventory inventory);
  std::string NotReady() const;
};

absl::Status Agent::Impl::OpenHost() {
  RETURN_IF_ERROR(host.fs.CreateDirectories(config.state_dir, 0700));
  RETURN_IF_ERROR(host.fs.CreateDirectories(config.cdi_dir, 0755));
  // The boot id tells the claim state whether host state (MIG instances,
  // moved links, MPS daemons) survived since the last start.
  const std::string boot_id_path = JoinHost(config.host_root, "/proc/sys/kernel/random/boot_id");
  absl::StatusOr<std::string> raw = host.fs.ReadFile(boot_id_path, 4096);
  if (!raw.ok()) return base::Annotate(raw.status(), "read the node's boot id");
  boot_id = std::string(base::TrimValue(*raw));
  if (boot_id.empty()) {
    return absl::FailedPreconditionError(StrCat("read the node's boot id: ", boot_id_path, " is empty"));
  }

  ASSIGN_OR_RETURN(NodeView view, OpenNodeSysfs(config));
  node = std::make_unique<NodeView>(std::move(view));
  OpenRdmaHostSeams(config, *node);
  Log()->info("host opened node={} boot_id={} sysfs={} simulated={}", config.node_name, boot_id,
              node->sysfs->root(), config.simulated());
  return absl::OkStatus();
}

absl::Status Agent::Impl::Discover() {
  RETURN_IF_ERROR(LoadNodeTopology(config, *node));
  const topology::NodeTopology& model = *node->topology;
  std::map<topology::DeviceKind, int> kinds;
  for (const topology::PciDevice& d : model.devices) ++kinds[d.kind];
  Log()->info("discovered node source={} numa_nodes={} gpus={} npus={} rdma_nics={} nics={}",
              model.source, model.numa_nodes.size(), kinds[topology::DeviceKind::kGpu],
              kinds[topology::DeviceKind::kNpu], kinds[topology::DeviceKind::kRdma],
              kinds[topology::DeviceKind::kNic]);
  return absl::OkStatus();
}

absl::Status Agent::Impl::CreateDrivers() {
  ASSIGN_OR_RETURN(driver_set, MakeNodeDrivers(config, *node, host));
  if (!driver_set.nvml_error.empty()) {
    Log()->warn("nvml unavailable, nvidia gpus are listed but not preparable error={}",
                driver_set.nvml_error);
  }
  for (const auto& driver : driver_set.drivers) {
    auto rt = std::make_unique<DriverRuntime>();
    rt->name = StrCat(driver->family(), ".", config.driver_domain);
    rt->driver = driver.get();
    rt->health = std::make_unique<kubelet::HealthReporter>(host.clock);
    // A simulated node's device nodes, so that a container runtime can
    // inject them (podman in the demo and tests). Needs CAP_MKNOD.
    if (config.simulated() && !config.dev_root.empty()) {
      // Some drivers (npu) know their nodes only after a scan.
      if (absl::StatusOr<drivers::Inventory> scan = driver->Enumerate(); !scan.ok()) {
        Log()->warn("first scan failed driver={} error={}", rt->name,
                    base::Std(scan.status().message()));
      }
      std::vector<std::string> nodes = driver->DeviceNodePaths();
      if (!nodes.empty()) {
        if (absl::Status s = drivers::gpu::MaterializeDeviceNodes(config.dev_root, nodes); !s.ok()) {
          Log()->warn("could not create simulated device nodes driver={} dev_root={} error={}",
                      rt->name, config.dev_root, base::Std(s.message()));
        }
      }
    }
    runtimes.push_back(std::move(rt));
  }
  return absl::OkStatus();
}

absl::Status Agent::Impl::ConnectApi() {
  kube::ClusterOptions options;
  options.state_dir = config.state_dir;
  if (!config.standalone) {
    options.kubeconfig = config.kubeconfig;
    options.env = {.service_host = config.kubernetes_service_host,
                   .service_port = config.kubernetes_service_port};
  }
  ASSIGN_OR_RETURN(cluster, kube::ConnectCluster(host.fs, host.clock, host.metrics, options));
  Log()->info("api connected mode={}", cluster.description);
  return absl::OkStatus();
}

absl::Status Agent::Impl::RestoreClaims() {
  for (auto& rt : runtimes) {
    DeviceStateOptions options{.driver_name = rt->name,
                               .pool_name = config.node_name,
                               .cdi_dir = config.cdi_dir,
                               .checkpoint_dir = StrCat(config.state_dir, "/", rt->name),
                               .boot_id = boot_id,
                               .shared_with_other_instances = !config.pod_uid.empty()};
    // During a rolling update the other instance may be preparing claims:
    // reconcile writes the same checkpoint and CDI dir, so hold its lock.
    std::unique_ptr<kubelet::CallSerializer> serializer;
    std::optional<kubelet::CallSerializer::Lease> lease;
    if (!config.pod_uid.empty()) {
      ASSIGN_OR_RETURN(kubelet::PluginPaths paths,
                       kubelet::ComputePluginPaths({.driver_name = rt->name,
                                                    .plugin_dir = config.plugin_dir,
                                                    .registry_dir = config.registry_dir,
                                                    .pod_uid = config.pod_uid}));
      RETURN_IF_ERROR(host.fs.CreateDirectories(paths.plugin_data_dir, 0700));
      ASSIGN_OR_RETURN(serializer, kubelet::CallSerializer::Create(
                                       host.clock, {.lock_file = paths.serialize_lock}));
      ASSIGN_OR_RETURN(kubelet::CallSerializer::Lease l, serializer->Acquire(std::stop_token()));
      lease.emplace(std::move(l));
    }
    ASSIGN_OR_RETURN(rt->state, DeviceState::Create(std::move(options), *rt->driver,
                                                    *cluster.claims, host.fs, host.clock,
                                                    host.metrics));
    const ReconcileReport& r = rt->state->reconcile_report();
    Log()->info(
        "claims restored driver={} prepared={} rolled_back={} orphan_specs_removed={} "
        "specs_rewritten={} reapplied={} errors={}",
        rt->name, rt->state->Claims().size(), r.prepare_started_rolled_back,
        r.orphan_specs_removed, r.specs_rewritten, r.claims_reapplied, r.errors);
  }
  return absl::OkStatus();
}

absl::Status Agent::Impl::StartPlugins() {
  for (auto& rt : runtimes) {
    kubelet::PluginServerOptions options{.driver_name = rt->name,
                                         .plugin_dir = config.plugin_dir,
                                         .registry_dir = config.registry_dir,
                                         .pod_uid = config.pod_uid,
                                         .health_resend_interval = config.health_interval};
    ASSIGN_OR_RETURN(rt->server,
                     kubelet::PluginServer::Create(
                         std::move(options), {.claims = *rt->state,
                                              .health = *rt->health,
                                              .clock = host.clock,
                                              .fs = host.fs,
                                              .metrics = host.metrics}));
    Log()->info("kubelet plugin serving driver={} dra_socket={} registration_socket={}", rt->name,
                rt->server->paths().dra_socket, rt->server->paths().registration_socket);
  }
  return absl::OkStatus();
}

void Agent::Impl::Publish(DriverRuntime& rt, drivers::Inventory inventory) {
  std::vector<kubelet::DeviceHealth> health;
  health.reserve(inventory.devices.size());
  for (const drivers::Device& d : inventory.devices) {
    health.push_back({.pool_name = config.node_name,
                      .device_name = d.name,
                      .health = ToKubeletHealth(d.health),
                      .message = d.health_message});
  }
  rt.health->Report(std::move(health));
  // tessera_devices{driver, health}: every state gets a sample, so a device
  // turning unhealthy moves from one series to the other.
  std::map<drivers::Health, int> by_health = {
      {drivers::Health::kHealthy, 0}, {drivers::Health::kUnhealthy, 0}, {drivers::Health::kUnknown, 0}};
  for (const drivers::Device& d : inventory.devices) ++by_health[d.health];
  for (const auto& [h, n] : by_health) {
    const char* state = h == drivers::Health::kHealthy     ? "healthy"
                        : h == drivers::Health::kUnhealthy ? "unhealthy"
                                                           : "unknown";
    host.metrics
        .GetGauge("tessera_devices", "Devices a driver found, by health.",
                  {{"driver", rt.name}, {"health", state}})
        .Set(n);
  }
  if (rt.last_inventory.has_value() && *rt.last_inventory == inventory) return;
  if (absl::Status s = rt.publisher->SetInventory(inventory); !s.ok()) {
    Log()->error("publish inventory failed driver={} devices={} error={}", rt.name,
                 inventory.devices.size(), base::Std(s.message()));
    return;
  }
  if (rt.last_inventory.has_value()) {
    Log()->info("inventory changed driver={} devices={}", rt.name, inventory.devices.size());
  }
  rt.last_inventory = std::move(inventory);
}

absl::Status Agent::Impl::StartPublishers() {
  for (auto& rt : runtimes) {
    kube::PublisherOptions options;
    options.driver = rt->name;
    options.node_name = config.node_name;
    options.build = {.partitionable_devices = config.publish_partitionable,
                     .consumable_capacity = config.publish_consumable_capacity};
    options.require_node_owner = cluster.require_node_owner;
    ASSIGN_OR_RETURN(rt->publisher,
                     kube::Publisher::Create(*cluster.client, host.clock, host.metrics, options));
    ASSIGN_OR_RETURN(drivers::Inventory inventory,
                     base::Annotate(rt->driver->Enumerate(), StrCat("enumerate ", rt->name)));
    Log()->info("devices found driver={} devices={} counter_sets={}", rt->name,
                inventory.devices.size(), inventory.counter_sets.size());
    Publish(*rt, std::move(inventory));
    kube::Publisher* publisher = rt->publisher.get();
    rt->publisher_thread = std::jthread([publisher](std::stop_token stop) { publisher->Run(stop); });
  }
  return absl::OkStatus();
}

void Agent::Impl::Rescan() {
  for (auto& rt : runtimes) {
    absl::StatusOr<drivers::Inventory> inventory = rt->driver->Enumerate();
    if (!inventory.ok()) {
      Log()->warn("rescan failed driver={} error={}", rt->name,
                  base::Std(inventory.status().message()));
      continue;
    }
    Publish(*rt, std::move(*inventory));
  }
  rescans.fetch_add(1);
  last_rescan_ms.store(std::chrono::duration_cast<std::chrono::milliseconds>(
                           host.clock.MonotonicNow().time_since_epoch())
                           .count());
}

void Agent::Impl::RescanLoop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    // Sleep for the interval on the agent's clock (FakeClock in tests), woken
    // early by TriggerRescan() or by the stop request.
    std::stop_source wake;
    std::stop_callback on_stop(stop, [&wake] { wake.request_stop(); });
    {
      std::lock_guard lock(rescan_mu);
      if (rescan_requested) wake.request_stop();
      current_wake = &wake;
    }
    host.clock.SleepUntil(host.clock.MonotonicNow() + config.rescan_interval, wake.get_token());
    {
      std::lock_guard lock(rescan_mu);
      current_wake = nullptr;
      rescan_requested = false;
    }
    if (stop.stop_requested()) return;
    Rescan();
  }
}

absl::Status Agent::Impl::StartRescan() {
  last_rescan_ms.store(std::chrono::duration_cast<std::chrono::milliseconds>(
                           host.clock.MonotonicNow().time_since_epoch())
                           .count());
  rescan_thread = std::jthread([this](std::stop_token stop) { RescanLoop(stop); });
  StartLinkEvents();
  return absl::OkStatus();
}

void Agent::Impl::RequestRescan() {
  std::lock_guard lock(rescan_mu);
  rescan_requested = true;
  if (current_wake != nullptr) current_wake->request_stop();
}

void Agent::Impl::StartLinkEvents() {
  if (config.simulated()) return;
  drivers::rdma::RdmaDriver* rdma = nullptr;
  for (const auto& rt : runtimes) {
    if (rt->driver->family() == drivers::rdma::kFamily) {
      rdma = dynamic_cast<drivers::rdma::RdmaDriver*>(rt->driver);
    }
  }
  if (rdma == nullptr) return;
  netlink_stats = std::make_unique<topology::NetlinkStats>(host.metrics);
  absl::StatusOr<std::unique_ptr<topology::LibnlNetlink>> nl =
      topology::LibnlNetlink::Create(netlink_stats.get());
  if (!nl.ok()) {
    Log()->warn("no rtnetlink for link events, rdma changes seen at the next rescan error={}",
                base::Std(nl.status().message()));
    return;
  }
  event_netlink = *std::move(nl);
  link_trigger = std::make_unique<drivers::rdma::RescanTrigger>(
      host.clock, drivers::rdma::RescanTriggerOptions{
                      .min_interval = std::chrono::seconds(1),
                      .max_interval = std::chrono::duration_cast<std::chrono::milliseconds>(
                          config.rescan_interval)});
  link_watcher = std::make_unique<drivers::rdma::LinkEventWatcher>(
      *event_netlink, *netlink_stats, *link_trigger, host.clock,
      [rdma](const topology::LinkEvent& e) { return rdma->IsRelevantLinkEvent(e); });
  link_thread = std::jthread([this](std::stop_token stop) {
    for (;;) {
      const drivers::rdma::RescanCause cause = link_trigger->Wait(stop);
      if (cause == drivers::rdma::RescanCause::kStopped) return;
      if (cause == drivers::rdma::RescanCause::kEvent) RequestRescan();
    }
  });
}

void Agent::Impl::StopLinkEvents() {
  link_thread = {};
  link_watcher.reset();
  link_trigger.reset();
  event_netlink.reset();
}

std::string Agent::Impl::NotReady() const {
  std::string why;
  for (const auto& rt : runtimes) {
    if (!rt->server || !rt->server->registered()) {
      base::StrAppend(&why, rt->name, ": not registered with the kubelet; ");
    }
    if (!rt->publisher || !rt->publisher->HasPublished()) {
      base::StrAppend(&why, rt->name, ": slices not published; ");
    }
  }
  if (runtimes.empty()) why = "no driver started";
  return why;
}

absl::Status Agent::Impl::ServeMetrics() {
  if (config.metrics_addr.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(ops, OpsServer::Start(config.metrics_addr, host.metrics));
  for (const auto& rt : runtimes) {
    DriverRuntime* r = rt.get();
    ops->AddReadinessCheck(r->name, [r]() -> std::string {
      if (!r->server->registered()) return "not registered with the kubelet";
      if (!r->publisher->HasPublished()) return "slices not published";
      return "";
    });
  }
  ops->AddLivenessCheck("rescan loop", [this]() -> std::string {
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            host.clock.MonotonicNow().time_since_epoch())
                            .count();
    const int64_t limit =
        3 * std::chrono::duration_cast<std::chrono::milliseconds>(config.rescan_interval).count() +
        30'000;
    if (now - last_rescan_ms.load() > limit) {
      return StrCat("no rescan for ", (now - last_rescan_ms.load()) / 1000, "s");
    }
    return "";
  });
  return absl::OkStatus();
}

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Agent::~Agent() { Stop(); }

absl::StatusOr<std::unique_ptr<Agent>> Agent::Create(Config config, Host host) {
  auto impl = std::make_unique<Impl>(std::move(config), host);
  Impl* i = impl.get();
  Lifecycle& lc = i->lifecycle;
  lc.AddStep("open_host", [i] { return i->OpenHost(); });
  lc.AddStep("discover", [i] { return i->Discover(); });
  lc.AddStep("create_drivers", [i] { return i->CreateDrivers(); },
             [i] {
               i->runtimes.clear();
               i->driver_set = {};
             });
  lc.AddStep("connect_api", [i] { return i->ConnectApi(); }, [i] { i->cluster = {}; });
  lc.AddStep("restore_claims", [i] { return i->RestoreClaims(); },
             [i] {
               for (auto& rt : i->runtimes) rt->state.reset();
             });
  lc.AddStep("start_kubelet_plugins", [i] { return i->StartPlugins(); },
             [i] {
               for (auto& rt : i->runtimes) {
                 if (rt->server) rt->server->Stop();
               }
             });
  lc.AddStep("start_publishers", [i] { return i->StartPublishers(); },
             [i] {
               // Ask them all first, then join: each stop closes its watch's
               // socket, and a publisher mid-backoff wakes at once.
               for (auto& rt : i->runtimes) rt->publisher_thread.request_stop();
               for (auto& rt : i->runtimes) {
                 rt->publisher_thread = {};  // join
                 rt->publisher.reset();
               }
             });
  lc.AddStep("start_rescan", [i] { return i->StartRescan(); },
             [i] {
               i->StopLinkEvents();
               i->rescan_thread = {};
             });
  lc.AddStep("serve_metrics", [i] { return i->ServeMetrics(); }, [i] { i->ops.reset(); });
  return std::unique_ptr<Agent>(new Agent(std::move(impl)));
}

absl::Status Agent::Start() { return impl_->lifecycle.Start(); }
void Agent::Stop() { impl_->lifecycle.Stop(); }
std::string Agent::NotReadyReason() const { return impl_->NotReady(); }

std::vector<std::string> Agent::driver_names() const {
  std::vector<std::string> out;
  for (const auto& rt : impl_->runtimes) out.push_back(rt->name);
  return out;
}

void Agent::TriggerRescan() { impl_->RequestRescan(); }

uint64_t Agent::rescans() const { return impl_->rescans.load(); }

int Agent::metrics_port() const { return impl_->ops ? impl_->ops->port() : 0; }

absl::Status RunAgent(const Config& config, std::stop_token stop) {
  base::SystemClock clock;
  base::RealFilesystem fs;
  base::ProcessCommandRunner commands;
  base::metrics::Registry metrics;
  metrics.GetGauge("tessera_build_info", "Build information; the value is always 1.",
                   {{"version", "0.1.0"}})
      .Set(1);
  ASSIGN_OR_RETURN(std::unique_ptr<Agent> agent,
                   Agent::Create(config, Host{.clock = clock, .fs = fs, .commands = commands,
                                              .metrics = metrics}));
  if (absl::Status s = agent->Start(); !s.ok()) {
    agent->Stop();
    return s;
  }
  Log()->info("agent running node={} drivers={}", config.node_name,
              base::Join(agent->driver_names(), ","));
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait(lock, stop, [] { return false; });
  Log()->info("stopping agent");
  agent->Stop();
  return absl::OkStatus();
}

}  // namespace tessera::agent
