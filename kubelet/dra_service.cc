#include "kubelet/dra_service.h"

#include <chrono>
#include <set>
#include <string_view>
#include <utility>

#include "k8s.io/kubelet/pkg/apis/dra/v1/api.grpc.pb.h"
#include "k8s.io/kubelet/pkg/apis/dra/v1beta1/api.grpc.pb.h"

#include "base/log.h"
#include "base/strings.h"
#include "kubelet/internal/log.h"
#include "kubelet/internal/wire_text.h"

namespace tessera::kubelet {
namespace {

namespace drav1 = ::k8s::io::kubelet::pkg::apis::dra::v1;
namespace drav1beta1 = ::k8s::io::kubelet::pkg::apis::dra::v1beta1;

using internal::Log;

double SecondsSince(base::Clock& clock, base::Clock::MonoTime start) {
  return std::chrono::duration<double>(clock.MonotonicNow() - start).count();
}

std::string ClaimName(const ClaimRef& c) {
  return base::StrCat(c.namespace_, "/", c.name, " (uid ", c.uid, ")");
}

std::string ErrorText(const absl::Status& status) {
  std::string text = status.message().empty()
                         ? base::StrCat(absl::StatusCodeToString(status.code()))
                         : std::string(base::Std(status.message()));
  return internal::TruncateUtf8(internal::SanitizeUtf8(text), kMaxClaimErrorBytes);
}

// Splits the request into the claims to hand on (first occurrence of each
// uid) and the per-uid errors of malformed ones.
struct CheckedClaims {
  std::vector<ClaimRef> valid;
  std::map<std::string, absl::Status> invalid;
};

CheckedClaims CheckClaims(std::string_view method, const std::vector<ClaimRef>& claims) {
  CheckedClaims out;
  std::map<std::string, const ClaimRef*> seen;
  for (const ClaimRef& c : claims) {
    std::string_view missing = c.uid.empty()          ? "uid"
                               : c.namespace_.empty() ? "namespace"
                               : c.name.empty()       ? "name"
                                                      : "";
    if (!missing.empty()) {
      out.invalid.emplace(
          c.uid, absl::InvalidArgumentError(base::StrCat(
                     method, ": claim ", base::Quote(c.namespace_), "/", base::Quote(c.name),
                     " (uid ", base::Quote(c.uid), ") has no ", missing)));
      continue;
    }
    auto [it, inserted] = seen.emplace(c.uid, &c);
    if (inserted) continue;
    const ClaimRef& first = *it->second;
    if (first.namespace_ != c.namespace_ || first.name != c.name) {
      out.invalid.insert_or_assign(c.uid, absl::InvalidArgumentError(base::StrCat(
                                              method, ": claim uid ", c.uid, " is given as both ",
                                              ClaimName(first), " and ", ClaimName(c))));
    }
  }
  for (const auto& [uid, ref] : seen) {
    if (!out.invalid.contains(uid)) out.valid.push_back(*ref);
  }
  return out;
}

PreparedDeviceResult NormalizeDevice(PreparedDeviceResult d) {
  std::vector<std::string> names;
  std::set<std::string_view> seen;
  for (const std::string& n : d.request_names) {
    std::string_view base_name = internal::BaseRequestName(n);
    if (seen.insert(base_name).second) names.emplace_back(base_name);
  }
  d.request_names = std::move(names);
  return d;
}

}  // namespace

DraCore::DraCore(ClaimHandler& handler, CallSerializer& serializer, KubeletStats& stats,
                 base::Clock& clock, std::stop_token stop)
    : handler_(handler), serializer_(serializer), stats_(stats), clock_(clock), stop_(stop) {}

absl::StatusOr<std::map<std::string, PrepareResult>> DraCore::Prepare(
    const std::vector<ClaimRef>& claims, const std::function<bool()>& cancelled) {
  constexpr std::string_view kMethod = "NodePrepareResources";
  CheckedClaims checked = CheckClaims(kMethod, claims);
  std::map<std::string, PrepareResult> results;
  if (!checked.valid.empty()) {
    base::Clock::MonoTime wait_start = clock_.MonotonicNow();
    absl::StatusOr<CallSerializer::Lease> lease = serializer_.Acquire(stop_);
    stats_.RecordSerializeWait(SecondsSince(clock_, wait_start));
    if (!lease.ok()) return lease.status();
    if (cancelled()) return absl::CancelledError("NodePrepareResources: the kubelet gave up");
    results = handler_.Prepare(checked.valid);
  }
  std::map<std::string, PrepareResult> out;
  for (const ClaimRef& c : checked.valid) {
    auto it = results.find(c.uid);
    if (it == results.end()) {
      out[c.uid].status = absl::InternalError(base::StrCat(
          "NodePrepareResources: claim ", ClaimName(c), " got no result from the claim handler"));
      continue;
    }
    PrepareResult& r = out[c.uid];
    r.status = it->second.status;
    if (r.status.ok()) {
      for (PreparedDeviceResult& d : it->second.devices) {
        r.devices.push_back(NormalizeDevice(std::move(d)));
      }
    }
    results.erase(it);
  }
  for (const auto& [uid, unused] : results) {
    Log().warn(
        "claim handler answered for a claim not asked for method=NodePrepareResources uid={}", uid);
  }
  for (auto& [uid, status] : checked.invalid) out[uid].status = std::move(status);
  for (const auto& [uid, r] : out) {
    stats_.RecordClaim(kMethod, r.status.ok());
    if (!r.status.ok()) {
      Log().warn("prepare failed uid={} error={}", uid, base::Std(r.status.message()));
    }
  }
  return out;
}

absl::StatusOr<std::map<std::string, absl::Status>> DraCore::Unprepare(
    const std::vector<ClaimRef>& claims, const std::function<bool()>& cancelled) {
  constexpr std::string_view kMethod = "NodeUnprepareResources";
  CheckedClaims checked = CheckClaims(kMethod, claims);
  std::map<std::string, absl::Status> results;
  if (!checked.valid.empty()) {
    base::Clock::MonoTime wait_start = clock_.MonotonicNow();
    absl::StatusOr<CallSerializer::Lease> lease = serializer_.Acquire(stop_);
    stats_.RecordSerializeWait(SecondsSince(clock_, wait_start));
    if (!lease.ok()) return lease.status();
    if (cancelled()) return absl::CancelledError("NodeUnprepareResources: the kubelet gave up");
    results = handler_.Unprepare(checked.valid);
  }
  std::map<std::string, absl::Status> out;
  for (const ClaimRef& c : checked.valid) {
    auto it = results.find(c.uid);
    out[c.uid] =
        it != results.end()
            ? it->second
            : absl::InternalError(base::StrCat("NodeUnprepareResources: claim ", ClaimName(c),
                                               " got no result from the claim handler"));
  }
  for (auto& [uid, status] : checked.invalid) out[uid] = std::move(status);
  for (const auto& [uid, status] : out) {
    stats_.RecordClaim(kMethod, status.ok());
    if (!status.ok())
      Log().warn("unprepare failed uid={} error={}", uid, base::Std(status.message()));
  }
  return out;
}

namespace {

grpc::Status ToGrpc(const absl::Status& s) {
  // Both follow google.rpc.Code, so the cast is exact.
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      internal::SanitizeUtf8(base::Std(s.message())));
}

std::vector<ClaimRef> ClaimRefsFromProto(const auto& proto_claims) {
  std::vector<ClaimRef> claims;
  claims.reserve(proto_claims.size());
  for (const auto& c : proto_claims) {
    claims.push_back(ClaimRef{.uid = c.uid(), .namespace_ = c.namespace_(), .name = c.name()});
  }
  return claims;
}

struct V1 {
  using Service = drav1::DRAPlugin::Service;
  using PrepareRequest = drav1::NodePrepareResourcesRequest;
  using PrepareResponse = drav1::NodePrepareResourcesResponse;
  using UnprepareRequest = drav1::NodeUnprepareResourcesRequest;
  using UnprepareResponse = drav1::NodeUnprepareResourcesResponse;
  static constexpr std::string_view kName = "v1.DRAPlugin";
  static constexpr bool kHasShareId = true;
};

struct V1beta1 {
  using Service = drav1beta1::DRAPlugin::Service;
  using PrepareRequest = drav1beta1::NodePrepareResourcesRequest;
  using PrepareResponse = drav1beta1::NodePrepareResourcesResponse;
  using UnprepareRequest = drav1beta1::NodeUnprepareResourcesRequest;
  using UnprepareResponse = drav1beta1::NodeUnprepareResourcesResponse;
  static constexpr std::string_view kName = "v1beta1.DRAPlugin";
  static constexpr bool kHasShareId = false;
};

template <typename Api>
class DraPluginService final : public Api::Service {
 public:
  DraPluginService(DraCore& core, KubeletStats& stats, base::Clock& clock)
      : core_(core), stats_(stats), clock_(clock) {}

