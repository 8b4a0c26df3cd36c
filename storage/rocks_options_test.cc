// RocksDB options that chime's throughput depends on, checked where they are built.
#include "storage/rocks_options.h"

#include <vector>

#include "gtest/gtest.h"
#include "storage/column_families.h"

namespace chime::storage {
namespace {

// The time index's keys are spread over days by creates, so its L0 files are compacted 16 at a
// time rather than RocksDB's 4 (sixteenth sitting: ~200k against ~170k creates/s with 8-10M
// pending), and writes slow down and stop only well above that.
TEST(RocksOptionsTest, TimeIndexCompactsSixteenL0FilesAtOnce) {
  const ShardStore::Deps deps;
  const std::vector<rocksdb::ColumnFamilyDescriptor> cfs = MakeColumnFamilies(deps);
  ASSERT_EQ(cfs.size(), static_cast<size_t>(kNumCfs));
  const rocksdb::ColumnFamilyOptions& due = cfs[kCfDue].options;
  EXPECT_EQ(due.level0_file_num_compaction_trigger, 16);
  EXPECT_GT(due.level0_slowdown_writes_trigger, due.level0_file_num_compaction_trigger);
  EXPECT_GT(due.level0_stop_writes_trigger, due.level0_slowdown_writes_trigger);
  // The families written in key order keep RocksDB's default: their files do not overlap.
  EXPECT_EQ(cfs[kCfTimers].options.level0_file_num_compaction_trigger,
            rocksdb::ColumnFamilyOptions().level0_file_num_compaction_trigger);
}

}  // namespace
}  // namespace chime::storage
