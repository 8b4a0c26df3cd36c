#include "storage/rocks_options.h"

#include "rocksdb/env.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"
#include "storage/column_families.h"
#include "storage/retention_filter.h"

namespace chime::storage {
namespace {

// Point lookups (Get by exact key) dominate these; scans dominate the others.
bool IsPointLookupCf(int cf) {
  return cf == kCfTimers || cf == kCfDeliveries || cf == kCfIdempotency || cf == kCfDeadLetters;
}

// Families whose new keys mostly land right after the previous one (time-ordered keys).
bool IsTimeOrderedCf(int cf) { return cf == kCfDue || cf == kCfQueue; }

// With 10M pending on 4 shards, SIGKILL -> first on-time fire took 0.54-1.19 s with 32 MB
// memtables here (depending on where the kill fell between flushes) and 0.62-0.71 s with 4 MB,
// at the same create rate while filling.
constexpr size_t kCreateFamilyMemtableBytes = size_t{4} << 20;
// The timers family takes each fire's end too (the timer FIRED, written by its ack), a whole
// record per fire: with 4 MB memtables a 1M herd flushed it ~12 times per shard, and each
// L0 -> L1 compaction rewrote all the shard's timers. 8 MB: 7.74 and 7.73 s against 8.17 and
// 8.24 s, 13.2-13.4 against 14.1-14.2 us of CPU per fire (16 MB: 7.78 and 7.61 s), and a
// reopen still replays less than the WAL holds (twenty-sixth sitting).
constexpr size_t kTimersMemtableBytes = size_t{8} << 20;

constexpr uint64_t kRetentionRewriteSeconds = 24 * 60 * 60;

// L0 files of the time index before they are compacted into L1 (RocksDB's default is 4).
constexpr int kL0CompactionTrigger = 16;
// The same for the timers family, whose files a herd's ends fill fastest.
constexpr int kTimersL0CompactionTrigger = 32;

rocksdb::ColumnFamilyOptions MakeCfOptions(const ShardStore::Deps& deps, int cf) {
  rocksdb::ColumnFamilyOptions options;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = deps.block_cache;
  // Index and filter blocks are charged to the shared cache, so memory stays bounded by
  // block_cache_bytes however many shards and files there are.
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  if (IsPointLookupCf(cf)) {
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  }
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Memtables are bounded globally by the WriteBufferManager; this caps one memtable.
  options.write_buffer_size = 32 << 20;
  if (cf == kCfTimers || cf == kCfDue) {
    // Creates write these two with random keys (ids; due times spread over days), and a restart
    // replays them into skip lists slowly (10.5 MB of WAL took 0.8 s per shard, 4 shards on 2
    // cores, most of it in these inserts). A family that flushed is skipped in
    // the older WALs, so small memtables here bound the replay without flushing the fire path's
    // families more often (a 4 MB bound on the whole WAL did that: 4 % more CPU per fire).
    options.write_buffer_size = cf == kCfTimers ? kTimersMemtableBytes : kCreateFamilyMemtableBytes;
  }
  // Deliveries keep the default skip-list memtable. A hash memtable (eighth sitting) made the
  // fire path's gets O(1), but every flush of it sorts all its entries anew
  // (HashSkipListRep::GetIterator, 9 % of chimed's CPU at 45k fires/s); since the writer
  // inserts each group's batch in key order the skip list costs less in all (thirteenth
  // sitting: 50.6k against 45.4k fires/s delivered at saturation, medians of 6 pairs). Old data
  // dirs written with the hash memtable's prefix extractor open fine: their files' prefix filters
  // are just not used.
  if (cf == kCfTimers) {
    // Every fire's end rewrites its timer's record here, and each L0 -> L1 compaction rewrites
    // the shard's pending timers with it. After 16 files instead of 4, a 1M herd's ends (~6
    // flushes per shard) are compacted after the herd, not during its drain: 6.38-6.49 against
    // 6.87-6.98 s (thirty-first sitting). The kept records answer the fire path's reads, and
    // the L0 files' filters are pinned in the cache for the others. After 32: with 2 shards
    // (one per core here) each flushes twice the ends, and at 16 files a compaction ran during
    // a 1M herd's drain (0.8 us of CPU per fire, thirty-eighth sitting).
    options.level0_file_num_compaction_trigger = kTimersL0CompactionTrigger;
    options.level0_slowdown_writes_trigger = kTimersL0CompactionTrigger + 24;
    options.level0_stop_writes_trigger = kTimersL0CompactionTrigger + 44;
  }
  if (cf == kCfDue) {
    // Creates spread due times over days, so every flushed file of the time index overlaps
    // all of L1 and each L0 -> L1 compaction rewrites the whole of L1, more of it the more
    // timers are pending (creates/s fell from ~215k to ~170k between 1M and 10M pending).
    // Compacting after 16 files rewrites L1 a quarter as often: ~200k against ~170k creates/s at
    // 8-10M pending (sixteenth sitting). Reads here are range scans for the heap's next window, a
    // few a second, for which more L0 files cost little.
    options.level0_file_num_compaction_trigger = kL0CompactionTrigger;
    // RocksDB's slowdown (20) and stop (36) points would otherwise sit right above it.
    options.level0_slowdown_writes_trigger = kL0CompactionTrigger + 24;
    options.level0_stop_writes_trigger = kL0CompactionTrigger + 44;
  }
  if (IsTimeOrderedCf(cf)) {
    // Keys start with a big-endian time (or a namespace and topic, then one): remembering where
    // the last insert of the same first byte went skips most of each insert's search.
    options.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(1));
  }
  if ((cf == kCfTimers || cf == kCfIdempotency) && deps.retention != nullptr &&
      deps.retention->retention != absl::InfiniteDuration()) {
    options.compaction_filter_factory = MakeRetentionFilterFactory(
        cf, deps.retention, deps.retention_slot, deps.retention_counters);
    // Files no write pushes down would keep their expired records for good: every file is
    // rewritten (and filtered) at least daily, so a record outlives its retention by a day at
    // most. Cheap: 10M pending timers are ~1 GB.
    options.periodic_compaction_seconds = kRetentionRewriteSeconds;
  }
  return options;
}

}  // namespace

