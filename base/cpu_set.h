// CpuSet: a set of logical CPU ids, as sysfs and hwloc describe CPU locality.
//
// Parses both kernel encodings: the list form of `cpulist` / `local_cpulist`
// ("0-15,128-143") and the mask form of `cpumap` / `local_cpus`
// ("0000ffff,00000000,0000ffff": 32-bit hex words, most significant first).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace tessera::base {

class CpuSet {
 public:
  CpuSet() = default;

  // Upper bound on CPU ids accepted from outside input, to bound memory on garbage.
  static constexpr int kMaxCpus = 1 << 16;

  static absl::StatusOr<CpuSet> ParseList(std::string_view text);
  static absl::StatusOr<CpuSet> ParseMask(std::string_view text);

  void Add(int cpu);
  bool Contains(int cpu) const;
  bool empty() const { return count_ == 0; }
  int count() const { return count_; }
  // True when the two sets share at least one CPU.
  bool Intersects(const CpuSet& other) const;
  // True when every CPU of this set is in `other`.
  bool IsSubsetOf(const CpuSet& other) const;
  std::vector<int> ToVector() const;
  // Canonical list form, "0-15,128-143"; "" for the empty set.
  std::string ToListString() const;

  friend bool operator==(const CpuSet& a, const CpuSet& b);

 private:
  std::vector<uint64_t> words_;
  int count_ = 0;
};

}  // namespace tessera::base
