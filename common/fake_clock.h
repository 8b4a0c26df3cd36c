// A manually advanced clock for tests: time moves only when the test says so.
//
//   FakeClock clock(absl::FromUnixSeconds(1'700'000'000));
//   engine = Engine::Open(..., &clock);
//   clock.Advance(absl::Seconds(5));   // wakes every waiter whose deadline passed
//
// Thread-safe.
#ifndef CHIME_COMMON_FAKE_CLOCK_H_
#define CHIME_COMMON_FAKE_CLOCK_H_

#include <set>

#include "absl/base/thread_annotations.h"
#include "common/clock.h"

namespace chime {

class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start);

  absl::Time Now() const override;
  int64_t MonotonicNanos() const override;
  bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond,
                         absl::Time deadline) override;

  // Moves time forward (or sets it, possibly backwards, to model a wall-clock step) and
  // wakes every waiter so it re-checks its deadline.
  void Advance(absl::Duration d);
  void Set(absl::Time t);

  // How many threads are inside AwaitWithDeadline now: lets a test wait until a
  // background loop has gone idle before advancing time.
  int waiters() const;

 private:
  void WakeAll();

  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  int64_t monotonic_ns_ ABSL_GUARDED_BY(mu_) = 0;
  std::multiset<absl::Mutex*> waiting_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chime

#endif  // CHIME_COMMON_FAKE_CLOCK_H_
