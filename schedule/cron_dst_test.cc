// Cron expressions across daylight-saving transitions, in real zones from the system tzdata.
// Each test first asserts that the transition it relies on exists in the zone data, so a tzdata
// change shows up as a clear failure rather than a confusing one.
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "schedule/cron.h"
#include "tests/testing/time_at.h"

namespace chime {
namespace {

absl::TimeZone Zone(const std::string& name) {
  absl::TimeZone zone;
  EXPECT_TRUE(absl::LoadTimeZone(name, &zone)) << name;
  return zone;
}

// RFC 3339 with the zone's offset at that instant.
std::string Local(absl::Time t, const absl::TimeZone& zone) {
  if (t == absl::InfiniteFuture()) return "never";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", t, zone);
}

using ::chime::testing::At;

std::string Chain(const std::string& expression, const absl::TimeZone& zone,
                  const std::string& from, int count) {
  absl::StatusOr<CronExpression> cron = CronExpression::Parse(expression);
  if (!cron.ok()) return std::string(cron.status().message());
  std::vector<std::string> out;
  absl::Time t = At(from);
  for (int i = 0; i < count; ++i) {
    t = cron->Next(t, zone);
    out.push_back(Local(t, zone));
  }
  return absl::StrJoin(out, ", ");
}

// Asserts that the zone's first transition after `after` goes from civil `from` to civil `to`.
void ExpectTransition(const absl::TimeZone& zone, absl::CivilSecond after, absl::CivilSecond from,
                      absl::CivilSecond to) {
  absl::TimeZone::CivilTransition transition;
  ASSERT_TRUE(zone.NextTransition(absl::FromCivil(after, zone), &transition)) << zone.name();
  EXPECT_EQ(transition.from, from) << zone.name();
  EXPECT_EQ(transition.to, to) << zone.name();
}

// Every fire of `expression` in [from, to), chained through Next.
std::vector<absl::Time> AllFires(const std::string& expression, const absl::TimeZone& zone,
                                 absl::Time from, absl::Time to) {
  absl::StatusOr<CronExpression> cron = CronExpression::Parse(expression);
  EXPECT_TRUE(cron.ok());
  std::vector<absl::Time> fires;
  absl::Time t = from - absl::Nanoseconds(1);
  while ((t = cron->Next(t, zone)) < to) fires.push_back(t);
  return fires;
}

struct DstCase {
  const char* expression;
  const char* from;
  std::vector<const char*> expected;
};

void ExpectCases(const absl::TimeZone& zone, const std::vector<DstCase>& cases) {
  for (const DstCase& c : cases) {
    EXPECT_EQ(Chain(c.expression, zone, c.from, c.expected.size()), absl::StrJoin(c.expected, ", "))
        << zone.name() << ": " << c.expression << " after " << c.from;
  }
}

TEST(CronDstTest, ParisSpringForwardFiresOnceWhenTheGapEnds) {
  const absl::TimeZone paris = Zone("Europe/Paris");
  ExpectTransition(paris, absl::CivilSecond(2026, 3, 1, 0, 0, 0),
                   absl::CivilSecond(2026, 3, 29, 2, 0, 0),
                   absl::CivilSecond(2026, 3, 29, 3, 0, 0));
  ExpectCases(
      paris,
      {
          // 02:30 does not exist on 2026-03-29: it fires at 03:00 CEST, once.
          {"30 2 * * *",
           "2026-03-28T12:00:00+01:00",
           {"2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"}},
          // Two skipped times share the one fire at the end of the gap.
          {"0,30 2 * * *",
           "2026-03-29T00:00:00+01:00",
           {"2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"}},
          // 02:00-02:45 are skipped; 03:00 is the same instant as the end of the gap.
          {"*/15 * * * *",
           "2026-03-29T01:40:00+01:00",
           {"2026-03-29T01:45:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:15:00+02:00"}},
          {"0 * * * *",
           "2026-03-29T00:30:00+01:00",
           {"2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"}},
          // Asked from the gap's own fire instant, the next fire is the following day.
          {"30 2 * * *", "2026-03-29T03:00:00+02:00", {"2026-03-30T02:30:00+02:00"}},
          // Unaffected times keep their wall-clock time on both sides.
          {"0 9 * * *",
           "2026-03-28T12:00:00+01:00",
           {"2026-03-29T09:00:00+02:00", "2026-03-30T09:00:00+02:00"}},
      });
  // Every minute of the day: 02:00-03:00 (61 civil minutes) collapse into one fire.
  const std::vector<absl::Time> fires = AllFires(
      "* * * * *", paris, At("2026-03-29T00:00:00+01:00"), At("2026-03-30T00:00:00+02:00"));
  EXPECT_EQ(fires.size(), 1440u - 60u);
  EXPECT_EQ(std::set<absl::Time>(fires.begin(), fires.end()).size(), fires.size());
}

TEST(CronDstTest, ParisFallBackFiresRepeatedTimesOnceOnTheFirstPass) {
  const absl::TimeZone paris = Zone("Europe/Paris");
  ExpectTransition(paris, absl::CivilSecond(2026, 10, 1, 0, 0, 0),
                   absl::CivilSecond(2026, 10, 25, 3, 0, 0),
                   absl::CivilSecond(2026, 10, 25, 2, 0, 0));
  ExpectCases(
      paris,
      {
          // 02:30 happens twice on 2026-10-25: it fires once, at 02:30 CEST.
          {"30 2 * * *",
           "2026-10-24T12:00:00+02:00",
           {"2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"}},
          // Asked during the second pass (CET), 02:30 has already fired today.
          {"30 2 * * *", "2026-10-25T02:29:59+01:00", {"2026-10-26T02:30:00+01:00"}},
          {"30 2 * * *", "2026-10-25T02:00:00+01:00", {"2026-10-26T02:30:00+01:00"}},
          // Each civil quarter-hour fires once; the second pass fires nothing.
          {"*/15 * * * *",
           "2026-10-25T01:50:00+02:00",
           {"2026-10-25T02:00:00+02:00", "2026-10-25T02:15:00+02:00", "2026-10-25T02:30:00+02:00",
            "2026-10-25T02:45:00+02:00", "2026-10-25T03:00:00+01:00"}},
          {"*/15 * * * *", "2026-10-25T02:10:00+01:00", {"2026-10-25T03:00:00+01:00"}},
          {"0 * * * *",
           "2026-10-25T00:30:00+02:00",
           {"2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00", "2026-10-25T03:00:00+01:00",
            "2026-10-25T04:00:00+01:00"}},
          // Seconds resolution across the end of the first pass.
          {"*/20 * * * * *",
           "2026-10-25T02:59:30+02:00",
           {"2026-10-25T02:59:40+02:00", "2026-10-25T03:00:00+01:00"}},
      });
  // Every minute of the day: 1440 civil minutes, 1440 distinct fires.
  const std::vector<absl::Time> fires = AllFires(
      "* * * * *", paris, At("2026-10-25T00:00:00+02:00"), At("2026-10-26T00:00:00+01:00"));
  EXPECT_EQ(fires.size(), 1440u);
  std::set<absl::CivilSecond> civil;
  for (absl::Time t : fires) civil.insert(paris.At(t).cs);
  EXPECT_EQ(civil.size(), 1440u);
}

TEST(CronDstTest, NewYork) {
  const absl::TimeZone new_york = Zone("America/New_York");
  ExpectTransition(new_york, absl::CivilSecond(2026, 3, 1, 0, 0, 0),
                   absl::CivilSecond(2026, 3, 8, 2, 0, 0), absl::CivilSecond(2026, 3, 8, 3, 0, 0));
  ExpectTransition(new_york, absl::CivilSecond(2026, 10, 1, 0, 0, 0),
                   absl::CivilSecond(2026, 11, 1, 2, 0, 0),
                   absl::CivilSecond(2026, 11, 1, 1, 0, 0));
  ExpectCases(
      new_york,
      {
          {"30 2 * * *",
           "2026-03-07T12:00:00-05:00",
           {"2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"}},
          {"0 9 * * MON-FRI",
           "2026-03-06T10:00:00-05:00",
           {"2026-03-09T09:00:00-04:00", "2026-03-10T09:00:00-04:00"}},
          {"30 1 * * *",
           "2026-10-31T12:00:00-04:00",
           {"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
          {"30 1 * * *", "2026-11-01T01:15:00-05:00", {"2026-11-02T01:30:00-05:00"}},
          {"0 * * * *",
           "2026-11-01T00:30:00-04:00",
           {"2026-11-01T01:00:00-04:00", "2026-11-01T02:00:00-05:00", "2026-11-01T03:00:00-05:00"}},
      });
}

TEST(CronDstTest, LordHoweThirtyMinuteShifts) {
  const absl::TimeZone lord_howe = Zone("Australia/Lord_Howe");
  // Spring forward 02:00 -> 02:30 (+10:30 -> +11:00); fall back 02:00 -> 01:30.
  ExpectTransition(lord_howe, absl::CivilSecond(2026, 9, 1, 0, 0, 0),
                   absl::CivilSecond(2026, 10, 4, 2, 0, 0),
                   absl::CivilSecond(2026, 10, 4, 2, 30, 0));
  ExpectTransition(lord_howe, absl::CivilSecond(2026, 3, 1, 0, 0, 0),
                   absl::CivilSecond(2026, 4, 5, 2, 0, 0), absl::CivilSecond(2026, 4, 5, 1, 30, 0));
  ExpectCases(
      lord_howe,
      {
          {"15 2 * * *",
           "2026-10-03T12:00:00+10:30",
           {"2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"}},
          {"*/10 2 * * *",
           "2026-10-04T01:00:00+10:30",
           {"2026-10-04T02:30:00+11:00", "2026-10-04T02:40:00+11:00", "2026-10-04T02:50:00+11:00",
            "2026-10-05T02:00:00+11:00"}},
          {"45 1 * * *",
           "2026-04-04T12:00:00+11:00",
           {"2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"}},
          {"*/10 * * * *",
           "2026-04-05T01:25:00+11:00",
           {"2026-04-05T01:30:00+11:00", "2026-04-05T01:40:00+11:00", "2026-04-05T01:50:00+11:00",
            "2026-04-05T02:00:00+10:30", "2026-04-05T02:10:00+10:30"}},
          // From inside the second pass (01:30-02:00 at +10:30), the next fire is 02:00.
          {"*/10 * * * *", "2026-04-05T01:35:00+10:30", {"2026-04-05T02:00:00+10:30"}},
      });
}

TEST(CronDstTest, KolkataHasNoTransitions) {
  const absl::TimeZone kolkata = Zone("Asia/Kolkata");
  absl::TimeZone::CivilTransition transition;
  EXPECT_FALSE(kolkata.NextTransition(absl::FromUnixSeconds(946684800), &transition));  // 2000
  ExpectCases(kolkata, {
                           {"0 9 * * *",
                            "2026-03-01T00:00:00Z",
                            {"2026-03-01T09:00:00+05:30", "2026-03-02T09:00:00+05:30"}},
                           {"30 2 * * *",
                            "2026-03-28T00:00:00+05:30",
                            {"2026-03-28T02:30:00+05:30", "2026-03-29T02:30:00+05:30"}},
                       });
  EXPECT_EQ(AllFires("0 0 * * *", kolkata, At("2026-01-01T00:00:00+05:30"),
                     At("2027-01-01T00:00:00+05:30"))
                .size(),
            365u);
}

// Samoa skipped all of 2011-12-30: a fire on that day happens when the gap ends.
TEST(CronDstTest, WholeSkippedDayFiresWhenTheDayResumes) {
  const absl::TimeZone apia = Zone("Pacific/Apia");
  ASSERT_EQ(apia.At(absl::CivilSecond(2011, 12, 30, 12, 0, 0)).kind,
            absl::TimeZone::TimeInfo::SKIPPED);
  ExpectCases(apia, {{"0 12 30 12 *",
                      "2011-12-29T12:00:00-10:00",
                      {"2011-12-31T00:00:00+14:00", "2012-12-30T12:00:00+14:00"}}});
}

}  // namespace
}  // namespace chime
