#include "server/engine/shard_engine.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/string_view.h"
#include "common/log.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "common/thread_name.h"
#include "server/engine/fire_delivery.h"
#include "server/engine/next_due.h"
#include "server/engine/one_shot_fire.h"
#include "server/engine/one_shot_fired_wire.h"
#include "server/engine/recurrence.h"

namespace chime::engine {

using storage::DueEntry;
using storage::ShardTxn;

// A popped batch: shared by the fire transaction (which fills `fires`, `rescheduled` and
// `held`) and its done callback.
struct ShardEngine::FireBatch {
  std::vector<HeapEntry> entries;
  absl::Time now;
  size_t hold_budget = 0;  // how many fires the transaction may hold back
  std::vector<internal::DeliveryRecord> fires;
  std::vector<HeapEntry> rescheduled;
  uint64_t written_after = 0;  // ShardTxn::WrittenAfterSequence of the transaction
  // Entries held back, by index in `entries` (moved out once the transaction is done), with
  // their topics.
  std::vector<std::pair<size_t, std::string>> held;
};

namespace {

size_t MaxHeap(const EngineOptions& options) {
  return std::max<size_t>(1, options.max_heap_entries_per_shard);
}

bool KeyLess(const DueEntry& a, const DueEntry& b) {
  return std::tie(a.due_us, a.ns, a.timer_id) < std::tie(b.due_us, b.ns, b.timer_id);
}

bool KeyLess(const DueEntry& a, const HeapEntry& b) {
  return std::tie(a.due_us, a.ns, a.timer_id) < std::tie(b.due_us, b.ns, b.timer_id);
}

// A heap entry is fired only if the record still says it is due then; anything else means
// the entry is stale (cancelled, fired through a duplicate entry, rescheduled).
bool StillDue(const internal::TimerRecord& record, const HeapEntry& entry) {
  if (record.timer().state() != v1::TIMER_STATE_SCHEDULED) return false;
  if (record.due_us() != entry.due_us) return false;
  return entry.version == 0 || record.timer().version() == entry.version;
}

// For one fire transaction: whether each fire's queue entry carries a copy of its record, and
// whether a fire with no room is held back instead. The listener's room for a topic is asked
// once, then counted down per fire; fires past it go to disk, where a backlog scan reads the
// copies, unless they may be held (their topic has subscribers, the batch has hold budget).
class QueueCopies {
 public:
  // Where fires may be held, a transaction takes only its share of a topic's room,
  // `room_divisor` being how many transactions may ask for it at once: fires handed over past
  // the room would be written to disk and mark the topic's backlog there, which stops holding.
  QueueCopies(FireListener* listener, size_t hold_budget, size_t room_divisor)
      : listener_(listener),
        hold_budget_(hold_budget),
        room_divisor_(std::max<size_t>(1, room_divisor)) {}

  storage::QueueCopy For(absl::string_view ns, absl::string_view topic) {
    if (listener_ == nullptr) return storage::QueueCopy::kWithRecord;
    TopicRoom& room = Find(ns, topic);
    if (room.in_memory == 0) return storage::QueueCopy::kWithRecord;
    --room.in_memory;
    return storage::QueueCopy::kKeyOnly;
  }

  // For a fire For() left on disk: whether to hold it back instead (and count it).
  bool Hold(absl::string_view ns, absl::string_view topic) {
    if (listener_ == nullptr || hold_budget_ == 0 || !Find(ns, topic).may_hold) return false;
    --hold_budget_;
    return true;
  }

  // Whether For() then Hold() would hold a fire of the topic back. Counts nothing.
  bool WouldHold(absl::string_view ns, absl::string_view topic) {
    if (listener_ == nullptr || hold_budget_ == 0) return false;
    const TopicRoom& room = Find(ns, topic);
    return room.in_memory == 0 && room.may_hold;
  }

  // Whether For() would answer kKeyOnly (the fire fits in the listener's memory). Counts
  // nothing.
  bool WouldKeepInMemory(absl::string_view ns, absl::string_view topic) {
    return listener_ != nullptr && Find(ns, topic).in_memory > 0;
  }

 private:
  struct TopicRoom {
    size_t in_memory = 0;
    bool may_hold = false;  // the listener's room frees up as its subscribers ack
  };
  using Rooms = absl::node_hash_map<std::pair<std::string, std::string>, TopicRoom>;

