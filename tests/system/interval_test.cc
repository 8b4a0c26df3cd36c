// A real chimed and a real subscriber that acks: an interval timer every 200 ms observed for
// more than 10 s. Every fire's scheduled time is exactly start + k*200ms, no occurrence is
// missing or duplicated, and delivered lateness (receipt time - scheduled time) stays flat:
// p50/p99 are printed per 2-second bucket.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "chime/v1/timer.pb.h"
#include "client/client.h"
#include "common/proto_time.h"
#include "gtest/gtest.h"
#include "tests/testing/chimed_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace chime {
namespace {

using testing::ChimedProcess;

constexpr absl::Duration kEvery = absl::Milliseconds(200);
constexpr int kOccurrences = 55;  // 11 s of schedule

absl::Duration Percentile(std::vector<absl::Duration> v, double p) {
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

TEST(IntervalSystemTest, EveryTwoHundredMillisecondsForElevenSeconds) {
  testing::TempDir data;
  ASSERT_OK_AND_ASSIGN(auto chimed, ChimedProcess::Start(data.path()));
  ASSERT_OK_AND_ASSIGN(auto client, Client::Connect(chimed->address()));
  ASSERT_OK_AND_ASSIGN(auto sub, client->Subscribe("default", "ticks"));

  // A start on a whole second, a little ahead, so the first occurrences are not late.
  const absl::Time start = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) + 2);
  v1::CreateTimerRequest request;
  request.set_timer_id("tick");
  *request.mutable_interval()->mutable_every() = ToProtoDuration(kEvery);
  *request.mutable_interval()->mutable_start() = ToProtoTimestamp(start);
  request.mutable_interval()->set_max_fires(kOccurrences);
  // A loaded test machine must not turn a late occurrence into a skipped one.
  request.set_misfire_policy(v1::MISFIRE_POLICY_FIRE_ALL);
  request.mutable_target()->set_topic("ticks");
  ASSERT_OK_AND_ASSIGN(v1::CreateTimerResponse created, client->CreateTimer(request));
  ASSERT_EQ(FromProto(created.timer().next_fire_time()), start);

  std::map<int64_t, absl::Duration> lateness;  // k -> receipt - scheduled
  std::map<std::string, int> seen;
  const absl::Time give_up = start + kOccurrences * kEvery + absl::Seconds(60);
  while (static_cast<int>(seen.size()) < kOccurrences && absl::Now() < give_up) {
    ASSERT_OK_AND_ASSIGN(std::optional<v1::Fire> fire, sub->Next(absl::Seconds(1)));
    if (!fire.has_value()) continue;
    const absl::Time received = absl::Now();
    ASSERT_OK(sub->Ack({fire->fire_id()}));
    ++seen[fire->fire_id()];
    const absl::Duration offset = FromProto(fire->scheduled_time()) - start;
    // Exact multiple of 200ms from start (absl::Duration arithmetic is exact).
    absl::Duration rem;
    const int64_t k = absl::IDivDuration(offset, kEvery, &rem);
    ASSERT_EQ(offset, k * kEvery) << fire->fire_id();
    ASSERT_EQ(fire->fire_id(), "tick@" + std::to_string(k));
    if (fire->attempt() == 1) lateness[k] = received - FromProto(fire->scheduled_time());
  }
  ASSERT_EQ(static_cast<int>(seen.size()), kOccurrences);
  for (const auto& [id, n] : seen) EXPECT_EQ(n, 1) << id << " delivered more than once";
  ASSERT_EQ(lateness.size(), static_cast<size_t>(kOccurrences));
  EXPECT_EQ(lateness.begin()->first, 0);
  EXPECT_EQ(lateness.rbegin()->first, kOccurrences - 1);  // 0..54: none missing

  // Flatness: lateness per 2-second bucket (10 occurrences each).
  std::printf("bucket   p50        p99\n");
  for (int b = 0; b * 10 < kOccurrences; ++b) {
    std::vector<absl::Duration> v;
    for (int k = b * 10; k < std::min(kOccurrences, b * 10 + 10); ++k) v.push_back(lateness[k]);
    const absl::Duration p50 = Percentile(v, 0.50);
    const absl::Duration p99 = Percentile(v, 0.99);
    std::printf("%2ds-%2ds  %-10s %-10s\n", 2 * b, 2 * b + 2,
                absl::FormatDuration(absl::Trunc(p50, absl::Microseconds(10))).c_str(),
                absl::FormatDuration(absl::Trunc(p99, absl::Microseconds(10))).c_str());
    // Generous for a shared 2-core machine; a drifting ticker would grow past it.
    EXPECT_LT(p99, absl::Seconds(1)) << "bucket " << b;
  }
  // The schedule ended at max_fires, its last fire acked: COMPLETED.
  for (int i = 0; i < 100; ++i) {
    ASSERT_OK_AND_ASSIGN(v1::Timer timer, client->GetTimer("default", "tick"));
    if (timer.state() == v1::TIMER_STATE_COMPLETED) break;
    ASSERT_LT(i, 99) << "state " << v1::TimerState_Name(timer.state());
    absl::SleepFor(absl::Milliseconds(100));
  }
}

}  // namespace
}  // namespace chime
