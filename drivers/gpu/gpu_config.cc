#include "drivers/gpu/gpu_config.h"

#include "base/byte_units.h"
#include "base/json_util.h"
#include "base/quantity.h"
#include "base/status.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace tessera::drivers::gpu {
namespace {

using base::StrCat;
using Json = nlohmann::json;
namespace json = base::json;

using base::kMiB;

absl::Status Invalid(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(StrCat(field, ": ", what));
}

absl::StatusOr<MpsLimits> ParseMps(const Json& mps, std::string_view path) {
  if (!mps.is_object()) return json::TypeError(path, "object", mps);
  RETURN_IF_ERROR(
      json::RejectUnknownFields(mps, path, {"activeThreadPercentage", "pinnedDeviceMemoryLimit"}));
  MpsLimits limits;
  const std::string pct_field = json::Field(path, "activeThreadPercentage");
  if (auto it = mps.find("activeThreadPercentage"); it != mps.end() && !it->is_null()) {
    if (!it->is_number_integer()) return json::TypeError(pct_field, "integer", *it);
    const int64_t pct = it->get<int64_t>();
    if (pct < 1 || pct > 100) {
      return Invalid(pct_field, StrCat(pct, " is out of range 1..100"));
    }
    limits.active_thread_percentage = static_cast<int>(pct);
  }
  const std::string mem_field = json::Field(path, "pinnedDeviceMemoryLimit");
  if (auto it = mps.find("pinnedDeviceMemoryLimit"); it != mps.end() && !it->is_null()) {
    absl::StatusOr<base::Quantity> q;
    if (it->is_string()) {
      q = base::Quantity::Parse(it->get<std::string>());
    } else if (it->is_number_integer()) {
      q = base::Quantity::FromInt(it->get<int64_t>());
    } else {
      return json::TypeError(mem_field, "quantity string", *it);
    }
    if (!q.ok()) return Invalid(mem_field, base::Std(q.status().message()));
    if (q->MilliValue() < static_cast<int64_t>(kMiB) * 1000) {
      return Invalid(mem_field, StrCat(base::Quote(q->ToString()), " is below the minimum 1Mi"));
    }
    // MPS takes the limit in MiB ("0=<n>M"); a finer limit cannot be enforced.
    limits.pinned_device_memory_bytes = static_cast<uint64_t>(q->Value()) / kMiB * kMiB;
  }
  return limits;
}

}  // namespace

std::string_view SharingStrategyName(SharingStrategy strategy) {
  switch (strategy) {
    case SharingStrategy::kExclusive:
      return "Exclusive";
    case SharingStrategy::kTimeSlicing:
      return "TimeSlicing";
    case SharingStrategy::kMps:
      return "MPS";
  }
  return "Exclusive";
}

std::optional<SharingStrategy> ParseSharingStrategy(std::string_view name) {
  for (SharingStrategy s :
       {SharingStrategy::kExclusive, SharingStrategy::kTimeSlicing, SharingStrategy::kMps}) {
    if (name == SharingStrategyName(s)) return s;
  }
  return std::nullopt;
}

std::string_view TimeSliceIntervalName(TimeSliceInterval interval) {
  switch (interval) {
    case TimeSliceInterval::kDefault:
      return "Default";
    case TimeSliceInterval::kShort:
      return "Short";
    case TimeSliceInterval::kMedium:
      return "Medium";
    case TimeSliceInterval::kLong:
      return "Long";
  }
  return "Default";
}

std::optional<TimeSliceInterval> ParseTimeSliceInterval(std::string_view name) {
  for (TimeSliceInterval i : {TimeSliceInterval::kDefault, TimeSliceInterval::kShort,
                              TimeSliceInterval::kMedium, TimeSliceInterval::kLong}) {
    if (name == TimeSliceIntervalName(i)) return i;
  }
  return std::nullopt;
}

std::string GpuConfigApiVersion(std::string_view domain) {
  return StrCat("gpu.", domain, "/v1alpha1");
}

