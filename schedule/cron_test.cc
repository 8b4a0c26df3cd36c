#include "schedule/cron.h"

#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/time_text.h"
#include "gtest/gtest.h"

namespace chime {
namespace {

absl::Time Utc(absl::string_view rfc3339) {
  absl::StatusOr<absl::Time> t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.ok()) << rfc3339;
  return t.ok() ? *t : absl::InfinitePast();
}

std::string Format(absl::Time t) {
  if (t == absl::InfiniteFuture()) return "never";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S %a", t, absl::UTCTimeZone());
}

// The next `count` fire times in UTC after `from`, chained through Next.
std::string NextTimesUtc(absl::string_view expression, absl::string_view from, int count) {
  absl::StatusOr<CronExpression> cron = CronExpression::Parse(expression);
  if (!cron.ok()) return std::string(cron.status().message());
  std::vector<std::string> out;
  absl::Time t = Utc(from);
  for (int i = 0; i < count; ++i) {
    t = cron->Next(t, absl::UTCTimeZone());
    out.push_back(Format(t));
    if (t == absl::InfiniteFuture()) break;
  }
  return absl::StrJoin(out, ", ");
}

struct NextCase {
  const char* expression;
  const char* from;
  std::vector<const char*> expected;
};

TEST(CronNextTest, Table) {
  const std::vector<NextCase> cases = {
      // Basics and steps.
      {"* * * * *", "2026-01-01T00:00:00Z", {"2026-01-01 00:01:00 Thu", "2026-01-01 00:02:00 Thu"}},
      {"* * * * *", "2026-01-01T00:00:59.999Z", {"2026-01-01 00:01:00 Thu"}},
      {"*/15 * * * *",
       "2026-01-01T00:07:30Z",
       {"2026-01-01 00:15:00 Thu", "2026-01-01 00:30:00 Thu", "2026-01-01 00:45:00 Thu",
        "2026-01-01 01:00:00 Thu"}},
      {"5-10/2 * * * *",
       "2026-01-01T00:05:00Z",
       {"2026-01-01 00:07:00 Thu", "2026-01-01 00:09:00 Thu", "2026-01-01 01:05:00 Thu"}},
      {"5/20 * * * *",
       "2026-01-01T00:26:00Z",
       {"2026-01-01 00:45:00 Thu", "2026-01-01 01:05:00 Thu"}},
      {"*/60 * * * *", "2026-01-01T00:00:00Z", {"2026-01-01 01:00:00 Thu"}},
      {"0 */6 * * *",
       "2026-01-01T05:00:00Z",
       {"2026-01-01 06:00:00 Thu", "2026-01-01 12:00:00 Thu", "2026-01-01 18:00:00 Thu",
        "2026-01-02 00:00:00 Fri"}},
      // Lists, mixing values, ranges and steps.
      {"0,30 9-10,17 * * *",
       "2026-01-01T09:15:00Z",
       {"2026-01-01 09:30:00 Thu", "2026-01-01 10:00:00 Thu", "2026-01-01 10:30:00 Thu",
        "2026-01-01 17:00:00 Thu", "2026-01-01 17:30:00 Thu", "2026-01-02 09:00:00 Fri"}},
      {"0 0 1,15 * *",
       "2026-01-02T00:00:00Z",
       {"2026-01-15 00:00:00 Thu", "2026-02-01 00:00:00 Sun"}},
      // Names, case-insensitive.
      {"0 12 * JAN,jul *", "2026-02-01T00:00:00Z", {"2026-07-01 12:00:00 Wed"}},
      {"0 0 1 jun-AUG *",
       "2026-01-01T00:00:00Z",
       {"2026-06-01 00:00:00 Mon", "2026-07-01 00:00:00 Wed", "2026-08-01 00:00:00 Sat",
        "2027-06-01 00:00:00 Tue"}},
      // Weekdays over a weekend: Friday 2026-01-09 09:00 -> Monday 2026-01-12.
      {"0 9 * * MON-FRI",
       "2026-01-09T09:00:00Z",
       {"2026-01-12 09:00:00 Mon", "2026-01-13 09:00:00 Tue"}},
      {"0 9 * * 1-5", "2026-01-10T00:00:00Z", {"2026-01-12 09:00:00 Mon"}},
      {"0 0 * * 1-5/2",
       "2026-01-04T00:00:00Z",
       {"2026-01-05 00:00:00 Mon", "2026-01-07 00:00:00 Wed", "2026-01-09 00:00:00 Fri",
        "2026-01-12 00:00:00 Mon"}},
      // 0 and 7 are Sunday; FRI-SUN and 5-7 run Friday to Sunday.
      {"0 0 * * 0", "2026-01-01T00:00:00Z", {"2026-01-04 00:00:00 Sun"}},
      {"0 0 * * 7", "2026-01-01T00:00:00Z", {"2026-01-04 00:00:00 Sun"}},
      {"0 0 * * sun", "2026-01-01T00:00:00Z", {"2026-01-04 00:00:00 Sun"}},
      {"0 0 * * FRI-SUN",
       "2026-01-01T00:00:00Z",
       {"2026-01-02 00:00:00 Fri", "2026-01-03 00:00:00 Sat", "2026-01-04 00:00:00 Sun",
        "2026-01-09 00:00:00 Fri"}},
      {"0 0 * * 5-7",
       "2026-01-01T00:00:00Z",
       {"2026-01-02 00:00:00 Fri", "2026-01-03 00:00:00 Sat", "2026-01-04 00:00:00 Sun",
        "2026-01-09 00:00:00 Fri"}},
      // Day-of-month OR day-of-week when both are restricted: the 13th and every Friday.
      {"0 0 13 * FRI",
       "2026-01-01T00:00:00Z",
       {"2026-01-02 00:00:00 Fri", "2026-01-09 00:00:00 Fri", "2026-01-13 00:00:00 Tue",
        "2026-01-16 00:00:00 Fri"}},
      {"0 0 */10 * MON",
       "2026-01-01T00:00:00Z",
       {"2026-01-05 00:00:00 Mon", "2026-01-11 00:00:00 Sun", "2026-01-12 00:00:00 Mon",
        "2026-01-19 00:00:00 Mon", "2026-01-21 00:00:00 Wed"}},
      // ... and AND when one of them is '*': only Fridays, only the 13th.
      {"0 0 * * FRI", "2026-01-02T00:00:00Z", {"2026-01-09 00:00:00 Fri"}},
      {"0 0 13 * *",
       "2026-01-01T00:00:00Z",
       {"2026-01-13 00:00:00 Tue", "2026-02-13 00:00:00 Fri"}},
      {"0 0 13 * */1", "2026-01-01T00:00:00Z", {"2026-01-13 00:00:00 Tue"}},
      // Month ends: the 31st skips short months, the 30th skips February.
      {"0 0 31 * *",
       "2026-01-31T00:00:00Z",
       {"2026-03-31 00:00:00 Tue", "2026-05-31 00:00:00 Sun", "2026-07-31 00:00:00 Fri",
        "2026-08-31 00:00:00 Mon"}},
      {"59 23 30 * *", "2026-01-30T23:59:00Z", {"2026-03-30 23:59:00 Mon"}},
      {"0 0 28-31 2 *",
       "2027-01-01T00:00:00Z",
       {"2027-02-28 00:00:00 Sun", "2028-02-28 00:00:00 Mon", "2028-02-29 00:00:00 Tue",
        "2029-02-28 00:00:00 Wed"}},
      {"59 59 23 31 12 *",
       "2026-12-31T23:59:58Z",
       {"2026-12-31 23:59:59 Thu", "2027-12-31 23:59:59 Fri"}},
      // February 29: 2028 is a leap year, 2027 is not; 2100 is not (8-year gap).
      {"0 0 29 2 *",
       "2026-03-01T00:00:00Z",
       {"2028-02-29 00:00:00 Tue", "2032-02-29 00:00:00 Sun"}},
      {"0 12 * 2 *", "2027-02-28T12:00:00Z", {"2028-02-01 12:00:00 Tue"}},
      {"0 12 * 2 *",
       "2028-02-28T12:00:00Z",
       {"2028-02-29 12:00:00 Tue", "2029-02-01 12:00:00 Thu"}},
      {"0 0 29 2 *", "2096-02-29T00:00:00Z", {"2104-02-29 00:00:00 Fri"}},
      // Seconds field.
      {"*/10 * * * * *",
       "2026-01-01T00:00:05Z",
       {"2026-01-01 00:00:10 Thu", "2026-01-01 00:00:20 Thu"}},
      {"30 0 0 * * *",
       "2026-01-01T00:00:00Z",
       {"2026-01-01 00:00:30 Thu", "2026-01-02 00:00:30 Fri"}},
      {"0 0 * * * *", "2026-01-01T00:00:00Z", {"2026-01-01 01:00:00 Thu"}},
      // Shortcuts, case-insensitive.
      {"@hourly", "2026-01-01T10:30:00Z", {"2026-01-01 11:00:00 Thu"}},
      {"@HOURLY", "2026-01-01T10:30:00Z", {"2026-01-01 11:00:00 Thu"}},
      {"@daily", "2026-01-01T10:30:00Z", {"2026-01-02 00:00:00 Fri"}},
      {"@midnight", "2026-01-01T00:00:00Z", {"2026-01-02 00:00:00 Fri"}},
      {"@weekly", "2026-01-01T00:00:00Z", {"2026-01-04 00:00:00 Sun", "2026-01-11 00:00:00 Sun"}},
      {"@monthly", "2026-01-31T00:00:00Z", {"2026-02-01 00:00:00 Sun"}},
      {"@yearly", "2026-01-01T00:00:00Z", {"2027-01-01 00:00:00 Fri"}},
      {"@annually", "2025-12-31T23:59:59Z", {"2026-01-01 00:00:00 Thu"}},
      // Whitespace is flexible.
      {"  0\t9  * *   MON ", "2026-01-01T00:00:00Z", {"2026-01-05 09:00:00 Mon"}},
      // Never: no February 30th, no April 31st.
      {"0 0 30 2 *", "2026-01-01T00:00:00Z", {"never"}},
      {"0 0 31 4,6,9,11 *", "2026-01-01T00:00:00Z", {"never"}},
  };
  for (const NextCase& c : cases) {
    EXPECT_EQ(NextTimesUtc(c.expression, c.from, c.expected.size()),
              absl::StrJoin(c.expected, ", "))
        << c.expression << " after " << c.from;
  }
}

TEST(CronParseTest, RejectsWithExactMessages) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"", "cron expression is empty"},
      {"   ", "cron expression is empty"},
      {"* * * *",
       "cron expression '* * * *': expected 5 fields (minute hour day-of-month month "
       "day-of-week) or 6 with a leading second, got 4"},
      {"* * * * * * *",
       "cron expression '* * * * * * *': expected 5 fields (minute hour day-of-month month "
       "day-of-week) or 6 with a leading second, got 7"},
      {"0 24 * * *", "cron field 'hour': value 24 out of range 0-23"},
      {"60 * * * *", "cron field 'minute': value 60 out of range 0-59"},
      {"60 0 0 * * *", "cron field 'second': value 60 out of range 0-59"},
      {"0 0 0 * *", "cron field 'day-of-month': value 0 out of range 1-31"},
      {"0 0 32 * *", "cron field 'day-of-month': value 32 out of range 1-31"},
      {"0 0 * 0 *", "cron field 'month': value 0 out of range 1-12"},
      {"0 0 * 13 *", "cron field 'month': value 13 out of range 1-12"},
      {"0 0 * * 8", "cron field 'day-of-week': value 8 out of range 0-7"},
      {"99999999999 * * * *", "cron field 'minute': value 99999999999 out of range 0-59"},
      {"0 0-24 * * *", "cron field 'hour': value 24 out of range 0-23"},
      {"x * * * *", "cron field 'minute': invalid value 'x' (expected 0-59)"},
      {"0 MON * * *", "cron field 'hour': invalid value 'MON' (expected 0-23)"},
      {"0 0 * FOO *", "cron field 'month': invalid value 'FOO' (expected 1-12 or JAN-DEC)"},
      {"0 0 * * MONDAY",
       "cron field 'day-of-week': invalid value 'MONDAY' (expected 0-7 or SUN-SAT)"},
      {"0 0 * MON *", "cron field 'month': invalid value 'MON' (expected 1-12 or JAN-DEC)"},
      {"*/0 * * * *", "cron field 'minute': step 0 out of range 1-60"},
      {"*/61 * * * *", "cron field 'minute': step 61 out of range 1-60"},
      {"0 */25 * * *", "cron field 'hour': step 25 out of range 1-24"},
      {"0 0 * * */8", "cron field 'day-of-week': step 8 out of range 1-7"},
      {"*/ * * * *", "cron field 'minute': invalid step '' in '*/' (expected a number 1-60)"},
      {"*/x * * * *", "cron field 'minute': invalid step 'x' in '*/x' (expected a number 1-60)"},
      {"5-3 * * * *",
       "cron field 'minute': range '5-3' is reversed (the start must not exceed the end)"},
      {"0 0 * JUL-MAR *",
       "cron field 'month': range 'JUL-MAR' is reversed (the start must not exceed the end)"},
      {"5- * * * *", "cron field 'minute': invalid range '5-' (expected a-b within 0-59)"},
      {"-1 * * * *", "cron field 'minute': invalid range '-1' (expected a-b within 0-59)"},
      {"1-2-3 * * * *", "cron field 'minute': invalid range '1-2-3' (expected a-b within 0-59)"},
      {"/5 * * * *", "cron field 'minute': invalid value '/5' (expected 0-59)"},
      {"1,,2 * * * *", "cron field 'minute': empty list item in '1,,2'"},
      {"1, * * * *", "cron field 'minute': empty list item in '1,'"},
      {"0 0 L * *",
       "cron field 'day-of-month': 'L' is not supported (the L, W and # extensions are not "
       "implemented)"},
      {"0 0 15W * *",
       "cron field 'day-of-month': '15W' is not supported (the L, W and # extensions are not "
       "implemented)"},
      {"0 0 LW * *",
       "cron field 'day-of-month': 'LW' is not supported (the L, W and # extensions are not "
       "implemented)"},
      {"0 0 * * 5L",
       "cron field 'day-of-week': '5L' is not supported (the L, W and # extensions are not "
       "implemented)"},
      {"0 0 * * FRI#3",
       "cron field 'day-of-week': 'FRI#3' is not supported (the L, W and # extensions are not "
       "implemented)"},
      {"0 0 ? * MON", "cron field 'day-of-month': '?' is not supported (use '*')"},
      {"@reboot", "cron shortcut '@reboot' is not supported"},
      {"@every 5m", "cron shortcut '@every 5m' is not supported (use an interval schedule)"},
      {"@fortnightly",
       "unknown cron shortcut '@fortnightly' (expected @yearly, @annually, @monthly, @weekly, "
       "@daily, @midnight or @hourly)"},
  };
  for (const auto& [expression, message] : cases) {
    absl::StatusOr<CronExpression> cron = CronExpression::Parse(expression);
    ASSERT_FALSE(cron.ok()) << "'" << expression << "' parsed";
    EXPECT_EQ(cron.status().code(), absl::StatusCode::kInvalidArgument) << expression;
    EXPECT_EQ(cron.status().message(), message) << expression;
  }
}

