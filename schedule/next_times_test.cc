#include "schedule/next_times.h"

#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "schedule/recurring.h"
#include "tests/testing/time_at.h"

namespace chime {
namespace {

using ::chime::testing::At;

std::string Join(const std::vector<absl::Time>& times, const absl::TimeZone& zone) {
  std::vector<std::string> out;
  for (absl::Time t : times) out.push_back(absl::FormatTime("%Y-%m-%dT%H:%M:%E*S%Ez", t, zone));
  return absl::StrJoin(out, " ");
}

TEST(NextTimesTest, CronInAZone) {
  absl::StatusOr<CronSpec> cron = MakeCronSpec("0 9 * * MON-FRI", "Europe/Paris");
  ASSERT_TRUE(cron.ok()) << cron.status();
  // Friday 2026-03-27 10:00: over a weekend and the spring-forward change.
  EXPECT_EQ(Join(NextTimes(*cron, At("2026-03-27T10:00:00+01:00"), 5), cron->zone),
            "2026-03-30T09:00:00+02:00 2026-03-31T09:00:00+02:00 2026-04-01T09:00:00+02:00 "
            "2026-04-02T09:00:00+02:00 2026-04-03T09:00:00+02:00");
}

TEST(NextTimesTest, CronEndIsInclusive) {
  absl::StatusOr<CronSpec> cron = MakeCronSpec("@daily", "", At("2026-01-03T00:00:00Z"));
  ASSERT_TRUE(cron.ok());
  EXPECT_EQ(Join(NextTimes(*cron, At("2026-01-01T00:00:00Z"), 5), absl::UTCTimeZone()),
            "2026-01-02T00:00:00+00:00 2026-01-03T00:00:00+00:00");
}

TEST(NextTimesTest, Interval) {
  const IntervalSpec interval{
      .start = At("2026-01-01T00:00:00.5Z"), .every = absl::Milliseconds(1500), .max_fires = 4};
  const absl::TimeZone utc = absl::UTCTimeZone();
  EXPECT_EQ(Join(NextTimes(interval, At("2025-12-31T00:00:00Z"), 3), utc),
            "2026-01-01T00:00:00.5+00:00 2026-01-01T00:00:02+00:00 2026-01-01T00:00:03.5+00:00");
  // max_fires = 4: occurrences 0-3 only.
  EXPECT_EQ(NextTimes(interval, At("2025-12-31T00:00:00Z"), 10).size(), 4u);
  // Strictly after `from`; step back a nanosecond to include it.
  EXPECT_EQ(Join(NextTimes(interval, interval.start, 1), utc), "2026-01-01T00:00:02+00:00");
  EXPECT_EQ(Join(NextTimes(interval, interval.start - absl::Nanoseconds(1), 1), utc),
            "2026-01-01T00:00:00.5+00:00");
}

TEST(NextTimesTest, EmptyWhenNothingIsDue) {
  absl::StatusOr<CronSpec> never = MakeCronSpec("0 0 30 2 *", "UTC");
  ASSERT_TRUE(never.ok());
  EXPECT_TRUE(NextTimes(*never, At("2026-01-01T00:00:00Z"), 5).empty());
  absl::StatusOr<CronSpec> daily = MakeCronSpec("@daily", "UTC");
  ASSERT_TRUE(daily.ok());
  EXPECT_TRUE(NextTimes(*daily, At("2026-01-01T00:00:00Z"), 0).empty());
  EXPECT_TRUE(NextTimes(*daily, At("2026-01-01T00:00:00Z"), -1).empty());
}

TEST(RecurringTest, LoadZone) {
  absl::StatusOr<absl::TimeZone> utc = LoadZone("");
  ASSERT_TRUE(utc.ok());
  EXPECT_EQ(utc->name(), "UTC");
  absl::StatusOr<absl::TimeZone> kolkata = LoadZone("Asia/Kolkata");
  ASSERT_TRUE(kolkata.ok());
  EXPECT_EQ(kolkata->name(), "Asia/Kolkata");
  EXPECT_TRUE(LoadZone("Etc/GMT+5").ok());
  for (const char* bad : {"Mars/Olympus", "../../../etc/passwd", "/etc/localtime", "Europe//Paris",
                          "Europe/Paris ", "Europe/./Paris"}) {
    absl::StatusOr<absl::TimeZone> zone = LoadZone(bad);
    ASSERT_FALSE(zone.ok()) << bad;
    EXPECT_EQ(zone.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(zone.status().message(), std::string("unknown time zone '") + bad + "'");
  }
}

TEST(RecurringTest, MakeCronSpecReportsParseErrorsFirst) {
  absl::StatusOr<CronSpec> bad = MakeCronSpec("0 24 * * *", "Mars/Olympus");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "cron field 'hour': value 24 out of range 0-23");
  bad = MakeCronSpec("0 9 * * *", "Mars/Olympus");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "unknown time zone 'Mars/Olympus'");
}

TEST(RecurringTest, NextDueTime) {
  const IntervalSpec interval{.start = At("2026-01-01T00:00:00Z"), .every = absl::Hours(1)};
  EXPECT_EQ(NextDueTime(interval, At("2026-01-01T05:30:00Z")), At("2026-01-01T06:00:00Z"));
  absl::StatusOr<CronSpec> cron = MakeCronSpec("0 9 * * *", "Asia/Kolkata");
  ASSERT_TRUE(cron.ok());
  EXPECT_EQ(NextDueTime(*cron, At("2026-01-01T00:00:00Z")), At("2026-01-01T03:30:00Z"));
}

}  // namespace
}  // namespace chime
