#include "kubelet/kubelet_client.h"

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <set>
#include <system_error>
#include <utility>

#include "k8s.io/kubelet/pkg/apis/dra-health/v1alpha1/api.grpc.pb.h"
#include "k8s.io/kubelet/pkg/apis/dra/v1/api.grpc.pb.h"
#include "k8s.io/kubelet/pkg/apis/dra/v1beta1/api.grpc.pb.h"
#include "k8s.io/kubelet/pkg/apis/pluginregistration/v1/api.grpc.pb.h"
#include <grpcpp/grpcpp.h>

#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace tessera::kubelet {
namespace {

namespace drav1 = ::k8s::io::kubelet::pkg::apis::dra::v1;
namespace drav1beta1 = ::k8s::io::kubelet::pkg::apis::dra::v1beta1;

absl::Status FromGrpc(const grpc::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      base::Absl(base::StrCat(what, ": ", s.error_message())));
}

std::shared_ptr<grpc::Channel> Dial(const std::string& socket) {
  return grpc::CreateChannel(base::StrCat("unix:", socket), grpc::InsecureChannelCredentials());
}

void SetTimeout(grpc::ClientContext& context, std::chrono::milliseconds timeout) {
  context.set_deadline(std::chrono::system_clock::now() + timeout);
}

// The services a 1.34+ kubelet speaks, in no particular order; the plugin's
// own order decides (dra_plugin_manager.go validateSupportedServices).
std::optional<DraApiVersion> KnownService(std::string_view name) {
  if (name == kDraV1Service) return DraApiVersion::kV1;
  if (name == kDraV1beta1Service) return DraApiVersion::kV1beta1;
  return std::nullopt;
}

}  // namespace

std::string_view DraApiVersionName(DraApiVersion api) {
  return api == DraApiVersion::kV1 ? kDraV1Service : kDraV1beta1Service;
}

absl::StatusOr<std::vector<std::string>> FindRegistrationSockets(const std::string& registry_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(registry_dir, ec)) {
    return absl::NotFoundError(
        base::StrCat("find registration sockets: ", registry_dir, " is not a directory"));
  }
  std::vector<std::string> sockets;
  fs::recursive_directory_iterator it(registry_dir, fs::directory_options::none, ec);
  if (ec) {
    return base::ErrnoStatus(ec.value(),
                             base::StrCat("find registration sockets in ", registry_dir));
  }
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      return base::ErrnoStatus(ec.value(),
                               base::StrCat("find registration sockets in ", registry_dir));
    }
    const fs::path& path = it->path();
    // The kubelet's watcher ignores every name starting with '.', directories
    // included.
    if (path.filename().string().starts_with(".")) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->symlink_status(ec).type() == fs::file_type::socket) sockets.push_back(path.string());
  }
  std::sort(sockets.begin(), sockets.end());
  return sockets;
}

absl::StatusOr<PluginInfo> GetPluginInfo(const std::string& registration_socket,
                                         std::chrono::milliseconds timeout) {
  auto stub = ::pluginregistration::Registration::NewStub(Dial(registration_socket));
  grpc::ClientContext context;
  SetTimeout(context, timeout);
  ::pluginregistration::InfoRequest request;
  ::pluginregistration::PluginInfo reply;
  RETURN_IF_ERROR(FromGrpc(stub->GetInfo(&context, request, &reply),
                           base::StrCat("GetInfo on ", registration_socket)));
  PluginInfo info{.type = reply.type(), .name = reply.name(), .endpoint = reply.endpoint()};
  for (const std::string& v : reply.supported_versions()) info.supported_versions.push_back(v);
  return info;
}