TEST(CronParseTest, NamesInMonthAreNotMistakenForExtensions) {
  // JUL ends in L and APR has none; both are plain month names.
  EXPECT_TRUE(CronExpression::Parse("0 0 1 JUL *").ok());
  EXPECT_TRUE(CronExpression::Parse("0 0 1 apr-jul *").ok());
  EXPECT_TRUE(CronExpression::Parse("0 0 * * WED").ok());
}

TEST(CronParseTest, KeepsTextAndKnowsWhenItCanMatch) {
  absl::StatusOr<CronExpression> cron = CronExpression::Parse(" 0 9 * * MON-FRI ");
  ASSERT_TRUE(cron.ok());
  EXPECT_EQ(cron->text(), "0 9 * * MON-FRI");
  EXPECT_TRUE(cron->CanMatch());
  for (const char* never : {"0 0 30 2 *", "0 0 31 2,4,6,9,11 *", "0 0 30,31 FEB *"}) {
    absl::StatusOr<CronExpression> c = CronExpression::Parse(never);
    ASSERT_TRUE(c.ok()) << never;
    EXPECT_FALSE(c->CanMatch()) << never;
    EXPECT_EQ(c->Next(Utc("2026-01-01T00:00:00Z"), absl::UTCTimeZone()), absl::InfiniteFuture());
  }
  for (const char* sometimes : {"0 0 29 2 *", "0 0 30 2 MON", "0 0 31 1-12 *"}) {
    absl::StatusOr<CronExpression> c = CronExpression::Parse(sometimes);
    ASSERT_TRUE(c.ok()) << sometimes;
    EXPECT_TRUE(c->CanMatch()) << sometimes;
  }
}

