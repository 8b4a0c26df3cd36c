// Delivers fires to the streaming subscribers of each (namespace, topic), at least once.
//
// A topic is a work queue: its subscribers compete, each fire goes to one of them at a time.
// Per topic the manager keeps, in memory, a bounded ready queue and the fires in flight (sent,
// not yet acked, each with an ack deadline). Fires that do not fit — or arrive for a topic
// nobody subscribes to — are not kept: pending deliveries are durable in the shards, so the
// topic is marked "backlog on disk" and the ready queue is refilled later with
// ShardStore::ScanQueue. After a restart everything pending is on disk, so a topic's first
// subscriber always triggers a scan. Memory is bounded by the ready queues plus the
// subscribers' flow-control windows, not by the number of pending fires.
//
// Sending: a subscriber has credit = max_outstanding - outstanding. Ready fires go to
// subscribers with credit in round-robin order (a share of the ready fires at a time, so
// fires due together travel in one message) with attempt + 1 and ack deadline = now +
// the policy's ack deadline (the policy travels with the fire, DeliveryRecord.policy); the
// attempt and visible_at_us = deadline are persisted with an asynchronous, lazily synced
// transaction (if that write is lost in a crash the fire is only visible earlier and counts
// one attempt less, which at-least-once permits). That write is held for up to
// DeliveryOptions::attempt_record_hold and dropped if the ack comes first; any other write
// about a fire of the shard (nack, release, backoff, dead letter) writes the held ones first.
// A fire whose deadline passes, or whose subscriber disconnects, goes back to the ready queue
// for any subscriber.
//
// Fires handed over unwritten (DeliveryRecord.unwritten, engine::EngineOptions::
// defer_fire_writes) are stored nowhere yet: their timers wait, SCHEDULED, in the time index.
// The ack of such a fire writes the timer's end (engine::WriteUnwrittenFire), two writes in
// place of a fire's four and an ack's two. Whatever else happens to it first writes the fire
// as it stands (an ordered transaction): a send unacked for the attempt record's hold, a nack,
// a backoff or dead letter, no room in memory, or its topic's last subscriber leaving.
//
// Acks: one transaction per shard deletes the pending deliveries (their timers read as
// COMPLETED from then on, engine::ResolveCompletion); the ACKED/UNKNOWN outcome is sent after
// it is durable.
//
// Threads: one delivery thread does all storage reads (queue scans, policies of older records),
// assignment to subscribers and deadline expiry, waiting on the injected clock. OnFires,
// Subscribe, Ack and transaction callbacks only update state under a short lock and wake it,
// so neither gRPC reactors nor the engine's writer threads ever wait for I/O.
//
// Thread-safe.
#ifndef CHIME_SERVER_DELIVERY_DELIVERY_MANAGER_H_
#define CHIME_SERVER_DELIVERY_DELIVERY_MANAGER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chime/internal/storage.pb.h"
#include "chime/v1/timer.pb.h"
#include "common/clock.h"
#include "metrics/registry.h"
#include "server/delivery/delivery_metrics.h"
#include "server/delivery/sink.h"
#include "server/engine/engine.h"
#include "storage/store.h"

namespace chime::delivery {

struct DeliveryOptions {
  Clock* clock = Clock::Real();
  // Used when a timer's delivery policy leaves ack_deadline unset (the engine's default).
  absl::Duration default_ack_deadline = absl::Seconds(30);
  // Used when a timer's policy leaves them unset: attempts before a fire is dead-lettered,
  // and the bounds of the exponential, fully jittered backoff before a redelivery.
  uint32_t default_max_attempts = 5;
  absl::Duration default_min_backoff = absl::Seconds(1);
  absl::Duration default_max_backoff = absl::Minutes(5);
  // Most fires held ready (not in flight) in memory per topic; the rest wait on disk. Fires
  // handed over unwritten may go past it, up to twice it (OnFires).
  size_t max_ready_per_topic = 10'000;
  // Most pending deliveries read from one shard per queue scan.
  size_t scan_batch = 512;
  // How long a send's attempt record (attempt, ack deadline) may wait before it is written.
  // Most fires are acked sooner, and then the record is never written: the ack deletes the
  // delivery anyway. The record is lazy (see the class comment), so holding it only widens
  // what a crash may forget. Zero writes every one.
  absl::Duration attempt_record_hold = absl::Seconds(1);
  // Where delivery metrics are registered; nullptr for none. Must outlive the manager.
  metrics::Registry* metrics = nullptr;
};

using SubscriberId = uint64_t;

// Webhook attempts (fires with a DeliveryRecord.webhook) get an ack deadline of at least
// this, so a request still in flight is never sent a second time: its timeout (default
// kDefaultWebhookTimeout) plus a margin for waiting on a per-host connection slot.
inline constexpr absl::Duration kDefaultWebhookTimeout = absl::Seconds(10);
absl::Duration WebhookAckDeadline(const v1::WebhookTarget& target);

// Figures for status output and tests.
struct TopicStats {
  size_t subscribers = 0;
  size_t ready = 0;  // in memory, waiting for a subscriber (or for their due time)
  size_t in_flight = 0;
  bool backlog_on_disk = false;
};

class DeliveryManager : public engine::FireListener {
 public:
  // Starts the delivery thread. `store` must outlive the manager.
  DeliveryManager(storage::Store* store, DeliveryOptions options);
  ~DeliveryManager() override;  // Stop()