  grpc::Status NodePrepareResources(grpc::ServerContext* context,
                                    const typename Api::PrepareRequest* request,
                                    typename Api::PrepareResponse* response) override {
    base::Clock::MonoTime start = clock_.MonotonicNow();
    absl::StatusOr<std::map<std::string, PrepareResult>> results = core_.Prepare(
        ClaimRefsFromProto(request->claims()), [context] { return context->IsCancelled(); });
    if (results.ok()) {
      auto& claims = *response->mutable_claims();
      for (const auto& [uid, result] : *results) {
        auto& entry = claims[internal::SanitizeUtf8(uid)];
        if (!result.status.ok()) {
          entry.set_error(ErrorText(result.status));
          continue;
        }
        for (const PreparedDeviceResult& d : result.devices) {
          auto* device = entry.add_devices();
          for (const std::string& n : d.request_names) {
            device->add_request_names(internal::SanitizeUtf8(n));
          }
          device->set_pool_name(internal::SanitizeUtf8(d.pool_name));
          device->set_device_name(internal::SanitizeUtf8(d.device_name));
          for (const std::string& id : d.cdi_device_ids) {
            device->add_cdi_device_ids(internal::SanitizeUtf8(id));
          }
          if constexpr (Api::kHasShareId) {
            // Optional field: absent (not "") when the device is not shared.
            if (!d.share_id.empty()) device->set_share_id(internal::SanitizeUtf8(d.share_id));
          }
        }
      }
    }
    stats_.RecordRequest(Api::kName, "NodePrepareResources", results.ok(),
                         SecondsSince(clock_, start));
    return results.ok() ? grpc::Status::OK : ToGrpc(results.status());
  }

