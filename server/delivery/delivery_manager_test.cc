// DeliveryManager against a real Store on a fake clock, with in-memory sinks (no gRPC):
// memory stays bounded while a backlog waits on disk, every fire is delivered and acked
// exactly once, deadlines redeliver, and a leaving subscriber's fires go to another.
#include "server/delivery/delivery_manager.h"

#include <map>
#include <set>
#include <tuple>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/fake_clock.h"
#include "common/proto_time.h"
#include "gtest/gtest.h"
#include "server/engine/engine.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace chime::delivery {
namespace {

using internal::DeliveryRecord;

// Collects what the manager sends; the test thread waits on it with a real-time bound.
class RecordingSink : public SubscriberSink {
 public:
  void SendFires(std::vector<v1::Fire> fires) override {
    absl::MutexLock lock(&mu_);
    ++sends_;
    for (auto& f : fires) fires_.push_back(std::move(f));
  }
  void SendAckResults(std::vector<v1::AckResult> results) override {
    absl::MutexLock lock(&mu_);
    for (auto& r : results) outcomes_[r.fire_id()] = r.outcome();
  }
  void Close(const absl::Status& status) override {
    absl::MutexLock lock(&mu_);
    closed_ = status;
  }

  // Waits for the next fire not yet taken.
  std::optional<v1::Fire> Next() {
    absl::MutexLock lock(&mu_);
    auto have = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return taken_ < fires_.size(); };
    if (!mu_.AwaitWithTimeout(absl::Condition(&have), absl::Seconds(30))) return std::nullopt;
    return fires_[taken_++];
  }
  v1::AckOutcome WaitOutcome(const std::string& fire_id) {
    absl::MutexLock lock(&mu_);
    auto have = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return outcomes_.count(fire_id) > 0; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&have), absl::Seconds(30))) {
      return v1::ACK_OUTCOME_UNSPECIFIED;
    }
    return outcomes_[fire_id];
  }
  // Waits for `fire_id`'s latest outcome to be `outcome` (a fire nacked, then acked, has two).
  bool WaitOutcomeIs(const std::string& fire_id, v1::AckOutcome outcome) {
    absl::MutexLock lock(&mu_);
    auto is = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      auto it = outcomes_.find(fire_id);
      return it != outcomes_.end() && it->second == outcome;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&is), absl::Seconds(30));
  }
  size_t received() {
    absl::MutexLock lock(&mu_);
    return fires_.size();
  }
  // SendFires calls so far (a stream writes one message per call).
  size_t sends() {
    absl::MutexLock lock(&mu_);
    return sends_;
  }

 private:
  absl::Mutex mu_;
  std::vector<v1::Fire> fires_ ABSL_GUARDED_BY(mu_);
  size_t sends_ ABSL_GUARDED_BY(mu_) = 0;
  size_t taken_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, v1::AckOutcome> outcomes_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> closed_ ABSL_GUARDED_BY(mu_);
};

class DeliveryManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::StoreOptions options;
    options.data_dir = dir_.path() + "/data";
    options.shard_count = 4;
    options.fsync = false;
    ASSERT_OK_AND_ASSIGN(store_, storage::Store::Open(options));
  }
  void TearDown() override {
    if (manager_) manager_->Stop();
    manager_.reset();
    store_.reset();
  }
  void StartManager(size_t max_ready, uint32_t max_attempts = 5) {
    DeliveryOptions options;
    options.default_max_attempts = max_attempts;
    options.clock = &clock_;
    options.max_ready_per_topic = max_ready;
    options.scan_batch = 4;
    options.metrics = &registry_;
    manager_ = std::make_unique<DeliveryManager>(store_.get(), options);
  }

  // A pending delivery as the engine would record it; returns (shard, record).
  std::pair<int, DeliveryRecord> Pending(const std::string& timer_id, const std::string& topic) {
    DeliveryRecord record;
    v1::Fire* fire = record.mutable_fire();
    fire->set_fire_id(absl::StrCat(timer_id, "@1"));
    fire->set_namespace_("ns");
    fire->set_timer_id(timer_id);
    fire->set_topic(topic);
    *fire->mutable_scheduled_time() = ToProtoTimestamp(clock_.Now());
    record.set_visible_at_us(absl::ToUnixMicros(clock_.Now()));
    const int shard = store_->ShardFor("ns", timer_id);
    EXPECT_OK(store_->shard(shard)->SubmitAndWait(
        [&](storage::ShardTxn& txn) { return txn.PutDelivery(record); }));
    return {shard, record};
  }

  // Waits (real time, bounded) until the topic's first disk scan is over, so fires then
  // arrive in memory from the engine.
  void WaitNoBacklog(const std::string& topic) {
    const absl::Time limit = absl::Now() + absl::Seconds(30);
    while (absl::Now() < limit && manager_->GetTopicStats("ns", topic)->backlog_on_disk) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    ASSERT_FALSE(manager_->GetTopicStats("ns", topic)->backlog_on_disk);
  }

  // Two subscribers of topic "q" with `credit` each, once the topic's first scan is over.
  void SubscribeTwo(uint32_t credit, std::shared_ptr<RecordingSink>& a,
                    std::shared_ptr<RecordingSink>& b) {
    a = std::make_shared<RecordingSink>();
    b = std::make_shared<RecordingSink>();
    ASSERT_OK(manager_->Subscribe("ns", "q", credit, a).status());
    ASSERT_OK(manager_->Subscribe("ns", "q", credit, b).status());
    ASSERT_NO_FATAL_FAILURE(WaitNoBacklog("q"));
  }

  // A fire the engine committed `lead` before its due time and handed to delivery.
  void FireAhead(const std::string& timer_id, const std::string& topic, absl::Duration lead) {
    const absl::Time due = clock_.Now() + lead;
    auto [shard, record] = Pending(timer_id, topic);
    *record.mutable_fire()->mutable_scheduled_time() = ToProtoTimestamp(due);
    record.set_visible_at_us(absl::ToUnixMicros(due));
    *record.mutable_policy() = v1::DeliveryPolicy();
    ASSERT_OK(store_->shard(shard)->SubmitAndWait(
        [&r = record](storage::ShardTxn& txn) { return txn.PutDelivery(r); }));
    manager_->OnFires(shard, {record});
  }

  // Waits (real time, bounded) until the sinks received `n` fires in all.
  void WaitReceived(const std::vector<RecordingSink*>& sinks, size_t n) {
    const absl::Time limit = absl::Now() + absl::Seconds(30);
    size_t total = 0;
    while (absl::Now() < limit) {
      total = 0;
      for (RecordingSink* sink : sinks) total += sink->received();
      if (total >= n) break;
      absl::SleepFor(absl::Milliseconds(1));
    }
    ASSERT_EQ(total, n);
  }

  // Waits (real time, bounded) until `n` fires of the topic are in flight.
  void WaitInFlight(const std::string& topic, size_t n) {
    const absl::Time limit = absl::Now() + absl::Seconds(30);
    while (absl::Now() < limit) {
      auto stats = manager_->GetTopicStats("ns", topic);
      if (stats.has_value() && stats->in_flight == n) return;
      absl::SleepFor(absl::Milliseconds(1));
    }
    FAIL() << "in flight never reached " << n;
  }
  std::optional<DeliveryRecord> StoredDelivery(const std::string& timer_id, bool dead) {
    storage::ShardStore* shard = store_->shard(store_->ShardFor("ns", timer_id));
    const std::string fire_id = timer_id + "@1";
    if (!dead) {
      auto r = shard->GetDelivery("ns", fire_id);
      EXPECT_OK(r.status());
      return r.ok() ? *r : std::nullopt;
    }
    std::optional<DeliveryRecord> found;
    EXPECT_OK(shard->ScanDeadLetters("ns", "", [&](const DeliveryRecord& r) {
      if (r.fire().fire_id() == fire_id) found = r;
      return !found.has_value();
    }));
    return found;
  }

  size_t StoredDeliveries() {
    size_t n = 0;
    for (int s = 0; s < store_->shard_count(); ++s) {
      EXPECT_OK(store_->shard(s)->ScanAllDeliveries([&](const DeliveryRecord&) {
        ++n;
        return true;
      }));
    }
    return n;
  }

  // Pending fires t0@1 .. t<n-1>@1 of `topic`, each visible 1 ms after the one before.
  std::vector<std::string> PendingOneMsApart(int n, const std::string& topic) {
    std::vector<std::string> fire_ids;
    for (int i = 0; i < n; ++i) {
      fire_ids.push_back(Pending(absl::StrCat("t", i), topic).second.fire().fire_id());
      clock_.Advance(absl::Milliseconds(1));
    }
    return fire_ids;
  }

  // Takes and acks fires until `seen` holds `total`, each sent once, as its first attempt.
  void AckEachUntil(RecordingSink& sink, SubscriberId id, size_t total,
                    std::set<std::string>& seen) {
    while (seen.size() < total) {
      std::optional<v1::Fire> fire = sink.Next();
      ASSERT_TRUE(fire.has_value()) << "stalled after " << seen.size();
      EXPECT_TRUE(seen.insert(fire->fire_id()).second) << "delivered twice: " << fire->fire_id();
      EXPECT_EQ(fire->attempt(), 1u);
      manager_->Ack(id, {fire->fire_id()});
    }
  }

  // A fire handed over unwritten (engine::EngineOptions::defer_fire_writes): its one-shot
  // timer is stored SCHEDULED, due now, with its time-index entry, and nothing else.
  std::pair<int, DeliveryRecord> Unwritten(const std::string& timer_id, const std::string& topic) {
    const int64_t due_us = absl::ToUnixMicros(clock_.Now());
    internal::TimerRecord timer;
    v1::Timer& t = *timer.mutable_timer();
    t.set_namespace_("ns");
    t.set_timer_id(timer_id);
    t.set_state(v1::TIMER_STATE_SCHEDULED);
    t.set_version(3);
    t.mutable_target()->set_topic(topic);
    *t.mutable_schedule()->mutable_fire_at() = ToProtoTimestamp(clock_.Now());
    timer.set_due_us(due_us);
    const int shard = store_->ShardFor("ns", timer_id);
    EXPECT_OK(store_->shard(shard)->SubmitAndWait([&](storage::ShardTxn& txn) {
      txn.PutTimer(timer);
      txn.PutDue(due_us, "ns", timer_id);
      return absl::OkStatus();
    }));
    DeliveryRecord record;
    v1::Fire* fire = record.mutable_fire();
    fire->set_fire_id(engine::MakeFireId(timer_id, 0));
    fire->set_namespace_("ns");
    fire->set_timer_id(timer_id);
    fire->set_topic(topic);
    *fire->mutable_scheduled_time() = ToProtoTimestamp(clock_.Now());
    *fire->mutable_fire_time() = ToProtoTimestamp(clock_.Now());
    record.set_visible_at_us(due_us);
    *record.mutable_policy() = v1::DeliveryPolicy();
    record.mutable_unwritten()->set_due_us(due_us);
    record.mutable_unwritten()->set_timer_version(3);
    return {shard, record};
  }
  // What the shard stores of an unwritten fire's timer: its record and whether it is due.
  struct StoredFire {
    v1::Timer timer;
    bool due_entry = false;
    std::optional<DeliveryRecord> delivery;
  };
  StoredFire Stored(const std::string& timer_id) {
    storage::ShardStore* shard = store_->shard(store_->ShardFor("ns", timer_id));
    StoredFire out;
    auto timer = shard->GetTimer("ns", timer_id);
    EXPECT_TRUE(timer.ok() && timer->has_value());
    if (timer.ok() && timer->has_value()) out.timer = (*timer)->timer();
    std::vector<storage::DueEntry> due;
    bool more = false;
    EXPECT_OK(shard->ScanDue(std::nullopt, INT64_MAX, 1000, &due, &more));
    for (const storage::DueEntry& e : due) out.due_entry |= e.timer_id == timer_id;
    auto delivery = shard->GetDelivery("ns", engine::MakeFireId(timer_id, 0));
    EXPECT_OK(delivery.status());
    if (delivery.ok()) out.delivery = *delivery;
    return out;
  }
  // Waits (real time, bounded) until the unwritten fire of `timer_id` is written: FIRED.
  StoredFire WaitWritten(const std::string& timer_id) {
    const absl::Time limit = absl::Now() + absl::Seconds(30);
    StoredFire stored = Stored(timer_id);
    while (absl::Now() < limit && stored.timer.state() == v1::TIMER_STATE_SCHEDULED) {
      absl::SleepFor(absl::Milliseconds(1));
      stored = Stored(timer_id);
    }
    return stored;
  }

  // A subscriber of "q" (window 10), once its first scan is over, and an unwritten fire u1@0
  // handed over to it.
  struct OutUnwritten {
    std::shared_ptr<RecordingSink> sink;
    SubscriberId id = 0;
    DeliveryRecord record;
  };
  void SubscribeAndFireUnwritten(OutUnwritten* out) {
    StartManager(/*max_ready=*/100);
    out->sink = std::make_shared<RecordingSink>();
    ASSERT_OK_AND_ASSIGN(out->id, manager_->Subscribe("ns", "q", 10, out->sink));
    ASSERT_NO_FATAL_FAILURE(WaitNoBacklog("q"));
    auto [shard, record] = Unwritten("u1", "q");
    out->record = record;
    manager_->OnFires(shard, {record});
  }

  // Observations of the send lateness histogram: (count, sum in seconds).
  std::pair<uint64_t, double> SendLateness() {
    absl::StatusOr<metrics::HistogramFamily*> family =
        registry_.AddHistogram(kSendLatenessName, kSendLatenessHelp);
    EXPECT_OK(family.status());
    if (!family.ok()) return {0, 0};
    metrics::Histogram* h = (*family)->WithLabels({});
    return {h->Count(), h->Sum()};
  }

  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  metrics::Registry registry_;
  testing::TempDir dir_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<DeliveryManager> manager_;
};

TEST_F(DeliveryManagerTest, BacklogOnDiskIsDeliveredWithBoundedMemory) {
  // 60 fires pending before anyone subscribes (as after a restart).
  for (int i = 0; i < 60; ++i) Pending(absl::StrCat("t", i), "jobs");
  StartManager(/*max_ready=*/5);
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_OK_AND_ASSIGN(SubscriberId id, manager_->Subscribe("ns", "jobs", 3, sink));

  // More fires arrive live while the queue is full: they overflow to disk, not to memory.
  for (int i = 0; i < 20; ++i) {
    auto [shard, record] = Pending(absl::StrCat("live", i), "jobs");
    manager_->OnFires(shard, {record});
  }

  std::set<std::string> seen;
  while (seen.size() < 80) {
    std::optional<v1::Fire> fire = sink->Next();
    ASSERT_TRUE(fire.has_value()) << "stalled after " << seen.size();
    EXPECT_TRUE(seen.insert(fire->fire_id()).second) << "delivered twice: " << fire->fire_id();
    EXPECT_EQ(fire->attempt(), 1u);
    auto stats = manager_->GetTopicStats("ns", "jobs");
    ASSERT_TRUE(stats.has_value());
    EXPECT_LE(stats->ready, 5u + 3u);  // the bound (+ fires returned from flight)
    EXPECT_LE(stats->in_flight, 3u);
    manager_->Ack(id, {fire->fire_id()});
    EXPECT_EQ(sink->WaitOutcome(fire->fire_id()), v1::ACK_OUTCOME_ACKED);
  }
  EXPECT_EQ(StoredDeliveries(), 0u);
  manager_->Unsubscribe(id);
}