TEST(CronNextTest, InfiniteInputsGiveInfiniteFuture) {
  absl::StatusOr<CronExpression> cron = CronExpression::Parse("* * * * *");
  ASSERT_TRUE(cron.ok());
  EXPECT_EQ(cron->Next(absl::InfiniteFuture(), absl::UTCTimeZone()), absl::InfiniteFuture());
  EXPECT_EQ(cron->Next(absl::InfinitePast(), absl::UTCTimeZone()), absl::InfiniteFuture());
}

// Next agrees with a brute-force scan over every minute of two months.
TEST(CronNextTest, AgreesWithMinuteByMinuteScan) {
  for (const char* expression :
       {"*/7 3-5,20 * * *", "15 */5 1-7 * MON", "0 0 13 * FRI", "0 12 * JAN-FEB 0,6",
        "30 4 1,15,31 * *", "0 0 * * *", "59 23 28-31 * *"}) {
    absl::StatusOr<CronExpression> cron = CronExpression::Parse(expression);
    ASSERT_TRUE(cron.ok()) << expression;
    std::vector<absl::Time> scanned;
    for (absl::CivilMinute m(2027, 12, 15); m < absl::CivilMinute(2028, 3, 1); ++m) {
      if (cron->Matches(absl::CivilSecond(m))) {
        scanned.push_back(absl::FromCivil(m, absl::UTCTimeZone()));
      }
    }
    std::vector<absl::Time> chained;
    const absl::Time end = absl::FromCivil(absl::CivilMinute(2028, 3, 1), absl::UTCTimeZone());
    absl::Time t =
        absl::FromCivil(absl::CivilMinute(2027, 12, 15), absl::UTCTimeZone()) - absl::Seconds(1);
    while ((t = cron->Next(t, absl::UTCTimeZone())) < end) chained.push_back(t);
    ASSERT_FALSE(scanned.empty()) << expression;
    EXPECT_EQ(chained, scanned) << expression;
  }
}

// A yearly expression jumps over whole months and days; this completes in milliseconds.
TEST(CronNextTest, YearlyIsFastAndReachesFarFuture) {
  absl::StatusOr<CronExpression> cron = CronExpression::Parse("@yearly");
  ASSERT_TRUE(cron.ok());
  absl::TimeZone paris;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Paris", &paris));
  absl::Time t = absl::FromCivil(absl::CivilSecond(2026, 6, 1, 0, 0, 0), paris);
  for (int i = 0; i < 100000; ++i) {
    t = cron->Next(t, paris);
    const absl::CivilSecond civil = paris.At(t).cs;
    ASSERT_EQ(civil, absl::CivilSecond(2027 + i, 1, 1, 0, 0, 0)) << i;
  }
}

}  // namespace
}  // namespace chime
