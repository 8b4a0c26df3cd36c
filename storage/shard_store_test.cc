#include "storage/shard_store.h"

#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "storage/column_families.h"
#include "storage/store.h"
#include "storage/test_records.h"
#include "tests/testing/gated_wal_sync_fs.h"
#include "tests/testing/raw_rocksdb.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace chime::storage {
namespace {

using ::chime::testing::StatusIs;
using ::chime::testing::TempDir;

constexpr absl::Duration kWaitBound = absl::Seconds(60);

std::vector<std::string> FireIds(const std::vector<DeliveryRecord>& records) {
  std::vector<std::string> ids;
  for (const DeliveryRecord& r : records) ids.push_back(r.fire().fire_id());
  return ids;
}

class ShardStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open({.data_dir = dir_.path(), .shard_count = 1, .fsync = false});
    ASSERT_OK(store);
    store_ = std::move(*store);
    shard_ = store_->shard(0);
  }

  // Runs `fn` while the writer is busy with a blocking transaction, so that every
  // transaction `fn` submits lands in the same group.
  void InOneGroup(const std::function<void()>& fn) {
    // Shared: the blocker may still be inside WaitForNotification when this returns.
    auto entered = std::make_shared<absl::Notification>();
    auto release = std::make_shared<absl::Notification>();
    shard_->Submit(
        [entered, release](ShardTxn&) {
          entered->Notify();
          release->WaitForNotification();
          return absl::OkStatus();
        },
        nullptr);
    ASSERT_TRUE(entered->WaitForNotificationWithTimeout(kWaitBound));
    fn();
    release->Notify();
  }

  void Put(const TimerRecord& record) {
    ASSERT_OK(shard_->SubmitAndWait([&](ShardTxn& txn) {
      txn.PutTimer(record);
      return absl::OkStatus();
    }));
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  ShardStore* shard_ = nullptr;
};

// Collects the outcome of n submitted transactions.
class Outcomes {
 public:
  explicit Outcomes(size_t n) : statuses_(n), calls_(n, 0) {}
  TxnDone For(size_t i) {
    return [this, i](absl::Status s) {
      absl::MutexLock l(&mu_);
      statuses_[i] = std::move(s);
      ++calls_[i];
      ++total_;
    };
  }
  bool WaitAll() {
    absl::MutexLock l(&mu_);
    auto all = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return total_ >= statuses_.size(); };
    return mu_.AwaitWithTimeout(absl::Condition(&all), kWaitBound);
  }
  absl::Status status(size_t i) {
    absl::MutexLock l(&mu_);
    return statuses_[i];
  }
  int calls(size_t i) {
    absl::MutexLock l(&mu_);
    return calls_[i];
  }

 private:
  absl::Mutex mu_;
  std::vector<absl::Status> statuses_ ABSL_GUARDED_BY(mu_);
  std::vector<int> calls_ ABSL_GUARDED_BY(mu_);
  size_t total_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST_F(ShardStoreTest, TxnReadsItsOwnWritesAndEarlierWritesOfTheGroup) {
  Outcomes outcomes(2);
  std::optional<TimerRecord> seen_by_second;
  std::optional<TimerRecord> committed_during_group;
  InOneGroup([&] {
    shard_->Submit(
        [&](ShardTxn& txn) -> absl::Status {
          txn.PutTimer(MakeTimer("ns", "t1", "first"));
          CHIME_ASSIGN_OR_RETURN(auto own, txn.GetTimer("ns", "t1"));
          if (!own || own->timer().payload() != "first") return absl::InternalError("own write");
          return absl::OkStatus();
        },
        outcomes.For(0));
    shard_->Submit(
        [&](ShardTxn& txn) -> absl::Status {
          CHIME_ASSIGN_OR_RETURN(seen_by_second, txn.GetTimer("ns", "t1"));
          // Not committed yet: outside readers do not see the group's writes.
          CHIME_ASSIGN_OR_RETURN(committed_during_group, shard_->GetTimer("ns", "t1"));
          txn.PutTimer(MakeTimer("ns", "t1", "second"));
          return absl::OkStatus();
        },
        outcomes.For(1));
  });
  ASSERT_TRUE(outcomes.WaitAll());
  EXPECT_OK(outcomes.status(0));
  EXPECT_OK(outcomes.status(1));
  ASSERT_TRUE(seen_by_second.has_value());
  EXPECT_EQ(seen_by_second->timer().payload(), "first");
  EXPECT_FALSE(committed_during_group.has_value());
  ASSERT_OK_AND_ASSIGN(auto stored, shard_->GetTimer("ns", "t1"));
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->timer().payload(), "second");
}

TEST_F(ShardStoreTest, PrefetchedTimersReadAsTheGroupLeftThem) {
  Put(MakeTimer("ns", "t1", "stored1"));
  Put(MakeTimer("ns", "t2", "stored2"));
  Put(MakeTimer("ns", "t3", "stored3"));
  const std::vector<std::pair<absl::string_view, absl::string_view>> all = {
      {"ns", "t1"}, {"ns", "t2"}, {"ns", "t3"}, {"ns", "t4"}, {"ns", "t5"}, {"other", "t1"}};
  // The payload each read finds, "" for none, in the order of `all` (or the reverse).
  auto payloads = [&](ShardTxn& txn,
                      bool reverse = false) -> absl::StatusOr<std::vector<std::string>> {
    std::vector<std::string> found(all.size());
    TimerRecord record;
    for (size_t n = 0; n < all.size(); ++n) {
      const size_t i = reverse ? all.size() - 1 - n : n;
      CHIME_ASSIGN_OR_RETURN(bool present, txn.ReadTimer(all[i].first, all[i].second, &record));
      found[i] = present ? record.timer().payload() : "";
    }
    return found;
  };
  Outcomes outcomes(3);
  std::vector<std::string> first_read, second_read, reverse_read;
  std::optional<std::string> t3_bytes;
  InOneGroup([&] {
    shard_->Submit(
        [&](ShardTxn& txn) -> absl::Status {
          txn.PutTimer(MakeTimer("ns", "t5", "group5"));  // written before the read-ahead
          txn.PrefetchTimers(all);
          txn.PutTimer(MakeTimer("ns", "t1", "group1"));  // and after it
          txn.DeleteTimer("ns", "t2");
          CHIME_ASSIGN_OR_RETURN(first_read, payloads(txn));
          CHIME_ASSIGN_OR_RETURN(std::optional<absl::string_view> bytes,
                                 txn.GetTimerBytes("ns", "t3"));
          if (bytes.has_value()) t3_bytes = std::string(*bytes);
          return absl::OkStatus();
        },
        outcomes.For(0));
    shard_->Submit(
        [&](ShardTxn& txn) -> absl::Status {
          txn.PrefetchTimers(all);  // read ahead again, after the first one's writes
          CHIME_ASSIGN_OR_RETURN(second_read, payloads(txn));
          return absl::OkStatus();
        },
        outcomes.For(1));
    shard_->Submit(
        [&](ShardTxn& txn) -> absl::Status {
          txn.PrefetchTimers(all);  // then read in another order: each read looks itself
          CHIME_ASSIGN_OR_RETURN(reverse_read, payloads(txn, /*reverse=*/true));
          return absl::OkStatus();
        },
        outcomes.For(2));
  });
  ASSERT_TRUE(outcomes.WaitAll());
  ASSERT_OK(outcomes.status(0));
  ASSERT_OK(outcomes.status(1));
  ASSERT_OK(outcomes.status(2));
  const std::vector<std::string> expected = {"group1", "", "stored3", "", "group5", ""};
  EXPECT_EQ(first_read, expected);
  EXPECT_EQ(second_read, expected);
  EXPECT_EQ(reverse_read, expected);
  ASSERT_TRUE(t3_bytes.has_value());
  TimerRecord t3;
  ASSERT_TRUE(t3.ParseFromString(*t3_bytes));
  EXPECT_EQ(t3.timer().payload(), "stored3");
}

