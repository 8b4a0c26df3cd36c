// The ShardTxn the writer thread hands to transaction functions: reads look in the group's
// batch, then the DB (so they see the writes of earlier transactions of the group), writes go
// into that batch. Internal to storage/. Not thread-safe: writer thread only.
#ifndef CHIME_STORAGE_BATCH_TXN_H_
#define CHIME_STORAGE_BATCH_TXN_H_

#include <array>
#include <string>

#include "rocksdb/db.h"
#include "storage/column_families.h"
#include "storage/group_batch.h"
#include "storage/shard_store.h"

namespace chime::storage {

class BatchTxn final : public ShardTxn {
 public:
  using Handles = std::array<rocksdb::ColumnFamilyHandle*, kNumCfs>;
  BatchTxn(rocksdb::DB* db, const Handles& cfs, GroupBatch* batch)
      : db_(db), cfs_(cfs), batch_(batch) {}

  // The first failed write into the batch since the last call (the void Put/Delete calls
  // cannot report it themselves), and clears it.
  absl::Status TakeWriteStatus();

  absl::StatusOr<std::optional<TimerRecord>> GetTimer(absl::string_view ns,
                                                      absl::string_view timer_id) override;
  absl::StatusOr<std::optional<IdempotencyRecord>> GetIdempotency(absl::string_view ns,
                                                                  absl::string_view key) override;
  absl::StatusOr<std::optional<DeliveryRecord>> GetDelivery(absl::string_view ns,
                                                            absl::string_view fire_id) override;
  absl::StatusOr<std::optional<DeliveryRecord>> GetDeadLetter(absl::string_view ns,
                                                              absl::string_view fire_id) override;

  void PutTimer(const TimerRecord& record) override;
  void DeleteTimer(absl::string_view ns, absl::string_view timer_id) override;
  void PutDue(int64_t due_us, absl::string_view ns, absl::string_view timer_id) override;
  void DeleteDue(int64_t due_us, absl::string_view ns, absl::string_view timer_id) override;
  void PutIdempotency(absl::string_view ns, absl::string_view key,
                      const IdempotencyRecord& record) override;
  absl::Status PutDelivery(const DeliveryRecord& record) override;
  void PutNewDelivery(const DeliveryRecord& record) override;
  absl::Status DeleteDelivery(absl::string_view ns, absl::string_view fire_id) override;
  void UpdateReadDelivery(const DeliveryRecord& updated, int64_t stored_visible_at_us) override;
  void DeleteReadDelivery(const DeliveryRecord& stored) override;
  void PutDeadLetter(const DeliveryRecord& record) override;
  void DeleteDeadLetter(absl::string_view ns, absl::string_view fire_id) override;

 private:
  template <typename Record>
  absl::StatusOr<std::optional<Record>> Get(Cf cf, const std::string& key, absl::string_view what);
  void Put(Cf cf, const std::string& key, const google::protobuf::MessageLite& record);
  void Delete(Cf cf, const std::string& key);
  void Check(const rocksdb::Status& s);
  // Writes the record and moves its queue entry from `stored_visible_at_us` (none: no entry
  // yet) to the record's visible_at_us.
  void WriteDelivery(const DeliveryRecord& record, std::optional<int64_t> stored_visible_at_us);

  rocksdb::DB* const db_;
  const Handles cfs_;
  GroupBatch* const batch_;
  const rocksdb::ReadOptions read_options_;
  rocksdb::PinnableSlice value_;  // reused across reads
  std::string scratch_;           // reused across writes
  rocksdb::Status write_status_;
};

}  // namespace chime::storage

#endif  // CHIME_STORAGE_BATCH_TXN_H_
