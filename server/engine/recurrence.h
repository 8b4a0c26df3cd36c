// What the fire transaction does with a due occurrence of a recurring timer: whether it fires,
// whether it supersedes a pending fire, and when the next occurrence is due. Applies the
// misfire and overlap policies (documented on the enums in chime/v1/timer.proto):
//
//   Misfire. An occurrence is missed when it is fired more than kMisfireThresholdMillis after
//   its due time (the server was down or overloaded). FIRE_ONCE (default) fires it and
//   continues with the first occurrence after now; SKIP does not fire it and continues after
//   now; FIRE_ALL fires it and continues with the next occurrence, so every missed one fires,
//   until kMaxCatchUpFires consecutive late fires, after which it continues after now.
//   Overlap. Only when the occurrence would fire and the previous fire (fire_count - 1) is
//   still pending delivery: ALLOW (default) fires anyway; FORBID skips this occurrence;
//   REPLACE deletes the pending delivery in the same transaction and fires.
//
// Thread-safe: pure functions over the caller's transaction.
#ifndef CHIME_SERVER_ENGINE_RECURRENCE_H_
#define CHIME_SERVER_ENGINE_RECURRENCE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chime/internal/storage.pb.h"
#include "storage/shard_store.h"

namespace chime::engine {

struct OccurrencePlan {
  int64_t nominal_us = 0;  // nominal time of the occurrence being handled
  bool fire = true;
  // A pending fire this one supersedes (OVERLAP_POLICY_REPLACE); the caller deletes it.
  std::optional<std::string> replace_fire_id;
  // Nominal time of the next occurrence; nullopt when the schedule has ended.
  std::optional<int64_t> next_nominal_us;
  uint32_t catch_up_fires = 0;  // for TimerRecord.catch_up_fires
};

// `record` is the timer as stored (before this occurrence); `due_us` its time-index due time.
absl::StatusOr<OccurrencePlan> PlanOccurrence(storage::ShardTxn& txn,
                                              const internal::TimerRecord& record, int64_t due_us,
                                              absl::Time now);

// The first nominal time strictly after `now_us` the timer's schedule has (for resume).
std::optional<int64_t> NextAfterNowUs(const v1::Timer& timer, int64_t nominal_us, int64_t now_us);

}  // namespace chime::engine

#endif  // CHIME_SERVER_ENGINE_RECURRENCE_H_
