#include "base/cpu_set.h"
#include "base/strings.h"

#include <bit>

#include "base/parse.h"

namespace tessera::base {

void CpuSet::Add(int cpu) {
  if (cpu < 0) return;
  size_t word = static_cast<size_t>(cpu) / 64;
  if (word >= words_.size()) words_.resize(word + 1, 0);
  uint64_t bit = uint64_t{1} << (cpu % 64);
  if ((words_[word] & bit) == 0) {
    words_[word] |= bit;
    ++count_;
  }
}

bool CpuSet::Contains(int cpu) const {
  if (cpu < 0) return false;
  size_t word = static_cast<size_t>(cpu) / 64;
  return word < words_.size() && (words_[word] >> (cpu % 64)) & 1;
}

bool CpuSet::Intersects(const CpuSet& other) const {
  size_t n = std::min(words_.size(), other.words_.size());
  for (size_t i = 0; i < n; ++i) {
    if (words_[i] & other.words_[i]) return true;
  }
  return false;
}

bool CpuSet::IsSubsetOf(const CpuSet& other) const {
  for (size_t i = 0; i < words_.size(); ++i) {
    uint64_t theirs = i < other.words_.size() ? other.words_[i] : 0;
    if (words_[i] & ~theirs) return false;
  }
  return true;
}

std::vector<int> CpuSet::ToVector() const {
  std::vector<int> out;
  out.reserve(count_);
  for (size_t i = 0; i < words_.size(); ++i) {
    uint64_t w = words_[i];
    while (w) {
      int bit = std::countr_zero(w);
      out.push_back(static_cast<int>(i * 64 + bit));
      w &= w - 1;
    }
  }
  return out;
}

std::string CpuSet::ToListString() const {
  std::string out;
  std::vector<int> cpus = ToVector();
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ",";
    if (j == i) {
      StrAppend(&out, cpus[i]);
    } else {
      StrAppend(&out, cpus[i], "-", cpus[j]);
    }
    i = j + 1;
  }
  return out;
}

bool operator==(const CpuSet& a, const CpuSet& b) {
  size_t n = std::max(a.words_.size(), b.words_.size());
  for (size_t i = 0; i < n; ++i) {
    uint64_t x = i < a.words_.size() ? a.words_[i] : 0;
    uint64_t y = i < b.words_.size() ? b.words_[i] : 0;
    if (x != y) return false;
  }
  return true;
}

absl::StatusOr<CpuSet> CpuSet::ParseList(std::string_view raw) {
  std::string_view text = TrimValue(raw);
  CpuSet set;
  if (text.empty()) return set;
  for (std::string_view part : Split(text, ',')) {
    part = TrimValue(part);
    SplitPair range = SplitOnce(part, '-');
    auto first = ParseUint64(range.first);
    if (!first.ok()) {
      return absl::InvalidArgumentError(StrCat("invalid cpu list \"", text.substr(0, 64),
                                                     "\": ", Std(first.status().message())));
    }
    uint64_t last = *first;
    if (range.found) {
      auto parsed = ParseUint64(range.second);
      if (!parsed.ok() || *parsed < *first) {
        return absl::InvalidArgumentError(
            StrCat("invalid cpu range \"", part.substr(0, 32), "\" in cpu list"));
      }
      last = *parsed;
    }
    if (last >= static_cast<uint64_t>(kMaxCpus)) {
      return absl::InvalidArgumentError(StrCat("cpu id ", last, " above limit ", kMaxCpus));
    }
    for (uint64_t c = *first; c <= last; ++c) set.Add(static_cast<int>(c));
  }
  return set;
}

absl::StatusOr<CpuSet> CpuSet::ParseMask(std::string_view raw) {
  std::string_view text = TrimValue(raw);
  CpuSet set;
  if (text.empty()) return set;
  std::vector<std::string_view> words = Split(text, ',');
  if (words.size() * 32 > static_cast<size_t>(kMaxCpus)) {
    return absl::InvalidArgumentError("cpu mask too long");
  }
  // The last word holds CPUs 0-31.
  for (size_t i = 0; i < words.size(); ++i) {
    std::string_view w = TrimValue(words[words.size() - 1 - i]);
    if (w.empty()) continue;  // hwloc writes "0x...,,,0x..." for zero words
    auto value = ParseHex(w);
    if (!value.ok() || *value > 0xffffffffULL) {
      return absl::InvalidArgumentError(
          StrCat("invalid cpu mask \"", text.substr(0, 64), "\": bad word \"", w, "\""));
    }
    for (int bit = 0; bit < 32; ++bit) {
      if ((*value >> bit) & 1) set.Add(static_cast<int>(i * 32 + bit));
    }
  }
  return set;
}

}  // namespace tessera::base
