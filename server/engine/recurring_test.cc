// Recurring timers through the engine on a fake clock over a real store: exact interval
// occurrences, crash between occurrences, misfire and overlap policies after a simulated
// outage, cron across DST in Europe/Paris, jitter/spread, and completion. The 1,000,000
// occurrence exactness proof runs at the NextDueUs level (the engine computes every next
// occurrence with it); ~10,000 occurrences run through the full engine.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/fake_clock.h"
#include "common/limits.h"
#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "schedule/spread.h"
#include "server/engine/engine.h"
#include "server/engine/next_due.h"
#include "storage/store.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace chime::engine {
namespace {

using ::chime::testing::StatusIs;

constexpr absl::Duration kWaitBound = absl::Seconds(120);  // real time; generous
const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

class Listener : public FireListener {
 public:
  void OnFires(int, std::vector<internal::DeliveryRecord> fires) override {
    absl::MutexLock lock(&mu_);
    for (auto& f : fires) fires_.push_back(std::move(*f.mutable_fire()));
  }
  bool WaitForCount(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return fires_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kWaitBound);
  }
  std::vector<v1::Fire> fires() const {
    absl::MutexLock lock(&mu_);
    return fires_;
  }
  std::vector<v1::Fire> FiresOf(const std::string& id) const {
    std::vector<v1::Fire> out;
    for (v1::Fire& f : fires()) {
      if (f.timer_id() == id) out.push_back(std::move(f));
    }
    return out;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<v1::Fire> fires_ ABSL_GUARDED_BY(mu_);
};

template <typename Pred>
bool Eventually(Pred pred) {
  const absl::Time deadline = absl::Now() + kWaitBound;
  while (!pred()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

CreateSpec Interval(std::string id, absl::Time start, absl::Duration every) {
  CreateSpec spec;
  spec.timer.set_namespace_("default");
  spec.timer.set_timer_id(std::move(id));
  v1::IntervalSchedule* in = spec.timer.mutable_schedule()->mutable_interval();
  *in->mutable_start() = ToProtoTimestamp(start);
  *in->mutable_every() = ToProtoDuration(every);
  spec.timer.mutable_target()->set_topic("t");
  return spec;
}

CreateSpec Cron(std::string id, std::string expression, std::string zone) {
  CreateSpec spec;
  spec.timer.set_namespace_("default");
  spec.timer.set_timer_id(std::move(id));
  v1::CronSchedule* cron = spec.timer.mutable_schedule()->mutable_cron();
  cron->set_expression(std::move(expression));
  cron->set_time_zone(std::move(zone));
  spec.timer.mutable_target()->set_topic("t");
  return spec;
}

absl::Time Scheduled(const v1::Fire& f) { return FromProto(f.scheduled_time()); }

class RecurringTest : public ::testing::Test {
 protected:
  void Open() {
    if (store_ == nullptr) {
      storage::StoreOptions options;
      options.data_dir = dir_.path();
      options.shard_count = 1;
      options.fsync = false;
      auto store = storage::Store::Open(options);
      ASSERT_TRUE(store.ok()) << store.status();
      store_ = std::move(*store);
    }
    EngineOptions options;
    options.clock = &clock_;
    auto engine = Engine::Start(store_.get(), options, &listener_);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
  }
  // The engine and the store go away, as in a crash of the process (pending work on disk).
  void Close() {
    engine_.reset();
    store_.reset();
  }
  void TearDown() override { Close(); }

  v1::Timer Create(CreateSpec spec) {
    absl::Notification done;
    absl::StatusOr<CreateResult> result = absl::UnknownError("no callback");
    engine_->Create(std::move(spec), [&](absl::StatusOr<CreateResult> r) {
      result = std::move(r);
      done.Notify();
    });
    EXPECT_TRUE(done.WaitForNotificationWithTimeout(kWaitBound));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? result->timer : v1::Timer();
  }
  v1::Timer Get(const std::string& id) {
    absl::StatusOr<v1::Timer> timer = engine_->Get("default", id);
    EXPECT_TRUE(timer.ok()) << timer.status();
    return timer.ok() ? *timer : v1::Timer();
  }
  // Waits until the timer's next due time is `at` (its fire transactions are done).
  bool WaitNext(const std::string& id, absl::Time at) {
    return Eventually([&] {
      absl::StatusOr<v1::Timer> t = engine_->Get("default", id);
      return t.ok() && t->has_next_fire_time() && FromProto(t->next_fire_time()) == at;
    });
  }
  bool Pending(const std::string& fire_id) {
    auto d = store_->shard(0)->GetDelivery("default", fire_id);
    return d.ok() && d->has_value();
  }
  absl::Status EndDelivery(const std::string& fire_id, bool acked) {
    return store_->shard(0)->SubmitAndWait([&](storage::ShardTxn& txn) -> absl::Status {
      if (absl::Status s = txn.DeleteDelivery("default", fire_id); !s.ok()) return s;
      return acked ? absl::OkStatus() : RecordDeadLettered(txn, "default", fire_id);
    });
  }

  chime::testing::TempDir dir_;
  FakeClock clock_{kStart};
  Listener listener_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Engine> engine_;
};

// The engine computes every next occurrence with NextDueUs from the previous nominal time:
// a million of them land exactly on start + k*every (an every that is not a round number).
TEST(NextDueTest, MillionIntervalOccurrencesAreExact) {
  v1::Timer timer;
  const int64_t start_us = absl::ToUnixMicros(kStart) + 123'457;
  const int64_t every_us = 1'234'567;  // 1.234567 s
  *timer.mutable_schedule()->mutable_interval()->mutable_start() = MicrosToProto(start_us);
  *timer.mutable_schedule()->mutable_interval()->mutable_every() =
      ToProtoDuration(absl::Microseconds(every_us));
  ASSERT_OK_AND_ASSIGN(int64_t first, FirstDueUs(timer, start_us - 5'000'000));
  ASSERT_EQ(first, start_us);
  int64_t at = first;
  for (int64_t k = 1; k <= 1'000'000; ++k) {
    timer.set_fire_count(static_cast<uint64_t>(k));
    std::optional<int64_t> next = NextDueUs(timer, at);
    ASSERT_TRUE(next.has_value()) << k;
    ASSERT_EQ(*next, start_us + k * every_us) << k;
    at = *next;
  }
}

TEST(NextDueTest, StartInThePastIsAnAnchorAndMaxFiresCountsFires) {
  v1::Timer timer;
  *timer.mutable_schedule()->mutable_interval()->mutable_start() = ToProtoTimestamp(kStart);
  *timer.mutable_schedule()->mutable_interval()->mutable_every() =
      ToProtoDuration(absl::Seconds(10));
  timer.mutable_schedule()->mutable_interval()->set_max_fires(2);
  ASSERT_OK_AND_ASSIGN(int64_t first,
                       FirstDueUs(timer, absl::ToUnixMicros(kStart + absl::Seconds(25))));
  EXPECT_EQ(first, absl::ToUnixMicros(kStart + absl::Seconds(30)));
  timer.set_fire_count(1);
  EXPECT_EQ(NextDueUs(timer, first), absl::ToUnixMicros(kStart + absl::Seconds(40)));
  timer.set_fire_count(2);
  EXPECT_EQ(NextDueUs(timer, first), std::nullopt);
  timer.set_fire_count(0);
  EXPECT_THAT(UpcomingDueUs(timer, first, 5),
              ::testing::ElementsAre(absl::ToUnixMicros(kStart + absl::Seconds(30)),
                                     absl::ToUnixMicros(kStart + absl::Seconds(40))));
}

// ~10,000 occurrences through the full engine (fire transaction, time index, heap): every
// fire's scheduled time is exactly start + k*every and its id is <timer>@k.
TEST_F(RecurringTest, TenThousandOccurrencesThroughTheEngine) {
  Open();
  const absl::Duration every = absl::Milliseconds(100);
  const absl::Time start = kStart + absl::Milliseconds(7);
  Create(Interval("tick", start, every));
  constexpr int kSteps = 1000;
  for (int step = 1; step <= kSteps; ++step) {
    clock_.Set(start + absl::Seconds(step) - absl::Milliseconds(1));
    ASSERT_TRUE(listener_.WaitForCount(static_cast<size_t>(step) * 10)) << step;
  }
  std::vector<v1::Fire> fires = listener_.fires();
  ASSERT_EQ(fires.size(), kSteps * 10u);
  for (size_t k = 0; k < fires.size(); ++k) {
    ASSERT_EQ(Scheduled(fires[k]), start + static_cast<int64_t>(k) * every) << k;
    ASSERT_EQ(fires[k].fire_id(), MakeFireId("tick", k));
  }
  v1::Timer timer = Get("tick");
  EXPECT_EQ(timer.state(), v1::TIMER_STATE_SCHEDULED);
  EXPECT_EQ(timer.fire_count(), kSteps * 10u);
  EXPECT_EQ(FromProto(timer.next_fire_time()), start + kSteps * 10 * every);
}

// Firing an occurrence and scheduling the next is one write: the engine and store go away in
// the middle of a catch-up and the reopened engine continues with neither gap nor duplicate.
TEST_F(RecurringTest, CrashBetweenOccurrencesNeitherLosesNorDuplicates) {
  Open();
  CreateSpec spec = Interval("c", kStart, absl::Seconds(1));
  spec.timer.set_misfire_policy(v1::MISFIRE_POLICY_FIRE_ALL);
  Create(std::move(spec));
  // 901 occurrences due (k = 0..900; FIRE_ALL catches up at most kMaxCatchUpFires): the
  // engine fires one per transaction, so Close() below comes mid-run even if this thread waits
  // for a CPU a while. (With 301, the rest took ~20 ms, and a loaded test machine once let
  // them all fire first.)
  constexpr size_t kDue = 901;
  static_assert(kDue < limits::kMaxCatchUpFires);
  clock_.Advance(absl::Seconds(kDue - 1));
  ASSERT_TRUE(listener_.WaitForCount(40));
  Close();  // mid-run: fires in flight finish or roll back
  const size_t before = listener_.fires().size();
  EXPECT_LT(before, kDue);
  Open();
  ASSERT_TRUE(listener_.WaitForCount(kDue));
  ASSERT_TRUE(WaitNext("c", kStart + absl::Seconds(kDue)));
  std::vector<v1::Fire> fires = listener_.fires();
  ASSERT_EQ(fires.size(), kDue);
  std::set<std::string> ids;
  for (size_t k = 0; k < fires.size(); ++k) {
    EXPECT_EQ(Scheduled(fires[k]), kStart + absl::Seconds(static_cast<int64_t>(k)));
    EXPECT_TRUE(ids.insert(fires[k].fire_id()).second) << fires[k].fire_id();
  }
  EXPECT_EQ(Get("c").fire_count(), kDue);
}

// Three hours of outage for timers every minute, one per misfire policy.
TEST_F(RecurringTest, MisfirePoliciesAfterAnOutage) {
  Open();
  const absl::Duration minute = absl::Minutes(1);
  for (auto [id, policy] : std::vector<std::pair<std::string, v1::MisfirePolicy>>{
           {"once", v1::MISFIRE_POLICY_UNSPECIFIED},
           {"all", v1::MISFIRE_POLICY_FIRE_ALL},
           {"skip", v1::MISFIRE_POLICY_SKIP}}) {
    CreateSpec spec = Interval(id, kStart, minute);
    spec.timer.set_misfire_policy(policy);
    Create(std::move(spec));
  }
  ASSERT_TRUE(listener_.WaitForCount(3));  // occurrence 0 of each, on time
  for (const char* id : {"once", "all", "skip"}) ASSERT_TRUE(WaitNext(id, kStart + minute));
  Close();
  clock_.Advance(absl::Hours(3) + absl::Seconds(30));  // the server is down
  Open();
  const absl::Time next = kStart + absl::Hours(3) + minute;
  for (const char* id : {"once", "all", "skip"}) ASSERT_TRUE(WaitNext(id, next)) << id;
  // The listener hears of a fire just after its write is readable: wait for all 3 + 1 + 180.
  ASSERT_TRUE(listener_.WaitForCount(184));

  std::vector<v1::Fire> once = listener_.FiresOf("once");
  ASSERT_EQ(once.size(), 2u);                      // on time, then one for the whole outage
  EXPECT_EQ(Scheduled(once[1]), kStart + minute);  // the first missed occurrence
  EXPECT_EQ(FromProto(once[1].fire_time()), clock_.Now());

  std::vector<v1::Fire> all = listener_.FiresOf("all");
  ASSERT_EQ(all.size(), 181u);  // k = 0..180: every missed occurrence
  for (size_t k = 0; k < all.size(); ++k) {
    EXPECT_EQ(Scheduled(all[k]), kStart + static_cast<int64_t>(k) * minute);
  }
  EXPECT_EQ(listener_.FiresOf("skip").size(), 1u);  // only the on-time one
  EXPECT_EQ(Get("skip").fire_count(), 1u);
  EXPECT_EQ(Get("skip").state(), v1::TIMER_STATE_SCHEDULED);
}

TEST_F(RecurringTest, FireAllCatchUpIsBounded) {
  Open();
  CreateSpec spec = Interval("busy", kStart + absl::Seconds(1), absl::Seconds(1));
  spec.timer.set_misfire_policy(v1::MISFIRE_POLICY_FIRE_ALL);
  Create(std::move(spec));
  Close();
  clock_.Advance(absl::Hours(3));  // 10,800 missed occurrences
  Open();
  ASSERT_TRUE(WaitNext("busy", kStart + absl::Hours(3) + absl::Seconds(1)));
  ASSERT_TRUE(listener_.WaitForCount(limits::kMaxCatchUpFires));
  EXPECT_EQ(listener_.FiresOf("busy").size(), limits::kMaxCatchUpFires);
}

TEST_F(RecurringTest, OverlapPolicies) {
  Open();
  const absl::Duration minute = absl::Minutes(1);
  for (auto [id, policy] : std::vector<std::pair<std::string, v1::OverlapPolicy>>{
           {"allow", v1::OVERLAP_POLICY_UNSPECIFIED},
           {"forbid", v1::OVERLAP_POLICY_FORBID},
           {"replace", v1::OVERLAP_POLICY_REPLACE}}) {
    CreateSpec spec = Interval(id, kStart, minute);
    spec.timer.set_overlap_policy(policy);
    Create(std::move(spec));
  }
  ASSERT_TRUE(listener_.WaitForCount(3));
  for (const char* id : {"allow", "forbid", "replace"}) ASSERT_TRUE(WaitNext(id, kStart + minute));
  // Nobody acks: occurrence 1 is due while occurrence 0 is pending.
  clock_.Set(kStart + minute);
  for (const char* id : {"allow", "forbid", "replace"}) {
    ASSERT_TRUE(WaitNext(id, kStart + 2 * minute)) << id;
  }
  EXPECT_TRUE(Pending("allow@0"));
  EXPECT_TRUE(Pending("allow@1"));
  EXPECT_EQ(Get("allow").fire_count(), 2u);
  EXPECT_TRUE(Pending("forbid@0"));
  EXPECT_FALSE(Pending("forbid@1"));  // skipped, not counted
  EXPECT_EQ(Get("forbid").fire_count(), 1u);
  EXPECT_FALSE(Pending("replace@0"));  // superseded in the same write
  EXPECT_TRUE(Pending("replace@1"));
  EXPECT_EQ(Get("replace").fire_count(), 2u);
  ASSERT_TRUE(listener_.WaitForCount(5));  // heard just after the writes are readable
  EXPECT_EQ(listener_.fires().size(), 5u);

  // Once acknowledged, FORBID fires again, with the nominal time of its occurrence.
  ASSERT_OK(EndDelivery("forbid@0", /*acked=*/true));
  clock_.Set(kStart + 2 * minute);
  ASSERT_TRUE(WaitNext("forbid", kStart + 3 * minute));
  ASSERT_TRUE(listener_.WaitForCount(6));
  std::vector<v1::Fire> forbid = listener_.FiresOf("forbid");
  ASSERT_EQ(forbid.size(), 2u);
  EXPECT_EQ(forbid[1].fire_id(), "forbid@1");
  EXPECT_EQ(Scheduled(forbid[1]), kStart + 2 * minute);
}

// Overlap after an outage: FIRE_ALL with FORBID fires the first missed one and skips the
// rest while it is pending.
TEST_F(RecurringTest, OverlapForbidDuringCatchUp) {
  Open();
  CreateSpec spec = Interval("f", kStart, absl::Minutes(1));
  spec.timer.set_misfire_policy(v1::MISFIRE_POLICY_FIRE_ALL);
  spec.timer.set_overlap_policy(v1::OVERLAP_POLICY_FORBID);
  Create(std::move(spec));
  ASSERT_TRUE(listener_.WaitForCount(1));
  ASSERT_OK(EndDelivery("f@0", true));
  Close();
  clock_.Advance(absl::Hours(1) + absl::Seconds(10));
  Open();
  ASSERT_TRUE(WaitNext("f", kStart + absl::Minutes(61)));
  ASSERT_TRUE(listener_.WaitForCount(2));
  EXPECT_EQ(listener_.FiresOf("f").size(), 2u);
  EXPECT_EQ(Get("f").fire_count(), 2u);
}

// "30 2 * * *" in Europe/Paris across spring forward (2:30 does not exist on 2026-03-29:
// fires at 03:00 CEST) and fall back (2:30 happens twice on 2026-10-25: fires once, CEST).
TEST_F(RecurringTest, CronAcrossDstInParis) {
  clock_.Set(absl::FromUnixSeconds(1'774'612'800));  // 2026-03-27T12:00:00Z
  Open();
  Create(Cron("paris", "30 2 * * *", "Europe/Paris"));
  std::vector<absl::Time> want;
  for (const char* t : {"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}) {
    absl::Time at;
    std::string err;
    ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, t, &at, &err)) << err;
    want.push_back(at);
  }
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(FromProto(Get("paris").next_fire_time()), want[i]) << i;
    clock_.Set(want[i]);
    ASSERT_TRUE(listener_.WaitForCount(i + 1));
  }
  // Fall back: a new timer created the day before.
  absl::Time autumn_start, first, second;
  std::string err;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, "2026-10-24T10:00:00Z", &autumn_start, &err));
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, "2026-10-25T00:30:00Z", &first, &err));
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, "2026-10-26T01:30:00Z", &second, &err));
  clock_.Set(autumn_start);
  Create(Cron("autumn", "30 2 * * *", "Europe/Paris"));
  ASSERT_EQ(FromProto(Get("autumn").next_fire_time()), first);  // 02:30 CEST, first pass
  clock_.Set(first);
  // The second pass (02:30 CET = 01:30Z the same day) is not an occurrence: next is a day on.
  ASSERT_TRUE(WaitNext("autumn", second));
  ASSERT_TRUE(listener_.WaitForCount(1));
  std::vector<v1::Fire> autumn = listener_.FiresOf("autumn");
  ASSERT_EQ(autumn.size(), 1u);
  EXPECT_EQ(Scheduled(autumn[0]), first);
}