// The read-ahead holds views of the transaction's strings: it ends with the transaction, so
// a later one of the group never looks at them (ASan builds catch a look).
TEST_F(ShardStoreTest, AReadAheadEndsWithItsTransaction) {
  Put(MakeTimer("ns", "t1", "stored1"));
  Outcomes outcomes(2);
  std::optional<std::string> read;
  InOneGroup([&] {
    shard_->Submit(
        [&](ShardTxn& txn) -> absl::Status {
          const std::vector<std::string> strings = {"ns", "t1"};
          txn.PrefetchTimers({{strings[0], strings[1]}});
          return absl::OkStatus();  // without reading it
        },
        outcomes.For(0));
    shard_->Submit(
        [&](ShardTxn& txn) -> absl::Status {
          TimerRecord record;
          CHIME_ASSIGN_OR_RETURN(bool found, txn.ReadTimer("ns", "t1", &record));
          if (found) read = record.timer().payload();
          return absl::OkStatus();
        },
        outcomes.For(1));
  });
  ASSERT_TRUE(outcomes.WaitAll());
  ASSERT_OK(outcomes.status(0));
  ASSERT_OK(outcomes.status(1));
  EXPECT_EQ(read, "stored1");
}

TEST_F(ShardStoreTest, ReadTimerReplacesWhatTheRecordHeld) {
  TimerRecord labelled = MakeTimer("ns", "t1", "payload1");
  (*labelled.mutable_timer()->mutable_labels())["team"] = "a";
  labelled.set_due_us(5);
  Put(labelled);
  const TimerRecord plain = MakeTimer("ns", "t2");
  Put(plain);
  TimerRecord record;
  bool found_missing = true;
  std::string first, second;
  ASSERT_OK(shard_->SubmitAndWait([&](ShardTxn& txn) -> absl::Status {
    CHIME_ASSIGN_OR_RETURN(bool found, txn.ReadTimer("ns", "t1", &record));
    if (found) first = record.SerializeAsString();
    CHIME_ASSIGN_OR_RETURN(found, txn.ReadTimer("ns", "t2", &record));
    if (found) second = record.SerializeAsString();
    CHIME_ASSIGN_OR_RETURN(found_missing, txn.ReadTimer("ns", "t3", &record));
    return absl::OkStatus();
  }));
  EXPECT_EQ(first, labelled.SerializeAsString());
  EXPECT_EQ(second, plain.SerializeAsString());  // nothing of t1 left in it
  EXPECT_FALSE(found_missing);
}

TEST_F(ShardStoreTest, FailedTxnChangesNothingWhileOthersInTheGroupCommit) {
  Outcomes outcomes(3);
  std::optional<TimerRecord> third_saw_t2;
  std::optional<TimerRecord> third_saw_t1;
  InOneGroup([&] {
    shard_->Submit(
        [](ShardTxn& txn) {
          txn.PutTimer(MakeTimer("ns", "t1", "from-first"));
          return absl::OkStatus();
        },
        outcomes.For(0));
    shard_->Submit(
        [](ShardTxn& txn) {
          txn.PutTimer(MakeTimer("ns", "t1", "from-failed"));
          txn.PutTimer(MakeTimer("ns", "t2", "from-failed"));
          txn.PutDue(5, "ns", "t2");
          return absl::AlreadyExistsError("nope");
        },
        outcomes.For(1));
    shard_->Submit(
        [&](ShardTxn& txn) -> absl::Status {
          CHIME_ASSIGN_OR_RETURN(third_saw_t1, txn.GetTimer("ns", "t1"));
          CHIME_ASSIGN_OR_RETURN(third_saw_t2, txn.GetTimer("ns", "t2"));
          txn.PutTimer(MakeTimer("ns", "t3"));
          return absl::OkStatus();
        },
        outcomes.For(2));
  });
  ASSERT_TRUE(outcomes.WaitAll());
  EXPECT_OK(outcomes.status(0));
  EXPECT_THAT(outcomes.status(1), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(outcomes.status(1).message(), "nope");
  EXPECT_OK(outcomes.status(2));
  ASSERT_TRUE(third_saw_t1.has_value());
  EXPECT_EQ(third_saw_t1->timer().payload(), "from-first");
  EXPECT_FALSE(third_saw_t2.has_value());

  ASSERT_OK_AND_ASSIGN(auto t1, shard_->GetTimer("ns", "t1"));
  ASSERT_TRUE(t1.has_value());
  EXPECT_EQ(t1->timer().payload(), "from-first");
  ASSERT_OK_AND_ASSIGN(auto t2, shard_->GetTimer("ns", "t2"));
  EXPECT_FALSE(t2.has_value());
  ASSERT_OK_AND_ASSIGN(auto t3, shard_->GetTimer("ns", "t3"));
  EXPECT_TRUE(t3.has_value());
  std::vector<DueEntry> due;
  bool more = true;
  ASSERT_OK(shard_->ScanDue(std::nullopt, INT64_MAX, 10, &due, &more));
  EXPECT_TRUE(due.empty());
  EXPECT_FALSE(more);
}

TEST_F(ShardStoreTest, GroupOfOnlyFailedTxnsWritesNothingAndReportsEachError) {
  Outcomes outcomes(2);
  InOneGroup([&] {
    for (size_t i = 0; i < 2; ++i) {
      shard_->Submit(
          [i](ShardTxn& txn) {
            txn.PutTimer(MakeTimer("ns", "t"));
            return absl::InvalidArgumentError(absl::StrCat("bad ", i));
          },
          outcomes.For(i));
    }
  });
  ASSERT_TRUE(outcomes.WaitAll());
  EXPECT_EQ(outcomes.status(0).message(), "bad 0");
  EXPECT_EQ(outcomes.status(1).message(), "bad 1");
  ASSERT_OK_AND_ASSIGN(auto t, shard_->GetTimer("ns", "t"));
  EXPECT_FALSE(t.has_value());
}

TEST(ShardStoreConcurrencyTest, ConcurrentSubmitsAllLandAndEachDoneRunsOnce) {
  TempDir dir;
  // fsync on: this is the group-commit path chimed runs by default.
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open({.data_dir = dir.path(), .shard_count = 1}));
  ShardStore* shard = store->shard(0);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  Outcomes outcomes(kThreads * kPerThread);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        size_t n = static_cast<size_t>(t * kPerThread + i);
        std::string id = absl::StrCat("t", n);
        shard->Submit(
            [id](ShardTxn& txn) {
              txn.PutTimer(MakeTimer("ns", id));
              txn.PutDue(1000, "ns", id);
              return absl::OkStatus();
            },
            outcomes.For(n));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(outcomes.WaitAll());
  for (size_t n = 0; n < kThreads * kPerThread; ++n) {
    EXPECT_EQ(outcomes.calls(n), 1) << n;
    EXPECT_OK(outcomes.status(n));
  }
  size_t count = 0;
  ASSERT_OK(shard->ScanTimers("ns", "", [&](const TimerRecord&) {
    ++count;
    return true;
  }));
  EXPECT_EQ(count, size_t{kThreads * kPerThread});
  std::vector<DueEntry> due;
  bool more = false;
  ASSERT_OK(shard->ScanDue(std::nullopt, INT64_MAX, 100000, &due, &more));
  EXPECT_EQ(due.size(), size_t{kThreads * kPerThread});
}

// WAL syncs so far, from RocksDB's own counters ("Cumulative WAL: N writes, M syncs, ...").

TxnFn PutTimerTxn(const std::string& id) {
  return [id](ShardTxn& txn) {
    txn.PutTimer(MakeTimer("ns", id));
    return absl::OkStatus();
  };
}

TEST(ShardStoreSyncTest, LazyTxnsSkipTheFsyncAndAreSyncedByTheNextDurableOne) {
  TempDir dir;
  auto fs = std::make_shared<::chime::testing::GatedWalSyncFs>();  // never held: counts syncs
  std::unique_ptr<rocksdb::Env> env = ::chime::testing::NewEnvOn(fs);
  ASSERT_OK_AND_ASSIGN(auto store,
                       Store::Open({.data_dir = dir.path(), .shard_count = 1, .env = env.get()}));
  ShardStore* shard = store->shard(0);
  auto submit = [&](const std::string& id, ShardStore::Sync sync) {
    absl::Notification done;
    absl::Status result;
    shard->Submit(
        PutTimerTxn(id),
        [&](absl::Status s) {
          result = std::move(s);
          done.Notify();
        },
        sync);
    EXPECT_TRUE(done.WaitForNotificationWithTimeout(kWaitBound));
    return result;
  };
  const int64_t before = fs->syncs();
  ASSERT_OK(submit("lazy", ShardStore::Sync::kLazy));
  EXPECT_EQ(fs->syncs(), before);  // written, not synced
  ASSERT_OK_AND_ASSIGN(auto lazy, shard->GetTimer("ns", "lazy"));
  EXPECT_TRUE(lazy.has_value());
  ASSERT_OK(submit("durable", ShardStore::Sync::kDurable));
  EXPECT_EQ(fs->syncs(), before + 1);  // one sync covers both (the WAL is sequential)
}

