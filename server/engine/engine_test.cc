// Engine tests on a fake clock over a real store (RocksDB in a temp dir, fsync off). Nothing
// sleeps to let time pass: the test moves the clock and waits for the fires it expects.
#include "server/engine/engine.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/fake_clock.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/engine/shard_engine.h"
#include "server/engine/timer_heap.h"
#include "storage/key_codec.h"
#include "storage/store.h"
#include "tests/testing/gated_wal_sync_fs.h"
#include "tests/testing/raw_rocksdb.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace chime::engine {
namespace {

using ::chime::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr absl::Duration kWaitBound = absl::Seconds(60);  // real time; generous
const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

// Records every fire; lets a test wait for a number of them.
class RecordingListener : public FireListener {
 public:
  void OnFires(int shard, std::vector<internal::DeliveryRecord> fires) override {
    absl::MutexLock lock(&mu_);
    batch_sizes_.push_back(fires.size());
    for (auto& fire : fires) {
      shards_.push_back(shard);
      fires_.push_back(std::move(fire));
    }
  }

  // True once at least n fires arrived (false after kWaitBound of real time).
  bool WaitForCount(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return fires_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kWaitBound);
  }
  // The same, waiting `bound` at most: for fires that must not come.
  bool WaitForCountWithin(size_t n, absl::Duration bound) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return fires_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), bound);
  }
  size_t count() const {
    absl::MutexLock lock(&mu_);
    return fires_.size();
  }
  std::vector<v1::Fire> fires() const {
    absl::MutexLock lock(&mu_);
    std::vector<v1::Fire> out;
    for (const auto& d : fires_) out.push_back(d.fire());
    return out;
  }
  std::vector<internal::DeliveryRecord> records() const {
    absl::MutexLock lock(&mu_);
    return fires_;
  }
  // What MemoryRoom answers for `topic` (0 for the others, as for topics nobody subscribes).
  void SetMemoryRoom(const std::string& topic, size_t room) {
    absl::MutexLock lock(&mu_);
    room_[topic] = room;
  }
  size_t MemoryRoom(const std::string& /*ns*/, const std::string& topic) override {
    absl::MutexLock lock(&mu_);
    auto it = room_.find(topic);
    return it != room_.end() ? it->second : 0;
  }
  // Whether RoomWillFree answers true for `topic` (false for the others).
  void SetSubscribed(const std::string& topic, bool subscribed) {
    absl::MutexLock lock(&mu_);
    subscribed_[topic] = subscribed;
  }
  bool RoomWillFree(const std::string& /*ns*/, const std::string& topic) override {
    absl::MutexLock lock(&mu_);
    auto it = subscribed_.find(topic);
    return it != subscribed_.end() && it->second;
  }
  // Runs once, the next time the engine asks UnwrittenFireTime, which answers nothing (as for
  // a fire whose write landed and was forgotten): a test lands that write just then.
  void SetOnUnwrittenFireTime(std::function<void()> hook) {
    absl::MutexLock lock(&mu_);
    on_unwritten_fire_time_ = std::move(hook);
  }
  std::optional<google::protobuf::Timestamp> UnwrittenFireTime(
      const std::string& /*ns*/, const std::string& /*topic*/,
      const std::string& /*fire_id*/) override {
    std::function<void()> hook;
    {
      absl::MutexLock lock(&mu_);
      hook = std::exchange(on_unwritten_fire_time_, nullptr);
    }
    if (hook) hook();
    return std::nullopt;
  }
  // The number of fires in each OnFires call (one per fire transaction), in order.
  std::vector<size_t> batch_sizes() const {
    absl::MutexLock lock(&mu_);
    return batch_sizes_;
  }
  std::map<std::string, int> CountByTimer() const {
    absl::MutexLock lock(&mu_);
    std::map<std::string, int> out;
    for (const auto& d : fires_) ++out[d.fire().timer_id()];
    return out;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<internal::DeliveryRecord> fires_ ABSL_GUARDED_BY(mu_);
  std::vector<int> shards_ ABSL_GUARDED_BY(mu_);
  std::vector<size_t> batch_sizes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, size_t> room_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, bool> subscribed_ ABSL_GUARDED_BY(mu_);
  std::function<void()> on_unwritten_fire_time_ ABSL_GUARDED_BY(mu_);
};

// The flush and compaction lines of every RocksDB LOG under `dir`: what ran, and why, when a
// test finds a record filtered earlier than it expected.
std::string FlushAndCompactionLog(const std::string& dir) {
  std::string out;
  for (const auto& file : std::filesystem::recursive_directory_iterator(dir)) {
    if (file.path().filename() != "LOG") continue;
    absl::StrAppend(&out, "== ", file.path().string(), "\n");
    std::ifstream in(file.path());
    for (std::string line; std::getline(in, line);) {
      // The settings, printed at each open, name flushes and compactions too.
      if (absl::StrContains(line, "Options.") || absl::StrContains(line, "options:")) continue;
      if (absl::StrContains(line, "ompact") || absl::StrContains(line, "lush")) {
        absl::StrAppend(&out, line, "\n");
      }
    }
  }
  return out;
}

// Polls `pred` (for state with no event to wait on, e.g. the heap after a window load).
template <typename Pred>
bool Eventually(Pred pred) {
  const absl::Time deadline = absl::Now() + kWaitBound;
  while (!pred()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

CreateSpec OneShot(std::string id, absl::Time at, std::string topic = "demo",
                   uint64_t fingerprint = 0) {
  CreateSpec spec;
  spec.timer.set_namespace_("default");
  spec.timer.set_timer_id(std::move(id));
  *spec.timer.mutable_schedule()->mutable_fire_at() = ToProtoTimestamp(at);
  spec.timer.mutable_target()->set_topic(std::move(topic));
  spec.request_fingerprint = fingerprint;
  return spec;
}

class EngineTest : public ::testing::Test {
 protected:
  // sync_gate: the store syncs its WAL (fsync on) through a file system whose syncs can be
  // held; otherwise fsync is off.
  void Open(int shards = 1, EngineOptions options = {}, bool sync_gate = false) {
    storage::StoreOptions store_options;
    store_options.data_dir = dir_.path();
    store_options.shard_count = shards;
    store_options.fsync = sync_gate;
    if (sync_gate) {
      gated_fs_ = std::make_shared<chime::testing::GatedWalSyncFs>();
      gated_env_ = chime::testing::NewEnvOn(gated_fs_);
      store_options.env = gated_env_.get();
    }
    store_options.retention.retention = options.retention;
    store_options.retention.clock = &clock_;
    store_options.retention.resolve_completion = [](const storage::ShardStore& shard,
                                                    internal::TimerRecord& record) {
      return ResolveCompletion(shard, record);
    };
    auto store = storage::Store::Open(store_options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    options.clock = &clock_;
    auto engine = Engine::Start(store_.get(), options, &listener_);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
  }
  void Close() {
    engine_.reset();
    store_.reset();
  }
  void TearDown() override { Close(); }

  absl::StatusOr<CreateResult> Create(CreateSpec spec) {
    absl::Notification done;
    absl::StatusOr<CreateResult> result = absl::UnknownError("no callback");
    engine_->Create(std::move(spec), [&](absl::StatusOr<CreateResult> r) {
      result = std::move(r);
      done.Notify();
    });
    if (!done.WaitForNotificationWithTimeout(kWaitBound)) return absl::DeadlineExceededError("");
    return result;
  }
  // Submits all creates at once (they share group commits) and waits for every one.
  void CreateAll(std::vector<CreateSpec> specs) {
    absl::Mutex mu;
    size_t left = specs.size();
    std::vector<absl::Status> failures;
    for (CreateSpec& spec : specs) {
      engine_->Create(std::move(spec), [&](absl::StatusOr<CreateResult> r) {
        absl::MutexLock lock(&mu);
        if (!r.ok()) failures.push_back(r.status());
        --left;
      });
    }
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(
                                        +[](size_t* n) { return *n == 0; }, &left),
                                    kWaitBound));
    ASSERT_TRUE(failures.empty()) << failures.front();
  }
  // Engine::CreateMany, waited for; also checks that its callback runs exactly once.
  std::vector<absl::StatusOr<CreateResult>> CreateMany(std::vector<CreateSpec> specs) {
    absl::Mutex mu;
    int calls = 0;
    std::vector<absl::StatusOr<CreateResult>> results;
    engine_->CreateMany(std::move(specs), [&](std::vector<absl::StatusOr<CreateResult>> r) {
      absl::MutexLock lock(&mu);
      results = std::move(r);
      ++calls;
    });
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(
                                        +[](int* n) { return *n > 0; }, &calls),
                                    kWaitBound));
    mu.AwaitWithTimeout(absl::Condition(
                            +[](int* n) { return *n > 1; }, &calls),
                        absl::Milliseconds(50));
    EXPECT_EQ(calls, 1);
    return results;
  }
  absl::StatusOr<v1::Timer> Cancel(std::string id, std::string ns = "default") {
    absl::Notification done;
    absl::StatusOr<v1::Timer> result = absl::UnknownError("no callback");
    engine_->Cancel(std::move(ns), std::move(id), [&](absl::StatusOr<v1::Timer> r) {
      result = std::move(r);
      done.Notify();
    });
    if (!done.WaitForNotificationWithTimeout(kWaitBound)) return absl::DeadlineExceededError("");
    return result;
  }
  size_t HeapEntries() const {
    size_t n = 0;
    for (const ShardStats& s : engine_->Stats()) n += s.heap_entries;
    return n;
  }

  FakeClock clock_{kStart};
  chime::testing::TempDir dir_;
  RecordingListener listener_;
  // Before store_: outlive it.
  std::shared_ptr<chime::testing::GatedWalSyncFs> gated_fs_;
  std::unique_ptr<rocksdb::Env> gated_env_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, FiresTheListenerHasRoomForAreQueuedWithoutARecordCopy) {
  EngineOptions options;
  options.defer_fire_writes = false;  // otherwise such fires are not written at all (below)
  Open(1, options);
  listener_.SetMemoryRoom("held", 2);
  const absl::Time due = kStart + absl::Seconds(1);
  CreateAll({OneShot("h1", due, "held"), OneShot("h2", due, "held"), OneShot("h3", due, "held"),
             OneShot("d1", due, "on-disk")});
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(listener_.WaitForCount(4));
  ASSERT_THAT(listener_.batch_sizes(), ElementsAre(4));  // the room was asked once
  Close();

  // Per topic: how many queue entries carry a record and how many are empty.
  std::map<std::string, std::pair<int, int>> copies;
  chime::testing::RawRocksDb raw(dir_.path() + "/shards/000");
  ASSERT_TRUE(raw.ok());
  for (const auto& [key, value] : raw.Entries("queue")) {
    std::optional<storage::QueueKeyParts> parts = storage::DecodeQueueKey(key);
    ASSERT_TRUE(parts.has_value());
    auto& [with_record, key_only] = copies[parts->topic];
    ++(value.empty() ? key_only : with_record);
  }
  EXPECT_EQ(copies["held"], std::make_pair(1, 2));
  EXPECT_EQ(copies["on-disk"], std::make_pair(1, 0));
}