  TopicRoom& Find(absl::string_view ns, absl::string_view topic) {
    if (last_ == nullptr || last_->first.first != ns || last_->first.second != topic) {
      auto [it, added] = rooms_.try_emplace(std::pair<std::string, std::string>(ns, topic));
      if (added) {
        TopicRoom& room = it->second;
        const auto& [room_ns, room_topic] = it->first;
        room.in_memory = listener_->MemoryRoom(room_ns, room_topic);
        // Webhook fires are never held (they are always written, FireOneShot).
        room.may_hold = hold_budget_ > 0 && topic != kWebhookTopic &&
                        listener_->RoomWillFree(room_ns, room_topic);
        if (room.may_hold) room.in_memory = (room.in_memory + room_divisor_ - 1) / room_divisor_;
      }
      last_ = &*it;
    }
    return last_->second;
  }

  FireListener* const listener_;
  size_t hold_budget_;
  const size_t room_divisor_;
  Rooms rooms_;                        // by (namespace, topic); nodes stay put
  Rooms::value_type* last_ = nullptr;  // most fires of a batch share a topic
};

using SeenTimers = absl::flat_hash_set<std::pair<absl::string_view, absl::string_view>>;

enum class WireFire {
  kHeld,       // held back for room, `*held_topic` its topic
  kUnwritten,  // handed over unwritten: `*delivery` is its pending delivery
  kDuplicate,  // fired or held through another entry of the batch
  kParse,      // anything else, left to the parse
};

// Fires the one-shot topic timer stored as `bytes` on those bytes, without a parse, when it is
// still due as `entry` says and its fire is held back or handed over unwritten: what
// FireOneShot does with the parsed record (most fires of a herd are held once, then handed
// over unwritten). Only with deferred fire writes.
WireFire FireOnTheWire(ShardTxn& txn, const HeapEntry& entry, absl::string_view bytes,
                       absl::Time now, QueueCopies& copies, SeenTimers& seen,
                       internal::DeliveryRecord* delivery,
                       std::optional<absl::string_view>* held_topic) {
  OneShotWireFacts facts;
  if (!ReadOneShotWireFacts(bytes, &facts)) return WireFire::kParse;
  // Not still due (StillDue): the parse path drops it.
  if (!facts.scheduled || facts.due_us != entry.due_us ||
      (entry.version != 0 && facts.version != entry.version)) {
    return WireFire::kParse;
  }
  if (!facts.one_shot || !facts.topic.has_value()) return WireFire::kParse;
  const absl::string_view topic = *facts.topic;
  const bool hold = copies.WouldHold(entry.ns, topic);
  if (!hold) {
    if (!copies.WouldKeepInMemory(entry.ns, topic)) return WireFire::kParse;  // to be written
    // Fired ahead of its due time, a timer fires as if at that time (as in the parse path).
    const absl::Time fire_at = std::max(now, absl::FromUnixMicros(entry.due_us));
    if (!MakeTopicDeliveryOnTheWire(facts, entry.due_us, fire_at, delivery)) {
      return WireFire::kParse;
    }
  }
  if (!seen.emplace(entry.ns, entry.timer_id).second) return WireFire::kDuplicate;
  copies.For(entry.ns, topic);
  txn.KeepTimerBytesHot(entry.ns, entry.timer_id, bytes);  // read again when it fires or acks
  if (hold) {
    copies.Hold(entry.ns, topic);
    *held_topic = topic;
    return WireFire::kHeld;
  }
  internal::UnwrittenFire& unwritten = *delivery->mutable_unwritten();
  unwritten.set_due_us(entry.due_us);
  unwritten.set_timer_version(facts.version);
  return WireFire::kUnwritten;
}

// Fires a one-shot timer. A fire its listener keeps in memory is, with `defer_writes`, handed
// over without a write (EngineOptions::defer_fire_writes): its ack writes the timer's end. One
// with no room that may wait for it is not fired: `*held_topic` gets its topic and nothing is
// written.
absl::Status FireOneShot(ShardTxn& txn, internal::TimerRecord& record, int64_t due_us,
                         absl::Time now, QueueCopies& copies, bool defer_writes,
                         std::vector<internal::DeliveryRecord>* fires,
                         std::optional<std::string>* held_topic) {
  const v1::Timer& timer = record.timer();
  // Webhook fires are always written: the dispatcher reads each one's target back from its
  // stored delivery record (the Fire it is handed does not carry it).
  const bool webhook = timer.target().has_webhook();
  const storage::QueueCopy copy = webhook ? copies.For(timer.namespace_(), kWebhookTopic)
                                          : copies.For(timer.namespace_(), timer.target().topic());
  if (defer_writes && !webhook && copy == storage::QueueCopy::kWithRecord &&
      copies.Hold(timer.namespace_(), timer.target().topic())) {
    txn.KeepTimerHot(record);  // read again when it fires
    *held_topic = timer.target().topic();
    return absl::OkStatus();
  }
  internal::DeliveryRecord delivery =
      MakeDelivery(timer, MakeFireId(timer.timer_id(), timer.fire_count()), due_us, now);
  if (defer_writes && copy == storage::QueueCopy::kKeyOnly && !webhook) {
    internal::UnwrittenFire& unwritten = *delivery.mutable_unwritten();
    unwritten.set_due_us(due_us);
    unwritten.set_timer_version(timer.version());
    txn.KeepTimerHot(record);  // its ack reads it again
    fires->push_back(std::move(delivery));
    return absl::OkStatus();
  }
  WriteOneShotFired(txn, record, due_us, delivery.fire().fire_time());
  txn.PutNewDelivery(delivery, copy);
  fires->push_back(std::move(delivery));
  return absl::OkStatus();
}

// Fires the occurrence of `record` due at `due_us`: the pending delivery, the updated timer
// and the time-index change go into the same transaction (for a recurring timer, also its
// next occurrence). `record` is changed to what the fire makes of it.
absl::Status FireOne(ShardTxn& txn, internal::TimerRecord& record, int64_t due_us, absl::Time now,
                     QueueCopies& copies, bool defer_writes,
                     std::vector<internal::DeliveryRecord>* fires,
                     std::vector<HeapEntry>* rescheduled, std::optional<std::string>* held_topic) {
  if (IsOneShot(record.timer())) {
    return FireOneShot(txn, record, due_us, now, copies, defer_writes, fires, held_topic);
  }
  v1::Timer& timer = *record.mutable_timer();
  const uint64_t occurrence = timer.fire_count();
  CHIME_ASSIGN_OR_RETURN(OccurrencePlan plan, PlanOccurrence(txn, record, due_us, now));

  txn.DeleteDue(due_us, timer.namespace_(), timer.timer_id());
  if (plan.next_nominal_us.has_value()) {
    // A recurring timer: the next occurrence is written in this same transaction.
    const int64_t next = *plan.next_nominal_us + DueOffsetUs(timer);
    *timer.mutable_next_fire_time() = MicrosToProto(next);
    record.set_due_us(next);
    record.set_nominal_us(*plan.next_nominal_us);
    record.set_catch_up_fires(plan.catch_up_fires);
    txn.PutDue(next, timer.namespace_(), timer.timer_id());
  }
  if (!plan.fire) {
    timer.set_version(timer.version() + 1);
    if (plan.next_nominal_us.has_value()) {
      rescheduled->push_back(
          HeapEntry{record.due_us(), timer.version(), timer.namespace_(), timer.timer_id()});
    } else {
      // The schedule ended on a skipped occurrence: done unless the last fire is pending.
      CHIME_ASSIGN_OR_RETURN(
          std::optional<internal::DeliveryRecord> last,
          txn.GetDelivery(timer.namespace_(),
                          MakeFireId(timer.timer_id(), occurrence == 0 ? 0 : occurrence - 1)));
      timer.set_state(last.has_value() ? v1::TIMER_STATE_FIRED : v1::TIMER_STATE_COMPLETED);
      timer.clear_next_fire_time();
      record.set_due_us(0);
    }
    txn.PutTimer(record);
    return absl::OkStatus();
  }
  if (plan.replace_fire_id.has_value()) {
    CHIME_RETURN_IF_ERROR(txn.DeleteDelivery(timer.namespace_(), *plan.replace_fire_id));
  }

  internal::DeliveryRecord delivery =
      MakeDelivery(timer, MakeFireId(timer.timer_id(), occurrence), plan.nominal_us, now);
  timer.set_fire_count(occurrence + 1);
  *timer.mutable_last_fire_time() = ToProtoTimestamp(now);
  timer.set_version(timer.version() + 1);
  if (plan.next_nominal_us.has_value()) {
    rescheduled->push_back(
        HeapEntry{record.due_us(), timer.version(), timer.namespace_(), timer.timer_id()});
  } else {
    timer.set_state(v1::TIMER_STATE_FIRED);
    timer.clear_next_fire_time();
    record.set_due_us(0);
  }
  txn.PutTimer(record);
  txn.PutNewDelivery(delivery, copies.For(delivery.fire().namespace_(), delivery.fire().topic()));
  fires->push_back(std::move(delivery));
  return absl::OkStatus();
}

}  // namespace

ShardEngine::ShardEngine(int index, int shard_count, storage::ShardStore* store,
                         const EngineOptions& options, FireListener* listener)
    : index_(index),
      shard_count_(std::max(1, shard_count)),
      store_(store),
      options_(options),
      listener_(listener),
      clock_(options.clock != nullptr ? options.clock : Clock::Real()) {}

ShardEngine::~ShardEngine() { Stop(); }

void ShardEngine::Start() {
  thread_ = std::thread([this] {
    SetCurrentThreadName("engine-" + std::to_string(index_));
    Run();
  });
}

void ShardEngine::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    wakeup_ = true;
  }
  if (thread_.joinable()) thread_.join();
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(this, &ShardEngine::NothingInFlight));
}

