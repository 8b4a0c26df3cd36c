#include "storage/group_batch.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/testing/temp_dir.h"

namespace chime::storage {
namespace {

using ::chime::testing::TempDir;

// One real DB; every family maps to its default column family (the index keeps families apart
// by itself, which the tests check).
class GroupBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir_.path() + "/db", &raw).ok());
    db_.reset(raw);
    GroupBatch::Handles handles;
    handles.fill(db_->DefaultColumnFamily());
    batch_ = std::make_unique<GroupBatch>(handles);
  }
  void TearDown() override { ASSERT_TRUE(db_->Close().ok()); }

  std::string DbValue(const std::string& key) {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), key, &value);
    return s.IsNotFound() ? "<none>" : value;
  }

  TempDir dir_;
  std::unique_ptr<rocksdb::DB> db_;
  std::unique_ptr<GroupBatch> batch_;
};

TEST_F(GroupBatchTest, FindsTheLatestWriteOfAKeyInItsFamily) {
  EXPECT_FALSE(batch_->Find(kCfTimers, "k").has_value());
  ASSERT_TRUE(batch_->Put(kCfTimers, "k", "v1").ok());
  ASSERT_TRUE(batch_->Put(kCfTimers, "k", "v2").ok());
  ASSERT_TRUE(batch_->Put(kCfDeliveries, "k", "other family").ok());
  EXPECT_EQ(batch_->Find(kCfTimers, "k"), "v2");
  EXPECT_EQ(batch_->Find(kCfDeliveries, "k"), "other family");
  EXPECT_FALSE(batch_->Find(kCfIdempotency, "k").has_value());

  ASSERT_TRUE(batch_->Delete(kCfTimers, "k").ok());
  std::optional<absl::string_view> deleted = batch_->Find(kCfTimers, "k");
  ASSERT_TRUE(deleted.has_value());
  EXPECT_EQ(deleted->data(), nullptr);

  // An empty value is a value, not a delete.
  ASSERT_TRUE(batch_->Put(kCfDeadLetters, "empty", "").ok());
  std::optional<absl::string_view> empty = batch_->Find(kCfDeadLetters, "empty");
  ASSERT_TRUE(empty.has_value());
  EXPECT_NE(empty->data(), nullptr);
  EXPECT_EQ(*empty, "");
  EXPECT_EQ(batch_->Count(), 5u);
}

TEST_F(GroupBatchTest, TimeOrderedFamiliesAreWrittenButNotIndexed) {
  EXPECT_FALSE(GroupBatch::IsIndexed(kCfDue));
  EXPECT_FALSE(GroupBatch::IsIndexed(kCfQueue));
  EXPECT_TRUE(GroupBatch::IsIndexed(kCfTimers));
  ASSERT_TRUE(batch_->Put(kCfDue, "due-key", "").ok());
  EXPECT_FALSE(batch_->Find(kCfDue, "due-key").has_value());
  ASSERT_TRUE(db_->Write(rocksdb::WriteOptions(), batch_->batch()).ok());
  EXPECT_EQ(DbValue("due-key"), "");
}

TEST_F(GroupBatchTest, IndexChangesCountsWhatCanChangeAFindAnswer) {
  uint64_t seen = batch_->IndexChanges();
  auto changed = [&] {
    const uint64_t now = batch_->IndexChanges();
    const bool differs = now != seen;
    seen = now;
    return differs;
  };
  ASSERT_TRUE(batch_->Put(kCfTimers, "a", "1").ok());
  EXPECT_TRUE(changed());
  ASSERT_TRUE(batch_->Delete(kCfTimers, "a").ok());
  EXPECT_TRUE(changed());
  // Reads, kept records and the unindexed families change no answer.
  EXPECT_TRUE(batch_->Find(kCfTimers, "a").has_value());
  batch_->KeepHot(kCfTimers, "b", "2", 7);
  ASSERT_TRUE(batch_->Put(kCfDue, "c", "").ok());
  EXPECT_FALSE(changed());
  batch_->SetSavePoint();
  ASSERT_TRUE(batch_->Put(kCfTimers, "d", "3").ok());
  EXPECT_TRUE(changed());
  ASSERT_TRUE(batch_->RollbackToSavePoint().ok());
  EXPECT_TRUE(changed());
  batch_->Clear();
  EXPECT_TRUE(changed());
}

