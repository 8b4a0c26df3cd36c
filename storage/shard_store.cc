#include "storage/shard_store.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <deque>
#include <filesystem>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/status_macros.h"
#include "common/thread_name.h"
#include "rocksdb/db.h"
#include "rocksdb/snapshot.h"
#include "storage/batch_txn.h"
#include "storage/column_families.h"
#include "storage/group_batch.h"
#include "storage/hot_records.h"
#include "storage/key_codec.h"
#include "storage/record_io.h"
#include "storage/rocks_options.h"
#include "storage/rocks_status.h"
#include "storage/shard_deps.h"
#include "storage/sorted_batch.h"

namespace chime::storage {

namespace {

// How long past its rank (the time it was expected to be read) a hot record may stay.
constexpr absl::Duration kHotRecordMaxAge = absl::Minutes(5);

}  // namespace

absl::Status ParseTimerBytes(absl::string_view ns, absl::string_view timer_id,
                             absl::string_view bytes, TimerRecord* record) {
  return ParseRecordInto(ToSlice(bytes), "timer", ToSlice(TimerKey(ns, timer_id)), record);
}

// Owns the DB, its column family handles and the writer thread. Thread-safe.
class ShardStore::Impl {
 public:
  Impl(int index, std::string path, rocksdb::DB* db,
       const std::vector<rocksdb::ColumnFamilyHandle*>& handles, const Deps& deps)
      : index_(index),
        path_(std::move(path)),
        db_(db),
        max_group_size_(deps.max_group_size),
        deferred_sync_delay_(deps.deferred_sync_delay),
        hot_timer_horizon_(deps.hot_timer_horizon),
        hot_record_clock_(deps.hot_record_clock),
        hot_enabled_(deps.hot_record_bytes > 0),
        request_thread_slot_(deps.request_thread_slot),
        // Timers get most: a batch of fires reads many; acks read only recent deliveries.
        hot_(deps.hot_record_bytes / 4 * 3, deps.hot_record_bytes / 4) {
    std::copy(handles.begin(), handles.end(), cfs_.begin());
    batch_ = std::make_unique<GroupBatch>(cfs_);
    sorted_ = std::make_unique<SortedBatch>(
        std::vector<rocksdb::ColumnFamilyHandle*>{cfs_.begin(), cfs_.end()});
    write_options_.sync = deps.fsync;
    if (max_group_size_ == 0) max_group_size_ = 1;
  }

  ~Impl() {
    Close();
    for (rocksdb::ColumnFamilyHandle* cf : cfs_) {
      if (cf != nullptr) db_->DestroyColumnFamilyHandle(cf).PermitUncheckedError();
    }
    // Close reports errors of the last background work; nothing can act on them here and
    // every acknowledged write is already in the WAL.
    db_->Close().PermitUncheckedError();
    delete db_;
  }

  void Start() {
    absl::MutexLock l(&close_mu_);
    writer_ = std::thread([this] {
      SetCurrentThreadName("shard-w-" + std::to_string(index_));
      WriterLoop();
    });
    if (write_options_.sync) {
      syncer_ = std::thread([this] {
        SetCurrentThreadName("shard-s-" + std::to_string(index_));
        SyncerLoop();
      });
    }
  }

  void Close() {
    absl::MutexLock close_lock(&close_mu_);
    {
      absl::MutexLock l(&mu_);
      stopping_ = true;
    }
    if (writer_.joinable()) writer_.join();
    // After the writer: its last groups may still hand durable transactions to the syncer.
    {
      absl::MutexLock l(&sync_mu_);
      sync_stopping_ = true;
    }
    if (syncer_.joinable()) syncer_.join();
  }

  void Submit(TxnFn fn, TxnDone done, Sync sync) {
    {
      absl::MutexLock l(&mu_);
      if (!stopping_) {
        queue_.push_back(Pending{std::move(fn), std::move(done), sync, absl::Now()});
        if (IsPrompt(queue_.back())) ++prompt_queued_;
        return;
      }
    }
    if (done) done(absl::UnavailableError(absl::StrCat("shard ", index_, " is closed")));
  }

  void SubmitOnThisThread(TxnFn fn, TxnDone done);

  const std::string& path() const { return path_; }
  rocksdb::DB* db() const { return db_; }
  rocksdb::ColumnFamilyHandle* cf(Cf c) const { return cfs_[c]; }

  WriteStats GetWriteStats() const {
    WriteStats stats;
    stats.groups = groups_written_.load(std::memory_order_relaxed);
    stats.transactions = transactions_run_.load(std::memory_order_relaxed);
    stats.wal_syncs = wal_syncs_.load(std::memory_order_relaxed);
    stats.synced_transactions = synced_transactions_.load(std::memory_order_relaxed);
    stats.wal_sync_time = absl::Nanoseconds(wal_sync_nanos_.load(std::memory_order_relaxed));
    stats.timer_reads = {.hot = hot_timer_reads_.load(std::memory_order_relaxed),
                         .db = db_timer_reads_.load(std::memory_order_relaxed)};
    stats.delivery_reads = {.hot = hot_delivery_reads_.load(std::memory_order_relaxed),
                            .db = db_delivery_reads_.load(std::memory_order_relaxed)};
    return stats;
  }

