#include "schedule/interval.h"

#include <cstdint>
#include <optional>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace chime {
namespace {

// 2026-01-01T00:00:00.123456789Z: a start with nanoseconds.
constexpr int64_t kStartNanos = int64_t{1767225600} * 1000000000 + 123456789;

TEST(IntervalTest, MillionOccurrencesLandExactlyOnStartPlusKTimesEvery) {
  // 333.333333ms does not divide a second: any accumulated rounding would show.
  constexpr int64_t kEveryNanos = 333333333;
  const IntervalSpec spec{.start = absl::FromUnixNanos(kStartNanos),
                          .every = absl::Nanoseconds(kEveryNanos)};
  ASSERT_TRUE(ValidateIntervalSpec(spec).ok());
  // Chained the way the engine chains them: each Next from the previous scheduled time.
  absl::Time previous = spec.start - absl::Nanoseconds(1);
  for (int64_t k = 0; k < 1000000; ++k) {
    const std::optional<IntervalOccurrence> next = NextIntervalOccurrence(spec, previous);
    ASSERT_TRUE(next.has_value()) << k;
    ASSERT_EQ(next->index, k);
    // Checked against plain integer nanoseconds, independent of absl::Duration arithmetic.
    ASSERT_EQ(absl::ToUnixNanos(next->time), kStartNanos + k * kEveryNanos) << k;
    previous = next->time;
  }
  EXPECT_EQ(previous - spec.start, absl::Nanoseconds(int64_t{999999} * kEveryNanos));
}

TEST(IntervalTest, NextFromArbitraryInstants) {
  const IntervalSpec spec{.start = absl::FromUnixNanos(kStartNanos), .every = absl::Seconds(10)};
  const absl::Time start = spec.start;
  struct Case {
    absl::Time after;
    int64_t index;
  };
  for (const Case& c : {
           Case{start - absl::Hours(1000), 0},
           Case{start - absl::Nanoseconds(1), 0},
           Case{start, 1},
           Case{start + absl::Nanoseconds(1), 1},
           Case{start + absl::Seconds(10) - absl::Nanoseconds(1), 1},
           Case{start + absl::Seconds(10), 2},
           // After an outage: the first occurrence after now, computed, not iterated.
           Case{start + absl::Seconds(105), 11},
           // Ten years later: still exact.
           Case{start + absl::Hours(24 * 3653) + absl::Seconds(5), 24 * 3653 * 360 + 1},
       }) {
    const std::optional<IntervalOccurrence> next = NextIntervalOccurrence(spec, c.after);
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->index, c.index);
    EXPECT_EQ(next->time, start + absl::Seconds(10) * c.index);
    EXPECT_EQ(next->time, IntervalOccurrenceTime(spec, c.index));
  }
}

TEST(IntervalTest, EndIsInclusive) {
  const absl::Time start = absl::FromUnixSeconds(1767225600);
  const IntervalSpec spec{
      .start = start, .every = absl::Minutes(1), .end = start + absl::Minutes(3)};
  EXPECT_EQ(NextIntervalOccurrence(spec, start + absl::Seconds(150)),
            (IntervalOccurrence{3, start + absl::Minutes(3)}));
  EXPECT_EQ(NextIntervalOccurrence(spec, start + absl::Minutes(3)), std::nullopt);
  // An end between occurrences stops after the last one before it.
  IntervalSpec between = spec;
  between.end = start + absl::Seconds(150);
  EXPECT_EQ(NextIntervalOccurrence(between, start + absl::Seconds(120)), std::nullopt);
  EXPECT_EQ(NextIntervalOccurrence(between, start + absl::Seconds(60))->index, 2);
}

TEST(IntervalTest, MaxFiresBoundsTheIndex) {
  const absl::Time start = absl::FromUnixSeconds(1767225600);
  const IntervalSpec spec{.start = start, .every = absl::Minutes(1), .max_fires = 3};
  EXPECT_EQ(NextIntervalOccurrence(spec, start - absl::Seconds(1))->index, 0);
  EXPECT_EQ(NextIntervalOccurrence(spec, start + absl::Seconds(61))->index, 2);
  EXPECT_EQ(NextIntervalOccurrence(spec, start + absl::Minutes(2)), std::nullopt);
}

TEST(IntervalTest, OverflowAndInfinityEndTheSchedule) {
  const absl::Time start = absl::FromUnixSeconds(1767225600);
  // ~100 million years per occurrence: a few thousand overflow absl::Time.
  const IntervalSpec spec{.start = start, .every = absl::Hours(int64_t{24} * 365 * 100000000)};
  EXPECT_EQ(NextIntervalOccurrence(spec, start)->index, 1);
  EXPECT_EQ(NextIntervalOccurrence(spec, start + spec.every * 2000)->index, 2001);
  EXPECT_EQ(NextIntervalOccurrence(spec, start + spec.every * 2999), std::nullopt);
  EXPECT_EQ(IntervalOccurrenceTime(spec, 3000), absl::InfiniteFuture());
  EXPECT_EQ(NextIntervalOccurrence(spec, absl::InfiniteFuture()), std::nullopt);
  EXPECT_EQ(NextIntervalOccurrence(spec, absl::InfinitePast())->index, 0);
}

TEST(IntervalTest, ValidationNamesTheField) {
  const absl::Time start = absl::FromUnixSeconds(1767225600);
  struct Case {
    IntervalSpec spec;
    const char* message;
  };
  for (const Case& c : {
           Case{{.start = start, .every = absl::ZeroDuration()},
                "interval 'every' must be a positive, finite duration"},
           Case{{.start = start, .every = -absl::Seconds(1)},
                "interval 'every' must be a positive, finite duration"},
           Case{{.start = start, .every = absl::InfiniteDuration()},
                "interval 'every' must be a positive, finite duration"},
           Case{{.start = absl::InfiniteFuture(), .every = absl::Seconds(1)},
                "interval 'start' must be a finite time"},
           Case{{.start = start, .every = absl::Seconds(1), .end = start - absl::Seconds(1)},
                "interval 'end' must not be before 'start'"},
           Case{{.start = start, .every = absl::Seconds(1), .max_fires = 0},
                "interval 'max_fires' must be positive (omit it for no limit)"},
       }) {
    const absl::Status status = ValidateIntervalSpec(c.spec);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(), c.message);
    EXPECT_EQ(NextIntervalOccurrence(c.spec, start), std::nullopt);
  }
  EXPECT_TRUE(ValidateIntervalSpec(
                  {.start = start, .every = absl::Nanoseconds(1), .end = start, .max_fires = 1})
                  .ok());
}

}  // namespace
}  // namespace chime
