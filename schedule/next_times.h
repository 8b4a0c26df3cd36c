// The next due times of a recurring schedule, for `chime next` and `chime get` (which shows the
// next five). Nothing is created or stored.
//
//   std::vector<absl::Time> times = NextTimes(spec, absl::Now(), 5);
//
// Thread-safe: a pure function.
#ifndef CHIME_SCHEDULE_NEXT_TIMES_H_
#define CHIME_SCHEDULE_NEXT_TIMES_H_

#include <vector>

#include "absl/time/time.h"
#include "schedule/recurring.h"

namespace chime {

// Up to `count` due times strictly after `from`, in increasing order; fewer when the schedule
// ends (end time, max_fires, a cron expression that never matches). To include a due time equal
// to `from`, pass `from - absl::Nanoseconds(1)`.
std::vector<absl::Time> NextTimes(const RecurringSpec& spec, absl::Time from, int count);

}  // namespace chime

#endif  // CHIME_SCHEDULE_NEXT_TIMES_H_