  absl::Status WriteMeta(uint32_t shard_count);
  absl::Status CheckMeta(uint32_t shard_count);

 private:
  struct Pending {
    TxnFn fn;
    TxnDone done;
    Sync sync = Sync::kDurable;
    // When it was queued: a deferred transaction waits at most deferred_sync_delay_ from
    // here for a prompt one to share its write and wake-up.
    absl::Time queued_at;
    bool for_request_thread = false;  // by SubmitOnThisThread
  };

  // Written as soon as the writer gets to it; the others wait for company (see Sync).
  bool IsPrompt(const Pending& p) const {
    return p.sync != Sync::kDeferred || deferred_sync_delay_ == absl::ZeroDuration();
  }

  // While a request thread writes (SubmitOnThisThread), the writer leaves it the transactions
  // queued for it and takes only prompt others (a fire); once stopping, it waits for that
  // thread to finish before draining the queue.
  bool WriterHasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_) return false;
    if (request_thread_active_) return prompt_queued_ > queued_for_request_thread_;
    return !queue_.empty() || stopping_;
  }
  bool WriterHasPromptWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_) return false;
    if (request_thread_active_) return prompt_queued_ > queued_for_request_thread_;
    return prompt_queued_ > 0 || stopping_;
  }
  // Moves up to max_group_size_ queued transactions into group_, for the write role's holder.
  void TakeGroup() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void WriterLoop();
  void SyncerLoop();
  // Runs group_ as one write. The dones of transactions that wait for a sync go to the syncer
  // or, if `to_sync_here` is not null, into it.
  void RunGroup(std::vector<TxnDone>* to_sync_here);
  // After a request thread's write: it takes the sync of its group and of what waits for the
  // syncer (written earlier, so their dones go first); the syncer waits until it is done.
  void TakeSync(std::vector<TxnDone>& to_sync);
  // Syncs the WAL, waits for the syncer to finish answering, if it was, then answers.
  void SyncAfterTheSyncer(std::vector<TxnDone>& synced);
  void SyncAndAnswer(std::vector<TxnDone>& synced);
  absl::Status SyncWal();
  // Before the group's write: hot_ forgets the keys the group writes and does not keep. Their
  // records were just read by the group's transactions, so they are still in the cache; after
  // the write's memtable inserts they were not, and their erases waited on one miss after
  // another. Forgetting early is safe: a miss only means reading the DB.
  void ForgetWrittenHotRecords(const GroupBatch& batch);
  // After the group's write at `now`: hot_ takes the group's hot writes and kept reads.
  void ApplyToHotRecords(const GroupBatch& batch, absl::Time now);

  const int index_;
  const std::string path_;
  rocksdb::DB* const db_;
  std::array<rocksdb::ColumnFamilyHandle*, kNumCfs> cfs_{};
  rocksdb::WriteOptions write_options_;
  size_t max_group_size_;
  const absl::Duration deferred_sync_delay_;
  const absl::Duration hot_timer_horizon_;
  Clock* const hot_record_clock_;
  const bool hot_enabled_;
  // One request thread of the whole store at a time writes (see SubmitOnThisThread).
  const std::shared_ptr<std::atomic<bool>> request_thread_slot_;

  // The write role: whoever holds it (the writer or a request thread, see writing_) alone
  // uses these, so transactions read what earlier groups wrote and hot_ stays consistent.
  std::vector<Pending> group_;
  std::vector<absl::Status> results_;
  std::unique_ptr<GroupBatch> batch_;
  std::unique_ptr<SortedBatch> sorted_;
  HotRecordSet hot_;

  absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  // Queued transactions that are not deferred: the writer writes as soon as there is one.
  size_t prompt_queued_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Someone holds the write role; taken and handed back under mu_.
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // A request thread writes and syncs, and comes back for what was queued for it meanwhile.
  bool request_thread_active_ ABSL_GUARDED_BY(mu_) = false;
  size_t queued_for_request_thread_ ABSL_GUARDED_BY(mu_) = 0;

  // Written transactions that need an fsync before their `done`: the syncer syncs the WAL
  // while the writer goes on writing, so no write (a lazy fire, say) waits for a sync.
  absl::Mutex sync_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::vector<TxnDone> awaiting_sync_ ABSL_GUARDED_BY(sync_mu_);
  // A kDurable done is in awaiting_sync_: sync now. Otherwise (only kDeferred ones) sync once
  // the oldest has waited deferred_sync_delay_, so that a stream of them syncs rarely.
  bool sync_urgent_ ABSL_GUARDED_BY(sync_mu_) = false;
  absl::Time oldest_deferred_ ABSL_GUARDED_BY(sync_mu_);
  bool sync_stopping_ ABSL_GUARDED_BY(sync_mu_) = false;
  // The syncer is syncing or answering: a request thread answers only after it.
  bool syncer_busy_ ABSL_GUARDED_BY(sync_mu_) = false;
  // A request thread syncs and answers: the syncer waits, so that dones keep their order.
  bool request_thread_syncing_ ABSL_GUARDED_BY(sync_mu_) = false;

  // WriteStats, updated by the writer, the syncer and request threads.
  std::atomic<uint64_t> groups_written_{0};
  std::atomic<uint64_t> transactions_run_{0};
  std::atomic<uint64_t> wal_syncs_{0};
  std::atomic<uint64_t> synced_transactions_{0};
  std::atomic<int64_t> wal_sync_nanos_{0};
  std::atomic<uint64_t> hot_timer_reads_{0};
  std::atomic<uint64_t> db_timer_reads_{0};
  std::atomic<uint64_t> hot_delivery_reads_{0};
  std::atomic<uint64_t> db_delivery_reads_{0};

  absl::Mutex close_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::thread writer_ ABSL_GUARDED_BY(close_mu_);
  std::thread syncer_ ABSL_GUARDED_BY(close_mu_);
};

