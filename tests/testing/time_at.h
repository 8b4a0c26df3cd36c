// At("2026-10-25T02:30:00+01:00"): an instant written in RFC 3339 (local reading and offset),
// so schedule tests state instants the way people read them. A bad string fails the test.
#ifndef CHIME_TESTS_TESTING_TIME_AT_H_
#define CHIME_TESTS_TESTING_TIME_AT_H_

#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace chime::testing {

inline absl::Time At(const std::string& rfc3339) {
  absl::Time t;
  std::string error;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &error)) << rfc3339 << error;
  return t;
}

}  // namespace chime::testing

#endif  // CHIME_TESTS_TESTING_TIME_AT_H_
