#include "server/engine/next_due.h"

#include <limits>
#include <utility>
#include <variant>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "schedule/spread.h"

namespace chime::engine {
namespace {

std::optional<absl::Time> EndOf(bool has_end, const google::protobuf::Timestamp& end) {
  if (!has_end) return std::nullopt;
  return FromProto(end);
}

uint64_t MaxFires(const v1::Timer& timer) {
  switch (timer.schedule().kind_case()) {
    case v1::Schedule::kInterval:
      return timer.schedule().interval().max_fires();
    case v1::Schedule::kCron:
      return timer.schedule().cron().max_fires();
    default:
      return 0;
  }
}

// No more fires once fire_count reaches max_fires (0 = unlimited).
bool FiresLeft(const v1::Timer& timer, uint64_t already) {
  const uint64_t max = MaxFires(timer);
  return max == 0 || timer.fire_count() + already < max;
}

std::optional<int64_t> ToMicros(std::optional<absl::Time> t) {
  if (!t.has_value() || *t == absl::InfiniteFuture()) return std::nullopt;
  return absl::ToUnixMicros(*t);
}

}  // namespace

bool IsOneShot(const v1::Timer& timer) {
  return timer.schedule().kind_case() == v1::Schedule::kFireAt;
}

absl::StatusOr<RecurringSpec> ToRecurringSpec(const v1::Timer& timer) {
  const v1::Schedule& schedule = timer.schedule();
  switch (schedule.kind_case()) {
    case v1::Schedule::kInterval: {
      const v1::IntervalSchedule& in = schedule.interval();
      IntervalSpec spec;
      spec.start = FromProto(in.start());
      spec.every = FromProto(in.every());
      spec.end = EndOf(in.has_end(), in.end());
      CHIME_RETURN_IF_ERROR(ValidateIntervalSpec(spec));
      return RecurringSpec(spec);
    }
    case v1::Schedule::kCron: {
      const v1::CronSchedule& in = schedule.cron();
      CHIME_ASSIGN_OR_RETURN(CronSpec spec, MakeCronSpec(in.expression(), in.time_zone(),
                                                         EndOf(in.has_end(), in.end())));
      return RecurringSpec(std::move(spec));
    }
    default:
      return absl::InvalidArgumentError("the timer has no recurring schedule");
  }
}

absl::StatusOr<int64_t> FirstDueUs(const v1::Timer& timer, int64_t now_us) {
  switch (timer.schedule().kind_case()) {
    case v1::Schedule::kFireAt:
      return ToUnixMicros(timer.schedule().fire_at());
    case v1::Schedule::kInterval:
    case v1::Schedule::kCron: {
      CHIME_ASSIGN_OR_RETURN(RecurringSpec spec, ToRecurringSpec(timer));
      // "At or after now": strictly after one microsecond earlier.
      const std::optional<int64_t> first =
          FiresLeft(timer, 0) ? ToMicros(NextDueTime(spec, absl::FromUnixMicros(now_us - 1)))
                              : std::nullopt;
      if (!first.has_value()) {
        return absl::InvalidArgumentError("the schedule has no due time after now");
      }
      return *first;
    }
    case v1::Schedule::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("schedule is required");
}

std::optional<int64_t> NextDueUs(const v1::Timer& timer, int64_t after_us) {
  if (IsOneShot(timer) || !FiresLeft(timer, 0)) return std::nullopt;
  absl::StatusOr<RecurringSpec> spec = ToRecurringSpec(timer);
  if (!spec.ok()) return std::nullopt;  // validated on create; never happens for stored timers
  return ToMicros(NextDueTime(*spec, absl::FromUnixMicros(after_us)));
}

int64_t DueOffsetUs(const v1::Timer& timer) {
  if (IsOneShot(timer)) return 0;
  int64_t offset = 0;
  if (timer.has_spread()) {
    offset += absl::ToInt64Microseconds(
        SpreadOffset(timer.namespace_(), timer.timer_id(), FromProto(timer.spread())));
  }
  if (timer.has_jitter()) {
    const int64_t jitter_us = absl::ToInt64Microseconds(FromProto(timer.jitter()));
    if (jitter_us > 0) {
      static absl::Mutex* mu = new absl::Mutex;
      static absl::BitGen* gen = new absl::BitGen;
      absl::MutexLock lock(mu);
      offset += absl::Uniform<int64_t>(*gen, 0, jitter_us);
    }
  }
  return offset;
}

std::vector<int64_t> UpcomingDueUs(const v1::Timer& timer, int64_t first_nominal_us, int count) {
  std::vector<int64_t> out;
  if (IsOneShot(timer) || count <= 0) return out;
  absl::StatusOr<RecurringSpec> spec = ToRecurringSpec(timer);
  if (!spec.ok()) return out;
  int64_t at = first_nominal_us;
  for (int i = 0; i < count && FiresLeft(timer, i); ++i) {
    out.push_back(at);
    std::optional<int64_t> next = ToMicros(NextDueTime(*spec, absl::FromUnixMicros(at)));
    if (!next.has_value()) break;
    at = *next;
  }
  return out;
}

}  // namespace chime::engine