// Refills resume after the last fire they read in each shard; a fire that reaches the disk
// backlog at an older position (a late fire from the engine, here) must still be found.
TEST_F(DeliveryManagerTest, AFireBehindTheScanCursorIsStillDelivered) {
  std::vector<std::string> fire_ids = PendingOneMsApart(10, "jobs");
  StartManager(/*max_ready=*/1);
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_OK_AND_ASSIGN(SubscriberId id, manager_->Subscribe("ns", "jobs", 1, sink));
  std::optional<v1::Fire> first = sink->Next();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->fire_id(), "t0@1");  // the oldest: its shard's cursor is past it now

  // Due a second before t0, in t0's shard, handed over while the backlog is on disk.
  const int t0_shard = store_->ShardFor("ns", "t0");
  std::string late_id;
  for (int i = 0; late_id.empty(); ++i) {
    if (store_->ShardFor("ns", absl::StrCat("late", i)) == t0_shard) {
      late_id = absl::StrCat("late", i);
    }
  }
  auto [shard, late] = Pending(late_id, "jobs");
  ASSERT_EQ(shard, t0_shard);
  late.set_visible_at_us(absl::ToUnixMicros(clock_.Now() - absl::Seconds(11)));
  ASSERT_OK(store_->shard(shard)->SubmitAndWait(
      [&r = late](storage::ShardTxn& txn) { return txn.PutDelivery(r); }));
  manager_->OnFires(shard, {late});
  fire_ids.push_back(late.fire().fire_id());

  std::set<std::string> seen = {first->fire_id()};
  manager_->Ack(id, {first->fire_id()});
  ASSERT_NO_FATAL_FAILURE(AckEachUntil(*sink, id, fire_ids.size(), seen));
  for (const std::string& fire_id : fire_ids) EXPECT_TRUE(seen.contains(fire_id)) << fire_id;
  manager_->Unsubscribe(id);
}

// A nack of a fire still on disk and never sent is UNKNOWN; while it is written the fire is
// "known" to scans (a placeholder entry), which may pass it: it must still be delivered.
TEST_F(DeliveryManagerTest, ANackOfABacklogFireNeverSentLeavesItForALaterRefill) {
  const std::vector<std::string> fire_ids = PendingOneMsApart(12, "jobs");
  StartManager(/*max_ready=*/1);
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_OK_AND_ASSIGN(SubscriberId id, manager_->Subscribe("ns", "jobs", 1, sink));
  std::optional<v1::Fire> first = sink->Next();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->fire_id(), "t0@1");
  // t3..t11 wait on disk; nack some of them, then free the subscriber's credit at once so
  // refills run while the nacks are written.
  manager_->Nack(id, {"t3@1", "t6@1", "t9@1"}, std::nullopt);
  manager_->Ack(id, {first->fire_id()});
  for (const char* nacked : {"t3@1", "t6@1", "t9@1"}) {
    EXPECT_EQ(sink->WaitOutcome(nacked), v1::ACK_OUTCOME_UNKNOWN) << nacked;
  }

  std::set<std::string> seen = {first->fire_id()};
  ASSERT_NO_FATAL_FAILURE(AckEachUntil(*sink, id, fire_ids.size(), seen));
  for (const std::string& fire_id : seen) {
    EXPECT_TRUE(sink->WaitOutcomeIs(fire_id, v1::ACK_OUTCOME_ACKED)) << fire_id;
  }
  EXPECT_EQ(StoredDeliveries(), 0u);
  manager_->Unsubscribe(id);
}

// The engine asks MemoryRoom before writing fires, to leave the record out of the queue entry
// of those delivery will keep in memory: it must follow what OnFires does.
TEST_F(DeliveryManagerTest, MemoryRoomIsWhatOnFiresWouldKeep) {
  StartManager(/*max_ready=*/3);
  EXPECT_EQ(manager_->MemoryRoom("ns", "q"), 0u);  // nobody subscribes
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_OK_AND_ASSIGN(SubscriberId id, manager_->Subscribe("ns", "q", 10, sink));
  ASSERT_NO_FATAL_FAILURE(WaitNoBacklog("q"));
  EXPECT_EQ(manager_->MemoryRoom("ns", "q"), 3u);
  EXPECT_EQ(manager_->MemoryRoom("other", "q"), 0u);

  // Fires ahead of their due time stay in memory until then (the fake clock stands still).
  ASSERT_NO_FATAL_FAILURE(FireAhead("a", "q", absl::Seconds(1)));
  ASSERT_NO_FATAL_FAILURE(FireAhead("b", "q", absl::Seconds(1)));
  EXPECT_EQ(manager_->MemoryRoom("ns", "q"), 1u);
  ASSERT_NO_FATAL_FAILURE(FireAhead("c", "q", absl::Seconds(1)));
  EXPECT_EQ(manager_->MemoryRoom("ns", "q"), 0u);
  EXPECT_TRUE(manager_->RoomWillFree("ns", "q"));                  // the engine may hold fires back
  ASSERT_NO_FATAL_FAILURE(FireAhead("d", "q", absl::Seconds(1)));  // overflows to disk
  EXPECT_TRUE(manager_->GetTopicStats("ns", "q")->backlog_on_disk);
  EXPECT_EQ(manager_->MemoryRoom("ns", "q"), 0u);
  EXPECT_FALSE(manager_->RoomWillFree("ns", "q"));  // later fires join the backlog on disk
  manager_->Unsubscribe(id);
}

// The engine takes its shares of a topic's room in several fire transactions at different
// moments, so the unwritten fires it hands over can land past the room. They stay in memory,
// up to twice the room: one sent to disk would turn the topic's whole backlog to disk.
TEST_F(DeliveryManagerTest, UnwrittenFiresPastTheRoomStayInMemoryUpToTwiceIt) {
  StartManager(/*max_ready=*/3);
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_OK_AND_ASSIGN(SubscriberId id, manager_->Subscribe("ns", "q", 1, sink));
  ASSERT_NO_FATAL_FAILURE(WaitNoBacklog("q"));
  std::vector<std::string> fire_ids;
  auto fire_unwritten = [&](int i) {
    auto [shard, record] = Unwritten(absl::StrCat("u", i), "q");
    fire_ids.push_back(record.fire().fire_id());
    manager_->OnFires(shard, {record});
  };
  fire_unwritten(0);
  std::optional<v1::Fire> first = sink->Next();  // the subscriber's one credit
  ASSERT_TRUE(first.has_value());
  for (int i = 1; i <= 6; ++i) fire_unwritten(i);
  EXPECT_EQ(manager_->GetTopicStats("ns", "q")->ready, 6u);
  EXPECT_FALSE(manager_->GetTopicStats("ns", "q")->backlog_on_disk);
  EXPECT_EQ(manager_->MemoryRoom("ns", "q"), 0u);  // the engine still sees no room
  EXPECT_EQ(StoredDeliveries(), 0u);               // nothing went to disk

  fire_unwritten(7);  // past twice the room: to disk, as any fire past the room
  EXPECT_TRUE(manager_->GetTopicStats("ns", "q")->backlog_on_disk);
  EXPECT_EQ(manager_->GetTopicStats("ns", "q")->ready, 6u);

  std::set<std::string> seen = {first->fire_id()};
  manager_->Ack(id, {first->fire_id()});
  ASSERT_NO_FATAL_FAILURE(AckEachUntil(*sink, id, fire_ids.size(), seen));
  for (const std::string& fire_id : fire_ids) EXPECT_TRUE(seen.contains(fire_id)) << fire_id;
  manager_->Unsubscribe(id);
}