  grpc::Status NodeUnprepareResources(grpc::ServerContext* context,
                                      const typename Api::UnprepareRequest* request,
                                      typename Api::UnprepareResponse* response) override {
    base::Clock::MonoTime start = clock_.MonotonicNow();
    absl::StatusOr<std::map<std::string, absl::Status>> results = core_.Unprepare(
        ClaimRefsFromProto(request->claims()), [context] { return context->IsCancelled(); });
    if (results.ok()) {
      auto& claims = *response->mutable_claims();
      for (const auto& [uid, status] : *results) {
        auto& entry = claims[internal::SanitizeUtf8(uid)];  // present even when empty
        if (!status.ok()) entry.set_error(ErrorText(status));
      }
    }
    stats_.RecordRequest(Api::kName, "NodeUnprepareResources", results.ok(),
                         SecondsSince(clock_, start));
    return results.ok() ? grpc::Status::OK : ToGrpc(results.status());
  }

 private:
  DraCore& core_;
  KubeletStats& stats_;
  base::Clock& clock_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewDraV1Service(DraCore& core, KubeletStats& stats,
                                               base::Clock& clock) {
  return std::make_unique<DraPluginService<V1>>(core, stats, clock);
}

std::unique_ptr<grpc::Service> NewDraV1beta1Service(DraCore& core, KubeletStats& stats,
                                                    base::Clock& clock) {
  return std::make_unique<DraPluginService<V1beta1>>(core, stats, clock);
}

}  // namespace tessera::kubelet
