// The durable state of one chime node: a fixed number of shards, each its own RocksDB
// instance under DATA_DIR/shards/NNN/ (separate WAL, so shards recover, replicate and move
// independently), sharing one block cache, one write-buffer budget and one background pool.
//
//   CHIME_ASSIGN_OR_RETURN(auto store, Store::Open({.data_dir = "./data"}));
//   ShardStore* shard = store->shard(store->ShardFor(ns, timer_id));
//
// Thread-safe.
#ifndef CHIME_STORAGE_STORE_H_
#define CHIME_STORAGE_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "storage/retention.h"
#include "storage/shard_store.h"

namespace rocksdb {
class Env;
}  // namespace rocksdb

namespace chime::storage {

// Shards of a new data dir when none is asked: one per hardware thread, from 2 to 16. Each
// shard has a writer thread and a WAL synced on its own; more only add context switches and
// smaller group commits (docs/PERFORMANCE.md: on 2 cores, 4 shards fire 10k/s with a tenth of
// the lateness of 16; 2 drain a 1M herd 5 % faster than 4, with larger batched writes).
int DefaultShardCount();

struct StoreOptions {
  std::string data_dir;
  // Used when the data dir is created (0: DefaultShardCount()); an existing dir keeps its
  // count and a different non-zero value here is an error (re-sharding is not supported).
  int shard_count = 16;
  // Sync the WAL before acknowledging a commit. Off only for tests and benchmarks.
  bool fsync = true;
  size_t block_cache_bytes = size_t{64} << 20;
  // Budget for all shards' memtables together.
  size_t write_buffer_bytes = size_t{128} << 20;
  int background_threads = 2;
  // Most transactions merged into one group commit.
  size_t max_group_size = 4096;
  // Longest a Sync::kDeferred write (an ack) waits for its WAL sync (ShardStore::Sync).
  absl::Duration deferred_sync_delay = absl::Milliseconds(50);
  // Records the shard writers keep for the reads of fires and acks, all shards together:
  // timers due within hot_timer_horizon of their write or read ahead as the engine's window
  // reaches them (ShardTxn::WarmTimers), and pending deliveries (HotRecords).
  size_t hot_record_bytes = size_t{320} << 20;
  absl::Duration hot_timer_horizon = absl::Seconds(60);
  // The clock due times are on (the engine's): the horizon and the ranks of kept records are
  // taken from it. Must outlive the store.
  Clock* hot_record_clock = Clock::Real();
  // nullptr: rocksdb::Env::Default(). Tests inject faults through it.
  rocksdb::Env* env = nullptr;
  // Which ended timers and idempotency keys are dropped, and when (default: none).
  RetentionOptions retention;
};

class Store {
 public:
  static absl::StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~Store();

  int shard_count() const { return static_cast<int>(shards_.size()); }
  ShardStore* shard(int i) const { return shards_[i].get(); }
  // The shard owning (namespace, key): a stable hash, the same on every node and version.
  int ShardFor(absl::string_view ns, absl::string_view key) const;

  // Total bytes on disk (SST + WAL) of all shards.
  uint64_t DiskBytes() const;

  // Graceful shutdown: closes every shard (queued transactions run first), then flushes the
  // memtables of those holding at least `min_bytes_per_shard`, shards in parallel, so the next
  // start replays almost no WAL. Returns the first error; the store is closed either way.
  absl::Status CloseAndFlush(uint64_t min_bytes_per_shard);

 private:
  struct Shared;
  Store(std::unique_ptr<Shared> shared, std::vector<std::unique_ptr<ShardStore>> shards);

  std::unique_ptr<Shared> shared_;
  std::vector<std::unique_ptr<ShardStore>> shards_;
};

// The stable hash behind Store::ShardFor (FNV-1a 64 over ns, '\0', key).
uint64_t ShardHash(absl::string_view ns, absl::string_view key);

}  // namespace chime::storage

#endif  // CHIME_STORAGE_STORE_H_
