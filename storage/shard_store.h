// One shard's RocksDB instance: timer records, the time index, pending deliveries (and
// their per-topic visibility queue), dead letters, idempotency keys and shard metadata, each
// in its own column family.
//
// Writes: every state change is a transaction function submitted to the shard's single
// writer thread. The writer takes all queued transactions, runs them in order against one
// WriteBatchWithIndex (so each sees the writes of those before it) and writes the batch once.
// The shard's syncer thread then syncs the WAL once for every durable transaction written
// meanwhile (group commit) and calls their `done`; the writer goes on writing during the sync,
// so lazy transactions never wait for one. A transaction that returns an error has its
// writes rolled back and changes nothing.
//
//   shard->Submit(
//       [&](ShardTxn& txn) -> absl::Status {
//         CHIME_ASSIGN_OR_RETURN(auto existing, txn.GetTimer(ns, id));
//         if (existing) return absl::AlreadyExistsError("...");
//         txn.PutTimer(record);
//         txn.PutDue(due_us, ns, id);
//         return absl::OkStatus();
//       },
//       [](absl::Status s) { /* durable (or failed); must not block */ });
//
// Reads outside transactions see written data, which a crash of the machine (not of the
// process) may still lose until its sync; a durable write is reported only after it.
// Thread-safe.
#ifndef CHIME_STORAGE_SHARD_STORE_H_
#define CHIME_STORAGE_SHARD_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "chime/internal/storage.pb.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class WriteBatchWithIndex;
}  // namespace rocksdb

namespace chime::storage {

class RetentionShardSlot;
struct RetentionCounters;

using internal::DeliveryRecord;
using internal::IdempotencyRecord;
using internal::TimerRecord;

// An entry of the time index: timer (ns, id) is due at due_us (unix micros).
struct DueEntry {
  int64_t due_us = 0;
  std::string ns;
  std::string timer_id;

  friend bool operator==(const DueEntry&, const DueEntry&) = default;
};

// Whether a new delivery's queue entry carries a copy of its record. A backlog scan reads
// the copies in queue order; an entry without one costs the scan a lookup in the deliveries
// family. A fire its topic's subscribers will take from memory is rarely scanned, and leaving
// the copy out writes a third less for it.
enum class QueueCopy { kWithRecord, kKeyOnly };

// Valid only inside a transaction function, on the writer thread.
// Parses a timer's stored bytes (ShardTxn::GetTimerBytes) into `*record`, reusing its memory:
// DATA_LOSS naming the timer's key if they do not parse.
absl::Status ParseTimerBytes(absl::string_view ns, absl::string_view timer_id,
                             absl::string_view bytes, TimerRecord* record);

class ShardTxn {
 public:
  virtual ~ShardTxn() = default;

  // Reads see committed data plus earlier writes of the same group.
  virtual absl::StatusOr<std::optional<TimerRecord>> GetTimer(absl::string_view ns,
                                                              absl::string_view timer_id) = 0;
  // The same into `*record`, whose memory a parse reuses (a loop over many timers reads each
  // into one message): false, and `*record` unspecified, if there is none.
  virtual absl::StatusOr<bool> ReadTimer(absl::string_view ns, absl::string_view timer_id,
                                         TimerRecord* record) = 0;
  // The timer's stored bytes, for a transaction that edits them without a parse (the ack of a
  // fire handed over unwritten). The view is valid until the transaction's next call.
  virtual absl::StatusOr<std::optional<absl::string_view>> GetTimerBytes(
      absl::string_view ns, absl::string_view timer_id) = 0;
  virtual absl::StatusOr<std::optional<IdempotencyRecord>> GetIdempotency(
      absl::string_view ns, absl::string_view key) = 0;
  virtual absl::StatusOr<std::optional<DeliveryRecord>> GetDelivery(absl::string_view ns,
                                                                    absl::string_view fire_id) = 0;
  virtual absl::StatusOr<std::optional<DeliveryRecord>> GetDeadLetter(
      absl::string_view ns, absl::string_view fire_id) = 0;

