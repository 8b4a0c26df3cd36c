// Opens a closed data dir's RocksDB directly, with every column family it has, so a test can
// inspect or tamper with what chime wrote (an old format, a broken record).
#ifndef CHIME_TESTS_TESTING_RAW_ROCKSDB_H_
#define CHIME_TESTS_TESTING_RAW_ROCKSDB_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "rocksdb/db.h"

namespace chime::testing {

class RawRocksDb {
 public:
  explicit RawRocksDb(const std::string& dir,
                      const rocksdb::ColumnFamilyOptions& options = rocksdb::ColumnFamilyOptions());
  ~RawRocksDb();  // closes it
  RawRocksDb(const RawRocksDb&) = delete;
  RawRocksDb& operator=(const RawRocksDb&) = delete;

  // Whether it opened; the other calls need it to have.
  bool ok() const { return db_ != nullptr; }
  rocksdb::DB* db() const { return db_.get(); }
  // nullptr if the DB has no family of that name.
  rocksdb::ColumnFamilyHandle* family(const std::string& name) const;
  // Every (key, value) of the family, in key order; none (and a test failure) if it is missing.
  std::vector<std::pair<std::string, std::string>> Entries(const std::string& family_name) const;

 private:
  std::vector<std::string> names_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace chime::testing

#endif  // CHIME_TESTS_TESTING_RAW_ROCKSDB_H_