absl::StatusOr<ValidatedPlugin> ValidatePluginInfo(const PluginInfo& info,
                                                   const std::string& registration_socket,
                                                   std::string_view expected_driver) {
  auto invalid = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        base::StrCat("validate plugin at ", registration_socket, ": ", why));
  };
  if (info.type != kDraPluginType) {
    return invalid(base::StrCat("type is ", base::Quote(info.type), ", want \"DRAPlugin\""));
  }
  if (info.name.empty()) return invalid("empty plugin name");
  if (!expected_driver.empty() && info.name != expected_driver) {
    return invalid(
        base::StrCat("name is ", base::Quote(info.name), ", want ", base::Quote(expected_driver)));
  }
  ValidatedPlugin out{.info = info,
                      .endpoint = info.endpoint.empty() ? registration_socket : info.endpoint,
                      .api = DraApiVersion::kV1};
  if (out.endpoint.empty() || out.endpoint.front() != '/') {
    return invalid(base::StrCat("endpoint ", base::Quote(info.endpoint), " is not absolute"));
  }
  std::optional<DraApiVersion> api;
  for (const std::string& v : info.supported_versions) {
    if (!api) api = KnownService(v);
    if (v == kHealthV1alpha1Service) out.health = true;
  }
  if (!api) {
    return invalid(base::StrCat("none of the supported versions [",
                                base::Join(info.supported_versions, ", "),
                                "] is a DRA service this kubelet speaks (v1.DRAPlugin, "
                                "v1beta1.DRAPlugin)"));
  }
  out.api = *api;
  return out;
}

absl::Status NotifyRegistrationStatus(const std::string& registration_socket, bool registered,
                                      std::string_view error, std::chrono::milliseconds timeout) {
  auto stub = ::pluginregistration::Registration::NewStub(Dial(registration_socket));
  grpc::ClientContext context;
  SetTimeout(context, timeout);
  ::pluginregistration::RegistrationStatus request;
  request.set_plugin_registered(registered);
  request.set_error(std::string(error));
  ::pluginregistration::RegistrationStatusResponse reply;
  return FromGrpc(stub->NotifyRegistrationStatus(&context, request, &reply),
                  base::StrCat("NotifyRegistrationStatus on ", registration_socket));
}

absl::StatusOr<ValidatedPlugin> RegisterPlugin(const std::string& registration_socket,
                                               std::string_view expected_driver) {
  ASSIGN_OR_RETURN(PluginInfo info, GetPluginInfo(registration_socket));
  absl::StatusOr<ValidatedPlugin> validated =
      ValidatePluginInfo(info, registration_socket, expected_driver);
  if (!validated.ok()) {
    // The kubelet tells the plugin why; the plugin's answer does not matter.
    (void)NotifyRegistrationStatus(registration_socket, false,
                                   base::Std(validated.status().message()));
    return validated.status();
  }
  RETURN_IF_ERROR(NotifyRegistrationStatus(registration_socket, true, ""));
  return validated;
}

absl::Status CheckPrepareResponse(const std::vector<ClaimRef>& request,
                                  const PrepareResponse& response) {
  std::set<std::string> asked;
  for (const ClaimRef& c : request) asked.insert(c.uid);
  size_t missing = 0;
  for (const std::string& uid : asked) {
    auto it = response.find(uid);
    if (it == response.end()) {
      ++missing;
    } else if (!it->second.error.empty()) {
      return absl::InternalError(
          base::StrCat("NodePrepareResources failed for claim ", uid, ": ", it->second.error));
    }
  }
  for (const auto& [uid, unused] : response) {
    if (!asked.contains(uid)) {
      return absl::InternalError(
          base::StrCat("NodePrepareResources returned a result for unknown claim ", uid));
    }
  }
  if (missing > 0) {
    return absl::InternalError(
        base::StrCat("NodePrepareResources skipped ", missing, " ResourceClaims"));
  }
  return absl::OkStatus();
}

absl::Status CheckUnprepareResponse(const std::vector<ClaimRef>& request,
                                    const UnprepareResponse& response) {
  std::set<std::string> asked;
  for (const ClaimRef& c : request) asked.insert(c.uid);
  size_t missing = 0;
  for (const std::string& uid : asked) {
    auto it = response.find(uid);
    if (it == response.end()) {
      ++missing;
    } else if (!it->second.empty()) {
      return absl::InternalError(
          base::StrCat("NodeUnprepareResources failed for claim ", uid, ": ", it->second));
    }
  }
  for (const auto& [uid, unused] : response) {
    if (!asked.contains(uid)) {
      return absl::InternalError(
          base::StrCat("NodeUnprepareResources returned a result for unknown claim ", uid));
    }
  }
  if (missing > 0) {
    return absl::InternalError(
        base::StrCat("NodeUnprepareResources skipped ", missing, " ResourceClaims"));
  }
  return absl::OkStatus();
}

