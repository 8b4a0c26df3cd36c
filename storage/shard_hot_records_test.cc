// The shard writer's hot records (HotRecords) seen through transactions: a read answered from
// them is always what RocksDB holds, whatever was written, rolled back or made cold since.
#include <memory>
#include <optional>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "gtest/gtest.h"
#include "storage/shard_store.h"
#include "storage/store.h"
#include "storage/test_records.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace chime::storage {
namespace {

using ::chime::testing::TempDir;

TimerRecord DueTimer(const std::string& id, const std::string& payload, absl::Duration due_in) {
  TimerRecord record = MakeTimer("ns", id, payload);
  record.mutable_timer()->set_state(v1::TIMER_STATE_SCHEDULED);
  record.set_due_us(absl::ToUnixMicros(absl::Now() + due_in));
  return record;
}

class ShardHotRecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open({.data_dir = dir_.path(),
                              .shard_count = 1,
                              .fsync = false,
                              .hot_record_bytes = 1 << 20,
                              .hot_timer_horizon = absl::Minutes(1)});
    ASSERT_OK(store);
    store_ = std::move(*store);
    shard_ = store_->shard(0);
  }

  void Write(const std::function<void(ShardTxn&)>& fn) {
    ASSERT_OK(shard_->SubmitAndWait([&](ShardTxn& txn) {
      fn(txn);
      return absl::OkStatus();
    }));
  }

  // The timer as a transaction reads it, and whether the hot records answered.
  std::optional<TimerRecord> TxnGetTimer(const std::string& id, bool* from_hot) {
    const uint64_t hot_before = shard_->GetWriteStats().timer_reads.hot;
    std::optional<TimerRecord> read;
    EXPECT_OK(shard_->SubmitAndWait([&](ShardTxn& txn) -> absl::Status {
      CHIME_ASSIGN_OR_RETURN(read, txn.GetTimer("ns", id));
      return absl::OkStatus();
    }));
    *from_hot = shard_->GetWriteStats().timer_reads.hot > hot_before;
    return read;
  }

  std::optional<DeliveryRecord> TxnGetDelivery(const std::string& fire_id, bool* from_hot) {
    const uint64_t hot_before = shard_->GetWriteStats().delivery_reads.hot;
    std::optional<DeliveryRecord> read;
    EXPECT_OK(shard_->SubmitAndWait([&](ShardTxn& txn) -> absl::Status {
      CHIME_ASSIGN_OR_RETURN(read, txn.GetDelivery("ns", fire_id));
      return absl::OkStatus();
    }));
    *from_hot = shard_->GetWriteStats().delivery_reads.hot > hot_before;
    return read;
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  ShardStore* shard_ = nullptr;
};

TEST_F(ShardHotRecordsTest, ATimerKeptHotAfterItsReadIsReadBackFromTheWriter) {
  Write([](ShardTxn& txn) { txn.PutTimer(DueTimer("later", "v1", absl::Hours(2))); });
  bool from_hot = true;
  ASSERT_TRUE(TxnGetTimer("later", &from_hot).has_value());
  EXPECT_FALSE(from_hot) << "due past the horizon: not kept when written";

  // Kept by a transaction that failed: undone with it.
  EXPECT_FALSE(shard_
                   ->SubmitAndWait([](ShardTxn& txn) -> absl::Status {
                     CHIME_ASSIGN_OR_RETURN(std::optional<TimerRecord> read,
                                            txn.GetTimer("ns", "later"));
                     txn.KeepTimerHot(*read);
                     return absl::AbortedError("changed its mind");
                   })
                   .ok());
  ASSERT_TRUE(TxnGetTimer("later", &from_hot).has_value());
  EXPECT_FALSE(from_hot);

  Write([](ShardTxn& txn) { txn.KeepTimerHot(*txn.GetTimer("ns", "later").value()); });
  std::optional<TimerRecord> read = TxnGetTimer("later", &from_hot);
  ASSERT_TRUE(read.has_value());
  EXPECT_TRUE(from_hot);
  EXPECT_EQ(read->timer().payload(), "v1");

  // Kept and written in one group: the write decides (here: not due soon, so cold).
  Write([](ShardTxn& txn) {
    TimerRecord record = *txn.GetTimer("ns", "later").value();
    txn.KeepTimerHot(record);
    record.mutable_timer()->set_payload("v2");
    txn.PutTimer(record);
  });
  read = TxnGetTimer("later", &from_hot);
  ASSERT_TRUE(read.has_value());
  EXPECT_FALSE(from_hot);
  EXPECT_EQ(read->timer().payload(), "v2");
}

