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

}  // namespace chime::testing