  // The shard's RocksDB sequence number before this transaction's group is written. The
  // group is one atomic write by the shard's only writer, so a read at a later sequence
  // (ShardStore::ScanDue's *read_at_sequence) sees all it writes, and one at or before it
  // sees none of that.
  virtual uint64_t WrittenAfterSequence() const = 0;

  // A hint that the transaction reads these timers (namespace, timer id) next, in this order,
  // with ReadTimer or GetTimerBytes: each is looked up now, and those neither in the group
  // nor kept in memory are read from the DB together, in one RocksDB MultiGet, which costs
  // less per key than a read each. The views must stay valid until those reads; the
  // read-ahead ends with the transaction. Reads answer as without it.
  virtual void PrefetchTimers(
      absl::Span<const std::pair<absl::string_view, absl::string_view>> timers) = 0;

  // A hint that these timers fire within the engine's window, at their due_us: those neither
  // in the group nor kept in memory yet are read from the DB together (one MultiGet) and kept,
  // ranked at their due time, while the kept timers have room. Their fires then read memory
  // instead of RocksDB at the moment many fire at once. Writes nothing; a failed read only
  // leaves the timer to its fire's read.
  virtual void WarmTimers(absl::Span<const DueEntry> timers) = 0;

  // A hint that `record`, just read and unchanged since, is read again soon (the ack of a fire
  // handed over before it was written reads its timer): the writer keeps it in memory, as
  // read, once the group is written, unless the group writes it (then the write decides).
  // Undone if the transaction fails.
  virtual void KeepTimerHot(const TimerRecord& record) = 0;
  // The same for the stored bytes of the timer GetTimerBytes just returned, unparsed.
  virtual void KeepTimerBytesHot(absl::string_view ns, absl::string_view timer_id,
                                 absl::string_view bytes) = 0;

  // Keyed by record.timer().namespace_() and timer_id().
  virtual void PutTimer(const TimerRecord& record) = 0;
  // Serialized TimerRecord bytes of a timer with nothing left due (due_us 0), which the writer
  // does not keep in memory, as PutTimer would not.
  virtual void PutTimerBytes(absl::string_view ns, absl::string_view timer_id,
                             absl::string_view record) = 0;
  virtual void DeleteTimer(absl::string_view ns, absl::string_view timer_id) = 0;
  virtual void PutDue(int64_t due_us, absl::string_view ns, absl::string_view timer_id) = 0;
  virtual void DeleteDue(int64_t due_us, absl::string_view ns, absl::string_view timer_id) = 0;
  virtual void PutIdempotency(absl::string_view ns, absl::string_view key,
                              const IdempotencyRecord& record) = 0;
  // Writes the delivery record and its queue entry (ns, topic, visible_at_us, fire_id),
  // removing the queue entry of the record it replaces, if any.
  virtual absl::Status PutDelivery(const DeliveryRecord& record) = 0;
  // The same for a fire id never stored before (a fresh fire: timer id + occurrence number),
  // without looking for a record to replace. A timer id is used again only once retention
  // removed its record (retention.h), when its last fire had ended; an earlier fire of a
  // recurring timer still retrying by then would share its id with the new timer's fire.
  virtual void PutNewDelivery(const DeliveryRecord& record, QueueCopy copy) = 0;
  // Removes the record and its queue entry; OK if absent.
  virtual absl::Status DeleteDelivery(absl::string_view ns, absl::string_view fire_id) = 0;
  // The same two for a record this transaction has just read (`stored`, as read), without
  // reading it again. `updated` is that record with other fields than its fire id and topic
  // changed; `stored_visible_at_us` is its visible_at_us as read.
  virtual void UpdateReadDelivery(const DeliveryRecord& updated, int64_t stored_visible_at_us) = 0;
  virtual void DeleteReadDelivery(const DeliveryRecord& stored) = 0;
  virtual void PutDeadLetter(const DeliveryRecord& record) = 0;
  virtual void DeleteDeadLetter(absl::string_view ns, absl::string_view fire_id) = 0;
};

using TxnFn = std::function<absl::Status(ShardTxn&)>;
using TxnDone = std::function<void(absl::Status)>;

// Where a queue scan resumes: strictly after this (visible_at_us, fire_id).
struct QueueCursor {
  int64_t visible_at_us = INT64_MIN;
  std::string fire_id;
};

class ShardStore {
 public:
  // Opens (creating if missing) the shard at `path`. Internal: use Store::Open.
  struct Deps;
  static absl::StatusOr<std::unique_ptr<ShardStore>> Open(int index, const std::string& path,
                                                          const Deps& deps);
  ~ShardStore();  // Close(), then closes the DB

