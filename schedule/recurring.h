// A recurring schedule in domain form (interval or cron in a time zone), and its next due time.
// The engine builds these from the proto (chime.v1.IntervalSchedule / CronSchedule).
//
//   CHIME_ASSIGN_OR_RETURN(CronSpec cron, MakeCronSpec("0 9 * * MON-FRI", "Europe/Paris"));
//   RecurringSpec spec = cron;
//   std::optional<absl::Time> next = NextDueTime(spec, last_scheduled_time);
//
// Thread-safe: values and pure functions.
#ifndef CHIME_SCHEDULE_RECURRING_H_
#define CHIME_SCHEDULE_RECURRING_H_

#include <optional>
#include <variant>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "schedule/cron.h"
#include "schedule/interval.h"

namespace chime {

struct CronSpec {
  CronExpression expression;
  absl::TimeZone zone;
  // Inclusive: a fire due exactly at `end` happens, later ones do not.
  std::optional<absl::Time> end;
};

using RecurringSpec = std::variant<IntervalSpec, CronSpec>;

// Loads an IANA time zone from the system tzdata ("Europe/Paris"); empty means UTC. Names
// must look like zone names (letters, digits, '_', '+', '-', '/' separated parts, no "..", not
// absolute), so a request cannot make the server read arbitrary files. Error:
// "unknown time zone 'Mars/Olympus'".
absl::StatusOr<absl::TimeZone> LoadZone(absl::string_view name);

// Parses the expression and loads the zone; errors are those of CronExpression::Parse and
// LoadZone.
absl::StatusOr<CronSpec> MakeCronSpec(absl::string_view expression, absl::string_view time_zone,
                                      std::optional<absl::Time> end = std::nullopt);

// The first due time strictly after `after`, or nullopt when the schedule has no more (past its
// end or max_fires, or a cron expression that never matches). A cron spec has no fire count:
// the engine enforces max_fires for cron schedules itself.
std::optional<absl::Time> NextDueTime(const RecurringSpec& spec, absl::Time after);

}  // namespace chime

#endif  // CHIME_SCHEDULE_RECURRING_H_