namespace {

HealthStatus FromProto(::v1alpha1::HealthStatus h) {
  switch (h) {
    case ::v1alpha1::HEALTHY:
      return HealthStatus::kHealthy;
    case ::v1alpha1::UNHEALTHY:
      return HealthStatus::kUnhealthy;
    default:
      return HealthStatus::kUnknown;
  }
}

class GrpcHealthWatch final : public HealthWatch {
 public:
  GrpcHealthWatch(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds max_duration)
      : stub_(::v1alpha1::DRAResourceHealth::NewStub(std::move(channel))) {
    SetTimeout(context_, max_duration);
    reader_ = stub_->NodeWatchResources(&context_, ::v1alpha1::NodeWatchResourcesRequest());
  }
  ~GrpcHealthWatch() override {
    if (!finished_) {
      context_.TryCancel();
      (void)reader_->Finish();
    }
  }

  absl::StatusOr<std::vector<DeviceHealth>> Next() override {
    if (finished_) return absl::OutOfRangeError("NodeWatchResources: stream already ended");
    ::v1alpha1::NodeWatchResourcesResponse response;
    if (!reader_->Read(&response)) {
      finished_ = true;
      grpc::Status s = reader_->Finish();
      if (s.ok()) return absl::OutOfRangeError("NodeWatchResources: the plugin ended the stream");
      return FromGrpc(s, "NodeWatchResources");
    }
    std::vector<DeviceHealth> devices;
    devices.reserve(response.devices_size());
    for (const auto& d : response.devices()) {
      devices.push_back(DeviceHealth{
          .pool_name = d.device().pool_name(),
          .device_name = d.device().device_name(),
          .health = FromProto(d.health()),
          .message = d.message(),
          .health_check_timeout = std::chrono::seconds(d.health_check_timeout_seconds()),
          .last_updated = base::Clock::WallTime(std::chrono::seconds(d.last_updated_time()))});
    }
    return devices;
  }

  void Cancel() override { context_.TryCancel(); }

 private:
  std::unique_ptr<::v1alpha1::DRAResourceHealth::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<::v1alpha1::NodeWatchResourcesResponse>> reader_;
  bool finished_ = false;
};

template <typename Stub, typename PrepareRequest, typename PrepareReply>
absl::StatusOr<PrepareResponse> Prepare(Stub& stub, const std::string& endpoint,
                                        const std::vector<ClaimRef>& claims,
                                        std::chrono::milliseconds timeout) {
  PrepareRequest request;
  for (const ClaimRef& c : claims) {
    auto* claim = request.add_claims();
    claim->set_uid(c.uid);
    claim->set_namespace_(c.namespace_);
    claim->set_name(c.name);
  }
  PrepareReply reply;
  grpc::ClientContext context;
  SetTimeout(context, timeout);
  RETURN_IF_ERROR(FromGrpc(stub.NodePrepareResources(&context, request, &reply),
                           base::StrCat("NodePrepareResources on ", endpoint)));
  PrepareResponse out;
  for (const auto& [uid, claim] : reply.claims()) {
    ClaimPrepareResponse& entry = out[uid];
    entry.error = claim.error();
    for (const auto& d : claim.devices()) {
      PreparedDevice device{.pool_name = d.pool_name(), .device_name = d.device_name()};
      for (const std::string& n : d.request_names()) device.request_names.push_back(n);
      for (const std::string& id : d.cdi_device_ids()) device.cdi_device_ids.push_back(id);
      if constexpr (std::is_same_v<PrepareReply, drav1::NodePrepareResourcesResponse>) {
        if (d.has_share_id()) device.share_id = d.share_id();
      }
      entry.devices.push_back(std::move(device));
    }
  }
  return out;
}

template <typename Stub, typename UnprepareRequest, typename UnprepareReply>
absl::StatusOr<UnprepareResponse> Unprepare(Stub& stub, const std::string& endpoint,
                                            const std::vector<ClaimRef>& claims,
                                            std::chrono::milliseconds timeout) {
  UnprepareRequest request;
  for (const ClaimRef& c : claims) {
    auto* claim = request.add_claims();
    claim->set_uid(c.uid);
    claim->set_namespace_(c.namespace_);
    claim->set_name(c.name);
  }
  UnprepareReply reply;
  grpc::ClientContext context;
  SetTimeout(context, timeout);
  RETURN_IF_ERROR(FromGrpc(stub.NodeUnprepareResources(&context, request, &reply),
                           base::StrCat("NodeUnprepareResources on ", endpoint)));
  UnprepareResponse out;
  for (const auto& [uid, claim] : reply.claims()) out[uid] = claim.error();
  return out;
}

}  // namespace