  // Stops accepting transactions, runs those already queued and stops the writer thread.
  // Reads keep working until destruction. Idempotent. Must not be called from a `done`.
  void Close();
  // After Close(): writes the memtables out as table files if they hold at least `min_bytes`,
  // so that the next open has (almost) no WAL to replay. For a graceful shutdown; a crash
  // skips it and loses nothing (the WAL has every write).
  absl::Status FlushMemtables(uint64_t min_bytes);
  // Bytes held in this shard's memtables (active and immutable).
  uint64_t MemtableBytes() const;

  int index() const { return index_; }

  // kLazy: losing the write in a machine crash is harmless (e.g. a delivery attempt count,
  // a fire), so its done does not wait for a sync; it becomes durable with the next synced
  // write of the shard (the WAL is sequential). A process crash loses neither kind: both are
  // in the OS's page cache once written.
  // kDeferred: durable before its done runs, like kDurable, but neither its write nor its
  // sync need be soon: it is written with the next transaction of another kind (or once it
  // has waited Deps::deferred_sync_delay) and synced with the next kDurable write's sync (or
  // once that delay from its submission passed). For writes whose outcome nobody waits on (a
  // subscriber's ack), so that a steady stream of them neither wakes the writer for each nor
  // syncs the WAL back to back: on this VM's disk every sync slows the shard's other writes
  // (fires) for milliseconds. Reads see such a write only once written. A zero delay makes
  // kDeferred behave as kDurable.
  enum class Sync { kDurable, kLazy, kDeferred };

  // Queues `fn` for the writer thread; `done` runs once the transaction is durable, on the
  // syncer thread (kLazy, or --fsync=never: once written, on the writer thread), or failed,
  // and must not block. Dones of kDurable and kDeferred transactions run in submission order,
  // as do those of lazy ones; a lazy done can run before the done of a durable transaction
  // submitted earlier. After Close(), done gets UNAVAILABLE (on the calling thread).
  void Submit(TxnFn fn, TxnDone done, Sync sync = Sync::kDurable);
  // A kDurable Submit for a thread that serves requests (a unary create): when nobody holds
  // the shard's write role and no other request thread of the store writes, this thread
  // writes the transaction (with whatever else is queued), syncs the WAL and runs the dones
  // itself, then does the same for what was queued for it meanwhile; otherwise it queues the
  // transaction as Submit does. Handing a create to the writer and its answer to the syncer
  // cost two thread wake-ups each; this way a steady stream of them wakes neither. The writer
  // still writes other prompt transactions (fires) while this thread syncs. Dones keep the
  // order Submit promises: this thread answers after the syncer's dones for earlier writes.
  // May block for a sync or two; the calling thread must hold no lock a done takes.
  void SubmitOnThisThread(TxnFn fn, TxnDone done);
  // Submit and wait for the outcome. Must not be called from a `done` (deadlock).
  absl::Status SubmitAndWait(TxnFn fn);

  absl::StatusOr<std::optional<TimerRecord>> GetTimer(absl::string_view ns,
                                                      absl::string_view timer_id) const;
  absl::StatusOr<std::optional<IdempotencyRecord>> GetIdempotency(absl::string_view ns,
                                                                  absl::string_view key) const;
  absl::StatusOr<std::optional<DeliveryRecord>> GetDelivery(absl::string_view ns,
                                                            absl::string_view fire_id) const;