void ShardStore::Impl::TakeGroup() {
  const size_t n = std::min(queue_.size(), max_group_size_);
  for (size_t i = 0; i < n; ++i) {
    if (IsPrompt(queue_.front())) --prompt_queued_;
    if (queue_.front().for_request_thread) --queued_for_request_thread_;
    group_.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
}

void ShardStore::Impl::WriterLoop() {
  bool wrote = false;
  for (;;) {
    {
      absl::MutexLock l(&mu_);
      if (wrote) writing_ = false;
      for (;;) {
        mu_.Await(absl::Condition(this, &Impl::WriterHasWork));
        if (WriterHasPromptWork()) break;
        // Only deferred transactions (acks): they ride along with the next prompt one (a
        // fire, say) instead of waking this thread each, or go once the oldest has waited.
        const absl::Time deadline = queue_.front().queued_at + deferred_sync_delay_;
        if (absl::Now() >= deadline) break;
        mu_.AwaitWithDeadline(absl::Condition(this, &Impl::WriterHasPromptWork), deadline);
      }
      // Stopping still drains: everything queued before Close() runs.
      if (queue_.empty()) return;
      writing_ = true;
      TakeGroup();
    }
    RunGroup(nullptr);
    wrote = true;
  }
}

void ShardStore::Impl::SubmitOnThisThread(TxnFn fn, TxnDone done) {
  bool refused = false;
  {
    absl::MutexLock l(&mu_);
    refused = stopping_;
    if (!refused) {
      queue_.push_back(Pending{std::move(fn), std::move(done), Sync::kDurable, absl::Now(),
                               /*for_request_thread=*/true});
      ++prompt_queued_;
      ++queued_for_request_thread_;
      // Someone writes already and takes this with what else is queued. So does the writer
      // when another request thread of the store writes: two request threads syncing at
      // once would leave no thread reading requests on this 2-core machine.
      if (writing_ || request_thread_active_) return;
      if (request_thread_slot_ != nullptr && request_thread_slot_->exchange(true)) return;
      request_thread_active_ = true;
      writing_ = true;
      TakeGroup();
    }
  }
  if (refused) {
    if (done) done(absl::UnavailableError(absl::StrCat("shard ", index_, " is closed")));
    return;
  }
  std::vector<TxnDone> to_sync;
  for (;;) {
    RunGroup(&to_sync);
    if (!to_sync.empty()) TakeSync(to_sync);
    {
      absl::MutexLock l(&mu_);
      writing_ = false;  // the writer may write a fire meanwhile
    }
    if (!to_sync.empty()) SyncAfterTheSyncer(to_sync);
    to_sync.clear();
    absl::MutexLock l(&mu_);
    if (queue_.empty() || writing_) {
      request_thread_active_ = false;
      if (request_thread_slot_ != nullptr) request_thread_slot_->store(false);
      return;
    }
    writing_ = true;
    TakeGroup();
  }
}

void ShardStore::Impl::TakeSync(std::vector<TxnDone>& to_sync) {
  absl::MutexLock l(&sync_mu_);
  to_sync.insert(to_sync.begin(), std::make_move_iterator(awaiting_sync_.begin()),
                 std::make_move_iterator(awaiting_sync_.end()));
  awaiting_sync_.clear();
  sync_urgent_ = false;
  request_thread_syncing_ = true;
}

void ShardStore::Impl::SyncAfterTheSyncer(std::vector<TxnDone>& synced) {
  const absl::Status status = SyncWal();
  {
    // The syncer's dones, if it was answering, are for earlier writes: they go first.
    absl::MutexLock l(&sync_mu_);
    auto syncer_idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_) { return !syncer_busy_; };
    sync_mu_.Await(absl::Condition(&syncer_idle));
  }
  synced_transactions_.fetch_add(synced.size(), std::memory_order_relaxed);
  for (TxnDone& done : synced) done(status);
  absl::MutexLock l(&sync_mu_);
  request_thread_syncing_ = false;
}