TEST(ShardStoreSyncTest, WritesGoOnWhileASyncWaitsForTheDisk) {
  TempDir dir;
  auto fs = std::make_shared<::chime::testing::GatedWalSyncFs>();
  std::unique_ptr<rocksdb::Env> env = ::chime::testing::NewEnvOn(fs);
  ASSERT_OK_AND_ASSIGN(auto store,
                       Store::Open({.data_dir = dir.path(), .shard_count = 1, .env = env.get()}));
  ShardStore* shard = store->shard(0);

  fs->Hold();
  absl::Notification durable_done;
  absl::Status durable_status;
  shard->Submit(PutTimerTxn("durable"), [&](absl::Status s) {
    durable_status = std::move(s);
    durable_done.Notify();
  });
  ASSERT_TRUE(fs->AwaitSyncWaiting(kWaitBound));  // the durable write's sync is stuck

  // A lazy write, and the done of a failed durable one, do not wait for that sync.
  absl::Notification lazy_done;
  absl::Status lazy_status;
  shard->Submit(
      PutTimerTxn("lazy"),
      [&](absl::Status s) {
        lazy_status = std::move(s);
        lazy_done.Notify();
      },
      ShardStore::Sync::kLazy);
  ASSERT_TRUE(lazy_done.WaitForNotificationWithTimeout(kWaitBound));
  EXPECT_OK(lazy_status);
  EXPECT_THAT(shard->SubmitAndWait([](ShardTxn&) { return absl::InvalidArgumentError("no"); }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(durable_done.HasBeenNotified());  // not reported before its sync
  ASSERT_OK_AND_ASSIGN(auto lazy, shard->GetTimer("ns", "lazy"));
  EXPECT_TRUE(lazy.has_value());

  fs->Release();
  ASSERT_TRUE(durable_done.WaitForNotificationWithTimeout(kWaitBound));
  EXPECT_OK(durable_status);
  // A durable write submitted now is synced and reported as usual.
  EXPECT_OK(shard->SubmitAndWait(PutTimerTxn("after")));
}

// Records the order in which dones ran and their statuses.
class DoneLog {
 public:
  TxnDone For(std::string name) {
    return [this, name = std::move(name)](absl::Status s) {
      absl::MutexLock l(&mu_);
      names_.push_back(name);
      statuses_.push_back(std::move(s));
    };
  }
  bool AwaitCount(size_t n, absl::Duration bound = kWaitBound) {
    absl::MutexLock l(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return names_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), bound);
  }
  std::vector<std::string> names() {
    absl::MutexLock l(&mu_);
    return names_;
  }
  bool AllOk() {
    absl::MutexLock l(&mu_);
    for (const absl::Status& s : statuses_) {
      if (!s.ok()) return false;
    }
    return true;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> names_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Status> statuses_ ABSL_GUARDED_BY(mu_);
};

TEST(ShardStoreSyncTest, WriteStatsCountGroupsTransactionsAndWhatEachSyncCarried) {
  TempDir dir;
  auto fs = std::make_shared<::chime::testing::GatedWalSyncFs>();
  std::unique_ptr<rocksdb::Env> env = ::chime::testing::NewEnvOn(fs);
  ASSERT_OK_AND_ASSIGN(auto store,
                       Store::Open({.data_dir = dir.path(), .shard_count = 1, .env = env.get()}));
  ShardStore* shard = store->shard(0);
  const ShardStore::WriteStats before = shard->GetWriteStats();
  EXPECT_EQ(before.groups, 0u);
  EXPECT_EQ(before.wal_syncs, 0u);
  const int64_t fs_syncs_before = fs->syncs();

  // The first durable write's sync is held for a while; three more are written meanwhile and
  // all three are answered after the next sync.
  fs->Hold();
  DoneLog log;
  shard->Submit(PutTimerTxn("first"), log.For("first"));
  ASSERT_TRUE(fs->AwaitSyncWaiting(kWaitBound));
  absl::Notification written;
  for (const char* id : {"a", "b", "c"}) shard->Submit(PutTimerTxn(id), log.For(id));
  shard->Submit([](ShardTxn&) { return absl::OkStatus(); }, [&](absl::Status) { written.Notify(); },
                ShardStore::Sync::kLazy);
  ASSERT_TRUE(written.WaitForNotificationWithTimeout(kWaitBound));
  absl::SleepFor(absl::Milliseconds(20));  // the held sync lasts at least this long
  fs->Release();
  ASSERT_TRUE(log.AwaitCount(4));
  EXPECT_TRUE(log.AllOk());
  EXPECT_THAT(shard->SubmitAndWait([](ShardTxn&) { return absl::InvalidArgumentError("no"); }),
              StatusIs(absl::StatusCode::kInvalidArgument));

  const ShardStore::WriteStats after = shard->GetWriteStats();
  EXPECT_EQ(after.transactions, 6u);  // 4 durable, 1 lazy, 1 failed (run, nothing written)
  EXPECT_GE(after.groups, 2u);        // "first" alone, then the others in one group or more
  EXPECT_LE(after.groups, 5u);
  EXPECT_EQ(after.wal_syncs, 2u);
  EXPECT_EQ(static_cast<int64_t>(after.wal_syncs), fs->syncs() - fs_syncs_before);
  EXPECT_EQ(after.synced_transactions, 4u);
  EXPECT_GE(after.wal_sync_time, absl::Milliseconds(20));
}

TEST(ShardStoreSyncTest, DeferredTxnsWaitForTheNextDurableSyncAndShareIt) {
  TempDir dir;
  auto fs = std::make_shared<::chime::testing::GatedWalSyncFs>();  // never held: counts syncs
  std::unique_ptr<rocksdb::Env> env = ::chime::testing::NewEnvOn(fs);
  // Longer than any test: only a durable write (or Close) can sync them.
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open({.data_dir = dir.path(),
                                                .shard_count = 1,
                                                .deferred_sync_delay = absl::Hours(1),
                                                .env = env.get()}));
  ShardStore* shard = store->shard(0);
  const int64_t before = fs->syncs();
  DoneLog log;
  for (const char* id : {"ack1", "ack2", "ack3"}) {
    shard->Submit(PutTimerTxn(id), log.For(id), ShardStore::Sync::kDeferred);
  }
  // Written (a read sees the last one) but neither synced nor reported. A lazy no-op is
  // reported once written, after them (the writer keeps submission order).
  absl::Notification written;
  shard->Submit([](ShardTxn&) { return absl::OkStatus(); }, [&](absl::Status) { written.Notify(); },
                ShardStore::Sync::kLazy);
  ASSERT_TRUE(written.WaitForNotificationWithTimeout(kWaitBound));
  ASSERT_OK_AND_ASSIGN(auto last, shard->GetTimer("ns", "ack3"));
  EXPECT_TRUE(last.has_value());
  EXPECT_EQ(fs->syncs(), before);
  EXPECT_TRUE(log.names().empty());

  shard->Submit(PutTimerTxn("create"), log.For("create"), ShardStore::Sync::kDurable);
  ASSERT_TRUE(log.AwaitCount(4));
  EXPECT_EQ(log.names(), (std::vector<std::string>{"ack1", "ack2", "ack3", "create"}));
  EXPECT_TRUE(log.AllOk());
  EXPECT_EQ(fs->syncs(), before + 1);  // one sync for all four
}

TEST(ShardStoreSyncTest, DeferredTxnsWaitToBeWrittenWithTheNextPromptTxn) {
  TempDir dir;
  DoneLog log;  // outlives the store: the deferred done runs when the store closes
  // Longer than any test: only another kind of write (or Close) can write them.
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open({.data_dir = dir.path(),
                                                .shard_count = 1,
                                                .deferred_sync_delay = absl::Hours(1)}));
  ShardStore* shard = store->shard(0);
  shard->Submit(PutTimerTxn("ack"), log.For("ack"), ShardStore::Sync::kDeferred);
  // Alone, it is not written: a writer would take it within microseconds, so 100 ms of
  // looking is ample (a bounded check of an absence, which has no event to wait for).
  const absl::Time look_until = absl::Now() + absl::Milliseconds(100);
  while (absl::Now() < look_until) {
    ASSERT_OK_AND_ASSIGN(auto early, shard->GetTimer("ns", "ack"));
    ASSERT_FALSE(early.has_value());
    absl::SleepFor(absl::Milliseconds(1));
  }
  // A lazy transaction submitted later shares the deferred one's group: inside it, the
  // deferred write is in the group's batch (the transaction reads it) but not yet in the
  // database (a plain read does not).
  bool in_batch = false;
  std::optional<bool> in_db;
  absl::Notification written;
  shard->Submit(
      [&](ShardTxn& txn) -> absl::Status {
        CHIME_ASSIGN_OR_RETURN(auto from_txn, txn.GetTimer("ns", "ack"));
        in_batch = from_txn.has_value();
        CHIME_ASSIGN_OR_RETURN(auto from_db, shard->GetTimer("ns", "ack"));
        in_db = from_db.has_value();
        return absl::OkStatus();
      },
      [&](absl::Status) { written.Notify(); }, ShardStore::Sync::kLazy);
  ASSERT_TRUE(written.WaitForNotificationWithTimeout(kWaitBound));
  EXPECT_TRUE(in_batch);
  ASSERT_TRUE(in_db.has_value());
  EXPECT_FALSE(*in_db);
  ASSERT_OK_AND_ASSIGN(auto after, shard->GetTimer("ns", "ack"));
  EXPECT_TRUE(after.has_value());
  store.reset();  // syncs and reports it without waiting for the delay
  EXPECT_EQ(log.names(), std::vector<std::string>{"ack"});
  EXPECT_TRUE(log.AllOk());
}

