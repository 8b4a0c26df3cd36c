// Time behind an interface so engine code runs on a fake clock in tests.
//
// Due times are UTC instants read from the wall clock (Now); waits are measured on the
// monotonic clock by the real implementation, and callers re-read Now() after every wake,
// so a wall-clock step forward fires what became due and a step back fires nothing early.
//
// Thread-safe.
#ifndef CHIME_COMMON_CLOCK_H_
#define CHIME_COMMON_CLOCK_H_

#include <cstdint>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace chime {

class Clock {
 public:
  virtual ~Clock() = default;

  // The wall clock: a UTC instant.
  virtual absl::Time Now() const = 0;
  // A monotonic reading in nanoseconds, for measuring intervals.
  virtual int64_t MonotonicNanos() const = 0;

  // Waits until `cond` holds or Now() reaches `deadline`. REQUIRES: `mu` held; it is held
  // again on return. Returns whether `cond` held. May return early (spuriously);
  // callers loop and re-read Now().
  virtual bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond,
                                 absl::Time deadline) = 0;

  // The process-wide real clock.
  static Clock* Real();
};

}  // namespace chime

#endif  // CHIME_COMMON_CLOCK_H_
