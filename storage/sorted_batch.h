// A copy of a write batch with its entries in key order per column family, so RocksDB inserts
// them into each memtable's skip list in order: an insert then walks nodes the previous one
// just brought into cache, and in the families with insert hints (due, queue) starts its
// search where the previous one ended. Writes to the same key keep their order, so applying
// the copy leaves the same state as the original. Internal to storage/. Not thread-safe: the
// shard's writer thread owns one.
#ifndef CHIME_STORAGE_SORTED_BATCH_H_
#define CHIME_STORAGE_SORTED_BATCH_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace chime::storage {

class SortedBatch {
 public:
  // `cfs`: the handles of every family a batch may write (looked up by id).
  explicit SortedBatch(std::vector<rocksdb::ColumnFamilyHandle*> cfs) : cfs_(std::move(cfs)) {}
  SortedBatch(const SortedBatch&) = delete;
  SortedBatch& operator=(const SortedBatch&) = delete;

  // The sorted copy of `in` (valid until the next call), or nullptr when `in` holds an entry
  // other than a put or a delete, or too few entries to gain: then write `in` as it is.
  rocksdb::WriteBatch* SortedCopyOf(const rocksdb::WriteBatch& in);

  struct Entry {
    uint32_t cf_id;
    bool is_delete;
    rocksdb::Slice key;    // into the batch being copied
    rocksdb::Slice value;  // empty for a delete
  };

 private:
  rocksdb::ColumnFamilyHandle* HandleOf(uint32_t cf_id) const;

  const std::vector<rocksdb::ColumnFamilyHandle*> cfs_;
  std::vector<Entry> entries_;
  rocksdb::WriteBatch sorted_;
};

}  // namespace chime::storage

#endif  // CHIME_STORAGE_SORTED_BATCH_H_