TEST(ShardStoreSyncTest, DeferredTxnsAloneAreSyncedAfterTheDelay) {
  TempDir dir;
  auto fs = std::make_shared<::chime::testing::GatedWalSyncFs>();
  std::unique_ptr<rocksdb::Env> env = ::chime::testing::NewEnvOn(fs);
  constexpr absl::Duration kDelay = absl::Milliseconds(30);
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open({.data_dir = dir.path(),
                                                .shard_count = 1,
                                                .deferred_sync_delay = kDelay,
                                                .env = env.get()}));
  ShardStore* shard = store->shard(0);
  const int64_t before = fs->syncs();
  DoneLog log;
  const absl::Time submitted = absl::Now();
  shard->Submit(PutTimerTxn("ack"), log.For("ack"), ShardStore::Sync::kDeferred);
  ASSERT_TRUE(log.AwaitCount(1));
  // Not before the delay: that is the point of deferring (a lower bound, not a timing test).
  EXPECT_GE(absl::Now() - submitted, kDelay);
  EXPECT_TRUE(log.AllOk());
  EXPECT_EQ(fs->syncs(), before + 1);
}

TEST(ShardStoreSyncTest, CloseSyncsAndReportsDeferredTxnsWithoutWaitingForTheDelay) {
  TempDir dir;
  auto fs = std::make_shared<::chime::testing::GatedWalSyncFs>();
  std::unique_ptr<rocksdb::Env> env = ::chime::testing::NewEnvOn(fs);
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open({.data_dir = dir.path(),
                                                .shard_count = 1,
                                                .deferred_sync_delay = absl::Hours(1),
                                                .env = env.get()}));
  const int64_t before = fs->syncs();
  DoneLog log;
  store->shard(0)->Submit(PutTimerTxn("ack"), log.For("ack"), ShardStore::Sync::kDeferred);
  store->shard(0)->Close();
  ASSERT_TRUE(log.AwaitCount(1));
  EXPECT_TRUE(log.AllOk());
  EXPECT_GE(fs->syncs(), before + 1);
}

// SubmitOnThisThread: a unary create's thread writes, syncs and answers when nobody else
// writes; otherwise the shard's threads do, in the order Submit promises.
struct GatedStoreSetup {
  int shard_count = 1;
  absl::Duration deferred_sync_delay = StoreOptions().deferred_sync_delay;
};

class ShardStoreOnThisThreadTest : public ::testing::Test {
 protected:
  // A store whose WAL syncs fs_ can hold (and counts).
  void Open(GatedStoreSetup setup = {}) {
    env_ = ::chime::testing::NewEnvOn(fs_);
    ASSERT_OK_AND_ASSIGN(store_, Store::Open({.data_dir = dir_.path(),
                                              .shard_count = setup.shard_count,
                                              .deferred_sync_delay = setup.deferred_sync_delay,
                                              .env = env_.get()}));
  }

  TempDir dir_;
  std::shared_ptr<::chime::testing::GatedWalSyncFs> fs_ =
      std::make_shared<::chime::testing::GatedWalSyncFs>();
  std::unique_ptr<rocksdb::Env> env_;
  // For dones that a broken store would run only when it closes.
  DoneLog outliving_log_;
  std::unique_ptr<Store> store_;
};

TEST_F(ShardStoreOnThisThreadTest, AnIdleShardIsWrittenSyncedAndAnsweredOnTheCallingThread) {
  ASSERT_NO_FATAL_FAILURE(Open());
  ShardStore* shard = store_->shard(0);
  const int64_t before = fs_->syncs();
  std::optional<absl::Status> status;
  std::thread::id answered_on;
  shard->SubmitOnThisThread(PutTimerTxn("a"), [&](absl::Status s) {
    status = std::move(s);
    answered_on = std::this_thread::get_id();
  });
  ASSERT_TRUE(status.has_value());  // answered before the call returned
  EXPECT_OK(*status);
  EXPECT_EQ(answered_on, std::this_thread::get_id());
  EXPECT_EQ(fs_->syncs(), before + 1);
  ASSERT_OK_AND_ASSIGN(auto a, shard->GetTimer("ns", "a"));
  EXPECT_TRUE(a.has_value());
  EXPECT_EQ(shard->GetWriteStats().synced_transactions, 1u);
}

TEST_F(ShardStoreOnThisThreadTest, WhileTheWriterIsBusyItIsQueuedForTheWriter) {
  ASSERT_NO_FATAL_FAILURE(Open());
  ShardStore* shard = store_->shard(0);
  absl::Notification writer_in, let_writer_go;
  shard->Submit(
      [&](ShardTxn&) {
        writer_in.Notify();
        let_writer_go.WaitForNotification();
        return absl::OkStatus();
      },
      nullptr);
  ASSERT_TRUE(writer_in.WaitForNotificationWithTimeout(kWaitBound));
  absl::Notification answered;
  std::thread::id answered_on;
  shard->SubmitOnThisThread(PutTimerTxn("b"), [&](absl::Status s) {
    EXPECT_OK(s);
    answered_on = std::this_thread::get_id();
    answered.Notify();
  });
  EXPECT_FALSE(answered.HasBeenNotified());
  let_writer_go.Notify();
  ASSERT_TRUE(answered.WaitForNotificationWithTimeout(kWaitBound));
  EXPECT_NE(answered_on, std::this_thread::get_id());
}

TEST_F(ShardStoreOnThisThreadTest, ItsDonesWaitForTheSyncersEarlierOnes) {
  ASSERT_NO_FATAL_FAILURE(Open());
  ShardStore* shard = store_->shard(0);
  DoneLog log;
  absl::Notification first_answering, let_first_finish;
  fs_->Hold();
  shard->Submit(PutTimerTxn("first"), [&](absl::Status s) {
    first_answering.Notify();
    // Bounded, so that a broken order fails the test instead of hanging it.
    let_first_finish.WaitForNotificationWithTimeout(kWaitBound);
    log.For("first")(std::move(s));
  });
  ASSERT_TRUE(fs_->AwaitSyncWaiting(kWaitBound));  // the syncer is stuck syncing "first"
  // This thread may find the writer still holding the write role and leave "second" to it,
  // or write it and sync it itself; either way "first" is answered first.
  std::thread request_thread(
      [&] { shard->SubmitOnThisThread(PutTimerTxn("second"), log.For("second")); });
  fs_->Release();
  ASSERT_TRUE(first_answering.WaitForNotificationWithTimeout(kWaitBound));
  // "second" is synced by now or soon, but not answered while "first" is being answered:
  // 100 ms of looking is ample (a bounded check of an absence, which has no event to wait for).
  EXPECT_FALSE(log.AwaitCount(1, absl::Milliseconds(100)));
  let_first_finish.Notify();
  ASSERT_TRUE(log.AwaitCount(2));
  request_thread.join();
  EXPECT_EQ(log.names(), (std::vector<std::string>{"first", "second"}));
  EXPECT_TRUE(log.AllOk());
}

