#include "base/metrics.h"
#include "base/strings.h"
#include "spdlog/fmt/fmt.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>


namespace tessera::base::metrics {
namespace {

void AtomicAdd(std::atomic<double>& target, double by) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + by, std::memory_order_relaxed)) {
  }
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{:.0f}", v);
  return fmt::format("{:.9g}", v);
}

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string RenderLabels(const Labels& labels, const Labels& extra = {}) {
  if (labels.empty() && extra.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const Labels* set : {&labels, &extra}) {
    for (const auto& [k, v] : *set) {
      if (!first) out += ",";
      first = false;
      StrAppend(&out, k, "=\"", EscapeLabelValue(v), "\"");
    }
  }
  out += "}";
  return out;
}

Labels Sorted(Labels labels) {
  std::sort(labels.begin(), labels.end());
  return labels;
}

[[noreturn]] void Die(std::string_view why) {
  std::fprintf(stderr, "metrics registry: %.*s\n", static_cast<int>(why.size()), why.data());
  std::abort();
}

}  // namespace

void Counter::Inc(double by) { AtomicAdd(value_, by); }
void Gauge::Add(double by) { AtomicAdd(value_, by); }

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end())) Die("histogram bounds must be sorted");
}

void Histogram::Observe(double v) {
  size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  absl::MutexLock lock(&mu_);
  ++counts_[bucket];
  sum_ += v;
  ++count_;
}

uint64_t Histogram::count() const {
  absl::MutexLock lock(&mu_);
  return count_;
}

double Histogram::sum() const {
  absl::MutexLock lock(&mu_);
  return sum_;
}

std::vector<uint64_t> Histogram::cumulative_counts() const {
  absl::MutexLock lock(&mu_);
  std::vector<uint64_t> out(counts_.size());
  uint64_t running = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    running += counts_[i];
    out[i] = running;
  }
  return out;
}

std::vector<double> LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30};
}

Registry::Family& Registry::GetFamily(std::string_view name, std::string_view help, Type type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{type, std::string(help), {}, {}, {}}).first;
  } else if (it->second.type != type) {
    Die(StrCat("metric ", name, " registered with two types"));
  }
  return it->second;
}

Counter& Registry::GetCounter(std::string_view name, std::string_view help, Labels labels) {
  absl::MutexLock lock(&mu_);
  Family& f = GetFamily(name, help, Type::kCounter);
  auto& slot = f.counters[Sorted(std::move(labels))];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Registry::GetGauge(std::string_view name, std::string_view help, Labels labels) {
  absl::MutexLock lock(&mu_);
  Family& f = GetFamily(name, help, Type::kGauge);
  auto& slot = f.gauges[Sorted(std::move(labels))];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Registry::GetHistogram(std::string_view name, std::string_view help,
                                  std::vector<double> upper_bounds, Labels labels) {
  absl::MutexLock lock(&mu_);
  Family& f = GetFamily(name, help, Type::kHistogram);
  auto& slot = f.histograms[Sorted(std::move(labels))];
  if (!slot) {
    slot = std::make_unique<Histogram>(std::move(upper_bounds));
  } else if (slot->upper_bounds() != upper_bounds) {
    Die(StrCat("histogram ", name, " asked for with two sets of bounds"));
  }
  return *slot;
}

std::string Registry::RenderPrometheus() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    const char* type = f.type == Type::kCounter ? "counter"
                       : f.type == Type::kGauge ? "gauge"
                                                : "histogram";
    StrAppend(&out, "# HELP ", name, " ", EscapeHelp(f.help), "\n");
    StrAppend(&out, "# TYPE ", name, " ", type, "\n");
    for (const auto& [labels, c] : f.counters) {
      StrAppend(&out, name, RenderLabels(labels), " ", FormatValue(c->value()), "\n");
    }
    for (const auto& [labels, g] : f.gauges) {
      StrAppend(&out, name, RenderLabels(labels), " ", FormatValue(g->value()), "\n");
    }
    for (const auto& [labels, h] : f.histograms) {
      std::vector<uint64_t> cumulative = h->cumulative_counts();
      for (size_t i = 0; i < cumulative.size(); ++i) {
        std::string le = i < h->upper_bounds().size() ? FormatValue(h->upper_bounds()[i]) : "+Inf";
        StrAppend(&out, name, "_bucket", RenderLabels(labels, {{"le", le}}), " ",
                        cumulative[i], "\n");
      }
      StrAppend(&out, name, "_sum", RenderLabels(labels), " ", FormatValue(h->sum()), "\n");
      StrAppend(&out, name, "_count", RenderLabels(labels), " ", cumulative.back(), "\n");
    }
  }
  return out;
}

}  // namespace tessera::base::metrics