void ShardEngine::OnScheduled(HeapEntry entry, uint64_t written_after) {
  absl::MutexLock lock(&mu_);
  ForgetLoadsReadByLocked(written_after);
  ScheduleCommittedLocked(std::move(entry), written_after);
}

void ShardEngine::OnScheduledMany(std::vector<HeapEntry> entries, uint64_t written_after) {
  absl::MutexLock lock(&mu_);
  ForgetLoadsReadByLocked(written_after);
  for (HeapEntry& entry : entries) ScheduleCommittedLocked(std::move(entry), written_after);
}

void ShardEngine::ForgetLoadsReadByLocked(uint64_t sequence) {
  while (!merged_loads_.empty() && merged_loads_.front().read_at <= sequence) {
    merged_loads_.pop_front();
  }
}

bool ShardEngine::LoadReadLocked(const HeapEntry& entry, uint64_t written_after) const {
  // Newest first: only loads that read after the write saw it.
  for (auto load = merged_loads_.rbegin();
       load != merged_loads_.rend() && load->read_at > written_after; ++load) {
    const bool after_start = !load->after.has_value() || KeyLess(*load->after, entry);
    if (after_start && !KeyLess(load->to, entry)) return true;
  }
  return false;
}

void ShardEngine::ScheduleCommittedLocked(HeapEntry entry, uint64_t written_after) {
  if (LoadReadLocked(entry, written_after)) return;  // in the heap already, or on its way
  const bool covered = cursor_.has_value() && !KeyLess(*cursor_, entry);
  if (!covered && loading_ && entry.due_us <= loading_until_us_) {
    // Whether the running load read it is known once it is merged (LoadLocked).
    committed_while_loading_.push_back(Committed{std::move(entry), written_after});
    return;
  }
  PushOrUncoverLocked(std::move(entry));
}

