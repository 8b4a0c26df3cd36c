// The ShardTxn the writer thread hands to transaction functions: reads look in the group's
// batch (so they see the writes of earlier transactions of the group), then the writer's hot
// records, then the DB; writes go into that batch, marked hot when the writer should keep
// them (a timer due by hot_until_us, ranked by its due time; a pending delivery, ranked by
// its write time). Internal to storage/. Not
// thread-safe: writer thread only.
#ifndef CHIME_STORAGE_BATCH_TXN_H_
#define CHIME_STORAGE_BATCH_TXN_H_

#include <array>
#include <deque>
#include <string>

#include "absl/types/span.h"
#include "rocksdb/db.h"
#include "storage/column_families.h"
#include "storage/group_batch.h"
#include "storage/hot_records.h"
#include "storage/shard_store.h"

namespace chime::storage {

class BatchTxn final : public ShardTxn {
 public:
  using Handles = std::array<rocksdb::ColumnFamilyHandle*, kNumCfs>;
  // `hot` may be null (nothing kept); timers due after hot_until_us are not kept. now_us: the
  // group's time, which ranks deliveries.
  BatchTxn(rocksdb::DB* db, const Handles& cfs, GroupBatch* batch, const HotRecordSet* hot,
           int64_t now_us, int64_t hot_until_us)
      : db_(db),
        cfs_(cfs),
        batch_(batch),
        hot_(hot),
        now_us_(now_us),
        hot_until_us_(hot_until_us) {}

  // After each transaction of the group: its read-ahead, which holds views of its strings,
  // ends with it.
  void EndTransaction();

  // Reads of timers and deliveries answered by the hot records, and by the DB.
  const ShardStore::WriteStats::Reads& timer_reads() const { return timer_reads_; }
  const ShardStore::WriteStats::Reads& delivery_reads() const { return delivery_reads_; }

  // The first failed write into the batch since the last call (the void Put/Delete calls
  // cannot report it themselves), and clears it.
  absl::Status TakeWriteStatus();

  absl::StatusOr<std::optional<TimerRecord>> GetTimer(absl::string_view ns,
                                                      absl::string_view timer_id) override;
  absl::StatusOr<bool> ReadTimer(absl::string_view ns, absl::string_view timer_id,
                                 TimerRecord* record) override;
  absl::StatusOr<std::optional<absl::string_view>> GetTimerBytes(
      absl::string_view ns, absl::string_view timer_id) override;
  absl::StatusOr<std::optional<IdempotencyRecord>> GetIdempotency(absl::string_view ns,
                                                                  absl::string_view key) override;
  absl::StatusOr<std::optional<DeliveryRecord>> GetDelivery(absl::string_view ns,
                                                            absl::string_view fire_id) override;
  absl::StatusOr<std::optional<DeliveryRecord>> GetDeadLetter(absl::string_view ns,
                                                              absl::string_view fire_id) override;

  uint64_t WrittenAfterSequence() const override { return db_->GetLatestSequenceNumber(); }

  void PrefetchTimers(
      absl::Span<const std::pair<absl::string_view, absl::string_view>> timers) override;
  void WarmTimers(absl::Span<const DueEntry> timers) override;
  void KeepTimerHot(const TimerRecord& record) override;
  void KeepTimerBytesHot(absl::string_view ns, absl::string_view timer_id,
                         absl::string_view bytes) override;
  void PutTimer(const TimerRecord& record) override;
  void PutTimerBytes(absl::string_view ns, absl::string_view timer_id,
                     absl::string_view record) override;
  void DeleteTimer(absl::string_view ns, absl::string_view timer_id) override;
  void PutDue(int64_t due_us, absl::string_view ns, absl::string_view timer_id) override;
  void DeleteDue(int64_t due_us, absl::string_view ns, absl::string_view timer_id) override;
  void PutIdempotency(absl::string_view ns, absl::string_view key,
                      const IdempotencyRecord& record) override;
  absl::Status PutDelivery(const DeliveryRecord& record) override;
  void PutNewDelivery(const DeliveryRecord& record, QueueCopy copy) override;
  absl::Status DeleteDelivery(absl::string_view ns, absl::string_view fire_id) override;
  void UpdateReadDelivery(const DeliveryRecord& updated, int64_t stored_visible_at_us) override;
  void DeleteReadDelivery(const DeliveryRecord& stored) override;
  void PutDeadLetter(const DeliveryRecord& record) override;
  void DeleteDeadLetter(absl::string_view ns, absl::string_view fire_id) override;