TEST_F(ShardStoreOnThisThreadTest, ItsSyncAnswersDeferredTxnsWrittenBeforeItFirst) {
  ASSERT_NO_FATAL_FAILURE(Open({.deferred_sync_delay = absl::Hours(1)}));
  ShardStore* shard = store_->shard(0);
  // The writer answers a lazy transaction before it hands the write role back, so the
  // create may still find it writing and go to the writer: then the syncer answers both, in
  // the same order. Each round checks the order; some round must see this thread sync.
  bool synced_here = false;
  for (int round = 0; round < 50 && !synced_here; ++round) {
    DoneLog log;
    const std::string ack = absl::StrCat("ack", round);
    const std::string create = absl::StrCat("create", round);
    shard->Submit(PutTimerTxn(ack), log.For(ack), ShardStore::Sync::kDeferred);
    // A lazy no-op gets the ack written; its sync still waits (for an hour).
    absl::Notification written;
    shard->Submit([](ShardTxn&) { return absl::OkStatus(); },
                  [&](absl::Status) { written.Notify(); }, ShardStore::Sync::kLazy);
    ASSERT_TRUE(written.WaitForNotificationWithTimeout(kWaitBound));
    const int64_t before = fs_->syncs();
    shard->SubmitOnThisThread(PutTimerTxn(create), log.For(create));
    synced_here = log.names().size() == 2;
    ASSERT_TRUE(log.AwaitCount(2));
    EXPECT_EQ(log.names(), (std::vector<std::string>{ack, create}));
    EXPECT_TRUE(log.AllOk());
    EXPECT_EQ(fs_->syncs(), before + 1);  // one sync for both
  }
  EXPECT_TRUE(synced_here);
}

TEST_F(ShardStoreOnThisThreadTest, TheSyncerStillServesAfterARequestThreadTookWhatItWaitedOn) {
  constexpr absl::Duration kDelay = absl::Milliseconds(100);
  ASSERT_NO_FATAL_FAILURE(Open({.deferred_sync_delay = kDelay}));
  ShardStore* shard = store_->shard(0);
  // As in the test above, a round may find the writer still writing; some round must not.
  bool synced_here = false;
  for (int round = 0; round < 50 && !synced_here; ++round) {
    DoneLog log;
    shard->Submit(PutTimerTxn("ack"), log.For("ack"), ShardStore::Sync::kDeferred);
    absl::Notification written;
    shard->Submit([](ShardTxn&) { return absl::OkStatus(); },
                  [&](absl::Status) { written.Notify(); }, ShardStore::Sync::kLazy);
    ASSERT_TRUE(written.WaitForNotificationWithTimeout(kWaitBound));
    // The ack waits for the syncer's deadline; this thread syncs it first.
    shard->SubmitOnThisThread(PutTimerTxn("create"), log.For("create"));
    synced_here = log.names().size() == 2;
    ASSERT_TRUE(log.AwaitCount(2));
  }
  ASSERT_TRUE(synced_here);
  // Past the syncer's deadline, it wakes to find nothing left: it must keep serving. Nothing
  // marks that moment, so wait it out.
  absl::SleepFor(3 * kDelay);
  shard->Submit(PutTimerTxn("later"), outliving_log_.For("later"));
  EXPECT_TRUE(outliving_log_.AwaitCount(1));
  EXPECT_TRUE(outliving_log_.AllOk());
}

TEST_F(ShardStoreOnThisThreadTest, WhileItSyncsTheWriterWritesAndLaterDonesWaitTheirTurn) {
  ASSERT_NO_FATAL_FAILURE(Open());
  ShardStore* shard = store_->shard(0);
  DoneLog log;
  fs_->Hold();
  std::thread::id create_answered_on;
  std::thread request_thread([&] {
    shard->SubmitOnThisThread(PutTimerTxn("create"), [&](absl::Status s) {
      create_answered_on = std::this_thread::get_id();
      log.For("create")(std::move(s));
    });
  });
  ASSERT_TRUE(fs_->AwaitSyncWaiting(kWaitBound));  // the request thread is stuck in its sync
  // A fire is written (and, being lazy, answered) while that sync waits.
  absl::Notification fire_written;
  shard->Submit(
      PutTimerTxn("fire"),
      [&](absl::Status s) {
        EXPECT_OK(s);
        fire_written.Notify();
      },
      ShardStore::Sync::kLazy);
  ASSERT_TRUE(fire_written.WaitForNotificationWithTimeout(kWaitBound));
  // Durable ones submitted now are answered after the create, in order; the second is
  // queued for the request thread, so this call returns at once.
  shard->Submit(PutTimerTxn("later"), log.For("later"));
  shard->SubmitOnThisThread(PutTimerTxn("queued"), log.For("queued"));
  EXPECT_TRUE(log.names().empty());
  const std::thread::id request_thread_id = request_thread.get_id();
  fs_->Release();
  request_thread.join();
  ASSERT_TRUE(log.AwaitCount(3));
  EXPECT_EQ(log.names(), (std::vector<std::string>{"create", "later", "queued"}));
  EXPECT_TRUE(log.AllOk());
  EXPECT_EQ(create_answered_on, request_thread_id);
}

TEST_F(ShardStoreOnThisThreadTest, OneRequestThreadOfTheStoreWritesAtATime) {
  ASSERT_NO_FATAL_FAILURE(Open({.shard_count = 2}));
  DoneLog log;
  fs_->Hold();
  std::thread request_thread(
      [&] { store_->shard(0)->SubmitOnThisThread(PutTimerTxn("a"), log.For("a")); });
  ASSERT_TRUE(fs_->AwaitSyncWaiting(kWaitBound));
  // Returns although shard 1 is idle: its writer and syncer take "b" (this thread would
  // otherwise block at the held gate).
  store_->shard(1)->SubmitOnThisThread(PutTimerTxn("b"), log.For("b"));
  EXPECT_TRUE(log.names().empty());
  fs_->Release();
  request_thread.join();
  ASSERT_TRUE(log.AwaitCount(2));
  EXPECT_TRUE(log.AllOk());
  // The slot is free again.
  store_->shard(0)->SubmitOnThisThread(PutTimerTxn("c"), log.For("c"));
  ASSERT_TRUE(log.AwaitCount(3));
  EXPECT_TRUE(log.AllOk());
}

TEST_F(ShardStoreOnThisThreadTest, CloseWaitsForARequestThreadStillSyncing) {
  ASSERT_NO_FATAL_FAILURE(Open());
  ShardStore* shard = store_->shard(0);
  DoneLog log;
  fs_->Hold();
  std::thread request_thread(
      [&] { shard->SubmitOnThisThread(PutTimerTxn("create"), log.For("create")); });
  ASSERT_TRUE(fs_->AwaitSyncWaiting(kWaitBound));
  std::thread closer([&] {
    shard->Close();
    log.For("closed")(absl::OkStatus());
  });
  // Close cannot finish while the sync is held: 100 ms of looking is ample (a bounded check
  // of an absence, which has no event to wait for).
  EXPECT_FALSE(log.AwaitCount(1, absl::Milliseconds(100)));
  fs_->Release();
  request_thread.join();
  closer.join();
  EXPECT_EQ(log.names(), (std::vector<std::string>{"create", "closed"}));
  EXPECT_TRUE(log.AllOk());
}

