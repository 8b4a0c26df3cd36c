// RecordDeliveryEnded: the timer side of an acknowledged or dead-lettered fire, written in
// the delivery's own transaction.
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/engine/engine.h"
#include "server/engine/next_due.h"

namespace chime::engine {

absl::Status RecordDeliveryEnded(storage::ShardTxn& txn, absl::string_view ns,
                                 absl::string_view fire_id, bool acked) {
  std::string timer_id;
  uint64_t occurrence = 0;
  if (!ParseFireId(fire_id, &timer_id, &occurrence)) {
    return absl::InvalidArgumentError(absl::StrCat("fire_id ", fire_id, " is malformed"));
  }
  CHIME_ASSIGN_OR_RETURN(std::optional<internal::TimerRecord> record, txn.GetTimer(ns, timer_id));
  if (!record.has_value()) return absl::OkStatus();  // purged: nothing to update
  v1::Timer& timer = *record->mutable_timer();
  // Recurring timers stay SCHEDULED between fires (a dead-lettered occurrence does not stop
  // the schedule). A timer whose schedule has ended is FIRED until its last fire ends.
  if (timer.state() != v1::TIMER_STATE_FIRED) return absl::OkStatus();
  if (!IsOneShot(timer) && occurrence + 1 != timer.fire_count()) return absl::OkStatus();
  timer.set_state(acked ? v1::TIMER_STATE_COMPLETED : v1::TIMER_STATE_DEAD_LETTERED);
  timer.set_version(timer.version() + 1);
  txn.PutTimer(*record);
  return absl::OkStatus();
}

}  // namespace chime::engine