 private:
  // What PrefetchTimers found of a timer, for its read (ReadTimer or GetTimerBytes).
  struct Ahead {
    absl::string_view ns;
    absl::string_view timer_id;
    enum class Found { kUnknown, kNone, kHot, kDb } found = Found::kUnknown;
    absl::string_view bytes;  // kHot: in hot_; kDb: in ahead_values_
  };

  // Reads the timers at `keys` (keys of the timers family) from the DB in one MultiGet.
  void MultiGetTimers(const std::vector<std::string>& keys,
                      std::vector<rocksdb::PinnableSlice>* values,
                      std::vector<rocksdb::Status>* statuses);
  // For KeepTimerHot: whether the timer is the one the last read took from the read-ahead;
  // then it is kept from the bytes read, unless it is kept already.
  bool KeptFromLastRead(absl::string_view ns, absl::string_view timer_id);
  // Whether the timer at `key` is among the kept records already.
  bool KeptHot(const std::string& key);
  // What PrefetchTimers found of this timer, if it is the one the next read was expected for.
  const Ahead* NextAhead(absl::string_view ns, absl::string_view timer_id);
  // Whether `ahead` answers a read without a look at the group's batch: it found the timer
  // somewhere, and the batch has not changed since the read-ahead looked there.
  bool AheadHolds(const Ahead* ahead) const;
  // The answer of an `ahead` found somewhere, counted as a read from where it was found.
  std::optional<absl::string_view> TakeAhead(const Ahead& ahead);

  // The latest bytes of `key`: the group's batch, then the kept records, then the DB. The view
  // is valid until the next read or write. `ahead`, if any: what PrefetchTimers found of it
  // (the group's batch still goes first).
  absl::StatusOr<std::optional<absl::string_view>> GetBytes(Cf cf, const std::string& key,
                                                            absl::string_view what,
                                                            const Ahead* ahead = nullptr);
  template <typename Record>
  absl::StatusOr<std::optional<Record>> Get(Cf cf, const std::string& key, absl::string_view what);
  void Put(Cf cf, const std::string& key, const google::protobuf::MessageLite& record,
           std::optional<int64_t> hot_rank = std::nullopt);
  void Delete(Cf cf, const std::string& key);
  void Check(const rocksdb::Status& s);
  // Writes the record and moves its queue entry from `stored_visible_at_us` (none: no entry
  // yet) to the record's visible_at_us.
  void WriteDelivery(const DeliveryRecord& record, std::optional<int64_t> stored_visible_at_us,
                     QueueCopy copy = QueueCopy::kWithRecord);

  rocksdb::DB* const db_;
  const Handles cfs_;
  GroupBatch* const batch_;
  const HotRecordSet* const hot_;
  const int64_t now_us_;
  const int64_t hot_until_us_;
  ShardStore::WriteStats::Reads timer_reads_;
  ShardStore::WriteStats::Reads delivery_reads_;
  std::string hot_key_;  // reused across reads
  // The last timer read from the writer's kept records (hot_), which stay as they are until
  // the group is written, by its index key.
  std::string last_hot_timer_key_;
  // The last timer read as the read-ahead found it (in hot_ or in the DB), by its entry in
  // ahead_: KeepTimerHot of it needs no lookup, nor a serialization.
  const Ahead* last_ahead_ = nullptr;
  const rocksdb::ReadOptions read_options_;
  rocksdb::PinnableSlice value_;  // reused across reads
  // The last PrefetchTimers' timers, in order, and the next one a read expects. Neither the
  // DB nor hot_ changes while the group runs, so what they held stays true for a timer the
  // group has not written (reads look in the group first).
  std::vector<Ahead> ahead_;
  size_t ahead_next_ = 0;
  uint64_t ahead_index_changes_ = 0;  // the batch's IndexChanges() when ahead_ was filled
  std::deque<rocksdb::PinnableSlice> ahead_values_;  // a deque: views stay valid
  std::string scratch_;                              // reused across writes
  rocksdb::Status write_status_;
};

}  // namespace chime::storage

#endif  // CHIME_STORAGE_BATCH_TXN_H_
