// RocksDB options of a shard, built from the shared dependencies. All tuning lives here.
#ifndef CHIME_STORAGE_ROCKS_OPTIONS_H_
#define CHIME_STORAGE_ROCKS_OPTIONS_H_

#include <vector>

#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "storage/shard_deps.h"

namespace chime::storage {

rocksdb::DBOptions MakeDBOptions(const ShardStore::Deps& deps);
// One descriptor per Cf, in Cf order.
std::vector<rocksdb::ColumnFamilyDescriptor> MakeColumnFamilies(const ShardStore::Deps& deps);

}  // namespace chime::storage

#endif  // CHIME_STORAGE_ROCKS_OPTIONS_H_
