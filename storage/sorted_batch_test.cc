#include "storage/sorted_batch.h"

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/testing/temp_dir.h"

namespace chime::storage {
namespace {

using ::chime::testing::TempDir;

// A real DB with two families, opened twice (under two names) so a batch and its sorted copy
// can be applied side by side.
struct TwoFamilyDb {
  explicit TwoFamilyDb(const std::string& path) {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
        {"second", rocksdb::ColumnFamilyOptions()}};
    rocksdb::DB* raw = nullptr;
    ok = rocksdb::DB::Open(options, path, families, &handles, &raw).ok();
    db.reset(raw);
  }
  ~TwoFamilyDb() {
    for (rocksdb::ColumnFamilyHandle* h : handles)
      db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    db->Close().PermitUncheckedError();
  }

  // family index → key → value, as the DB holds them.
  std::vector<std::map<std::string, std::string>> Contents() {
    std::vector<std::map<std::string, std::string>> out(handles.size());
    for (size_t i = 0; i < handles.size(); ++i) {
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[i]));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        out[i][it->key().ToString()] = it->value().ToString();
      }
    }
    return out;
  }

  bool ok = false;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  std::unique_ptr<rocksdb::DB> db;
};

// (family id, key, "put:value" or "delete") in the order a batch holds them.
std::vector<std::string> EntriesOf(const rocksdb::WriteBatch& batch) {
  struct Lister : rocksdb::WriteBatch::Handler {
    std::vector<std::string> out;
    rocksdb::Status PutCF(uint32_t cf, const rocksdb::Slice& k, const rocksdb::Slice& v) override {
      out.push_back(absl::StrCat(cf, " ", k.ToString(), " put:", v.ToString()));
      return rocksdb::Status::OK();
    }
    rocksdb::Status DeleteCF(uint32_t cf, const rocksdb::Slice& k) override {
      out.push_back(absl::StrCat(cf, " ", k.ToString(), " delete"));
      return rocksdb::Status::OK();
    }
  } lister;
  EXPECT_TRUE(batch.Iterate(&lister).ok());
  return lister.out;
}

class SortedBatchTest : public ::testing::Test {
 protected:
  TempDir dir_;
  TwoFamilyDb original_{dir_.path() + "/original"};
  TwoFamilyDb sorted_{dir_.path() + "/sorted"};
};

TEST_F(SortedBatchTest, CopyIsInKeyOrderPerFamilyAndKeepsTheOrderOfWritesToOneKey) {
  ASSERT_TRUE(original_.ok && sorted_.ok);
  rocksdb::ColumnFamilyHandle* first = original_.handles[0];
  rocksdb::ColumnFamilyHandle* second = original_.handles[1];
  rocksdb::WriteBatch batch;
  ASSERT_TRUE(batch.Put(second, "m", "1").ok());
  ASSERT_TRUE(batch.Put(first, "z", "1").ok());
  ASSERT_TRUE(batch.Put(first, "b", "first").ok());
  ASSERT_TRUE(batch.Delete(second, "a").ok());
  ASSERT_TRUE(batch.Delete(first, "b").ok());  // b: put, delete, put again
  ASSERT_TRUE(batch.Put(first, "a", "1").ok());
  ASSERT_TRUE(batch.Put(first, "b", "last").ok());
  ASSERT_TRUE(batch.Put(second, "c", "").ok());  // an empty value stays a value

  SortedBatch sorter(original_.handles);
  rocksdb::WriteBatch* copy = sorter.SortedCopyOf(batch);
  ASSERT_NE(copy, nullptr);
  const uint32_t f = first->GetID(), s = second->GetID();
  EXPECT_EQ(EntriesOf(*copy), (std::vector<std::string>{
                                  absl::StrCat(f, " a put:1"),
                                  absl::StrCat(f, " b put:first"),
                                  absl::StrCat(f, " b delete"),
                                  absl::StrCat(f, " b put:last"),
                                  absl::StrCat(f, " z put:1"),
                                  absl::StrCat(s, " a delete"),
                                  absl::StrCat(s, " c put:"),
                                  absl::StrCat(s, " m put:1"),
                              }));

  // Applied, the copy leaves what the original leaves (the second DB's handles have the same
  // ids: both were created the same way).
  ASSERT_TRUE(sorted_.db->Put(rocksdb::WriteOptions(), sorted_.handles[1], "a", "old").ok());
  ASSERT_TRUE(original_.db->Put(rocksdb::WriteOptions(), second, "a", "old").ok());
  ASSERT_TRUE(original_.db->Write(rocksdb::WriteOptions(), &batch).ok());
  ASSERT_TRUE(sorted_.db->Write(rocksdb::WriteOptions(), copy).ok());
  EXPECT_EQ(sorted_.Contents(), original_.Contents());
  EXPECT_EQ(original_.Contents()[0].at("b"), "last");
  EXPECT_EQ(original_.Contents()[1].count("a"), 0u);
}

TEST_F(SortedBatchTest, BatchesItCannotReorderSafelyOrTooSmallToGainAreLeftAlone) {
  ASSERT_TRUE(original_.ok);
  rocksdb::ColumnFamilyHandle* first = original_.handles[0];
  SortedBatch sorter(original_.handles);

  rocksdb::WriteBatch small;
  ASSERT_TRUE(small.Put(first, "b", "1").ok());
  ASSERT_TRUE(small.Put(first, "a", "1").ok());
  EXPECT_EQ(sorter.SortedCopyOf(small), nullptr);

  // A range delete after a put of a key it covers must stay after it.
  rocksdb::WriteBatch with_range;
  for (const char* key : {"d", "c", "b"}) ASSERT_TRUE(with_range.Put(first, key, "1").ok());
  ASSERT_TRUE(with_range.DeleteRange(first, "a", "c").ok());
  ASSERT_TRUE(with_range.Put(first, "a", "1").ok());
  EXPECT_EQ(sorter.SortedCopyOf(with_range), nullptr);

  // A family the sorter was not given.
  rocksdb::WriteBatch unknown_family;
  for (const char* key : {"d", "c", "b", "a"}) {
    ASSERT_TRUE(unknown_family.Put(original_.handles[1], key, "1").ok());
  }
  SortedBatch first_only({first});
  EXPECT_EQ(first_only.SortedCopyOf(unknown_family), nullptr);
  EXPECT_NE(sorter.SortedCopyOf(unknown_family), nullptr);
}

}  // namespace
}  // namespace chime::storage