// The engine holds back a fire with no room only while its topic has a subscriber to free it.
TEST_F(DeliveryManagerTest, RoomWillFreeOnlyWhileATopicHasSubscribers) {
  StartManager(/*max_ready=*/3);
  EXPECT_FALSE(manager_->RoomWillFree("ns", "q"));
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_OK_AND_ASSIGN(SubscriberId first, manager_->Subscribe("ns", "q", 10, sink));
  ASSERT_OK_AND_ASSIGN(SubscriberId second, manager_->Subscribe("ns", "q", 10, sink));
  ASSERT_NO_FATAL_FAILURE(WaitNoBacklog("q"));  // until its first scan, the disk may hold fires
  EXPECT_TRUE(manager_->RoomWillFree("ns", "q"));
  EXPECT_FALSE(manager_->RoomWillFree("other", "q"));
  EXPECT_FALSE(manager_->RoomWillFree("ns", "other"));
  manager_->Unsubscribe(first);
  EXPECT_TRUE(manager_->RoomWillFree("ns", "q"));
  manager_->Unsubscribe(second);
  EXPECT_FALSE(manager_->RoomWillFree("ns", "q"));
}

TEST_F(DeliveryManagerTest, TheAckOfAnUnwrittenFireEndsItsTimerAndStoresNoDelivery) {
  OutUnwritten out;
  ASSERT_NO_FATAL_FAILURE(SubscribeAndFireUnwritten(&out));
  auto& [sink, id, record] = out;
  std::optional<v1::Fire> fire = sink->Next();
  ASSERT_TRUE(fire.has_value());
  EXPECT_EQ(fire->fire_id(), "u1@0");
  EXPECT_EQ(fire->attempt(), 1u);
  // Reads show the timer fired while its fire is out.
  std::optional<google::protobuf::Timestamp> shown = manager_->UnwrittenFireTime("ns", "q", "u1@0");
  ASSERT_TRUE(shown.has_value());
  EXPECT_EQ(FromProto(*shown), FromProto(record.fire().fire_time()));
  EXPECT_EQ(Stored("u1").timer.state(), v1::TIMER_STATE_SCHEDULED);

  manager_->Ack(id, {"u1@0"});
  EXPECT_EQ(sink->WaitOutcome("u1@0"), v1::ACK_OUTCOME_ACKED);
  const StoredFire stored = Stored("u1");
  EXPECT_EQ(stored.timer.state(), v1::TIMER_STATE_FIRED);  // read as COMPLETED: none pending
  EXPECT_EQ(stored.timer.fire_count(), 1u);
  EXPECT_EQ(stored.timer.version(), 4u);
  EXPECT_FALSE(stored.due_entry);
  EXPECT_FALSE(stored.delivery.has_value());
  EXPECT_FALSE(manager_->UnwrittenFireTime("ns", "q", "u1@0").has_value());
  // The attempt record was dropped with the ack: nothing is written after the hold either.
  clock_.Advance(DeliveryOptions().attempt_record_hold);
  manager_->Unsubscribe(id);
  manager_->Stop();
  EXPECT_EQ(StoredDeliveries(), 0u);
}

TEST_F(DeliveryManagerTest, AnUnwrittenFireUnackedPastTheHoldIsWrittenAsItStands) {
  OutUnwritten out;
  ASSERT_NO_FATAL_FAILURE(SubscribeAndFireUnwritten(&out));
  auto& [sink, id, record] = out;
  std::optional<v1::Fire> fire = sink->Next();
  ASSERT_TRUE(fire.has_value());
  clock_.Advance(DeliveryOptions().attempt_record_hold);
  const StoredFire stored = WaitWritten("u1");
  EXPECT_EQ(stored.timer.state(), v1::TIMER_STATE_FIRED);
  EXPECT_FALSE(stored.due_entry);
  ASSERT_TRUE(stored.delivery.has_value());
  EXPECT_FALSE(stored.delivery->has_unwritten());
  EXPECT_EQ(stored.delivery->fire().attempt(), 1u);
  EXPECT_EQ(stored.delivery->visible_at_us(), absl::ToUnixMicros(FromProto(fire->ack_deadline())));
  // Its ack now deletes the stored delivery, as for any written fire.
  manager_->Ack(id, {"u1@0"});
  EXPECT_EQ(sink->WaitOutcome("u1@0"), v1::ACK_OUTCOME_ACKED);
  EXPECT_FALSE(Stored("u1").delivery.has_value());
  manager_->Unsubscribe(id);
}

TEST_F(DeliveryManagerTest, AResentUnwrittenFireIsWrittenAHoldAfterItsLastSend) {
  OutUnwritten out;
  ASSERT_NO_FATAL_FAILURE(SubscribeAndFireUnwritten(&out));
  auto& [a, a_id, record] = out;
  ASSERT_TRUE(a->Next().has_value());
  const absl::Duration hold = DeliveryOptions().attempt_record_hold;
  // Half a hold later its subscriber leaves; another one, there already, gets it again.
  auto b = std::make_shared<RecordingSink>();
  ASSERT_OK_AND_ASSIGN(SubscriberId b_id, manager_->Subscribe("ns", "q", 10, b));
  clock_.Advance(hold / 2);
  manager_->Unsubscribe(a_id);
  std::optional<v1::Fire> second = b->Next();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->attempt(), 2u);

  // A hold after the first send, the second is still within its own: nothing is written.
  // Two more fires sent to `b` one after the other show the delivery thread passed that time
  // and submitted what that pass queued; a transaction on the timer's shard then comes after.
  clock_.Advance(hold / 2);
  for (const std::string timer_id : {"u2", "u3"}) {
    auto [shard, other] = Unwritten(timer_id, "q");
    manager_->OnFires(shard, {other});
    ASSERT_TRUE(b->Next().has_value());
  }
  ASSERT_OK(store_->shard(store_->ShardFor("ns", "u1"))->SubmitAndWait([](storage::ShardTxn&) {
    return absl::OkStatus();
  }));
  EXPECT_EQ(Stored("u1").timer.state(), v1::TIMER_STATE_SCHEDULED);

  // A hold after the second send, it is written as it stands then: attempt 2.
  clock_.Advance(hold / 2);
  const StoredFire stored = WaitWritten("u1");
  ASSERT_TRUE(stored.delivery.has_value());
  EXPECT_EQ(stored.delivery->fire().attempt(), 2u);
  EXPECT_EQ(stored.delivery->visible_at_us(),
            absl::ToUnixMicros(FromProto(second->ack_deadline())));
  manager_->Unsubscribe(b_id);
}

TEST_F(DeliveryManagerTest, UnwrittenFiresAreWrittenWhenTheyLeaveMemory) {
  StartManager(/*max_ready=*/1);
  // Nobody subscribes to "idle": its fire is written to wait on disk.
  auto [idle_shard, idle] = Unwritten("idle1", "idle");
  manager_->OnFires(idle_shard, {idle});
  EXPECT_EQ(WaitWritten("idle1").delivery->visible_at_us(), idle.visible_at_us());

  auto sink = std::make_shared<RecordingSink>();
  ASSERT_OK_AND_ASSIGN(SubscriberId id, manager_->Subscribe("ns", "q", 1, sink));
  ASSERT_NO_FATAL_FAILURE(WaitNoBacklog("q"));
  auto [s1, sent] = Unwritten("sent", "q");
  manager_->OnFires(s1, {sent});
  ASSERT_TRUE(sink->Next().has_value());  // in flight: the window of 1 is full
  auto [s2, ready] = Unwritten("ready", "q");
  manager_->OnFires(s2, {ready});
  // Past the ready queue's room of 1, an unwritten fire still stays in memory up to twice it
  // (OnFires); past that, it is written at once, to wait on disk.
  auto [s3, over] = Unwritten("over", "q");
  manager_->OnFires(s3, {over});
  auto [s4, beyond] = Unwritten("beyond", "q");
  manager_->OnFires(s4, {beyond});
  EXPECT_TRUE(WaitWritten("beyond").delivery.has_value());
  EXPECT_EQ(Stored("ready").timer.state(), v1::TIMER_STATE_SCHEDULED);
  EXPECT_EQ(Stored("over").timer.state(), v1::TIMER_STATE_SCHEDULED);

  // The last subscriber leaves: what it held and what was ready are written, visible now.
  manager_->Unsubscribe(id);
  for (const std::string timer_id : {"sent", "ready", "over"}) {
    SCOPED_TRACE(timer_id);
    const StoredFire stored = WaitWritten(timer_id);
    EXPECT_EQ(stored.timer.state(), v1::TIMER_STATE_FIRED);
    EXPECT_FALSE(stored.due_entry);
    ASSERT_TRUE(stored.delivery.has_value());
    EXPECT_LE(stored.delivery->visible_at_us(), absl::ToUnixMicros(clock_.Now()));
  }
  // A new subscriber gets all four from disk, the one sent before as its second attempt.
  auto next = std::make_shared<RecordingSink>();
  ASSERT_OK_AND_ASSIGN(SubscriberId next_id, manager_->Subscribe("ns", "q", 10, next));
  std::map<std::string, uint32_t> attempts;
  for (int i = 0; i < 4; ++i) {
    std::optional<v1::Fire> fire = next->Next();
    ASSERT_TRUE(fire.has_value());
    attempts[fire->timer_id()] = fire->attempt();
  }
  EXPECT_EQ(attempts, (std::map<std::string, uint32_t>{
                          {"beyond", 1}, {"over", 1}, {"ready", 1}, {"sent", 2}}));
  manager_->Unsubscribe(next_id);
}

