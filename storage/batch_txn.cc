#include "storage/batch_txn.h"

#include <algorithm>

#include "common/status_macros.h"
#include "storage/key_codec.h"
#include "storage/record_io.h"

namespace chime::storage {
namespace {

constexpr size_t kCacheLine = 64;

}  // namespace

void BatchTxn::EndTransaction() {
  ahead_.clear();
  ahead_values_.clear();
  ahead_next_ = 0;
  last_ahead_ = nullptr;
}

absl::Status BatchTxn::TakeWriteStatus() {
  absl::Status s = FromRocks(write_status_, "writing into the batch");
  write_status_ = rocksdb::Status::OK();
  return s;
}

absl::StatusOr<std::optional<absl::string_view>> BatchTxn::GetBytes(Cf cf, const std::string& key,
                                                                    absl::string_view what,
                                                                    const Ahead* ahead) {
  std::optional<absl::string_view> in_batch = batch_->Find(cf, key);
  if (in_batch.has_value()) {
    if (in_batch->data() == nullptr) return std::nullopt;  // deleted in the group
    return in_batch;
  }
  if (ahead != nullptr && ahead->found != Ahead::Found::kUnknown) return TakeAhead(*ahead);
  if (cf == kCfTimers || cf == kCfDeliveries) {
    ShardStore::WriteStats::Reads& reads = cf == kCfTimers ? timer_reads_ : delivery_reads_;
    if (hot_ != nullptr) {
      GroupBatch::MakeIndexKey(cf, key, &hot_key_);
      std::optional<absl::string_view> hot = hot_->For(cf)->Find(hot_key_);
      if (hot.has_value()) {
        ++reads.hot;
        if (cf == kCfTimers) last_hot_timer_key_ = hot_key_;
        return hot;
      }
    }
    ++reads.db;
  }
  value_.Reset();
  rocksdb::Status s = db_->Get(read_options_, cfs_[cf], key, &value_);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) return FromRocks(s, absl::StrCat("reading ", what));
  return ToView(value_);
}

template <typename Record>
absl::StatusOr<std::optional<Record>> BatchTxn::Get(Cf cf, const std::string& key,
                                                    absl::string_view what) {
  CHIME_ASSIGN_OR_RETURN(std::optional<absl::string_view> bytes, GetBytes(cf, key, what));
  if (!bytes.has_value()) return std::optional<Record>();
  CHIME_ASSIGN_OR_RETURN(Record record, ParseRecord<Record>(ToSlice(*bytes), what, key));
  return std::optional<Record>(std::move(record));
}

void BatchTxn::Check(const rocksdb::Status& s) {
  if (!s.ok() && write_status_.ok()) write_status_ = s;
}

void BatchTxn::Put(Cf cf, const std::string& key, const google::protobuf::MessageLite& record,
                   std::optional<int64_t> hot_rank) {
  scratch_.clear();
  record.AppendToString(&scratch_);
  if (hot_ == nullptr) hot_rank.reset();
  Check(batch_->Put(cf, key, scratch_, hot_rank));
}

void BatchTxn::Delete(Cf cf, const std::string& key) { Check(batch_->Delete(cf, key)); }

absl::StatusOr<std::optional<TimerRecord>> BatchTxn::GetTimer(absl::string_view ns,
                                                              absl::string_view timer_id) {
  return Get<TimerRecord>(kCfTimers, TimerKey(ns, timer_id), "timer");
}

absl::StatusOr<bool> BatchTxn::ReadTimer(absl::string_view ns, absl::string_view timer_id,
                                         TimerRecord* record) {
  CHIME_ASSIGN_OR_RETURN(std::optional<absl::string_view> bytes, GetTimerBytes(ns, timer_id));
  if (!bytes.has_value()) return false;
  CHIME_RETURN_IF_ERROR(ParseTimerBytes(ns, timer_id, *bytes, record));
  return true;
}

absl::StatusOr<std::optional<absl::string_view>> BatchTxn::GetTimerBytes(
    absl::string_view ns, absl::string_view timer_id) {
  const Ahead* ahead = NextAhead(ns, timer_id);
  // Most reads of a fire batch: no key to build, no look in the batch.
  if (AheadHolds(ahead)) return TakeAhead(*ahead);
  return GetBytes(kCfTimers, TimerKey(ns, timer_id), "timer", ahead);
}

