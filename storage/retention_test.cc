#include "storage/retention.h"

#include <string>

#include "common/proto_time.h"
#include "gtest/gtest.h"

namespace chime::storage {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

internal::TimerRecord FullRecord(v1::TimerState state) {
  internal::TimerRecord record;
  v1::Timer& timer = *record.mutable_timer();
  timer.set_namespace_("ns");
  timer.set_timer_id("id");
  timer.set_payload(std::string(300, '\x08'));  // bytes that look like the state's tag
  (*timer.mutable_labels())["state"] = "x";
  *timer.mutable_schedule()->mutable_fire_at() = ToProtoTimestamp(kT0);
  timer.set_state(state);
  timer.set_fire_count(3);
  *timer.mutable_webhook_status()->mutable_last_attempt_time() = ToProtoTimestamp(kT0);
  record.set_request_fingerprint(0x0808080808080808);
  record.set_due_us(8);
  return record;
}

void ExpectSameFacts(const TimerEndFacts& read, const TimerEndFacts& want) {
  EXPECT_EQ(read.state, want.state);
  EXPECT_EQ(read.create_time, want.create_time);
  EXPECT_EQ(read.cancel_time, want.cancel_time);
  EXPECT_EQ(read.last_fire_time, want.last_fire_time);
}

TEST(ReadTimerEndFactsTest, ReadsWhatAParseWouldWithoutParsingTheRest) {
  for (int s = v1::TimerState_MIN; s <= v1::TimerState_MAX; ++s) {
    internal::TimerRecord record = FullRecord(static_cast<v1::TimerState>(s));
    SCOPED_TRACE(s);
    ExpectSameFacts(ReadTimerEndFacts(record.SerializeAsString()), TimerEndFactsOf(record.timer()));
    v1::Timer& timer = *record.mutable_timer();
    *timer.mutable_create_time() = ToProtoTimestamp(kT0 - absl::Hours(1));
    *timer.mutable_cancel_time() = ToProtoTimestamp(kT0 + absl::Milliseconds(1500));
    *timer.mutable_last_fire_time() = ToProtoTimestamp(kT0 + absl::Nanoseconds(7));
    const TimerEndFacts read = ReadTimerEndFacts(record.SerializeAsString());
    ExpectSameFacts(read, TimerEndFactsOf(timer));
    EXPECT_EQ(read.cancel_time, kT0 + absl::Milliseconds(1500));
    EXPECT_EQ(read.last_fire_time, kT0 + absl::Nanoseconds(7));
  }
}

TEST(ReadTimerEndFactsTest, MalformedOrEmptyIsUnspecified) {
  EXPECT_EQ(ReadTimerEndFacts("").state, v1::TIMER_STATE_UNSPECIFIED);
  EXPECT_EQ(ReadTimerEndFacts("\xff\xff\xff").state, v1::TIMER_STATE_UNSPECIFIED);
  const std::string whole = FullRecord(v1::TIMER_STATE_CANCELLED).SerializeAsString();
  ASSERT_EQ(ReadTimerEndFacts(whole).state, v1::TIMER_STATE_CANCELLED);
  // Cut inside the timer: its length runs past the end.
  EXPECT_EQ(ReadTimerEndFacts(whole.substr(0, whole.size() - 1)).state,
            v1::TIMER_STATE_UNSPECIFIED);
  internal::TimerRecord no_timer;
  no_timer.set_due_us(5);
  EXPECT_EQ(ReadTimerEndFacts(no_timer.SerializeAsString()).state, v1::TIMER_STATE_UNSPECIFIED);
}

TEST(TimerEndTimeTest, CancelTimeOrLastFireOrCreate) {
  TimerEndFacts timer;
  timer.create_time = kT0;
  timer.cancel_time = kT0 + absl::Minutes(2);
  timer.state = v1::TIMER_STATE_CANCELLED;
  EXPECT_EQ(TimerEndTime(timer), kT0 + absl::Minutes(2));
  timer.state = v1::TIMER_STATE_COMPLETED;
  EXPECT_EQ(TimerEndTime(timer), kT0);  // ended without a fire (its schedule was all skipped)
  timer.last_fire_time = kT0 + absl::Minutes(5);
  EXPECT_EQ(TimerEndTime(timer), kT0 + absl::Minutes(5));
  timer.state = v1::TIMER_STATE_DEAD_LETTERED;
  EXPECT_EQ(TimerEndTime(timer), kT0 + absl::Minutes(5));
  for (v1::TimerState open : {v1::TIMER_STATE_SCHEDULED, v1::TIMER_STATE_FIRED,
                              v1::TIMER_STATE_PAUSED, v1::TIMER_STATE_UNSPECIFIED}) {
    timer.state = open;
    EXPECT_EQ(TimerEndTime(timer), std::nullopt) << open;
  }
  EXPECT_EQ(LastFireOrCreateTime(timer), kT0 + absl::Minutes(5));
}

TEST(RetentionPassedTest, AtTheBoundAndNeverWhenInfinite) {
  EXPECT_FALSE(RetentionPassed(kT0, kT0 + absl::Hours(1) - absl::Microseconds(1), absl::Hours(1)));
  EXPECT_TRUE(RetentionPassed(kT0, kT0 + absl::Hours(1), absl::Hours(1)));
  EXPECT_TRUE(RetentionPassed(kT0, kT0, absl::ZeroDuration()));
  EXPECT_FALSE(RetentionPassed(kT0, absl::InfiniteFuture(), absl::InfiniteDuration()));
}

}  // namespace
}  // namespace chime::storage
