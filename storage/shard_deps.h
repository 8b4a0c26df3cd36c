// What every shard of a Store shares (cache, write-buffer budget, background threads) and the
// per-shard settings Store::Open hands to ShardStore::Open. Internal to storage/.
#ifndef CHIME_STORAGE_SHARD_DEPS_H_
#define CHIME_STORAGE_SHARD_DEPS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/time/time.h"
#include "common/clock.h"
#include "storage/retention.h"
#include "storage/retention_filter.h"
#include "storage/shard_store.h"

namespace rocksdb {
class Cache;
class Env;
class WriteBufferManager;
}  // namespace rocksdb

namespace chime::storage {

struct ShardStore::Deps {
  std::shared_ptr<rocksdb::Cache> block_cache;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffer_manager;
  rocksdb::Env* env = nullptr;  // nullptr: rocksdb::Env::Default()
  int max_background_jobs = 2;
  // Sync the WAL on every group commit.
  bool fsync = true;
  size_t max_group_size = 4096;
  // How long a Sync::kDeferred write may wait for its sync when nothing urgent comes along.
  absl::Duration deferred_sync_delay = absl::Milliseconds(50);
  // The shard writer keeps the latest bytes of timers due within hot_timer_horizon and of
  // pending deliveries, up to hot_record_bytes, for the transactions that read them back.
  size_t hot_record_bytes = 0;
  absl::Duration hot_timer_horizon = absl::ZeroDuration();
  Clock* hot_record_clock = Clock::Real();
  // true: the shard must not exist yet; it is created with meta (index, shard_count).
  // false: the shard must exist and its meta must say (index, shard_count).
  bool create = false;
  uint32_t shard_count = 0;
  // Shared by the Store's shards: set while a request thread writes in one of them
  // (ShardStore::SubmitOnThisThread). nullptr: one per shard at a time, no limit overall.
  std::shared_ptr<std::atomic<bool>> request_thread_slot;
  // What expires and when (owned by the Store); nullptr: nothing does.
  const RetentionOptions* retention = nullptr;
  // Per shard, made by ShardStore::Open: the shard the timers filter reads through and the
  // filters' counts.
  std::shared_ptr<RetentionShardSlot> retention_slot;
  std::shared_ptr<RetentionCounters> retention_counters;
};

}  // namespace chime::storage

#endif  // CHIME_STORAGE_SHARD_DEPS_H_