const BatchTxn::Ahead* BatchTxn::NextAhead(absl::string_view ns, absl::string_view timer_id) {
  if (ahead_next_ >= ahead_.size()) return nullptr;
  const Ahead& next = ahead_[ahead_next_];
  if (next.ns != ns || next.timer_id != timer_id) return nullptr;
  ++ahead_next_;
  return &next;
}

bool BatchTxn::AheadHolds(const Ahead* ahead) const {
  return ahead != nullptr && ahead->found != Ahead::Found::kUnknown &&
         batch_->IndexChanges() == ahead_index_changes_;
}

std::optional<absl::string_view> BatchTxn::TakeAhead(const Ahead& ahead) {
  if (ahead.found == Ahead::Found::kHot) {
    ++timer_reads_.hot;
    last_ahead_ = &ahead;
    return ahead.bytes;
  }
  ++timer_reads_.db;
  if (ahead.found == Ahead::Found::kNone) return std::nullopt;
  last_ahead_ = &ahead;
  return ahead.bytes;
}

absl::StatusOr<std::optional<IdempotencyRecord>> BatchTxn::GetIdempotency(absl::string_view ns,
                                                                          absl::string_view key) {
  return Get<IdempotencyRecord>(kCfIdempotency, IdempotencyKey(ns, key), "idempotency");
}

absl::StatusOr<std::optional<DeliveryRecord>> BatchTxn::GetDelivery(absl::string_view ns,
                                                                    absl::string_view fire_id) {
  return Get<DeliveryRecord>(kCfDeliveries, DeliveryKey(ns, fire_id), "delivery");
}

absl::StatusOr<std::optional<DeliveryRecord>> BatchTxn::GetDeadLetter(absl::string_view ns,
                                                                      absl::string_view fire_id) {
  return Get<DeliveryRecord>(kCfDeadLetters, DeadLetterKey(ns, fire_id), "dead letter");
}

void BatchTxn::MultiGetTimers(const std::vector<std::string>& keys,
                              std::vector<rocksdb::PinnableSlice>* values,
                              std::vector<rocksdb::Status>* statuses) {
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  *values = std::vector<rocksdb::PinnableSlice>(keys.size());
  statuses->assign(keys.size(), rocksdb::Status());
  db_->MultiGet(read_options_, cfs_[kCfTimers], keys.size(), slices.data(), values->data(),
                statuses->data());
}

void BatchTxn::PrefetchTimers(
    absl::Span<const std::pair<absl::string_view, absl::string_view>> timers) {
  EndTransaction();  // a transaction's new read-ahead replaces its last
  ahead_index_changes_ = batch_->IndexChanges();
  std::vector<std::string> keys;  // read from the DB, for ahead_[from_db[i]]
  std::vector<size_t> from_db;
  ahead_.reserve(timers.size());
  // Index keys (the family's byte, then the key) of all first, each looked up in the kept
  // records only after all were prefetched.
  std::vector<std::string> index_keys(timers.size());
  for (size_t i = 0; i < timers.size(); ++i) {
    index_keys[i].push_back(static_cast<char>(kCfTimers));
    index_keys[i].append(TimerKey(timers[i].first, timers[i].second));
    if (hot_ != nullptr) hot_->timers.Prefetch(index_keys[i]);
  }
  for (size_t i = 0; i < timers.size(); ++i) {
    const auto& [ns, timer_id] = timers[i];
    Ahead& ahead = ahead_.emplace_back(Ahead{.ns = ns, .timer_id = timer_id});
    const std::string& index_key = index_keys[i];
    std::string key = index_key.substr(1);
    if (batch_->Find(kCfTimers, key).has_value()) continue;  // the read looks there
    if (hot_ != nullptr) {
      if (std::optional<absl::string_view> hot = hot_->timers.Find(index_key); hot.has_value()) {
        ahead.found = Ahead::Found::kHot;
        ahead.bytes = *hot;
        // Its parse comes after the whole batch's lookups: load the value meanwhile.
        for (size_t at = 0; at < hot->size(); at += kCacheLine) {
          __builtin_prefetch(hot->data() + at);
        }
        continue;
      }
    }
    keys.push_back(std::move(key));
    from_db.push_back(ahead_.size() - 1);
  }
  if (keys.empty()) return;
  std::vector<rocksdb::PinnableSlice> values;
  std::vector<rocksdb::Status> statuses;
  MultiGetTimers(keys, &values, &statuses);
  for (size_t i = 0; i < keys.size(); ++i) {
    Ahead& ahead = ahead_[from_db[i]];
    if (statuses[i].IsNotFound()) {
      ahead.found = Ahead::Found::kNone;
    } else if (statuses[i].ok()) {
      ahead.found = Ahead::Found::kDb;
      ahead.bytes = ToView(ahead_values_.emplace_back(std::move(values[i])));
    }
    // An error stays kUnknown: the read itself reports it.
  }
}

