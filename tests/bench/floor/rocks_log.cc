#include "tests/bench/floor/rocks_log.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace chime::floor {
namespace {

void AppendBigEndian(uint64_t value, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

std::string RecordKey(uint64_t index) {
  std::string key(1, RocksLog::kRecordPrefix);
  AppendBigEndian(index, &key);
  return key;
}

}  // namespace

RocksLog::RocksLog(const std::string& path, bool sync) : sync_(sync) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  const rocksdb::Status status = rocksdb::DB::Open(options, path, &db);
  if (!status.ok()) {
    fprintf(stderr, "cannot open RocksDB at %s: %s\n", path.c_str(), status.ToString().c_str());
    std::exit(1);
  }
  db_.reset(db);
}

RocksLog::~RocksLog() = default;

bool RocksLog::WriteGroup(const std::vector<const std::string*>& records) {
  rocksdb::WriteBatch batch;
  std::string due_key;
  for (const std::string* records_of_call : records) {
    // A batch's call appends all its timers' records: each gets its own key.
    size_t pos = 0;
    while (pos + sizeof(uint32_t) <= records_of_call->size()) {
      uint32_t size = 0;
      std::memcpy(&size, records_of_call->data() + pos, sizeof(size));
      const size_t length = sizeof(size) + size;
      const std::string key = RecordKey(next_index_);
      batch.Put(key, rocksdb::Slice(records_of_call->data() + pos, length));
      pos += length;
      // A multiplicative hash of the index: due times scattered like chimed's over a day.
      due_key.assign(1, 'd');
      AppendBigEndian((next_index_ * 0x9E3779B97F4A7C15ULL) >> 20, &due_key);
      due_key.append(key, 1);
      batch.Put(due_key, rocksdb::Slice());
      ++next_index_;
    }
  }
  rocksdb::WriteOptions options;
  options.sync = sync_;
  return db_->Write(options, &batch).ok();
}

}  // namespace chime::floor