// A fire's timer, read ahead from RocksDB, is kept as it was read, for its ack.
TEST_F(ShardHotRecordsTest, ATimerReadAheadFromTheDbIsKeptAsRead) {
  Write([](ShardTxn& txn) { txn.PutTimer(DueTimer("later", "l1", absl::Hours(2))); });
  const ShardStore::WriteStats before = shard_->GetWriteStats();
  Write([](ShardTxn& txn) {
    const std::vector<std::pair<absl::string_view, absl::string_view>> ahead = {{"ns", "later"}};
    txn.PrefetchTimers(ahead);
    TimerRecord record;
    ASSERT_TRUE(txn.ReadTimer("ns", "later", &record).value());
    txn.KeepTimerHot(record);
  });
  EXPECT_EQ(shard_->GetWriteStats().timer_reads.db, before.timer_reads.db + 1);
  bool from_hot = false;
  std::optional<TimerRecord> read = TxnGetTimer("later", &from_hot);
  ASSERT_TRUE(read.has_value());
  EXPECT_TRUE(from_hot);
  EXPECT_EQ(read->timer().payload(), "l1");
  EXPECT_EQ(read->timer().state(), v1::TIMER_STATE_SCHEDULED);
}

TEST_F(ShardHotRecordsTest, TimersReadAheadComeFromTheKeptRecordsAndTheDbUnlessTheGroupWroteThem) {
  Write([](ShardTxn& txn) {
    txn.PutTimer(DueTimer("soon", "s1", absl::Seconds(5)));  // kept
    txn.PutTimer(DueTimer("later", "l1", absl::Hours(2)));   // not kept
  });
  const std::vector<std::pair<absl::string_view, absl::string_view>> ahead = {
      {"ns", "soon"}, {"ns", "later"}, {"ns", "missing"}};
  auto read_all = [&](ShardTxn& txn) -> absl::StatusOr<std::vector<std::string>> {
    std::vector<std::string> payloads;
    TimerRecord record;
    for (const auto& [ns, id] : ahead) {
      CHIME_ASSIGN_OR_RETURN(bool found, txn.ReadTimer(ns, id, &record));
      payloads.push_back(found ? record.timer().payload() : "none");
    }
    return payloads;
  };
  const ShardStore::WriteStats before = shard_->GetWriteStats();
  std::vector<std::string> read;
  ASSERT_OK(shard_->SubmitAndWait([&](ShardTxn& txn) -> absl::Status {
    txn.PrefetchTimers(ahead);
    CHIME_ASSIGN_OR_RETURN(read, read_all(txn));
    return absl::OkStatus();
  }));
  EXPECT_EQ(read, (std::vector<std::string>{"s1", "l1", "none"}));
  const ShardStore::WriteStats after = shard_->GetWriteStats();
  EXPECT_EQ(after.timer_reads.hot - before.timer_reads.hot, 1);
  EXPECT_EQ(after.timer_reads.db - before.timer_reads.db, 2);

  // The same through the stored bytes.
  read.clear();
  ASSERT_OK(shard_->SubmitAndWait([&](ShardTxn& txn) -> absl::Status {
    txn.PrefetchTimers(ahead);
    for (const auto& [ns, id] : ahead) {
      CHIME_ASSIGN_OR_RETURN(std::optional<absl::string_view> bytes, txn.GetTimerBytes(ns, id));
      TimerRecord record;
      if (bytes.has_value() && !record.ParseFromArray(bytes->data(), bytes->size())) {
        return absl::DataLossError("unparsable");
      }
      read.push_back(bytes.has_value() ? record.timer().payload() : "none");
    }
    return absl::OkStatus();
  }));
  EXPECT_EQ(read, (std::vector<std::string>{"s1", "l1", "none"}));
  EXPECT_EQ(shard_->GetWriteStats().timer_reads.hot - after.timer_reads.hot, 1);

  // Written after the read-ahead, in the same transaction: the write is what is read.
  ASSERT_OK(shard_->SubmitAndWait([&](ShardTxn& txn) -> absl::Status {
    txn.PrefetchTimers(ahead);
    txn.PutTimer(DueTimer("soon", "s2", absl::Seconds(5)));
    txn.PutTimer(DueTimer("missing", "m2", absl::Hours(2)));
    txn.DeleteTimer("ns", "later");
    CHIME_ASSIGN_OR_RETURN(read, read_all(txn));
    return absl::OkStatus();
  }));
  EXPECT_EQ(read, (std::vector<std::string>{"s2", "none", "m2"}));
}

