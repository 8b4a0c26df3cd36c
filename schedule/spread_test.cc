#include "schedule/spread.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace chime {
namespace {

TEST(Fnv1a64Test, MatchesPublishedVectors) {
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ULL);
  // Chaining equals hashing the concatenation.
  EXPECT_EQ(Fnv1a64("bar", Fnv1a64("foo")), Fnv1a64("foobar"));
}

TEST(SpreadOffsetTest, StableAcrossVersions) {
  // Pinned values: a change here moves every spread timer in production.
  EXPECT_EQ(SpreadOffset("default", "nightly-report", absl::Hours(1)), absl::Milliseconds(3490561));
  EXPECT_EQ(SpreadOffset("billing", "invoice-42", absl::Minutes(10)), absl::Milliseconds(539001));
}

TEST(SpreadOffsetTest, WithinWindowWholeMillisecondsAndDeterministic) {
  for (const absl::Duration window :
       {absl::Milliseconds(1), absl::Milliseconds(7), absl::Seconds(1), absl::Milliseconds(1500),
        absl::Hours(1), absl::Hours(24 * 365)}) {
    for (int i = 0; i < 1000; ++i) {
      const std::string id = absl::StrCat("timer-", i);
      const absl::Duration offset = SpreadOffset("default", id, window);
      EXPECT_GE(offset, absl::ZeroDuration());
      EXPECT_LT(offset, window);
      EXPECT_EQ(offset % absl::Milliseconds(1), absl::ZeroDuration());
      EXPECT_EQ(offset, SpreadOffset("default", id, window));
    }
  }
}

TEST(SpreadOffsetTest, DegenerateWindowsGiveZero) {
  for (const absl::Duration window : {absl::ZeroDuration(), absl::Microseconds(999),
                                      -absl::Seconds(5), absl::InfiniteDuration()}) {
    EXPECT_EQ(SpreadOffset("default", "t", window), absl::ZeroDuration());
  }
}

TEST(SpreadOffsetTest, NamespaceAndIdAreNotConcatenated) {
  const absl::Duration window = absl::Hours(24 * 365);
  EXPECT_NE(SpreadOffset("ab", "c", window), SpreadOffset("a", "bc", window));
  EXPECT_NE(SpreadOffset("team-a", "job", window), SpreadOffset("team-b", "job", window));
}

TEST(SpreadOffsetTest, SpreadsTenThousandTimersEvenly) {
  // 10,000 hourly timers over a one-hour window: about 167 per minute.
  std::vector<int> per_minute(60, 0);
  for (int i = 0; i < 10000; ++i) {
    const absl::Duration offset =
        SpreadOffset("default", absl::StrCat("hourly-", i), absl::Hours(1));
    ++per_minute[absl::ToInt64Minutes(offset)];
  }
  for (int minute = 0; minute < 60; ++minute) {
    EXPECT_GT(per_minute[minute], 110) << minute;
    EXPECT_LT(per_minute[minute], 230) << minute;
  }
}

}  // namespace
}  // namespace chime