ShardStats ShardEngine::Stats() const {
  absl::MutexLock lock(&mu_);
  ShardStats stats;
  stats.shard = index_;
  stats.heap_entries = heap_.size();
  stats.heap_high_water = heap_high_water_;
  stats.window_end_us = WindowEndUsLocked();
  if (!heap_.empty()) {
    const HeapEntry& top = heap_.Top();
    stats.heap_top = DueEntry{top.due_us, top.ns, top.timer_id};
  }
  for (const auto& [topic, entries] : held_) {
    const HeapEntry& first = entries.front();  // held in due order within a topic, mostly
    if (!stats.heap_top.has_value() || first.due_us < stats.heap_top->due_us) {
      stats.heap_top = DueEntry{first.due_us, first.ns, first.timer_id};
    }
  }
  stats.held_fires = held_count_;
  stats.timers_to_warm = to_warm_.size();
  stats.warm_transactions = warm_transactions_;
  stats.touches = touches_;
  stats.heap_sorted_runs = heap_.sorted_runs();
  stats.load_cursor = cursor_;
  stats.fired_total = fired_total_;
  stats.last_dispatch_lateness = last_lateness_;
  return stats;
}

int64_t ShardEngine::WindowEndUsLocked() const {
  return cursor_.has_value() ? cursor_->due_us : 0;  // 0: nothing loaded yet
}

void ShardEngine::PushOrUncoverLocked(HeapEntry entry) {
  // Compared by key, not only by due time: an entry after the cursor at the cursor's own due
  // time is read by the next load, and pushing it too would put it in the heap twice.
  const bool covered = cursor_.has_value() && !KeyLess(*cursor_, entry);
  if (!covered) return;  // a later load reads it from the time index
  if (heap_.size() < MaxHeap(options_)) {
    const bool earliest = heap_.empty() || EarlierThan(entry, heap_.Top());
    heap_.Push(std::move(entry));
    heap_high_water_ = std::max(heap_high_water_, heap_.size());
    if (earliest) wakeup_ = true;
    return;
  }
  // No room: the latest of the heap and the new entry stays out (on disk only), and the
  // window stops before it so a later load reads it again. Keeping the earlier one in memory
  // matters: a timer due soon must not wait behind a full heap of later ones.
  const bool earliest = EarlierThan(entry, heap_.Top());
  heap_.ExchangeLatest(std::move(entry));
  if (earliest) wakeup_ = true;
  // Every index entry up to the heap's latest is in the heap or fired; the one left out comes
  // after it. Stopping the window exactly there, not at the start of that due time, matters
  // for a herd due at one instant: a load must not read again the entries already fired,
  // which are still in the index while their fires are out unwritten (and would fire twice).
  const HeapEntry& latest = heap_.Latest();
  DueEntry in_memory_to{latest.due_us, latest.ns, latest.timer_id};
  if (loading_ && (!retract_.has_value() || KeyLess(in_memory_to, *retract_))) {
    retract_ = in_memory_to;
  }
  if (cursor_.has_value() && KeyLess(in_memory_to, *cursor_)) cursor_ = std::move(in_memory_to);
}

