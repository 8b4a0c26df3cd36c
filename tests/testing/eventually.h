// Polls a condition that is only visible by asking (a server's state, a counter) until it holds
// or a generous timeout passes. For events that can be waited on, wait on them instead.
//
//   ASSERT_TRUE(chime::testing::Eventually([&] { return sub->connected(); }));
#ifndef CHIME_TESTS_TESTING_EVENTUALLY_H_
#define CHIME_TESTS_TESTING_EVENTUALLY_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace chime::testing {

// True as soon as `condition()` is true; false if it is still false after `timeout`.
template <typename Condition>
bool Eventually(Condition condition, absl::Duration timeout = absl::Seconds(60)) {
  const absl::Time give_up = absl::Now() + timeout;
  while (absl::Now() < give_up) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return condition();
}

}  // namespace chime::testing

#endif  // CHIME_TESTS_TESTING_EVENTUALLY_H_
