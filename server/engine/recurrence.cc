#include "server/engine/recurrence.h"

#include <algorithm>

#include "common/limits.h"
#include "common/status_macros.h"
#include "server/engine/engine.h"
#include "server/engine/next_due.h"

namespace chime::engine {

std::optional<int64_t> NextAfterNowUs(const v1::Timer& timer, int64_t nominal_us, int64_t now_us) {
  return NextDueUs(timer, std::max(nominal_us, now_us));
}

absl::StatusOr<OccurrencePlan> PlanOccurrence(storage::ShardTxn& txn,
                                              const internal::TimerRecord& record, int64_t due_us,
                                              absl::Time now) {
  const v1::Timer& timer = record.timer();
  OccurrencePlan plan;
  plan.nominal_us = record.nominal_us() != 0 ? record.nominal_us() : due_us;
  const int64_t now_us = absl::ToUnixMicros(now);
  const bool late =
      now - absl::FromUnixMicros(due_us) > absl::Milliseconds(limits::kMisfireThresholdMillis);

  bool continue_after_now = false;
  if (late) {
    switch (timer.misfire_policy()) {
      case v1::MISFIRE_POLICY_SKIP:
        plan.fire = false;
        continue_after_now = true;
        break;
      case v1::MISFIRE_POLICY_FIRE_ALL:
        plan.catch_up_fires = record.catch_up_fires() + 1;
        if (plan.catch_up_fires >= limits::kMaxCatchUpFires) {
          continue_after_now = true;
          plan.catch_up_fires = 0;
        }
        break;
      default:  // FIRE_ONCE
        continue_after_now = true;
        break;
    }
  }

  const v1::OverlapPolicy overlap = timer.overlap_policy();
  if (plan.fire && timer.fire_count() > 0 &&
      (overlap == v1::OVERLAP_POLICY_FORBID || overlap == v1::OVERLAP_POLICY_REPLACE)) {
    std::string previous = MakeFireId(timer.timer_id(), timer.fire_count() - 1);
    CHIME_ASSIGN_OR_RETURN(std::optional<internal::DeliveryRecord> pending,
                           txn.GetDelivery(timer.namespace_(), previous));
    if (pending.has_value()) {
      if (overlap == v1::OVERLAP_POLICY_FORBID) {
        plan.fire = false;
      } else {
        plan.replace_fire_id = std::move(previous);
      }
    }
  }

  v1::Timer after = timer;
  if (plan.fire) after.set_fire_count(timer.fire_count() + 1);
  plan.next_nominal_us = continue_after_now ? NextAfterNowUs(after, plan.nominal_us, now_us)
                                            : NextDueUs(after, plan.nominal_us);
  return plan;
}

}  // namespace chime::engine
