// Cron expressions evaluated in an IANA time zone, for recurring timers.
//
//   CHIME_ASSIGN_OR_RETURN(CronExpression cron, CronExpression::Parse("0 9 * * MON-FRI"));
//   absl::TimeZone paris;
//   absl::LoadTimeZone("Europe/Paris", &paris);
//   absl::Time next = cron.Next(absl::Now(), paris);  // 09:00 Paris time on the next weekday
//
// Syntax. Five fields "minute hour day-of-month month day-of-week", or six with a leading
// "second" field (five fields mean second 0). Each field is a comma-separated list of items:
//   *        every value            a-b      a range (inclusive; start must not exceed end)
//   */n      every n-th value       a-b/n    every n-th value from a to b
//   a        one value              a/n      every n-th value from a to the field's maximum
// Ranges: second 0-59, minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or JAN-DEC,
// day-of-week 0-7 or SUN-SAT (0 and 7 are both Sunday; a range ending in the name SUN, as in
// FRI-SUN, ends on the 7). Names are case-insensitive. Steps run from 1 to the size of the field.
// Shortcuts (whole expression): @yearly = @annually = "0 0 1 1 *", @monthly = "0 0 1 * *",
// @weekly = "0 0 * * 0", @daily = @midnight = "0 0 * * *", @hourly = "0 * * * *".
// Not supported, and rejected with a message saying so: the L, W and # extensions, '?',
// @reboot and @every (use an interval schedule).
//
// Day rule (as in crontab(5)): when both day-of-month and day-of-week are restricted, a day
// matches if EITHER matches ("0 0 1 * MON" fires on the 1st and on every Monday). A field is
// unrestricted only when written "*" (or "*/1"); "*/2" is a restriction.
//
// Time zone rules. Matching is done on the zone's civil (wall-clock) time; each matching civil
// second fires at most once:
//   - A civil time that exists once fires at that instant.
//   - A civil time skipped by a forward transition (spring forward, e.g. 02:30 on 2026-03-29 in
//     Europe/Paris) fires at the first valid instant after the gap: the transition itself
//     (03:00 CEST). All matching civil times inside one gap share that single fire, and a
//     match at the civil time where the gap ends (03:00) is the same instant, so it is the
//     same fire too.
//   - A civil time repeated by a backward transition (fall back, e.g. 02:30 on 2026-10-25 in
//     Europe/Paris) fires once, at its FIRST occurrence (the pre-transition offset, 02:30 CEST).
//     Expressions that match every minute or hour fire for each civil minute/hour once: during
//     the repeated hour they fire on the first pass, and the second pass fires nothing.
// Results are whole seconds.
//
// Thread-safe: immutable after Parse.
#ifndef CHIME_SCHEDULE_CRON_H_
#define CHIME_SCHEDULE_CRON_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace chime {

class CronExpression {
 public:
  // Parses `text`. Errors are InvalidArgument and name the field, the bad value and the allowed
  // range, e.g. "cron field 'hour': value 24 out of range 0-23".
  static absl::StatusOr<CronExpression> Parse(absl::string_view text);

  // The first instant strictly after `after` at which the expression fires in `zone` (see the
  // time zone rules above), or absl::InfiniteFuture() if it never fires (e.g. "0 0 30 2 *") or
  // `after` is infinite. Skips whole months, days, hours and minutes that cannot match, so it
  // costs a few dozen steps at most.
  absl::Time Next(absl::Time after, const absl::TimeZone& zone) const;

  // True if the civil time matches every field (and the day rule). Ignores time zones.
  bool Matches(absl::CivilSecond civil) const;

  // False for expressions no calendar date can satisfy, like "0 0 30 2 *" or "0 0 31 4,6 *".
  bool CanMatch() const { return can_match_; }

  // The text given to Parse.
  const std::string& text() const { return text_; }

 private:
  CronExpression() = default;

  // The first matching civil second at or after `from`, or false if none before `limit_year`.
  bool NextMatchingCivil(absl::CivilSecond from, int64_t limit_year,
                         absl::CivilSecond* match) const;
  bool DayMatches(absl::CivilDay day) const;

  std::string text_;
  // Bit i set when value i matches.
  uint64_t seconds_ = 0;
  uint64_t minutes_ = 0;
  uint64_t hours_ = 0;
  uint64_t days_of_month_ = 0;  // bits 1-31
  uint64_t months_ = 0;         // bits 1-12
  uint64_t days_of_week_ = 0;   // bits 0-6, 0 = Sunday
  bool day_of_month_star_ = false;
  bool day_of_week_star_ = false;
  bool can_match_ = false;
};

}  // namespace chime

#endif  // CHIME_SCHEDULE_CRON_H_
