#include "storage/store.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "storage/test_records.h"
#include "tests/testing/raw_rocksdb.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace chime::storage {
namespace {

namespace fs = std::filesystem;
using ::chime::testing::StatusIs;
using ::chime::testing::TempDir;
using ::testing::HasSubstr;

// Sets (or deletes) the meta record of a closed shard, as a damaged data dir might hold it.
void EditShardMeta(const std::string& shard_dir, const std::optional<std::string>& meta) {
  chime::testing::RawRocksDb raw(shard_dir);
  ASSERT_TRUE(raw.ok());
  rocksdb::Status s = meta ? raw.db()->Put(rocksdb::WriteOptions(), "meta", *meta)
                           : raw.db()->Delete(rocksdb::WriteOptions(), "meta");
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST(StoreTest, NewDataDirGetsOneDirWithMetaPerShard) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open({.data_dir = dir.path(), .shard_count = 3}));
  EXPECT_EQ(store->shard_count(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(store->shard(i)->index(), i);
    EXPECT_TRUE(fs::is_directory(dir.path() + "/shards/00" + std::to_string(i)));
  }
  EXPECT_FALSE(fs::exists(dir.path() + "/shards/003"));
  EXPECT_FALSE(fs::exists(dir.path() + "/shards.init"));
  EXPECT_GT(store->DiskBytes(), 0u);
}

TEST(StoreTest, DefaultIsOneShardPerCoreFromTwoToSixteen) {
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  EXPECT_EQ(DefaultShardCount(), std::clamp(cores, 2, 16));
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store,
                       Store::Open({.data_dir = dir.path() + "/new/nested", .shard_count = 0}));
  EXPECT_EQ(store->shard_count(), DefaultShardCount());
  EXPECT_TRUE(fs::is_directory(
      absl::StrFormat("%s/new/nested/shards/%03d", dir.path(), DefaultShardCount() - 1)));
  EXPECT_FALSE(
      fs::exists(absl::StrFormat("%s/new/nested/shards/%03d", dir.path(), DefaultShardCount())));
}

TEST(StoreTest, DataSurvivesCloseAndReopen) {
  TempDir dir;
  std::set<int> used_shards;
  {
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open({.data_dir = dir.path(), .shard_count = 4}));
    for (int i = 0; i < 20; ++i) {
      std::string id = absl::StrCat("t", i);
      int s = store->ShardFor("ns", id);
      used_shards.insert(s);
      ASSERT_OK(store->shard(s)->SubmitAndWait([&](ShardTxn& txn) {
        txn.PutTimer(MakeTimer("ns", id));
        txn.PutDue(i, "ns", id);
        return absl::OkStatus();
      }));
    }
  }
  EXPECT_GT(used_shards.size(), 1u);
  // shard_count 0: whatever the data dir has.
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open({.data_dir = dir.path(), .shard_count = 0}));
  ASSERT_EQ(store->shard_count(), 4);
  size_t due_total = 0;
  for (int i = 0; i < 20; ++i) {
    std::string id = absl::StrCat("t", i);
    ASSERT_OK_AND_ASSIGN(auto t, store->shard(store->ShardFor("ns", id))->GetTimer("ns", id));
    EXPECT_TRUE(t.has_value()) << id;
  }
  for (int s = 0; s < 4; ++s) {
    std::vector<DueEntry> due;
    bool more = false;
    ASSERT_OK(store->shard(s)->ScanDue(std::nullopt, INT64_MAX, 100, &due, &more));
    due_total += due.size();
  }
  EXPECT_EQ(due_total, 20u);
}