bool ShardEngine::NeedsLoadLocked(absl::Time now) const {
  if (heap_.size() >= MaxHeap(options_) || now < load_retry_at_) return false;
  if (!cursor_.has_value()) return true;
  return now + options_.window / 2 >= absl::FromUnixMicros(cursor_->due_us);
}

void ShardEngine::LoadLocked(absl::Time now) {
  active_at_ = now;
  touched_ = false;
  const size_t max = MaxHeap(options_);
  const size_t room = max - heap_.size();
  const int64_t until_us = absl::ToUnixMicros(now + options_.window);
  const std::optional<DueEntry> after = cursor_;
  loading_ = true;
  loading_until_us_ = until_us;
  retract_.reset();

  // The scan runs without mu_ so commit callbacks (OnScheduled) never wait for disk reads.
  std::vector<DueEntry> loaded;
  bool more = false;
  uint64_t read_at = 0;
  mu_.Unlock();
  const absl::Status status = store_->ScanDue(after, until_us, room, &loaded, &more, &read_at);
  mu_.Lock();
  loading_ = false;
  std::vector<Committed> committed = std::move(committed_while_loading_);
  committed_while_loading_.clear();

  std::optional<DueEntry> next = after;
  if (!status.ok()) {
    CHIME_LOG(kError, "loading the time index failed; retrying",
              {{"shard", index_}, {"error", status.ToString()}});
    load_retry_at_ = now + kRetryBackoff;
  } else {
    // Timers committed during the scan may have filled the heap: keep what fits, in order.
    bool truncated = more;
    size_t pushed = 0;
    for (DueEntry& e : loaded) {
      if (heap_.size() >= max) {
        truncated = true;
        break;
      }
      next = e;
      if (options_.warm_loaded_timers) to_warm_.push_back(e);
      heap_.Push(HeapEntry{e.due_us, 0, std::move(e.ns), std::move(e.timer_id)});
      ++pushed;
    }
    heap_high_water_ = std::max(heap_high_water_, heap_.size());
    if (!truncated) {
      // Everything due up to until_us is covered: the next load starts after it. (After a
      // wall-clock step back until_us can be behind the cursor, which then stays.)
      DueEntry covered{until_us + 1, "", ""};
      if (!next.has_value() || KeyLess(*next, covered)) next = std::move(covered);
    } else if (pushed == 0 && heap_.size() < max) {
      load_retry_at_ = now + kRetryBackoff;  // no progress: do not spin
    }
  }
  // (A retraction comes from a timer the old cursor covered, so there is a cursor here.)
  if (retract_.has_value() && next.has_value() && KeyLess(*retract_, *next)) next = retract_;
  retract_.reset();
  cursor_ = std::move(next);
  if (status.ok() && cursor_.has_value()) {
    if (merged_loads_.size() >= kMaxMergedLoads) merged_loads_.pop_front();
    merged_loads_.push_back(MergedLoad{read_at, after, *cursor_});
  }
  for (Committed& c : committed) {
    // Seen by the scan: pushed with what it loaded, or past the new cursor for a later load.
    // (A failed scan pushed nothing, and these are past its unchanged cursor.)
    if (read_at > c.written_after) continue;
    PushOrUncoverLocked(std::move(c.entry));
  }
}

int64_t ShardEngine::FireHorizonUs(int64_t now_us) const {
  return now_us + absl::ToInt64Microseconds(options_.fire_ahead);
}

absl::Duration ShardEngine::WakeLead() const { return options_.fire_ahead / 2; }

bool ShardEngine::CanFireLocked(absl::Time now, int64_t now_us) const {
  return !heap_.empty() && heap_.Top().due_us <= now_us + absl::ToInt64Microseconds(WakeLead()) &&
         fires_in_flight_ < kMaxFiresInFlight && now >= fire_retry_at_;
}

