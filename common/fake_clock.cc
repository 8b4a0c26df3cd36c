#include "common/fake_clock.h"

#include <vector>

namespace chime {

FakeClock::FakeClock(absl::Time start) : now_(start) {}

absl::Time FakeClock::Now() const {
  absl::MutexLock lock(&mu_);
  return now_;
}

int64_t FakeClock::MonotonicNanos() const {
  absl::MutexLock lock(&mu_);
  return monotonic_ns_;
}

bool FakeClock::AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond,
                                  absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    waiting_.insert(mu);
  }
  struct Args {
    FakeClock* clock;
    const absl::Condition* cond;
    absl::Time deadline;
  } args{this, &cond, deadline};
  // absl re-evaluates the condition whenever `mu` is released; WakeAll() locks and
  // releases every registered waiter's mutex after time moves.
  mu->Await(absl::Condition(
      +[](Args* a) { return a->cond->Eval() || a->clock->Now() >= a->deadline; }, &args));
  bool held = cond.Eval();
  {
    absl::MutexLock lock(&mu_);
    waiting_.erase(waiting_.find(mu));
  }
  return held;
}

void FakeClock::Advance(absl::Duration d) {
  {
    absl::MutexLock lock(&mu_);
    now_ += d;
    monotonic_ns_ += absl::ToInt64Nanoseconds(d);
  }
  WakeAll();
}

void FakeClock::Set(absl::Time t) {
  {
    absl::MutexLock lock(&mu_);
    if (t > now_) monotonic_ns_ += absl::ToInt64Nanoseconds(t - now_);
    now_ = t;
  }
  WakeAll();
}

int FakeClock::waiters() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(waiting_.size());
}

void FakeClock::WakeAll() {
  std::vector<absl::Mutex*> mus;
  {
    absl::MutexLock lock(&mu_);
    mus.assign(waiting_.begin(), waiting_.end());
  }
  // A waiter could leave between the copy and the lock below; its mutex outlives the
  // waiter's owner only if owners unregister before destruction, which every engine
  // component does by stopping its threads first.
  for (absl::Mutex* m : mus) {
    m->Lock();
    m->Unlock();
  }
}

}  // namespace chime
