#include "client/reconnect_backoff.h"

#include "gtest/gtest.h"

namespace chime {
namespace {

TEST(ReconnectBackoffTest, GrowsWithinBoundsAndResets) {
  ReconnectOptions options;
  options.min_backoff = absl::Milliseconds(100);
  options.max_backoff = absl::Seconds(1);
  ReconnectBackoff backoff(options);
  // Attempt n waits within [min, min * 2^n], capped at max.
  absl::Duration cap = options.min_backoff;
  for (int n = 0; n < 40; ++n) {
    const absl::Duration delay = backoff.NextDelay();
    EXPECT_GE(delay, options.min_backoff) << n;
    EXPECT_LE(delay, std::min(cap, options.max_backoff)) << n;
    cap *= 2;
  }
  EXPECT_EQ(backoff.failures(), 40);
  backoff.Reset();
  EXPECT_EQ(backoff.failures(), 0);
  EXPECT_EQ(backoff.NextDelay(), options.min_backoff);
}

TEST(ReconnectBackoffTest, JitterSpreadsTheWaits) {
  ReconnectOptions options;
  options.min_backoff = absl::Milliseconds(1);
  options.max_backoff = absl::Seconds(10);
  ReconnectBackoff backoff(options);
  for (int i = 0; i < 20; ++i) backoff.NextDelay();  // cap reached
  absl::Duration first = backoff.NextDelay();
  bool differs = false;
  for (int i = 0; i < 20 && !differs; ++i) differs = backoff.NextDelay() != first;
  EXPECT_TRUE(differs) << "20 draws from [1ms, 10s] were all " << first;
}

TEST(ReconnectBackoffTest, MaxAttemptsExhausts) {
  ReconnectOptions options;
  options.max_attempts = 3;
  ReconnectBackoff backoff(options);
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(backoff.Exhausted());
    backoff.NextDelay();
  }
  EXPECT_TRUE(backoff.Exhausted());
  options.max_attempts = 0;
  ReconnectBackoff forever(options);
  for (int i = 0; i < 100; ++i) forever.NextDelay();
  EXPECT_FALSE(forever.Exhausted());
}

TEST(ReconnectBackoffTest, OptionsAreValidated) {
  ReconnectOptions options;
  EXPECT_TRUE(ValidateReconnectOptions(options).ok());
  options.min_backoff = absl::ZeroDuration();
  EXPECT_EQ(ValidateReconnectOptions(options).message(),
            "reconnect.min_backoff is 0, must be positive");
  options.min_backoff = absl::Seconds(2);
  options.max_backoff = absl::Seconds(1);
  EXPECT_EQ(ValidateReconnectOptions(options).code(), absl::StatusCode::kInvalidArgument);
  options.max_backoff = absl::Hours(2);
  EXPECT_EQ(ValidateReconnectOptions(options).message(), "reconnect.max_backoff is 2h, limit 1h");
  options.max_backoff = absl::Seconds(5);
  options.max_attempts = -1;
  EXPECT_EQ(ValidateReconnectOptions(options).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ReconnectBackoffTest, WhichStreamEndsAreRetried) {
  EXPECT_TRUE(IsRetryableStreamEnd(absl::UnavailableError("server shutting down, reconnect")));
  EXPECT_TRUE(IsRetryableStreamEnd(absl::OkStatus()));
  EXPECT_TRUE(IsRetryableStreamEnd(absl::CancelledError("the stream broke")));
  EXPECT_TRUE(IsRetryableStreamEnd(absl::InternalError("x")));
  EXPECT_FALSE(IsRetryableStreamEnd(absl::InvalidArgumentError("start.topic is required")));
  EXPECT_FALSE(IsRetryableStreamEnd(absl::FailedPreconditionError("first message must be start")));
  EXPECT_FALSE(IsRetryableStreamEnd(absl::PermissionDeniedError("x")));
  EXPECT_FALSE(IsRetryableStreamEnd(absl::UnauthenticatedError("x")));
  EXPECT_FALSE(IsRetryableStreamEnd(absl::UnimplementedError("x")));
}

}  // namespace
}  // namespace chime