TEST_F(RecurringTest, SpreadAndJitterOffsetTheDueTimeNotTheScheduledTime) {
  Open();
  CreateSpec spread = Interval("spread", kStart + absl::Hours(1), absl::Hours(1));
  *spread.timer.mutable_spread() = ToProtoDuration(absl::Minutes(10));
  CreateSpec jitter = Interval("jitter", kStart + absl::Hours(1), absl::Hours(1));
  *jitter.timer.mutable_jitter() = ToProtoDuration(absl::Seconds(30));
  Create(std::move(spread));
  Create(std::move(jitter));
  const absl::Duration offset = SpreadOffset("default", "spread", absl::Minutes(10));
  EXPECT_EQ(FromProto(Get("spread").next_fire_time()), kStart + absl::Hours(1) + offset);
  const absl::Time jittered = FromProto(Get("jitter").next_fire_time());
  EXPECT_GE(jittered, kStart + absl::Hours(1));
  EXPECT_LT(jittered, kStart + absl::Hours(1) + absl::Seconds(30));
  clock_.Set(kStart + absl::Hours(1) + absl::Minutes(10));
  ASSERT_TRUE(listener_.WaitForCount(2));
  for (const v1::Fire& f : listener_.fires()) {
    EXPECT_EQ(Scheduled(f), kStart + absl::Hours(1)) << f.fire_id();  // nominal
  }
  ASSERT_TRUE(WaitNext("spread", kStart + absl::Hours(2) + offset));
}

