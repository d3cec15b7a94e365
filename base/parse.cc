#include "base/parse.h"
#include "base/strings.h"
#include "spdlog/fmt/fmt.h"

#include <cctype>
#include <charconv>
#include <limits>


namespace tessera::base {
namespace {

bool IsTrimmed(char c) { return c == '\0' || std::isspace(static_cast<unsigned char>(c)); }

}  // namespace

std::string_view TrimValue(std::string_view raw) {
  while (!raw.empty() && IsTrimmed(raw.front())) raw.remove_prefix(1);
  while (!raw.empty() && IsTrimmed(raw.back())) raw.remove_suffix(1);
  return raw;
}

absl::StatusOr<int64_t> ParseInt64(std::string_view raw) {
  std::string_view v = TrimValue(raw);
  // from_chars takes '-' but not '+'; strip a '+' only in front of a digit,
  // so that "+-5" is not read as -5.
  if (v.size() > 1 && v.front() == '+' && std::isdigit(static_cast<unsigned char>(v[1]))) {
    v.remove_prefix(1);
  }
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out, 10);
  if (v.empty() || ec != std::errc() || ptr != v.data() + v.size()) {
    return absl::InvalidArgumentError(StrCat("expected a decimal integer, got ", Quote(raw)));
  }
  return out;
}

absl::StatusOr<uint64_t> ParseUint64(std::string_view raw) {
  std::string_view v = TrimValue(raw);
  uint64_t out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out, 10);
  if (v.empty() || ec != std::errc() || ptr != v.data() + v.size()) {
    return absl::InvalidArgumentError(
        StrCat("expected an unsigned decimal integer, got ", Quote(raw)));
  }
  return out;
}

absl::StatusOr<uint64_t> ParseHex(std::string_view raw) {
  std::string_view v = TrimValue(raw);
  if (v.size() >= 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) v.remove_prefix(2);
  uint64_t out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out, 16);
  if (v.empty() || ec != std::errc() || ptr != v.data() + v.size()) {
    return absl::InvalidArgumentError(StrCat("expected a hexadecimal number, got ", Quote(raw)));
  }
  return out;
}

absl::StatusOr<bool> ParseBool(std::string_view raw) {
  std::string v = ToLower(TrimValue(raw));
  if (v == "1" || v == "true" || v == "yes" || v == "on" || v == "y") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off" || v == "n") return false;
  return absl::InvalidArgumentError(StrCat("expected a boolean, got ", Quote(raw)));
}

absl::StatusOr<uint64_t> ParseBytes(std::string_view raw) {
  std::string_view v = TrimValue(raw);
  size_t digits = 0;
  while (digits < v.size() && std::isdigit(static_cast<unsigned char>(v[digits]))) ++digits;
  if (digits == 0) {
    return absl::InvalidArgumentError(StrCat("expected a byte quantity, got ", Quote(raw)));
  }
  uint64_t number = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + digits, number, 10);
  if (ec != std::errc()) {
    return absl::InvalidArgumentError(StrCat("byte quantity out of range: ", Quote(raw)));
  }
  std::string_view suffix = TrimValue(v.substr(digits));
  struct Unit {
    std::string_view name;
    uint64_t factor;
  };
  static constexpr Unit kUnits[] = {
      {"", 1},
      {"B", 1},
      {"Ki", 1ULL << 10},
      {"KiB", 1ULL << 10},
      {"kB", 1ULL << 10},  // /proc/meminfo and sysfs meminfo write KiB as "kB"
      {"Mi", 1ULL << 20},
      {"MiB", 1ULL << 20},
      {"Gi", 1ULL << 30},
      {"GiB", 1ULL << 30},
      {"Ti", 1ULL << 40},
      {"TiB", 1ULL << 40},
      {"k", 1000ULL},
      {"K", 1000ULL},
      {"KB", 1000ULL},
      {"M", 1000ULL * 1000},
      {"MB", 1000ULL * 1000},
      {"G", 1000ULL * 1000 * 1000},
      {"GB", 1000ULL * 1000 * 1000},
      {"T", 1000ULL * 1000 * 1000 * 1000},
      {"TB", 1000ULL * 1000 * 1000 * 1000},
  };
  for (const Unit& unit : kUnits) {
    if (suffix == unit.name) {
      if (number > std::numeric_limits<uint64_t>::max() / unit.factor) {
        return absl::InvalidArgumentError(StrCat("byte quantity out of range: ", Quote(raw)));
      }
      return number * unit.factor;
    }
  }
  return absl::InvalidArgumentError(
      StrCat("unknown unit ", Quote(suffix), " in byte quantity ", Quote(raw)));
}

}  // namespace tessera::base