  // engine::FireListener: called on a shard writer thread; only queues and wakes.
  void OnFires(int shard, std::vector<internal::DeliveryRecord> fires) override;
  // Room left in the topic's ready queue, 0 when nobody subscribes or its backlog is on disk:
  // OnFires keeps that many fires in memory, if nothing else arrives first.
  size_t MemoryRoom(const std::string& ns, const std::string& topic) override;
  // Whether the topic has a subscriber now and no backlog on disk.
  bool RoomWillFree(const std::string& ns, const std::string& topic) override;
  // Its fire time while the fire, handed over unwritten, is in memory or its write has not
  // landed yet.
  std::optional<google::protobuf::Timestamp> UnwrittenFireTime(const std::string& ns,
                                                               const std::string& topic,
                                                               const std::string& fire_id) override;

  // Registers a subscriber of (ns, topic) that holds at most `max_outstanding` unacked
  // fires. UNAVAILABLE after CloseAll(). Arguments are validated by the caller.
  absl::StatusOr<SubscriberId> Subscribe(const std::string& ns, const std::string& topic,
                                         uint32_t max_outstanding,
                                         std::shared_ptr<SubscriberSink> sink);
  // Its in-flight fires go back to the ready queue at once. After return the manager makes
  // no new call to the sink. Idempotent; unknown ids are ignored.
  void Unsubscribe(SubscriberId id);
  // Acks from any subscriber of the topic count. Malformed or unknown ids are answered
  // ACK_OUTCOME_UNKNOWN.
  void Ack(SubscriberId id, const std::vector<std::string>& fire_ids);
  // Puts the fires back for redelivery now, or after `delay` (they then wait on disk).
  // Answered ACK_OUTCOME_NACKED (or UNKNOWN) once durable.
  void Nack(SubscriberId id, const std::vector<std::string>& fire_ids,
            std::optional<absl::Duration> delay);

  // For internal consumers that decide the outcome themselves (the webhook dispatcher), with
  // the reason kept in the record: redeliver after `delay` (a nack), or dead-letter now.
  // Not answered to the sink.
  void Retry(SubscriberId id, const std::string& fire_id, absl::Duration delay,
             const std::string& error);
  void DeadLetter(SubscriberId id, const std::string& fire_id, const std::string& error);
  // The retry policy of a timer with `policy`, server defaults filling unset fields: the
  // attempts a fire gets, and the (jittered) backoff after `attempt` attempts.
  uint32_t MaxAttempts(const v1::DeliveryPolicy& policy) const;
  absl::Duration Backoff(const v1::DeliveryPolicy& policy, uint32_t attempt);
  // Called (outside the lock, on the caller's thread of OnFires/ReplayDeadLetter) with the
  // namespace of a fire for an internal topic ("$..."; engine::kWebhookTopic) that nobody
  // subscribes to yet; the fire waits on disk until someone does. Must not block.
  void SetUnclaimedInternalTopicHook(
      std::function<void(const std::string& ns, const std::string& topic)> hook);