void ShardStore::Impl::SyncAndAnswer(std::vector<TxnDone>& synced) {
  const absl::Status status = SyncWal();
  synced_transactions_.fetch_add(synced.size(), std::memory_order_relaxed);
  for (TxnDone& done : synced) done(status);
}

absl::Status ShardStore::Impl::SyncWal() {
  const absl::Time sync_start = absl::Now();
  const absl::Status status =
      FromRocks(db_->SyncWAL(), absl::StrCat("syncing the WAL of shard ", index_));
  wal_sync_nanos_.fetch_add(absl::ToInt64Nanoseconds(absl::Now() - sync_start),
                            std::memory_order_relaxed);
  wal_syncs_.fetch_add(1, std::memory_order_relaxed);
  return status;
}

void ShardStore::Impl::RunGroup(std::vector<TxnDone>* to_sync_here) {
  std::vector<Pending>& group = group_;
  GroupBatch& batch = *batch_;
  std::vector<absl::Status>& results = results_;
  batch.Clear();
  results.assign(group.size(), absl::OkStatus());
  // A timer due within the horizon is kept hot: its fire reads it back.
  const absl::Time now = hot_record_clock_->Now();
  BatchTxn txn(db_, cfs_, &batch, hot_enabled_ ? &hot_ : nullptr, absl::ToUnixMicros(now),
               absl::ToUnixMicros(now + hot_timer_horizon_));
  absl::Status group_status;  // set when the batch itself can no longer be trusted
  for (size_t i = 0; i < group.size(); ++i) {
    batch.SetSavePoint();
    absl::Status s = group[i].fn(txn);
    txn.EndTransaction();
    absl::Status write_status = txn.TakeWriteStatus();
    if (s.ok()) s = std::move(write_status);
    if (s.ok()) {
      batch.PopSavePoint();
      continue;
    }
    results[i] = std::move(s);
    rocksdb::Status rollback = batch.RollbackToSavePoint();
    if (!rollback.ok()) {
      group_status = FromRocks(rollback, "rolling back a failed transaction");
      break;
    }
  }
  if (group_status.ok() && batch.Count() > 0) {
    // Never synced here: the syncer does that (see awaiting_sync_).
    rocksdb::WriteOptions options = write_options_;
    options.sync = false;
    if (hot_enabled_) ForgetWrittenHotRecords(batch);
    // In key order: memtable inserts were most of a shard writer's time in batched creates,
    // and an insert next to the previous one is cheap (see SortedBatch).
    rocksdb::WriteBatch* to_write = sorted_->SortedCopyOf(*batch.batch());
    if (to_write == nullptr) to_write = batch.batch();
    group_status =
        FromRocks(db_->Write(options, to_write), absl::StrCat("writing to shard ", index_));
    groups_written_.fetch_add(1, std::memory_order_relaxed);
    if (hot_enabled_ && group_status.ok()) {
      ApplyToHotRecords(batch, now);
    } else if (hot_enabled_) {
      hot_.Clear();  // what the DB holds now is not known here
    }
  } else if (group_status.ok() && hot_enabled_) {
    ApplyToHotRecords(batch, now);  // nothing written, but reads to keep (KeepTimerHot)
  }
  hot_timer_reads_.fetch_add(txn.timer_reads().hot, std::memory_order_relaxed);
  db_timer_reads_.fetch_add(txn.timer_reads().db, std::memory_order_relaxed);
  hot_delivery_reads_.fetch_add(txn.delivery_reads().hot, std::memory_order_relaxed);
  db_delivery_reads_.fetch_add(txn.delivery_reads().db, std::memory_order_relaxed);
  transactions_run_.fetch_add(group.size(), std::memory_order_relaxed);
  std::vector<TxnDone> to_sync;
  bool urgent = false;
  // The syncer's delay counts from when the oldest deferred transaction was queued, so its
  // wait to be written and its wait to be synced share one deferred_sync_delay_.
  absl::Time oldest_deferred = absl::InfiniteFuture();
  for (size_t i = 0; i < group.size(); ++i) {
    if (group[i].sync == Sync::kDeferred) {
      oldest_deferred = std::min(oldest_deferred, group[i].queued_at);
    }
    if (!group[i].done) continue;
    absl::Status status = results[i].ok() ? group_status : std::move(results[i]);
    if (status.ok() && group[i].sync != Sync::kLazy && write_options_.sync) {
      urgent = urgent || group[i].sync == Sync::kDurable;
      to_sync.push_back(std::move(group[i].done));
    } else {
      group[i].done(std::move(status));
    }
  }
  group.clear();
  if (to_sync_here != nullptr) {
    for (TxnDone& done : to_sync) to_sync_here->push_back(std::move(done));
    return;
  }
  if (!to_sync.empty()) {
    absl::MutexLock l(&sync_mu_);
    if (awaiting_sync_.empty()) oldest_deferred_ = std::min(absl::Now(), oldest_deferred);
    sync_urgent_ = sync_urgent_ || urgent;
    for (TxnDone& done : to_sync) awaiting_sync_.push_back(std::move(done));
  }
}

