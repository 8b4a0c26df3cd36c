#include "metrics/registry.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics/testing/exposition_parser.h"
#include "tests/testing/status_matchers.h"

namespace chime::metrics {
namespace {

using ::chime::testing::StatusIs;
using ::testing::HasSubstr;

TEST(RegistryTest, GoldenExposition) {
  Registry registry;
  ASSERT_OK_AND_ASSIGN(CounterFamily * creates,
                       registry.AddCounter("chime_creates_total", "Timers created.", {"ns"}));
  ASSERT_OK_AND_ASSIGN(
      GaugeFamily * pending,
      registry.AddGauge("chime_timers_pending", "Timers pending.\nBy shard.", {"shard", "state"}));
  ASSERT_OK_AND_ASSIGN(
      HistogramFamily * lateness,
      registry.AddHistogram("chime_fire_lateness_seconds", "Lateness.", {}, {0.001, 0.01}));
  ASSERT_OK_AND_ASSIGN(CounterFamily * unused,
                       registry.AddCounter("chime_unused_total", "Never touched.", {"x"}));
  (void)unused;
  creates->WithLabels({{"ns", "b"}})->Increment(2);
  creates->WithLabels({{"ns", "a\"\\\n"}})->Increment();
  // Label order at the call does not matter; the family's order is written.
  pending->WithLabels({{"state", "scheduled"}, {"shard", "1"}})->Set(7);
  pending->WithLabels({{"shard", "0"}, {"state", "scheduled"}})->Add(-1.5);
  lateness->WithLabels({})->Observe(0.005);

  EXPECT_EQ(registry.Exposition(),
            "# HELP chime_creates_total Timers created.\n"
            "# TYPE chime_creates_total counter\n"
            "chime_creates_total{ns=\"a\\\"\\\\\\n\"} 1\n"
            "chime_creates_total{ns=\"b\"} 2\n"
            "# HELP chime_fire_lateness_seconds Lateness.\n"
            "# TYPE chime_fire_lateness_seconds histogram\n"
            "chime_fire_lateness_seconds_bucket{le=\"0.001\"} 0\n"
            "chime_fire_lateness_seconds_bucket{le=\"0.01\"} 1\n"
            "chime_fire_lateness_seconds_bucket{le=\"+Inf\"} 1\n"
            "chime_fire_lateness_seconds_sum 0.005\n"
            "chime_fire_lateness_seconds_count 1\n"
            "# HELP chime_timers_pending Timers pending.\\nBy shard.\n"
            "# TYPE chime_timers_pending gauge\n"
            "chime_timers_pending{shard=\"0\",state=\"scheduled\"} -1.5\n"
            "chime_timers_pending{shard=\"1\",state=\"scheduled\"} 7\n");
}

TEST(RegistryTest, UnlabelledFamiliesShowFromTheStart) {
  Registry registry;
  ASSERT_TRUE(registry.AddCounter("a_total", "A.").ok());
  ASSERT_TRUE(registry.AddHistogram("b_seconds", "B.").ok());
  ASSERT_OK_AND_ASSIGN(auto parsed, testing::ParseExposition(registry.Exposition()));
  EXPECT_EQ(parsed.Value("a_total"), 0);
  EXPECT_EQ(parsed.Value("b_seconds_count"), 0);
  EXPECT_EQ(parsed.Value("b_seconds_bucket", {{"le", "5e-05"}}), 0);
  EXPECT_EQ(parsed.Value("b_seconds_bucket", {{"le", "60"}}), 0);
}

TEST(RegistryTest, EmptyRegistryIsEmptyText) {
  Registry registry;
  EXPECT_EQ(registry.Exposition(), "");
}

TEST(RegistryTest, RegistrationErrors) {
  Registry registry;
  EXPECT_THAT(registry.AddCounter("9bad", "x"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(registry.AddCounter("ok_total", "x", {"__reserved"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(registry.AddCounter("ok_total", "x", {"a-b"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(registry.AddGauge("ok", "x", {"a", "a"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(registry.AddHistogram("h", "x", {"le"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(registry.AddHistogram("h", "x", {}, {2, 1}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(registry.Exposition(), "");
}

TEST(RegistryTest, SameDefinitionReturnsTheSameFamily) {
  Registry registry;
  ASSERT_OK_AND_ASSIGN(CounterFamily * a, registry.AddCounter("fires_total", "F.", {"shard"}));
  ASSERT_OK_AND_ASSIGN(CounterFamily * b, registry.AddCounter("fires_total", "F.", {"shard"}));
  EXPECT_EQ(a, b);
  EXPECT_EQ(a->WithLabels({{"shard", "1"}}), b->WithLabels({{"shard", "1"}}));
  ASSERT_OK_AND_ASSIGN(HistogramFamily * h1, registry.AddHistogram("h", "H.", {}, {1, 2}));
  ASSERT_OK_AND_ASSIGN(HistogramFamily * h2, registry.AddHistogram("h", "H.", {}, {1, 2}));
  EXPECT_EQ(h1, h2);
}

TEST(RegistryTest, ClashesAreRejected) {
  Registry registry;
  ASSERT_TRUE(registry.AddCounter("fires_total", "F.", {"shard"}).ok());
  EXPECT_THAT(registry.AddCounter("fires_total", "Other help.", {"shard"}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(registry.AddCounter("fires_total", "F.", {"ns"}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(registry.AddGauge("fires_total", "F.", {"shard"}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_TRUE(registry.AddHistogram("lat", "L.", {}, {1}).ok());
  EXPECT_THAT(registry.AddHistogram("lat", "L.", {}, {2}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  // A histogram owns its series names, in both directions.
  EXPECT_THAT(registry.AddGauge("lat_count", "C."), StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_TRUE(registry.AddGauge("other_sum", "S.").ok());
  EXPECT_THAT(registry.AddHistogram("other", "O."), StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST(RegistryTest, WrongLabels) {
  Registry registry;
  ASSERT_OK_AND_ASSIGN(GaugeFamily * g, registry.AddGauge("g", "G.", {"a", "b"}));
  EXPECT_THAT(g->TryWithLabels({{"a", "1"}}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(g->TryWithLabels({{"a", "1"}, {"c", "2"}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(g->TryWithLabels({{"a", "1"}, {"a", "2"}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK_AND_ASSIGN(Gauge * cell, g->TryWithLabels({{"b", "2"}, {"a", "1"}}));
  EXPECT_EQ(cell, g->WithLabels({{"a", "1"}, {"b", "2"}}));
  EXPECT_DEATH(g->WithLabels({{"a", "1"}}), "takes 2 labels");
}

TEST(RegistryTest, CollectorsMergeSortAndValidate) {
  Registry registry;
  ASSERT_TRUE(registry.AddCounter("m_registered_total", "R.").ok());
  for (int shard = 0; shard < 2; ++shard) {
    registry.AddCollector([shard](Emitter& e) {
      e.EmitGauge("m_sst_bytes", "SST bytes.", {{"shard", std::to_string(shard)}}, 100 + shard);
    });
  }
  registry.AddCollector([](Emitter& e) {
    e.EmitCounter("a_stalls_total", "Stalls.", {}, 3);
    e.EmitCounter("z_total", "Z.", {}, 1);
  });
  EXPECT_OK(registry.CheckCollectors());
  EXPECT_EQ(registry.Exposition(),
            "# HELP a_stalls_total Stalls.\n"
            "# TYPE a_stalls_total counter\n"
            "a_stalls_total 3\n"
            "# HELP m_registered_total R.\n"
            "# TYPE m_registered_total counter\n"
            "m_registered_total 0\n"
            "# HELP m_sst_bytes SST bytes.\n"
            "# TYPE m_sst_bytes gauge\n"
            "m_sst_bytes{shard=\"0\"} 100\n"
            "m_sst_bytes{shard=\"1\"} 101\n"
            "# HELP z_total Z.\n"
            "# TYPE z_total counter\n"
            "z_total 1\n");
}

TEST(RegistryTest, InvalidCollectedSamplesAreDroppedAndReported) {
  Registry registry;
  ASSERT_TRUE(registry.AddHistogram("lat", "L.", {}, {1}).ok());
  registry.AddCollector([](Emitter& e) {
    e.EmitGauge("lat_sum", "clashes with the histogram", {}, 1);
    e.EmitGauge("bad-name", "x", {}, 1);
    e.EmitGauge("g", "G.", {{"a", "1"}}, 1);
    e.EmitGauge("g", "G.", {{"b", "1"}}, 2);    // different label names
    e.EmitGauge("g", "G.", {{"a", "1"}}, 3);    // repeated series
    e.EmitCounter("g", "G.", {{"a", "2"}}, 3);  // different type
    e.EmitCounter("c_total", "C.", {}, -1);
    e.EmitGauge("h", "H.", {{"__x", "1"}}, 1);
  });
  const absl::Status status = registry.CheckCollectors();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(status.message(), HasSubstr("lat_sum"));
  EXPECT_THAT(status.message(), HasSubstr("bad-name"));
  EXPECT_THAT(status.message(), HasSubstr("__x"));
  const std::string text = registry.Exposition();
  ASSERT_OK_AND_ASSIGN(auto parsed, testing::ParseExposition(text));
  EXPECT_EQ(parsed.families.size(), 2u) << text;  // lat and g
  EXPECT_EQ(parsed.Value("g", {{"a", "1"}}), 1);
  EXPECT_EQ(parsed.Value("lat_sum"), 0);
}

TEST(RegistryTest, RemovedCollectorsNoLongerRun) {
  Registry registry;
  int runs = 0;
  const Registry::CollectorId id = registry.AddCollector([&runs](Emitter& e) {
    ++runs;
    e.EmitGauge("g", "G.", {}, 1);
  });
  EXPECT_THAT(registry.Exposition(), HasSubstr("g 1\n"));
  registry.RemoveCollector(id);
  EXPECT_EQ(registry.Exposition(), "");
  EXPECT_EQ(runs, 1);
}

TEST(RegistryTest, ExpositionPassesTheStrictParser) {
  Registry registry;
  ASSERT_OK_AND_ASSIGN(
      HistogramFamily * lat,
      registry.AddHistogram("chime_fire_lateness_seconds", "Lateness.", {"shard", "stage"}));
  ASSERT_OK_AND_ASSIGN(CounterFamily * deliveries,
                       registry.AddCounter("chime_deliveries_total", "Deliveries.", {"outcome"}));
  ASSERT_OK_AND_ASSIGN(GaugeFamily * weird, registry.AddGauge("weird", "Odd \\ values.", {"v"}));
  for (int i = 0; i < 100; ++i) {
    lat->WithLabels({{"shard", std::to_string(i % 3)}, {"stage", i % 2 ? "acked" : "dispatched"}})
        ->Observe(i * 0.0007);
  }
  deliveries->WithLabels({{"outcome", "acked"}})->Increment(5);
  weird->WithLabels({{"v", "nan"}})->Set(std::numeric_limits<double>::quiet_NaN());
  weird->WithLabels({{"v", "inf"}})->Set(std::numeric_limits<double>::infinity());
  weird->WithLabels({{"v", "-inf"}})->Set(-std::numeric_limits<double>::infinity());
  weird->WithLabels({{"v", "tiny"}})->Set(1e-300);
  weird->WithLabels({{"v", "{,}=\"\n\\"}})->Set(1);
  const std::string text = registry.Exposition();
  ASSERT_OK_AND_ASSIGN(auto parsed, testing::ParseExposition(text));
  ASSERT_EQ(parsed.families.size(), 3u);
  // Families come out sorted by name.
  EXPECT_EQ(parsed.families[0].name, "chime_deliveries_total");
  EXPECT_EQ(parsed.families[1].name, "chime_fire_lateness_seconds");
  EXPECT_EQ(parsed.families[2].name, "weird");
  EXPECT_EQ(parsed.families[2].help, "Odd \\ values.");
  EXPECT_EQ(parsed.Value("chime_deliveries_total", {{"outcome", "acked"}}), 5);
  EXPECT_EQ(parsed.Value("weird", {{"v", "{,}=\"\n\\"}}), 1);
  EXPECT_EQ(parsed.Value("weird", {{"v", "tiny"}}), 1e-300);
  EXPECT_EQ(parsed.Value("weird", {{"v", "-inf"}}), -std::numeric_limits<double>::infinity());
  double total = 0;
  for (const char* shard : {"0", "1", "2"}) {
    for (const char* stage : {"acked", "dispatched"}) {
      total +=
          *parsed.Value("chime_fire_lateness_seconds_count", {{"shard", shard}, {"stage", stage}});
    }
  }
  EXPECT_EQ(total, 100);
  // The same state gives the same text.
  EXPECT_EQ(registry.Exposition(), text);
}

}  // namespace
}  // namespace chime::metrics