  // Dead letters. These read or write storage and wait: call them off gRPC threads (the
  // read pool). The namespace defaults like the other RPCs; fire ids are checked here.
  absl::StatusOr<v1::ListDeadLettersResponse> ListDeadLetters(
      const v1::ListDeadLettersRequest& request) const;
  // Back to the pending deliveries (attempt 0, visible now, its timer FIRED again) and
  // handed to the topic's subscribers. NOT_FOUND when not a dead letter.
  absl::StatusOr<v1::DeadLetter> ReplayDeadLetter(const std::string& ns,
                                                  const std::string& fire_id);
  absl::StatusOr<v1::DeadLetter> PurgeDeadLetter(const std::string& ns, const std::string& fire_id);

  // Refuses new subscribers and closes every stream with `status` (shutdown).
  void CloseAll(const absl::Status& status);
  // Stops the delivery thread and waits for the transactions it submitted. The store must
  // still be open. Idempotent.
  void Stop();

  std::optional<TopicStats> GetTopicStats(const std::string& ns, const std::string& topic) const;
  // Every topic with subscribers, keyed by (namespace, topic), for status and metrics.
  std::map<std::pair<std::string, std::string>, TopicStats> AllTopicStats() const;

 private:
  using TopicKey = std::pair<std::string, std::string>;  // (namespace, topic)

  // A fire held in memory for a subscribed topic.
  struct Entry {
    // scheduled: committed ahead of its due time (EngineOptions::fire_ahead), sent once
    // visible; settling: ack/nack being written.
    enum class State { kScheduled, kReady, kInFlight, kSettling };
    State state = State::kReady;
    int shard = 0;
    internal::DeliveryRecord record;  // fire().attempt() = attempts sent so far
    v1::DeliveryPolicy policy;        // from the timer record
    SubscriberId owner = 0;           // while in flight
    absl::Time deadline;              // while in flight
    // Handed over unwritten (record.unwritten, engine::EngineOptions::defer_fire_writes) and
    // no write of it queued yet: its ack writes the timer's end, anything that takes it out
    // of memory or changes its stored record writes it first (WriteUnwrittenEntryLocked).
    bool unwritten = false;
  };

  struct Subscriber {
    TopicKey topic;
    uint32_t max_outstanding = 0;
    uint32_t outstanding = 0;
    std::shared_ptr<SubscriberSink> sink;
    bool wire_fires = false;  // sink->TakesWireFires()
  };

  // Fires that reached the manager but have no policy loaded yet.
  struct Incoming {
    int shard = 0;
    internal::DeliveryRecord record;
  };

  // Fire ids by a time, looked up by (time, view): no copy of the id to find one.
  struct TimedFireIdLess {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return std::pair<absl::Time, absl::string_view>(a.first, a.second) <
             std::pair<absl::Time, absl::string_view>(b.first, b.second);
    }
  };
  using TimedFireIds = std::set<std::pair<absl::Time, std::string>, TimedFireIdLess>;
  // Removes (time, fire_id) if there.
  static void EraseTimed(TimedFireIds& ids, absl::Time time, absl::string_view fire_id) {
    auto it = ids.find(std::pair<absl::Time, absl::string_view>(time, fire_id));
    if (it != ids.end()) ids.erase(it);
  }

  // One send of a fire in flight, by its ack deadline.
  struct Deadline {
    absl::Time at;
    std::string fire_id;
    uint32_t attempt = 0;
  };
  // Orders a std heap of Deadlines soonest first.
  struct DeadlineLater {
    bool operator()(const Deadline& a, const Deadline& b) const { return a.at > b.at; }
  };

  struct UnwrittenSend {
    absl::Time sent;
    std::string fire_id;
    uint32_t attempt = 0;  // the send's: a later send of the fire has its own item
  };

