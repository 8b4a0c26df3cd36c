#include <thread>

#include "common/fake_clock.h"
#include "gtest/gtest.h"

namespace chime {
namespace {

TEST(FakeClockTest, AdvanceMovesWallAndMonotonicTime) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  clock.Advance(absl::Milliseconds(1500));
  EXPECT_EQ(clock.Now(), absl::FromUnixMillis(1'001'500));
  EXPECT_EQ(clock.MonotonicNanos(), 1'500'000'000);
}

TEST(FakeClockTest, StepBackMovesWallButNotMonotonic) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  clock.Set(absl::FromUnixSeconds(900));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(900));
  EXPECT_EQ(clock.MonotonicNanos(), 0);
}

TEST(FakeClockTest, WaiterWakesWhenDeadlinePasses) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  absl::Mutex mu;
  bool never = false;
  bool woke = false;
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    bool held = clock.AwaitWithDeadline(&mu, absl::Condition(&never), absl::FromUnixSeconds(1010));
    EXPECT_FALSE(held);
    woke = true;
  });
  // Wait (on an event, not a sleep) until the thread is parked in the clock.
  while (clock.waiters() == 0) std::this_thread::yield();
  clock.Advance(absl::Seconds(5));
  {
    absl::MutexLock lock(&mu);
    EXPECT_FALSE(woke);
  }
  clock.Advance(absl::Seconds(5));
  waiter.join();
  EXPECT_TRUE(woke);
}

TEST(FakeClockTest, WaiterWakesWhenConditionHolds) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  absl::Mutex mu;
  bool flag = false;
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(clock.AwaitWithDeadline(&mu, absl::Condition(&flag), absl::InfiniteFuture()));
  });
  while (clock.waiters() == 0) std::this_thread::yield();
  {
    absl::MutexLock lock(&mu);
    flag = true;
  }
  waiter.join();
}

}  // namespace
}  // namespace chime
