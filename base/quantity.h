// Quantity: a Kubernetes resource.Quantity ("80Gi", "100", "500m", "1e3"),
// as ResourceSlice capacities, counters and a claim's consumedCapacity carry it.
//
// Stored exactly as milli-units in an int64 (enough for 9.2e15 units, i.e. all
// device memories and percentages we publish). Parsing follows the upstream
// grammar: <sign><digits>[.<digits>][<binarySI>|<decimalSI>|<decimalExponent>].
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tessera::base {

class Quantity {
 public:
  enum class Format { kDecimalSI, kBinarySI };

  constexpr Quantity() = default;
  static Quantity FromInt(int64_t value, Format format = Format::kDecimalSI);
  static Quantity FromMilli(int64_t milli);
  // InvalidArgument "invalid quantity \"...\": ..." on bad input or overflow.
  static absl::StatusOr<Quantity> Parse(std::string_view text);

  // Whole units, rounded up (as resource.Quantity.Value()).
  int64_t Value() const;
  int64_t MilliValue() const { return milli_; }
  Format format() const { return format_; }

  // Canonical text as the API server would store it: the largest suffix that
  // represents the value exactly in the quantity's format ("80Gi", "40G",
  // "100", "500m").
  std::string ToString() const;

  friend bool operator==(const Quantity& a, const Quantity& b) { return a.milli_ == b.milli_; }
  friend auto operator<=>(const Quantity& a, const Quantity& b) { return a.milli_ <=> b.milli_; }

 private:
  int64_t milli_ = 0;
  Format format_ = Format::kDecimalSI;
};

}  // namespace tessera::base