struct DraPluginClient::Stubs {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<drav1::DRAPlugin::Stub> v1;
  std::unique_ptr<drav1beta1::DRAPlugin::Stub> v1beta1;
};

DraPluginClient::DraPluginClient(std::string endpoint, DraApiVersion api,
                                 std::unique_ptr<Stubs> stubs)
    : endpoint_(std::move(endpoint)), api_(api), stubs_(std::move(stubs)) {}

DraPluginClient::~DraPluginClient() = default;

absl::StatusOr<std::unique_ptr<DraPluginClient>> DraPluginClient::Connect(
    const std::string& endpoint, DraApiVersion api, std::chrono::milliseconds dial_timeout) {
  auto stubs = std::make_unique<Stubs>();
  stubs->channel = Dial(endpoint);
  if (!stubs->channel->WaitForConnected(std::chrono::system_clock::now() + dial_timeout)) {
    return absl::UnavailableError(base::StrCat(
        "dial DRA endpoint ", endpoint, ": not connected within ", dial_timeout.count(), " ms"));
  }
  if (api == DraApiVersion::kV1) {
    stubs->v1 = drav1::DRAPlugin::NewStub(stubs->channel);
  } else {
    stubs->v1beta1 = drav1beta1::DRAPlugin::NewStub(stubs->channel);
  }
  return std::unique_ptr<DraPluginClient>(new DraPluginClient(endpoint, api, std::move(stubs)));
}

absl::StatusOr<PrepareResponse> DraPluginClient::NodePrepareResources(
    const std::vector<ClaimRef>& claims, std::chrono::milliseconds timeout) {
  if (api_ == DraApiVersion::kV1) {
    return Prepare<drav1::DRAPlugin::Stub, drav1::NodePrepareResourcesRequest,
                   drav1::NodePrepareResourcesResponse>(*stubs_->v1, endpoint_, claims, timeout);
  }
  return Prepare<drav1beta1::DRAPlugin::Stub, drav1beta1::NodePrepareResourcesRequest,
                 drav1beta1::NodePrepareResourcesResponse>(*stubs_->v1beta1, endpoint_, claims,
                                                           timeout);
}

absl::StatusOr<UnprepareResponse> DraPluginClient::NodeUnprepareResources(
    const std::vector<ClaimRef>& claims, std::chrono::milliseconds timeout) {
  if (api_ == DraApiVersion::kV1) {
    return Unprepare<drav1::DRAPlugin::Stub, drav1::NodeUnprepareResourcesRequest,
                     drav1::NodeUnprepareResourcesResponse>(*stubs_->v1, endpoint_, claims,
                                                            timeout);
  }
  return Unprepare<drav1beta1::DRAPlugin::Stub, drav1beta1::NodeUnprepareResourcesRequest,
                   drav1beta1::NodeUnprepareResourcesResponse>(*stubs_->v1beta1, endpoint_, claims,
                                                               timeout);
}

absl::StatusOr<std::unique_ptr<HealthWatch>> DraPluginClient::WatchResources(
    std::chrono::milliseconds max_duration) {
  return std::make_unique<GrpcHealthWatch>(stubs_->channel, max_duration);
}

}  // namespace tessera::kubelet