TEST_F(ShardHotRecordsTest, ATimerDueSoonIsReadBackFromTheWriterUntilAWriteMakesItCold) {
  Write([](ShardTxn& txn) { txn.PutTimer(DueTimer("soon", "v1", absl::Seconds(5))); });
  bool from_hot = false;
  std::optional<TimerRecord> read = TxnGetTimer("soon", &from_hot);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->timer().payload(), "v1");
  EXPECT_TRUE(from_hot);

  // Cancelled: nothing will fire it, so it is not kept, and the read finds the new record.
  Write([](ShardTxn& txn) {
    TimerRecord cancelled = DueTimer("soon", "v2", absl::Seconds(5));
    cancelled.mutable_timer()->set_state(v1::TIMER_STATE_CANCELLED);
    txn.PutTimer(cancelled);
  });
  read = TxnGetTimer("soon", &from_hot);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->timer().payload(), "v2");
  EXPECT_EQ(read->timer().state(), v1::TIMER_STATE_CANCELLED);
  EXPECT_FALSE(from_hot);

  // Hot again, then deleted.
  Write([](ShardTxn& txn) { txn.PutTimer(DueTimer("soon", "v3", absl::Seconds(5))); });
  Write([](ShardTxn& txn) { txn.DeleteTimer("ns", "soon"); });
  EXPECT_FALSE(TxnGetTimer("soon", &from_hot).has_value());
  EXPECT_FALSE(from_hot);
}

// A fire keeps the timer it read for its ack; one kept already (due soon) stays as it is, and a
// write in the same group still decides.
TEST_F(ShardHotRecordsTest, KeepingATimerKeptAlreadyLeavesItAndAWriteStillDecides) {
  Write([](ShardTxn& txn) { txn.PutTimer(DueTimer("soon", "v1", absl::Seconds(5))); });
  Write([](ShardTxn& txn) { txn.KeepTimerHot(*txn.GetTimer("ns", "soon").value()); });
  bool from_hot = false;
  std::optional<TimerRecord> read = TxnGetTimer("soon", &from_hot);
  ASSERT_TRUE(read.has_value());
  EXPECT_TRUE(from_hot);
  EXPECT_EQ(read->timer().payload(), "v1");

  Write([](ShardTxn& txn) {
    TimerRecord record = *txn.GetTimer("ns", "soon").value();
    txn.KeepTimerHot(record);
    record.mutable_timer()->set_payload("v2");
    record.mutable_timer()->set_state(v1::TIMER_STATE_FIRED);
    record.set_due_us(0);
    txn.PutTimer(record);
  });
  read = TxnGetTimer("soon", &from_hot);
  ASSERT_TRUE(read.has_value());
  EXPECT_FALSE(from_hot) << "fired: the write made it cold";
  EXPECT_EQ(read->timer().payload(), "v2");
}

TEST_F(ShardHotRecordsTest, ATimerDueAfterTheHorizonOrFiredIsReadFromRocksDb) {
  Write([](ShardTxn& txn) {
    txn.PutTimer(DueTimer("later", "x", absl::Hours(2)));
    TimerRecord fired = DueTimer("fired", "y", absl::Seconds(1));
    fired.mutable_timer()->set_state(v1::TIMER_STATE_FIRED);
    fired.set_due_us(0);
    txn.PutTimer(fired);
  });
  bool from_hot = true;
  ASSERT_TRUE(TxnGetTimer("later", &from_hot).has_value());
  EXPECT_FALSE(from_hot);
  ASSERT_TRUE(TxnGetTimer("fired", &from_hot).has_value());
  EXPECT_FALSE(from_hot);
  EXPECT_GE(shard_->GetWriteStats().timer_reads.db, 2u);
}

TEST_F(ShardHotRecordsTest, ARolledBackTransactionLeavesTheHotRecordsAsTheyWere) {
  Write([](ShardTxn& txn) { txn.PutTimer(DueTimer("t", "committed", absl::Seconds(5))); });
  EXPECT_FALSE(shard_
                   ->SubmitAndWait([](ShardTxn& txn) {
                     txn.PutTimer(DueTimer("t", "rolled-back", absl::Seconds(5)));
                     txn.PutTimer(DueTimer("new", "rolled-back", absl::Seconds(5)));
                     return absl::AbortedError("no");
                   })
                   .ok());
  bool from_hot = false;
  std::optional<TimerRecord> read = TxnGetTimer("t", &from_hot);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->timer().payload(), "committed");
  EXPECT_TRUE(from_hot);
  EXPECT_FALSE(TxnGetTimer("new", &from_hot).has_value());
  EXPECT_FALSE(from_hot);
}