absl::Time ShardEngine::NextWakeLocked() const {
  absl::Time wake = absl::InfiniteFuture();
  if (!heap_.empty() && fires_in_flight_ < kMaxFiresInFlight) {
    wake = std::max(absl::FromUnixMicros(heap_.Top().due_us) - WakeLead(), fire_retry_at_);
  }
  if (held_count_ > 0 && fires_in_flight_ < kMaxFiresInFlight) wake = std::min(wake, held_poll_at_);
  if (heap_.size() < MaxHeap(options_)) {
    const absl::Time load_at = cursor_.has_value()
                                   ? absl::FromUnixMicros(cursor_->due_us) - options_.window / 2
                                   : absl::InfinitePast();
    wake = std::min(wake, std::max(load_at, load_retry_at_));
  }
  return wake;
}

void ShardEngine::Run() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    wakeup_ = false;
    // The wall clock is re-read on every wake: a step forward fires what became due, a step
    // back fires nothing early.
    const absl::Time now = clock_->Now();
    const int64_t now_us = absl::ToUnixMicros(now);
    if (NeedsLoadLocked(now)) {
      LoadLocked(now);
      continue;
    }
    // Held fires first: they are the earliest due of their topics.
    if (held_count_ > 0 && now >= held_poll_at_ && fires_in_flight_ < kMaxFiresInFlight &&
        FireHeldLocked(now)) {
      continue;
    }
    if (CanFireLocked(now, now_us)) {
      FireDueLocked(now, now_us);
      continue;
    }
    if (!warming_ && !to_warm_.empty()) {
      WarmLocked(now_us);
      continue;
    }
    // One warming transaction at a time: a touch waits for the one in flight (its done wakes
    // this thread).
    const absl::Time touch_at = warming_ ? absl::InfiniteFuture() : TouchAtLocked();
    if (now >= touch_at) {
      TouchLocked();
      continue;
    }
    clock_->AwaitWithDeadline(&mu_, absl::Condition(this, &ShardEngine::WakeupOrStop),
                              std::min(NextWakeLocked(), touch_at));
  }
}

absl::Time ShardEngine::TouchAtLocked() const {
  if (touched_ || heap_.empty() || options_.touch_after_idle <= absl::ZeroDuration()) {
    return absl::InfiniteFuture();
  }
  const absl::Time at = absl::FromUnixMicros(heap_.Top().due_us) - WakeLead() - kTouchLead;
  // A short pause leaves memory warm: reading it would only cost.
  return at - active_at_ >= options_.touch_after_idle ? at : absl::InfiniteFuture();
}

void ShardEngine::TouchLocked() {
  touched_ = true;
  ++touches_;
  // A herd's heap, all due at once, is sorted now rather than at its first fire (the first
  // PopDue's horizon, kTouchLead from now). The sort reads the slots as the touch would.
  heap_.SortIntoRunIfDueBy(FireHorizonUs(absl::ToUnixMicros(clock_->Now())) +
                           absl::ToInt64Microseconds(kTouchLead));
  touch_sum_ += heap_.Touch();
  if (!options_.warm_loaded_timers) return;
  // Their fires come first: the writer's lookups bring their kept records back in.
  auto entries = std::make_shared<std::vector<storage::DueEntry>>();
  for (HeapEntry& e : heap_.Earliest(kTouchFires)) {
    entries->push_back({e.due_us, std::move(e.ns), std::move(e.timer_id)});
  }
  SubmitWarmLocked(std::move(entries));
}

void ShardEngine::FireDueLocked(absl::Time now, int64_t now_us) {
  active_at_ = now;
  touched_ = false;
  auto batch = std::make_shared<FireBatch>();
  batch->now = now;
  heap_.PopDue(FireHorizonUs(now_us), std::max<size_t>(1, options_.max_fire_batch),
               &batch->entries);
  // Fired ahead of time counts as on time.
  last_lateness_ =
      std::max(absl::ZeroDuration(), now - absl::FromUnixMicros(batch->entries.front().due_us));
  SubmitFiresLocked(std::move(batch));
}