// Writes 2,000 timers, closes (flushing at shutdown or not), reopens and checks they are
// there; returns the bytes the reopened store's memtables hold (what the WAL replay put back).
uint64_t ReopenedMemtableBytes(const std::string& data_dir, bool flush_at_close) {
  {
    auto store = Store::Open({.data_dir = data_dir, .shard_count = 2});
    EXPECT_OK(store.status());
    if (!store.ok()) return 0;
    for (int i = 0; i < 2000; ++i) {
      std::string id = absl::StrCat("t", i);
      EXPECT_OK((*store)->shard((*store)->ShardFor("ns", id))->SubmitAndWait([&](ShardTxn& txn) {
        txn.PutTimer(MakeTimer("ns", id));
        return absl::OkStatus();
      }));
    }
    if (flush_at_close) {
      EXPECT_OK((*store)->CloseAndFlush(0));
    }
  }
  auto store = Store::Open({.data_dir = data_dir, .shard_count = 0});
  EXPECT_OK(store.status());
  if (!store.ok()) return 0;
  uint64_t bytes = 0;
  for (int s = 0; s < (*store)->shard_count(); ++s) bytes += (*store)->shard(s)->MemtableBytes();
  for (const char* id : {"t0", "t777", "t1999"}) {
    auto t = (*store)->shard((*store)->ShardFor("ns", id))->GetTimer("ns", id);
    EXPECT_OK(t.status());
    EXPECT_TRUE(t.ok() && t->has_value()) << id;
  }
  return bytes;
}

TEST(StoreTest, CloseAndFlushLeavesNoWalToReplay) {
  TempDir flushed, crashed_like;
  const uint64_t after_flush = ReopenedMemtableBytes(flushed.path(), /*flush_at_close=*/true);
  const uint64_t after_plain = ReopenedMemtableBytes(crashed_like.path(), false);
  // Without the flush the reopen replays the 2,000 timers into memtables (~100 KB).
  EXPECT_GT(after_plain, after_flush + 50'000) << after_plain << " vs " << after_flush;
}

// Creates write the timers and due families with random keys, the costly part of a WAL replay.
// Their small memtables flush on their own, so a reopen after a crash replays only the last few
// MB of them, however much of the WAL is still live (rocks_options.cc).
TEST(StoreTest, AReopenReplaysOnlyTheLastFewMegabytesOfCreates) {
  TempDir dir;
  constexpr int kTimers = 36'000;  // ~14 MB of WAL: under the 16 MB bound on the whole WAL
  constexpr int kPerTxn = 500;
  const std::string payload(300, 'p');
  {
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open({.data_dir = dir.path(), .shard_count = 1}));
    for (int first = 0; first < kTimers; first += kPerTxn) {
      ASSERT_OK(store->shard(0)->SubmitAndWait([&](ShardTxn& txn) {
        for (int i = first; i < first + kPerTxn; ++i) {
          const std::string id = absl::StrCat("t", i);
          txn.PutTimer(MakeTimer("ns", id, payload));
          txn.PutDue(int64_t{i} * 7919 % kTimers, "ns", id);  // due times out of order
        }
        return absl::OkStatus();
      }));
    }
  }  // closed without a flush: the reopen replays the WAL, as after a crash
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open({.data_dir = dir.path(), .shard_count = 0}));
  // With 32 MB memtables all ~14 MB came back into memtables.
  EXPECT_LT(store->shard(0)->MemtableBytes(), uint64_t{9} << 20);
  for (const char* id : {"t0", "t18000", "t35999"}) {
    ASSERT_OK_AND_ASSIGN(auto t, store->shard(0)->GetTimer("ns", id));
    EXPECT_TRUE(t.has_value()) << id;
  }
  std::vector<DueEntry> due;
  bool more = false;
  ASSERT_OK(store->shard(0)->ScanDue(std::nullopt, INT64_MAX, kTimers + 1, &due, &more));
  EXPECT_EQ(due.size(), static_cast<size_t>(kTimers));
}