  struct Topic {
    std::vector<SubscriberId> subscribers;  // round-robin order
    size_t next_subscriber = 0;
    absl::flat_hash_map<std::string, Entry> entries;  // by fire_id
    std::deque<std::string> ready;                    // fire ids in state kReady, FIFO
    // Sends in flight, a heap by deadline (DeadlineLater). An ack or a release leaves its
    // send's item, to be skipped when it comes up (ExpireLocked) or dropped when such items
    // outnumber the fires in memory: the search and erase in an ordered set per ack cost
    // ~1.5% of a 1M herd's CPU, mostly comparing fire ids that share a deadline.
    std::vector<Deadline> deadlines;
    TimedFireIds scheduled;  // by visibility, kScheduled
    std::vector<Incoming> incoming;
    // Pending deliveries may exist on disk that are not in `entries`.
    bool backlog_on_disk = true;
    // Per shard, where the next refill resumes (none: at the topic's first key), so draining
    // a backlog does not step over the tombstones of every fire acked so far on each refill.
    // Each fire of the topic pending on disk and not in memory sits after it: a fire put back
    // on disk at or before it resets it (MarkBacklogLocked).
    absl::flat_hash_map<int, storage::QueueCursor> scan_after;
    // While a load job runs: per shard, the lowest queue position a fire was put back on disk
    // at, so the job's new cursors are taken only where they stay before it.
    absl::flat_hash_map<int, int64_t> returned_while_loading;
    // Bumped whenever backlog_on_disk is set, so a scan that raced with it does not clear it.
    uint64_t disk_generation = 0;
    // When a fire on disk becomes visible next (a nack delay, a persisted deadline).
    absl::Time next_disk_visible = absl::InfinitePast();
    // A load job (scan or policy reads) for this topic is running outside the lock. Fires
    // settled meanwhile are remembered so the job's (older) copies are not merged back in.
    bool loading = false;
    absl::flat_hash_set<std::string> settled_while_loading;
    // Distinguishes this incarnation from a later one under the same key.
    uint64_t incarnation = 0;
    // Sends of unwritten fires, oldest first: one still in flight unacked after
    // DeliveryOptions::attempt_record_hold is written as it stands (WriteOverdueUnwrittenLocked).
    // An ack leaves its item here, to be skipped: cheaper than finding and erasing it.
    std::deque<UnwrittenSend> unwritten_sends;
  };

  // Work the delivery thread does outside the lock for one topic.
  struct LoadJob;
  // A write of one fire's delivery record, done outside the lock.
  struct RecordUpdate {
    std::string ns;
    std::string fire_id;
    uint32_t attempt = 0;
    int64_t visible_at_us = 0;
    // Set for a send: the fire's new ack deadline. Unset for a release: only lower
    // visible_at, and only if the stored attempt is still `attempt`.
    std::optional<google::protobuf::Timestamp> ack_deadline;
    // With no ack_deadline: set visible_at even if later (a backoff), if the attempt matches.
    bool delay = false;
  };
  using ShardUpdates = std::map<int, std::vector<RecordUpdate>>;
  // One send to a sink: its fires as messages, or serialized if it takes them so.
  struct SinkCall {
    std::shared_ptr<SubscriberSink> sink;
    std::vector<v1::Fire> fires;
    std::vector<std::string> wire_fires;
  };