// Until its write lands, an unwritten fire that left memory still reads as fired (the
// engine's reads ask UnwrittenFireTime); its stored timer says SCHEDULED until then. A
// `chime get` right after the last `watch` of a topic exited read SCHEDULED (a CI flake).
TEST_F(DeliveryManagerTest, AnUnwrittenFireThatLeftMemoryReadsFiredUntilItsWriteLands) {
  OutUnwritten out;
  ASSERT_NO_FATAL_FAILURE(SubscribeAndFireUnwritten(&out));
  auto& [sink, id, record] = out;
  ASSERT_TRUE(sink->Next().has_value());
  auto [idle_shard, idle] = Unwritten("idle1", "idle");  // a topic nobody subscribes to
  // The shards' writers wait, so the fires' writes stay queued behind them.
  absl::Notification release;
  std::vector<std::unique_ptr<absl::Notification>> busy;
  for (int shard : std::set<int>{store_->ShardFor("ns", "u1"), idle_shard}) {
    busy.push_back(std::make_unique<absl::Notification>());
    store_->shard(shard)->Submit(
        [&release, started = busy.back().get()](storage::ShardTxn&) {
          started->Notify();
          release.WaitForNotification();
          return absl::OkStatus();
        },
        [](absl::Status) {});
  }
  for (auto& started : busy) started->WaitForNotification();
  // A failed assertion below must not leave the writers waiting (TearDown waits for them).
  absl::Cleanup release_on_exit = [&release] {
    if (!release.HasBeenNotified()) release.Notify();
  };

  manager_->Unsubscribe(id);              // its topic leaves memory, the fire's write waits
  manager_->OnFires(idle_shard, {idle});  // goes to wait on disk, the write waits
  for (const auto& [timer_id, topic, fired] :
       {std::tuple{"u1", "q", record}, std::tuple{"idle1", "idle", idle}}) {
    SCOPED_TRACE(timer_id);
    EXPECT_EQ(Stored(timer_id).timer.state(), v1::TIMER_STATE_SCHEDULED);
    std::optional<google::protobuf::Timestamp> fire_time =
        manager_->UnwrittenFireTime("ns", topic, fired.fire().fire_id());
    ASSERT_TRUE(fire_time.has_value());
    EXPECT_EQ(FromProto(*fire_time), FromProto(fired.fire().fire_time()));
  }

  release.Notify();
  for (const auto& [timer_id, topic, fire_id] :
       {std::tuple{"u1", "q", "u1@0"}, std::tuple{"idle1", "idle", "idle1@0"}}) {
    SCOPED_TRACE(timer_id);
    EXPECT_EQ(WaitWritten(timer_id).timer.state(), v1::TIMER_STATE_FIRED);
    // Forgotten once written (the write's completion runs right after it lands).
    const absl::Time limit = absl::Now() + absl::Seconds(30);
    while (absl::Now() < limit && manager_->UnwrittenFireTime("ns", topic, fire_id).has_value()) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    EXPECT_FALSE(manager_->UnwrittenFireTime("ns", topic, fire_id).has_value());
  }
}

TEST_F(DeliveryManagerTest, ANackOfAnUnwrittenFireWritesItFirst) {
  OutUnwritten out;
  ASSERT_NO_FATAL_FAILURE(SubscribeAndFireUnwritten(&out));
  auto& [sink, id, record] = out;
  ASSERT_TRUE(sink->Next().has_value());
  manager_->Nack(id, {"u1@0"}, absl::Minutes(1));
  EXPECT_EQ(sink->WaitOutcome("u1@0"), v1::ACK_OUTCOME_NACKED);
  const StoredFire stored = Stored("u1");
  EXPECT_EQ(stored.timer.state(), v1::TIMER_STATE_FIRED);
  ASSERT_TRUE(stored.delivery.has_value());
  EXPECT_EQ(stored.delivery->visible_at_us(), absl::ToUnixMicros(clock_.Now() + absl::Minutes(1)));
  EXPECT_EQ(stored.delivery->fire().attempt(), 1u);
  // Sent again after the delay, from disk.
  clock_.Advance(absl::Minutes(1));
  std::optional<v1::Fire> again = sink->Next();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->fire_id(), "u1@0");
  EXPECT_EQ(again->attempt(), 2u);
  manager_->Unsubscribe(id);
}

TEST_F(DeliveryManagerTest, NobodySubscribedKeepsNothingInMemory) {
  StartManager(/*max_ready=*/100);
  std::vector<DeliveryRecord> fires;
  for (int i = 0; i < 10; ++i) fires.push_back(Pending(absl::StrCat("t", i), "idle").second);
  manager_->OnFires(0, fires);
  EXPECT_FALSE(manager_->GetTopicStats("ns", "idle").has_value());
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_OK_AND_ASSIGN(SubscriberId id, manager_->Subscribe("ns", "idle", 100, sink));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(sink->Next().has_value());
  manager_->Unsubscribe(id);
}

TEST_F(DeliveryManagerTest, DeadlineAndDisconnectRedeliverWithTheNextAttempt) {
  Pending("t1", "q");
  StartManager(/*max_ready=*/100);
  auto a = std::make_shared<RecordingSink>();
  ASSERT_OK_AND_ASSIGN(SubscriberId a_id, manager_->Subscribe("ns", "q", 1, a));
  std::optional<v1::Fire> first = a->Next();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->attempt(), 1u);
  EXPECT_EQ(FromProto(first->ack_deadline()), clock_.Now() + absl::Seconds(30));

  clock_.Advance(absl::Seconds(30));
  WaitInFlight("q", 0);
  clock_.Advance(absl::Seconds(1));  // the first backoff is the minimum, 1 s
  std::optional<v1::Fire> second = a->Next();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->fire_id(), first->fire_id());
  EXPECT_EQ(second->attempt(), 2u);

  // A second subscriber gets it at once when the first leaves.
  auto b = std::make_shared<RecordingSink>();
  ASSERT_OK_AND_ASSIGN(SubscriberId b_id, manager_->Subscribe("ns", "q", 1, b));
  manager_->Unsubscribe(a_id);
  std::optional<v1::Fire> third = b->Next();
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->attempt(), 3u);
  EXPECT_EQ(a->received(), 2u);
  // Only the first attempt counts for the send lateness (sent as soon as subscribed: 0).
  EXPECT_EQ(SendLateness(), std::make_pair(uint64_t{1}, 0.0));

  // The attempt was persisted (the manager's writes are flushed by Stop).
  manager_->Unsubscribe(b_id);
  manager_->Stop();
  ASSERT_OK_AND_ASSIGN(auto stored,
                       store_->shard(store_->ShardFor("ns", "t1"))->GetDelivery("ns", "t1@1"));
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->fire().attempt(), 3u);
  // Released on unsubscribe: visible again now, not at the old deadline.
  EXPECT_EQ(stored->visible_at_us(), absl::ToUnixMicros(clock_.Now()));
}