void BatchTxn::WarmTimers(absl::Span<const DueEntry> timers) {
  if (hot_ == nullptr) return;
  const HotRecords& kept = hot_->timers;
  // A timer warmed past the room would push out one due sooner, or itself (the highest rank
  // leaves first): with no room for a record of the usual size, a read now is wasted.
  size_t room = kept.max_bytes() - std::min(kept.bytes(), kept.max_bytes());
  if (room == 0 || (kept.size() > 0 && room < kept.bytes() / kept.size())) return;
  std::vector<std::string> keys;
  std::vector<int64_t> ranks;
  keys.reserve(timers.size());
  ranks.reserve(timers.size());
  for (const DueEntry& timer : timers) {
    std::string key = TimerKey(timer.ns, timer.timer_id);
    // Written by the group: its write decides whether it is kept.
    if (batch_->Find(kCfTimers, key).has_value()) continue;
    GroupBatch::MakeIndexKey(kCfTimers, key, &hot_key_);
    if (kept.Find(hot_key_).has_value()) continue;
    keys.push_back(std::move(key));
    ranks.push_back(timer.due_us);
  }
  if (keys.empty()) return;
  std::vector<rocksdb::PinnableSlice> values;
  std::vector<rocksdb::Status> statuses;
  MultiGetTimers(keys, &values, &statuses);
  // Within the room left, so that one batch does not overfill it either.
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!statuses[i].ok()) continue;  // gone since the load, or an error its fire will meet
    ++timer_reads_.db;
    const size_t cost = 1 + keys[i].size() + values[i].size() + HotRecords::kEntryOverhead;
    if (cost > room) break;
    room -= cost;
    batch_->KeepHot(kCfTimers, keys[i], ToView(values[i]), ranks[i]);
  }
}

bool BatchTxn::KeptFromLastRead(absl::string_view ns, absl::string_view timer_id) {
  if (last_ahead_ == nullptr || last_ahead_->timer_id != timer_id || last_ahead_->ns != ns) {
    return false;
  }
  // Read from the DB just before: the bytes read are the record (as read, which is what is
  // kept), with no serialization. Read from the kept records: kept already (see KeptHot).
  if (last_ahead_->found == Ahead::Found::kDb) {
    batch_->KeepHot(kCfTimers, TimerKey(ns, timer_id), last_ahead_->bytes, now_us_);
  }
  return true;
}

bool BatchTxn::KeptHot(const std::string& key) {
  // Kept already, most likely read from there: it stays, ranked at its due time, which a fire
  // has reached (or nearly), so it is not among the first to leave. Putting it again cost a
  // copy and two rank-tree updates per fire, and a held fire paid them twice.
  GroupBatch::MakeIndexKey(kCfTimers, key, &hot_key_);
  // The read just before (a fire reads its timer, then keeps it) tells without a lookup.
  return hot_key_ == last_hot_timer_key_ || hot_->timers.Find(hot_key_).has_value();
}

void BatchTxn::KeepTimerHot(const TimerRecord& record) {
  const std::string& ns = record.timer().namespace_();
  const std::string& timer_id = record.timer().timer_id();
  if (hot_ == nullptr || KeptFromLastRead(ns, timer_id)) return;
  const std::string key = TimerKey(ns, timer_id);
  if (KeptHot(key)) return;
  scratch_.clear();
  record.AppendToString(&scratch_);
  // Ranked now: read again within moments, before timers merely due soon.
  batch_->KeepHot(kCfTimers, key, scratch_, now_us_);
}

void BatchTxn::KeepTimerBytesHot(absl::string_view ns, absl::string_view timer_id,
                                 absl::string_view bytes) {
  if (hot_ == nullptr || KeptFromLastRead(ns, timer_id)) return;
  const std::string key = TimerKey(ns, timer_id);
  if (KeptHot(key)) return;
  batch_->KeepHot(kCfTimers, key, bytes, now_us_);
}

void BatchTxn::PutTimer(const TimerRecord& record) {
  // Its fire reads it back soon. (due_us is 0 once a timer has nothing left to fire.)
  const bool due_soon = record.timer().state() == chime::v1::TIMER_STATE_SCHEDULED &&
                        record.due_us() != 0 && record.due_us() <= hot_until_us_;
  Put(kCfTimers, TimerKey(record.timer().namespace_(), record.timer().timer_id()), record,
      due_soon ? std::optional<int64_t>(record.due_us()) : std::nullopt);
}

