#include "node/base/metrics.h"

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fednode::metrics {
namespace {

TEST(MetricsRegistryTest, RendersCountersGaugesAndHistogramsAsExposedTextFormat004) {
  Registry registry;
  Family<Counter>* requests =
      registry.AddCounter("fednode_requests_total", "Calls by peer and code.", {"peer", "code"});
  Family<Gauge>* up = registry.AddGauge("fednode_up", "1 when up.");
  Family<Histogram>* latency =
      registry.AddHistogram("fednode_latency_seconds", "Latency.", {"method"}, {0.005, 0.25, 1});
  requests->WithLabels({"06531005", "OK"})->Increment(3);
  requests->WithLabels({"06531001", "PERMISSION_DENIED"})->Increment();
  up->Get()->Set(1);
  Histogram* q = latency->WithLabels({"Query"});
  q->Observe(0.001);
  q->Observe(0.25);  // the bound is inclusive
  q->Observe(2.5);

  EXPECT_EQ(registry.Render(),
            "# HELP fednode_requests_total Calls by peer and code.\n"
            "# TYPE fednode_requests_total counter\n"
            "fednode_requests_total{peer=\"06531001\",code=\"PERMISSION_DENIED\"} 1\n"
            "fednode_requests_total{peer=\"06531005\",code=\"OK\"} 3\n"
            "# HELP fednode_up 1 when up.\n"
            "# TYPE fednode_up gauge\n"
            "fednode_up 1\n"
            "# HELP fednode_latency_seconds Latency.\n"
            "# TYPE fednode_latency_seconds histogram\n"
            "fednode_latency_seconds_bucket{method=\"Query\",le=\"0.005\"} 1\n"
            "fednode_latency_seconds_bucket{method=\"Query\",le=\"0.25\"} 2\n"
            "fednode_latency_seconds_bucket{method=\"Query\",le=\"1\"} 2\n"
            "fednode_latency_seconds_bucket{method=\"Query\",le=\"+Inf\"} 3\n"
            "fednode_latency_seconds_sum{method=\"Query\"} 2.751\n"
            "fednode_latency_seconds_count{method=\"Query\"} 3\n");
}

TEST(MetricsRegistryTest, EscapesLabelValuesAndHelpText) {
  Registry registry;
  registry.AddGauge("g", "line one\nback\\slash", {"title"})
      ->WithLabels({"a \"quoted\"\\path\nnext"})
      ->Set(-2.5);
  EXPECT_EQ(registry.Render(),
            "# HELP g line one\\nback\\\\slash\n"
            "# TYPE g gauge\n"
            "g{title=\"a \\\"quoted\\\"\\\\path\\nnext\"} -2.5\n");
}

TEST(MetricsRegistryTest, FamilyWithoutSeriesRendersOnlyItsHeader) {
  Registry registry;
  registry.AddHistogram("h_seconds", "H.", {}, {1});
  EXPECT_EQ(registry.Render(), "# HELP h_seconds H.\n# TYPE h_seconds histogram\n");
}

TEST(MetricsRegistryTest, FormatsSpecialAndFractionalValues) {
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(1e20), "1e+20");
  EXPECT_EQ(FormatValue(12345678), "12345678");
}

TEST(MetricsRegistryTest, CollectHooksRunBeforeEachRenderAndClearDropsSeries) {
  Registry registry;
  Family<Gauge>* peers = registry.AddGauge("peer_up", "Up.", {"peer"});
  int runs = 0;
  registry.AddCollectHook([&] {
    ++runs;
    peers->Clear();
    peers->WithLabels({runs == 1 ? "a" : "b"})->Set(runs);
  });
  EXPECT_THAT(registry.Render(), ::testing::HasSubstr("peer_up{peer=\"a\"} 1\n"));
  const std::string second = registry.Render();
  EXPECT_THAT(second, ::testing::HasSubstr("peer_up{peer=\"b\"} 2\n"));
  EXPECT_THAT(second, ::testing::Not(::testing::HasSubstr("peer=\"a\"")));
}

TEST(MetricsRegistryTest, ConcurrentUpdatesAreAllCounted) {
  Registry registry;
  Family<Counter>* calls = registry.AddCounter("calls_total", "Calls.", {"peer"});
  Family<Histogram>* h = registry.AddHistogram("lat_seconds", "L.", {}, {0.5});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        calls->WithLabels({t % 2 == 0 ? "x" : "y"})->Increment();
        h->Get()->Observe(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(calls->WithLabels({"x"})->value() + calls->WithLabels({"y"})->value(), 40000u);
  EXPECT_EQ(h->Get()->count(), 40000u);
  EXPECT_EQ(h->Get()->sum(), 40000.0);
}

}  // namespace
}  // namespace fednode::metrics
