// The timer engine: creates, cancels and fires timers over the shards of a Store.
//
// Each shard keeps an in-memory min-heap of the timers due inside a moving window (default
// the next 60 s), loaded incrementally from the shard's time index; later timers stay on
// disk. A dispatcher thread per shard waits for the earliest due time on the injected clock,
// fires every due timer in batches (one transaction per batch: the timer record is updated,
// its time-index entry removed, a pending delivery added, and for recurring timers the next
// index entry added), and hands the committed fires to the FireListener.
//
// Heap entries carry the record version they were made from; the fire transaction
// re-reads the record and skips entries that are stale (cancelled or changed).
//
// Thread-safe. Callbacks run on shard writer threads and must not block.
#ifndef CHIME_SERVER_ENGINE_ENGINE_H_
#define CHIME_SERVER_ENGINE_ENGINE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chime/internal/storage.pb.h"
#include "chime/v1/timer.pb.h"
#include "common/clock.h"
#include "google/protobuf/timestamp.pb.h"
#include "storage/store.h"

namespace chime::engine {

// Fires of webhook targets are queued for delivery under this internal topic of their
// namespace (with the target copied into the DeliveryRecord); the webhook dispatcher consumes
// it. Client topics cannot start with '$'.
inline constexpr char kWebhookTopic[] = "$webhook";

// Receives fires once written as pending deliveries (lazily synced: a fire lost in a machine
// crash fires again from its due entry). Called on a shard's writer
// thread; must not block.
class FireListener {
 public:
  virtual ~FireListener() = default;
  virtual void OnFires(int shard, std::vector<internal::DeliveryRecord> fires) = 0;
  // Asked on a shard's writer thread before fires are written: how many more fires of (ns,
  // topic) handed over now would be kept in memory until they end, rather than left on disk
  // for a later scan. Those are written without a copy of the record in their queue entry
  // (storage::QueueCopy). A hint: a wrong answer costs a scan or a write some speed, never a
  // fire; fires handed over unwritten a little past it are kept all the same. Must not
  // block.
  virtual size_t MemoryRoom(const std::string& /*ns*/, const std::string& /*topic*/) { return 0; }
  // Whether MemoryRoom for (ns, topic), if 0 now, frees up as its subscribers ack: it has
  // subscribers and no backlog on disk (which later fires must join, to keep their order). A
  // fire with no room may then wait in the engine for it
  // (EngineOptions::max_held_fires_per_shard) instead of being written. Must not block.
  virtual bool RoomWillFree(const std::string& /*ns*/, const std::string& /*topic*/) {
    return false;
  }
  // The fire time of fire `fire_id` of (ns, topic) if it was handed over unwritten
  // (DeliveryRecord.unwritten) and its end is not written yet: reads show its timer as fired.
  // Called on API threads; must not block.
  virtual std::optional<google::protobuf::Timestamp> UnwrittenFireTime(
      const std::string& /*ns*/, const std::string& /*topic*/, const std::string& /*fire_id*/) {
    return std::nullopt;
  }
};

// How often fires held back for their subscribers' room (EngineOptions::max_held_fires_per_shard)
// are offered to it again.
inline constexpr absl::Duration kHeldFirePoll = absl::Milliseconds(1);

struct EngineOptions {
  Clock* clock = Clock::Real();
  // Timers due within this much of now are kept in memory.
  absl::Duration window = absl::Seconds(60);
  // Bound on heap entries per shard; when the window holds more, it shrinks to what fits.
  // ~160 bytes an entry with a generated id, so 96 MB per shard at most. 600k holds a 1M
  // herd over 2 shards (the default on 2 cores) whole: all its records are read ahead of its
  // due time (warming), where a heap too small left the rest to be loaded, and read, during
  // the drain. chimed sets it from a bound over all shards (ServerOptions::max_heap_entries).
  size_t max_heap_entries_per_shard = 600'000;
  // Hand the timers a window load reads to warming transactions, which read their records
  // into the shard writer's memory ahead of their fires (ShardTxn::WarmTimers). Off when the
  // store keeps no records in memory (StoreOptions::hot_record_bytes 0): they would read
  // nothing, and cost a transaction per batch all the same.
  bool warm_loaded_timers = true;
  // After the dispatcher has had nothing to do for this long, it reads its heap and has the
  // writer look up the kept records of the first fires shortly before they are due
  // (ShardEngine::kTouchLead). On a VM whose host lets an idle process's memory go cold, the
  // first fires after a pause otherwise pay for bringing it back (30-45 ms here after 20 s).
  // Zero: never.
  absl::Duration touch_after_idle = absl::ZeroDuration();
  // Most timers fired in one transaction.
  size_t max_fire_batch = 2'000;
  // Fire transactions may run this much before the due time: the fire is written early
  // (its fire_time and visible_at are the due time, so delivery waits for it), taking the
  // fsync off the path to the subscriber and batching timers due close together (a shard
  // wakes with half the lead left and fires all that is due within the lead). A cancel or
  // update inside this lead finds the timer already fired. Zero: commit at the due time.
  absl::Duration fire_ahead = absl::ZeroDuration();
  // Single creates (Engine::Create) with a generated id and no idempotency key take turns:
  // for this long every one gets an id on the same shard, then on the next. Their group
  // commits then share one WAL sync instead of one per shard at once, which leaves the CPU
  // more for the calls themselves; over many turns the timers still spread evenly over the
  // shards. Zero: each generated id lands on a random shard.
  absl::Duration create_shard_turn = absl::Milliseconds(10);
  // Applied where a timer's delivery policy leaves a field unset.
  absl::Duration default_ack_deadline = absl::Seconds(30);
  // Fires of one-shot timers with a topic target that the listener will keep in memory (its
  // MemoryRoom) are handed over before anything about them is written, marked
  // DeliveryRecord.unwritten. The timer stays stored SCHEDULED with its time-index entry, so
  // a crash fires it again with the same fire id, until the listener writes the fire's end
  // with WriteUnwrittenFire: its ack (the timer FIRED, nothing else: two writes instead of
  // the six of a fire and its ack), or the fire itself when it must wait on disk.
  bool defer_fire_writes = true;
  // With defer_fire_writes: a due one-shot fire of a topic whose subscribers have no room for
  // it now is held back in the engine, unwritten, and fired once they have room (polled every
  // kHeldFirePoll), up to this many per shard. Past the bound, or with no subscriber, it is
  // written to disk as before: a written fire costs ~4 more writes, and its later scan and
  // deletes, so a herd bigger than the subscribers' room costs ~20 % more CPU per fire when
  // written. A held timer stays SCHEDULED with its time-index entry, as before its fire: a
  // crash loads it again. 0: never hold.
  size_t max_held_fires_per_shard = 250'000;
  // How long an idempotency key is remembered after its create (storage/retention.h; the
  // Store's RetentionOptions::retention, which drops it from disk).
  absl::Duration retention = absl::InfiniteDuration();
};

// A create request after validation: namespace defaulted, delay resolved to fire_at.
struct CreateSpec {
  // namespace_, timer_id (empty: generate), schedule, target, payload, labels,
  // delivery_policy are taken from here; state and bookkeeping fields are ignored.
  v1::Timer timer;
  std::string idempotency_key;
  // Hash of the original request (before delay resolution), to tell a retry from a
  // different request under the same idempotency key or timer id; 0 when the request has
  // neither (its generated id cannot be retried onto).
  uint64_t request_fingerprint = 0;
};

struct CreateResult {
  v1::Timer timer;
  bool created = false;  // false: an idempotent retry returned the existing timer
};

// Per-shard figures for status and metrics.
struct ShardStats {
  int shard = 0;
  size_t heap_entries = 0;
  // Most heap entries held at once since start (never above max_heap_entries_per_shard).
  size_t heap_high_water = 0;
  int64_t window_end_us = 0;
  // The heap's earliest entry (possibly stale: cancelled), and where the next window load
  // resumes: time-index entries up to it are in the heap or fired (nullopt: none loaded yet).
  // So the earliest not-yet-fired timer is the heap's or the first entry after the cursor;
  // entries before the cursor that are not in the heap may be fires still out unwritten.
  // Fires held back for room (EngineOptions::max_held_fires_per_shard) count as in the heap.
  std::optional<storage::DueEntry> heap_top;
  std::optional<storage::DueEntry> load_cursor;
  uint64_t fired_total = 0;
  size_t held_fires = 0;  // due, waiting for their subscribers' room
  // Loaded timers queued for warming, and warming transactions submitted since start.
  size_t timers_to_warm = 0;
  uint64_t warm_transactions = 0;
  // Times the dispatcher read its memory back after an idle spell (touch_after_idle).
  uint64_t touches = 0;
  // Times the heap, all due by its next fire, was sorted into a run (TimerHeap).
  uint64_t heap_sorted_runs = 0;
  // Lateness of the last fire batch: dispatch time - due time.
  absl::Duration last_dispatch_lateness;
};

class Engine {
 public:
  // Starts one dispatcher per shard. Recovery is lazy: each shard loads only its first window.
  static absl::StatusOr<std::unique_ptr<Engine>> Start(storage::Store* store,
                                                       const EngineOptions& options,
                                                       FireListener* listener);
  ~Engine();  // stops the dispatchers; pending work stays on disk

