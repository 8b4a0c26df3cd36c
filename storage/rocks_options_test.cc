// RocksDB options that chime's throughput depends on, checked where they are built.
#include "storage/rocks_options.h"

#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "storage/column_families.h"

namespace chime::storage {
namespace {

// The time index's keys are spread over days by creates, so its L0 files are compacted 16 at a
// time rather than RocksDB's 4 (sixteenth sitting: ~200k against ~170k creates/s with 8-10M
// pending), and writes slow down and stop only well above that. The timers family after 32:
// each fire's end rewrites a record there, and a herd's ends are then compacted after its
// drain (thirty-first and thirty-ninth sittings).
TEST(RocksOptionsTest, TimeIndexAndTimersCompactManyL0FilesAtOnce) {
  const ShardStore::Deps deps;
  const std::vector<rocksdb::ColumnFamilyDescriptor> cfs = MakeColumnFamilies(deps);
  ASSERT_EQ(cfs.size(), static_cast<size_t>(kNumCfs));
  for (const auto& [cf, trigger] : {std::pair{kCfDue, 16}, std::pair{kCfTimers, 32}}) {
    const rocksdb::ColumnFamilyOptions& options = cfs[cf].options;
    EXPECT_EQ(options.level0_file_num_compaction_trigger, trigger) << kCfNames[cf];
    EXPECT_GT(options.level0_slowdown_writes_trigger, options.level0_file_num_compaction_trigger);
    EXPECT_GT(options.level0_stop_writes_trigger, options.level0_slowdown_writes_trigger);
  }
  // The families written in time order keep RocksDB's default: their files barely overlap.
  EXPECT_EQ(cfs[kCfQueue].options.level0_file_num_compaction_trigger,
            rocksdb::ColumnFamilyOptions().level0_file_num_compaction_trigger);
}

}  // namespace
}  // namespace chime::storage