  // Time-index entries with due_us in (after, until_us], in (due, ns, id) order, at most
  // `limit`. `after` is the last entry a previous scan returned (or nullopt to start at the
  // beginning of time). Sets *more if entries remain at or before until_us. Replaces *out.
  // Reads one snapshot; `read_at_sequence`, if not null, gets its sequence number (see
  // ShardTxn::WrittenAfterSequence).
  absl::Status ScanDue(const std::optional<DueEntry>& after, int64_t until_us, size_t limit,
                       std::vector<DueEntry>* out, bool* more,
                       uint64_t* read_at_sequence = nullptr) const;

  // Timer records of namespace `ns` with timer_id > after_id, in id order; `visit` returns
  // false to stop.
  absl::Status ScanTimers(absl::string_view ns, absl::string_view after_id,
                          const std::function<bool(const TimerRecord&)>& visit) const;

  // Pending deliveries of (ns, topic) visible at or before `visible_until_us`, in
  // visibility order, strictly after `after`, at most `limit`. Replaces *out.
  absl::Status ScanQueue(absl::string_view ns, absl::string_view topic, int64_t visible_until_us,
                         const QueueCursor& after, size_t limit,
                         std::vector<DeliveryRecord>* out) const;
  // Every pending delivery of the shard (any topic), visibility order within a topic.
  absl::Status ScanAllDeliveries(const std::function<bool(const DeliveryRecord&)>& visit) const;
  // Each (namespace, topic) with pending deliveries in the shard, once, in key order. Reads one
  // queue entry per topic and seeks past the others, however many are pending.
  absl::Status ScanQueuedTopics(
      const std::function<bool(absl::string_view ns, absl::string_view topic)>& visit) const;
  // Dead letters of namespace `ns` with fire_id > after, in fire_id order.
  absl::Status ScanDeadLetters(absl::string_view ns, absl::string_view after_fire_id,
                               const std::function<bool(const DeliveryRecord&)>& visit) const;

  // Since open, for metrics: how the group commit batches. Transactions per group and per
  // sync, and the time a sync takes, say whether the disk or the CPU limits the writes.
  struct WriteStats {
    uint64_t groups = 0;        // RocksDB writes (one per group of transactions)
    uint64_t transactions = 0;  // transactions run, failed ones included
    uint64_t wal_syncs = 0;
    uint64_t synced_transactions = 0;  // durable or deferred ones answered after a sync
    absl::Duration wal_sync_time;      // spent in the syncs, summed
    // Timer and delivery reads of transactions: answered from the records the writer kept
    // (a timer due soon, a pending delivery) and read from RocksDB.
    struct Reads {
      uint64_t hot = 0;
      uint64_t db = 0;
    };
    Reads timer_reads;
    Reads delivery_reads;
  };
  WriteStats GetWriteStats() const;

  // Since open: records the retention filters dropped (retention.h).
  struct RetentionStats {
    uint64_t timers_removed = 0;
    uint64_t idempotency_keys_removed = 0;
  };
  RetentionStats GetRetentionStats() const;

  // Flushes and compacts the timers and idempotency families now, so that everything past
  // retention is dropped (otherwise that waits for RocksDB's own compactions, a day at most).
  absl::Status CompactRetained();

  // Approximate counts for status/metrics (RocksDB estimates, cheap).
  uint64_t EstimateTimers() const;
  uint64_t EstimateDeliveries() const;
  uint64_t EstimateScheduled() const;  // time-index entries: timers waiting to fire
  uint64_t EstimateDeadLetters() const;
  uint64_t DiskBytes() const;

  rocksdb::DB* db() const { return db_; }

 private:
  class Impl;
  ShardStore(int index, std::unique_ptr<Impl> impl, rocksdb::DB* db,
             std::shared_ptr<RetentionShardSlot> retention_slot,
             std::shared_ptr<RetentionCounters> retention_counters);

  int index_;
  // Cleared first on destruction: the filters stop reading through this shard.
  std::shared_ptr<RetentionShardSlot> retention_slot_;
  std::shared_ptr<RetentionCounters> retention_counters_;
  std::unique_ptr<Impl> impl_;
  rocksdb::DB* db_;  // owned by impl_
};

}  // namespace chime::storage

#endif  // CHIME_STORAGE_SHARD_STORE_H_