bool ShardEngine::FireHeldLocked(absl::Time now) {
  active_at_ = now;
  touched_ = false;
  held_poll_at_ = now + kHeldFirePoll;
  std::vector<std::pair<std::string, std::string>> topics;
  topics.reserve(held_.size());
  for (const auto& [topic, entries] : held_) topics.push_back(topic);
  // The listener takes its own lock, and its calls into the store may run this shard's
  // commit callbacks, which take mu_.
  std::vector<size_t> take(topics.size());
  mu_.Unlock();
  for (size_t i = 0; i < topics.size(); ++i) {
    const auto& [ns, topic] = topics[i];
    // A fire transaction's share of the room (QueueCopies): every shard, and every transaction
    // in flight on it, sees all of it; the fires taken past the share would be held again.
    const size_t share = (listener_->MemoryRoom(ns, topic) + RoomDivisor() - 1) / RoomDivisor();
    take[i] = listener_->RoomWillFree(ns, topic) ? share : SIZE_MAX;  // all, to disk
  }
  mu_.Lock();
  auto batch = std::make_shared<FireBatch>();
  batch->now = now;
  const size_t max_batch = std::max<size_t>(1, options_.max_fire_batch);
  for (size_t i = 0; i < topics.size() && batch->entries.size() < max_batch; ++i) {
    auto it = held_.find(topics[i]);
    if (it == held_.end()) continue;
    std::deque<HeapEntry>& entries = it->second;
    size_t n = std::min({take[i], entries.size(), max_batch - batch->entries.size()});
    held_count_ -= n;
    for (; n > 0; --n) {
      batch->entries.push_back(std::move(entries.front()));
      entries.pop_front();
    }
    if (entries.empty()) held_.erase(it);
  }
  if (batch->entries.empty()) return false;
  SubmitFiresLocked(std::move(batch));
  return true;
}

void ShardEngine::SubmitFiresLocked(std::shared_ptr<FireBatch> batch) {
  const size_t max_held = options_.defer_fire_writes ? options_.max_held_fires_per_shard : 0;
  batch->hold_budget = max_held - std::min(max_held, held_count_);
  ++fires_in_flight_;

  auto fn = [batch, listener = listener_, defer_writes = options_.defer_fire_writes,
             room_divisor = RoomDivisor()](ShardTxn& txn) -> absl::Status {
    batch->fires.clear();
    batch->rescheduled.clear();
    batch->held.clear();
    batch->written_after = txn.WrittenAfterSequence();
    QueueCopies copies(listener, batch->hold_budget, room_divisor);
    // A timer can be in the batch twice (duplicate heap entries): fire it once. Only an entry
    // that is still due counts, so a stale entry (e.g. from before an update) does not hide
    // the timer's current one.
    // Views of the batch's own entries, which outlive the transaction: no copies.
    SeenTimers seen;
    seen.reserve(batch->entries.size());
    {
      std::vector<std::pair<absl::string_view, absl::string_view>> timers;
      timers.reserve(batch->entries.size());
      for (const HeapEntry& entry : batch->entries) timers.emplace_back(entry.ns, entry.timer_id);
      txn.PrefetchTimers(timers);
    }
    batch->fires.reserve(batch->entries.size());
    internal::TimerRecord record;  // each timer is parsed into it, reusing its memory
    // Whether to try a fire on the stored bytes first (FireOnTheWire): off after a fire left to
    // the parse that was written, on again after one held or handed over unwritten. Batches are
    // mostly alike, and a try that fails costs about what the parse after it does.
    bool on_the_wire = defer_writes;
    for (size_t i = 0; i < batch->entries.size(); ++i) {
      const HeapEntry& entry = batch->entries[i];
      CHIME_ASSIGN_OR_RETURN(const std::optional<absl::string_view> bytes,
                             txn.GetTimerBytes(entry.ns, entry.timer_id));
      if (!bytes.has_value()) continue;
      if (on_the_wire) {
        // Built in place: a fire moved into the list costs a swap of every field.
        internal::DeliveryRecord& delivery = batch->fires.emplace_back();
        std::optional<absl::string_view> held_topic;
        const WireFire outcome =
            FireOnTheWire(txn, entry, *bytes, batch->now, copies, seen, &delivery, &held_topic);
        if (outcome != WireFire::kUnwritten) batch->fires.pop_back();
        if (outcome == WireFire::kHeld) batch->held.emplace_back(i, std::string(*held_topic));
        if (outcome != WireFire::kParse) continue;
      }
      CHIME_RETURN_IF_ERROR(storage::ParseTimerBytes(entry.ns, entry.timer_id, *bytes, &record));
      if (!StillDue(record, entry)) continue;
      if (!seen.emplace(entry.ns, entry.timer_id).second) continue;
      // Fired ahead of its due time, a timer fires as if at that time: fire_time, delivery
      // visibility and the next occurrence of a schedule are exactly those of firing then.
      const absl::Time fire_at = std::max(batch->now, absl::FromUnixMicros(entry.due_us));
      std::optional<std::string> held_topic;
      const size_t fired_before = batch->fires.size();
      CHIME_RETURN_IF_ERROR(FireOne(txn, record, entry.due_us, fire_at, copies, defer_writes,
                                    &batch->fires, &batch->rescheduled, &held_topic));
      const bool unwritten =
          batch->fires.size() > fired_before && batch->fires.back().has_unwritten();
      on_the_wire = defer_writes && (held_topic.has_value() || unwritten);
      if (held_topic.has_value()) batch->held.emplace_back(i, std::move(*held_topic));
    }
    return absl::OkStatus();
  };
  auto done = [this, batch](absl::Status status) { FireDone(batch.get(), std::move(status)); };

  // Lazy: a fire needs no fsync before it is delivered. Lost with unsynced WAL (a machine
  // crash), it leaves the timer's due entry in place, so the timer fires again with the same
  // fire id; an ack, nack or dead letter of the fire is synced after it (the WAL is
  // sequential). A disk here stalls every fsync for ~10 ms each 100 ms: fires must not wait.
  // Submit without mu_: commit callbacks of this shard's writer take mu_.
  mu_.Unlock();
  store_->Submit(std::move(fn), std::move(done), storage::ShardStore::Sync::kLazy);
  mu_.Lock();
}

