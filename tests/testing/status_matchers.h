// GoogleTest helpers for absl::Status (abseil 20220623 ships none).
//
//   ASSERT_OK(store->SubmitAndWait(fn));
//   ASSERT_OK_AND_ASSIGN(auto timer, engine->Get("default", "t1"));
//   EXPECT_THAT(result.status(), StatusIs(absl::StatusCode::kNotFound));
#ifndef CHIME_TESTS_TESTING_STATUS_MATCHERS_H_
#define CHIME_TESTS_TESTING_STATUS_MATCHERS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chime::testing {

// By value: ASSERT_OK(f()) must not keep a reference into a destroyed temporary.
inline absl::Status GetStatus(const absl::Status& s) { return s; }
template <typename T>
absl::Status GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER_P(StatusIs, code, "has status code " + ::testing::PrintToString(code)) {
  const absl::Status s = ::chime::testing::GetStatus(arg);
  *result_listener << "status is " << s.ToString();
  return s.code() == code;
}

}  // namespace chime::testing

#define ASSERT_OK(expr)                                                \
  do {                                                                 \
    const ::absl::Status chime_s_ = ::chime::testing::GetStatus(expr); \
    ASSERT_TRUE(chime_s_.ok()) << #expr << ": " << chime_s_;           \
  } while (0)
#define EXPECT_OK(expr) EXPECT_TRUE(::chime::testing::GetStatus(expr).ok()) << #expr

#define CHIME_TEST_CONCAT_INNER(a, b) a##b
#define CHIME_TEST_CONCAT(a, b) CHIME_TEST_CONCAT_INNER(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL(CHIME_TEST_CONCAT(chime_or_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, expr)         \
  auto tmp = (expr);                                      \
  ASSERT_TRUE(tmp.ok()) << #expr << ": " << tmp.status(); \
  lhs = std::move(tmp).value()

#endif  // CHIME_TESTS_TESTING_STATUS_MATCHERS_H_
