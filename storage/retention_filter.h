// The RocksDB compaction filters that apply RetentionOptions (retention.h): expired timer
// records and idempotency keys are dropped whenever a compaction rewrites them, and at flushes
// too under a retention shorter than a day.
// Internal to storage/.
#ifndef CHIME_STORAGE_RETENTION_FILTER_H_
#define CHIME_STORAGE_RETENTION_FILTER_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "rocksdb/compaction_filter.h"
#include "storage/retention.h"

namespace chime::storage {

// The shard a timers-family filter reads through (to resolve FIRED records). Set once the
// shard is open and cleared before it closes; while unset, FIRED records are kept.
class RetentionShardSlot {
 public:
  void Set(const ShardStore* shard) ABSL_LOCKS_EXCLUDED(mu_);
  // Calls fn(shard) with the shard held open, or returns false without calling it if unset.
  template <typename Fn>
  bool With(const Fn& fn) const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::ReaderMutexLock l(&mu_);
    if (shard_ == nullptr) return false;
    fn(*shard_);
    return true;
  }

 private:
  mutable absl::Mutex mu_;
  const ShardStore* shard_ ABSL_GUARDED_BY(mu_) = nullptr;
};

// Records each filter dropped, for metrics.
struct RetentionCounters {
  std::atomic<uint64_t> timers_removed{0};
  std::atomic<uint64_t> idempotency_keys_removed{0};
};

// For the timers family (kCfTimers) or the idempotency family (kCfIdempotency).
std::shared_ptr<rocksdb::CompactionFilterFactory> MakeRetentionFilterFactory(
    int cf, const RetentionOptions* options, std::shared_ptr<RetentionShardSlot> slot,
    std::shared_ptr<RetentionCounters> counters);

}  // namespace chime::storage

#endif  // CHIME_STORAGE_RETENTION_FILTER_H_
