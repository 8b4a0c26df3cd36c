// A RocksDB database in the place of a log file: each group of created timers is one write
// batch (a record under its id, and an empty entry under a due time spread over a day, as
// chimed's time index lands at random places) with the WAL synced. Against the plain log,
// this is what RocksDB itself adds to a durable create, without chimed's threads or
// transactions. The values are the log's records (length, then the serialized Timer).
#ifndef CHIME_TESTS_BENCH_FLOOR_ROCKS_LOG_H_
#define CHIME_TESTS_BENCH_FLOOR_ROCKS_LOG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rocksdb {
class DB;
}

namespace chime::floor {

class RocksLog {
 public:
  // Opens (creating) the database at `path`; exits the process if it cannot.
  RocksLog(const std::string& path, bool sync);
  ~RocksLog();

  // Each of `records` holds one call's records (a batch's several), each its 4-byte length and
  // its bytes, as the log has them. Not thread-safe: one writer at a time (SharedLogs writes
  // through its only file, held by one caller or its one log thread at a time). Whether the batch
  // was written (and, with sync, synced).
  bool WriteGroup(const std::vector<const std::string*>& records);

  // A record's key: this byte, then its index (order of writing from 0), big-endian.
  static constexpr char kRecordPrefix = 't';

 private:
  const bool sync_;
  std::unique_ptr<rocksdb::DB> db_;
  uint64_t next_index_ = 0;
};

}  // namespace chime::floor

#endif  // CHIME_TESTS_BENCH_FLOOR_ROCKS_LOG_H_