TEST_F(DeliveryManagerTest, AnAckedOrResentAttemptsDeadlineExpiresNothing) {
  for (const char* t : {"t1", "t2", "t3"}) Pending(t, "q");
  StartManager(/*max_ready=*/100);
  auto a = std::make_shared<RecordingSink>();
  ASSERT_OK_AND_ASSIGN(SubscriberId id, manager_->Subscribe("ns", "q", 10, a));
  ASSERT_NO_FATAL_FAILURE(WaitReceived({a.get()}, 3));
  const absl::Time first_deadline = clock_.Now() + absl::Seconds(30);
  manager_->Ack(id, {"t1@1", "t2@1"});
  EXPECT_EQ(a->WaitOutcome("t2@1"), v1::ACK_OUTCOME_ACKED);
  // t3's second attempt has a later deadline than its first.
  clock_.Advance(absl::Seconds(10));
  manager_->Nack(id, {"t3@1"}, absl::ZeroDuration());
  ASSERT_NO_FATAL_FAILURE(WaitReceived({a.get()}, 4));

  // The first attempts' deadlines pass: nothing of them expires. A fire handed over after
  // that is sent in a pass that handled them, so the stats then tell.
  clock_.Advance(first_deadline - clock_.Now());
  ASSERT_NO_FATAL_FAILURE(FireAhead("t4", "q", absl::ZeroDuration()));
  ASSERT_NO_FATAL_FAILURE(WaitReceived({a.get()}, 5));
  EXPECT_EQ(manager_->GetTopicStats("ns", "q")->in_flight, 2u);  // t3 (attempt 2), t4

  // t3's second attempt expires at its own deadline, and goes out again after the backoff.
  clock_.Advance(absl::Seconds(10));
  ASSERT_NO_FATAL_FAILURE(WaitInFlight("q", 1));  // t4 was sent 10 s later
  clock_.Advance(absl::Seconds(2));               // the backoff after 2 attempts: 1-2 s
  ASSERT_NO_FATAL_FAILURE(WaitReceived({a.get()}, 6));
  std::optional<v1::Fire> f;
  for (int i = 0; i < 6; ++i) f = a->Next();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->fire_id(), "t3@1");
  EXPECT_EQ(f->attempt(), 3u);
}

TEST_F(DeliveryManagerTest, SendsInFlightStillExpireOnceManyAckedAreDropped) {
  // More acked sends than the deadline heap keeps before it drops them (2 per fire in memory
  // plus 1024): the unacked ones must survive the drop.
  constexpr int kFires = 1500;
  constexpr int kUnacked = 100;
  for (int i = 0; i < kFires; ++i) Pending(absl::StrCat("t", i), "q");
  StartManager(/*max_ready=*/2000);
  auto a = std::make_shared<RecordingSink>();
  ASSERT_OK_AND_ASSIGN(SubscriberId id, manager_->Subscribe("ns", "q", 2000, a));
  ASSERT_NO_FATAL_FAILURE(WaitReceived({a.get()}, kFires));
  std::vector<std::string> acked;
  std::set<std::string> unacked;
  for (int i = 0; i < kFires; ++i) {
    std::optional<v1::Fire> f = a->Next();
    ASSERT_TRUE(f.has_value());
    if (i < kFires - kUnacked) {
      acked.push_back(f->fire_id());
    } else {
      unacked.insert(f->fire_id());
    }
  }
  manager_->Ack(id, acked);
  EXPECT_EQ(a->WaitOutcome(acked.back()), v1::ACK_OUTCOME_ACKED);
  ASSERT_NO_FATAL_FAILURE(WaitInFlight("q", kUnacked));

  clock_.Advance(absl::Seconds(30));
  ASSERT_NO_FATAL_FAILURE(WaitInFlight("q", 0));
  clock_.Advance(absl::Seconds(1));
  ASSERT_NO_FATAL_FAILURE(WaitReceived({a.get()}, kFires + kUnacked));
  for (int i = 0; i < kUnacked; ++i) {
    std::optional<v1::Fire> f = a->Next();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->attempt(), 2u);
    EXPECT_EQ(unacked.erase(f->fire_id()), 1u) << f->fire_id();
  }
}

TEST_F(DeliveryManagerTest, AFireCarryingItsPolicyNeedsNoTimerRecord) {
  // The engine copies the timer's policy into the fire: no timer record exists here, so the
  // 7 s ack deadline can only come from the record handed over (and stored).
  auto [shard, record] = Pending("t1", "q");
  record.mutable_policy()->mutable_ack_deadline()->set_seconds(7);
  ASSERT_OK(store_->shard(shard)->SubmitAndWait(
      [&r = record](storage::ShardTxn& txn) { return txn.PutDelivery(r); }));
  StartManager(/*max_ready=*/100);
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_OK_AND_ASSIGN(SubscriberId id, manager_->Subscribe("ns", "q", 1, sink));
  manager_->OnFires(shard, {record});
  std::optional<v1::Fire> first = sink->Next();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(FromProto(first->ack_deadline()), clock_.Now() + absl::Seconds(7));

  // Redelivered after those 7 s (plus the 1 s minimum backoff), with the same policy.
  clock_.Advance(absl::Seconds(7));
  WaitInFlight("q", 0);
  clock_.Advance(absl::Seconds(1));
  std::optional<v1::Fire> second = sink->Next();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->attempt(), 2u);
  EXPECT_EQ(FromProto(second->ack_deadline()), clock_.Now() + absl::Seconds(7));
  manager_->Ack(id, {second->fire_id()});
  EXPECT_EQ(sink->WaitOutcome(second->fire_id()), v1::ACK_OUTCOME_ACKED);
}

TEST_F(DeliveryManagerTest, AnAttemptRecordIsWrittenAfterTheHoldUnlessAckedFirst) {
  Pending("t1", "q");
  Pending("t2", "q");
  StartManager(/*max_ready=*/100);
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_OK_AND_ASSIGN(SubscriberId id, manager_->Subscribe("ns", "q", 2, sink));
  std::map<std::string, v1::Fire> sent;
  for (int i = 0; i < 2; ++i) {
    std::optional<v1::Fire> fire = sink->Next();
    ASSERT_TRUE(fire.has_value());
    sent[fire->timer_id()] = *fire;
  }
  // Held: the fake clock has not moved, so neither attempt record is written yet.
  EXPECT_EQ(StoredDelivery("t2", /*dead=*/false)->fire().attempt(), 0u);
  manager_->Ack(id, {sent["t1"].fire_id()});
  EXPECT_EQ(sink->WaitOutcome(sent["t1"].fire_id()), v1::ACK_OUTCOME_ACKED);
  EXPECT_FALSE(StoredDelivery("t1", /*dead=*/false).has_value());

  clock_.Advance(DeliveryOptions().attempt_record_hold);
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  std::optional<DeliveryRecord> stored;
  while (absl::Now() < limit) {
    stored = StoredDelivery("t2", /*dead=*/false);
    if (stored.has_value() && stored->fire().attempt() == 1) break;
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->fire().attempt(), 1u);
  EXPECT_EQ(stored->visible_at_us(), absl::ToUnixMicros(FromProto(sent["t2"].ack_deadline())));
  EXPECT_FALSE(StoredDelivery("t1", /*dead=*/false).has_value());
}

