// The column families of a shard's RocksDB instance, in the order their handles are kept.
// Adding one is backwards compatible (create_missing_column_families); renaming or removing
// one is a format change.
#ifndef CHIME_STORAGE_COLUMN_FAMILIES_H_
#define CHIME_STORAGE_COLUMN_FAMILIES_H_

#include <array>

namespace chime::storage {

enum Cf : int {
  kCfDefault = 0,  // shard metadata (ShardMeta under kMetaKey)
  kCfTimers,       // ns\0timer_id → TimerRecord
  kCfDue,          // BE64(due) ns\0timer_id → "" (the time index)
  kCfDeliveries,   // ns\0fire_id → DeliveryRecord
  kCfQueue,        // ns\0topic\0 BE64(visible_at) fire_id → a copy of the DeliveryRecord, or ""
                   // (QueueCopy::kKeyOnly, older versions): ScanQueue then reads kCfDeliveries
  kCfDeadLetters,  // ns\0fire_id → DeliveryRecord
  kCfIdempotency,  // ns\0key → IdempotencyRecord
  kNumCfs,
};

inline constexpr std::array<const char*, kNumCfs> kCfNames = {
    "default", "timers", "due", "deliveries", "queue", "dead_letters", "idempotency"};

// Key of the ShardMeta record in the default column family.
inline constexpr char kMetaKey[] = "meta";
inline constexpr unsigned kFormatVersion = 1;

}  // namespace chime::storage

#endif  // CHIME_STORAGE_COLUMN_FAMILIES_H_