// Deliveries live in a hash memtable (rocks_options.cc): exact-key reads must see puts and
// deletes whether the key is in a memtable, in a table file, or deleted over one, including
// keys that agree beyond the hashed prefix.
TEST(StoreTest, DeliveriesAreFoundByExactKeyInMemtablesAndFilesAndAfterReopen) {
  TempDir dir;
  const std::string long_a = std::string(300, 'x') + "a";
  const std::string long_b = std::string(300, 'x') + "b";
  auto put = [](Store& store, const std::string& fire_id) {
    return store.shard(store.ShardFor("ns", fire_id))->SubmitAndWait([&](ShardTxn& txn) {
      txn.PutNewDelivery(MakeDelivery("ns", fire_id, "topic", 1), QueueCopy::kWithRecord);
      return absl::OkStatus();
    });
  };
  auto erase = [](Store& store, const std::string& fire_id) {
    return store.shard(store.ShardFor("ns", fire_id))->SubmitAndWait([&](ShardTxn& txn) {
      return txn.DeleteDelivery("ns", fire_id);
    });
  };
  auto found = [](const Store& store, const std::string& fire_id) {
    auto got = store.shard(store.ShardFor("ns", fire_id))->GetDelivery("ns", fire_id);
    EXPECT_OK(got.status());
    return got.ok() && got->has_value();
  };
  {
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open({.data_dir = dir.path(), .shard_count = 2}));
    for (int i = 0; i < 500; ++i) ASSERT_OK(put(*store, absl::StrCat("f", i)));
    ASSERT_OK(put(*store, long_a));
    ASSERT_OK(put(*store, long_b));
    for (int i = 0; i < 100; ++i) ASSERT_OK(erase(*store, absl::StrCat("f", i)));
    ASSERT_OK(erase(*store, long_a));
    EXPECT_FALSE(found(*store, "f0"));
    EXPECT_TRUE(found(*store, "f100"));
    EXPECT_FALSE(found(*store, long_a));
    EXPECT_TRUE(found(*store, long_b));
    ASSERT_OK(store->CloseAndFlush(0));  // everything into table files
  }
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open({.data_dir = dir.path(), .shard_count = 0}));
  {
    // What an empty shard's memtables take (the hash memtable's buckets): the reopened ones
    // hold no more than that, i.e. the deliveries are read from table files.
    TempDir empty_dir;
    ASSERT_OK_AND_ASSIGN(auto empty, Store::Open({.data_dir = empty_dir.path(), .shard_count = 1}));
    const uint64_t empty_bytes = empty->shard(0)->MemtableBytes();
    for (int s = 0; s < store->shard_count(); ++s) {
      EXPECT_LT(store->shard(s)->MemtableBytes(), empty_bytes + 10'000);
    }
  }
  // Deletes and a put again, now in memtables over the table files.
  for (int i = 100; i < 200; ++i) ASSERT_OK(erase(*store, absl::StrCat("f", i)));
  ASSERT_OK(put(*store, "f0"));
  for (int i = 0; i < 500; ++i) {
    EXPECT_EQ(found(*store, absl::StrCat("f", i)), i == 0 || i >= 200) << i;
  }
  EXPECT_FALSE(found(*store, long_a));
  EXPECT_TRUE(found(*store, long_b));
  size_t pending = 0;
  for (int s = 0; s < store->shard_count(); ++s) {
    ASSERT_OK(store->shard(s)->ScanAllDeliveries([&](const DeliveryRecord&) {
      ++pending;
      return true;
    }));
  }
  EXPECT_EQ(pending, 300u + 1 + 1);  // f200..f499, f0, long_b
}

