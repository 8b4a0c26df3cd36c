// The record changes behind PauseTimer, ResumeTimer and UpdateTimer, applied inside the
// timer shard's transaction. Each bumps the version, so heap entries made before it are stale
// and skipped when popped; the time index is rewritten in the same transaction.
//
// Thread-safe: pure functions over the caller's transaction.
#ifndef CHIME_SERVER_ENGINE_SCHEDULE_CHANGE_H_
#define CHIME_SERVER_ENGINE_SCHEDULE_CHANGE_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "chime/internal/storage.pb.h"
#include "chime/v1/timer.pb.h"
#include "storage/shard_store.h"

namespace chime::engine {

// SCHEDULED -> PAUSED: the time-index entry goes; the nominal time of the pending occurrence
// is kept (nominal_us) for ResumeRecord. FAILED_PRECONDITION from any other state.
absl::Status PauseRecord(storage::ShardTxn& txn, internal::TimerRecord& record);

// PAUSED -> SCHEDULED at the kept occurrence (possibly in the past: the dispatcher then
// applies the misfire policy). FAILED_PRECONDITION from any other state.
absl::Status ResumeRecord(storage::ShardTxn& txn, internal::TimerRecord& record);

// Applies a validated UpdateTimerRequest (interval start already defaulted) to a SCHEDULED or
// PAUSED recurring timer. A new schedule starts at its first occurrence at or after `now`.
absl::Status UpdateRecord(storage::ShardTxn& txn, internal::TimerRecord& record,
                          const v1::UpdateTimerRequest& update, absl::Time now);

}  // namespace chime::engine

#endif  // CHIME_SERVER_ENGINE_SCHEDULE_CHANGE_H_