void ShardStore::Impl::ForgetWrittenHotRecords(const GroupBatch& batch) {
  batch.ForEachIndexed(
      [this](absl::string_view index_key, absl::string_view, std::optional<int64_t> hot_rank) {
        HotRecords* hot = hot_.For(static_cast<Cf>(index_key[0]));
        if (hot != nullptr && !hot_rank.has_value()) hot->Erase(index_key);
      });
}

void ShardStore::Impl::ApplyToHotRecords(const GroupBatch& batch, absl::Time now) {
  // Reads of keys the group also wrote are not kept: the write decides (ForEachKeptHot).
  batch.ForEachKeptHot([this](absl::string_view index_key, absl::string_view value, int64_t rank) {
    if (HotRecords* hot = hot_.For(static_cast<Cf>(index_key[0])); hot != nullptr) {
      hot->Put(index_key, value, rank);
    }
  });
  batch.ForEachIndexed([this](absl::string_view index_key, absl::string_view value,
                              std::optional<int64_t> hot_rank) {
    HotRecords* hot = hot_.For(static_cast<Cf>(index_key[0]));
    if (hot != nullptr && hot_rank.has_value()) hot->Put(index_key, value, *hot_rank);
  });
  // Expected to be read that long ago and still here: most likely nobody reads it soon (a
  // delivery of a topic without subscribers, say); it should not hold the room for good.
  const int64_t stale_us = absl::ToUnixMicros(now - kHotRecordMaxAge);
  hot_.timers.DropRankedBefore(stale_us);
  hot_.deliveries.DropRankedBefore(stale_us);
}

void ShardStore::Impl::SyncerLoop() {
  std::vector<TxnDone> synced;
  for (;;) {
    {
      absl::MutexLock l(&sync_mu_);
      syncer_busy_ = false;
      auto any = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_) {
        return !request_thread_syncing_ && (!awaiting_sync_.empty() || sync_stopping_);
      };
      auto urgent = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_) {
        return !request_thread_syncing_ && (sync_urgent_ || sync_stopping_);
      };
      sync_mu_.Await(absl::Condition(&any));
      if (!urgent()) {
        sync_mu_.AwaitWithDeadline(absl::Condition(&urgent),
                                   oldest_deferred_ + deferred_sync_delay_);
      }
      if (request_thread_syncing_) continue;  // it started during the wait
      if (awaiting_sync_.empty()) {
        if (sync_stopping_) return;  // nothing left to sync
        continue;                    // a request thread took and synced them
      }
      synced.swap(awaiting_sync_);
      sync_urgent_ = false;
      syncer_busy_ = true;
    }
    // Covers every write made before it: all of `synced` and whatever the writer added since.
    SyncAndAnswer(synced);
    synced.clear();
  }
}

absl::Status ShardStore::Impl::WriteMeta(uint32_t shard_count) {
  internal::ShardMeta meta;
  meta.set_shard(static_cast<uint32_t>(index_));
  meta.set_shard_count(shard_count);
  meta.set_format_version(kFormatVersion);
  rocksdb::WriteOptions options;
  options.sync = true;
  return FromRocks(db_->Put(options, cfs_[kCfDefault], kMetaKey, meta.SerializeAsString()),
                   absl::StrCat("writing shard meta in ", path_));
}

absl::Status ShardStore::Impl::CheckMeta(uint32_t shard_count) {
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cfs_[kCfDefault], kMetaKey, &value);
  if (s.IsNotFound()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "shard dir ", path_, " has no shard meta: not a chime shard; refusing to open it"));
  }
  if (!s.ok()) return FromRocks(s, absl::StrCat("reading shard meta in ", path_));
  internal::ShardMeta meta;
  if (!meta.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError(absl::StrCat("shard dir ", path_, ": shard meta is corrupt"));
  }
  if (meta.format_version() != kFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("shard dir ", path_, " has format version ", meta.format_version(),
                     "; this build reads version ", kFormatVersion));
  }
  if (meta.shard() != static_cast<uint32_t>(index_) || meta.shard_count() != shard_count) {
    return absl::FailedPreconditionError(
        absl::StrCat("shard dir ", path_, " says it is shard ", meta.shard(), " of ",
                     meta.shard_count(), ", expected shard ", index_, " of ", shard_count));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ShardStore>> ShardStore::Open(int index, const std::string& path,
                                                             const Deps& deps) {
  std::error_code ec;
  if (!deps.create && !std::filesystem::is_directory(path, ec)) {
    return absl::FailedPreconditionError(absl::StrCat("shard dir ", path, " is missing"));
  }
  rocksdb::DBOptions options = MakeDBOptions(deps);
  Deps shard_deps = deps;
  shard_deps.retention_slot = std::make_shared<RetentionShardSlot>();
  shard_deps.retention_counters = std::make_shared<RetentionCounters>();
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = MakeColumnFamilies(shard_deps);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, cfs, &handles, &db);
  if (!s.ok()) return FromRocks(s, absl::StrCat("opening shard ", path));
  auto impl = std::make_unique<Impl>(index, path, db, handles, deps);
  if (deps.create) {
    if (absl::Status m = impl->WriteMeta(deps.shard_count); !m.ok()) return m;
  } else {
    if (absl::Status m = impl->CheckMeta(deps.shard_count); !m.ok()) return m;
  }
  impl->Start();
  auto shard = std::unique_ptr<ShardStore>(new ShardStore(
      index, std::move(impl), db, shard_deps.retention_slot, shard_deps.retention_counters));
  shard->retention_slot_->Set(shard.get());
  return shard;
}

