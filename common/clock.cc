#include "common/clock.h"

#include <time.h>

namespace chime {
namespace {

class RealClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }

  int64_t MonotonicNanos() const override {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
  }

  bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond,
                         absl::Time deadline) override {
    // A relative timeout is measured on the monotonic clock by absl, so a wall-clock step
    // during the wait cannot stretch it; the caller re-reads Now() afterwards.
    return mu->AwaitWithTimeout(cond, deadline - Now());
  }
};

}  // namespace

Clock* Clock::Real() {
  static RealClock* clock = new RealClock();
  return clock;
}

}  // namespace chime