TEST_F(DeliveryManagerTest, ANackWritesTheHeldAttemptRecordFirst) {
  Pending("t1", "q");
  StartManager(/*max_ready=*/100);
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_OK_AND_ASSIGN(SubscriberId id, manager_->Subscribe("ns", "q", 1, sink));
  std::optional<v1::Fire> fire = sink->Next();
  ASSERT_TRUE(fire.has_value());
  manager_->Nack(id, {fire->fire_id()}, absl::Seconds(10));
  EXPECT_EQ(sink->WaitOutcome(fire->fire_id()), v1::ACK_OUTCOME_NACKED);
  // Without the attempt, a fire nacked forever would never reach its last attempt.
  std::optional<DeliveryRecord> stored = StoredDelivery("t1", /*dead=*/false);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->fire().attempt(), 1u);
  EXPECT_EQ(stored->visible_at_us(), absl::ToUnixMicros(clock_.Now() + absl::Seconds(10)));
}

TEST_F(DeliveryManagerTest, AFireCommittedAheadOfTimeIsSentAtItsDueTime) {
  StartManager(/*max_ready=*/100);
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_OK_AND_ASSIGN(SubscriberId id, manager_->Subscribe("ns", "q", 10, sink));
  ASSERT_NO_FATAL_FAILURE(WaitNoBacklog("q"));
  ASSERT_NO_FATAL_FAILURE(FireAhead("t1", "q", absl::Milliseconds(5)));
  EXPECT_EQ(manager_->GetTopicStats("ns", "q")->ready, 1u);  // held in memory
  clock_.Advance(absl::Milliseconds(4));
  EXPECT_EQ(sink->received(), 0u);  // not before its due time
  clock_.Advance(absl::Milliseconds(3));
  std::optional<v1::Fire> fire = sink->Next();
  ASSERT_TRUE(fire.has_value());
  EXPECT_EQ(fire->fire_id(), "t1@1");
  EXPECT_EQ(fire->attempt(), 1u);
  // Sent 2 ms after its due time, though committed 5 ms before it.
  const auto [sent, lateness_s] = SendLateness();
  EXPECT_EQ(sent, 1u);
  EXPECT_NEAR(lateness_s, 0.002, 1e-9);
  manager_->Ack(id, {fire->fire_id()});
  EXPECT_EQ(sink->WaitOutcome(fire->fire_id()), v1::ACK_OUTCOME_ACKED);
}

// Each message is a write on the server and a read on the client: fires due together go to
// one subscriber in one send, and the next such group to the next subscriber.
TEST_F(DeliveryManagerTest, FiresDueTogetherGoToOneSubscriberInOneSend) {
  StartManager(/*max_ready=*/100);
  std::shared_ptr<RecordingSink> a, b;
  ASSERT_NO_FATAL_FAILURE(SubscribeTwo(10, a, b));
  for (int group = 0; group < 2; ++group) {
    for (int i = 0; i < 5; ++i) {
      ASSERT_NO_FATAL_FAILURE(
          FireAhead(absl::StrCat("g", group, "t", i), "q", absl::Milliseconds(5)));
    }
    ASSERT_EQ(manager_->GetTopicStats("ns", "q")->ready, 5u);
    clock_.Advance(absl::Milliseconds(6));
    ASSERT_NO_FATAL_FAILURE(WaitReceived({a.get(), b.get()}, 5 * (group + 1)));
  }
  EXPECT_EQ(a->received(), 5u);
  EXPECT_EQ(b->received(), 5u);
  EXPECT_EQ(a->sends(), 1u);
  EXPECT_EQ(b->sends(), 1u);
}

// A large group is still shared evenly.
TEST_F(DeliveryManagerTest, ManyFiresDueTogetherAreSplitEvenly) {
  StartManager(/*max_ready=*/1000);
  std::shared_ptr<RecordingSink> a, b;
  ASSERT_NO_FATAL_FAILURE(SubscribeTwo(1000, a, b));
  for (int i = 0; i < 300; ++i) {
    ASSERT_NO_FATAL_FAILURE(FireAhead(absl::StrCat("t", i), "q", absl::Milliseconds(5)));
  }
  clock_.Advance(absl::Milliseconds(6));
  ASSERT_NO_FATAL_FAILURE(WaitReceived({a.get(), b.get()}, 300));
  EXPECT_EQ(a->received(), 150u);
  EXPECT_EQ(b->received(), 150u);
}

// Fire ids are predictable; a nack of a fire nobody was sent must not make it visible before
// its due time.
TEST_F(DeliveryManagerTest, ANackOfAFireNotYetSentChangesNothing) {
  StartManager(/*max_ready=*/100);
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_OK_AND_ASSIGN(SubscriberId id, manager_->Subscribe("ns", "q", 10, sink));
  ASSERT_NO_FATAL_FAILURE(WaitNoBacklog("q"));
  const absl::Time due = clock_.Now() + absl::Milliseconds(5);
  ASSERT_NO_FATAL_FAILURE(FireAhead("t1", "q", absl::Milliseconds(5)));

  manager_->Nack(id, {"t1@1"}, std::nullopt);
  EXPECT_EQ(sink->WaitOutcome("t1@1"), v1::ACK_OUTCOME_UNKNOWN);
  EXPECT_EQ(sink->received(), 0u);
  ASSERT_OK_AND_ASSIGN(auto stored,
                       store_->shard(store_->ShardFor("ns", "t1"))->GetDelivery("ns", "t1@1"));
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->visible_at_us(), absl::ToUnixMicros(due));

  // Still sent, once, at its due time.
  clock_.Advance(absl::Milliseconds(4));
  EXPECT_EQ(sink->received(), 0u);
  clock_.Advance(absl::Milliseconds(1));
  std::optional<v1::Fire> fire = sink->Next();
  ASSERT_TRUE(fire.has_value());
  EXPECT_EQ(fire->fire_id(), "t1@1");
  EXPECT_EQ(fire->attempt(), 1u);
  EXPECT_EQ(sink->received(), 1u);
}

TEST_F(DeliveryManagerTest, ExpiredAttemptsBackOffExponentiallyThenDeadLetter) {
  Pending("t1", "q");
  StartManager(/*max_ready=*/100, /*max_attempts=*/3);
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_OK_AND_ASSIGN(SubscriberId id, manager_->Subscribe("ns", "q", 1, sink));
  ASSERT_TRUE(sink->Next().has_value());

  // Attempt 1 expires: backoff exactly the 1 s minimum, persisted as visible_at.
  clock_.Advance(absl::Seconds(30));
  WaitInFlight("q", 0);
  const absl::Time expired1 = clock_.Now();
  clock_.Advance(absl::Milliseconds(999));
  EXPECT_EQ(sink->received(), 1u);  // not before the backoff
  clock_.Advance(absl::Milliseconds(1));
  std::optional<v1::Fire> second = sink->Next();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->attempt(), 2u);
  EXPECT_EQ(clock_.Now(), expired1 + absl::Seconds(1));

  // Attempt 2 expires: backoff drawn in [1 s, 2 s] (cap doubles); stored before it is due.
  clock_.Advance(absl::Seconds(30));
  WaitInFlight("q", 0);
  const absl::Time expired2 = clock_.Now();
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  int64_t visible_us = 0;
  while (absl::Now() < limit) {
    std::optional<DeliveryRecord> r = StoredDelivery("t1", /*dead=*/false);
    ASSERT_TRUE(r.has_value());
    // The send of attempt 2 stored visible_at = its deadline = expired2; the backoff write
    // that follows the expiry moves it at least 1 s later.
    if (r->visible_at_us() > absl::ToUnixMicros(expired2)) {
      visible_us = r->visible_at_us();
      break;
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_GE(visible_us, absl::ToUnixMicros(expired2 + absl::Seconds(1)));
  EXPECT_LE(visible_us, absl::ToUnixMicros(expired2 + absl::Seconds(2)));
  clock_.Advance(absl::Seconds(2));
  std::optional<v1::Fire> third = sink->Next();
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->attempt(), 3u);

  // The last attempt expires: dead-lettered in one transaction, never sent again.
  clock_.Advance(absl::Seconds(30));
  WaitInFlight("q", 0);
  const absl::Time dl_limit = absl::Now() + absl::Seconds(30);
  while (StoredDelivery("t1", /*dead=*/false).has_value() && absl::Now() < dl_limit) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_FALSE(StoredDelivery("t1", /*dead=*/false).has_value());
  std::optional<DeliveryRecord> dead = StoredDelivery("t1", /*dead=*/true);
  ASSERT_TRUE(dead.has_value());
  EXPECT_EQ(dead->fire().attempt(), 3u);
  EXPECT_EQ(dead->last_error(), "ack deadline exceeded after 3 attempts");
  clock_.Advance(absl::Minutes(10));
  EXPECT_EQ(sink->received(), 3u);
  // A late ack of the dead-lettered fire is harmless.
  manager_->Ack(id, {third->fire_id()});
  EXPECT_EQ(sink->WaitOutcome(third->fire_id()), v1::ACK_OUTCOME_UNKNOWN);
  manager_->Unsubscribe(id);
}