ShardStore::ShardStore(int index, std::unique_ptr<Impl> impl, rocksdb::DB* db,
                       std::shared_ptr<RetentionShardSlot> retention_slot,
                       std::shared_ptr<RetentionCounters> retention_counters)
    : index_(index),
      retention_slot_(std::move(retention_slot)),
      retention_counters_(std::move(retention_counters)),
      impl_(std::move(impl)),
      db_(db) {}

ShardStore::~ShardStore() { retention_slot_->Set(nullptr); }

void ShardStore::Close() { impl_->Close(); }

absl::Status ShardStore::FlushMemtables(uint64_t min_bytes) {
  if (MemtableBytes() < min_bytes) return absl::OkStatus();
  std::vector<rocksdb::ColumnFamilyHandle*> cfs;
  for (int c = 0; c < kNumCfs; ++c) cfs.push_back(impl_->cf(static_cast<Cf>(c)));
  rocksdb::FlushOptions options;
  options.wait = true;
  options.allow_write_stall = true;  // nothing else writes any more
  return FromRocks(db_->Flush(options, cfs), absl::StrCat("flushing shard ", index_));
}

void ShardStore::Submit(TxnFn fn, TxnDone done, Sync sync) {
  impl_->Submit(std::move(fn), std::move(done), sync);
}

void ShardStore::SubmitOnThisThread(TxnFn fn, TxnDone done) {
  impl_->SubmitOnThisThread(std::move(fn), std::move(done));
}

absl::Status ShardStore::SubmitAndWait(TxnFn fn) {
  absl::Notification notification;
  absl::Status result;
  Submit(std::move(fn), [&](absl::Status s) {
    result = std::move(s);
    notification.Notify();
  });
  notification.WaitForNotification();
  return result;
}

namespace {

template <typename Record>
absl::StatusOr<std::optional<Record>> GetFromDb(rocksdb::DB* db, const rocksdb::ReadOptions& ro,
                                                rocksdb::ColumnFamilyHandle* cf,
                                                const std::string& key, absl::string_view what) {
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db->Get(ro, cf, key, &value);
  return RecordFromGet<Record>(s, value, what, key);
}

// Iterates keys in [lower, upper) of `cf` (upper "" = unbounded), calling
// visit(key, value) until it returns false. Propagates visit's error.
template <typename Visit>
absl::Status ForEachInRange(rocksdb::DB* db, rocksdb::ReadOptions ro,
                            rocksdb::ColumnFamilyHandle* cf, const std::string& lower,
                            const std::string& upper, const Visit& visit) {
  rocksdb::Slice upper_slice(upper);
  if (!upper.empty()) ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf));
  for (it->Seek(lower); it->Valid(); it->Next()) {
    absl::StatusOr<bool> go_on = visit(it->key(), it->value());
    if (!go_on.ok()) return go_on.status();
    if (!*go_on) return absl::OkStatus();
  }
  return FromRocks(it->status(), "scanning");
}

}  // namespace

absl::StatusOr<std::optional<TimerRecord>> ShardStore::GetTimer(absl::string_view ns,
                                                                absl::string_view timer_id) const {
  return GetFromDb<TimerRecord>(db_, rocksdb::ReadOptions(), impl_->cf(kCfTimers),
                                TimerKey(ns, timer_id), "timer");
}

absl::StatusOr<std::optional<IdempotencyRecord>> ShardStore::GetIdempotency(
    absl::string_view ns, absl::string_view key) const {
  return GetFromDb<IdempotencyRecord>(db_, rocksdb::ReadOptions(), impl_->cf(kCfIdempotency),
                                      IdempotencyKey(ns, key), "idempotency");
}

absl::StatusOr<std::optional<DeliveryRecord>> ShardStore::GetDelivery(
    absl::string_view ns, absl::string_view fire_id) const {
  return GetFromDb<DeliveryRecord>(db_, rocksdb::ReadOptions(), impl_->cf(kCfDeliveries),
                                   DeliveryKey(ns, fire_id), "delivery");
}

