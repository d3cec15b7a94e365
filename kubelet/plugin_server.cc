#include "kubelet/plugin_server.h"

#include <utility>

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/service_type.h>

#include "base/log.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "kubelet/dra_service.h"
#include "kubelet/internal/log.h"
#include "kubelet/internal/socket_file.h"
#include "kubelet/kubelet_stats.h"
#include "kubelet/serializer.h"

namespace tessera::kubelet {
namespace {

using internal::Log;

// A gRPC server listening on one Unix socket, and the socket file it owns.
struct ListeningServer {
  std::string socket;
  std::unique_ptr<grpc::Server> server;
  internal::SocketIdentity identity;
};

// Listens under a temporary dot-name, restricts the socket to 0600, then
// renames it into place. The kubelet thus never sees a socket that is not yet
// serving or still world-accessible, and gRPC's own unlink of its listening
// path at shutdown hits the (long gone) temporary name instead of a socket
// that a successor may have created under the final name.
absl::StatusOr<ListeningServer> Listen(const std::string& socket,
                                       const std::vector<grpc::Service*>& services) {
  RETURN_IF_ERROR(internal::RemoveStaleSocket(socket));
  ASSIGN_OR_RETURN(std::string temp, internal::TempSocketPath(socket));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(base::StrCat("unix:", temp), grpc::InsecureServerCredentials());
  for (grpc::Service* s : services) builder.RegisterService(s);
  ListeningServer out{.socket = socket, .server = builder.BuildAndStart(), .identity = {}};
  if (out.server == nullptr) {
    (void)internal::RemoveStaleSocket(temp);
    return absl::UnavailableError(
        base::StrCat("listen on ", socket, ": gRPC could not start the server (see its log)"));
  }
  absl::Status status = internal::RestrictSocket(temp);
  if (status.ok()) status = internal::PublishSocket(temp, socket);
  if (status.ok()) {
    absl::StatusOr<internal::SocketIdentity> identity = internal::IdentifySocket(socket);
    if (identity.ok()) {
      out.identity = *identity;
      return out;
    }
    status = identity.status();
    (void)internal::RemoveStaleSocket(socket);
  }
  out.server->Shutdown();
  out.server->Wait();
  (void)internal::RemoveStaleSocket(temp);
  return status;
}

void Shutdown(ListeningServer& s, std::chrono::milliseconds grace) {
  if (s.server == nullptr) return;
  s.server->Shutdown(std::chrono::system_clock::now() + grace);
  s.server->Wait();
  s.server.reset();
  if (absl::Status st = internal::RemoveOwnSocket(s.socket, s.identity); !st.ok()) {
    Log().warn("could not remove socket path={} error={}", s.socket, base::Std(st.message()));
  }
}

}  // namespace

struct PluginServer::Impl {
  Impl(const PluginServerOptions& options, PluginServerDeps d, const PluginPaths& paths)
      : deps(d),
        stats(d.metrics, options.driver_name),
        recorder(MakeInfo(options, paths), stats, d.clock) {}

  static PluginInfo MakeInfo(const PluginServerOptions& options, const PluginPaths& paths) {
    PluginInfo info{
        .type = std::string(kDraPluginType),
        .name = options.driver_name,
        .endpoint = paths.dra_socket,
        .supported_versions = {std::string(kDraV1Service), std::string(kDraV1beta1Service)}};
    if (options.serve_health) info.supported_versions.emplace_back(kHealthV1alpha1Service);
    return info;
  }

  PluginServerDeps deps;
  KubeletStats stats;
  RegistrationRecorder recorder;
  std::stop_source stop;
  std::unique_ptr<CallSerializer> serializer;
  std::unique_ptr<DraCore> core;
  std::vector<std::unique_ptr<grpc::Service>> dra_services;
  std::unique_ptr<grpc::Service> registration_service;
  ListeningServer dra;
  ListeningServer registration;

