#include "drivers/nvidia/mig_minors.h"

#include <vector>

#include "base/parse.h"
#include "base/status.h"
#include "base/strings.h"

namespace tessera::drivers::nvidia {
namespace {

constexpr uint64_t kMaxMinor = (1u << 20) - 1;  // MINORBITS = 20 (include/linux/kdev_t.h)

// Reads "<prefix><decimal>" from the front of `s`; advances `s` past it.
bool ConsumeNumber(std::string_view& s, std::string_view prefix, uint32_t* out) {
  if (!s.starts_with(prefix)) return false;
  s.remove_prefix(prefix.size());
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  if (digits == 0 || digits > 9) return false;
  absl::StatusOr<uint64_t> value = base::ParseUint64(s.substr(0, digits));
  if (!value.ok()) return false;
  *out = static_cast<uint32_t>(*value);
  s.remove_prefix(digits);
  return true;
}

absl::Status LineError(size_t line_number, std::string_view line, std::string_view why) {
  return absl::InvalidArgumentError(
      base::StrCat("parse mig-minors line ", line_number, " ", base::Quote(line), ": ", why));
}

}  // namespace

std::optional<uint32_t> MigMinors::GpuInstance(uint32_t gpu_minor, uint32_t gi) const {
  auto it = gpu_instances_.find({gpu_minor, gi});
  if (it == gpu_instances_.end()) return std::nullopt;
  return it->second;
}

std::optional<uint32_t> MigMinors::ComputeInstance(uint32_t gpu_minor, uint32_t gi,
                                                   uint32_t ci) const {
  auto it = compute_instances_.find({gpu_minor, gi, ci});
  if (it == compute_instances_.end()) return std::nullopt;
  return it->second;
}

size_t MigMinors::size() const {
  return gpu_instances_.size() + compute_instances_.size() + (config_ ? 1 : 0) + (monitor_ ? 1 : 0);
}

absl::StatusOr<MigMinors> ParseMigMinors(std::string_view text) {
  MigMinors out;
  size_t line_number = 0;
  for (std::string_view raw : base::Split(text, '\n')) {
    ++line_number;
    std::string_view line = base::TrimValue(raw);
    if (line.empty()) continue;
    base::SplitPair fields = base::SplitOnce(line, ' ');
    if (!fields.found) return LineError(line_number, line, "want \"<name> <minor>\"");
    absl::StatusOr<uint64_t> minor = base::ParseUint64(fields.second);
    if (!minor.ok()) return LineError(line_number, line, "minor is not a decimal number");
    if (*minor > kMaxMinor) return LineError(line_number, line, "minor above 2^20-1");
    const uint32_t value = static_cast<uint32_t>(*minor);
    std::string_view name = fields.first;

    bool duplicate = false;
    if (name == "config") {
      duplicate = out.config_.has_value();
      out.config_ = value;
    } else if (name == "monitor") {
      duplicate = out.monitor_.has_value();
      out.monitor_ = value;
    } else if (name.starts_with("gpu")) {
      std::string_view rest = name;
      uint32_t gpu = 0, gi = 0, ci = 0;
      if (!ConsumeNumber(rest, "gpu", &gpu) || !ConsumeNumber(rest, "/gi", &gi)) {
        return LineError(line_number, line, "want gpu<N>/gi<N>/[ci<N>/]access");
      }
      if (rest == "/access") {
        duplicate = !out.gpu_instances_.emplace(std::make_tuple(gpu, gi), value).second;
      } else if (ConsumeNumber(rest, "/ci", &ci) && rest == "/access") {
        duplicate = !out.compute_instances_.emplace(std::make_tuple(gpu, gi, ci), value).second;
      } else {
        return LineError(line_number, line, "want gpu<N>/gi<N>/[ci<N>/]access");
      }
    }
    // Anything else is a capability we do not use.
    if (duplicate) return LineError(line_number, line, "capability listed twice");
  }
  return out;
}

absl::StatusOr<MigMinors> ReadMigMinors(const base::Filesystem& fs, const std::string& path) {
  absl::StatusOr<std::string> text = fs.ReadFile(path, 4 << 20);
  if (!text.ok()) return base::Annotate(text.status(), base::StrCat("read mig minors ", path));
  return base::Annotate(ParseMigMinors(*text), base::StrCat("read mig minors ", path));
}

}  // namespace tessera::drivers::nvidia
