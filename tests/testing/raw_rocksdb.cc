#include "tests/testing/raw_rocksdb.h"

#include "gtest/gtest.h"

namespace chime::testing {

RawRocksDb::RawRocksDb(const std::string& dir, const rocksdb::ColumnFamilyOptions& options) {
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names_);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const std::string& name : names_) families.emplace_back(name, options);
  rocksdb::DB* db = nullptr;
  s = rocksdb::DB::Open(rocksdb::DBOptions(), dir, families, &handles_, &db);
  EXPECT_TRUE(s.ok()) << s.ToString();
  db_.reset(db);
}

RawRocksDb::~RawRocksDb() {
  if (db_ == nullptr) return;
  for (rocksdb::ColumnFamilyHandle* h : handles_)
    EXPECT_TRUE(db_->DestroyColumnFamilyHandle(h).ok());
  EXPECT_TRUE(db_->Close().ok());
}

rocksdb::ColumnFamilyHandle* RawRocksDb::family(const std::string& name) const {
  for (size_t i = 0; i < names_.size() && i < handles_.size(); ++i) {
    if (names_[i] == name) return handles_[i];
  }
  return nullptr;
}

std::vector<std::pair<std::string, std::string>> RawRocksDb::Entries(
    const std::string& family_name) const {
  std::vector<std::pair<std::string, std::string>> entries;
  rocksdb::ColumnFamilyHandle* handle = family(family_name);
  EXPECT_NE(handle, nullptr) << "no column family " << family_name;
  if (handle == nullptr) return entries;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handle));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    entries.emplace_back(it->key().ToString(), it->value().ToString());
  }
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  return entries;
}

}  // namespace chime::testing