  absl::Mutex stop_mu;
  bool stopped ABSL_GUARDED_BY(stop_mu) = false;
};

PluginServer::PluginServer(PluginServerOptions options, PluginServerDeps deps, PluginPaths paths)
    : options_(std::move(options)),
      paths_(std::move(paths)),
      impl_(std::make_unique<Impl>(options_, deps, paths_)) {}

absl::StatusOr<std::unique_ptr<PluginServer>> PluginServer::Create(PluginServerOptions options,
                                                                   PluginServerDeps deps) {
  ASSIGN_OR_RETURN(PluginPaths paths,
                   ComputePluginPaths(SocketPathOptions{.driver_name = options.driver_name,
                                                        .plugin_dir = options.plugin_dir,
                                                        .registry_dir = options.registry_dir,
                                                        .pod_uid = options.pod_uid}));
  std::unique_ptr<PluginServer> server(
      new PluginServer(std::move(options), deps, std::move(paths)));
  if (absl::Status s = server->Start(); !s.ok()) {
    server->Stop();
    return base::Annotate(s, base::StrCat("start kubelet plugin ", server->options_.driver_name));
  }
  return server;
}

absl::Status PluginServer::Start() {
  Impl& d = *impl_;
  // Both directories: created 0700 when missing; existing ones keep their
  // mode (the registry dir belongs to the kubelet).
  RETURN_IF_ERROR(d.deps.fs.CreateDirectories(paths_.plugin_data_dir, 0700));
  RETURN_IF_ERROR(d.deps.fs.CreateDirectories(base::DirName(paths_.registration_socket), 0700));

  ASSIGN_OR_RETURN(d.serializer, CallSerializer::Create(
                                     d.deps.clock, CallSerializerOptions{
                                                       .lock_file = options_.pod_uid.empty()
                                                                        ? std::string()
                                                                        : paths_.serialize_lock,
                                                       .max_wait = options_.serialize_max_wait}));
  d.core = std::make_unique<DraCore>(d.deps.claims, *d.serializer, d.stats, d.deps.clock,
                                     d.stop.get_token());
  d.dra_services.push_back(NewDraV1Service(*d.core, d.stats, d.deps.clock));
  d.dra_services.push_back(NewDraV1beta1Service(*d.core, d.stats, d.deps.clock));
  if (options_.serve_health) {
    d.dra_services.push_back(NewHealthService(d.deps.health, d.stats, d.deps.clock,
                                              options_.health_resend_interval, d.stop.get_token()));
  }
  std::vector<grpc::Service*> services;
  for (auto& s : d.dra_services) services.push_back(s.get());
  ASSIGN_OR_RETURN(d.dra, Listen(paths_.dra_socket, services));

  // The DRA services are serving: now let the kubelet find us.
  d.registration_service = NewRegistrationService(d.recorder, d.stats, d.deps.clock);
  ASSIGN_OR_RETURN(d.registration,
                   Listen(paths_.registration_socket, {d.registration_service.get()}));
  Log().info(
      "kubelet plugin serving driver={} dra_socket={} registration_socket={} "
      "rolling_update={}",
      options_.driver_name, paths_.dra_socket, paths_.registration_socket,
      !options_.pod_uid.empty());
  return absl::OkStatus();
}

PluginServer::~PluginServer() { Stop(); }

void PluginServer::Stop() {
  Impl& d = *impl_;
  {
    absl::MutexLock lock(&d.stop_mu);
    if (d.stopped) return;
    d.stopped = true;
  }
  // Reverse order of Start: first tell the kubelet we are going.
  Shutdown(d.registration, options_.shutdown_grace);
  // Ends health streams and lock waits before the DRA server drains.
  d.stop.request_stop();
  bool was_serving = d.dra.server != nullptr;
  Shutdown(d.dra, options_.shutdown_grace);
  d.stats.SetRegistered(false);
  if (was_serving) Log().info("kubelet plugin stopped driver={}", options_.driver_name);
}

const PluginInfo& PluginServer::info() const { return impl_->recorder.info(); }

RegistrationState PluginServer::registration() const { return impl_->recorder.state(); }

bool PluginServer::registered() const {
  return registration().phase == RegistrationState::Phase::kRegistered;
}

}  // namespace tessera::kubelet
