// When a timer is due: its first due time on create and the next one after a fire. The one
// place that knows schedule kinds; recurring schedules come from the schedule library.
//
// Nominal vs due. A recurring occurrence has a nominal time (start + k*every, or the cron
// match) and a due time = nominal + spread offset + jitter offset. The engine keeps the
// nominal time in the record (TimerRecord.nominal_us) and computes the next occurrence from
// it, so offsets never accumulate; the Fire's scheduled_time is the nominal time.
//
// max_fires counts fires (Timer.fire_count), for interval and cron alike: occurrences skipped
// by a misfire or overlap policy do not use it up.
//
// Thread-safe: pure functions (DueOffsetUs draws jitter from a thread-safe random source).
#ifndef CHIME_SERVER_ENGINE_NEXT_DUE_H_
#define CHIME_SERVER_ENGINE_NEXT_DUE_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chime/v1/timer.pb.h"
#include "schedule/recurring.h"

namespace chime::engine {

// True for a schedule that fires once (fire_at).
bool IsOneShot(const v1::Timer& timer);

// The timer's recurring schedule in the schedule library's form, without max_fires (the
// engine counts fires itself). INVALID_ARGUMENT for a bad expression, zone or interval, or a
// timer that is not recurring.
absl::StatusOr<RecurringSpec> ToRecurringSpec(const v1::Timer& timer);

// The first nominal due time (unix micros) of a new timer created at `now_us`: fire_at for a
// one-shot timer; the first occurrence at or after max(start, now) for an interval (an
// interval start in the past is only an anchor); the first cron match at or after now.
// INVALID_ARGUMENT for a timer without a schedule or one that never fires.
absl::StatusOr<int64_t> FirstDueUs(const v1::Timer& timer, int64_t now_us);

// The nominal due time of the first occurrence strictly after `after_us` (the nominal time of
// the occurrence just fired, or now when skipping missed ones), given the timer as it is after
// that fire (fire_count already counts it); nullopt when nothing more will fire (always for
// one-shot timers, past the end, or fire_count >= max_fires).
std::optional<int64_t> NextDueUs(const v1::Timer& timer, int64_t after_us);

// The offset added to a nominal time to get the due time: SpreadOffset(ns, id, spread) plus a
// fresh random value in [0, jitter). Zero for one-shot timers.
int64_t DueOffsetUs(const v1::Timer& timer);

// Up to `count` nominal due times starting with `first_nominal_us` (for GetTimer's
// upcoming_fire_times), honouring end and the fires left before max_fires.
std::vector<int64_t> UpcomingDueUs(const v1::Timer& timer, int64_t first_nominal_us, int count);

}  // namespace chime::engine

#endif  // CHIME_SERVER_ENGINE_NEXT_DUE_H_
