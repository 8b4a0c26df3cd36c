// The timer side of a fire whose delivery ended. An ack deletes the delivery record and leaves
// the timer record as the fire wrote it (FIRED): one read and one write less per fire on the
// hot path. Readers derive COMPLETED from "FIRED, last fire no longer pending" (the helpers
// below). A dead letter is rare and explicit: it writes DEAD_LETTERED in its own transaction.
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/engine/engine.h"
#include "server/engine/next_due.h"

namespace chime::engine {
namespace {

std::string LastFireId(const v1::Timer& timer) {
  return MakeFireId(timer.timer_id(), timer.fire_count() == 0 ? 0 : timer.fire_count() - 1);
}

// Each read pass sees the timer at one version; a change in between (a dead letter, a replay)
// shows as a new version and is read again. Bounded: under such churn the last read stands.
constexpr int kMaxResolvePasses = 4;

}  // namespace

absl::Status RecordDeadLettered(storage::ShardTxn& txn, absl::string_view ns,
                                absl::string_view fire_id) {
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
  timer.set_state(v1::TIMER_STATE_DEAD_LETTERED);
  timer.set_version(timer.version() + 1);
  txn.PutTimer(*record);
  return absl::OkStatus();
}

absl::Status ResolveCompletion(storage::ShardTxn& txn, internal::TimerRecord& record) {
  v1::Timer& timer = *record.mutable_timer();
  if (timer.state() != v1::TIMER_STATE_FIRED) return absl::OkStatus();
  CHIME_ASSIGN_OR_RETURN(std::optional<internal::DeliveryRecord> last,
                         txn.GetDelivery(timer.namespace_(), LastFireId(timer)));
  if (!last.has_value()) timer.set_state(v1::TIMER_STATE_COMPLETED);
  return absl::OkStatus();
}

absl::Status ResolveCompletion(const storage::ShardStore& shard, internal::TimerRecord& record) {
  for (int pass = 0; pass < kMaxResolvePasses; ++pass) {
    const v1::Timer& timer = record.timer();
    if (timer.state() != v1::TIMER_STATE_FIRED) return absl::OkStatus();
    CHIME_ASSIGN_OR_RETURN(std::optional<internal::DeliveryRecord> last,
                           shard.GetDelivery(timer.namespace_(), LastFireId(timer)));
    if (last.has_value()) return absl::OkStatus();
    // Not pending: acked, unless the fire was dead-lettered since the timer was read. A
    // dead letter changes the timer's version in the same write that removes the delivery.
    CHIME_ASSIGN_OR_RETURN(std::optional<internal::TimerRecord> again,
                           shard.GetTimer(timer.namespace_(), timer.timer_id()));
    if (!again.has_value()) return absl::OkStatus();  // deleted meanwhile: report as read
    if (again->timer().version() == timer.version()) {
      record.mutable_timer()->set_state(v1::TIMER_STATE_COMPLETED);
      return absl::OkStatus();
    }
    record = *std::move(again);
  }
  return absl::OkStatus();
}

}  // namespace chime::engine