TEST_F(RecurringTest, CompletesWhenTheLastFireOfTheScheduleIsAcked) {
  Open();
  CreateSpec spec = Interval("three", kStart, absl::Seconds(10));
  spec.timer.mutable_schedule()->mutable_interval()->set_max_fires(3);
  Create(std::move(spec));
  for (int k = 1; k <= 3; ++k) {
    ASSERT_TRUE(listener_.WaitForCount(static_cast<size_t>(k)));
    if (k < 3) {
      ASSERT_TRUE(WaitNext("three", kStart + absl::Seconds(10 * k)));
      clock_.Set(kStart + absl::Seconds(10 * k));
    }
  }
  ASSERT_TRUE(Eventually([&] { return Get("three").state() == v1::TIMER_STATE_FIRED; }));
  ASSERT_OK(EndDelivery("three@1", true));
  EXPECT_EQ(Get("three").state(), v1::TIMER_STATE_FIRED);  // not the last fire
  ASSERT_OK(EndDelivery("three@2", true));
  EXPECT_EQ(Get("three").state(), v1::TIMER_STATE_COMPLETED);
  EXPECT_EQ(Get("three").fire_count(), 3u);
}

// A dead-lettered occurrence does not end a schedule that continues.
TEST_F(RecurringTest, DeadLetteredOccurrenceKeepsTheScheduleRunning) {
  Open();
  Create(Interval("dl", kStart, absl::Seconds(10)));
  ASSERT_TRUE(listener_.WaitForCount(1));
  ASSERT_TRUE(WaitNext("dl", kStart + absl::Seconds(10)));
  ASSERT_OK(EndDelivery("dl@0", /*acked=*/false));
  EXPECT_EQ(Get("dl").state(), v1::TIMER_STATE_SCHEDULED);
}