  // `done` gets the timer (ALREADY_EXISTS for a taken id or an idempotency key reused by a
  // different request; INVALID_ARGUMENT never: the spec is validated by the caller). Without
  // an idempotency key, the calling thread may write and sync the timer itself and run `done`
  // (and the dones of creates queued meanwhile) before Create returns: call it from the
  // thread that serves the request, holding no lock a done takes.
  void Create(CreateSpec spec, std::function<void(absl::StatusOr<CreateResult>)> done);
  // Creates each spec as Create would and gives `done` their outcomes, in spec order, once all
  // are known. The timers are written with one transaction per shard, so a batch costs a few
  // submissions rather than one per timer: generated ids (no idempotency key) in one step;
  // idempotency keys claimed in their keys' shards first, then their timers inserted; chosen ids
  // read and inserted in their shards. A create that fails alone fails alone, as in Create.
  // `done` runs on a shard thread, or on the calling thread if no spec reached storage.
  void CreateMany(std::vector<CreateSpec> specs,
                  std::function<void(std::vector<absl::StatusOr<CreateResult>>)> done);
  // NOT_FOUND for an unknown timer; FAILED_PRECONDITION if it already fired or was cancelled.
  void Cancel(std::string ns, std::string timer_id,
              std::function<void(absl::StatusOr<v1::Timer>)> done);