  void Run();
  bool WorkOrStop() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return work_ || stopping_; }
  absl::Time NextWakeLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One pass of the delivery thread. Releases mu_ around storage reads and sink calls.
  void RunOnceLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ExpireLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The attempt in flight for `fire_id` passed its deadline.
  void AttemptExpiredLocked(const TopicKey& key, Topic& topic, const std::string& fire_id,
                            Entry& entry, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves the fire (sent `entry.record.fire().attempt()` times) to the dead letters with
  // `error`, in one transaction that also ends the timer's delivery; drops the entry.
  void DeadLetterLocked(const TopicKey& key, Topic& topic, const std::string& fire_id, Entry& entry,
                        const std::string& error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The effective retry policy of an entry (its timer's, else the server defaults).
  uint32_t MaxAttempts(const Entry& entry) const;
  // Backoff before attempt `attempt` + 1: exponential from the minimum, full jitter, capped.
  absl::Duration BackoffLocked(const Entry& entry, uint32_t attempt)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Duration PolicyBackoffLocked(const v1::DeliveryPolicy& policy, uint32_t attempt)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<LoadJob> CollectLoadJobsLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RunLoadJob(LoadJob& job, int64_t now_us) ABSL_LOCKS_EXCLUDED(mu_);
  // Which of the fires a load job scanned are in memory already (or handed over with the
  // job). Looked up per scanned batch, not copied into each job: a topic holds up to
  // max_ready_per_topic fires and those in flight, and a backlog is refilled often.
  std::vector<bool> InMemory(const LoadJob& job,
                             const std::vector<internal::DeliveryRecord>& scanned)
      ABSL_LOCKS_EXCLUDED(mu_);
  void MergeLoadJobLocked(LoadJob& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // How many more fires OnFires would keep in memory for `topic`.
  // Fires of the topic in memory, not in flight: ready, scheduled or being loaded.
  size_t InMemoryLocked(const Topic& topic) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  size_t MemoryRoomLocked(const Topic& topic) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Puts a fire not yet in memory into `topic`: ready, or scheduled for its visibility if
  // the engine fired it ahead of time (EngineOptions::fire_ahead). One in memory already is
  // left as it is.
  void AddEntryLocked(Topic& topic, int shard, internal::DeliveryRecord record,
                      v1::DeliveryPolicy policy, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Scheduled fires whose time has come join the ready queue.
  void ReleaseScheduledLocked(Topic& topic, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DispatchLocked(const TopicKey& key, Topic& topic, absl::Time now,
                      std::vector<SinkCall>* calls, ShardUpdates* updates)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Where a fire not (or no longer) in memory sits on disk: its shard and its stored
  // visible_at, the queue position scans see it at (kUnknownPosition if not known).
  static constexpr int64_t kUnknownPosition = INT64_MIN;
  struct OnDisk {
    int shard = 0;
    int64_t stored_visible_at_us = kUnknownPosition;
  };
  // Records that pending fires of `topic` are on disk only, visible from `visible_at`; with
  // `fire`, that this fire is one of them (it may lie before the shard's scan cursor).
  void MarkBacklogLocked(Topic& topic, absl::Time visible_at = absl::InfinitePast(),
                         std::optional<OnDisk> fire = std::nullopt)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Fires of the topic in flight (sent, not settled, deadline not passed).
  size_t InFlightLocked(const Topic& topic) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether `deadline` is that of the send of its fire still in flight (not acked, released,
  // expired or sent again since).
  static bool DeadlineLive(const Topic& topic, const Deadline& deadline);
  // Drops the topic's deadline items of sends no longer in flight, if they are many.
  static void DropStaleDeadlines(Topic& topic);
  // Free places in the windows of the topic's subscribers.
  size_t CreditLocked(const Topic& topic) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether the ready queue should be refilled from disk.
  bool WantsScanLocked(const Topic& topic) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes `fire_id` (of `shard`) out of the ready queue or out of flight (freeing its owner's
  // credit); a fire not in memory gets a placeholder entry while it settles.
  void SettleLocked(Topic& topic, int shard, const std::string& fire_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The same for a fire in memory, its `entry` found already.
  void SettleEntryLocked(Topic& topic, Entry& entry, const std::string& fire_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes the subscriber; its in-flight fires become ready and are added to `releases`.
  std::shared_ptr<SubscriberSink> RemoveSubscriberLocked(SubscriberId id, ShardUpdates* releases)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Subscriber* FindSubscriberLocked(SubscriberId id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Topic* FindTopicLocked(const TopicKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Writes of delivery records whose relative order matters (a send's attempt and deadline,
  // a release, a nack) are queued here in the order they are decided and submitted by the
  // delivery thread alone, so a later decision never lands before an earlier one.
  struct OrderedTxn {
    int shard = 0;
    storage::TxnFn fn;
    storage::TxnDone done;
    storage::ShardStore::Sync sync = storage::ShardStore::Sync::kDurable;
  };
  // Queues the write of a fire handed over unwritten (engine::WriteUnwrittenFire): `record`
  // as it is to be stored, policy included. Ordered, so that scans and later writes about the
  // fire come after it. If the timer no longer waits for it, the fire leaves memory.
  void QueueFireWriteLocked(int shard, const TopicKey& key, internal::DeliveryRecord record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The same for an entry still unwritten, as it stands now; nothing for others.
  void WriteUnwrittenEntryLocked(const TopicKey& key, Entry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues the record updates, one transaction per shard. A shard's updates that are all
  // sends are held (DeliveryOptions::attempt_record_hold); others write the held ones first.
  void QueueUpdatesLocked(ShardUpdates updates) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues one ordered, lazily synced transaction writing `updates` of `shard`.
  void QueueUpdateTxnLocked(int shard, std::vector<RecordUpdate> updates)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues the held sends of `shard` ahead of whatever is queued next.
  void ReleaseHeldSendsLocked(int shard) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The same for every shard whose oldest held send has waited the hold (all, if stopping).
  void ReleaseDueHeldSendsLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes each unwritten fire still in flight in the attempt sent at least the hold ago
  // (all, if stopping), as it stands: its attempt is then on disk like a held send's.
  void WriteOverdueUnwrittenLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets the held send of a fire of `shard` (none held: nothing).
  void DropHeldSendLocked(int shard, const std::string& ns, const std::string& fire_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Submits what is queued. Delivery thread only (and Stop after joining it).
  void FlushOrdered() ABSL_LOCKS_EXCLUDED(mu_);
  // Submits with pending_txns_ accounting. Not under mu_: the store may run `done` inline.
  void SubmitTracked(int shard, storage::TxnFn fn, storage::TxnDone done,
                     storage::ShardStore::Sync sync = storage::ShardStore::Sync::kDurable)
      ABSL_LOCKS_EXCLUDED(mu_);
  enum class Settle { kAck, kNack, kDeadLetter };
  // `error` is the recorded reason of a nack or dead letter ("" for a subscriber's nack).
  void SettleFires(SubscriberId id, const std::vector<std::string>& fire_ids, Settle kind,
                   absl::Duration nack_delay, const std::string& error = "")
      ABSL_LOCKS_EXCLUDED(mu_);
  // `results` is parallel to `fire_ids` when `status` is OK.
  void FinishSettle(const TopicKey& key, uint64_t incarnation, SubscriberId id, Settle kind,
                    absl::Duration nack_delay, absl::Time nack_visible, const absl::Status& status,
                    const std::vector<std::string>& fire_ids, std::vector<v1::AckResult> results)
      ABSL_LOCKS_EXCLUDED(mu_);
  void TxnStarted() ABSL_LOCKS_EXCLUDED(mu_);
  void TxnFinished() ABSL_LOCKS_EXCLUDED(mu_);

  storage::Store* const store_;
  const DeliveryOptions options_;
  Clock* const clock_;
  const DeliveryMetrics metrics_;

  mutable absl::Mutex mu_;
  std::map<TopicKey, Topic> topics_ ABSL_GUARDED_BY(mu_);  // only topics with subscribers
  absl::flat_hash_map<SubscriberId, Subscriber> subscribers_ ABSL_GUARDED_BY(mu_);
  SubscriberId next_subscriber_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_incarnation_ ABSL_GUARDED_BY(mu_) = 1;
  bool work_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int pending_txns_ ABSL_GUARDED_BY(mu_) = 0;
  // Ordered writes submitted and not yet done. A queue scan waits for zero first, so it
  // never reads a fire's record older than a decision already taken about it (a scan
  // that read the attempt before its send was written would send that attempt again).
  int ordered_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<OrderedTxn> ordered_ ABSL_GUARDED_BY(mu_);
  // Send updates not yet queued, per shard, by (namespace, fire_id); the latest send wins.
  // Hashed, and looked up by views: an ack drops its fire's held send, so each fire paid a
  // search of an ordered map of every send held and two key copies.
  using NsFireId = std::pair<absl::string_view, absl::string_view>;
  struct NsFireIdHash {
    using is_transparent = void;
    size_t operator()(NsFireId key) const { return absl::Hash<NsFireId>()(key); }
  };
  struct NsFireIdEq {
    using is_transparent = void;
    bool operator()(NsFireId a, NsFireId b) const { return a == b; }
  };
  struct HeldSends {
    absl::Time since;  // when the oldest was held
    absl::flat_hash_map<std::pair<std::string, std::string>, RecordUpdate, NsFireIdHash, NsFireIdEq>
        updates;
  };
  std::map<int, HeldSends> held_sends_ ABSL_GUARDED_BY(mu_);
  // Fires handed over unwritten whose write is queued or under way, by (namespace, fire_id):
  // their fire time, and how many writes of each. The entry may leave memory before the write
  // lands (the topic's last subscriber left, or the fire went to wait on disk), and until
  // then the stored timer still reads SCHEDULED: UnwrittenFireTime answers from here.
  struct FireBeingWritten {
    google::protobuf::Timestamp fire_time;
    int writes = 0;
  };
  absl::flat_hash_map<std::pair<std::string, std::string>, FireBeingWritten, NsFireIdHash,
                      NsFireIdEq>
      fires_being_written_ ABSL_GUARDED_BY(mu_);
  absl::BitGen bitgen_ ABSL_GUARDED_BY(mu_);  // backoff jitter
  std::function<void(const std::string&, const std::string&)> internal_topic_hook_
      ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace chime::delivery

#endif  // CHIME_SERVER_DELIVERY_DELIVERY_MANAGER_H_