TEST_F(GroupBatchTest, RollbackUndoesTheBatchAndTheIndexSinceTheSavePoint) {
  ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), "in-db", "db-value").ok());
  ASSERT_TRUE(batch_->Put(kCfTimers, "kept", "before").ok());
  batch_->SetSavePoint();
  ASSERT_TRUE(batch_->Put(kCfTimers, "kept", "after").ok());
  ASSERT_TRUE(batch_->Put(kCfTimers, "new", "after").ok());
  ASSERT_TRUE(batch_->Delete(kCfTimers, "in-db").ok());
  ASSERT_TRUE(batch_->Put(kCfTimers, "new", "again").ok());
  ASSERT_TRUE(batch_->RollbackToSavePoint().ok());

  EXPECT_EQ(batch_->Find(kCfTimers, "kept"), "before");
  EXPECT_FALSE(batch_->Find(kCfTimers, "new").has_value());
  EXPECT_FALSE(batch_->Find(kCfTimers, "in-db").has_value());
  EXPECT_EQ(batch_->Count(), 1u);
  ASSERT_TRUE(db_->Write(rocksdb::WriteOptions(), batch_->batch()).ok());
  EXPECT_EQ(DbValue("kept"), "before");
  EXPECT_EQ(DbValue("new"), "<none>");
  EXPECT_EQ(DbValue("in-db"), "db-value");
}

TEST_F(GroupBatchTest, PoppedSavePointKeepsTheWritesAndALaterRollbackStopsAtTheNextOne) {
  batch_->SetSavePoint();
  ASSERT_TRUE(batch_->Put(kCfTimers, "a", "1").ok());
  batch_->PopSavePoint();
  batch_->SetSavePoint();
  ASSERT_TRUE(batch_->Put(kCfTimers, "a", "2").ok());
  ASSERT_TRUE(batch_->RollbackToSavePoint().ok());
  EXPECT_EQ(batch_->Find(kCfTimers, "a"), "1");
  EXPECT_EQ(batch_->Count(), 1u);
}

TEST_F(GroupBatchTest, ASecondSavePointReplacesTheFirst) {
  batch_->SetSavePoint();
  ASSERT_TRUE(batch_->Put(kCfTimers, "a", "1").ok());
  batch_->SetSavePoint();
  ASSERT_TRUE(batch_->Put(kCfTimers, "a", "2").ok());
  ASSERT_TRUE(batch_->RollbackToSavePoint().ok());
  EXPECT_EQ(batch_->Find(kCfTimers, "a"), "1");
  EXPECT_EQ(batch_->Count(), 1u);
  // No save point is left to roll back to.
  EXPECT_FALSE(batch_->RollbackToSavePoint().ok());
  EXPECT_EQ(batch_->Count(), 1u);
}

TEST_F(GroupBatchTest, ValuesStayReadableAcrossManyWritesAndClearEmptiesTheBatch) {
  // Enough bytes for several arena blocks, and values bigger than a block's share.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 3000; ++i) {
      const size_t size = i % 500 == 0 ? 100'000 : static_cast<size_t>(i % 97);
      ASSERT_TRUE(
          batch_->Put(kCfTimers, absl::StrCat("key-", i), std::string(size, 'a' + i % 26)).ok());
    }
    for (int i = 0; i < 3000; ++i) {
      const size_t size = i % 500 == 0 ? 100'000 : static_cast<size_t>(i % 97);
      ASSERT_EQ(batch_->Find(kCfTimers, absl::StrCat("key-", i)), std::string(size, 'a' + i % 26))
          << "round " << round << " key " << i;
    }
    EXPECT_EQ(batch_->Count(), 3000u);
    batch_->Clear();
    EXPECT_EQ(batch_->Count(), 0u);
    EXPECT_FALSE(batch_->Find(kCfTimers, "key-1").has_value());
  }
}

}  // namespace
}  // namespace chime::storage
