// One shard of the engine: the window over the shard's time index, the heap of timers due
// inside it, and the dispatcher thread that fires them.
//
// Window. `cursor_` marks how far the time index has been read into memory: every index
// entry at or before it (in (due, ns, id) order) is in the heap, being fired, or already
// gone. A load reads the entries after the cursor up to now + window, at most as many as the
// heap has room for; when that limit cuts the load short the cursor stops at the last entry
// read, so memory is bounded by max_heap_entries, not by the number of pending timers. A
// timer committed at or before the cursor (by key) is pushed by OnScheduled; when the heap is
// full, the later of it and the heap's latest entry is left on disk and the cursor moves back
// to the heap's (new) latest entry, so a later load reads the one left out again, and only it.
// A load can read a timer before its commit callback runs (a durable write is visible before
// its sync): the callback then must not push it again, as a second entry would fire the timer
// twice when its fire is handed over unwritten (the record reads SCHEDULED until the ack).
// Each load's snapshot sequence and each write's (ShardTxn::WrittenAfterSequence) tell which
// loads saw which writes. A timer twice in one fire batch (e.g. a retried batch) fires once.
//
// Dispatch. The thread waits on the injected clock for the earliest due time less half of
// EngineOptions::fire_ahead (or the next load), re-reads the wall clock on every wake, pops
// what is due by now + fire_ahead and submits one fire transaction per batch without waiting
// for it, up to kMaxFiresInFlight transactions, so a slow disk backs up into the heap and not
// into memory. Waking at half the lead makes each wake take half a lead's worth of due times:
// timers due close together share a wake-up and a transaction instead of one each.
// Committed fires go to the listener; a failed batch goes back into the heap and is retried
// after a short backoff.
//
// Warming. A load reads only the time index; the timers' records stay in RocksDB, where a herd
// of fires would read them all at its due time. So the thread also hands the loaded entries,
// a batch at a time, to warming transactions that read their records into the writer's
// memory ahead of time (ShardTxn::WarmTimers), after fires and loads, and one at a time
// (unless EngineOptions::warm_loaded_timers is off: the store keeps no records).
//
// Touch after idle. On a VM whose host lets an idle process's memory go cold, the first pops
// and record lookups after a pause of seconds were slow: the first fires of a burst came
// 30-45 ms late. So after EngineOptions::touch_after_idle without a fire or load, the thread
// wakes kTouchLead before the next fire, reads its heap's arrays and submits a warming
// transaction for the first kTouchFires timers (the writer's lookups bring their kept records
// back). Once per idle spell; a busy shard never does it.
//
// Held fires. A due one-shot fire whose topic's subscribers have no room for it is not fired
// but held, by topic, in memory (EngineOptions::max_held_fires_per_shard): the transaction
// that read it writes nothing for it and keeps its record hot. Every kHeldFirePoll the thread asks
// the listener for each held topic's room and fires that many; a topic that lost its
// subscribers has its held fires fired at once, to disk. A held entry is out of the heap but
// behind the cursor, so loads do not read it again.
//
// Thread-safe.
#ifndef CHIME_SERVER_ENGINE_SHARD_ENGINE_H_
#define CHIME_SERVER_ENGINE_SHARD_ENGINE_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/engine/engine.h"
#include "server/engine/timer_heap.h"
#include "storage/shard_store.h"

namespace chime::engine {

class ShardEngine {
 public:
  static constexpr int kMaxFiresInFlight = 4;
  // Wait before retrying a failed fire transaction or time-index scan.
  static constexpr absl::Duration kRetryBackoff = absl::Milliseconds(200);
  // Loaded timers warmed per transaction: their read (one MultiGet) takes the writer well
  // under a millisecond, so fires queued behind it wait little.
  static constexpr size_t kWarmBatch = 256;
  // Not warmed if due sooner than this past the fire horizon: their fires read them first.
  static constexpr absl::Duration kWarmLead = absl::Milliseconds(100);
  // After an idle spell (EngineOptions::touch_after_idle), this long before the next fire the
  // thread reads its heap and has the writer look up the first kTouchFires timers' records.
  static constexpr absl::Duration kTouchLead = absl::Milliseconds(100);
  static constexpr size_t kTouchFires = 512;

  // `shard_count`: how many shards share the listener's room for a topic.
  ShardEngine(int index, int shard_count, storage::ShardStore* store, const EngineOptions& options,
              FireListener* listener);
  ShardEngine(const ShardEngine&) = delete;
  ShardEngine& operator=(const ShardEngine&) = delete;
  ~ShardEngine();  // Stop()

  // Starts the dispatcher; its first pass loads the first window.
  void Start();
  // Stops the dispatcher and waits for the fire transactions in flight to finish (the
  // shard's writer completes them). Idempotent.
  void Stop();

  // A timer's time-index entry was committed, by a transaction whose
  // ShardTxn::WrittenAfterSequence was `written_after`: keeps it in the heap if the window
  // covers it and no load read it. Called from the dones of durable transactions (creates,
  // changes), in submission order; does not block on I/O.
  void OnScheduled(HeapEntry entry, uint64_t written_after);
  // The same for several entries of one transaction, under one lock.
  void OnScheduledMany(std::vector<HeapEntry> entries, uint64_t written_after);

  ShardStats Stats() const;
  int index() const { return index_; }

 private:
  struct FireBatch;

