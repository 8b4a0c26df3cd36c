#include "server/engine/one_shot_fire.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/engine/engine.h"
#include "server/engine/next_due.h"
#include "server/engine/one_shot_fired_wire.h"

namespace chime::engine {

void EndOneShot(internal::TimerRecord& record, const google::protobuf::Timestamp& fire_time) {
  v1::Timer& timer = *record.mutable_timer();
  timer.set_fire_count(timer.fire_count() + 1);
  *timer.mutable_last_fire_time() = fire_time;
  timer.set_version(timer.version() + 1);
  timer.set_state(v1::TIMER_STATE_FIRED);
  timer.clear_next_fire_time();
  record.set_due_us(0);
}

void WriteOneShotFired(storage::ShardTxn& txn, internal::TimerRecord& record, int64_t due_us,
                       const google::protobuf::Timestamp& fire_time) {
  txn.DeleteDue(due_us, record.timer().namespace_(), record.timer().timer_id());
  EndOneShot(record, fire_time);
  txn.PutTimer(record);
}

UnwrittenFireFacts FactsOfUnwrittenFire(const internal::DeliveryRecord& record) {
  return UnwrittenFireFacts{.due_us = record.unwritten().due_us(),
                            .timer_version = record.unwritten().timer_version(),
                            .fire_time = record.fire().fire_time()};
}

absl::StatusOr<bool> WriteAckedUnwrittenFire(storage::ShardTxn& txn, absl::string_view ns,
                                             absl::string_view fire_id,
                                             const UnwrittenFireFacts& facts) {
  absl::string_view timer_id;
  uint64_t occurrence = 0;
  if (!ParseFireId(fire_id, &timer_id, &occurrence)) {
    return absl::InvalidArgumentError(absl::StrCat("fire_id ", fire_id, " is malformed"));
  }
  {
    CHIME_ASSIGN_OR_RETURN(std::optional<absl::string_view> stored,
                           txn.GetTimerBytes(ns, timer_id));
    if (!stored.has_value()) return false;
    std::string fired;
    switch (EndOneShotInWire(*stored, facts.due_us, facts.timer_version, occurrence,
                             facts.fire_time, &fired)) {
      case WireEnd::kWritten:
        txn.DeleteDue(facts.due_us, ns, timer_id);
        txn.PutTimerBytes(ns, timer_id, fired);
        return true;
      case WireEnd::kNotThatFire:
        return false;
      case WireEnd::kUnreadable:
        break;  // the parse below decides, or names the corrupt record
    }
  }
  CHIME_ASSIGN_OR_RETURN(std::optional<internal::TimerRecord> timer, txn.GetTimer(ns, timer_id));
  // Anything else than the state the fire was taken from means the timer moved on without it:
  // cancelled or deleted before the fire was written, or fired through another heap entry.
  if (!timer.has_value() || timer->timer().state() != v1::TIMER_STATE_SCHEDULED ||
      timer->due_us() != facts.due_us || timer->timer().version() != facts.timer_version ||
      timer->timer().fire_count() != occurrence || !IsOneShot(timer->timer())) {
    return false;
  }
  WriteOneShotFired(txn, *timer, facts.due_us, facts.fire_time);
  return true;
}

absl::StatusOr<bool> WriteUnwrittenFire(storage::ShardTxn& txn,
                                        const internal::DeliveryRecord& record, bool pending) {
  const v1::Fire& fire = record.fire();
  CHIME_ASSIGN_OR_RETURN(bool ended, WriteAckedUnwrittenFire(txn, fire.namespace_(), fire.fire_id(),
                                                             FactsOfUnwrittenFire(record)));
  if (ended && pending) {
    internal::DeliveryRecord stored = record;
    stored.clear_unwritten();
    txn.PutNewDelivery(stored, storage::QueueCopy::kWithRecord);
  }
  return ended;
}

}  // namespace chime::engine