  // Recurring schedules (see schedule_change.h). NOT_FOUND for an unknown timer;
  // FAILED_PRECONDITION from a state that does not allow the change.
  void Pause(std::string ns, std::string timer_id,
             std::function<void(absl::StatusOr<v1::Timer>)> done);
  void Resume(std::string ns, std::string timer_id,
              std::function<void(absl::StatusOr<v1::Timer>)> done);
  // `update` is validated (interval start defaulted).
  void Update(v1::UpdateTimerRequest update, std::function<void(absl::StatusOr<v1::Timer>)> done);

  absl::StatusOr<v1::Timer> Get(absl::string_view ns, absl::string_view timer_id) const;
  // Filters by topic and state; pages in timer_id order across shards. The page token is
  // opaque to clients.
  absl::StatusOr<v1::ListTimersResponse> List(const v1::ListTimersRequest& request) const;

  std::vector<ShardStats> Stats() const;
  Clock* clock() const;
  storage::Store* store() const;

 private:
  class Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Marks the timer of a dead-lettered fire DEAD_LETTERED (a one-shot timer, or a recurring one
// whose schedule ended with this fire), inside the caller's transaction, so the delivery
// record and the timer change in one write. A missing timer (e.g. purged) is not an error.
// An acked fire needs no such call: its timer stays FIRED in storage and readers see it
// COMPLETED once its last fire is no longer pending (ResolveCompletion).
absl::Status RecordDeadLettered(storage::ShardTxn& txn, absl::string_view ns,
                                absl::string_view fire_id);

// For a fire handed over unwritten (DeliveryRecord.unwritten, EngineOptions::
// defer_fire_writes): writes in `txn` what its fire transaction left out, the timer FIRED as
// firing then would have left it and its time-index entry removed; with `pending`, also the
// pending delivery `record` (stored without `unwritten`, its queue entry with a copy). False,
// writing nothing, when the timer no longer waits for this fire: cancelled or deleted first,
// or fired through another heap entry (then a stored delivery of it may exist).
absl::StatusOr<bool> WriteUnwrittenFire(storage::ShardTxn& txn,
                                        const internal::DeliveryRecord& record, bool pending);

// What the ack of a fire handed over unwritten needs of its delivery record to write the
// timer's end: an ack keeps these instead of a copy of the whole record (payload, labels).
struct UnwrittenFireFacts {
  int64_t due_us = 0;
  uint64_t timer_version = 0;
  google::protobuf::Timestamp fire_time;
};
UnwrittenFireFacts FactsOfUnwrittenFire(const internal::DeliveryRecord& record);
// WriteUnwrittenFire without `pending`, from those facts: the ack's write.
absl::StatusOr<bool> WriteAckedUnwrittenFire(storage::ShardTxn& txn, absl::string_view ns,
                                             absl::string_view fire_id,
                                             const UnwrittenFireFacts& facts);

// Turns a stored FIRED into COMPLETED when the timer's last fire is no longer pending: what
// API reads and state checks must do with every timer record they read. In a transaction, or
// on committed data (then re-reading the timer to tell an ack from a dead letter that
// happened between the two reads).
absl::Status ResolveCompletion(storage::ShardTxn& txn, internal::TimerRecord& record);
absl::Status ResolveCompletion(const storage::ShardStore& shard, internal::TimerRecord& record);

// Builds a fire_id from a timer id and the occurrence number; the inverse finds the timer,
// so an ack can be routed to the timer's shard from the fire_id alone.
std::string MakeFireId(absl::string_view timer_id, uint64_t occurrence);
// Returns false when `fire_id` was not made by MakeFireId.
bool ParseFireId(absl::string_view fire_id, std::string* timer_id, uint64_t* occurrence);
// The same with a view of the timer id in `fire_id`: no copy.
bool ParseFireId(absl::string_view fire_id, absl::string_view* timer_id, uint64_t* occurrence);

}  // namespace chime::engine

#endif  // CHIME_SERVER_ENGINE_ENGINE_H_
