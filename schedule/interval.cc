#include "schedule/interval.h"

#include <cstdint>
#include <limits>
#include <optional>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace chime {

absl::Status ValidateIntervalSpec(const IntervalSpec& spec) {
  if (spec.every <= absl::ZeroDuration() || spec.every == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError("interval 'every' must be a positive, finite duration");
  }
  if (spec.start == absl::InfiniteFuture() || spec.start == absl::InfinitePast()) {
    return absl::InvalidArgumentError("interval 'start' must be a finite time");
  }
  if (spec.end.has_value() && *spec.end < spec.start) {
    return absl::InvalidArgumentError("interval 'end' must not be before 'start'");
  }
  if (spec.max_fires.has_value() && *spec.max_fires == 0) {
    return absl::InvalidArgumentError(
        "interval 'max_fires' must be positive (omit it for no limit)");
  }
  return absl::OkStatus();
}

absl::Time IntervalOccurrenceTime(const IntervalSpec& spec, int64_t k) {
  // Duration * int64 is exact in absl (128-bit arithmetic), saturating to infinity on overflow.
  const absl::Duration offset = spec.every * k;
  if (offset == absl::InfiniteDuration() || offset == -absl::InfiniteDuration()) {
    return absl::InfiniteFuture();
  }
  return spec.start + offset;
}

std::optional<IntervalOccurrence> NextIntervalOccurrence(const IntervalSpec& spec,
                                                         absl::Time after) {
  if (!ValidateIntervalSpec(spec).ok() || after == absl::InfiniteFuture()) return std::nullopt;
  int64_t k = 0;
  if (after >= spec.start) {
    const absl::Duration since_start = after - spec.start;
    if (since_start == absl::InfiniteDuration()) return std::nullopt;
    // Exact floor division: `after` lies in [start + q*every, start + (q+1)*every).
    absl::Duration remainder;
    const int64_t q = absl::IDivDuration(since_start, spec.every, &remainder);
    if (q == std::numeric_limits<int64_t>::max()) return std::nullopt;
    k = q + 1;
  }
  if (spec.max_fires.has_value() && static_cast<uint64_t>(k) >= *spec.max_fires) {
    return std::nullopt;
  }
  const absl::Time time = IntervalOccurrenceTime(spec, k);
  if (time == absl::InfiniteFuture()) return std::nullopt;
  if (spec.end.has_value() && time > *spec.end) return std::nullopt;
  return IntervalOccurrence{k, time};
}

}  // namespace chime