// A fire's write that lands between a read of its timer and the listener's answer (which by
// then has forgotten the fire) still reads FIRED: the timer is read again.
class UnwrittenFireRaceTest : public EngineTest {
 protected:
  // Fires one-shot "racer" at due_, handed over unwritten; the next time the engine asks the
  // listener about it, its write lands (and the listener knows nothing, as after a write).
  void FireRacerAndLandItsWriteWhenAsked() {
    Open();
    listener_.SetMemoryRoom("held", 1);
    ASSERT_OK(Create(OneShot("racer", due_, "held")));
    clock_.Advance(absl::Seconds(1));
    ASSERT_TRUE(listener_.WaitForCount(1));
    fire_ = listener_.records()[0];
    ASSERT_TRUE(fire_.has_unwritten());
    storage::ShardStore* shard = store_->shard(store_->ShardFor("default", "racer"));
    listener_.SetOnUnwrittenFireTime([this, shard] {
      ASSERT_OK(shard->SubmitAndWait([this](storage::ShardTxn& txn) {
        return WriteUnwrittenFire(txn, fire_, true).status();
      }));
    });
  }

  const absl::Time due_ = kStart + absl::Seconds(1);
  internal::DeliveryRecord fire_;
};

TEST_F(UnwrittenFireRaceTest, AReadRacingTheWriteReadsItFired) {
  ASSERT_NO_FATAL_FAILURE(FireRacerAndLandItsWriteWhenAsked());
  ASSERT_OK_AND_ASSIGN(v1::Timer timer, engine_->Get("default", "racer"));
  EXPECT_EQ(timer.state(), v1::TIMER_STATE_FIRED);
  EXPECT_EQ(timer.fire_count(), 1u);
  EXPECT_EQ(FromProto(timer.last_fire_time()), due_);
}

// The same in a listing: the scan read the timer SCHEDULED before the write landed.
TEST_F(UnwrittenFireRaceTest, AListingRacingTheWriteListsItFired) {
  ASSERT_NO_FATAL_FAILURE(FireRacerAndLandItsWriteWhenAsked());
  v1::ListTimersRequest request;
  request.set_state(v1::TIMER_STATE_FIRED);
  ASSERT_OK_AND_ASSIGN(v1::ListTimersResponse listed, engine_->List(request));
  ASSERT_EQ(listed.timers_size(), 1);
  EXPECT_EQ(listed.timers(0).timer_id(), "racer");
  EXPECT_EQ(listed.timers(0).fire_count(), 1u);
  EXPECT_EQ(FromProto(listed.timers(0).last_fire_time()), due_);
}

TEST_F(EngineTest, FiresTheListenerKeepsInMemoryAreHandedOverUnwrittenAndEndWithTheirAck) {
  Open();
  listener_.SetMemoryRoom("held", 3);  // fires go in (due, id) order: h1 to h3 fit
  const absl::Time due = kStart + absl::Seconds(1);
  CreateAll({OneShot("h1-acked", due, "held"), OneShot("h2-waits", due, "held"),
             OneShot("h3-lost", due, "held"), OneShot("h4-over", due, "held"),
             OneShot("disk", due, "on-disk")});
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(listener_.WaitForCount(5));
  std::map<std::string, internal::DeliveryRecord> fires;
  for (internal::DeliveryRecord& r : listener_.records()) fires[r.fire().timer_id()] = r;
  storage::ShardStore* shard = store_->shard(0);
  // The three the room holds were written nowhere: their timers read as before the fire.
  for (const std::string id : {"h1-acked", "h2-waits", "h3-lost"}) {
    SCOPED_TRACE(id);
    const internal::DeliveryRecord& fire = fires[id];
    ASSERT_TRUE(fire.has_unwritten());
    EXPECT_EQ(fire.unwritten().due_us(), absl::ToUnixMicros(due));
    EXPECT_EQ(fire.fire().fire_id(), MakeFireId(id, 0));
    EXPECT_EQ(FromProto(fire.fire().fire_time()), due);
    ASSERT_OK_AND_ASSIGN(v1::Timer timer, engine_->Get("default", id));
    EXPECT_EQ(timer.state(), v1::TIMER_STATE_SCHEDULED);
    EXPECT_EQ(fire.unwritten().timer_version(), timer.version());
    ASSERT_OK_AND_ASSIGN(auto delivery, shard->GetDelivery("default", fire.fire().fire_id()));
    EXPECT_FALSE(delivery.has_value());
    // Its due time has come: the fire is on its way, the timer cannot be cancelled.
    absl::StatusOr<v1::Timer> cancel = Cancel(id);
    EXPECT_EQ(cancel.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(cancel.status().message(), HasSubstr("is firing"));
  }
  // Past the room, and for a topic without one: written at the fire, as always.
  for (const std::string id : {"h4-over", "disk"}) {
    SCOPED_TRACE(id);
    EXPECT_FALSE(fires[id].has_unwritten());
    ASSERT_OK_AND_ASSIGN(v1::Timer timer, engine_->Get("default", id));
    EXPECT_EQ(timer.state(), v1::TIMER_STATE_FIRED);
  }

  // The ack's write: the timer ends as firing would have left it, nothing is pending.
  ASSERT_OK(shard->SubmitAndWait([&](storage::ShardTxn& txn) -> absl::Status {
    CHIME_ASSIGN_OR_RETURN(bool written, WriteUnwrittenFire(txn, fires["h1-acked"], false));
    EXPECT_TRUE(written);
    return absl::OkStatus();
  }));
  ASSERT_OK_AND_ASSIGN(v1::Timer acked, engine_->Get("default", "h1-acked"));
  EXPECT_EQ(acked.state(), v1::TIMER_STATE_COMPLETED);
  EXPECT_EQ(acked.fire_count(), 1u);
  EXPECT_EQ(FromProto(acked.last_fire_time()), due);
  ASSERT_OK_AND_ASSIGN(auto no_delivery, shard->GetDelivery("default", MakeFireId("h1-acked", 0)));
  EXPECT_FALSE(no_delivery.has_value());
  // A fire that must wait on disk: the timer FIRED and the delivery stored, as at the fire.
  ASSERT_OK(shard->SubmitAndWait([&](storage::ShardTxn& txn) -> absl::Status {
    CHIME_ASSIGN_OR_RETURN(bool written, WriteUnwrittenFire(txn, fires["h2-waits"], true));
    EXPECT_TRUE(written);
    // Once written, the timer no longer waits for it: a second write does nothing.
    CHIME_ASSIGN_OR_RETURN(bool again, WriteUnwrittenFire(txn, fires["h2-waits"], true));
    EXPECT_FALSE(again);
    return absl::OkStatus();
  }));
  ASSERT_OK_AND_ASSIGN(v1::Timer waits, engine_->Get("default", "h2-waits"));
  EXPECT_EQ(waits.state(), v1::TIMER_STATE_FIRED);
  ASSERT_OK_AND_ASSIGN(auto stored, shard->GetDelivery("default", MakeFireId("h2-waits", 0)));
  ASSERT_TRUE(stored.has_value());
  EXPECT_FALSE(stored->has_unwritten());
  EXPECT_EQ(stored->fire().payload(), fires["h2-waits"].fire().payload());

  // "h3-lost" was never written (as if the process died): after a restart it fires again, with
  // the same fire id; the others do not.
  Close();
  Open();
  clock_.Advance(absl::Milliseconds(10));
  ASSERT_TRUE(listener_.WaitForCount(6));
  EXPECT_EQ(listener_.fires()[5].fire_id(), MakeFireId("h3-lost", 0));
  EXPECT_FALSE(listener_.WaitForCountWithin(7, absl::Milliseconds(100)));
}

TEST_F(EngineTest, FireAheadCommitsEarlyAsIfAtTheDueTime) {
  EngineOptions options;
  options.fire_ahead = absl::Milliseconds(5);
  Open(1, options);
  const absl::Time due = kStart + absl::Seconds(5);
  ASSERT_OK(Create(OneShot("t1", due)));
  // A sentinel 20 ms earlier: once it fired, the dispatcher has looked at the heap then.
  ASSERT_OK(Create(OneShot("sentinel", due - absl::Milliseconds(20))));
  clock_.Advance(absl::Seconds(5) - absl::Milliseconds(22) - absl::Microseconds(500));
  ASSERT_TRUE(listener_.WaitForCount(1));
  EXPECT_EQ(listener_.fires()[0].timer_id(), "sentinel");
  ASSERT_OK_AND_ASSIGN(v1::Timer before, engine_->Get("default", "t1"));
  EXPECT_EQ(before.state(), v1::TIMER_STATE_SCHEDULED);  // 22.5 ms before: not yet

  // The engine wakes to fire with half the lead left (and takes all due within the lead).
  clock_.Advance(absl::Milliseconds(20));
  ASSERT_TRUE(listener_.WaitForCount(2));
  const internal::DeliveryRecord record = listener_.records()[1];
  EXPECT_EQ(record.fire().timer_id(), "t1");
  // Durable now, but it is the due time that the fire and its delivery carry.
  EXPECT_EQ(FromProto(record.fire().scheduled_time()), due);
  EXPECT_EQ(FromProto(record.fire().fire_time()), due);
  EXPECT_EQ(record.visible_at_us(), absl::ToUnixMicros(due));
  ASSERT_OK_AND_ASSIGN(v1::Timer fired, engine_->Get("default", "t1"));
  EXPECT_EQ(fired.state(), v1::TIMER_STATE_FIRED);
  EXPECT_EQ(FromProto(fired.last_fire_time()), due);
}

TEST_F(EngineTest, TimersDueCloseTogetherShareAFireTransactionWithinTheLead) {
  EngineOptions options;
  options.fire_ahead = absl::Milliseconds(5);
  Open(1, options);
  const absl::Time due = kStart + absl::Seconds(5);
  ASSERT_OK(Create(OneShot("sentinel", due - absl::Milliseconds(20))));
  ASSERT_OK(Create(OneShot("t1", due)));
  ASSERT_OK(Create(OneShot("t2", due + absl::Milliseconds(2))));
  ASSERT_OK(Create(OneShot("t3", due + absl::Milliseconds(3))));
  clock_.Advance(absl::Seconds(5) - absl::Milliseconds(22) - absl::Microseconds(500));
  ASSERT_TRUE(listener_.WaitForCount(1));
  // 5 ms before t1: it may fire now, but the engine waits until half the lead is left so
  // the timers due right after it can join its transaction.
  clock_.Advance(absl::Milliseconds(17) + absl::Microseconds(500));
  ASSERT_OK_AND_ASSIGN(v1::Timer waiting, engine_->Get("default", "t1"));
  EXPECT_EQ(waiting.state(), v1::TIMER_STATE_SCHEDULED);

  // Half the lead before t1: one transaction takes what is due within the whole lead (t1, and
  // t2 4.5 ms ahead) and nothing beyond it (t3 at 5.5 ms).
  clock_.Advance(absl::Microseconds(2500));
  ASSERT_TRUE(listener_.WaitForCount(3));
  EXPECT_EQ(listener_.batch_sizes(), (std::vector<size_t>{1, 2}));
  ASSERT_OK_AND_ASSIGN(v1::Timer t3, engine_->Get("default", "t3"));
  EXPECT_EQ(t3.state(), v1::TIMER_STATE_SCHEDULED);
  clock_.Advance(absl::Milliseconds(3));  // half the lead before t3
  ASSERT_TRUE(listener_.WaitForCount(4));
  EXPECT_EQ(listener_.fires()[3].timer_id(), "t3");
}

TEST_F(EngineTest, AFireIsWrittenAndHandedOnWithoutWaitingForAnFsync) {
  Open(1, {}, /*sync_gate=*/true);
  ASSERT_OK(Create(OneShot("t1", kStart + absl::Seconds(5))));  // durable: synced
  // From here every WAL sync waits, as on a disk that stalls: a fire must not.
  gated_fs_->Hold();
  clock_.Advance(absl::Seconds(5));
  ASSERT_TRUE(listener_.WaitForCount(1));
  EXPECT_EQ(listener_.fires()[0].timer_id(), "t1");
  ASSERT_OK_AND_ASSIGN(v1::Timer fired, engine_->Get("default", "t1"));
  EXPECT_EQ(fired.state(), v1::TIMER_STATE_FIRED);
  // A create, in contrast, is answered only once synced. Its own thread may sync it (see
  // Engine::Create), so it gets one.
  absl::Notification created;
  std::thread request_thread([&] {
    engine_->Create(OneShot("t2", kStart + absl::Seconds(60)),
                    [&](absl::StatusOr<CreateResult>) { created.Notify(); });
  });
  ASSERT_TRUE(gated_fs_->AwaitSyncWaiting(kWaitBound));
  EXPECT_FALSE(created.HasBeenNotified());
  gated_fs_->Release();
  EXPECT_TRUE(created.WaitForNotificationWithTimeout(kWaitBound));
  request_thread.join();
}

TEST_F(EngineTest, FiresOnceAtItsDueTimeWithTheTimersFields) {
  Open();
  CreateSpec spec = OneShot("t1", kStart + absl::Seconds(5));
  spec.timer.set_payload("hello");
  (*spec.timer.mutable_labels())["team"] = "billing";
  spec.idempotency_key = "";
  ASSERT_OK_AND_ASSIGN(CreateResult created, Create(spec));
  EXPECT_TRUE(created.created);
  EXPECT_EQ(created.timer.timer_id(), "t1");
  EXPECT_EQ(created.timer.state(), v1::TIMER_STATE_SCHEDULED);
  EXPECT_EQ(created.timer.version(), 1u);
  EXPECT_EQ(FromProto(created.timer.create_time()), kStart);
  EXPECT_EQ(FromProto(created.timer.next_fire_time()), kStart + absl::Seconds(5));

  // A sentinel in the same (only) shard due at +4.9 s: once it fired, the dispatcher has
  // looked at the heap at +4.9 s, and t1 must still be scheduled.
  ASSERT_OK(Create(OneShot("sentinel", kStart + absl::Milliseconds(4900))));
  clock_.Advance(absl::Milliseconds(4900));
  ASSERT_TRUE(listener_.WaitForCount(1));
  EXPECT_EQ(listener_.fires()[0].timer_id(), "sentinel");
  ASSERT_OK_AND_ASSIGN(v1::Timer before, engine_->Get("default", "t1"));
  EXPECT_EQ(before.state(), v1::TIMER_STATE_SCHEDULED);

  clock_.Advance(absl::Milliseconds(100));
  ASSERT_TRUE(listener_.WaitForCount(2));
  const internal::DeliveryRecord record = listener_.records()[1];
  const v1::Fire& fire = record.fire();
  EXPECT_EQ(fire.fire_id(), "t1@0");
  EXPECT_EQ(fire.namespace_(), "default");
  EXPECT_EQ(fire.timer_id(), "t1");
  EXPECT_EQ(fire.topic(), "demo");
  EXPECT_EQ(FromProto(fire.scheduled_time()), kStart + absl::Seconds(5));
  EXPECT_EQ(FromProto(fire.fire_time()), kStart + absl::Seconds(5));
  EXPECT_EQ(fire.attempt(), 0u);
  EXPECT_EQ(fire.payload(), "hello");
  EXPECT_EQ(fire.labels().at("team"), "billing");
  EXPECT_EQ(record.visible_at_us(), absl::ToUnixMicros(kStart + absl::Seconds(5)));
  EXPECT_TRUE(record.has_policy());  // the timer's (default) policy travels with the fire

  // The fire is durable as a pending delivery, and the timer record moved on.
  const int shard = store_->ShardFor("default", "t1");
  ASSERT_OK_AND_ASSIGN(auto stored, store_->shard(shard)->GetDelivery("default", "t1@0"));
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->fire().timer_id(), "t1");
  ASSERT_OK_AND_ASSIGN(v1::Timer fired, engine_->Get("default", "t1"));
  EXPECT_EQ(fired.state(), v1::TIMER_STATE_FIRED);
  EXPECT_EQ(fired.fire_count(), 1u);
  EXPECT_EQ(fired.version(), 2u);
  EXPECT_EQ(FromProto(fired.last_fire_time()), kStart + absl::Seconds(5));
  EXPECT_FALSE(fired.has_next_fire_time());

  // Later passes do not fire it again.
  ASSERT_OK(Create(OneShot("sentinel2", kStart + absl::Seconds(30))));
  clock_.Advance(absl::Seconds(25));
  ASSERT_TRUE(listener_.WaitForCount(3));
  EXPECT_EQ(listener_.fires()[2].timer_id(), "sentinel2");
  EXPECT_EQ(listener_.CountByTimer().at("t1"), 1);
  uint64_t fired_total = 0;
  for (const ShardStats& s : engine_->Stats()) fired_total += s.fired_total;
  EXPECT_EQ(fired_total, 3u);
}

