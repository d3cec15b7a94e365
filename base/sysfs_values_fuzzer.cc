// libFuzzer harness for the parsers of small values read from sysfs, procfs,
// hwloc and the API server (base/parse.h, pci_address.h, cpu_set.h,
// quantity.h). The first byte selects the parser, the rest is the text.
//
// Invariants: no crash; errors are InvalidArgument with a message; integer
// parsers accept exactly their documented grammar (checked against a
// reference written here); what parses prints in a canonical form that
// parses back to the same value, and printing that again gives the same text.
#include <cctype>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "base/cpu_set.h"
#include "base/parse.h"
#include "base/pci_address.h"
#include "base/quantity.h"
#include "base/strings.h"
#include "test/fuzz/fuzz_check.h"

namespace {

namespace base = tessera::base;
using tessera::fuzz::CheckCleanError;

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

bool AllOf(std::string_view s, int (*pred)(int)) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!pred(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Digits only, value not above `max` (compared without overflow).
bool FitsDecimal(std::string_view digits, uint64_t max) {
  if (!AllOf(digits, isdigit)) return false;
  uint64_t v = 0;
  for (char c : digits) {
    const auto d = static_cast<uint64_t>(c - '0');
    if (v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  return true;
}

void Int64(std::string_view text) {
  absl::StatusOr<int64_t> v = base::ParseInt64(text);
  std::string_view t = base::TrimValue(text);
  bool negative = false;
  if (!t.empty() && (t.front() == '+' || t.front() == '-')) {
    negative = t.front() == '-';
    t.remove_prefix(1);
  }
  const uint64_t limit =
      static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + (negative ? 1 : 0);
  const bool want = FitsDecimal(t, limit);
  FUZZ_CHECK(v.ok() == want, "ParseInt64(", base::Quote(text), "): got ", v.ok() ? "ok" : "error",
             ", grammar says ", want ? "ok" : "error");
  if (!v.ok()) return CheckCleanError(v.status(), {kInvalid}, "ParseInt64");
  absl::StatusOr<int64_t> again = base::ParseInt64(base::StrCat(*v));
  FUZZ_CHECK(again.ok() && *again == *v, "ParseInt64 round trip of ", *v);
}

void Uint64(std::string_view text) {
  absl::StatusOr<uint64_t> v = base::ParseUint64(text);
  const bool want = FitsDecimal(base::TrimValue(text), std::numeric_limits<uint64_t>::max());
  FUZZ_CHECK(v.ok() == want, "ParseUint64(", base::Quote(text), ")");
  if (!v.ok()) return CheckCleanError(v.status(), {kInvalid}, "ParseUint64");
  absl::StatusOr<uint64_t> again = base::ParseUint64(base::StrCat(*v));
  FUZZ_CHECK(again.ok() && *again == *v, "ParseUint64 round trip of ", *v);
}

void Hex(std::string_view text) {
  absl::StatusOr<uint64_t> v = base::ParseHex(text);
  std::string_view t = base::TrimValue(text);
  if (t.size() >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) t.remove_prefix(2);
  size_t significant = t.find_first_not_of('0');
  const bool want =
      AllOf(t, isxdigit) && (significant == std::string_view::npos || t.size() - significant <= 16);
  FUZZ_CHECK(v.ok() == want, "ParseHex(", base::Quote(text), ")");
  if (!v.ok()) return CheckCleanError(v.status(), {kInvalid}, "ParseHex");
  absl::StatusOr<uint64_t> again = base::ParseHex(fmt::format("{:#x}", *v));
  FUZZ_CHECK(again.ok() && *again == *v, "ParseHex round trip of ", *v);
}

void Bool(std::string_view text) {
  absl::StatusOr<bool> v = base::ParseBool(text);
  const std::string t = base::ToLower(base::TrimValue(text));
  const bool yes = t == "1" || t == "true" || t == "yes" || t == "on" || t == "y";
  const bool no = t == "0" || t == "false" || t == "no" || t == "off" || t == "n";
  FUZZ_CHECK(v.ok() == (yes || no), "ParseBool(", base::Quote(text), ")");
  if (!v.ok()) return CheckCleanError(v.status(), {kInvalid}, "ParseBool");
  FUZZ_CHECK(*v == yes, "ParseBool(", base::Quote(text), ") = ", *v);
}

void Bytes(std::string_view text) {
  absl::StatusOr<uint64_t> v = base::ParseBytes(text);
  if (!v.ok()) return CheckCleanError(v.status(), {kInvalid}, "ParseBytes");
  // Every accepted form starts with the digits of a number not above the result.
  std::string_view t = base::TrimValue(text);
  size_t digits = 0;
  while (digits < t.size() && std::isdigit(static_cast<unsigned char>(t[digits]))) ++digits;
  FUZZ_CHECK(digits > 0, "ParseBytes(", base::Quote(text), ") accepted no digits");
  absl::StatusOr<uint64_t> number = base::ParseUint64(t.substr(0, digits));
  FUZZ_CHECK(number.ok() && *number <= *v, "ParseBytes(", base::Quote(text), ") = ", *v);
  FUZZ_CHECK(*number == 0 || *v % *number == 0, "ParseBytes(", base::Quote(text),
             ") is not a multiple of its number");
  absl::StatusOr<uint64_t> again = base::ParseBytes(base::StrCat(*v));
  FUZZ_CHECK(again.ok() && *again == *v, "ParseBytes round trip of ", *v);
}

void Pci(std::string_view text) {
  absl::StatusOr<base::PciAddress> a = base::PciAddress::Parse(text);
  if (!a.ok()) return CheckCleanError(a.status(), {kInvalid}, "PciAddress::Parse");
  FUZZ_CHECK(a->device <= 0x1f && a->function <= 7, "PciAddress::Parse(", base::Quote(text),
             ") = ", a->ToString());
  const std::string canonical = a->ToString();
  absl::StatusOr<base::PciAddress> again = base::PciAddress::Parse(canonical);
  FUZZ_CHECK(again.ok() && *again == *a, "PciAddress round trip of ", canonical);
  FUZZ_CHECK(again->ToString() == canonical, "PciAddress::ToString not canonical: ", canonical);
}

void CheckCpuSet(const base::CpuSet& set, std::string_view what) {
  std::vector<int> cpus = set.ToVector();
  FUZZ_CHECK(static_cast<int>(cpus.size()) == set.count(), what, ": count ", set.count(), " but ",
             cpus.size(), " cpus");
  FUZZ_CHECK(set.empty() == cpus.empty(), what, ": empty() disagrees");
  for (size_t i = 0; i < cpus.size(); ++i) {
    FUZZ_CHECK(cpus[i] >= 0 && cpus[i] < base::CpuSet::kMaxCpus, what, ": cpu ", cpus[i]);
    FUZZ_CHECK(i == 0 || cpus[i - 1] < cpus[i], what, ": ToVector not sorted");
    FUZZ_CHECK(set.Contains(cpus[i]), what, ": Contains(", cpus[i], ") is false");
  }
  const std::string list = set.ToListString();
  absl::StatusOr<base::CpuSet> again = base::CpuSet::ParseList(list);
  FUZZ_CHECK(again.ok() && *again == set, what, ": list round trip of ", base::Quote(list, 80));
  FUZZ_CHECK(again->ToListString() == list, what, ": ToListString not canonical");
  FUZZ_CHECK(set.IsSubsetOf(*again) && again->IsSubsetOf(set), what, ": IsSubsetOf");
  FUZZ_CHECK(set.Intersects(*again) == !set.empty(), what, ": Intersects");
}

void CpuList(std::string_view text) {
  absl::StatusOr<base::CpuSet> set = base::CpuSet::ParseList(text);
  if (!set.ok()) return CheckCleanError(set.status(), {kInvalid}, "CpuSet::ParseList");
  CheckCpuSet(*set, "ParseList");
}

void CpuMask(std::string_view text) {
  absl::StatusOr<base::CpuSet> set = base::CpuSet::ParseMask(text);
  if (!set.ok()) return CheckCleanError(set.status(), {kInvalid}, "CpuSet::ParseMask");
  CheckCpuSet(*set, "ParseMask");
  // Print it back as a mask (32-bit words, most significant first).
  std::vector<int> cpus = set->ToVector();
  if (cpus.empty()) return;
  std::vector<uint32_t> words(static_cast<size_t>(cpus.back() / 32 + 1), 0);
  for (int c : cpus) words[static_cast<size_t>(c / 32)] |= uint32_t{1} << (c % 32);
  std::string mask;
  for (size_t i = words.size(); i-- > 0;) {
    base::StrAppend(&mask, fmt::format("{:08x}", words[i]), i == 0 ? "" : ",");
  }
  absl::StatusOr<base::CpuSet> again = base::CpuSet::ParseMask(mask);
  FUZZ_CHECK(again.ok() && *again == *set, "ParseMask round trip of ", base::Quote(mask, 80));
}

void Quantity(std::string_view text) {
  absl::StatusOr<base::Quantity> q = base::Quantity::Parse(text);
  if (!q.ok()) return CheckCleanError(q.status(), {kInvalid}, "Quantity::Parse");
  const std::string canonical = q->ToString();
  absl::StatusOr<base::Quantity> again = base::Quantity::Parse(canonical);
  FUZZ_CHECK(again.ok() && *again == *q, "Quantity::Parse(", base::Quote(text),
             "): canonical form ", canonical, " does not parse back to ", q->MilliValue(), "m");
  FUZZ_CHECK(again->ToString() == canonical, "Quantity::ToString not canonical: ", canonical,
             " -> ", again->ToString());
  // Value() rounds up to whole units.
  const int64_t value = q->Value();
  const int64_t milli = q->MilliValue();
  FUZZ_CHECK(milli <= 0 || (value >= milli / 1000 && value - milli / 1000 <= 1),
             "Quantity::Value of ", milli, "m is ", value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tessera::fuzz::Input in(data, size);
  const uint8_t selector = in.Byte();
  const std::string_view text = in.Rest();
  switch (selector % 10) {
    case 0:
      Int64(text);
      break;
    case 1:
      Uint64(text);
      break;
    case 2:
      Hex(text);
      break;
    case 3:
      Bool(text);
      break;
    case 4:
      Bytes(text);
      break;
    case 5:
      Pci(text);
      break;
    case 6:
      CpuList(text);
      break;
    case 7:
      CpuMask(text);
      break;
    case 8:
      Quantity(text);
      break;
    case 9: {
      std::string_view t = base::TrimValue(text);
      FUZZ_CHECK(base::TrimValue(t) == t, "TrimValue not idempotent");
      FUZZ_CHECK(
          t.empty() || (t.front() != '\0' && !std::isspace(static_cast<unsigned char>(t.front()))),
          "TrimValue left a leading space");
      break;
    }
  }
  return 0;
}