TEST_F(ShardHotRecordsTest, TheLastWriteOfAKeyInAGroupDecides) {
  // A hot write, then a cold one of the same timer, in one group: the copy must not stay.
  Write([](ShardTxn& txn) {
    txn.PutTimer(DueTimer("t", "hot", absl::Seconds(5)));
    TimerRecord cold = DueTimer("t", "cold", absl::Seconds(5));
    cold.mutable_timer()->set_state(v1::TIMER_STATE_CANCELLED);
    txn.PutTimer(cold);
  });
  bool from_hot = true;
  std::optional<TimerRecord> read = TxnGetTimer("t", &from_hot);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->timer().payload(), "cold");
  EXPECT_FALSE(from_hot);
}

TEST_F(ShardHotRecordsTest, APendingDeliveryIsHotUntilItIsDeleted) {
  Write([](ShardTxn& txn) {
    txn.PutNewDelivery(MakeDelivery("ns", "f1", "topic", 100), QueueCopy::kWithRecord);
  });
  bool from_hot = false;
  std::optional<DeliveryRecord> read = TxnGetDelivery("f1", &from_hot);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->visible_at_us(), 100);
  EXPECT_TRUE(from_hot);

  // An attempt moves it: the hot copy follows.
  Write([&](ShardTxn& txn) {
    DeliveryRecord moved = *read;
    moved.set_visible_at_us(200);
    moved.mutable_fire()->set_attempt(1);
    txn.UpdateReadDelivery(moved, 100);
  });
  read = TxnGetDelivery("f1", &from_hot);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->visible_at_us(), 200);
  EXPECT_EQ(read->fire().attempt(), 1u);
  EXPECT_TRUE(from_hot);

  Write([&](ShardTxn& txn) { txn.DeleteReadDelivery(*read); });
  EXPECT_FALSE(TxnGetDelivery("f1", &from_hot).has_value());
  EXPECT_FALSE(from_hot);
  std::vector<DeliveryRecord> queued;
  ASSERT_OK(shard_->ScanQueue("ns", "topic", INT64_MAX, {}, 10, &queued));
  EXPECT_TRUE(queued.empty());
}

DueEntry DueOf(const TimerRecord& record) {
  return {record.due_us(), record.timer().namespace_(), record.timer().timer_id()};
}

// Timers loaded by the engine long after their write are read into memory ahead of their
// fires; a write of one in the same group decides instead.
TEST_F(ShardHotRecordsTest, WarmedTimersAreReadBackFromTheWriter) {
  std::vector<DueEntry> due;
  Write([&](ShardTxn& txn) {
    for (const char* id : {"a", "b", "c", "d"}) {
      TimerRecord record = DueTimer(id, std::string("v1-") + id, absl::Hours(2));
      txn.PutTimer(record);
      due.push_back(DueOf(record));
    }
  });
  bool from_hot = true;
  ASSERT_TRUE(TxnGetTimer("a", &from_hot).has_value());
  EXPECT_FALSE(from_hot) << "due past the horizon: not kept when written";

  ShardStore::WriteStats before = shard_->GetWriteStats();
  Write([&](ShardTxn& txn) { txn.WarmTimers({due[0], due[1], {due[1].due_us, "ns", "gone"}}); });
  EXPECT_EQ(shard_->GetWriteStats().timer_reads.db - before.timer_reads.db, 2u)
      << "a and b, read together; the missing one is not counted";
  for (const char* id : {"a", "b"}) {
    std::optional<TimerRecord> read = TxnGetTimer(id, &from_hot);
    ASSERT_TRUE(read.has_value());
    EXPECT_TRUE(from_hot) << id;
    EXPECT_EQ(read->timer().payload(), std::string("v1-") + id);
  }
  ASSERT_TRUE(TxnGetTimer("c", &from_hot).has_value());
  EXPECT_FALSE(from_hot) << "not warmed";

  before = shard_->GetWriteStats();
  Write([&](ShardTxn& txn) { txn.WarmTimers({due[0], due[1]}); });
  EXPECT_EQ(shard_->GetWriteStats().timer_reads.db, before.timer_reads.db)
      << "kept already: not read again";

  // Written before the warming in the group: not read, the write stands (cold, due late).
  Write([&](ShardTxn& txn) {
    TimerRecord record = DueTimer("c", "v2-c", absl::Hours(2));
    record.set_due_us(due[2].due_us);
    txn.PutTimer(record);
    txn.WarmTimers({due[2]});
  });
  // Written after it in the group: the write decides too.
  Write([&](ShardTxn& txn) {
    txn.WarmTimers({due[3]});
    TimerRecord record = DueTimer("d", "v2-d", absl::Hours(2));
    record.set_due_us(due[3].due_us);
    txn.PutTimer(record);
  });
  for (const char* id : {"c", "d"}) {
    std::optional<TimerRecord> read = TxnGetTimer(id, &from_hot);
    ASSERT_TRUE(read.has_value());
    EXPECT_FALSE(from_hot) << id;
    EXPECT_EQ(read->timer().payload(), std::string("v2-") + id);
  }

  // Cancelled after it was warmed: the delete makes it cold.
  Write([&](ShardTxn& txn) { txn.DeleteTimer("ns", "a"); });
  EXPECT_FALSE(TxnGetTimer("a", &from_hot).has_value());
  EXPECT_FALSE(from_hot);
}