absl::Status ShardStore::ScanDue(const std::optional<DueEntry>& after, int64_t until_us,
                                 size_t limit, std::vector<DueEntry>* out, bool* more,
                                 uint64_t* read_at_sequence) const {
  out->clear();
  *more = false;
  rocksdb::ManagedSnapshot snapshot(db_);
  if (read_at_sequence != nullptr) *read_at_sequence = snapshot.snapshot()->GetSequenceNumber();
  if (after && after->due_us > until_us) return absl::OkStatus();
  std::string lower = after ? KeySuccessor(DueKey(after->due_us, after->ns, after->timer_id)) : "";
  std::string upper;
  if (until_us != INT64_MAX) AppendTime(&upper, until_us + 1);
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot.snapshot();
  return ForEachInRange(
      db_, read_options, impl_->cf(kCfDue), lower, upper,
      [&](const rocksdb::Slice& key, const rocksdb::Slice&) -> absl::StatusOr<bool> {
        if (out->size() >= limit) {
          *more = true;
          return false;
        }
        std::optional<DueEntry> entry = DecodeDueKey(ToView(key));
        if (!entry) {
          return absl::DataLossError(
              absl::StrCat("corrupt time-index key \"", absl::CHexEscape(ToView(key)), "\""));
        }
        out->push_back(std::move(*entry));
        return true;
      });
}

absl::Status ShardStore::ScanTimers(absl::string_view ns, absl::string_view after_id,
                                    const std::function<bool(const TimerRecord&)>& visit) const {
  return ForEachInRange(
      db_, rocksdb::ReadOptions(), impl_->cf(kCfTimers), KeySuccessor(TimerKey(ns, after_id)),
      PrefixSuccessor(NamespacePrefix(ns)),
      [&](const rocksdb::Slice& key, const rocksdb::Slice& value) -> absl::StatusOr<bool> {
        absl::StatusOr<TimerRecord> record = ParseRecord<TimerRecord>(value, "timer", key);
        if (!record.ok()) return record.status();
        return visit(*record);
      });
}

namespace {

absl::StatusOr<QueueKeyParts> ParseQueueKey(const rocksdb::Slice& key) {
  std::optional<QueueKeyParts> parts = DecodeQueueKey(ToView(key));
  if (!parts) {
    return absl::DataLossError(
        absl::StrCat("corrupt queue key \"", absl::CHexEscape(ToView(key)), "\""));
  }
  return *std::move(parts);
}

// Visits the delivery records behind queue keys in [lower, upper). A queue entry usually
// carries a copy of its record, so a backlog scan reads one family in order instead of a point
// lookup per fire. Entries without one (QueueCopy::kKeyOnly, or written by older versions)
// have an empty value: their record is read from the deliveries family at the same snapshot,
// so it is always found.
absl::Status ForEachQueued(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* queue_cf,
                           rocksdb::ColumnFamilyHandle* deliveries_cf, const std::string& lower,
                           const std::string& upper,
                           const std::function<bool(DeliveryRecord&)>& visit) {
  rocksdb::ManagedSnapshot snapshot(db);
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot.snapshot();
  rocksdb::PinnableSlice stored;
  return ForEachInRange(
      db, ro, queue_cf, lower, upper,
      [&](const rocksdb::Slice& key, const rocksdb::Slice& value) -> absl::StatusOr<bool> {
        if (!value.empty()) {
          absl::StatusOr<DeliveryRecord> record =
              ParseRecord<DeliveryRecord>(value, "queued delivery", key);
          if (!record.ok()) return record.status();
          return visit(*record);
        }
        absl::StatusOr<QueueKeyParts> parts = ParseQueueKey(key);
        if (!parts.ok()) return parts.status();
        std::string delivery_key = DeliveryKey(parts->ns, parts->fire_id);
        stored.Reset();
        rocksdb::Status s = db->Get(ro, deliveries_cf, delivery_key, &stored);
        absl::StatusOr<std::optional<DeliveryRecord>> record =
            RecordFromGet<DeliveryRecord>(s, stored, "delivery", delivery_key);
        if (!record.ok()) return record.status();
        if (!*record) {
          return absl::DataLossError(absl::StrCat("queue entry without a delivery: namespace \"",
                                                  absl::CHexEscape(parts->ns), "\" fire \"",
                                                  absl::CHexEscape(parts->fire_id), "\""));
        }
        return visit(**record);
      });
}

}  // namespace

absl::Status ShardStore::ScanQueue(absl::string_view ns, absl::string_view topic,
                                   int64_t visible_until_us, const QueueCursor& after, size_t limit,
                                   std::vector<DeliveryRecord>* out) const {
  out->clear();
  if (limit == 0 || after.visible_at_us > visible_until_us) return absl::OkStatus();
  std::string prefix = QueuePrefix(ns, topic);
  std::string upper;
  if (visible_until_us == INT64_MAX) {
    upper = PrefixSuccessor(prefix);
  } else {
    upper = prefix;
    AppendTime(&upper, visible_until_us + 1);
  }
  return ForEachQueued(db_, impl_->cf(kCfQueue), impl_->cf(kCfDeliveries),
                       KeySuccessor(QueueKey(ns, topic, after.visible_at_us, after.fire_id)), upper,
                       [&](DeliveryRecord& record) {
                         out->push_back(std::move(record));
                         return out->size() < limit;
                       });
}

