#include "server/engine/one_shot_fire.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/engine/engine.h"
#include "server/engine/next_due.h"

namespace chime::engine {

void WriteOneShotFired(storage::ShardTxn& txn, internal::TimerRecord& record, int64_t due_us,
                       const google::protobuf::Timestamp& fire_time) {
  v1::Timer& timer = *record.mutable_timer();
  txn.DeleteDue(due_us, timer.namespace_(), timer.timer_id());
  timer.set_fire_count(timer.fire_count() + 1);
  *timer.mutable_last_fire_time() = fire_time;
  timer.set_version(timer.version() + 1);
  timer.set_state(v1::TIMER_STATE_FIRED);
  timer.clear_next_fire_time();
  record.set_due_us(0);
  txn.PutTimer(record);
}

absl::StatusOr<bool> WriteUnwrittenFire(storage::ShardTxn& txn,
                                        const internal::DeliveryRecord& record, bool pending) {
  const v1::Fire& fire = record.fire();
  const internal::UnwrittenFire& unwritten = record.unwritten();
  std::string timer_id;
  uint64_t occurrence = 0;
  if (!ParseFireId(fire.fire_id(), &timer_id, &occurrence)) {
    return absl::InvalidArgumentError(absl::StrCat("fire_id ", fire.fire_id(), " is malformed"));
  }
  CHIME_ASSIGN_OR_RETURN(std::optional<internal::TimerRecord> timer,
                         txn.GetTimer(fire.namespace_(), timer_id));
  // Anything else than the state the fire was taken from means the timer moved on without it:
  // cancelled or deleted before the fire was written, or fired through another heap entry.
  if (!timer.has_value() || timer->timer().state() != v1::TIMER_STATE_SCHEDULED ||
      timer->due_us() != unwritten.due_us() ||
      timer->timer().version() != unwritten.timer_version() ||
      timer->timer().fire_count() != occurrence || !IsOneShot(timer->timer())) {
    return false;
  }
  WriteOneShotFired(txn, *timer, unwritten.due_us(), fire.fire_time());
  if (pending) {
    internal::DeliveryRecord stored = record;
    stored.clear_unwritten();
    txn.PutNewDelivery(stored, storage::QueueCopy::kWithRecord);
  }
  return true;
}

}  // namespace chime::engine
