// How long ended timers and idempotency keys stay in storage (chimed --retention).
//
// A timer has ended when it can never fire again and no fire of it is pending: CANCELLED,
// COMPLETED (its last fire acknowledged) or DEAD_LETTERED. It ended at its cancel time, or
// at its last fire (its create time if it never fired). An idempotency key lives from the
// create that claimed it. Once `retention` has passed since, the record is expired: a
// compaction filter (retention_filter.h) drops it the next time RocksDB rewrites it, and the
// engine treats an expired key as unclaimed, so a compaction's timing never changes what a
// create does.
#ifndef CHIME_STORAGE_RETENTION_H_
#define CHIME_STORAGE_RETENTION_H_

#include <functional>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "chime/internal/storage.pb.h"
#include "common/clock.h"

namespace chime::storage {

class ShardStore;

struct RetentionOptions {
  // InfiniteDuration(): nothing is ever removed.
  absl::Duration retention = absl::InfiniteDuration();
  Clock* clock = Clock::Real();
  // Turns a FIRED record whose last fire is no longer pending into COMPLETED, reading the
  // shard as needed (the engine's ResolveCompletion: a one-shot timer's ack only removes
  // its delivery). Unset: FIRED records are kept.
  std::function<absl::Status(const ShardStore&, internal::TimerRecord&)> resolve_completion;
};

// What retention reads of a timer: its state and the times its end is counted from.
struct TimerEndFacts {
  v1::TimerState state = v1::TIMER_STATE_UNSPECIFIED;
  absl::Time create_time = absl::UnixEpoch();
  std::optional<absl::Time> cancel_time;
  std::optional<absl::Time> last_fire_time;
};

TimerEndFacts TimerEndFactsOf(const v1::Timer& timer);

// The same read from a serialized TimerRecord without parsing the rest: a flush or
// compaction looks at every record, and a full parse copies the payload and labels. State
// UNSPECIFIED if the bytes are malformed.
TimerEndFacts ReadTimerEndFacts(absl::string_view serialized_record);

// When the timer ended, or nullopt if it has not (as stored: a FIRED timer has not).
std::optional<absl::Time> TimerEndTime(const TimerEndFacts& timer);

// When a timer that fired ends, or ended, once its last fire is no longer pending (its last
// fire; its create time if it never fired).
absl::Time LastFireOrCreateTime(const TimerEndFacts& timer);

// Whether a record that ended (or was claimed) at `since` is past retention at `now`.
bool RetentionPassed(absl::Time since, absl::Time now, absl::Duration retention);

}  // namespace chime::storage

#endif  // CHIME_STORAGE_RETENTION_H_