// Warming fills the kept timers' room in due order and reads nothing once it is taken.
TEST(ShardHotRecordsWarmTest, WarmingStopsAtTheRoom) {
  TempDir dir;
  // 4 KB of kept records: 3 KB of timers, room for a few of 1 KB each.
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open({.data_dir = dir.path(),
                                                .shard_count = 1,
                                                .fsync = false,
                                                .hot_record_bytes = 4096,
                                                .hot_timer_horizon = absl::Minutes(1)}));
  ShardStore* shard = store->shard(0);
  std::vector<DueEntry> due;
  ASSERT_OK(shard->SubmitAndWait([&](ShardTxn& txn) {
    for (int i = 0; i < 10; ++i) {
      TimerRecord record = DueTimer("t" + std::to_string(i), std::string(1000, 'x'),
                                    absl::Hours(2) + absl::Seconds(i));
      txn.PutTimer(record);
      due.push_back(DueOf(record));
    }
    return absl::OkStatus();
  }));
  ASSERT_OK(shard->SubmitAndWait([&](ShardTxn& txn) {
    txn.WarmTimers(due);
    return absl::OkStatus();
  }));
  std::vector<bool> hot;
  for (int i = 0; i < 10; ++i) {
    const uint64_t hot_before = shard->GetWriteStats().timer_reads.hot;
    ASSERT_OK(shard->SubmitAndWait([&](ShardTxn& txn) -> absl::Status {
      CHIME_ASSIGN_OR_RETURN(std::optional<TimerRecord> read,
                             txn.GetTimer("ns", "t" + std::to_string(i)));
      return read.has_value() ? absl::OkStatus() : absl::NotFoundError("t");
    }));
    hot.push_back(shard->GetWriteStats().timer_reads.hot > hot_before);
  }
  // The earliest due first, as many as fit: 3 KB holds two of ~1.1 KB, not three.
  EXPECT_EQ(
      hot, std::vector<bool>({true, true, false, false, false, false, false, false, false, false}));

  // Taken up to what is left (less than one more record): nothing is read.
  const uint64_t db_before = shard->GetWriteStats().timer_reads.db;
  ASSERT_OK(shard->SubmitAndWait([&](ShardTxn& txn) {
    txn.WarmTimers(absl::MakeConstSpan(due).subspan(5));
    return absl::OkStatus();
  }));
  EXPECT_EQ(shard->GetWriteStats().timer_reads.db, db_before);
}

TEST(ShardHotRecordsOffTest, NoBytesMeansEveryReadGoesToRocksDb) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(
      auto store,
      Store::Open(
          {.data_dir = dir.path(), .shard_count = 1, .fsync = false, .hot_record_bytes = 0}));
  ShardStore* shard = store->shard(0);
  ASSERT_OK(shard->SubmitAndWait([](ShardTxn& txn) {
    txn.PutTimer(DueTimer("t", "v", absl::Seconds(5)));
    return absl::OkStatus();
  }));
  ASSERT_OK(shard->SubmitAndWait([](ShardTxn& txn) -> absl::Status {
    CHIME_ASSIGN_OR_RETURN(std::optional<TimerRecord> read, txn.GetTimer("ns", "t"));
    return read.has_value() ? absl::OkStatus() : absl::NotFoundError("t");
  }));
  EXPECT_EQ(shard->GetWriteStats().timer_reads.hot, 0u);
  EXPECT_EQ(shard->GetWriteStats().timer_reads.db, 1u);
}

}  // namespace
}  // namespace chime::storage