void BatchTxn::PutTimerBytes(absl::string_view ns, absl::string_view timer_id,
                             absl::string_view record) {
  Check(batch_->Put(kCfTimers, TimerKey(ns, timer_id), record, std::nullopt));
}

void BatchTxn::DeleteTimer(absl::string_view ns, absl::string_view timer_id) {
  Delete(kCfTimers, TimerKey(ns, timer_id));
}

void BatchTxn::PutDue(int64_t due_us, absl::string_view ns, absl::string_view timer_id) {
  Check(batch_->Put(kCfDue, DueKey(due_us, ns, timer_id), absl::string_view()));
}

void BatchTxn::DeleteDue(int64_t due_us, absl::string_view ns, absl::string_view timer_id) {
  Delete(kCfDue, DueKey(due_us, ns, timer_id));
}

void BatchTxn::PutIdempotency(absl::string_view ns, absl::string_view key,
                              const IdempotencyRecord& record) {
  Put(kCfIdempotency, IdempotencyKey(ns, key), record);
}

absl::Status BatchTxn::PutDelivery(const DeliveryRecord& record) {
  const chime::v1::Fire& fire = record.fire();
  absl::StatusOr<std::optional<DeliveryRecord>> old =
      GetDelivery(fire.namespace_(), fire.fire_id());
  if (!old.ok()) return old.status();
  if (*old && (*old)->fire().topic() != fire.topic()) {
    Delete(kCfQueue, QueueKey(fire.namespace_(), (*old)->fire().topic(), (*old)->visible_at_us(),
                              fire.fire_id()));
    *old = std::nullopt;  // its queue entry is gone: write the new one below
  }
  WriteDelivery(record, *old ? std::optional<int64_t>((*old)->visible_at_us()) : std::nullopt);
  return absl::OkStatus();
}

void BatchTxn::PutNewDelivery(const DeliveryRecord& record, QueueCopy copy) {
  WriteDelivery(record, std::nullopt, copy);
}

void BatchTxn::UpdateReadDelivery(const DeliveryRecord& updated, int64_t stored_visible_at_us) {
  WriteDelivery(updated, stored_visible_at_us);
}

void BatchTxn::WriteDelivery(const DeliveryRecord& record,
                             std::optional<int64_t> stored_visible_at_us, QueueCopy copy) {
  const chime::v1::Fire& fire = record.fire();
  if (stored_visible_at_us.has_value() && *stored_visible_at_us != record.visible_at_us()) {
    Delete(kCfQueue,
           QueueKey(fire.namespace_(), fire.topic(), *stored_visible_at_us, fire.fire_id()));
  }
  // Its ack (or next attempt) reads it back, usually within the ack deadline.
  Put(kCfDeliveries, DeliveryKey(fire.namespace_(), fire.fire_id()), record, now_us_);
  // The queue entry carries the same bytes (still in scratch_): a backlog scan then reads
  // records in visibility order without a lookup per fire (ShardStore::ScanQueue).
  Check(batch_->Put(
      kCfQueue, QueueKey(fire.namespace_(), fire.topic(), record.visible_at_us(), fire.fire_id()),
      copy == QueueCopy::kWithRecord ? absl::string_view(scratch_) : absl::string_view()));
}

absl::Status BatchTxn::DeleteDelivery(absl::string_view ns, absl::string_view fire_id) {
  absl::StatusOr<std::optional<DeliveryRecord>> old = GetDelivery(ns, fire_id);
  if (!old.ok()) return old.status();
  if (*old) DeleteReadDelivery(**old);
  return absl::OkStatus();
}

void BatchTxn::DeleteReadDelivery(const DeliveryRecord& stored) {
  const chime::v1::Fire& fire = stored.fire();
  Delete(kCfQueue,
         QueueKey(fire.namespace_(), fire.topic(), stored.visible_at_us(), fire.fire_id()));
  Delete(kCfDeliveries, DeliveryKey(fire.namespace_(), fire.fire_id()));
}

void BatchTxn::PutDeadLetter(const DeliveryRecord& record) {
  Put(kCfDeadLetters, DeadLetterKey(record.fire().namespace_(), record.fire().fire_id()), record);
}

void BatchTxn::DeleteDeadLetter(absl::string_view ns, absl::string_view fire_id) {
  Delete(kCfDeadLetters, DeadLetterKey(ns, fire_id));
}

}  // namespace chime::storage
