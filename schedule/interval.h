// Interval schedules anchored to a start time: occurrence k (k = 0, 1, 2, ...) is due at exactly
// start + k * every. Due times are computed from the schedule with exact integer arithmetic on
// absl::Duration (quarter-nanosecond ticks), never by adding `every` to the previous fire, so no
// error accumulates however many occurrences there are.
//
//   IntervalSpec spec{.start = start, .every = absl::Milliseconds(200)};
//   std::optional<IntervalOccurrence> next = NextIntervalOccurrence(spec, last_scheduled_time);
//
// Thread-safe: plain functions over values.
#ifndef CHIME_SCHEDULE_INTERVAL_H_
#define CHIME_SCHEDULE_INTERVAL_H_

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace chime {

struct IntervalSpec {
  absl::Time start;
  absl::Duration every;
  // Inclusive: an occurrence due exactly at `end` happens, later ones do not.
  std::optional<absl::Time> end;
  // Occurrences with index k >= max_fires never happen. The index counts every occurrence since
  // `start`, fired or skipped (e.g. by a misfire policy); an engine that limits actual fires
  // compares its own fire count as well.
  std::optional<uint64_t> max_fires;
};

struct IntervalOccurrence {
  int64_t index = 0;  // k
  absl::Time time;    // start + k * every

  friend bool operator==(const IntervalOccurrence&, const IntervalOccurrence&) = default;
};

// InvalidArgument unless `every` is positive and finite, `start` is finite, `end` (if set) is
// not before `start`, and `max_fires` (if set) is positive. Errors name the field.
absl::Status ValidateIntervalSpec(const IntervalSpec& spec);

// start + k * every, exactly (absl::InfiniteFuture() if that overflows absl::Time).
// REQUIRES: k >= 0.
absl::Time IntervalOccurrenceTime(const IntervalSpec& spec, int64_t k);

// The first occurrence due strictly after `after` that is within `end` and `max_fires`, or
// nullopt if there is none (or the spec is invalid). Before `start` that is occurrence 0.
std::optional<IntervalOccurrence> NextIntervalOccurrence(const IntervalSpec& spec,
                                                         absl::Time after);

}  // namespace chime

#endif  // CHIME_SCHEDULE_INTERVAL_H_
