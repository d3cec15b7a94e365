#include "base/quantity.h"
#include "base/strings.h"

#include <cctype>
#include <limits>


namespace tessera::base {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

absl::Status InvalidQuantity(std::string_view text, std::string_view why) {
  return absl::InvalidArgumentError(
      StrCat("invalid quantity \"", text.substr(0, 64), "\": ", why));
}

// Multiplies with overflow detection.
bool MulOk(int64_t a, int64_t b, int64_t* out) { return !__builtin_mul_overflow(a, b, out); }
bool AddOk(int64_t a, int64_t b, int64_t* out) { return !__builtin_add_overflow(a, b, out); }

}  // namespace

Quantity Quantity::FromInt(int64_t value, Format format) {
  Quantity q;
  q.milli_ = value > kMax / 1000 ? kMax : (value < -kMax / 1000 ? -kMax : value * 1000);
  q.format_ = format;
  return q;
}

Quantity Quantity::FromMilli(int64_t milli) {
  Quantity q;
  q.milli_ = milli;
  return q;
}

absl::StatusOr<Quantity> Quantity::Parse(std::string_view text) {
  std::string_view s = text;
  if (s.empty()) return InvalidQuantity(text, "empty");
  bool negative = false;
  if (s.front() == '+' || s.front() == '-') {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  // Mantissa: digits[.digits]
  int64_t whole = 0;
  size_t i = 0;
  bool any_digit = false;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    any_digit = true;
    if (!MulOk(whole, 10, &whole) || !AddOk(whole, s[i] - '0', &whole)) {
      return InvalidQuantity(text, "out of range");
    }
    ++i;
  }
  // Fractional digits kept exactly up to 18 places.
  int64_t frac = 0;
  int frac_digits = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      any_digit = true;
      if (frac_digits < 18) {
        frac = frac * 10 + (s[i] - '0');
        ++frac_digits;
      }
      ++i;
    }
  }
  if (!any_digit) return InvalidQuantity(text, "no digits");
  std::string_view suffix = s.substr(i);
  // Scale as a power of 2 (binary SI) or of 10 (decimal SI / exponent).
  int base2 = 0;
  int exp10 = 0;
  Format format = Format::kDecimalSI;
  if (suffix.empty()) {
  } else if (suffix == "Ki") { base2 = 10; format = Format::kBinarySI;
  } else if (suffix == "Mi") { base2 = 20; format = Format::kBinarySI;
  } else if (suffix == "Gi") { base2 = 30; format = Format::kBinarySI;
  } else if (suffix == "Ti") { base2 = 40; format = Format::kBinarySI;
  } else if (suffix == "Pi") { base2 = 50; format = Format::kBinarySI;
  } else if (suffix == "Ei") { base2 = 60; format = Format::kBinarySI;
  } else if (suffix == "n") { exp10 = -9;
  } else if (suffix == "u") { exp10 = -6;
  } else if (suffix == "m") { exp10 = -3;
  } else if (suffix == "k") { exp10 = 3;
  } else if (suffix == "M") { exp10 = 6;
  } else if (suffix == "G") { exp10 = 9;
  } else if (suffix == "T") { exp10 = 12;
  } else if (suffix == "P") { exp10 = 15;
  } else if (suffix == "E") { exp10 = 18;
  } else if (suffix.front() == 'e' || suffix.front() == 'E') {
    std::string_view e = suffix.substr(1);
    bool eneg = false;
    if (!e.empty() && (e.front() == '+' || e.front() == '-')) {
      eneg = e.front() == '-';
      e.remove_prefix(1);
    }
    if (e.empty() || e.size() > 3) return InvalidQuantity(text, "bad exponent");
    int v = 0;
    for (char c : e) {
      if (!std::isdigit(static_cast<unsigned char>(c)))
        return InvalidQuantity(text, "bad exponent");
      v = v * 10 + (c - '0');
    }
    exp10 = eneg ? -v : v;
  } else {
    return InvalidQuantity(text, StrCat("unknown suffix \"", suffix.substr(0, 8), "\""));
  }
  // value_milli = (whole + frac / 10^frac_digits) * 2^base2 * 10^(exp10 + 3), rounded up.
  // Work with numerator = whole * 10^frac_digits + frac, then scale.
  int64_t numerator = 0;
  int64_t pow10 = 1;
  for (int k = 0; k < frac_digits; ++k) {
    if (!MulOk(pow10, 10, &pow10)) return InvalidQuantity(text, "out of range");
  }
  if (!MulOk(whole, pow10, &numerator) || !AddOk(numerator, frac, &numerator)) {
    return InvalidQuantity(text, "out of range");
  }
  if (base2 > 0 && !MulOk(numerator, int64_t{1} << base2, &numerator)) {
    return InvalidQuantity(text, "out of range");
  }
  int scale10 = exp10 + 3 - frac_digits;  // net power of ten to apply
  while (scale10 > 0) {
    if (!MulOk(numerator, 10, &numerator)) return InvalidQuantity(text, "out of range");
    --scale10;
  }
  bool remainder = false;
  while (scale10 < 0) {
    if (numerator % 10) remainder = true;
    numerator /= 10;
    ++scale10;
  }
  if (remainder) ++numerator;  // round up, as upstream does for sub-milli precision
  Quantity q;
  q.milli_ = negative ? -numerator : numerator;
  q.format_ = format;
  return q;
}

int64_t Quantity::Value() const {
  if (milli_ >= 0) return milli_ / 1000 + (milli_ % 1000 ? 1 : 0);
  return milli_ / 1000;
}

std::string Quantity::ToString() const {
  if (milli_ % 1000 != 0) return StrCat(milli_, "m");
  int64_t v = milli_ / 1000;
  if (v == 0) return "0";
  if (format_ == Format::kBinarySI) {
    static constexpr const char* kSuffix[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    int idx = 0;
    while (idx < 6 && v % 1024 == 0) {
      v /= 1024;
      ++idx;
    }
    // Upstream keeps binary suffixes only when the value is exact in them;
    // a plain number otherwise.
    return StrCat(v, kSuffix[idx]);
  }
  static constexpr const char* kSuffix[] = {"", "k", "M", "G", "T", "P", "E"};
  int idx = 0;
  while (idx < 6 && v % 1000 == 0) {
    v /= 1000;
    ++idx;
  }
  return StrCat(v, kSuffix[idx]);
}

}  // namespace tessera::base