TEST_F(EngineTest, CancelledTimerNeverFires) {
  Open();
  ASSERT_OK(Create(OneShot("t1", kStart + absl::Seconds(5))));
  ASSERT_OK(Create(OneShot("sentinel", kStart + absl::Seconds(6))));
  ASSERT_OK_AND_ASSIGN(v1::Timer cancelled, Cancel("t1"));
  EXPECT_EQ(cancelled.state(), v1::TIMER_STATE_CANCELLED);
  EXPECT_EQ(cancelled.version(), 2u);
  EXPECT_EQ(FromProto(cancelled.cancel_time()), kStart);
  EXPECT_FALSE(cancelled.has_next_fire_time());
  EXPECT_EQ(engine_->Get("default", "t1")->state(), v1::TIMER_STATE_CANCELLED);

  absl::StatusOr<v1::Timer> again = Cancel("t1");
  EXPECT_THAT(again, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("is CANCELLED"));

  // The sentinel is due after t1 in the same shard: when it fires, t1's heap entry was seen.
  clock_.Advance(absl::Seconds(6));
  ASSERT_TRUE(listener_.WaitForCount(1));
  EXPECT_EQ(listener_.count(), 1u);
  EXPECT_EQ(listener_.fires()[0].timer_id(), "sentinel");

  absl::StatusOr<v1::Timer> late = Cancel("sentinel");
  EXPECT_THAT(late, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(late.status().message(),
            "timer sentinel is FIRED; only scheduled timers can be cancelled");
  absl::StatusOr<v1::Timer> missing = Cancel("nope");
  EXPECT_THAT(missing, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(missing.status().message(), "timer nope not found in namespace default");
  EXPECT_THAT(engine_->Get("default", "nope"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(EngineTest, PastFireAtFiresAtOnce) {
  Open();
  ASSERT_OK(Create(OneShot("late", kStart - absl::Seconds(10))));
  ASSERT_TRUE(listener_.WaitForCount(1));  // no clock movement needed
  const v1::Fire fire = listener_.fires()[0];
  EXPECT_EQ(FromProto(fire.scheduled_time()), kStart - absl::Seconds(10));
  EXPECT_EQ(FromProto(fire.fire_time()), kStart);
  EXPECT_EQ(engine_->Stats()[0].last_dispatch_lateness, absl::Seconds(10));
}

TEST_F(EngineTest, ThousandTimersFireInDueOrderEachOnce) {
  Open(/*shards=*/4);
  std::mt19937_64 rng(7);
  std::vector<CreateSpec> specs;
  std::map<std::string, absl::Time> due_of;
  std::vector<absl::Time> dues;
  for (int i = 0; i < 1000; ++i) {
    // 200 distinct due times over 100 s (beyond the 60 s window), so ties are common.
    const absl::Time due = kStart + absl::Milliseconds(500 * (1 + rng() % 200));
    const std::string id = "timer-" + std::to_string(i);
    due_of[id] = due;
    dues.push_back(due);
    specs.push_back(OneShot(id, due));
  }
  CreateAll(std::move(specs));
  std::sort(dues.begin(), dues.end());

  // Step the clock through each due time and wait for exactly what became due.
  size_t expected = 0;
  while (expected < dues.size()) {
    const absl::Time now = dues[expected];
    while (expected < dues.size() && dues[expected] == now) ++expected;
    clock_.Set(now);
    ASSERT_TRUE(listener_.WaitForCount(expected)) << "at " << now;
    ASSERT_EQ(listener_.count(), expected) << "fired early at " << now;
  }

  const std::vector<v1::Fire> fires = listener_.fires();
  ASSERT_EQ(fires.size(), 1000u);
  std::set<std::string> seen;
  for (size_t i = 0; i < fires.size(); ++i) {
    const v1::Fire& f = fires[i];
    ASSERT_TRUE(seen.insert(f.timer_id()).second) << "fired twice: " << f.timer_id();
    EXPECT_EQ(FromProto(f.scheduled_time()), due_of.at(f.timer_id()));
    EXPECT_EQ(FromProto(f.fire_time()), due_of.at(f.timer_id()));
    if (i > 0) {
      EXPECT_LE(FromProto(fires[i - 1].scheduled_time()), FromProto(f.scheduled_time()));
    }
  }
  for (const ShardStats& s : engine_->Stats()) {
    EXPECT_EQ(s.heap_entries, 0u) << "shard " << s.shard;
    EXPECT_GT(s.fired_total, 0u) << "shard " << s.shard;
  }
}

TEST_F(EngineTest, WindowKeepsLaterTimersOnDiskUntilTheyApproach) {
  EngineOptions options;
  options.window = absl::Seconds(60);
  Open(1, options);
  ASSERT_OK(Create(OneShot("far", kStart + absl::Minutes(10))));
  auto window_end = [&] { return absl::FromUnixMicros(engine_->Stats()[0].window_end_us); };
  ASSERT_TRUE(Eventually([&] { return window_end() >= kStart + absl::Seconds(60); }));
  EXPECT_EQ(HeapEntries(), 0u);

  // The window moves with time, but +10 min is still outside it at +5 min.
  clock_.Set(kStart + absl::Minutes(5));
  ASSERT_TRUE(Eventually([&] { return window_end() >= kStart + absl::Minutes(6); }));
  EXPECT_EQ(HeapEntries(), 0u);

  // At +9.5 min the window reaches it: it is loaded but not fired.
  clock_.Set(kStart + absl::Seconds(570));
  ASSERT_TRUE(Eventually([&] { return HeapEntries() == 1; }));
  EXPECT_EQ(listener_.count(), 0u);

  clock_.Set(kStart + absl::Minutes(10));
  ASSERT_TRUE(listener_.WaitForCount(1));
  EXPECT_EQ(FromProto(listener_.fires()[0].fire_time()), kStart + absl::Minutes(10));
}

// A timer created long before its fire is loaded from the time index alone; its record is
// read into the writer's memory then, so that its fire does not read RocksDB.
TEST_F(EngineTest, TimersLoadedIntoTheWindowHaveTheirRecordsReadBeforeTheirFires) {
  EngineOptions options;
  options.window = absl::Seconds(60);
  Open(1, options);
  constexpr int kTimers = 600;  // more than one warming transaction's worth
  std::vector<CreateSpec> specs;
  for (int i = 0; i < kTimers; ++i) {
    specs.push_back(OneShot(absl::StrFormat("t%04d", i), kStart + absl::Minutes(10)));
  }
  CreateAll(std::move(specs));
  storage::ShardStore* shard = store_->shard(0);
  const storage::ShardStore::WriteStats created = shard->GetWriteStats();

  clock_.Set(kStart + absl::Seconds(570));
  ASSERT_TRUE(Eventually(
      [&] { return shard->GetWriteStats().timer_reads.db >= created.timer_reads.db + kTimers; }));
  const storage::ShardStore::WriteStats warmed = shard->GetWriteStats();
  EXPECT_EQ(warmed.timer_reads.db, created.timer_reads.db + kTimers) << "each read once";
  EXPECT_EQ(engine_->Stats()[0].warm_transactions, 3u);  // 256 timers a transaction
  EXPECT_EQ(listener_.count(), 0u);

  clock_.Set(kStart + absl::Minutes(10));
  ASSERT_TRUE(listener_.WaitForCount(kTimers));
  const storage::ShardStore::WriteStats fired = shard->GetWriteStats();
  EXPECT_EQ(fired.timer_reads.db, warmed.timer_reads.db) << "the fires read none from RocksDB";
  EXPECT_GE(fired.timer_reads.hot, warmed.timer_reads.hot + kTimers);
}

// With warming off (a store that keeps no records, where it would read nothing), a load
// queues nothing to warm and submits no warming transaction.
TEST_F(EngineTest, WithWarmingOffALoadSubmitsNoWarmingTransactions) {
  EngineOptions options;
  options.window = absl::Seconds(60);
  options.warm_loaded_timers = false;
  Open(1, options);
  constexpr int kTimers = 300;
  const absl::Time due = kStart + absl::Minutes(10);
  std::vector<CreateSpec> specs;
  for (int i = 0; i < kTimers; ++i) specs.push_back(OneShot(absl::StrFormat("t%04d", i), due));
  CreateAll(std::move(specs));

  clock_.Set(kStart + absl::Seconds(570));
  // The load queues what it read to warm under the lock that moves the window: seen together.
  ASSERT_TRUE(
      Eventually([&] { return engine_->Stats()[0].window_end_us > absl::ToUnixMicros(due); }));
  const ShardStats loaded = engine_->Stats()[0];
  EXPECT_EQ(loaded.heap_entries, static_cast<size_t>(kTimers));
  EXPECT_EQ(loaded.timers_to_warm, 0u);
  EXPECT_EQ(loaded.warm_transactions, 0u);

  clock_.Set(due);
  ASSERT_TRUE(listener_.WaitForCount(kTimers));
  EXPECT_EQ(engine_->Stats()[0].warm_transactions, 0u);
}

// An engine that touches its memory before a fire that follows a second or more of idling.
EngineOptions TouchAfterASecondIdle() {
  EngineOptions options;
  options.window = absl::Seconds(60);
  options.touch_after_idle = absl::Seconds(1);
  return options;
}

// After an idle spell the dispatcher reads its memory back shortly before the next fire, once,
// with a warming transaction for the first fires (their records' lookups); a shorter pause
// between fires does not.
TEST_F(EngineTest, AfterAnIdleSpellTheDispatcherTouchesItsMemoryOnceBeforeItsNextFire) {
  Open(1, TouchAfterASecondIdle());
  const absl::Time due = kStart + absl::Seconds(30);
  const absl::Time soon_after = due + absl::Milliseconds(500);  // a pause under a second
  CreateAll({OneShot("a", due), OneShot("b", due), OneShot("c", due), OneShot("d", soon_after)});
  ASSERT_TRUE(Eventually([&] { return engine_->Stats()[0].heap_entries == 4; }));
  // The load's own warming is done (the writer ran it) before the touch is looked for.
  ASSERT_TRUE(Eventually([&] { return engine_->Stats()[0].timers_to_warm == 0; }));
  const ShardStats loaded = engine_->Stats()[0];
  EXPECT_EQ(loaded.touches, 0u);

  clock_.Set(due - ShardEngine::kTouchLead);
  ASSERT_TRUE(Eventually([&] {
    const ShardStats s = engine_->Stats()[0];
    return s.touches == 1 && s.warm_transactions == loaded.warm_transactions + 1;
  }));
  EXPECT_EQ(listener_.CountByTimer().size(), 0u);  // a touch fires nothing

  clock_.Set(due);
  ASSERT_TRUE(listener_.WaitForCount(3));
  clock_.Set(soon_after);
  ASSERT_TRUE(listener_.WaitForCount(4));
  EXPECT_EQ(engine_->Stats()[0].touches, 1u);
  EXPECT_EQ(engine_->Stats()[0].fired_total, 4u);
}

// A herd's heap is sorted into a run at the touch ahead of its due time; a timer created after
// the sort still fires in its place, and every timer fires once, in heap order.
TEST_F(EngineTest, AHerdsHeapSortedAtTheTouchFiresEachTimerOnceInOrder) {
  Open(1, TouchAfterASecondIdle());
  const absl::Time due = kStart + absl::Seconds(30);
  const int herd = static_cast<int>(TimerHeap::kDefaultMinSortedRun) + 50;
  std::vector<CreateSpec> specs;
  for (int i = 0; i < herd; ++i) {
    specs.push_back(OneShot(absl::StrFormat("h%05d", (i * 7919) % herd), due));  // shuffled
  }
  CreateAll(std::move(specs));
  ASSERT_TRUE(Eventually([&] {
    const ShardStats s = engine_->Stats()[0];
    return s.heap_entries == static_cast<size_t>(herd) && s.timers_to_warm == 0;
  }));
  EXPECT_EQ(engine_->Stats()[0].heap_sorted_runs, 0u);

  clock_.Set(due - ShardEngine::kTouchLead);
  ASSERT_TRUE(Eventually([&] { return engine_->Stats()[0].touches == 1; }));
  EXPECT_EQ(engine_->Stats()[0].heap_sorted_runs, 1u);
  EXPECT_EQ(listener_.count(), 0u);                  // sorted, not fired
  ASSERT_OK(Create(OneShot("a-late-create", due)));  // sorts before every "h" id

  clock_.Set(due);
  ASSERT_TRUE(listener_.WaitForCount(static_cast<size_t>(herd) + 1));
  std::vector<std::string> ids;
  for (const v1::Fire& fire : listener_.fires()) ids.push_back(fire.timer_id());
  ASSERT_EQ(ids.size(), static_cast<size_t>(herd) + 1);
  EXPECT_EQ(ids.front(), "a-late-create");
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());  // none twice
  EXPECT_EQ(engine_->Stats()[0].heap_sorted_runs, 1u);
  EXPECT_EQ(engine_->Stats()[0].heap_entries, 0u);
}

TEST_F(EngineTest, HeapStaysWithinItsBoundWhenManyAreDueTogether) {
  EngineOptions options;
  options.max_heap_entries_per_shard = 10;
  options.max_fire_batch = 4;
  Open(1, options);
  std::vector<CreateSpec> specs;
  for (int i = 0; i < 1000; ++i) {
    specs.push_back(
        OneShot("t" + std::to_string(i), kStart + absl::Seconds(1) + absl::Microseconds(i % 97)));
  }
  CreateAll(std::move(specs));
  EXPECT_LE(HeapEntries(), 10u);

  clock_.Advance(absl::Seconds(2));
  ASSERT_TRUE(listener_.WaitForCount(1000));
  const std::map<std::string, int> by_timer = listener_.CountByTimer();
  EXPECT_EQ(by_timer.size(), 1000u);
  for (const auto& [id, n] : by_timer) EXPECT_EQ(n, 1) << id;
  const ShardStats stats = engine_->Stats()[0];
  EXPECT_LE(stats.heap_high_water, 10u);
  EXPECT_GT(stats.heap_high_water, 0u);
  EXPECT_EQ(stats.fired_total, 1000u);
}

// A herd created shortly before its due time overflows the heap. The entries left out are read
// back after the heap's latest entry, once each: the loads must not read again the ones
// already fired, whose time-index entries stay while their fires are out unwritten.
// A fire whose topic's subscribers have no room waits in the engine, unwritten, and fires once
// they have room: it is not written to disk for a later scan.
TEST_F(EngineTest, AFireWithNoRoomWaitsInTheEngineUntilItsSubscribersHaveRoom) {
  Open();
  listener_.SetSubscribed("busy", true);  // room 0
  const absl::Time due = kStart + absl::Seconds(1);
  CreateAll({OneShot("b1", due, "busy"), OneShot("b2", due + absl::Milliseconds(1), "busy"),
             OneShot("b3", due + absl::Milliseconds(2), "busy")});
  clock_.Advance(absl::Seconds(1) + absl::Milliseconds(2));
  ASSERT_TRUE(Eventually([&] { return engine_->Stats()[0].held_fires == 3; }));
  EXPECT_EQ(listener_.count(), 0u);
  // Held, the earliest counts as the oldest due (status), and nothing was written.
  const ShardStats stats = engine_->Stats()[0];
  ASSERT_TRUE(stats.heap_top.has_value());
  EXPECT_EQ(stats.heap_top->timer_id, "b1");
  EXPECT_EQ(stats.heap_entries, 0u);
  for (const std::string id : {"b1", "b2", "b3"}) {
    ASSERT_OK_AND_ASSIGN(v1::Timer timer, engine_->Get("default", id));
    EXPECT_EQ(timer.state(), v1::TIMER_STATE_SCHEDULED) << id;
  }

  // Room for eight: at the next poll a transaction takes its share, a quarter (as many may be
  // in flight on a shard): the first two go, unwritten, in due order.
  listener_.SetMemoryRoom("busy", 8);
  clock_.Advance(kHeldFirePoll);
  ASSERT_TRUE(listener_.WaitForCount(2));
  listener_.SetMemoryRoom("busy", 0);
  EXPECT_FALSE(listener_.WaitForCountWithin(3, absl::Milliseconds(100)));
  listener_.SetMemoryRoom("busy", 5);
  clock_.Advance(kHeldFirePoll);
  ASSERT_TRUE(listener_.WaitForCount(3));
  std::vector<std::string> order;
  for (const internal::DeliveryRecord& r : listener_.records()) {
    order.push_back(r.fire().timer_id());
    EXPECT_TRUE(r.has_unwritten()) << r.fire().timer_id();
    EXPECT_EQ(r.fire().fire_id(), MakeFireId(r.fire().timer_id(), 0));
  }
  EXPECT_THAT(order, ElementsAre("b1", "b2", "b3"));
  ASSERT_TRUE(Eventually([&] { return engine_->Stats()[0].held_fires == 0; }));
  EXPECT_FALSE(listener_.WaitForCountWithin(4, absl::Milliseconds(100)));
}

// Whether a fire is held is told on the timer's stored bytes: a heap entry left stale by a
// cancel is dropped there, not held, even when its topic has no room.
TEST_F(EngineTest, AStaleEntryOfATopicWithNoRoomIsNotHeld) {
  Open();
  listener_.SetSubscribed("busy", true);  // room 0
  const absl::Time due = kStart + absl::Seconds(1);
  CreateAll(
      {OneShot("cancelled", due, "busy"), OneShot("held", due, "busy"), OneShot("free", due)});
  ASSERT_OK(Cancel("cancelled"));
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(listener_.WaitForCount(1));
  EXPECT_EQ(listener_.records()[0].fire().timer_id(), "free");
  ASSERT_TRUE(Eventually([&] { return engine_->Stats()[0].held_fires == 1; }));
  listener_.SetMemoryRoom("busy", 10);
  clock_.Advance(kHeldFirePoll);
  ASSERT_TRUE(listener_.WaitForCount(2));
  EXPECT_EQ(listener_.records()[1].fire().timer_id(), "held");
  EXPECT_FALSE(listener_.WaitForCountWithin(3, absl::Milliseconds(100)));
  EXPECT_EQ(engine_->Stats()[0].held_fires, 0u);
}

TEST_F(EngineTest, HeldFiresOfATopicThatLostItsSubscribersAreWrittenToDisk) {
  Open();
  listener_.SetSubscribed("busy", true);
  const absl::Time due = kStart + absl::Seconds(1);
  CreateAll({OneShot("b1", due, "busy"), OneShot("b2", due, "busy")});
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(Eventually([&] { return engine_->Stats()[0].held_fires == 2; }));
  listener_.SetSubscribed("busy", false);
  clock_.Advance(kHeldFirePoll);
  ASSERT_TRUE(listener_.WaitForCount(2));
  for (const internal::DeliveryRecord& r : listener_.records()) {
    EXPECT_FALSE(r.has_unwritten()) << r.fire().timer_id();
    ASSERT_OK_AND_ASSIGN(v1::Timer timer, engine_->Get("default", r.fire().timer_id()));
    EXPECT_EQ(timer.state(), v1::TIMER_STATE_FIRED);
    ASSERT_OK_AND_ASSIGN(auto delivery,
                         store_->shard(0)->GetDelivery("default", r.fire().fire_id()));
    EXPECT_TRUE(delivery.has_value());
  }
  EXPECT_EQ(engine_->Stats()[0].held_fires, 0u);
}

TEST_F(EngineTest, FiresPastTheHoldBoundAreWrittenAndHeldOnesSurviveARestart) {
  EngineOptions options;
  options.max_held_fires_per_shard = 2;
  Open(1, options);
  listener_.SetSubscribed("busy", true);
  const absl::Time due = kStart + absl::Seconds(1);
  CreateAll({OneShot("b1", due, "busy"), OneShot("b2", due, "busy"), OneShot("b3", due, "busy"),
             OneShot("b4", due, "busy")});
  clock_.Advance(absl::Seconds(1));
  // In (due, id) order: the first two are held, the rest written as before.
  ASSERT_TRUE(listener_.WaitForCount(2));
  EXPECT_EQ(engine_->Stats()[0].held_fires, 2u);
  std::set<std::string> written;
  for (const internal::DeliveryRecord& r : listener_.records()) {
    EXPECT_FALSE(r.has_unwritten());
    written.insert(r.fire().timer_id());
  }
  EXPECT_THAT(written, ElementsAre("b3", "b4"));

  // Held fires are not written: after a restart their timers are loaded and fire again.
  Close();
  Open(1, options);
  listener_.SetMemoryRoom("busy", 10);
  clock_.Advance(absl::Milliseconds(10));
  ASSERT_TRUE(listener_.WaitForCount(4));
  std::set<std::string> after;
  for (size_t i = 2; i < 4; ++i) after.insert(listener_.records()[i].fire().timer_id());
  EXPECT_THAT(after, ElementsAre("b1", "b2"));
  EXPECT_FALSE(listener_.WaitForCountWithin(5, absl::Milliseconds(100)));
}

TEST_F(EngineTest, AHerdOverflowingTheHeapFiresEachTimerOnceWhileItsFiresAreOutUnwritten) {
  EngineOptions options;
  options.max_heap_entries_per_shard = 10;
  options.max_fire_batch = 4;
  Open(1, options);
  listener_.SetMemoryRoom("herd", 1000);
  const absl::Time due = kStart + absl::Seconds(1);
  std::vector<CreateSpec> specs;
  for (int i = 0; i < 100; ++i) specs.push_back(OneShot(absl::StrFormat("h%03d", i), due, "herd"));
  CreateAll(std::move(specs));
  // The first window load may still be reading them: wait for the heap to fill to its bound.
  ASSERT_TRUE(Eventually([&] { return HeapEntries() == 10u; }));

  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(listener_.WaitForCount(100));
  // Settled: the heap is empty and the window has moved past the herd.
  ASSERT_TRUE(Eventually([&] {
    const ShardStats stats = engine_->Stats()[0];
    return stats.heap_entries == 0 && absl::FromUnixMicros(stats.window_end_us) > due &&
           stats.fired_total >= 100;
  }));
  EXPECT_EQ(listener_.count(), 100u);
  const std::map<std::string, int> by_timer = listener_.CountByTimer();
  EXPECT_EQ(by_timer.size(), 100u);
  for (const auto& [id, n] : by_timer) EXPECT_EQ(n, 1) << id;
  for (const internal::DeliveryRecord& r : listener_.records()) {
    EXPECT_TRUE(r.has_unwritten()) << r.fire().timer_id();
  }
  EXPECT_EQ(engine_->Stats()[0].fired_total, 100u);
}

// A durable create's write is visible before its sync: a window load in between reads the
// timer, and its commit callback, after the sync, must not push it again. (A second entry
// fired it twice when its first fire was out unwritten, the record still SCHEDULED.)
TEST_F(EngineTest, ATimerALoadReadsBeforeItsCreateIsSyncedIsInTheHeapOnce) {
  Open(1, {}, /*sync_gate=*/true);
  listener_.SetMemoryRoom("demo", 1000);
  auto window_end_us = [&] { return engine_->Stats()[0].window_end_us; };
  ASSERT_TRUE(Eventually([&] { return window_end_us() > 0; }));  // the first load, at start
  const absl::Time due = kStart + absl::Seconds(80);
  ASSERT_LT(window_end_us(), absl::ToUnixMicros(due));

  gated_fs_->Hold();
  absl::Notification created;
  // Its own thread may sync it (see Engine::Create), so it gets one.
  std::thread request_thread([&] {
    engine_->Create(OneShot("raced", due), [&](absl::StatusOr<CreateResult> r) {
      EXPECT_OK(r.status());
      created.Notify();
    });
  });
  ASSERT_TRUE(gated_fs_->AwaitSyncWaiting(kWaitBound));  // written, its sync held
  clock_.Advance(absl::Seconds(40));                     // the next load reads up to 100 s
  ASSERT_TRUE(Eventually([&] { return window_end_us() > absl::ToUnixMicros(due); }));
  EXPECT_EQ(HeapEntries(), 1u);
  EXPECT_FALSE(created.HasBeenNotified());

  gated_fs_->Release();
  ASSERT_TRUE(created.WaitForNotificationWithTimeout(kWaitBound));
  request_thread.join();
  EXPECT_EQ(HeapEntries(), 1u);

  clock_.Set(due);
  ASSERT_TRUE(listener_.WaitForCount(1));
  EXPECT_FALSE(listener_.WaitForCountWithin(2, absl::Milliseconds(200)));
  ASSERT_TRUE(Eventually([&] { return HeapEntries() == 0; }));
  EXPECT_TRUE(listener_.records()[0].has_unwritten());
}

// A timer created at the very end of the loaded window (the cursor's due time) is left to the
// next load, not pushed as well: it must be in the heap once.
TEST_F(EngineTest, ATimerDueAtTheWindowsEndIsLoadedOnce) {
  EngineOptions options;
  options.window = absl::Seconds(60);
  Open(1, options);
  auto window_end_us = [&] { return engine_->Stats()[0].window_end_us; };
  ASSERT_TRUE(Eventually([&] { return window_end_us() > 0; }));
  const int64_t end_us = window_end_us();
  ASSERT_OK(Create(OneShot("edge", absl::FromUnixMicros(end_us))));
  clock_.Advance(absl::Seconds(31));  // the next load reads past it
  ASSERT_TRUE(Eventually([&] { return window_end_us() > end_us; }));
  EXPECT_EQ(HeapEntries(), 1u);
  clock_.Set(absl::FromUnixMicros(end_us));
  ASSERT_TRUE(listener_.WaitForCount(1));
  ASSERT_TRUE(Eventually([&] { return HeapEntries() == 0; }));
  EXPECT_EQ(listener_.count(), 1u);
}

TEST_F(EngineTest, TimerDueSoonIsNotStuckBehindAFullHeapOfLaterOnes) {
  EngineOptions options;
  options.max_heap_entries_per_shard = 10;
  Open(1, options);
  std::vector<CreateSpec> specs;
  for (int i = 0; i < 30; ++i) {
    specs.push_back(OneShot("later" + std::to_string(i), kStart + absl::Seconds(50)));
  }
  CreateAll(std::move(specs));
  ASSERT_TRUE(Eventually([&] { return HeapEntries() == 10; }));
  ASSERT_OK_AND_ASSIGN(CreateResult soon, Create(OneShot("soon", kStart + absl::Seconds(1))));
  EXPECT_LE(HeapEntries(), 10u);
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(listener_.WaitForCount(1));
  EXPECT_EQ(listener_.fires()[0].timer_id(), "soon");
  EXPECT_EQ(FromProto(listener_.fires()[0].fire_time()), kStart + absl::Seconds(1));
  clock_.Advance(absl::Seconds(49));
  ASSERT_TRUE(listener_.WaitForCount(31));
  EXPECT_EQ(listener_.CountByTimer().size(), 31u);
  EXPECT_LE(engine_->Stats()[0].heap_high_water, 10u);
}

TEST_F(EngineTest, TimersSurviveARestart) {
  EngineOptions options;
  options.max_heap_entries_per_shard = 8;  // recovery also honours the bound
  Open(4, options);
  std::vector<CreateSpec> specs;
  for (int i = 0; i < 60; ++i) {
    specs.push_back(OneShot("t" + std::to_string(i), kStart + absl::Seconds(1 + i)));
  }
  specs.push_back(OneShot("later", kStart + absl::Hours(2)));
  CreateAll(std::move(specs));
  clock_.Advance(absl::Seconds(10));  // t0..t9 fire before the restart
  ASSERT_TRUE(listener_.WaitForCount(10));
  Close();
  EXPECT_EQ(listener_.count(), 10u);

  Open(4, options);
  clock_.Advance(absl::Seconds(60));
  ASSERT_TRUE(listener_.WaitForCount(60));
  clock_.Advance(absl::Hours(2));
  ASSERT_TRUE(listener_.WaitForCount(61));
  const std::map<std::string, int> by_timer = listener_.CountByTimer();
  EXPECT_EQ(by_timer.size(), 61u);
  for (const auto& [id, n] : by_timer) EXPECT_EQ(n, 1) << id;
  for (const ShardStats& s : engine_->Stats()) EXPECT_LE(s.heap_high_water, 8u);
}

// Single creates with generated ids take turns on one shard (EngineOptions::create_shard_turn),
// so their group commits share a WAL sync; keyed creates keep to their key's shard.
TEST_F(EngineTest, SingleCreatesWithGeneratedIdsTakeTurnsOnOneShard) {
  EngineOptions options;
  options.create_shard_turn = absl::Milliseconds(10);
  Open(4, options);
  auto shard_of_created = [&](CreateSpec spec) -> int {
    absl::StatusOr<CreateResult> created = Create(std::move(spec));
    EXPECT_TRUE(created.ok()) << created.status();
    if (!created.ok()) return -1;
    return store_->ShardFor("default", created->timer.timer_id());
  };
  std::set<int> turn_shards;
  for (int turn = 0; turn < 8; ++turn) {
    std::set<int> shards;
    for (int i = 0; i < 10; ++i)
      shards.insert(shard_of_created(OneShot("", kStart + absl::Hours(1))));
    EXPECT_EQ(shards.size(), 1u) << "turn " << turn;
    turn_shards.insert(*shards.begin());
    // A keyed create still lands on its key's shard.
    CreateSpec keyed = OneShot("", kStart + absl::Hours(1));
    keyed.idempotency_key = absl::StrCat("key-", turn);
    keyed.request_fingerprint = 7;
    EXPECT_EQ(shard_of_created(keyed), store_->ShardFor("default", keyed.idempotency_key));
    clock_.Advance(absl::Milliseconds(10));
  }
  EXPECT_EQ(turn_shards.size(), 4u);  // the turns go round every shard
}

TEST_F(EngineTest, WithoutTurnsGeneratedIdsSpreadOverTheShards) {
  EngineOptions options;
  options.create_shard_turn = absl::ZeroDuration();
  Open(4, options);
  std::set<int> shards;
  for (int i = 0; i < 40; ++i) {
    ASSERT_OK_AND_ASSIGN(CreateResult created, Create(OneShot("", kStart + absl::Hours(1))));
    shards.insert(store_->ShardFor("default", created.timer.timer_id()));
  }
  EXPECT_GT(shards.size(), 1u);  // all 40 on one of 4 shards: odds 4^-39
}

TEST_F(EngineTest, IdempotencyKeyReturnsTheFirstTimer) {
  Open(4);
  int same_shard = 0;
  int cross_shard = 0;
  std::map<std::string, std::string> id_of_key;
  // Even i: generated ids, placed on their key's shard (one transaction). Odd i: chosen ids,
  // mostly on another shard (the claim, then the timer).
  auto id_for = [](int i) { return i % 2 == 0 ? std::string() : "chosen-" + std::to_string(i); };
  for (int i = 0; i < 40; ++i) {
    const std::string key = "key-" + std::to_string(i);
    CreateSpec spec = OneShot(id_for(i), kStart + absl::Hours(1));
    spec.idempotency_key = key;
    spec.request_fingerprint = 1000 + i;
    ASSERT_OK_AND_ASSIGN(CreateResult first, Create(spec));
    EXPECT_TRUE(first.created);
    EXPECT_EQ(first.timer.idempotency_key(), key);
    ASSERT_OK_AND_ASSIGN(CreateResult second, Create(spec));
    EXPECT_FALSE(second.created);
    EXPECT_EQ(second.timer.timer_id(), first.timer.timer_id());
    id_of_key[key] = first.timer.timer_id();
    const bool colocated =
        store_->ShardFor("default", key) == store_->ShardFor("default", first.timer.timer_id());
    if (id_for(i).empty()) {
      EXPECT_TRUE(colocated) << first.timer.timer_id();
    }
    (colocated ? same_shard : cross_shard)++;

    spec.request_fingerprint = 1;  // a different request under the same key
    absl::StatusOr<CreateResult> conflict = Create(spec);
    EXPECT_THAT(conflict, StatusIs(absl::StatusCode::kAlreadyExists));
    EXPECT_EQ(conflict.status().message(), "idempotency key " + key +
                                               " was used by a different request (timer " +
                                               first.timer.timer_id() + ")");
  }
  EXPECT_GT(same_shard, 0);  // both the one-transaction and the two-step path ran
  EXPECT_GT(cross_shard, 0);

  Close();
  Open(4);
  for (const auto& [key, id] : id_of_key) {
    const int i = std::stoi(key.substr(4));
    CreateSpec spec = OneShot(id_for(i), kStart + absl::Hours(1));
    spec.idempotency_key = key;
    spec.request_fingerprint = 1000 + i;
    ASSERT_OK_AND_ASSIGN(CreateResult again, Create(spec));
    EXPECT_FALSE(again.created);
    EXPECT_EQ(again.timer.timer_id(), id);
  }
  ASSERT_OK_AND_ASSIGN(v1::ListTimersResponse all, engine_->List(v1::ListTimersRequest()));
  EXPECT_EQ(all.timers_size(), 40);
}

TEST_F(EngineTest, ClaimLeftByACrashIsCompletedByTheRetry) {
  Open(4);
  // Step 1 of a create committed, then the server died before step 2.
  internal::IdempotencyRecord claim;
  claim.set_timer_id("t_claimed");
  claim.set_request_fingerprint(77);
  const int key_shard = store_->ShardFor("default", "k");
  ASSERT_OK(store_->shard(key_shard)->SubmitAndWait([&](storage::ShardTxn& txn) {
    txn.PutIdempotency("default", "k", claim);
    return absl::OkStatus();
  }));
  CreateSpec spec = OneShot("", kStart + absl::Seconds(1));
  spec.idempotency_key = "k";
  spec.request_fingerprint = 77;
  ASSERT_OK_AND_ASSIGN(CreateResult result, Create(spec));
  EXPECT_TRUE(result.created);
  EXPECT_EQ(result.timer.timer_id(), "t_claimed");
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(listener_.WaitForCount(1));
  EXPECT_EQ(listener_.fires()[0].timer_id(), "t_claimed");
}

TEST_F(EngineTest, ExplicitIdsAreUniquePerNamespace) {
  Open(4);
  ASSERT_OK_AND_ASSIGN(CreateResult first, Create(OneShot("order-1", kStart + absl::Hours(1),
                                                          "demo", /*fingerprint=*/5)));
  EXPECT_TRUE(first.created);
  // The same request again (a client retry) returns the timer.
  ASSERT_OK_AND_ASSIGN(CreateResult retry, Create(OneShot("order-1", kStart + absl::Hours(1),
                                                          "demo", /*fingerprint=*/5)));
  EXPECT_FALSE(retry.created);
  EXPECT_EQ(retry.timer.create_time().seconds(), first.timer.create_time().seconds());
  // A different request with the same id is refused.
  absl::StatusOr<CreateResult> dup =
      Create(OneShot("order-1", kStart + absl::Hours(2), "demo", /*fingerprint=*/6));
  EXPECT_THAT(dup, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(dup.status().message(), "timer order-1 already exists");
  // Another namespace has its own ids.
  CreateSpec other = OneShot("order-1", kStart + absl::Hours(1), "demo", 6);
  other.timer.set_namespace_("tenant-b");
  ASSERT_OK_AND_ASSIGN(CreateResult in_b, Create(other));
  EXPECT_TRUE(in_b.created);
  EXPECT_EQ(in_b.timer.namespace_(), "tenant-b");
  EXPECT_EQ(engine_->Get("default", "order-1")->schedule().fire_at().seconds(),
            absl::ToUnixSeconds(kStart + absl::Hours(1)));
}

TEST_F(EngineTest, CreateManyGivesEachSpecTheOutcomeOfCreateInOrderAndAllFire) {
  Open(4);
  ASSERT_OK(Create(OneShot("taken", kStart + absl::Hours(1), "demo", /*fingerprint=*/5)));
  std::vector<CreateSpec> specs;
  for (int i = 0; i < 40; ++i) {  // generated ids: one transaction per shard
    specs.push_back(OneShot("", kStart + absl::Seconds(1) + absl::Milliseconds(i)));
  }
  specs.push_back(OneShot("taken", kStart + absl::Seconds(2), "demo", /*fingerprint=*/6));
  specs.push_back(OneShot("chosen", kStart + absl::Seconds(2)));
  CreateSpec keyed = OneShot("", kStart + absl::Seconds(2));
  keyed.idempotency_key = "k1";
  specs.push_back(keyed);
  CreateSpec unschedulable = OneShot("", kStart);
  unschedulable.timer.clear_schedule();
  specs.push_back(unschedulable);

  std::vector<absl::StatusOr<CreateResult>> results = CreateMany(std::move(specs));
  ASSERT_EQ(results.size(), 44u);
  std::set<std::string> ids;
  std::set<int> shards;
  for (int i = 0; i < 40; ++i) {
    ASSERT_OK(results[i]);
    EXPECT_TRUE(results[i]->created);
    const v1::Timer& timer = results[i]->timer;
    EXPECT_EQ(timer.state(), v1::TIMER_STATE_SCHEDULED);
    EXPECT_EQ(FromProto(timer.schedule().fire_at()),
              kStart + absl::Seconds(1) + absl::Milliseconds(i));
    ASSERT_OK_AND_ASSIGN(v1::Timer stored, engine_->Get("default", timer.timer_id()));
    EXPECT_EQ(stored.version(), 1);
    ids.insert(timer.timer_id());
    shards.insert(store_->ShardFor("default", timer.timer_id()));
  }
  EXPECT_EQ(ids.size(), 40u);
  EXPECT_EQ(shards.size(), 4u);  // the chunks of every shard ran
  EXPECT_THAT(results[40], StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_OK(results[41]);
  EXPECT_EQ(results[41]->timer.timer_id(), "chosen");
  ASSERT_OK(results[42]);
  EXPECT_EQ(results[42]->timer.idempotency_key(), "k1");
  EXPECT_THAT(results[43], StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(results[43].status().message(), "schedule is required");

  // Every created timer is in its shard's heap: each fires once, in due order.
  clock_.Advance(absl::Seconds(2));
  ASSERT_TRUE(listener_.WaitForCount(42));
  const std::map<std::string, int> by_timer = listener_.CountByTimer();
  EXPECT_EQ(by_timer.size(), 42u);
  for (const auto& [id, n] : by_timer) EXPECT_EQ(n, 1) << id;
  EXPECT_EQ(by_timer.count("taken"), 0u);
}

// Creates with idempotency keys or chosen ids share their shards' transactions in a
// CreateMany: each still gets what Create would have given it, one after the other.
TEST_F(EngineTest, CreateManyWithKeysAndChosenIdsActsAsCreatesOneAfterTheOther) {
  Open(4);
  auto keyed = [](std::string key, uint64_t fingerprint, std::string id = "") {
    CreateSpec spec = OneShot(std::move(id), kStart + absl::Seconds(1), "demo", fingerprint);
    spec.idempotency_key = std::move(key);
    return spec;
  };
  ASSERT_OK(Create(OneShot("taken", kStart + absl::Seconds(1), "demo", /*fingerprint=*/5)));
  ASSERT_OK_AND_ASSIGN(CreateResult earlier, Create(keyed("earlier", 9)));
  // A key on the shard of timer "taken": claiming it and inserting "taken" is one step.
  std::string same_shard_key;
  for (int j = 0; same_shard_key.empty(); ++j) {
    const std::string key = "kc-" + std::to_string(j);
    if (store_->ShardFor("default", key) == store_->ShardFor("default", "taken")) {
      same_shard_key = key;
    }
  }

  // Even i: generated ids (on their key's shard); odd i: chosen ids (mostly on another).
  auto id_for = [](int i) { return i % 2 == 0 ? std::string() : "chosen-" + std::to_string(i); };
  std::vector<CreateSpec> specs;
  for (int i = 0; i < 40; ++i) specs.push_back(keyed("k-" + std::to_string(i), 100 + i, id_for(i)));
  specs.push_back(keyed("dup", 50));  // 40: the same request twice in one batch
  specs.push_back(keyed("dup", 50));
  specs.push_back(keyed("dup2", 60));  // 42: a different request under the same key
  specs.push_back(keyed("dup2", 61));
  specs.push_back(keyed("earlier", 9));   // 44: a retry of an earlier create
  specs.push_back(keyed("earlier", 10));  // a different request under its key
  specs.push_back(OneShot("taken", kStart + absl::Seconds(1), "demo", 6));  // 46
  specs.push_back(OneShot("taken", kStart + absl::Seconds(1), "demo", 5));
  specs.push_back(OneShot("twin", kStart + absl::Seconds(1), "demo", 3));  // 48
  specs.push_back(OneShot("twin", kStart + absl::Seconds(1), "demo", 3));
  specs.push_back(keyed(same_shard_key, 7, "taken"));  // 50: its id is taken: fails whole
  std::vector<absl::StatusOr<CreateResult>> results = CreateMany(std::move(specs));
  ASSERT_EQ(results.size(), 51u);

  std::map<std::string, std::string> id_of_key;
  int same_shard = 0;
  int cross_shard = 0;
  for (int i = 0; i < 40; ++i) {
    ASSERT_OK(results[i]);
    EXPECT_TRUE(results[i]->created);
    const std::string key = "k-" + std::to_string(i);
    EXPECT_EQ(results[i]->timer.idempotency_key(), key);
    id_of_key[key] = results[i]->timer.timer_id();
    const bool colocated =
        store_->ShardFor("default", key) == store_->ShardFor("default", id_of_key[key]);
    if (id_for(i).empty()) {
      EXPECT_TRUE(colocated) << id_of_key[key];
    }
    (colocated ? same_shard : cross_shard)++;
  }
  EXPECT_GT(same_shard, 0);   // claimed and inserted in one transaction
  EXPECT_GT(cross_shard, 0);  // claimed, then inserted by the timer's shard
  ASSERT_OK(results[40]);
  ASSERT_OK(results[41]);
  EXPECT_TRUE(results[40]->created);
  EXPECT_FALSE(results[41]->created);
  EXPECT_EQ(results[41]->timer.timer_id(), results[40]->timer.timer_id());
  ASSERT_OK(results[42]);
  EXPECT_THAT(results[43], StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(results[43].status().message(),
            "idempotency key dup2 was used by a different request (timer " +
                results[42]->timer.timer_id() + ")");
  ASSERT_OK(results[44]);
  EXPECT_FALSE(results[44]->created);
  EXPECT_EQ(results[44]->timer.timer_id(), earlier.timer.timer_id());
  EXPECT_THAT(results[45], StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(results[46], StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_OK(results[47]);
  EXPECT_FALSE(results[47]->created);
  ASSERT_OK(results[48]);
  EXPECT_TRUE(results[48]->created);
  ASSERT_OK(results[49]);
  EXPECT_FALSE(results[49]->created);
  EXPECT_THAT(results[50], StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(results[50].status().message(), "timer taken already exists");

  // The failed create left its key unclaimed, as Create's single transaction would.
  ASSERT_OK_AND_ASSIGN(CreateResult free_key, Create(keyed(same_shard_key, 8)));
  EXPECT_TRUE(free_key.created);

  // Every new timer fires once: 40 keyed, dup, dup2, twin; plus taken, earlier, free_key.
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(listener_.WaitForCount(46));
  const std::map<std::string, int> by_timer = listener_.CountByTimer();
  EXPECT_EQ(by_timer.size(), 46u);
  for (const auto& [id, n] : by_timer) EXPECT_EQ(n, 1) << id;

  // The claims are durable: after a restart each retry gets its timer back.
  Close();
  Open(4);
  for (int i = 0; i < 40; ++i) {
    const std::string key = "k-" + std::to_string(i);
    ASSERT_OK_AND_ASSIGN(CreateResult again, Create(keyed(key, 100 + i, id_for(i))));
    EXPECT_FALSE(again.created);
    EXPECT_EQ(again.timer.timer_id(), id_of_key[key]);
  }
}

TEST_F(EngineTest, CreateManyOnClosedShardsFailsEverySpecOnce) {
  Open(4);
  for (int i = 0; i < store_->shard_count(); ++i) store_->shard(i)->Close();
  std::vector<CreateSpec> specs;
  for (int i = 0; i < 10; ++i) specs.push_back(OneShot("", kStart + absl::Seconds(1)));
  specs.push_back(OneShot("chosen", kStart + absl::Seconds(1)));
  std::vector<absl::StatusOr<CreateResult>> results = CreateMany(std::move(specs));
  ASSERT_EQ(results.size(), 11u);
  for (const auto& result : results) {
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kUnavailable));
  }
}

TEST_F(EngineTest, ListPagesAcrossShardsInIdOrderAndFilters) {
  Open(4);
  std::vector<CreateSpec> specs;
  std::vector<std::string> ids;
  for (int i = 0; i < 57; ++i) {
    char id[16];
    snprintf(id, sizeof(id), "id-%03d", i);
    ids.push_back(id);
    specs.push_back(OneShot(id, kStart + absl::Hours(1), i % 2 == 0 ? "even" : "odd"));
  }
  CreateSpec elsewhere = OneShot("id-000", kStart + absl::Hours(1));
  elsewhere.timer.set_namespace_("other");
  specs.push_back(elsewhere);
  CreateAll(std::move(specs));
  for (int i = 0; i < 57; i += 5) ASSERT_OK(Cancel(ids[i]));

  std::set<int> shards_used;
  for (const std::string& id : ids) shards_used.insert(store_->ShardFor("default", id));
  EXPECT_GT(shards_used.size(), 1u);

  // Pages of 10 return every id once, in order.
  std::vector<std::string> listed;
  v1::ListTimersRequest request;
  request.set_page_size(10);
  int pages = 0;
  do {
    ASSERT_OK_AND_ASSIGN(v1::ListTimersResponse page, engine_->List(request));
    EXPECT_LE(page.timers_size(), 10);
    for (const v1::Timer& t : page.timers()) {
      EXPECT_EQ(t.namespace_(), "default");
      listed.push_back(t.timer_id());
    }
    request.set_page_token(page.next_page_token());
    ++pages;
  } while (!request.page_token().empty() && pages < 100);
  EXPECT_EQ(listed, ids);
  EXPECT_EQ(pages, 6);

  // Default page size holds everything: no token.
  ASSERT_OK_AND_ASSIGN(v1::ListTimersResponse all, engine_->List(v1::ListTimersRequest()));
  EXPECT_EQ(all.timers_size(), 57);
  EXPECT_TRUE(all.next_page_token().empty());

  // Filters, also across pages.
  auto list_all = [&](v1::ListTimersRequest r) {
    std::vector<std::string> out;
    r.set_page_size(4);
    for (int guard = 0; guard < 100; ++guard) {
      absl::StatusOr<v1::ListTimersResponse> page = engine_->List(r);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (const v1::Timer& t : page->timers()) out.push_back(t.timer_id());
      if (page->next_page_token().empty()) break;
      r.set_page_token(page->next_page_token());
    }
    return out;
  };
  std::vector<std::string> even, cancelled, even_scheduled;
  for (int i = 0; i < 57; ++i) {
    if (i % 2 == 0) even.push_back(ids[i]);
    if (i % 5 == 0) cancelled.push_back(ids[i]);
    if (i % 2 == 0 && i % 5 != 0) even_scheduled.push_back(ids[i]);
  }
  v1::ListTimersRequest by_topic;
  by_topic.set_topic("even");
  EXPECT_EQ(list_all(by_topic), even);
  v1::ListTimersRequest by_state;
  by_state.set_state(v1::TIMER_STATE_CANCELLED);
  EXPECT_EQ(list_all(by_state), cancelled);
  v1::ListTimersRequest both = by_topic;
  both.set_state(v1::TIMER_STATE_SCHEDULED);
  EXPECT_EQ(list_all(both), even_scheduled);
  v1::ListTimersRequest other_ns;
  other_ns.set_namespace_("other");
  EXPECT_EQ(list_all(other_ns), std::vector<std::string>{"id-000"});

  v1::ListTimersRequest bad;
  bad.set_page_token("not a token");
  absl::StatusOr<v1::ListTimersResponse> bad_page = engine_->List(bad);
  EXPECT_THAT(bad_page, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(bad_page.status().message(), "page_token is malformed");
}

TEST_F(EngineTest, WallClockStepBackDoesNotFireEarly) {
  Open();
  ASSERT_OK(Create(OneShot("t1", kStart + absl::Seconds(5))));
  clock_.Set(kStart - absl::Hours(1));
  // A timer due just after the stepped-back time: when it has fired, the dispatcher has
  // run at the new time, and t1 (due later in the same heap) must not have fired.
  ASSERT_OK(Create(OneShot("sentinel", kStart - absl::Hours(1) + absl::Seconds(1))));
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(listener_.WaitForCount(1));
  EXPECT_EQ(listener_.fires()[0].timer_id(), "sentinel");
  EXPECT_EQ(engine_->Get("default", "t1")->state(), v1::TIMER_STATE_SCHEDULED);

  clock_.Set(kStart + absl::Seconds(5));
  ASSERT_TRUE(listener_.WaitForCount(2));
  EXPECT_EQ(listener_.fires()[1].timer_id(), "t1");
  EXPECT_EQ(FromProto(listener_.fires()[1].fire_time()), kStart + absl::Seconds(5));
}

TEST_F(EngineTest, WallClockStepForwardFiresWhatBecameDue) {
  Open(2);
  ASSERT_OK(Create(OneShot("soon", kStart + absl::Minutes(1))));
  ASSERT_OK(Create(OneShot("two-hours", kStart + absl::Hours(2))));
  ASSERT_OK(Create(OneShot("three-hours", kStart + absl::Hours(3))));
  clock_.Set(kStart + absl::Minutes(150));
  ASSERT_TRUE(listener_.WaitForCount(2));
  std::map<std::string, int> by_timer = listener_.CountByTimer();
  EXPECT_EQ(by_timer.count("soon"), 1u);
  EXPECT_EQ(by_timer.count("two-hours"), 1u);
  for (const v1::Fire& f : listener_.fires()) {
    EXPECT_EQ(FromProto(f.fire_time()), kStart + absl::Minutes(150));
  }
  EXPECT_EQ(engine_->Get("default", "three-hours")->state(), v1::TIMER_STATE_SCHEDULED);
  clock_.Set(kStart + absl::Hours(3));
  ASSERT_TRUE(listener_.WaitForCount(3));
  EXPECT_EQ(listener_.fires()[2].timer_id(), "three-hours");
  EXPECT_EQ(listener_.count(), 3u);
}

// An ack only deletes the delivery: the stored timer stays FIRED (no write on the hot path)
// and every read reports it COMPLETED. A dead letter writes DEAD_LETTERED.
TEST_F(EngineTest, AnAckedTimerReadsAsCompletedAndADeadLetteredOneIsMarked) {
  Open();
  ASSERT_OK(Create(OneShot("acked", kStart)));
  ASSERT_OK(Create(OneShot("dead", kStart)));
  ASSERT_OK(Create(OneShot("pending", kStart)));
  ASSERT_OK(Create(OneShot("waiting", kStart + absl::Hours(1))));
  ASSERT_TRUE(listener_.WaitForCount(3));
  storage::ShardStore* shard = store_->shard(0);
  ASSERT_OK(shard->SubmitAndWait([](storage::ShardTxn& txn) -> absl::Status {
    if (auto s = txn.DeleteDelivery("default", "acked@0"); !s.ok()) return s;
    if (auto s = txn.DeleteDelivery("default", "dead@0"); !s.ok()) return s;
    if (auto s = RecordDeadLettered(txn, "default", "dead@0"); !s.ok()) return s;
    // A scheduled timer is untouched, a missing one is no error.
    if (auto s = RecordDeadLettered(txn, "default", "waiting@0"); !s.ok()) return s;
    return RecordDeadLettered(txn, "default", "purged@0");
  }));
  ASSERT_OK_AND_ASSIGN(std::optional<internal::TimerRecord> stored,
                       shard->GetTimer("default", "acked"));
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->timer().state(), v1::TIMER_STATE_FIRED);

  ASSERT_OK_AND_ASSIGN(v1::Timer acked, engine_->Get("default", "acked"));
  EXPECT_EQ(acked.state(), v1::TIMER_STATE_COMPLETED);
  EXPECT_EQ(acked.version(), 2u);  // created, fired
  EXPECT_EQ(engine_->Get("default", "pending")->state(), v1::TIMER_STATE_FIRED);
  ASSERT_OK_AND_ASSIGN(v1::Timer dead, engine_->Get("default", "dead"));
  EXPECT_EQ(dead.state(), v1::TIMER_STATE_DEAD_LETTERED);
  EXPECT_EQ(dead.version(), 3u);
  ASSERT_OK_AND_ASSIGN(v1::Timer waiting, engine_->Get("default", "waiting"));
  EXPECT_EQ(waiting.state(), v1::TIMER_STATE_SCHEDULED);
  EXPECT_EQ(waiting.version(), 1u);

  // Listing filters by the state readers see.
  auto ids_in = [&](v1::TimerState state) {
    v1::ListTimersRequest request;
    request.set_state(state);
    std::vector<std::string> ids;
    absl::StatusOr<v1::ListTimersResponse> page = engine_->List(request);
    EXPECT_TRUE(page.ok()) << page.status();
    if (page.ok()) {
      for (const v1::Timer& t : page->timers()) ids.push_back(t.timer_id());
    }
    return ids;
  };
  EXPECT_THAT(ids_in(v1::TIMER_STATE_COMPLETED), ElementsAre("acked"));
  EXPECT_THAT(ids_in(v1::TIMER_STATE_FIRED), ElementsAre("pending"));
  EXPECT_THAT(ids_in(v1::TIMER_STATE_DEAD_LETTERED), ElementsAre("dead"));
  // State errors name the state readers see too.
  absl::StatusOr<v1::Timer> cancel = Cancel("acked");
  EXPECT_THAT(cancel, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(cancel.status().message()), HasSubstr("is COMPLETED"));

  EXPECT_THAT(shard->SubmitAndWait([](storage::ShardTxn& txn) {
    return RecordDeadLettered(txn, "default", "no-at-sign");
  }),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// Under a day of retention or more a flush writes an ended timer out even once expired: the next
// compaction drops it (every file is rewritten daily), and flushes need not read each one.
// Shorter retentions apply at flushes too (CrashRestartTest's graceful restart, retention 0).
TEST_F(EngineTest, UnderADayOfRetentionOrMoreFlushesLeaveExpiredTimersToCompactions) {
  EngineOptions options;
  options.retention = absl::Hours(24);
  Open(1, options);
  ASSERT_OK(Create(OneShot("acked", kStart)));
  ASSERT_TRUE(listener_.WaitForCount(1));
  storage::ShardStore* shard = store_->shard(0);
  ASSERT_OK(shard->SubmitAndWait(
      [](storage::ShardTxn& txn) { return txn.DeleteDelivery("default", "acked@0"); }));

  clock_.Set(kStart + absl::Hours(25));
  ASSERT_OK(shard->FlushMemtables(0));
  // Failed once in CI (ASan) and once in ~800 stressed runs, for a reason not found yet: the
  // message then says what RocksDB flushed and compacted.
  EXPECT_EQ(shard->GetRetentionStats().timers_removed, 0u) << FlushAndCompactionLog(dir_.path());
  EXPECT_OK(engine_->Get("default", "acked"));
  ASSERT_OK(shard->CompactRetained());
  EXPECT_EQ(shard->GetRetentionStats().timers_removed, 1u);
  EXPECT_THAT(engine_->Get("default", "acked"), StatusIs(absl::StatusCode::kNotFound));
}

// Ended timers (acked, dead-lettered, cancelled) and idempotency keys past --retention are
// dropped by the next compaction; a key past retention is unclaimed even before that.
TEST_F(EngineTest, RetentionRemovesEndedTimersAndForgetsKeys) {
  EngineOptions options;
  options.retention = absl::Hours(1);
  Open(2, options);
  ASSERT_OK(Create(OneShot("acked", kStart)));
  ASSERT_OK(Create(OneShot("dead", kStart)));
  ASSERT_OK(Create(OneShot("pending", kStart)));
  ASSERT_OK(Create(OneShot("waiting", kStart + absl::Hours(3))));
  ASSERT_OK(Create(OneShot("cancelled", kStart + absl::Hours(3))));
  CreateSpec keyed = OneShot("", kStart + absl::Hours(3));
  keyed.idempotency_key = "k";
  keyed.request_fingerprint = 9;
  ASSERT_OK_AND_ASSIGN(CreateResult first, Create(keyed));
  CreateSpec keyed_once = OneShot("", kStart + absl::Hours(3));
  keyed_once.idempotency_key = "k2";
  keyed_once.request_fingerprint = 10;
  ASSERT_OK(Create(keyed_once));
  ASSERT_TRUE(listener_.WaitForCount(3));
  for (const std::string id : {"acked", "dead"}) {
    ASSERT_OK(store_->shard(store_->ShardFor("default", id))
                  ->SubmitAndWait([&](storage::ShardTxn& txn) -> absl::Status {
                    const std::string fire_id = id + "@0";
                    CHIME_RETURN_IF_ERROR(txn.DeleteDelivery("default", fire_id));
                    if (id == "dead") return RecordDeadLettered(txn, "default", fire_id);
                    return absl::OkStatus();
                  }));
  }
  ASSERT_OK(Cancel("cancelled"));

  clock_.Set(kStart + absl::Minutes(59));
  ASSERT_OK_AND_ASSIGN(CreateResult retry, Create(keyed));
  EXPECT_FALSE(retry.created);
  EXPECT_EQ(retry.timer.timer_id(), first.timer.timer_id());
  for (int i = 0; i < store_->shard_count(); ++i) ASSERT_OK(store_->shard(i)->CompactRetained());
  for (const std::string id : {"acked", "dead", "cancelled"}) {
    EXPECT_OK(engine_->Get("default", id)) << id << " removed before its retention passed";
  }

  clock_.Set(kStart + absl::Minutes(61));
  ASSERT_OK_AND_ASSIGN(CreateResult after, Create(keyed));  // before any compaction
  EXPECT_TRUE(after.created);
  EXPECT_NE(after.timer.timer_id(), first.timer.timer_id());
  uint64_t timers_removed = 0;
  uint64_t keys_removed = 0;
  for (int i = 0; i < store_->shard_count(); ++i) {
    ASSERT_OK(store_->shard(i)->CompactRetained());
    timers_removed += store_->shard(i)->GetRetentionStats().timers_removed;
    keys_removed += store_->shard(i)->GetRetentionStats().idempotency_keys_removed;
  }
  for (const std::string id : {"acked", "dead", "cancelled"}) {
    EXPECT_THAT(engine_->Get("default", id), StatusIs(absl::StatusCode::kNotFound)) << id;
  }
  // Neither a timer that can still fire nor one whose fire is unacknowledged goes.
  EXPECT_EQ(engine_->Get("default", "pending")->state(), v1::TIMER_STATE_FIRED);
  EXPECT_EQ(engine_->Get("default", "waiting")->state(), v1::TIMER_STATE_SCHEDULED);
  EXPECT_EQ(engine_->Get("default", first.timer.timer_id())->state(), v1::TIMER_STATE_SCHEDULED);
  EXPECT_EQ(timers_removed, 3u);
  // "k2"'s claim; "k"'s first claim was overwritten by its second, which is new.
  EXPECT_EQ(keys_removed, 1u);
  ASSERT_OK_AND_ASSIGN(CreateResult retry_after, Create(keyed));
  EXPECT_FALSE(retry_after.created);
  EXPECT_EQ(retry_after.timer.timer_id(), after.timer.timer_id());
  // A removed id can be used again.
  ASSERT_OK_AND_ASSIGN(CreateResult reused, Create(OneShot("cancelled", kStart + absl::Hours(3))));
  EXPECT_TRUE(reused.created);
}

TEST_F(EngineTest, WithoutRetentionEndedTimersStay) {
  Open();
  ASSERT_OK(Create(OneShot("cancelled", kStart + absl::Hours(1))));
  ASSERT_OK(Cancel("cancelled"));
  clock_.Set(kStart + absl::Hours(24 * 365));
  ASSERT_OK(store_->shard(0)->CompactRetained());
  EXPECT_EQ(engine_->Get("default", "cancelled")->state(), v1::TIMER_STATE_CANCELLED);
  EXPECT_EQ(store_->shard(0)->GetRetentionStats().timers_removed, 0u);
}

TEST_F(EngineTest, StatsHaveOneEntryPerShard) {
  Open(3);
  const std::vector<ShardStats> stats = engine_->Stats();
  ASSERT_EQ(stats.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(stats[i].shard, i);
  EXPECT_EQ(engine_->clock(), &clock_);
  EXPECT_EQ(engine_->store(), store_.get());
}

}  // namespace
}  // namespace chime::engine
