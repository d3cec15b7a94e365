#include "base/metrics.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::base::metrics {
namespace {

using ::testing::HasSubstr;

TEST(MetricsTest, RendersCountersGaugesAndHistograms) {
  Registry r;
  r.GetCounter("tessera_prepare_claims_total", "Prepared claims.", {{"result", "success"}}).Inc();
  r.GetCounter("tessera_prepare_claims_total", "Prepared claims.", {{"result", "success"}}).Inc(2);
  r.GetGauge("tessera_devices", "Devices.", {{"driver", "gpu"}, {"health", "healthy"}}).Set(8);
  Histogram& h = r.GetHistogram("tessera_prepare_claim_duration_seconds", "Latency.", {0.1, 1});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(5);
  std::string text = r.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("# TYPE tessera_prepare_claims_total counter\n"));
  EXPECT_THAT(text, HasSubstr("tessera_prepare_claims_total{result=\"success\"} 3\n"));
  // Labels are sorted by name.
  EXPECT_THAT(text, HasSubstr("tessera_devices{driver=\"gpu\",health=\"healthy\"} 8\n"));
  EXPECT_THAT(text, HasSubstr("tessera_prepare_claim_duration_seconds_bucket{le=\"0.1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("tessera_prepare_claim_duration_seconds_bucket{le=\"1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("tessera_prepare_claim_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("tessera_prepare_claim_duration_seconds_count 3\n"));
  EXPECT_THAT(text, HasSubstr("tessera_prepare_claim_duration_seconds_sum 5.55\n"));
}

TEST(MetricsTest, EscapesLabelValues) {
  Registry r;
  r.GetCounter("c_total", "h", {{"err", "a\"b\\c\nd"}}).Inc();
  EXPECT_THAT(r.RenderPrometheus(), HasSubstr("c_total{err=\"a\\\"b\\\\c\\nd\"} 1"));
}

TEST(MetricsTest, SameNameAndLabelsIsSameObject) {
  Registry r;
  Counter& a = r.GetCounter("x_total", "h", {{"a", "1"}, {"b", "2"}});
  Counter& b = r.GetCounter("x_total", "h", {{"b", "2"}, {"a", "1"}});
  EXPECT_EQ(&a, &b);
}

TEST(MetricsTest, CountsConcurrently) {
  Registry r;
  Counter& c = r.GetCounter("n_total", "h");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) c.Inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000);
}

TEST(MetricsDeathTest, TypeClashAborts) {
  Registry r;
  r.GetCounter("x", "h");
  EXPECT_DEATH(r.GetGauge("x", "h"), "two types");
}

}  // namespace
}  // namespace tessera::base::metrics