TEST(StoreTest, DifferentShardCountIsRefused) {
  TempDir dir;
  { ASSERT_OK(Store::Open({.data_dir = dir.path(), .shard_count = 16})); }
  auto reopened = Store::Open({.data_dir = dir.path(), .shard_count = 8});
  EXPECT_THAT(reopened, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(reopened.status().message(),
            absl::StrCat("data dir ", dir.path(),
                         " has 16 shards, --shards=8 asked; re-sharding is not supported"));
  EXPECT_OK(Store::Open({.data_dir = dir.path(), .shard_count = 16}));
}

TEST(StoreTest, MissingMetaIsAnErrorNotARecreate) {
  TempDir dir;
  { ASSERT_OK(Store::Open({.data_dir = dir.path(), .shard_count = 4})); }
  EditShardMeta(dir.path() + "/shards/002", std::nullopt);
  auto reopened = Store::Open({.data_dir = dir.path(), .shard_count = 0});
  EXPECT_THAT(reopened, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(reopened.status().message(), HasSubstr("shards/002 has no shard meta"));
  // Still refused the second time: nothing was silently re-created.
  EXPECT_THAT(Store::Open({.data_dir = dir.path(), .shard_count = 0}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(StoreTest, CorruptMetaIsDataLoss) {
  TempDir dir;
  { ASSERT_OK(Store::Open({.data_dir = dir.path(), .shard_count = 2})); }
  EditShardMeta(dir.path() + "/shards/001", std::string("\xff\xff\xff\xff", 4));
  auto reopened = Store::Open({.data_dir = dir.path(), .shard_count = 0});
  EXPECT_THAT(reopened, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(reopened.status().message(), HasSubstr("shards/001: shard meta is corrupt"));
}

TEST(StoreTest, MetaOfAnotherShardIsRefused) {
  TempDir dir;
  { ASSERT_OK(Store::Open({.data_dir = dir.path(), .shard_count = 2})); }
  internal::ShardMeta meta;
  meta.set_shard(0);
  meta.set_shard_count(2);
  meta.set_format_version(1);
  EditShardMeta(dir.path() + "/shards/001", meta.SerializeAsString());
  auto reopened = Store::Open({.data_dir = dir.path(), .shard_count = 0});
  EXPECT_THAT(reopened, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(reopened.status().message(),
              HasSubstr("says it is shard 0 of 2, expected shard 1 of 2"));
}

TEST(StoreTest, MissingShardDirIsAnError) {
  TempDir dir;
  { ASSERT_OK(Store::Open({.data_dir = dir.path(), .shard_count = 3})); }
  fs::remove_all(dir.path() + "/shards/001");
  auto reopened = Store::Open({.data_dir = dir.path(), .shard_count = 0});
  EXPECT_THAT(reopened, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(reopened.status().message(), HasSubstr("shard 001 is missing"));
}

TEST(StoreTest, LeftoverOfACrashedCreationIsDiscarded) {
  TempDir dir;
  fs::create_directories(dir.path() + "/shards.init/000");
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open({.data_dir = dir.path(), .shard_count = 2}));
  EXPECT_EQ(store->shard_count(), 2);
  EXPECT_FALSE(fs::exists(dir.path() + "/shards.init"));
}

TEST(StoreTest, SecondOpenOfTheSameDirFails) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open({.data_dir = dir.path(), .shard_count = 2}));
  EXPECT_FALSE(Store::Open({.data_dir = dir.path(), .shard_count = 0}).ok());
}

TEST(StoreTest, BadOptionsAreInvalidArgument) {
  EXPECT_THAT(Store::Open({.data_dir = ""}), StatusIs(absl::StatusCode::kInvalidArgument));
  TempDir dir;
  EXPECT_THAT(Store::Open({.data_dir = dir.path(), .shard_count = 1001}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Store::Open({.data_dir = dir.path(), .shard_count = -1}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// The hash decides where data lives: these values must never change.
TEST(StoreTest, ShardHashIsPinned) {
  EXPECT_EQ(ShardHash("", ""), 12638153115695167455ull);
  EXPECT_EQ(ShardHash("default", "t1"), 7863738818941858977ull);
  EXPECT_EQ(ShardHash("a", "b"), 16560467112517592754ull);
  // The separator matters: ("a", "b") and ("ab", "") are different keys.
  EXPECT_NE(ShardHash("a", "b"), ShardHash("ab", ""));
}

TEST(StoreTest, ShardForSpreadsKeys) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open({.data_dir = dir.path(), .shard_count = 16}));
  EXPECT_EQ(store->ShardFor("default", "t1"), 1);
  std::vector<int> counts(16, 0);
  for (int i = 0; i < 16000; ++i) ++counts[store->ShardFor("ns", absl::StrCat("timer-", i))];
  for (int c : counts) {
    EXPECT_GT(c, 800);
    EXPECT_LT(c, 1200);
  }
}

}  // namespace
}  // namespace chime::storage
