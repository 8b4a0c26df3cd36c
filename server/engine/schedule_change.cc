#include "server/engine/schedule_change.h"

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "server/engine/next_due.h"

namespace chime::engine {
namespace {

absl::Status WrongState(const v1::Timer& timer, absl::string_view want) {
  return absl::FailedPreconditionError(absl::StrCat(
      "timer ", timer.timer_id(), " is ", v1::TimerState_Name(timer.state()), "; ", want));
}

int64_t NominalUs(const internal::TimerRecord& record) {
  if (IsOneShot(record.timer())) return ToUnixMicros(record.timer().schedule().fire_at());
  return record.nominal_us() != 0 ? record.nominal_us() : record.due_us();
}

// Writes the index entry for the kept nominal time (plus offsets) and makes it SCHEDULED.
void Schedule(storage::ShardTxn& txn, internal::TimerRecord& record) {
  v1::Timer& timer = *record.mutable_timer();
  const int64_t nominal = NominalUs(record);
  const int64_t due = nominal + DueOffsetUs(timer);
  if (!IsOneShot(timer)) record.set_nominal_us(nominal);
  record.set_due_us(due);
  *timer.mutable_next_fire_time() = MicrosToProto(due);
  timer.set_state(v1::TIMER_STATE_SCHEDULED);
  txn.PutDue(due, timer.namespace_(), timer.timer_id());
}

void Unschedule(storage::ShardTxn& txn, internal::TimerRecord& record) {
  v1::Timer& timer = *record.mutable_timer();
  if (!IsOneShot(timer) && record.nominal_us() == 0) record.set_nominal_us(record.due_us());
  if (record.due_us() != 0) txn.DeleteDue(record.due_us(), timer.namespace_(), timer.timer_id());
  record.set_due_us(0);
  timer.clear_next_fire_time();
}

}  // namespace

absl::Status PauseRecord(storage::ShardTxn& txn, internal::TimerRecord& record) {
  v1::Timer& timer = *record.mutable_timer();
  if (timer.state() != v1::TIMER_STATE_SCHEDULED) {
    return WrongState(timer, "only scheduled timers can be paused");
  }
  Unschedule(txn, record);
  timer.set_state(v1::TIMER_STATE_PAUSED);
  timer.set_version(timer.version() + 1);
  txn.PutTimer(record);
  return absl::OkStatus();
}

absl::Status ResumeRecord(storage::ShardTxn& txn, internal::TimerRecord& record) {
  v1::Timer& timer = *record.mutable_timer();
  if (timer.state() != v1::TIMER_STATE_PAUSED) {
    return WrongState(timer, "only paused timers can be resumed");
  }
  Schedule(txn, record);
  timer.set_version(timer.version() + 1);
  txn.PutTimer(record);
  return absl::OkStatus();
}

absl::Status UpdateRecord(storage::ShardTxn& txn, internal::TimerRecord& record,
                          const v1::UpdateTimerRequest& update, absl::Time now) {
  v1::Timer& timer = *record.mutable_timer();
  const v1::TimerState state = timer.state();
  if (state != v1::TIMER_STATE_SCHEDULED && state != v1::TIMER_STATE_PAUSED) {
    return WrongState(timer, "only scheduled or paused timers can be updated");
  }
  if (IsOneShot(timer)) {
    return absl::FailedPreconditionError(absl::StrCat("timer ", timer.timer_id(),
                                                      " is a one-shot timer; only recurring timers "
                                                      "can be updated"));
  }
  if (state == v1::TIMER_STATE_SCHEDULED) Unschedule(txn, record);
  switch (update.schedule_case()) {
    case v1::UpdateTimerRequest::kInterval:
      *timer.mutable_schedule()->mutable_interval() = update.interval();
      break;
    case v1::UpdateTimerRequest::kCron:
      *timer.mutable_schedule()->mutable_cron() = update.cron();
      break;
    case v1::UpdateTimerRequest::SCHEDULE_NOT_SET:
      break;
  }
  if (update.schedule_case() != v1::UpdateTimerRequest::SCHEDULE_NOT_SET) {
    CHIME_ASSIGN_OR_RETURN(int64_t first, FirstDueUs(timer, absl::ToUnixMicros(now)));
    record.set_nominal_us(first);
    record.set_catch_up_fires(0);
  }
  if (update.has_payload()) timer.set_payload(update.payload());
  if (update.replace_labels() || !update.labels().empty())
    *timer.mutable_labels() = update.labels();
  if (update.misfire_policy() != v1::MISFIRE_POLICY_UNSPECIFIED) {
    timer.set_misfire_policy(update.misfire_policy());
  }
  if (update.overlap_policy() != v1::OVERLAP_POLICY_UNSPECIFIED) {
    timer.set_overlap_policy(update.overlap_policy());
  }
  if (update.has_jitter()) *timer.mutable_jitter() = update.jitter();
  if (update.has_spread()) *timer.mutable_spread() = update.spread();
  if (state == v1::TIMER_STATE_SCHEDULED) Schedule(txn, record);
  timer.set_version(timer.version() + 1);
  txn.PutTimer(record);
  return absl::OkStatus();
}

}  // namespace chime::engine