void ShardEngine::WarmLocked(int64_t now_us) {
  // Those about to fire: their fires read them first.
  const int64_t fire_horizon_us = FireHorizonUs(now_us) + absl::ToInt64Microseconds(kWarmLead);
  while (!to_warm_.empty() && to_warm_.front().due_us <= fire_horizon_us) to_warm_.pop_front();
  if (to_warm_.empty()) return;
  auto entries = std::make_shared<std::vector<storage::DueEntry>>();
  const size_t n = std::min(to_warm_.size(), kWarmBatch);
  entries->reserve(n);
  for (size_t i = 0; i < n; ++i) {
    entries->push_back(std::move(to_warm_.front()));
    to_warm_.pop_front();
  }
  SubmitWarmLocked(std::move(entries));
}

void ShardEngine::SubmitWarmLocked(std::shared_ptr<std::vector<storage::DueEntry>> entries) {
  warming_ = true;
  ++warm_transactions_;
  auto fn = [entries](ShardTxn& txn) -> absl::Status {
    txn.WarmTimers(*entries);
    return absl::OkStatus();
  };
  auto done = [this](absl::Status) {
    // Last: Stop() waits for it, after which the shard engine may be destroyed.
    absl::MutexLock lock(&mu_);
    warming_ = false;
    wakeup_ = true;
  };
  // Writes nothing: no sync to wait for.
  mu_.Unlock();
  store_->Submit(std::move(fn), std::move(done), storage::ShardStore::Sync::kLazy);
  mu_.Lock();
}

void ShardEngine::FireDone(FireBatch* batch, absl::Status status) {
  if (status.ok()) {
    std::vector<internal::DeliveryRecord> fires = std::move(batch->fires);
    {
      absl::MutexLock lock(&mu_);
      fired_total_ += fires.size();
      for (HeapEntry& entry : batch->rescheduled) {
        ScheduleCommittedLocked(std::move(entry), batch->written_after);
      }
      // A batch's held fires mostly share a topic: one lookup per run of it.
      std::deque<HeapEntry>* queue = nullptr;
      const std::pair<std::string, std::string>* queue_key = nullptr;
      for (auto& [index, topic] : batch->held) {
        HeapEntry& entry = batch->entries[index];
        if (queue == nullptr || queue_key->first != entry.ns || queue_key->second != topic) {
          auto it = held_.try_emplace({entry.ns, std::move(topic)}).first;
          queue = &it->second;
          queue_key = &it->first;
        }
        queue->push_back(std::move(entry));
      }
      held_count_ += batch->held.size();
    }
    if (listener_ != nullptr && !fires.empty()) listener_->OnFires(index_, std::move(fires));
  } else {
    // Nothing of the batch was written: it goes back into the heap and is retried.
    CHIME_LOG(kError, "fire transaction failed; retrying",
              {{"shard", index_}, {"timers", batch->entries.size()}, {"error", status.ToString()}});
    absl::MutexLock lock(&mu_);
    for (HeapEntry& entry : batch->entries) PushOrUncoverLocked(std::move(entry));
    fire_retry_at_ = clock_->Now() + kRetryBackoff;
  }
  // Last: Stop() waits for this count, after which the shard engine may be destroyed.
  absl::MutexLock lock(&mu_);
  --fires_in_flight_;
  wakeup_ = true;
}

}  // namespace chime::engine