TEST_F(ShardStoreTest, SubmitAfterCloseIsUnavailableAndQueuedWorkStillRuns) {
  Outcomes outcomes(2);
  std::thread closer;
  InOneGroup([&] {
    shard_->Submit(
        [](ShardTxn& txn) {
          txn.PutTimer(MakeTimer("ns", "queued"));
          return absl::OkStatus();
        },
        outcomes.For(0));
    // Close waits for the writer, which is blocked until this returns: whenever Close
    // stops intake, the transaction queued before it must still run.
    closer = std::thread([this] { shard_->Close(); });
  });
  closer.join();
  shard_->Close();  // idempotent
  bool ran = false;
  shard_->Submit(
      [&](ShardTxn&) {
        ran = true;
        return absl::OkStatus();
      },
      outcomes.For(1));
  ASSERT_TRUE(outcomes.WaitAll());
  EXPECT_OK(outcomes.status(0));
  EXPECT_THAT(outcomes.status(1), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_FALSE(ran);
  EXPECT_THAT(shard_->SubmitAndWait([](ShardTxn&) { return absl::OkStatus(); }),
              StatusIs(absl::StatusCode::kUnavailable));
  // Reads keep working after Close.
  ASSERT_OK_AND_ASSIGN(auto queued, shard_->GetTimer("ns", "queued"));
  EXPECT_TRUE(queued.has_value());
}

TEST_F(ShardStoreTest, ScanDuePagesWithCursorsAndReportsMore) {
  // Negative times sort first; ties on time order by (ns, id), with "a" before "ab".
  std::vector<DueEntry> entries = {
      {-5, "ns", "neg"}, {0, "ns", "zero"}, {10, "a", "z"},  {10, "ab", "a"},
      {10, "ab", "b"},   {20, "ns", "x"},   {30, "ns", "y"},
  };
  ASSERT_OK(shard_->SubmitAndWait([&](ShardTxn& txn) {
    for (const DueEntry& e : entries) txn.PutDue(e.due_us, e.ns, e.timer_id);
    return absl::OkStatus();
  }));

  std::vector<DueEntry> page;
  bool more = false;
  ASSERT_OK(shard_->ScanDue(std::nullopt, 20, 3, &page, &more));
  EXPECT_EQ(page, (std::vector<DueEntry>{entries[0], entries[1], entries[2]}));
  EXPECT_TRUE(more);

  ASSERT_OK(shard_->ScanDue(page.back(), 20, 3, &page, &more));
  EXPECT_EQ(page, (std::vector<DueEntry>{entries[3], entries[4], entries[5]}));
  EXPECT_FALSE(more);  // {30} is after until

  ASSERT_OK(shard_->ScanDue(page.back(), 20, 3, &page, &more));
  EXPECT_TRUE(page.empty());
  EXPECT_FALSE(more);

  // until is inclusive; a full page with nothing left says no more.
  ASSERT_OK(shard_->ScanDue(entries[4], 30, 2, &page, &more));
  EXPECT_EQ(page, (std::vector<DueEntry>{entries[5], entries[6]}));
  EXPECT_FALSE(more);

  ASSERT_OK(shard_->ScanDue(std::nullopt, -6, 10, &page, &more));
  EXPECT_TRUE(page.empty());

  // Deleting an entry removes it from the index.
  ASSERT_OK(shard_->SubmitAndWait([](ShardTxn& txn) {
    txn.DeleteDue(10, "ab", "a");
    return absl::OkStatus();
  }));
  ASSERT_OK(shard_->ScanDue(entries[2], 10, 10, &page, &more));
  EXPECT_EQ(page, (std::vector<DueEntry>{entries[4]}));
}

TEST_F(ShardStoreTest, AScansSequenceTellsWhichTransactionsWritesItSaw) {
  uint64_t scanned_at = 0;
  std::vector<DueEntry> page;
  bool more = false;
  ASSERT_OK(shard_->ScanDue(std::nullopt, INT64_MAX, 10, &page, &more, &scanned_at));
  EXPECT_TRUE(page.empty());

  uint64_t first_after = 0;
  ASSERT_OK(shard_->SubmitAndWait([&](ShardTxn& txn) {
    first_after = txn.WrittenAfterSequence();
    txn.PutDue(10, "ns", "a");
    return absl::OkStatus();
  }));
  // The scan before the write did not see it, and says so.
  EXPECT_LE(scanned_at, first_after);
  ASSERT_OK(shard_->ScanDue(std::nullopt, INT64_MAX, 10, &page, &more, &scanned_at));
  EXPECT_EQ(page, (std::vector<DueEntry>{{10, "ns", "a"}}));
  EXPECT_GT(scanned_at, first_after);

  // Transactions of one group follow the same sequence, and a scan while the group runs,
  // which does not see its writes, reads at or before it.
  uint64_t second_after = 0;
  uint64_t third_after = 0;
  uint64_t scanned_during_group = 0;
  std::vector<DueEntry> page_during_group;
  Outcomes outcomes(2);
  InOneGroup([&] {
    shard_->Submit(
        [&](ShardTxn& txn) {
          second_after = txn.WrittenAfterSequence();
          txn.PutDue(20, "ns", "b");
          return absl::OkStatus();
        },
        outcomes.For(0));
    shard_->Submit(
        [&](ShardTxn& txn) {
          third_after = txn.WrittenAfterSequence();
          txn.PutDue(30, "ns", "c");
          bool more_during_group = false;
          return shard_->ScanDue(std::nullopt, INT64_MAX, 10, &page_during_group,
                                 &more_during_group, &scanned_during_group);
        },
        outcomes.For(1));
  });
  ASSERT_TRUE(outcomes.WaitAll());
  ASSERT_OK(outcomes.status(1));
  EXPECT_EQ(second_after, third_after);
  EXPECT_EQ(page_during_group.size(), 1u);
  EXPECT_LE(scanned_during_group, second_after);
  ASSERT_OK(shard_->ScanDue(std::nullopt, INT64_MAX, 10, &page, &more, &scanned_at));
  EXPECT_EQ(page.size(), 3u);
  EXPECT_GT(scanned_at, second_after);
}

TEST_F(ShardStoreTest, PutDeliveryWithNewVisibilityMovesTheQueueEntry) {
  ASSERT_OK(shard_->SubmitAndWait(
      [](ShardTxn& txn) { return txn.PutDelivery(MakeDelivery("ns", "f1", "topic", 100)); }));
  std::vector<DeliveryRecord> out;
  ASSERT_OK(shard_->ScanQueue("ns", "topic", 100, {}, 10, &out));
  EXPECT_EQ(FireIds(out), std::vector<std::string>{"f1"});

  ASSERT_OK(shard_->SubmitAndWait([](ShardTxn& txn) {
    DeliveryRecord moved = MakeDelivery("ns", "f1", "topic", 500);
    moved.mutable_fire()->set_attempt(2);
    return txn.PutDelivery(moved);
  }));
  ASSERT_OK(shard_->ScanQueue("ns", "topic", 499, {}, 10, &out));
  EXPECT_TRUE(out.empty());
  ASSERT_OK(shard_->ScanQueue("ns", "topic", INT64_MAX, {}, 10, &out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].visible_at_us(), 500);
  EXPECT_EQ(out[0].fire().attempt(), 2u);

  // Moving to another topic leaves nothing behind in the old one.
  ASSERT_OK(shard_->SubmitAndWait(
      [](ShardTxn& txn) { return txn.PutDelivery(MakeDelivery("ns", "f1", "other", 50)); }));
  ASSERT_OK(shard_->ScanQueue("ns", "topic", INT64_MAX, {}, 10, &out));
  EXPECT_TRUE(out.empty());
  ASSERT_OK(shard_->ScanQueue("ns", "other", INT64_MAX, {}, 10, &out));
  EXPECT_EQ(FireIds(out), std::vector<std::string>{"f1"});

  size_t all = 0;
  ASSERT_OK(shard_->ScanAllDeliveries([&](const DeliveryRecord&) {
    ++all;
    return true;
  }));
  EXPECT_EQ(all, 1u);
}

TEST_F(ShardStoreTest, PutNewDeliveryWritesTheRecordAndItsQueueEntry) {
  ASSERT_OK(shard_->SubmitAndWait([](ShardTxn& txn) {
    txn.PutNewDelivery(MakeDelivery("ns", "f1", "topic", 100), QueueCopy::kWithRecord);
    return absl::OkStatus();
  }));
  std::vector<DeliveryRecord> out;
  ASSERT_OK(shard_->ScanQueue("ns", "topic", 100, {}, 10, &out));
  EXPECT_EQ(FireIds(out), std::vector<std::string>{"f1"});
  ASSERT_OK_AND_ASSIGN(std::optional<DeliveryRecord> stored, shard_->GetDelivery("ns", "f1"));
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->visible_at_us(), 100);
}

TEST_F(ShardStoreTest, PutDeliveryTwiceInOneTxnLeavesOneQueueEntry) {
  ASSERT_OK(shard_->SubmitAndWait([](ShardTxn& txn) -> absl::Status {
    CHIME_RETURN_IF_ERROR(txn.PutDelivery(MakeDelivery("ns", "f1", "topic", 1)));
    return txn.PutDelivery(MakeDelivery("ns", "f1", "topic", 2));
  }));
  std::vector<DeliveryRecord> out;
  ASSERT_OK(shard_->ScanQueue("ns", "topic", INT64_MAX, {}, 10, &out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].visible_at_us(), 2);
}