TEST_F(DeliveryManagerTest, AttemptsUsedUpBeforeARestartDeadLetterWithoutASend) {
  // As a crash leaves it: attempt 2 of 2 sent, its deadline passed, nacked by the last one.
  DeliveryRecord record = Pending("t1", "q").second;
  record.mutable_fire()->set_attempt(2);
  record.set_last_error("nacked");
  ASSERT_OK(store_->shard(store_->ShardFor("ns", "t1"))->SubmitAndWait([&](storage::ShardTxn& txn) {
    return txn.PutDelivery(record);
  }));
  StartManager(/*max_ready=*/100, /*max_attempts=*/2);
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_OK_AND_ASSIGN(SubscriberId id, manager_->Subscribe("ns", "q", 5, sink));
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  while (!StoredDelivery("t1", /*dead=*/true).has_value() && absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  std::optional<DeliveryRecord> dead = StoredDelivery("t1", /*dead=*/true);
  ASSERT_TRUE(dead.has_value());
  EXPECT_EQ(dead->last_error(), "nacked (2 attempts)");
  EXPECT_FALSE(StoredDelivery("t1", /*dead=*/false).has_value());
  EXPECT_EQ(sink->received(), 0u);
  manager_->Unsubscribe(id);
}

TEST_F(DeliveryManagerTest, DeadLettersAreListedReplayedAndPurged) {
  for (const char* id : {"a", "b", "c"}) {
    DeliveryRecord record = Pending(id, std::string(id) == "c" ? "other" : "q").second;
    record.mutable_fire()->set_attempt(1);
    ASSERT_OK(store_->shard(store_->ShardFor("ns", id))->SubmitAndWait([&](storage::ShardTxn& txn) {
      return txn.PutDelivery(record);
    }));
  }
  StartManager(/*max_ready=*/100, /*max_attempts=*/1);
  auto sink = std::make_shared<RecordingSink>();
  auto other = std::make_shared<RecordingSink>();
  ASSERT_OK_AND_ASSIGN(SubscriberId id, manager_->Subscribe("ns", "q", 5, sink));
  ASSERT_OK_AND_ASSIGN(SubscriberId other_id, manager_->Subscribe("ns", "other", 5, other));
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  v1::ListDeadLettersRequest all;
  all.set_namespace_("ns");
  while (absl::Now() < limit) {
    ASSERT_OK_AND_ASSIGN(v1::ListDeadLettersResponse page, manager_->ListDeadLetters(all));
    if (page.dead_letters_size() == 3) break;
    absl::SleepFor(absl::Milliseconds(1));
  }
  // Paged in fire_id order, with a topic filter.
  v1::ListDeadLettersRequest req = all;
  req.set_page_size(2);
  ASSERT_OK_AND_ASSIGN(v1::ListDeadLettersResponse first, manager_->ListDeadLetters(req));
  ASSERT_EQ(first.dead_letters_size(), 2);
  EXPECT_EQ(first.dead_letters(0).fire().fire_id(), "a@1");
  EXPECT_EQ(first.dead_letters(1).fire().fire_id(), "b@1");
  EXPECT_EQ(first.dead_letters(0).last_error(), "ack deadline exceeded after 1 attempts");
  req.set_page_token(first.next_page_token());
  ASSERT_OK_AND_ASSIGN(v1::ListDeadLettersResponse second, manager_->ListDeadLetters(req));
  ASSERT_EQ(second.dead_letters_size(), 1);
  EXPECT_EQ(second.dead_letters(0).fire().fire_id(), "c@1");
  EXPECT_TRUE(second.next_page_token().empty());
  req = all;
  req.set_topic("other");
  ASSERT_OK_AND_ASSIGN(v1::ListDeadLettersResponse filtered, manager_->ListDeadLetters(req));
  ASSERT_EQ(filtered.dead_letters_size(), 1);
  EXPECT_EQ(filtered.dead_letters(0).fire().timer_id(), "c");

  // Replay: pending again, attempt reset, delivered now to the topic's subscriber.
  ASSERT_OK_AND_ASSIGN(v1::DeadLetter replayed, manager_->ReplayDeadLetter("ns", "a@1"));
  EXPECT_EQ(replayed.fire().attempt(), 0u);
  std::optional<v1::Fire> again = sink->Next();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->fire_id(), "a@1");
  EXPECT_EQ(again->attempt(), 1u);
  manager_->Ack(id, {"a@1"});
  EXPECT_EQ(sink->WaitOutcome("a@1"), v1::ACK_OUTCOME_ACKED);
  EXPECT_THAT(manager_->ReplayDeadLetter("ns", "a@1"),
              testing::StatusIs(absl::StatusCode::kNotFound));

  // Purge: gone for good.
  ASSERT_OK(manager_->PurgeDeadLetter("ns", "b@1").status());
  EXPECT_THAT(manager_->PurgeDeadLetter("ns", "b@1"),
              testing::StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(manager_->PurgeDeadLetter("ns", "not-a-fire-id"),
              testing::StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK_AND_ASSIGN(v1::ListDeadLettersResponse rest, manager_->ListDeadLetters(all));
  ASSERT_EQ(rest.dead_letters_size(), 1);
  EXPECT_EQ(rest.dead_letters(0).fire().fire_id(), "c@1");
  manager_->Unsubscribe(id);
  manager_->Unsubscribe(other_id);
}

TEST_F(DeliveryManagerTest, AcksOfUnknownMalformedAndOtherTopicsFiresAreUnknown) {
  Pending("other", "elsewhere");
  StartManager(/*max_ready=*/100);
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_OK_AND_ASSIGN(SubscriberId id, manager_->Subscribe("ns", "mine", 10, sink));
  manager_->Ack(id, {"nope@1", "garbage", "other@1"});
  EXPECT_EQ(sink->WaitOutcome("nope@1"), v1::ACK_OUTCOME_UNKNOWN);
  EXPECT_EQ(sink->WaitOutcome("garbage"), v1::ACK_OUTCOME_UNKNOWN);
  EXPECT_EQ(sink->WaitOutcome("other@1"), v1::ACK_OUTCOME_UNKNOWN);
  EXPECT_EQ(StoredDeliveries(), 1u);  // the other topic's fire is untouched
  manager_->Unsubscribe(id);
}

TEST_F(DeliveryManagerTest, CloseAllEndsStreamsAndRefusesNewOnes) {
  StartManager(/*max_ready=*/100);
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_OK(manager_->Subscribe("ns", "t", 10, sink).status());
  manager_->CloseAll(absl::UnavailableError("server shutting down, reconnect"));
  EXPECT_FALSE(manager_->GetTopicStats("ns", "t").has_value());
  EXPECT_THAT(manager_->Subscribe("ns", "t", 10, sink),
              testing::StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace chime::delivery
