// Many threads update and scrape one registry at once: totals come out exact and every scrape
// taken mid-update is valid exposition text.
#include <atomic>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "metrics/registry.h"
#include "metrics/testing/exposition_parser.h"
#include "tests/testing/status_matchers.h"

namespace chime::metrics {
namespace {

TEST(ConcurrencyTest, ExactTotalsAndValidScrapesUnderContention) {
  constexpr int kThreads = 8;
  constexpr int kIterations = 50000;
  Registry registry;
  ASSERT_OK_AND_ASSIGN(CounterFamily * counters, registry.AddCounter("c_total", "C.", {"t"}));
  ASSERT_OK_AND_ASSIGN(GaugeFamily * gauges, registry.AddGauge("g", "G."));
  ASSERT_OK_AND_ASSIGN(HistogramFamily * histograms,
                       registry.AddHistogram("h_seconds", "H.", {}, {0.3, 0.6}));
  Counter* shared = counters->WithLabels({{"t", "shared"}});
  Gauge* gauge = gauges->WithLabels({});
  Histogram* histogram = histograms->WithLabels({});

  std::atomic<bool> done{false};
  std::atomic<int> scrapes{0};
  std::thread scraper([&] {
    while (!done.load()) {
      absl::StatusOr<testing::ParsedExposition> parsed =
          testing::ParseExposition(registry.Exposition());
      ASSERT_TRUE(parsed.ok()) << parsed.status();
      scrapes.fetch_add(1);
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      // Each thread also creates its own series while others scrape.
      Counter* own = counters->WithLabels({{"t", std::to_string(t)}});
      for (int i = 0; i < kIterations; ++i) {
        shared->Increment();
        own->Increment(2);
        gauge->Add(i % 2 == 0 ? 1.0 : -0.5);
        histogram->Observe(i % 2 == 0 ? 0.25 : 0.5);  // exact in binary, so the sum is exact
      }
    });
  }
  for (std::thread& w : workers) w.join();
  // At least one scrape overlaps the end state even on a loaded machine.
  const int before = scrapes.load();
  while (scrapes.load() < before + 2) std::this_thread::yield();
  done.store(true);
  scraper.join();

  constexpr double kTotal = double{kThreads} * kIterations;
  EXPECT_EQ(shared->Value(), static_cast<uint64_t>(kTotal));
  EXPECT_EQ(gauge->Value(), kTotal / 2 * 1.0 - kTotal / 2 * 0.5);
  EXPECT_EQ(histogram->Count(), static_cast<uint64_t>(kTotal));
  EXPECT_EQ(histogram->Sum(), kTotal / 2 * 0.25 + kTotal / 2 * 0.5);

  ASSERT_OK_AND_ASSIGN(auto parsed, testing::ParseExposition(registry.Exposition()));
  EXPECT_EQ(parsed.Value("c_total", {{"t", "shared"}}), kTotal);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(parsed.Value("c_total", {{"t", std::to_string(t)}}), 2.0 * kIterations);
  }
  EXPECT_EQ(parsed.Value("h_seconds_bucket", {{"le", "0.3"}}), kTotal / 2);
  EXPECT_EQ(parsed.Value("h_seconds_bucket", {{"le", "0.6"}}), kTotal);
  EXPECT_EQ(parsed.Value("h_seconds_count"), kTotal);
}

TEST(ConcurrencyTest, RemoveCollectorWaitsForARunningScrape) {
  Registry registry;
  std::atomic<bool> in_collector{false};
  std::atomic<bool> release{false};
  std::atomic<bool> collector_finished{false};
  auto alive = std::make_unique<int>(42);
  int* captured = alive.get();
  const Registry::CollectorId id = registry.AddCollector([&, captured](Emitter& e) {
    in_collector.store(true);
    while (!release.load()) std::this_thread::yield();
    e.EmitGauge("g", "G.", {}, *captured);
    collector_finished.store(true);
  });
  std::string text;
  std::thread scraper([&] { text = registry.Exposition(); });
  while (!in_collector.load()) std::this_thread::yield();
  std::atomic<bool> removed{false};
  bool finished_when_removed = false;
  std::thread remover([&] {
    registry.RemoveCollector(id);
    finished_when_removed = collector_finished.load();
    removed.store(true);
  });
  // For a while the remover must stay blocked behind the running collector (this checks
  // that something does not happen, so it can only watch for a bounded time).
  const absl::Time until = absl::Now() + absl::Milliseconds(200);
  while (absl::Now() < until && !removed.load()) std::this_thread::yield();
  EXPECT_FALSE(removed.load());
  release.store(true);
  remover.join();
  EXPECT_TRUE(finished_when_removed);
  alive.reset();  // safe only because RemoveCollector returned
  scraper.join();
  EXPECT_EQ(text, "# HELP g G.\n# TYPE g gauge\ng 42\n");
  EXPECT_EQ(registry.Exposition(), "");
}

}  // namespace
}  // namespace chime::metrics