TEST_F(ShardStoreTest, UpdatingAndDeletingAReadDeliveryKeepsOneQueueEntry) {
  ASSERT_OK(shard_->SubmitAndWait([](ShardTxn& txn) -> absl::Status {
    CHIME_RETURN_IF_ERROR(txn.PutDelivery(MakeDelivery("ns", "f1", "topic", 100)));
    return txn.PutDelivery(MakeDelivery("ns", "f2", "topic", 200));
  }));
  // Same visibility (only the record changes), then a move, as the delivery manager does.
  for (const int64_t visible_us : {100, 500}) {
    ASSERT_OK(shard_->SubmitAndWait([&](ShardTxn& txn) -> absl::Status {
      CHIME_ASSIGN_OR_RETURN(std::optional<DeliveryRecord> read, txn.GetDelivery("ns", "f1"));
      if (!read.has_value()) return absl::NotFoundError("f1");
      const int64_t stored = read->visible_at_us();
      read->mutable_fire()->set_attempt(read->fire().attempt() + 1);
      read->set_visible_at_us(visible_us);
      txn.UpdateReadDelivery(*read, stored);
      return absl::OkStatus();
    }));
    // Scans see the new attempt whether or not the queue position moved.
    std::vector<DeliveryRecord> scanned;
    ASSERT_OK(shard_->ScanQueue("ns", "topic", visible_us, {}, 10, &scanned));
    ASSERT_FALSE(scanned.empty());
    EXPECT_EQ(scanned.back().fire().fire_id(), "f1");
    EXPECT_EQ(scanned.back().fire().attempt(), visible_us == 100 ? 1u : 2u);
  }
  std::vector<DeliveryRecord> out;
  ASSERT_OK(shard_->ScanQueue("ns", "topic", INT64_MAX, {}, 10, &out));
  ASSERT_EQ(FireIds(out), (std::vector<std::string>{"f2", "f1"}));
  EXPECT_EQ(out[1].visible_at_us(), 500);
  EXPECT_EQ(out[1].fire().attempt(), 2u);

  ASSERT_OK(shard_->SubmitAndWait([](ShardTxn& txn) -> absl::Status {
    CHIME_ASSIGN_OR_RETURN(std::optional<DeliveryRecord> read, txn.GetDelivery("ns", "f1"));
    if (!read.has_value()) return absl::NotFoundError("f1");
    txn.DeleteReadDelivery(*read);
    return absl::OkStatus();
  }));
  ASSERT_OK_AND_ASSIGN(auto f1, shard_->GetDelivery("ns", "f1"));
  EXPECT_FALSE(f1.has_value());
  ASSERT_OK(shard_->ScanQueue("ns", "topic", INT64_MAX, {}, 10, &out));
  EXPECT_EQ(FireIds(out), std::vector<std::string>{"f2"});
}

TEST_F(ShardStoreTest, DeleteDeliveryRemovesRecordAndQueueEntry) {
  ASSERT_OK(shard_->SubmitAndWait([](ShardTxn& txn) -> absl::Status {
    CHIME_RETURN_IF_ERROR(txn.PutDelivery(MakeDelivery("ns", "f1", "topic", 1)));
    return txn.PutDelivery(MakeDelivery("ns", "f2", "topic", 2));
  }));
  ASSERT_OK(shard_->SubmitAndWait([](ShardTxn& txn) -> absl::Status {
    CHIME_RETURN_IF_ERROR(txn.DeleteDelivery("ns", "f1"));
    return txn.DeleteDelivery("ns", "absent");  // OK when absent
  }));
  ASSERT_OK_AND_ASSIGN(auto f1, shard_->GetDelivery("ns", "f1"));
  EXPECT_FALSE(f1.has_value());
  ASSERT_OK_AND_ASSIGN(auto f2, shard_->GetDelivery("ns", "f2"));
  EXPECT_TRUE(f2.has_value());
  std::vector<DeliveryRecord> out;
  ASSERT_OK(shard_->ScanQueue("ns", "topic", INT64_MAX, {}, 10, &out));
  EXPECT_EQ(FireIds(out), std::vector<std::string>{"f2"});
}

TEST_F(ShardStoreTest, ScanQueueFiltersByTopicAndVisibilityAndResumesAfterCursor) {
  ASSERT_OK(shard_->SubmitAndWait([](ShardTxn& txn) -> absl::Status {
    CHIME_RETURN_IF_ERROR(txn.PutDelivery(MakeDelivery("ns", "late", "t", 300)));
    CHIME_RETURN_IF_ERROR(txn.PutDelivery(MakeDelivery("ns", "b", "t", 100)));
    CHIME_RETURN_IF_ERROR(txn.PutDelivery(MakeDelivery("ns", "a", "t", 100)));
    CHIME_RETURN_IF_ERROR(txn.PutDelivery(MakeDelivery("ns", "early", "t", -50)));
    CHIME_RETURN_IF_ERROR(txn.PutDelivery(MakeDelivery("ns", "other-topic", "tt", 0)));
    CHIME_RETURN_IF_ERROR(txn.PutDelivery(MakeDelivery("nsx", "other-ns", "t", 0)));
    return txn.PutDelivery(MakeDelivery("ns", "prefix-topic", "", 0));
  }));
  std::vector<DeliveryRecord> out;
  ASSERT_OK(shard_->ScanQueue("ns", "t", 100, {}, 10, &out));
  EXPECT_EQ(FireIds(out), (std::vector<std::string>{"early", "a", "b"}));

  ASSERT_OK(shard_->ScanQueue("ns", "t", 100, {}, 2, &out));
  EXPECT_EQ(FireIds(out), (std::vector<std::string>{"early", "a"}));
  QueueCursor cursor{out.back().visible_at_us(), out.back().fire().fire_id()};
  ASSERT_OK(shard_->ScanQueue("ns", "t", INT64_MAX, cursor, 10, &out));
  EXPECT_EQ(FireIds(out), (std::vector<std::string>{"b", "late"}));

  ASSERT_OK(shard_->ScanQueue("ns", "t", -51, {}, 10, &out));
  EXPECT_TRUE(out.empty());
  ASSERT_OK(shard_->ScanQueue("ns", "", INT64_MAX, {}, 10, &out));
  EXPECT_EQ(FireIds(out), std::vector<std::string>{"prefix-topic"});
}

// Rewrites every queue entry of the (closed) shard at `shard_dir` with an empty value, as
// data dirs written before queue entries carried a copy of their record hold them.
void EmptyQueueValues(const std::string& shard_dir) {
  chime::testing::RawRocksDb raw(shard_dir);
  ASSERT_TRUE(raw.ok());
  const auto entries = raw.Entries(kCfNames[kCfQueue]);
  for (const auto& [key, value] : entries) {
    EXPECT_FALSE(value.empty()) << "new queue entries carry their record";
    EXPECT_TRUE(
        raw.db()->Put(rocksdb::WriteOptions(), raw.family(kCfNames[kCfQueue]), key, "").ok());
  }
  EXPECT_EQ(entries.size(), 2u);
}

TEST(ShardStoreQueueFormatTest, QueueEntriesWithoutARecordCopyAreReadFromTheDeliveries) {
  TempDir dir;
  auto open = [&] { return Store::Open({.data_dir = dir.path(), .shard_count = 1}); };
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store, open());
    ASSERT_OK(store->shard(0)->SubmitAndWait([](ShardTxn& txn) -> absl::Status {
      DeliveryRecord first = MakeDelivery("ns", "f1", "t", 100);
      first.mutable_fire()->set_payload("one");
      CHIME_RETURN_IF_ERROR(txn.PutDelivery(first));
      return txn.PutDelivery(MakeDelivery("ns", "f2", "t", 200));
    }));
  }
  EmptyQueueValues(dir.path() + "/shards/000");
  if (HasFatalFailure()) return;

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store, open());
  ShardStore* shard = store->shard(0);
  std::vector<DeliveryRecord> out;
  ASSERT_OK(shard->ScanQueue("ns", "t", INT64_MAX, {}, 10, &out));
  ASSERT_EQ(FireIds(out), (std::vector<std::string>{"f1", "f2"}));
  EXPECT_EQ(out[0].fire().payload(), "one");
  EXPECT_EQ(out[0].visible_at_us(), 100);

  // A later write of one gives its entry a copy; the other is still read the old way.
  ASSERT_OK(shard->SubmitAndWait([](ShardTxn& txn) -> absl::Status {
    DeliveryRecord moved = MakeDelivery("ns", "f1", "t", 300);
    moved.mutable_fire()->set_attempt(1);
    return txn.PutDelivery(moved);
  }));
  size_t seen = 0;
  ASSERT_OK(shard->ScanAllDeliveries([&](const DeliveryRecord& record) {
    EXPECT_EQ(record.fire().fire_id(), seen == 0 ? "f2" : "f1");
    if (seen == 1) {
      EXPECT_EQ(record.fire().attempt(), 1u);
    }
    ++seen;
    return true;
  }));
  EXPECT_EQ(seen, 2u);
}