absl::Status ShardStore::ScanAllDeliveries(
    const std::function<bool(const DeliveryRecord&)>& visit) const {
  return ForEachQueued(db_, impl_->cf(kCfQueue), impl_->cf(kCfDeliveries), "", "",
                       [&](DeliveryRecord& record) { return visit(record); });
}

absl::Status ShardStore::ScanQueuedTopics(
    const std::function<bool(absl::string_view ns, absl::string_view topic)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), impl_->cf(kCfQueue)));
  for (it->SeekToFirst(); it->Valid();) {
    absl::StatusOr<QueueKeyParts> parts = ParseQueueKey(it->key());
    if (!parts.ok()) return parts.status();
    if (!visit(parts->ns, parts->topic)) return absl::OkStatus();
    it->Seek(PrefixSuccessor(QueuePrefix(parts->ns, parts->topic)));
  }
  return FromRocks(it->status(), "scanning the queue's topics");
}

absl::Status ShardStore::ScanDeadLetters(
    absl::string_view ns, absl::string_view after_fire_id,
    const std::function<bool(const DeliveryRecord&)>& visit) const {
  return ForEachInRange(
      db_, rocksdb::ReadOptions(), impl_->cf(kCfDeadLetters),
      KeySuccessor(DeadLetterKey(ns, after_fire_id)), PrefixSuccessor(NamespacePrefix(ns)),
      [&](const rocksdb::Slice& key, const rocksdb::Slice& value) -> absl::StatusOr<bool> {
        absl::StatusOr<DeliveryRecord> record =
            ParseRecord<DeliveryRecord>(value, "dead letter", key);
        if (!record.ok()) return record.status();
        return visit(*record);
      });
}

namespace {

uint64_t IntProperty(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const std::string& name) {
  uint64_t value = 0;
  if (!db->GetIntProperty(cf, name, &value)) return 0;
  return value;
}

}  // namespace

ShardStore::WriteStats ShardStore::GetWriteStats() const { return impl_->GetWriteStats(); }

ShardStore::RetentionStats ShardStore::GetRetentionStats() const {
  return RetentionStats{
      .timers_removed = retention_counters_->timers_removed.load(std::memory_order_relaxed),
      .idempotency_keys_removed =
          retention_counters_->idempotency_keys_removed.load(std::memory_order_relaxed)};
}

absl::Status ShardStore::CompactRetained() {
  for (Cf cf : {kCfTimers, kCfIdempotency}) {
    rocksdb::FlushOptions flush;
    flush.wait = true;
    CHIME_RETURN_IF_ERROR(
        FromRocks(db_->Flush(flush, impl_->cf(cf)), absl::StrCat("flushing shard ", index_)));
    rocksdb::CompactRangeOptions compact;
    // Files at the bottom level are rewritten too: that is where old records sit.
    compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    CHIME_RETURN_IF_ERROR(FromRocks(db_->CompactRange(compact, impl_->cf(cf), nullptr, nullptr),
                                    absl::StrCat("compacting shard ", index_)));
  }
  return absl::OkStatus();
}

uint64_t ShardStore::EstimateTimers() const {
  return IntProperty(db_, impl_->cf(kCfTimers), rocksdb::DB::Properties::kEstimateNumKeys);
}

uint64_t ShardStore::EstimateDeliveries() const {
  return IntProperty(db_, impl_->cf(kCfDeliveries), rocksdb::DB::Properties::kEstimateNumKeys);
}

uint64_t ShardStore::EstimateScheduled() const {
  return IntProperty(db_, impl_->cf(kCfDue), rocksdb::DB::Properties::kEstimateNumKeys);
}

uint64_t ShardStore::EstimateDeadLetters() const {
  return IntProperty(db_, impl_->cf(kCfDeadLetters), rocksdb::DB::Properties::kEstimateNumKeys);
}

uint64_t ShardStore::MemtableBytes() const {
  uint64_t total = 0;
  for (int c = 0; c < kNumCfs; ++c) {
    total += IntProperty(db_, impl_->cf(static_cast<Cf>(c)),
                         rocksdb::DB::Properties::kCurSizeAllMemTables);
  }
  return total;
}

uint64_t ShardStore::DiskBytes() const {
  uint64_t total = 0;
  for (int c = 0; c < kNumCfs; ++c) {
    total +=
        IntProperty(db_, impl_->cf(static_cast<Cf>(c)), rocksdb::DB::Properties::kLiveSstFilesSize);
  }
  rocksdb::VectorLogPtr wals;
  if (db_->GetSortedWalFiles(wals).ok()) {
    for (const auto& wal : wals) total += wal->SizeFileBytes();
  }
  return total;
}

}  // namespace chime::storage