absl::StatusOr<GpuConfig> ParseGpuConfig(const Json& parameters, std::string_view domain) {
  if (!parameters.is_object()) return json::TypeError("parameters", "object", parameters);
  RETURN_IF_ERROR(json::RejectUnknownFields(parameters, "", {"apiVersion", "kind", "sharing"}));
  ASSIGN_OR_RETURN(std::string api_version, json::GetString(parameters, "", "apiVersion"));
  const std::string want_version = GpuConfigApiVersion(domain);
  if (api_version != want_version) {
    return Invalid("apiVersion", StrCat(base::Quote(api_version), " is not supported (want ",
                                        base::Quote(want_version), ")"));
  }
  ASSIGN_OR_RETURN(std::string kind, json::GetString(parameters, "", "kind"));
  if (kind != kGpuConfigKind) {
    return Invalid("kind", StrCat(base::Quote(kind), " is not supported (want \"GpuConfig\")"));
  }
  GpuConfig config;
  ASSIGN_OR_RETURN(const Json* sharing, json::GetOptionalObject(parameters, "", "sharing"));
  if (sharing == nullptr) return config;
  RETURN_IF_ERROR(
      json::RejectUnknownFields(*sharing, "sharing", {"strategy", "timeSlicing", "mps"}));
  ASSIGN_OR_RETURN(std::optional<std::string> strategy,
                   json::GetOptionalString(*sharing, "sharing", "strategy"));
  if (strategy) {
    std::optional<SharingStrategy> s = ParseSharingStrategy(*strategy);
    if (!s) {
      return Invalid("sharing.strategy",
                     StrCat(base::Quote(*strategy), " is not one of Exclusive, TimeSlicing, MPS"));
    }
    config.strategy = *s;
    config.strategy_set = true;
  }
  ASSIGN_OR_RETURN(const Json* ts, json::GetOptionalObject(*sharing, "sharing", "timeSlicing"));
  if (ts != nullptr) {
    if (config.strategy != SharingStrategy::kTimeSlicing) {
      return Invalid("sharing.timeSlicing", StrCat("only allowed with strategy TimeSlicing, not ",
                                                   SharingStrategyName(config.strategy)));
    }
    RETURN_IF_ERROR(json::RejectUnknownFields(*ts, "sharing.timeSlicing", {"interval"}));
    ASSIGN_OR_RETURN(std::optional<std::string> interval,
                     json::GetOptionalString(*ts, "sharing.timeSlicing", "interval"));
    if (interval) {
      std::optional<TimeSliceInterval> i = ParseTimeSliceInterval(*interval);
      if (!i) {
        return Invalid(
            "sharing.timeSlicing.interval",
            StrCat(base::Quote(*interval), " is not one of Default, Short, Medium, Long"));
      }
      config.interval = *i;
    }
  }
  if (auto it = sharing->find("mps"); it != sharing->end() && !it->is_null()) {
    if (config.strategy != SharingStrategy::kMps) {
      return Invalid("sharing.mps", StrCat("only allowed with strategy MPS, not ",
                                           SharingStrategyName(config.strategy)));
    }
    ASSIGN_OR_RETURN(config.mps, ParseMps(*it, "sharing.mps"));
  }
  return config;
}

absl::StatusOr<GpuConfig> ResolveGpuConfig(const std::vector<OpaqueConfig>& configs,
                                           std::string_view domain) {
  GpuConfig out;
  for (size_t i = 0; i < configs.size(); ++i) {
    absl::StatusOr<GpuConfig> c = ParseGpuConfig(configs[i].parameters, domain);
    if (!c.ok()) {
      return base::Annotate(
          c.status(),
          StrCat("config ", i + 1, " (",
                 configs[i].source.empty() ? "unknown source" : configs[i].source, ")"));
    }
    out = *c;
  }
  return out;
}

}  // namespace tessera::drivers::gpu