  void Run();
  bool WakeupOrStop() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return wakeup_ || stop_; }
  bool NothingInFlight() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return fires_in_flight_ == 0 && !warming_;
  }
  bool NeedsLoadLocked(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reads the next part of the window from the time index; releases mu_ during the scan.
  void LoadLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Due entries up to this instant may be fired now (now + fire_ahead).
  int64_t FireHorizonUs(int64_t now_us) const;
  // The thread wakes to fire when the earliest entry is due within this (fire_ahead / 2).
  absl::Duration WakeLead() const;
  bool CanFireLocked(absl::Time now, int64_t now_us) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Pops the due batch and submits its fire transaction; releases mu_ while submitting.
  void FireDueLocked(absl::Time now, int64_t now_us) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Fires the held entries their topics have room for now (all of a topic with no subscriber
  // left); false if none. Releases mu_ while asking the listener and submitting.
  bool FireHeldLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // When the thread, idle since active_at_, reads its memory back ahead of the next fire
  // (InfiniteFuture: not now).
  absl::Time TouchAtLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void TouchLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Submits a warming transaction for `entries`; releases mu_ while submitting.
  void SubmitWarmLocked(std::shared_ptr<std::vector<storage::DueEntry>> entries)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // How many fire transactions may ask for a topic's room at once: each takes this share.
  size_t RoomDivisor() const { return static_cast<size_t>(shard_count_) * kMaxFiresInFlight; }
  // Submits `batch`'s fire transaction; releases mu_ while submitting.
  void SubmitFiresLocked(std::shared_ptr<FireBatch> batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Submits the transaction that warms the next loaded timers' records (ShardTxn::WarmTimers);
  // releases mu_ while submitting.
  void WarmLocked(int64_t now_us) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Time NextWakeLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Pushes `entry` if the window covers it; with the heap full, moves the cursor back
  // before it instead.
  void PushOrUncoverLocked(HeapEntry entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The same for an entry a transaction wrote after sequence `written_after`, unless a load
  // read it; while a load runs, one it may read waits for the load to be merged.
  void ScheduleCommittedLocked(HeapEntry entry, uint64_t written_after)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool LoadReadLocked(const HeapEntry& entry, uint64_t written_after) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Transactions written after `sequence` are all that is left to call back: loads that read
  // at or before it matter no more.
  void ForgetLoadsReadByLocked(uint64_t sequence) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t WindowEndUsLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FireDone(FireBatch* batch, absl::Status status);

  const int index_;
  const int shard_count_;
  storage::ShardStore* const store_;
  const EngineOptions options_;
  FireListener* const listener_;
  Clock* const clock_;

  mutable absl::Mutex mu_;
  TimerHeap heap_ ABSL_GUARDED_BY(mu_);
  // Last index position loaded; nullopt before the first load.
  std::optional<storage::DueEntry> cursor_ ABSL_GUARDED_BY(mu_);
  // While a scan runs without mu_: it may or may not see timers committed meanwhile. Those
  // after the cursor, up to loading_until_us_, wait in committed_while_loading_ until the scan
  // is merged; then those the new cursor covers and the scan did not see are pushed, and the
  // rest are left to later loads. (Pushed at once, they could sit past a cursor the scan had
  // to stop short of, which then skipped the unloaded timers before them, or read them twice.)
  // Those the old cursor covers are pushed at once, and retract_ records where the cursor must
  // stop if one found no room.
  struct Committed {
    HeapEntry entry;
    uint64_t written_after = 0;
  };
  bool loading_ ABSL_GUARDED_BY(mu_) = false;
  int64_t loading_until_us_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<storage::DueEntry> retract_ ABSL_GUARDED_BY(mu_);
  std::vector<Committed> committed_while_loading_ ABSL_GUARDED_BY(mu_);
  // Loads merged since the oldest transaction still to call back was written, in order: each
  // read at snapshot `read_at` and pushed every entry in (after, to] it saw (or left it past
  // the cursor for a later load). Bounded: forgetting one risks a duplicate entry, not a loss.
  struct MergedLoad {
    uint64_t read_at = 0;
    std::optional<storage::DueEntry> after;
    storage::DueEntry to;
  };
  static constexpr size_t kMaxMergedLoads = 256;
  std::deque<MergedLoad> merged_loads_ ABSL_GUARDED_BY(mu_);
  absl::Time load_retry_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time fire_retry_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int fires_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  // Loaded entries whose records are still to be read into the writer's memory, in due order.
  // One warming transaction at a time: fires and creates queue behind one at most.
  std::deque<storage::DueEntry> to_warm_ ABSL_GUARDED_BY(mu_);
  bool warming_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t warm_transactions_ ABSL_GUARDED_BY(mu_) = 0;
  // Last fire or load, and whether the memory was read back since (TouchAtLocked).
  absl::Time active_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool touched_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t touches_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t touch_sum_ ABSL_GUARDED_BY(mu_) = 0;  // keeps the reads from being optimized away
  bool wakeup_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t fired_total_ ABSL_GUARDED_BY(mu_) = 0;
  // Held fires by (namespace, topic), in the order they were held.
  absl::flat_hash_map<std::pair<std::string, std::string>, std::deque<HeapEntry>> held_
      ABSL_GUARDED_BY(mu_);
  size_t held_count_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time held_poll_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  size_t heap_high_water_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration last_lateness_ ABSL_GUARDED_BY(mu_);

  std::thread thread_;
};

}  // namespace chime::engine

#endif  // CHIME_SERVER_ENGINE_SHARD_ENGINE_H_