// No maximum delay: a one-shot timer ten years out fires at its exact time.
TEST_F(RecurringTest, TenYearsAheadFiresExactly) {
  Open();
  CreateSpec spec;
  spec.timer.set_namespace_("default");
  spec.timer.set_timer_id("decade");
  const absl::Time at = kStart + absl::Hours(24 * 3653) + absl::Microseconds(17);
  *spec.timer.mutable_schedule()->mutable_fire_at() = ToProtoTimestamp(at);
  spec.timer.mutable_target()->set_topic("t");
  Create(std::move(spec));
  clock_.Set(at - absl::Microseconds(1));
  clock_.Set(at);
  ASSERT_TRUE(listener_.WaitForCount(1));
  EXPECT_EQ(Scheduled(listener_.fires()[0]), at);
  EXPECT_EQ(FromProto(listener_.fires()[0].fire_time()), at);
}

// Pause drops the index entry (stale heap entries are skipped by version); resume puts the
// kept occurrence back and the misfire policy handles what passed while paused; update
// changes the schedule with a version bump.
TEST_F(RecurringTest, PauseResumeAndUpdate) {
  Open();
  const absl::Duration minute = absl::Minutes(1);
  CreateSpec spec = Interval("p", kStart, minute);
  spec.timer.set_misfire_policy(v1::MISFIRE_POLICY_SKIP);
  Create(std::move(spec));
  ASSERT_TRUE(listener_.WaitForCount(1));
  ASSERT_TRUE(WaitNext("p", kStart + minute));
  auto change = [&](auto method) {
    absl::Notification done;
    absl::StatusOr<v1::Timer> result = absl::UnknownError("no callback");
    method([&](absl::StatusOr<v1::Timer> r) {
      result = std::move(r);
      done.Notify();
    });
    EXPECT_TRUE(done.WaitForNotificationWithTimeout(kWaitBound));
    return result;
  };
  auto pause = [&](auto cb) { engine_->Pause("default", "p", cb); };
  auto resume = [&](auto cb) { engine_->Resume("default", "p", cb); };
  ASSERT_OK_AND_ASSIGN(v1::Timer paused, change(pause));
  EXPECT_EQ(paused.state(), v1::TIMER_STATE_PAUSED);
  EXPECT_FALSE(paused.has_next_fire_time());
  EXPECT_THAT(change(pause), StatusIs(absl::StatusCode::kFailedPrecondition));
  clock_.Advance(absl::Minutes(10) + absl::Seconds(30));  // occurrences 1..10 pass while paused
  // Nothing fires while paused; a later fire would show up before the next check.
  ASSERT_OK_AND_ASSIGN(v1::Timer resumed, change(resume));
  EXPECT_EQ(resumed.state(), v1::TIMER_STATE_SCHEDULED);
  EXPECT_EQ(FromProto(resumed.next_fire_time()), kStart + minute);  // kept occurrence
  // SKIP: the missed occurrences do not fire; next is the first after now.
  ASSERT_TRUE(WaitNext("p", kStart + 11 * minute));
  EXPECT_EQ(listener_.FiresOf("p").size(), 1u);

  v1::UpdateTimerRequest update;
  update.set_namespace_("default");
  update.set_timer_id("p");
  update.mutable_cron()->set_expression("0 * * * *");  // hourly
  update.set_payload("v2");
  ASSERT_OK_AND_ASSIGN(v1::Timer updated, change([&](auto cb) { engine_->Update(update, cb); }));
  EXPECT_GT(updated.version(), resumed.version());
  EXPECT_EQ(updated.payload(), "v2");
  EXPECT_EQ(updated.misfire_policy(), v1::MISFIRE_POLICY_SKIP);  // unchanged
  const absl::Time next_hour =
      absl::FromUnixSeconds((absl::ToUnixSeconds(clock_.Now()) / 3600 + 1) * 3600);
  EXPECT_EQ(FromProto(updated.next_fire_time()), next_hour);
  ASSERT_EQ(Get("p").upcoming_fire_times_size(), 5);
  EXPECT_EQ(FromProto(Get("p").upcoming_fire_times(4)), next_hour + absl::Hours(4));
  // The old index entry (kStart + 11 min) is gone: nothing fires there.
  clock_.Set(kStart + 11 * minute);
  clock_.Set(next_hour);
  ASSERT_TRUE(listener_.WaitForCount(2));
  ASSERT_TRUE(WaitNext("p", next_hour + absl::Hours(1)));
  std::vector<v1::Fire> fires = listener_.FiresOf("p");
  ASSERT_EQ(fires.size(), 2u);
  EXPECT_EQ(Scheduled(fires[1]), next_hour);
  EXPECT_EQ(fires[1].payload(), "v2");
}

}  // namespace
}  // namespace chime::engine