rocksdb::DBOptions MakeDBOptions(const ShardStore::Deps& deps) {
  rocksdb::DBOptions options;
  options.create_if_missing = deps.create;
  options.error_if_exists = deps.create;
  // Column families added by later format versions appear on open.
  options.create_missing_column_families = true;
  options.env = deps.env != nullptr ? deps.env : rocksdb::Env::Default();
  options.write_buffer_manager = deps.write_buffer_manager;
  options.max_background_jobs = deps.max_background_jobs;
  // With several column families the oldest WAL lives until every one of them flushed; this
  // forces flushes of idle families so the WAL stays small. It bounds what a restart after a
  // crash replays: 16 MB per shard brought SIGKILL -> first on-time fire with 10M pending on 4
  // shards from 2.1 to ~1 s; 64 MB was no faster on the fire path, 4 MB cost it 4 % CPU per fire
  // (kCreateFamilyMemtableBytes bounds the costly part of the replay instead).
  options.max_total_wal_size = 16 << 20;
  // A restart replays the WAL into memtables and serves from them; writing them out as L0
  // files first would only delay serving (they are flushed later like any memtable).
  options.avoid_flush_during_recovery = true;
  // Recovery starts this many threads per column family to open table files (16 by default:
  // ~1,800 thread starts for 16 shards of 7 families, most of the time of an open). Shards
  // already open in parallel (Store::Open).
  options.max_file_opening_threads = 1;
  options.keep_log_file_num = 3;
  // The deliveries family's hash memtable cannot take concurrent inserts; each shard has a
  // single writer thread anyway.
  options.allow_concurrent_memtable_write = false;
  options.max_log_file_size = 8 << 20;
  return options;
}

std::vector<rocksdb::ColumnFamilyDescriptor> MakeColumnFamilies(const ShardStore::Deps& deps) {
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  cfs.reserve(kNumCfs);
  for (int cf = 0; cf < kNumCfs; ++cf) {
    cfs.emplace_back(kCfNames[cf], MakeCfOptions(deps, cf));
  }
  return cfs;
}

}  // namespace chime::storage