TEST(ShardStoreQueueFormatTest, AKeyOnlyQueueEntryIsWrittenEmptyAndScannedWhole) {
  TempDir dir;
  auto open = [&] { return Store::Open({.data_dir = dir.path(), .shard_count = 1}); };
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store, open());
    ASSERT_OK(store->shard(0)->SubmitAndWait([](ShardTxn& txn) {
      DeliveryRecord held = MakeDelivery("ns", "f1", "t", 100);
      held.mutable_fire()->set_payload("one");
      txn.PutNewDelivery(held, QueueCopy::kKeyOnly);
      txn.PutNewDelivery(MakeDelivery("ns", "f2", "t", 200), QueueCopy::kWithRecord);
      return absl::OkStatus();
    }));
  }
  {
    chime::testing::RawRocksDb raw(dir.path() + "/shards/000");
    ASSERT_TRUE(raw.ok());
    const auto entries = raw.Entries(kCfNames[kCfQueue]);  // f1, then f2 (queue order)
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].second, "");
    EXPECT_NE(entries[1].second, "");
  }

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store, open());
  std::vector<DeliveryRecord> out;
  ASSERT_OK(store->shard(0)->ScanQueue("ns", "t", INT64_MAX, {}, 10, &out));
  ASSERT_EQ(FireIds(out), (std::vector<std::string>{"f1", "f2"}));
  EXPECT_EQ(out[0].fire().payload(), "one");
  EXPECT_EQ(out[0].visible_at_us(), 100);
}

TEST_F(ShardStoreTest, ScanQueuedTopicsVisitsEachTopicWithPendingDeliveriesOnce) {
  ASSERT_OK(shard_->SubmitAndWait([](ShardTxn& txn) -> absl::Status {
    for (int i = 0; i < 5; ++i) {
      CHIME_RETURN_IF_ERROR(txn.PutDelivery(MakeDelivery("a", absl::StrCat("f", i), "t", i)));
    }
    CHIME_RETURN_IF_ERROR(txn.PutDelivery(MakeDelivery("a", "g", "t2", 1)));
    CHIME_RETURN_IF_ERROR(txn.PutDelivery(MakeDelivery("ab", "h", "t", 1)));
    CHIME_RETURN_IF_ERROR(txn.PutDelivery(MakeDelivery("", "i", "$webhook", 1)));
    return txn.PutDelivery(MakeDelivery("b", "gone", "acked", 1));
  }));
  ASSERT_OK(shard_->SubmitAndWait([](ShardTxn& txn) { return txn.DeleteDelivery("b", "gone"); }));
  std::vector<std::pair<std::string, std::string>> topics;
  auto scan = [&](size_t stop_after) {
    topics.clear();
    return shard_->ScanQueuedTopics([&](absl::string_view ns, absl::string_view topic) {
      topics.emplace_back(ns, topic);
      return topics.size() < stop_after;
    });
  };
  ASSERT_OK(scan(100));
  EXPECT_EQ(topics, (std::vector<std::pair<std::string, std::string>>{
                        {"", "$webhook"}, {"a", "t"}, {"a", "t2"}, {"ab", "t"}}));
  ASSERT_OK(scan(2));
  EXPECT_EQ(topics.size(), 2u);
}

TEST_F(ShardStoreTest, ScanTimersStaysInsideItsNamespace) {
  Put(MakeTimer("a", "2"));
  Put(MakeTimer("a", "1"));
  Put(MakeTimer("ab", "0"));
  Put(MakeTimer("", "x"));
  Put(MakeTimer("b", "0"));
  auto ids_of = [&](const std::string& ns, const std::string& after) {
    std::vector<std::string> ids;
    EXPECT_OK(shard_->ScanTimers(ns, after, [&](const TimerRecord& r) {
      EXPECT_EQ(r.timer().namespace_(), ns);
      ids.push_back(r.timer().timer_id());
      return true;
    }));
    return ids;
  };
  EXPECT_EQ(ids_of("a", ""), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(ids_of("a", "1"), (std::vector<std::string>{"2"}));
  EXPECT_EQ(ids_of("a", "2"), std::vector<std::string>{});
  EXPECT_EQ(ids_of("ab", ""), std::vector<std::string>{"0"});
  EXPECT_EQ(ids_of("", ""), std::vector<std::string>{"x"});
  EXPECT_EQ(ids_of("c", ""), std::vector<std::string>{});

  // visit returning false stops the scan.
  int visited = 0;
  ASSERT_OK(shard_->ScanTimers("a", "", [&](const TimerRecord&) {
    ++visited;
    return false;
  }));
  EXPECT_EQ(visited, 1);
}

TEST_F(ShardStoreTest, TimerDeleteAndIdempotencyAndDeadLetters) {
  ASSERT_OK(shard_->SubmitAndWait([](ShardTxn& txn) {
    txn.PutTimer(MakeTimer("ns", "t"));
    IdempotencyRecord idem;
    idem.set_timer_id("t");
    idem.set_request_fingerprint(42);
    txn.PutIdempotency("ns", "key", idem);
    txn.PutDeadLetter(MakeDelivery("ns", "d2", "topic", 0));
    txn.PutDeadLetter(MakeDelivery("ns", "d1", "topic", 0));
    txn.PutDeadLetter(MakeDelivery("nsx", "d0", "topic", 0));
    return absl::OkStatus();
  }));
  ASSERT_OK_AND_ASSIGN(auto idem, shard_->GetIdempotency("ns", "key"));
  ASSERT_TRUE(idem.has_value());
  EXPECT_EQ(idem->timer_id(), "t");
  EXPECT_EQ(idem->request_fingerprint(), 42u);
  ASSERT_OK_AND_ASSIGN(auto other_ns, shard_->GetIdempotency("nsx", "key"));
  EXPECT_FALSE(other_ns.has_value());

  std::vector<std::string> dead;
  ASSERT_OK(shard_->ScanDeadLetters("ns", "", [&](const DeliveryRecord& r) {
    dead.push_back(r.fire().fire_id());
    return true;
  }));
  EXPECT_EQ(dead, (std::vector<std::string>{"d1", "d2"}));

  std::optional<DeliveryRecord> dead_in_txn;
  std::optional<IdempotencyRecord> idem_in_txn;
  ASSERT_OK(shard_->SubmitAndWait([&](ShardTxn& txn) -> absl::Status {
    CHIME_ASSIGN_OR_RETURN(dead_in_txn, txn.GetDeadLetter("ns", "d1"));
    CHIME_ASSIGN_OR_RETURN(idem_in_txn, txn.GetIdempotency("ns", "key"));
    txn.DeleteDeadLetter("ns", "d1");
    txn.DeleteTimer("ns", "t");
    return absl::OkStatus();
  }));
  EXPECT_TRUE(dead_in_txn.has_value());
  EXPECT_TRUE(idem_in_txn.has_value());
  ASSERT_OK_AND_ASSIGN(auto t, shard_->GetTimer("ns", "t"));
  EXPECT_FALSE(t.has_value());
  dead.clear();
  ASSERT_OK(shard_->ScanDeadLetters("ns", "", [&](const DeliveryRecord& r) {
    dead.push_back(r.fire().fire_id());
    return true;
  }));
  EXPECT_EQ(dead, std::vector<std::string>{"d2"});
}

TEST_F(ShardStoreTest, EstimatesAndDiskBytesReflectData) {
  for (int i = 0; i < 100; ++i) Put(MakeTimer("ns", absl::StrCat("t", i), std::string(100, 'x')));
  ASSERT_OK(shard_->SubmitAndWait(
      [](ShardTxn& txn) { return txn.PutDelivery(MakeDelivery("ns", "f", "t", 0)); }));
  EXPECT_EQ(shard_->EstimateTimers(), 100u);
  EXPECT_EQ(shard_->EstimateDeliveries(), 1u);
  EXPECT_GT(shard_->DiskBytes(), 100u * 100u);  // in the WAL for now
}

}  // namespace
}  // namespace chime::storage
