#include "server/delivery/delivery_manager.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/proto_time.h"
#include "common/thread_name.h"

namespace chime::delivery {

using internal::DeliveryRecord;

namespace {

// Ready fires up to this many go to one subscriber in one pass (see DispatchLocked).
constexpr size_t kMinDispatchShare = 64;

}  // namespace

absl::Duration WebhookAckDeadline(const v1::WebhookTarget& target) {
  const absl::Duration timeout =
      target.has_timeout() ? FromProto(target.timeout()) : kDefaultWebhookTimeout;
  return timeout + absl::Seconds(10);
}

// Storage work for one topic, prepared under the lock, run without it, merged under it.
struct DeliveryManager::LoadJob {
  TopicKey key;
  uint64_t incarnation = 0;
  // Fires handed over by OnFires: only their policy is missing.
  std::vector<Incoming> incoming;
  // Whether to refill from disk, and with how many fires at most.
  bool scan = false;
  size_t room = 0;
  uint64_t disk_generation = 0;
  absl::flat_hash_set<std::string> incoming_ids;  // of `incoming`, when scanning
  // Per shard, where the scan starts (Topic::scan_after) and, if it succeeded, where the next
  // one may resume: after the last record read whose successors were all taken or known.
  absl::flat_hash_map<int, storage::QueueCursor> scan_from;
  absl::flat_hash_map<int, storage::QueueCursor> scan_to;

  // Results.
  std::vector<Incoming> loaded;              // scanned, then incoming
  std::vector<v1::DeliveryPolicy> policies;  // parallel to `loaded`
  bool more_visible = false;  // the scan stopped before the end of what is visible now
  absl::Time next_visible = absl::InfiniteFuture();
  absl::Status status;
};

DeliveryManager::DeliveryManager(storage::Store* store, DeliveryOptions options)
    : store_(store),
      options_(std::move(options)),
      clock_(options_.clock),
      metrics_(options_.metrics) {
  thread_ = std::thread([this] {
    SetCurrentThreadName("delivery");
    Run();
  });
}

DeliveryManager::~DeliveryManager() { Stop(); }

void DeliveryManager::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  {
    absl::MutexLock lock(&mu_);
    ReleaseDueHeldSendsLocked(clock_->Now());  // all of them: stopping_
    WriteOverdueUnwrittenLocked(clock_->Now());
  }
  FlushOrdered();  // releases queued by the last CloseAll/Unsubscribe, held sends
  // Transaction callbacks touch this object: wait until the last one has run.
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pending_txns_ == 0; };
  mu_.Await(absl::Condition(&idle));
}

// ---- Producers: engine, subscribers, acks. Short critical sections, then wake the thread.

void DeliveryManager::OnFires(int shard, std::vector<DeliveryRecord> fires) {
  std::set<TopicKey> unclaimed;  // internal topics with no consumer yet
  std::function<void(const std::string&, const std::string&)> hook;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    // The fires of a batch mostly share a topic: it is looked up once per run of it.
    TopicKey last_key;
    Topic* last_topic = nullptr;
    for (DeliveryRecord& record : fires) {
      const v1::Fire& fire = record.fire();
      if (fire.topic().empty()) continue;  // not a topic target
      Topic* topic = last_topic;
      if (topic == nullptr || last_key.first != fire.namespace_() ||
          last_key.second != fire.topic()) {
        last_key.first = fire.namespace_();
        last_key.second = fire.topic();
        topic = last_topic = FindTopicLocked(last_key);
      }
      if (topic == nullptr) {
        // Nobody subscribes: it waits on disk.
        if (fire.topic()[0] == '$') unclaimed.insert(last_key);
        if (record.has_unwritten()) QueueFireWriteLocked(shard, last_key, std::move(record));
        continue;
      }
      // With a backlog on disk, the next scan finds this fire in visibility order; keeping a
      // second copy in memory could deliver it twice. A fire handed over unwritten may land
      // past the room: the engine's fire transactions take their shares of it at different
      // moments. Up to twice the room it stays in memory, as sending it to disk would turn the
      // topic's whole backlog to disk for as long as fires keep coming (a 1M herd took 8.5-11 s
      // instead of ~7 in 3 of ~10 runs).
      if (topic->backlog_on_disk || InMemoryLocked(*topic) >= (record.has_unwritten() ? 2 : 1) *
                                                                  options_.max_ready_per_topic) {
        MarkBacklogLocked(*topic, absl::InfinitePast(), OnDisk{shard, record.visible_at_us()});
        // Scans wait for ordered writes, so the next one finds this fire.
        if (record.has_unwritten()) QueueFireWriteLocked(shard, last_key, std::move(record));
        continue;
      }
      if (record.has_policy()) {
        // Fresh from the engine: no load needed. A scan may have read the committed fire first
        // (then it is kept as it is).
        v1::DeliveryPolicy policy = std::move(*record.mutable_policy());
        AddEntryLocked(*topic, shard, std::move(record), std::move(policy), now);
      } else {
        topic->incoming.push_back(Incoming{shard, std::move(record)});
      }
      work_ = true;
    }
    hook = internal_topic_hook_;
  }
  if (hook) {
    for (const auto& [ns, topic] : unclaimed) hook(ns, topic);
  }
}

size_t DeliveryManager::InMemoryLocked(const Topic& topic) const {
  return topic.ready.size() + topic.incoming.size() + topic.scheduled.size();
}

size_t DeliveryManager::MemoryRoomLocked(const Topic& topic) const {
  if (topic.backlog_on_disk) return 0;
  const size_t held = InMemoryLocked(topic);
  return held < options_.max_ready_per_topic ? options_.max_ready_per_topic - held : 0;
}

size_t DeliveryManager::MemoryRoom(const std::string& ns, const std::string& topic_name) {
  absl::MutexLock lock(&mu_);
  const Topic* topic = FindTopicLocked({ns, topic_name});
  return topic != nullptr ? MemoryRoomLocked(*topic) : 0;
}

bool DeliveryManager::RoomWillFree(const std::string& ns, const std::string& topic_name) {
  absl::MutexLock lock(&mu_);
  const Topic* topic = FindTopicLocked({ns, topic_name});
  return topic != nullptr && !topic->subscribers.empty() && !topic->backlog_on_disk;
}

std::optional<google::protobuf::Timestamp> DeliveryManager::UnwrittenFireTime(
    const std::string& ns, const std::string& topic_name, const std::string& fire_id) {
  absl::MutexLock lock(&mu_);
  const Topic* topic = FindTopicLocked({ns, topic_name});
  if (topic != nullptr) {
    auto it = topic->entries.find(fire_id);
    if (it != topic->entries.end() && it->second.record.has_unwritten()) {
      return it->second.record.fire().fire_time();
    }
  }
  auto writing = fires_being_written_.find(NsFireId(ns, fire_id));
  if (writing == fires_being_written_.end()) return std::nullopt;
  return writing->second.fire_time;
}

void DeliveryManager::AddEntryLocked(Topic& topic, int shard, DeliveryRecord record,
                                     v1::DeliveryPolicy policy, absl::Time now) {
  auto [it, added] = topic.entries.try_emplace(record.fire().fire_id());
  if (!added) return;
  std::string fire_id = it->first;
  const absl::Time visible = absl::FromUnixMicros(record.visible_at_us());
  Entry& entry = it->second;
  entry.shard = shard;
  entry.policy = std::move(policy);
  entry.unwritten = record.has_unwritten();
  record.clear_policy();  // kept once, in the entry (the stored record keeps its own)
  entry.record = std::move(record);
  if (visible > now) {
    entry.state = Entry::State::kScheduled;
    topic.scheduled.insert({visible, std::move(fire_id)});
  } else {
    entry.state = Entry::State::kReady;
    topic.ready.push_back(std::move(fire_id));
  }
}

void DeliveryManager::ReleaseScheduledLocked(Topic& topic, absl::Time now) {
  while (!topic.scheduled.empty() && topic.scheduled.begin()->first <= now) {
    auto node = topic.scheduled.extract(topic.scheduled.begin());
    topic.entries[node.value().second].state = Entry::State::kReady;
    topic.ready.push_back(std::move(node.value().second));
  }
}

void DeliveryManager::SetUnclaimedInternalTopicHook(
    std::function<void(const std::string& ns, const std::string& topic)> hook) {
  absl::MutexLock lock(&mu_);
  internal_topic_hook_ = std::move(hook);
}

void DeliveryManager::Retry(SubscriberId id, const std::string& fire_id, absl::Duration delay,
                            const std::string& error) {
  SettleFires(id, {fire_id}, Settle::kNack, delay, error);
}

void DeliveryManager::DeadLetter(SubscriberId id, const std::string& fire_id,
                                 const std::string& error) {
  SettleFires(id, {fire_id}, Settle::kDeadLetter, absl::ZeroDuration(), error);
}

absl::StatusOr<SubscriberId> DeliveryManager::Subscribe(const std::string& ns,
                                                        const std::string& topic_name,
                                                        uint32_t max_outstanding,
                                                        std::shared_ptr<SubscriberSink> sink) {
  absl::MutexLock lock(&mu_);
  if (closed_) return absl::UnavailableError("server shutting down, reconnect");
  const SubscriberId id = next_subscriber_id_++;
  TopicKey key{ns, topic_name};
  auto [it, created] = topics_.try_emplace(key);
  if (created) {
    // Whatever is pending for this topic is on disk only: scan it now.
    it->second.incarnation = next_incarnation_++;
    it->second.backlog_on_disk = true;
    it->second.next_disk_visible = absl::InfinitePast();
  }
  it->second.subscribers.push_back(id);
  const bool wire_fires = sink->TakesWireFires();
  subscribers_[id] = Subscriber{std::move(key), max_outstanding, 0, std::move(sink), wire_fires};
  work_ = true;
  return id;
}

void DeliveryManager::Unsubscribe(SubscriberId id) {
  absl::MutexLock lock(&mu_);
  ShardUpdates releases;
  if (RemoveSubscriberLocked(id, &releases) == nullptr) return;
  QueueUpdatesLocked(std::move(releases));
  work_ = true;
}

void DeliveryManager::CloseAll(const absl::Status& status) {
  std::vector<std::shared_ptr<SubscriberSink>> sinks;
  ShardUpdates releases;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    std::vector<SubscriberId> ids;
    for (const auto& [id, sub] : subscribers_) ids.push_back(id);
    for (SubscriberId id : ids) sinks.push_back(RemoveSubscriberLocked(id, &releases));
    QueueUpdatesLocked(std::move(releases));
    work_ = true;
  }
  for (auto& sink : sinks) sink->Close(status);
}

void DeliveryManager::Ack(SubscriberId id, const std::vector<std::string>& fire_ids) {
  SettleFires(id, fire_ids, Settle::kAck, absl::ZeroDuration());
}

void DeliveryManager::Nack(SubscriberId id, const std::vector<std::string>& fire_ids,
                           std::optional<absl::Duration> delay) {
  SettleFires(id, fire_ids, Settle::kNack, delay.value_or(absl::ZeroDuration()));
}

std::optional<TopicStats> DeliveryManager::GetTopicStats(const std::string& ns,
                                                         const std::string& topic_name) const {
  absl::MutexLock lock(&mu_);
  auto it = topics_.find({ns, topic_name});
  if (it == topics_.end()) return std::nullopt;
  const Topic& topic = it->second;
  TopicStats stats;
  stats.subscribers = topic.subscribers.size();
  stats.ready = topic.ready.size() + topic.scheduled.size();
  stats.in_flight = InFlightLocked(topic);
  stats.backlog_on_disk = topic.backlog_on_disk;
  return stats;
}

std::map<std::pair<std::string, std::string>, TopicStats> DeliveryManager::AllTopicStats() const {
  absl::MutexLock lock(&mu_);
  std::map<std::pair<std::string, std::string>, TopicStats> all;
  for (const auto& [key, topic] : topics_) {
    TopicStats& stats = all[key];
    stats.subscribers = topic.subscribers.size();
    stats.ready = topic.ready.size() + topic.scheduled.size();
    stats.in_flight = InFlightLocked(topic);
    stats.backlog_on_disk = topic.backlog_on_disk;
  }
  return all;
}

// ---- Settling: acks and nacks.

void DeliveryManager::SettleFires(SubscriberId id, const std::vector<std::string>& fire_ids,
                                  Settle kind, absl::Duration nack_delay,
                                  const std::string& error) {
  // Route each id to its timer's shard before taking the lock; malformed ids are unknown.
  std::vector<v1::AckResult> unknown;
  std::map<int, std::vector<std::string>> by_shard;
  std::string ns;
  std::string topic_name;
  std::shared_ptr<SubscriberSink> sink;
  uint64_t incarnation = 0;
  {
    absl::MutexLock lock(&mu_);
    Subscriber* sub = FindSubscriberLocked(id);
    if (sub == nullptr) return;
    ns = sub->topic.first;
    topic_name = sub->topic.second;
    sink = sub->sink;
  }
  // Per shard, parallel to its fire ids: the facts of the acked fires still unwritten, whose
  // ack writes the timer's end instead.
  std::map<int, std::vector<std::optional<engine::UnwrittenFireFacts>>> unwritten_by_shard;
  for (const std::string& fire_id : fire_ids) {
    absl::string_view timer_id;
    uint64_t occurrence = 0;
    if (!engine::ParseFireId(fire_id, &timer_id, &occurrence)) {
      v1::AckResult& r = unknown.emplace_back();
      r.set_fire_id(fire_id);
      r.set_outcome(v1::ACK_OUTCOME_UNKNOWN);
      continue;
    }
    by_shard[store_->ShardFor(ns, timer_id)].push_back(fire_id);
  }
  {
    absl::MutexLock lock(&mu_);
    Topic* topic = FindTopicLocked({ns, topic_name});
    if (topic == nullptr) return;  // the subscriber left meanwhile
    incarnation = topic->incarnation;
    for (const auto& [shard, ids] : by_shard) {
      std::vector<std::optional<engine::UnwrittenFireFacts>>& unwritten = unwritten_by_shard[shard];
      unwritten.resize(ids.size());
      for (size_t i = 0; i < ids.size(); ++i) {
        const std::string& fire_id = ids[i];
        auto it = topic->entries.find(fire_id);
        if (it == topic->entries.end()) {
          SettleLocked(*topic, shard, fire_id);  // not in memory: a placeholder
          continue;
        }
        Entry& entry = it->second;
        if (kind == Settle::kAck && entry.record.has_unwritten()) {
          // Even if its write is queued meanwhile: the ack's transaction tells which came
          // first (engine::WriteUnwrittenFire).
          unwritten[i] = engine::FactsOfUnwrittenFire(entry.record);
        } else if (kind != Settle::kAck) {
          // A nack or dead letter changes the stored record: write it first (queued ahead).
          WriteUnwrittenEntryLocked({ns, topic_name}, entry);
        }
        // The ack deletes the delivery: a held attempt record of it need not be written. (Sends
        // of an unwritten fire hold none: WriteOverdueUnwrittenLocked skips settled fires.)
        if (kind == Settle::kAck && !entry.unwritten) DropHeldSendLocked(entry.shard, ns, fire_id);
        SettleEntryLocked(*topic, entry, fire_id);
      }
    }
    work_ = true;  // credit was freed
  }
  if (!unknown.empty()) sink->SendAckResults(std::move(unknown));

  // One instant for the stored record and the in-memory wake-up.
  const absl::Time nack_visible = clock_->Now() + nack_delay;
  const int64_t visible_us = absl::ToUnixMicros(nack_visible);
  for (auto& [shard, ids] : by_shard) {
    auto results = std::make_shared<std::vector<v1::AckResult>>();
    auto shard_ids = std::make_shared<std::vector<std::string>>(std::move(ids));
    auto unwritten = std::make_shared<std::vector<std::optional<engine::UnwrittenFireFacts>>>(
        std::move(unwritten_by_shard[shard]));
    storage::TxnFn fn = [=](storage::ShardTxn& txn) -> absl::Status {
      results->clear();
      // The timers the acks of unwritten fires end, read ahead in the order the loop reads them.
      std::vector<std::pair<absl::string_view, absl::string_view>> ahead;
      for (size_t i = 0; i < shard_ids->size(); ++i) {
        absl::string_view timer_id;
        uint64_t occurrence = 0;
        if ((*unwritten)[i].has_value() &&
            engine::ParseFireId((*shard_ids)[i], &timer_id, &occurrence)) {
          ahead.emplace_back(ns, timer_id);
        }
      }
      if (!ahead.empty()) txn.PrefetchTimers(ahead);
      for (size_t i = 0; i < shard_ids->size(); ++i) {
        const std::string& fire_id = (*shard_ids)[i];
        v1::AckResult& r = results->emplace_back();
        r.set_fire_id(fire_id);
        r.set_outcome(v1::ACK_OUTCOME_UNKNOWN);
        if (const std::optional<engine::UnwrittenFireFacts>& facts = (*unwritten)[i];
            facts.has_value()) {
          // Delivered before it was written: its end is the timer FIRED, nothing pending.
          absl::StatusOr<bool> ended = engine::WriteAckedUnwrittenFire(txn, ns, fire_id, *facts);
          if (!ended.ok()) return ended.status();
          // Otherwise written meanwhile (then deleted below like any), or its timer was
          // cancelled after the fire went out: delivered all the same.
          r.set_outcome(v1::ACK_OUTCOME_ACKED);
          if (*ended) continue;
        }
        absl::StatusOr<std::optional<DeliveryRecord>> record = txn.GetDelivery(ns, fire_id);
        if (!record.ok()) return record.status();
        // Pending on another topic of the namespace: not this subscriber's to settle.
        if (!record->has_value() || (*record)->fire().topic() != topic_name) continue;
        if (kind == Settle::kAck) {
          // The timer record stays FIRED: readers see COMPLETED once no delivery is pending.
          txn.DeleteReadDelivery(**record);
          r.set_outcome(v1::ACK_OUTCOME_ACKED);
        } else if (kind == Settle::kDeadLetter) {
          (*record)->set_last_error(error);
          txn.DeleteReadDelivery(**record);
          txn.PutDeadLetter(**record);
          if (absl::Status s = engine::RecordDeadLettered(txn, ns, fire_id); !s.ok()) {
            return s;
          }
          r.set_outcome(v1::ACK_OUTCOME_NACKED);
        } else {
          // Never sent (fire ids are predictable): nothing to nack, and moving its visibility
          // could send a fire held for its due time early.
          if ((*record)->fire().attempt() == 0) continue;
          const int64_t stored_visible_us = (*record)->visible_at_us();
          (*record)->set_visible_at_us(visible_us);
          (*record)->set_last_error(error.empty() ? "nacked" : error);
          txn.UpdateReadDelivery(**record, stored_visible_us);
          r.set_outcome(v1::ACK_OUTCOME_NACKED);
        }
      }
      return absl::OkStatus();
    };
    storage::TxnDone done = [=, this](absl::Status status) {
      FinishSettle({ns, topic_name}, incarnation, id, kind, nack_delay, nack_visible, status,
                   *shard_ids, std::move(*results));
    };
    if (kind == Settle::kAck) {
      // Acks commute with the other writes of a fire (each re-reads the record): submit now.
      // Nobody waits on an ack's result (the subscriber's credit is already back), so its
      // sync may wait for company (--ack-sync-delay): a stream of acks then syncs a few times
      // a second instead of back to back, which kept delaying the shard's fires.
      SubmitTracked(shard, std::move(fn), std::move(done), storage::ShardStore::Sync::kDeferred);
    } else {
      // A nack's visible_at must not be overtaken by an earlier attempt's write, and it
      // keeps the stored attempt count: held attempt records go first.
      absl::MutexLock lock(&mu_);
      ReleaseHeldSendsLocked(shard);
      ordered_.push_back(OrderedTxn{shard, std::move(fn), std::move(done)});
      work_ = true;
    }
  }
}

void DeliveryManager::FinishSettle(const TopicKey& key, uint64_t incarnation, SubscriberId id,
                                   Settle kind, absl::Duration nack_delay, absl::Time nack_visible,
                                   const absl::Status& status,
                                   const std::vector<std::string>& fire_ids,
                                   std::vector<v1::AckResult> results) {
  std::shared_ptr<SubscriberSink> sink;
  ShardUpdates releases;
  bool close = false;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    Topic* topic = FindTopicLocked(key);
    if (topic != nullptr && topic->incarnation == incarnation) {
      for (size_t i = 0; i < fire_ids.size(); ++i) {
        const v1::AckOutcome outcome =
            status.ok() && i < results.size() ? results[i].outcome() : v1::ACK_OUTCOME_UNKNOWN;
        auto it = topic->entries.find(fire_ids[i]);
        if (it == topic->entries.end() || it->second.state != Entry::State::kSettling) {
          if (status.ok()) metrics_.Settled(outcome, absl::InfinitePast(), now);
          continue;
        }
        Entry& entry = it->second;
        const bool has_record = entry.record.has_fire();
        if (status.ok()) {
          metrics_.Settled(
              outcome,
              has_record ? FromProto(entry.record.fire().scheduled_time()) : absl::InfinitePast(),
              now);
        }
        if (status.ok() && outcome == v1::ACK_OUTCOME_UNKNOWN && has_record) {
          // Not settled (a nack of a fire never sent): it is pending on disk as before, so
          // read it back from there at its visible time.
          const absl::Time visible = absl::FromUnixMicros(entry.record.visible_at_us());
          const OnDisk on_disk{entry.shard, entry.record.visible_at_us()};
          topic->entries.erase(it);
          MarkBacklogLocked(*topic, visible, on_disk);
          continue;
        }
        if (status.ok() && topic->loading) topic->settled_while_loading.insert(fire_ids[i]);
        if (!status.ok()) {
          // Still pending on disk, unchanged: read it back later.
          WriteUnwrittenEntryLocked(key, entry);                // unless it never got there
          const OnDisk on_disk{entry.shard, kUnknownPosition};  // the send may be written
          topic->entries.erase(it);
          MarkBacklogLocked(*topic, now + absl::Seconds(1), on_disk);
        } else if (kind == Settle::kDeadLetter) {
          topic->entries.erase(it);
          if (outcome == v1::ACK_OUTCOME_NACKED) metrics_.DeadLettered();
        } else if (outcome == v1::ACK_OUTCOME_NACKED && nack_delay <= absl::ZeroDuration() &&
                   has_record) {
          entry.state = Entry::State::kReady;
          topic->ready.push_front(fire_ids[i]);
        } else if (outcome == v1::ACK_OUTCOME_NACKED) {
          const OnDisk on_disk{entry.shard, absl::ToUnixMicros(nack_visible)};
          topic->entries.erase(it);
          MarkBacklogLocked(*topic, nack_visible, on_disk);
        } else {
          // Acked (deleted), or unknown. An unknown placeholder (a nack of a fire not in
          // memory and never sent) may still be pending on disk where a scan passed it as
          // known: let the next one look again.
          const bool placeholder_may_be_pending = outcome == v1::ACK_OUTCOME_UNKNOWN && !has_record;
          const OnDisk on_disk{entry.shard, kUnknownPosition};
          topic->entries.erase(it);
          if (placeholder_may_be_pending) MarkBacklogLocked(*topic, now, on_disk);
        }
      }
      work_ = true;
    }
    if (!status.ok()) {
      sink = RemoveSubscriberLocked(id, &releases);
      QueueUpdatesLocked(std::move(releases));
      close = true;
    } else if (Subscriber* sub = FindSubscriberLocked(id); sub != nullptr) {
      sink = sub->sink;
    }
  }
  if (!status.ok()) {
    CHIME_LOG(kError, kind == Settle::kAck ? "recording acks failed" : "recording nacks failed",
              {{"error", status.ToString()}});
  }
  if (sink == nullptr) return;
  if (close) {
    sink->Close(absl::UnavailableError(
        absl::StrCat("could not record acks (", status.message(), "); reconnect and ack again")));
  } else if (!results.empty()) {
    sink->SendAckResults(std::move(results));
  }
}

void DeliveryManager::SettleLocked(Topic& topic, int shard, const std::string& fire_id) {
  auto [it, inserted] = topic.entries.try_emplace(fire_id);
  Entry& entry = it->second;
  if (inserted) {
    // Not in memory (e.g. delivered before a restart): a placeholder keeps a concurrent
    // scan from loading it while the ack is written.
    entry.state = Entry::State::kSettling;
    entry.shard = shard;
    return;
  }
  SettleEntryLocked(topic, entry, fire_id);
}

void DeliveryManager::SettleEntryLocked(Topic& topic, Entry& entry, const std::string& fire_id) {
  if (entry.state == Entry::State::kInFlight) {
    // Its deadline item stays, stale (see Topic::deadlines).
    if (Subscriber* owner = FindSubscriberLocked(entry.owner); owner != nullptr) {
      --owner->outstanding;
    }
  } else if (entry.state == Entry::State::kReady) {
    topic.ready.erase(std::find(topic.ready.begin(), topic.ready.end(), fire_id));
  } else if (entry.state == Entry::State::kScheduled) {
    EraseTimed(topic.scheduled, absl::FromUnixMicros(entry.record.visible_at_us()), fire_id);
  }
  entry.state = Entry::State::kSettling;
}

// ---- Subscribers.

std::shared_ptr<SubscriberSink> DeliveryManager::RemoveSubscriberLocked(SubscriberId id,
                                                                        ShardUpdates* releases) {
  auto sub_it = subscribers_.find(id);
  if (sub_it == subscribers_.end()) return nullptr;
  std::shared_ptr<SubscriberSink> sink = std::move(sub_it->second.sink);
  const TopicKey key = sub_it->second.topic;
  subscribers_.erase(sub_it);
  auto topic_it = topics_.find(key);
  if (topic_it == topics_.end()) return sink;
  Topic& topic = topic_it->second;
  const int64_t now_us = absl::ToUnixMicros(clock_->Now());
  for (auto& [fire_id, entry] : topic.entries) {
    if (entry.state != Entry::State::kInFlight || entry.owner != id) continue;
    // Back to the queue at once, for any subscriber; on disk too, so a restart or a later
    // subscriber need not wait for the old deadline (its item stays, stale).
    entry.state = Entry::State::kReady;
    entry.owner = 0;
    topic.ready.push_front(fire_id);
    entry.record.set_visible_at_us(now_us);
    if (entry.unwritten) continue;  // nothing stored to release
    (*releases)[entry.shard].push_back(
        RecordUpdate{key.first, fire_id, entry.record.fire().attempt(), now_us, std::nullopt});
  }
  topic.subscribers.erase(std::find(topic.subscribers.begin(), topic.subscribers.end(), id));
  if (topic.subscribers.empty()) {
    // Nothing is lost: every fire of the topic is pending on disk, once the unwritten ones are.
    for (auto& [fire_id, entry] : topic.entries) WriteUnwrittenEntryLocked(key, entry);
    topics_.erase(topic_it);
  } else if (topic.next_subscriber >= topic.subscribers.size()) {
    topic.next_subscriber = 0;
  }
  return sink;
}

DeliveryManager::Subscriber* DeliveryManager::FindSubscriberLocked(SubscriberId id) {
  auto it = subscribers_.find(id);
  return it == subscribers_.end() ? nullptr : &it->second;
}

DeliveryManager::Topic* DeliveryManager::FindTopicLocked(const TopicKey& key) {
  auto it = topics_.find(key);
  return it == topics_.end() ? nullptr : &it->second;
}

void DeliveryManager::MarkBacklogLocked(Topic& topic, absl::Time visible_at,
                                        std::optional<OnDisk> fire) {
  topic.backlog_on_disk = true;
  ++topic.disk_generation;
  topic.next_disk_visible = std::min(topic.next_disk_visible, visible_at);
  work_ = true;
  if (!fire.has_value()) return;
  // A scan resuming after a cursor at or past the fire would not see it: start over there.
  // Equal times reset too (fire ids order ties, and are not compared here).
  auto cursor = topic.scan_after.find(fire->shard);
  if (cursor != topic.scan_after.end() &&
      (fire->stored_visible_at_us == kUnknownPosition ||
       fire->stored_visible_at_us <= cursor->second.visible_at_us)) {
    topic.scan_after.erase(cursor);
  }
  if (topic.loading) {
    auto [lowest, inserted] =
        topic.returned_while_loading.try_emplace(fire->shard, fire->stored_visible_at_us);
    if (!inserted) lowest->second = std::min(lowest->second, fire->stored_visible_at_us);
  }
}

// ---- The delivery thread.

void DeliveryManager::Run() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    work_ = false;
    RunOnceLocked();
    if (stopping_ || work_) continue;
    clock_->AwaitWithDeadline(&mu_, absl::Condition(this, &DeliveryManager::WorkOrStop),
                              NextWakeLocked());
  }
}

size_t DeliveryManager::CreditLocked(const Topic& topic) const {
  size_t credit = 0;
  for (SubscriberId id : topic.subscribers) {
    auto it = subscribers_.find(id);
    if (it != subscribers_.end()) credit += it->second.max_outstanding - it->second.outstanding;
  }
  return credit;
}

bool DeliveryManager::WantsScanLocked(const Topic& topic) const {
  if (!topic.backlog_on_disk) return false;
  const size_t want = std::min(CreditLocked(topic), options_.max_ready_per_topic);
  return topic.ready.size() + topic.incoming.size() < want;
}

absl::Time DeliveryManager::NextWakeLocked() const {
  absl::Time wake = absl::InfiniteFuture();
  for (const auto& [key, topic] : topics_) {
    // A stale item wakes the thread early, once: ExpireLocked drops it then.
    if (!topic.deadlines.empty()) wake = std::min(wake, topic.deadlines.front().at);
    if (!topic.scheduled.empty()) wake = std::min(wake, topic.scheduled.begin()->first);
    if (WantsScanLocked(topic)) wake = std::min(wake, topic.next_disk_visible);
    if (!topic.unwritten_sends.empty()) {
      wake = std::min(wake, topic.unwritten_sends.front().sent + options_.attempt_record_hold);
    }
  }
  for (const auto& [shard, held] : held_sends_) {
    wake = std::min(wake, held.since + options_.attempt_record_hold);
  }
  return wake;
}

void DeliveryManager::RunOnceLocked() {
  absl::Time now = clock_->Now();
  ExpireLocked(now);

  std::vector<LoadJob> jobs = CollectLoadJobsLocked(now);
  if (!jobs.empty()) {
    // Decisions of this pass (expiries) are written first. Only this thread submits ordered
    // writes, so the count only falls while it waits.
    if (!ordered_.empty()) {
      mu_.Unlock();
      FlushOrdered();
      mu_.Lock();
    }
    auto written = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ordered_in_flight_ == 0; };
    mu_.Await(absl::Condition(&written));
    mu_.Unlock();
    for (LoadJob& job : jobs) RunLoadJob(job, absl::ToUnixMicros(now));
    mu_.Lock();
    for (LoadJob& job : jobs) MergeLoadJobLocked(job);
    now = clock_->Now();
  }

  std::vector<SinkCall> calls;
  ShardUpdates updates;
  for (auto& [key, topic] : topics_) {
    ReleaseScheduledLocked(topic, now);
    DispatchLocked(key, topic, now, &calls, &updates);
  }
  QueueUpdatesLocked(std::move(updates));
  ReleaseDueHeldSendsLocked(now);
  WriteOverdueUnwrittenLocked(now);
  if (calls.empty() && ordered_.empty()) return;
  mu_.Unlock();
  // Persisting the attempt need not precede the send (see the class comment).
  for (SinkCall& call : calls) {
    if (!call.wire_fires.empty()) call.sink->SendWireFires(std::move(call.wire_fires));
    if (!call.fires.empty()) call.sink->SendFires(std::move(call.fires));
  }
  FlushOrdered();
  mu_.Lock();
}

void DeliveryManager::ExpireLocked(absl::Time now) {
  for (auto& [key, topic] : topics_) {
    std::vector<Deadline>& deadlines = topic.deadlines;
    while (!deadlines.empty() && deadlines.front().at <= now) {
      std::pop_heap(deadlines.begin(), deadlines.end(), DeadlineLater());
      const Deadline due = std::move(deadlines.back());
      deadlines.pop_back();
      if (!DeadlineLive(topic, due)) continue;
      AttemptExpiredLocked(key, topic, due.fire_id, topic.entries.find(due.fire_id)->second, now);
    }
    DropStaleDeadlines(topic);
  }
}

bool DeliveryManager::DeadlineLive(const Topic& topic, const Deadline& deadline) {
  auto it = topic.entries.find(deadline.fire_id);
  // The attempt and the deadline both: a fire released and loaded again from a record whose
  // attempt lagged could be sent again in an attempt of the same number.
  return it != topic.entries.end() && it->second.state == Entry::State::kInFlight &&
         it->second.record.fire().attempt() == deadline.attempt &&
         it->second.deadline == deadline.at;
}

void DeliveryManager::DropStaleDeadlines(Topic& topic) {
  // Every live item is of a fire in memory: past this many, most items are stale. Dropping
  // them costs a lookup each, at most once per as many acks.
  constexpr size_t kSlack = 1024;
  if (topic.deadlines.size() <= 2 * topic.entries.size() + kSlack) return;
  std::erase_if(topic.deadlines, [&topic](const Deadline& d) { return !DeadlineLive(topic, d); });
  std::make_heap(topic.deadlines.begin(), topic.deadlines.end(), DeadlineLater());
}

size_t DeliveryManager::InFlightLocked(const Topic& topic) const {
  size_t in_flight = 0;
  for (SubscriberId id : topic.subscribers) {
    auto it = subscribers_.find(id);
    if (it != subscribers_.end()) in_flight += it->second.outstanding;
  }
  return in_flight;
}

void DeliveryManager::AttemptExpiredLocked(const TopicKey& key, Topic& topic,
                                           const std::string& fire_id, Entry& entry,
                                           absl::Time now) {
  if (Subscriber* owner = FindSubscriberLocked(entry.owner); owner != nullptr) {
    --owner->outstanding;
  }
  entry.owner = 0;
  metrics_.Expired();
  const uint32_t attempt = entry.record.fire().attempt();
  if (attempt >= MaxAttempts(entry)) {
    DeadLetterLocked(key, topic, fire_id, entry,
                     absl::StrCat("ack deadline exceeded after ", attempt, " attempts"));
    return;
  }
  entry.record.set_last_error(absl::StrCat("ack deadline exceeded (attempt ", attempt, ")"));
  const absl::Duration backoff = BackoffLocked(entry, attempt);
  if (backoff <= absl::ZeroDuration()) {
    // The stored visible_at (the old deadline) is already in the past: no write is needed.
    entry.state = Entry::State::kReady;
    topic.ready.push_front(fire_id);
    return;
  }
  // Wait on disk, like a delayed nack: the persisted visible_at survives a restart.
  const absl::Time visible = now + backoff;
  ShardUpdates updates;
  if (entry.unwritten) {
    entry.record.set_visible_at_us(absl::ToUnixMicros(visible));
    WriteUnwrittenEntryLocked(key, entry);
  } else {
    updates[entry.shard].push_back(RecordUpdate{key.first, fire_id, attempt,
                                                absl::ToUnixMicros(visible), std::nullopt,
                                                /*delay=*/true});
  }
  if (topic.loading) topic.settled_while_loading.insert(fire_id);
  // Where it sits depends on whether the delayed write applies (the attempt must match).
  const OnDisk on_disk{entry.shard, kUnknownPosition};
  topic.entries.erase(fire_id);
  QueueUpdatesLocked(std::move(updates));
  MarkBacklogLocked(topic, visible, on_disk);
}

uint32_t DeliveryManager::MaxAttempts(const Entry& entry) const {
  return MaxAttempts(entry.policy);
}

uint32_t DeliveryManager::MaxAttempts(const v1::DeliveryPolicy& policy) const {
  const uint32_t n = policy.max_attempts();
  return n > 0 ? n : std::max<uint32_t>(1, options_.default_max_attempts);
}

absl::Duration DeliveryManager::Backoff(const v1::DeliveryPolicy& policy, uint32_t attempt) {
  absl::MutexLock lock(&mu_);
  return PolicyBackoffLocked(policy, attempt);
}

absl::Duration DeliveryManager::BackoffLocked(const Entry& entry, uint32_t attempt) {
  return PolicyBackoffLocked(entry.policy, attempt);
}

absl::Duration DeliveryManager::PolicyBackoffLocked(const v1::DeliveryPolicy& policy,
                                                    uint32_t attempt) {
  const absl::Duration lo =
      policy.has_min_backoff() ? FromProto(policy.min_backoff()) : options_.default_min_backoff;
  const absl::Duration hi = std::max(lo, policy.has_max_backoff() ? FromProto(policy.max_backoff())
                                                                  : options_.default_max_backoff);
  // Cap = lo * 2^(attempt - 1), bounded by hi; full jitter draws uniformly below the cap,
  // but never under lo, so the minimum is honoured and retries of many fires spread out.
  absl::Duration cap = lo;
  for (uint32_t i = 1; i < attempt && cap < hi; ++i) cap *= 2;
  cap = std::min(cap, hi);
  if (cap <= lo) return lo;
  const double f = absl::Uniform(bitgen_, 0.0, 1.0);
  return lo + (cap - lo) * f;
}

void DeliveryManager::DeadLetterLocked(const TopicKey& key, Topic& topic,
                                       const std::string& fire_id, Entry& entry,
                                       const std::string& error) {
  const std::string ns = key.first;
  const std::string topic_name = key.second;
  const uint32_t attempt = entry.record.fire().attempt();
  const int shard = entry.shard;
  WriteUnwrittenEntryLocked(key, entry);  // the dead letter moves the stored record
  if (topic.loading) topic.settled_while_loading.insert(fire_id);
  topic.entries.erase(fire_id);
  storage::TxnFn fn = [=](storage::ShardTxn& txn) -> absl::Status {
    absl::StatusOr<std::optional<DeliveryRecord>> record = txn.GetDelivery(ns, fire_id);
    if (!record.ok()) return record.status();
    // Acked meanwhile, or a newer attempt was recorded: nothing to dead-letter.
    if (!record->has_value() || (*record)->fire().topic() != topic_name ||
        (*record)->fire().attempt() > attempt) {
      return absl::OkStatus();
    }
    DeliveryRecord& r = **record;
    r.mutable_fire()->set_attempt(attempt);
    r.set_last_error(error);
    if (absl::Status s = txn.DeleteDelivery(ns, fire_id); !s.ok()) return s;
    txn.PutDeadLetter(r);
    return engine::RecordDeadLettered(txn, ns, fire_id);
  };
  storage::TxnDone done = [=, this](absl::Status status) {
    if (status.ok()) {
      CHIME_LOG(kWarn, "fire dead-lettered",
                {{"namespace", ns}, {"topic", topic_name}, {"fire_id", fire_id}, {"error", error}});
      return;
    }
    CHIME_LOG(kError, "dead-lettering a fire failed; retrying",
              {{"fire_id", fire_id}, {"error", status.ToString()}});
    absl::MutexLock lock(&mu_);
    if (Topic* t = FindTopicLocked({ns, topic_name}); t != nullptr) {
      MarkBacklogLocked(*t, clock_->Now() + absl::Seconds(1), OnDisk{shard, kUnknownPosition});
    }
  };
  ReleaseHeldSendsLocked(shard);  // the dead letter keeps the attempts recorded before it
  ordered_.push_back(OrderedTxn{shard, std::move(fn), std::move(done)});
  work_ = true;
}

std::vector<DeliveryManager::LoadJob> DeliveryManager::CollectLoadJobsLocked(absl::Time now) {
  std::vector<LoadJob> jobs;
  for (auto& [key, topic] : topics_) {
    const bool scan = WantsScanLocked(topic) && topic.next_disk_visible <= now;
    if (!scan && topic.incoming.empty()) continue;
    LoadJob& job = jobs.emplace_back();
    topic.loading = true;
    job.key = key;
    job.incarnation = topic.incarnation;
    job.incoming = std::move(topic.incoming);
    topic.incoming.clear();
    if (scan) {
      job.scan = true;
      job.disk_generation = topic.disk_generation;
      const size_t limit =
          options_.max_ready_per_topic - std::min(options_.max_ready_per_topic, topic.ready.size());
      job.room = std::min(limit, CreditLocked(topic) + options_.scan_batch);
      job.scan_from = topic.scan_after;
      topic.returned_while_loading.clear();
      for (const Incoming& in : job.incoming) job.incoming_ids.insert(in.record.fire().fire_id());
    }
  }
  return jobs;
}

std::vector<bool> DeliveryManager::InMemory(const LoadJob& job,
                                            const std::vector<DeliveryRecord>& scanned) {
  std::vector<bool> known(scanned.size());
  absl::MutexLock lock(&mu_);
  const Topic* topic = FindTopicLocked(job.key);
  if (topic != nullptr && topic->incarnation != job.incarnation) topic = nullptr;
  for (size_t i = 0; i < scanned.size(); ++i) {
    const std::string& fire_id = scanned[i].fire().fire_id();
    known[i] = job.incoming_ids.contains(fire_id) ||
               (topic != nullptr && topic->entries.contains(fire_id));
  }
  return known;
}

void DeliveryManager::RunLoadJob(LoadJob& job, int64_t now_us) {
  const std::string& ns = job.key.first;
  const std::string& topic = job.key.second;
  if (job.scan && job.room > 0) {
    const int shards = store_->shard_count();
    const size_t per_shard =
        std::max<size_t>(16, std::min(options_.scan_batch, job.room / shards + 1));
    std::vector<Incoming> scanned;
    // Per shard, the positions read in order (taken or known) and, for each fire taken, the
    // index of its position: a fire dropped below moves that shard's new cursor back.
    std::vector<std::vector<storage::QueueCursor>> positions(shards);
    std::vector<size_t> position_index;
    for (int s = 0; s < shards && job.status.ok(); ++s) {
      storage::ShardStore* shard = store_->shard(s);
      auto from = job.scan_from.find(s);
      storage::QueueCursor cursor =
          from != job.scan_from.end() ? from->second : storage::QueueCursor();
      size_t taken = 0;
      bool exhausted = false;
      std::vector<DeliveryRecord> batch;
      while (taken < per_shard) {
        job.status = shard->ScanQueue(ns, topic, now_us, cursor, per_shard, &batch);
        if (!job.status.ok()) break;
        const std::vector<bool> known = InMemory(job, batch);
        for (size_t i = 0; i < batch.size(); ++i) {
          DeliveryRecord& record = batch[i];
          cursor.visible_at_us = record.visible_at_us();
          cursor.fire_id = record.fire().fire_id();
          positions[s].push_back(cursor);
          // In memory already (ready, in flight whose new deadline is not yet written, or
          // being acked): skip.
          if (known[i]) continue;
          position_index.push_back(positions[s].size() - 1);
          scanned.push_back(Incoming{s, std::move(record)});
          ++taken;
        }
        if (batch.size() < per_shard) {
          exhausted = true;
          break;
        }
      }
      if (!job.status.ok()) break;
      if (!exhausted) {
        job.more_visible = true;
        continue;
      }
      // Everything visible now is taken: when does the next fire not in memory become
      // visible? In-flight fires (persisted deadlines) come first; look past a few of them.
      // If all looked at are in memory, the last one's time is an early, safe guess.
      constexpr size_t kPeek = 16;
      job.status = shard->ScanQueue(ns, topic, INT64_MAX, cursor, kPeek, &batch);
      if (!job.status.ok()) break;
      const std::vector<bool> known = InMemory(job, batch);
      for (size_t i = 0; i < batch.size(); ++i) {
        if (!known[i] || i + 1 == kPeek) {
          job.next_visible =
              std::min(job.next_visible, absl::FromUnixMicros(batch[i].visible_at_us()));
          break;
        }
      }
    }
    // Oldest visible first across shards; the rest stays on disk for the next refill.
    std::vector<size_t> order(scanned.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return scanned[a].record.visible_at_us() < scanned[b].record.visible_at_us();
    });
    // Per shard, how many of the positions read the next scan may skip: all of them, unless
    // a fire read there is dropped here; then those before the first one dropped.
    std::vector<size_t> keep(shards);
    for (int s = 0; s < shards; ++s) keep[s] = positions[s].size();
    if (order.size() > job.room) {
      for (size_t i = job.room; i < order.size(); ++i) {
        const Incoming& dropped = scanned[order[i]];
        keep[dropped.shard] = std::min(keep[dropped.shard], position_index[order[i]]);
      }
      order.resize(job.room);
      job.more_visible = true;
    }
    if (job.status.ok()) {
      for (int s = 0; s < shards; ++s) {
        if (keep[s] > 0) {
          job.scan_to[s] = positions[s][keep[s] - 1];
        } else if (auto from = job.scan_from.find(s); from != job.scan_from.end()) {
          job.scan_to[s] = from->second;
        }
      }
    }
    job.loaded.reserve(order.size());
    for (size_t i : order) job.loaded.push_back(std::move(scanned[i]));
  }
  for (Incoming& in : job.incoming) job.loaded.push_back(std::move(in));
  job.incoming.clear();

  // The ack deadline (and, for issue 3, the retry policy) live in the timer record.
  absl::flat_hash_map<std::string, v1::DeliveryPolicy> cache;
  job.policies.reserve(job.loaded.size());
  for (const Incoming& in : job.loaded) {
    if (in.record.has_policy()) {
      job.policies.push_back(in.record.policy());
      continue;
    }
    const std::string& timer_id = in.record.fire().timer_id();
    auto it = cache.find(timer_id);
    if (it == cache.end()) {
      v1::DeliveryPolicy policy;
      auto timer = store_->shard(in.shard)->GetTimer(ns, timer_id);
      if (timer.ok() && timer->has_value()) policy = (*timer)->timer().delivery_policy();
      it = cache.emplace(timer_id, std::move(policy)).first;
    }
    job.policies.push_back(it->second);
  }
}

void DeliveryManager::MergeLoadJobLocked(LoadJob& job) {
  Topic* topic = FindTopicLocked(job.key);
  // The topic lost its last subscriber meanwhile: everything stays on disk.
  if (topic == nullptr || topic->incarnation != job.incarnation) return;
  const absl::Time now = clock_->Now();
  if (!job.status.ok()) {
    CHIME_LOG(kError, "loading pending fires failed; retrying",
              {{"namespace", job.key.first},
               {"topic", job.key.second},
               {"error", job.status.ToString()}});
    MarkBacklogLocked(*topic, now + absl::Seconds(1));
  } else if (job.scan && topic->disk_generation == job.disk_generation) {
    // Nothing was added to the backlog since the scan started: its result is current.
    if (job.more_visible) {
      topic->next_disk_visible = absl::InfinitePast();
    } else {
      topic->next_disk_visible = job.next_visible;
      topic->backlog_on_disk = job.next_visible != absl::InfiniteFuture();
    }
  }
  if (job.scan && job.status.ok()) {
    // The new cursors hold unless a fire went back to disk at or before one meanwhile (then
    // the current cursor, which MarkBacklogLocked kept before that fire, stays).
    for (const auto& [shard, cursor] : job.scan_to) {
      auto returned = topic->returned_while_loading.find(shard);
      if (returned != topic->returned_while_loading.end() &&
          (returned->second == kUnknownPosition || returned->second <= cursor.visible_at_us)) {
        continue;
      }
      topic->scan_after[shard] = cursor;
    }
  }
  for (size_t i = 0; i < job.loaded.size(); ++i) {
    Incoming& in = job.loaded[i];
    const std::string& fire_id = in.record.fire().fire_id();
    // In memory already, or acked/nacked while the job read an older copy.
    if (topic->entries.contains(fire_id) || topic->settled_while_loading.contains(fire_id)) {
      continue;
    }
    if (topic->ready.size() >= options_.max_ready_per_topic) {
      MarkBacklogLocked(*topic, absl::InfinitePast(), OnDisk{in.shard, in.record.visible_at_us()});
      continue;
    }
    AddEntryLocked(*topic, in.shard, std::move(in.record), std::move(job.policies[i]), now);
  }
  topic->loading = false;
  topic->settled_while_loading.clear();
  topic->returned_while_loading.clear();
}

void DeliveryManager::DispatchLocked(const TopicKey& key, Topic& topic, absl::Time now,
                                     std::vector<SinkCall>* calls, ShardUpdates* updates) {
  if (topic.ready.empty() || topic.subscribers.empty()) return;
  std::map<SubscriberId, SinkCall> batches;
  const size_t n = topic.subscribers.size();
  // Round robin over the subscribers with credit, a share of the ready fires at a time: a few
  // fires due together go out as one message to one subscriber, not one message each (each is
  // a write here and a read there); a large backlog is still split evenly.
  const size_t share = std::max(kMinDispatchShare, (topic.ready.size() + n - 1) / n);
  Subscriber* sub = nullptr;
  SubscriberId sub_id = 0;
  SinkCall* batch = nullptr;  // sub's
  size_t given = 0;
  while (!topic.ready.empty()) {
    if (sub == nullptr || given >= share || sub->outstanding >= sub->max_outstanding) {
      sub = nullptr;
      given = 0;
      for (size_t i = 0; i < n; ++i) {
        const size_t idx = (topic.next_subscriber + i) % n;
        Subscriber* candidate = FindSubscriberLocked(topic.subscribers[idx]);
        if (candidate != nullptr && candidate->outstanding < candidate->max_outstanding) {
          sub = candidate;
          sub_id = topic.subscribers[idx];
          topic.next_subscriber = (idx + 1) % n;
          break;
        }
      }
      if (sub == nullptr) break;
      batch = &batches[sub_id];
      const size_t more =
          std::min({share, topic.ready.size(), size_t{sub->max_outstanding - sub->outstanding}});
      if (sub->wire_fires) {
        batch->wire_fires.reserve(batch->wire_fires.size() + more);
      } else {
        batch->fires.reserve(batch->fires.size() + more);
      }
    }
    const std::string fire_id = std::move(topic.ready.front());
    topic.ready.pop_front();
    Entry& entry = topic.entries[fire_id];
    if (entry.record.fire().attempt() >= MaxAttempts(entry)) {
      // Attempts used up before a restart, or by nacks: no further send.
      const std::string error = entry.record.last_error().empty()
                                    ? absl::StrCat("ack deadline exceeded after ",
                                                   entry.record.fire().attempt(), " attempts")
                                    : absl::StrCat(entry.record.last_error(), " (",
                                                   entry.record.fire().attempt(), " attempts)");
      DeadLetterLocked(key, topic, fire_id, entry, error);
      continue;
    }
    v1::Fire* fire = entry.record.mutable_fire();
    fire->set_attempt(fire->attempt() + 1);
    absl::Duration ack_deadline = entry.policy.has_ack_deadline()
                                      ? FromProto(entry.policy.ack_deadline())
                                      : options_.default_ack_deadline;
    if (entry.record.has_webhook()) {
      // Never redeliver a webhook request still in flight: outlast its timeout.
      ack_deadline = std::max(ack_deadline, WebhookAckDeadline(entry.record.webhook()));
    }
    entry.deadline = now + ack_deadline;
    *fire->mutable_ack_deadline() = ToProtoTimestamp(entry.deadline);
    entry.record.set_visible_at_us(absl::ToUnixMicros(entry.deadline));
    entry.state = Entry::State::kInFlight;
    entry.owner = sub_id;
    ++sub->outstanding;
    ++given;
    topic.deadlines.push_back(Deadline{entry.deadline, fire_id, fire->attempt()});
    std::push_heap(topic.deadlines.begin(), topic.deadlines.end(), DeadlineLater());
    metrics_.Sent(fire->attempt(), FromProto(fire->scheduled_time()), now);
    if (sub->wire_fires) {
      fire->SerializeToString(&batch->wire_fires.emplace_back());
    } else {
      batch->fires.push_back(*fire);
    }
    if (entry.unwritten) {
      // No stored record to update: the fire is written as it stands if still unacked later.
      topic.unwritten_sends.push_back(UnwrittenSend{now, fire_id, fire->attempt()});
    } else {
      (*updates)[entry.shard].push_back(RecordUpdate{
          key.first, fire_id, fire->attempt(), entry.record.visible_at_us(), fire->ack_deadline()});
    }
  }
  for (auto& [sub_id, call] : batches) {
    call.sink = subscribers_[sub_id].sink;
    calls->push_back(std::move(call));
  }
}

// ---- Writes.

void DeliveryManager::QueueUpdatesLocked(ShardUpdates updates) {
  const absl::Time now = clock_->Now();
  for (auto& [shard, list] : updates) {
    const bool all_sends = std::all_of(
        list.begin(), list.end(), [](const RecordUpdate& u) { return u.ack_deadline.has_value(); });
    if (all_sends && options_.attempt_record_hold > absl::ZeroDuration()) {
      HeldSends& held = held_sends_[shard];
      if (held.updates.empty()) held.since = now;
      for (RecordUpdate& u : list) {
        std::pair<std::string, std::string> key(u.ns, u.fire_id);
        held.updates.insert_or_assign(std::move(key), std::move(u));
      }
      continue;
    }
    // Decided after the held sends of the shard: they go first.
    ReleaseHeldSendsLocked(shard);
    QueueUpdateTxnLocked(shard, std::move(list));
  }
}

void DeliveryManager::ReleaseHeldSendsLocked(int shard) {
  auto it = held_sends_.find(shard);
  if (it == held_sends_.end()) return;
  std::vector<RecordUpdate> list;
  list.reserve(it->second.updates.size());
  for (auto& [key, update] : it->second.updates) list.push_back(std::move(update));
  held_sends_.erase(it);
  QueueUpdateTxnLocked(shard, std::move(list));
}

void DeliveryManager::DropHeldSendLocked(int shard, const std::string& ns,
                                         const std::string& fire_id) {
  auto held = held_sends_.find(shard);
  if (held == held_sends_.end()) return;
  if (auto it = held->second.updates.find(NsFireId(ns, fire_id));
      it != held->second.updates.end()) {
    held->second.updates.erase(it);
  }
  if (held->second.updates.empty()) held_sends_.erase(held);
}

void DeliveryManager::ReleaseDueHeldSendsLocked(absl::Time now) {
  std::vector<int> due;
  for (const auto& [shard, held] : held_sends_) {
    if (stopping_ || held.since + options_.attempt_record_hold <= now) due.push_back(shard);
  }
  for (int shard : due) ReleaseHeldSendsLocked(shard);
}

void DeliveryManager::WriteOverdueUnwrittenLocked(absl::Time now) {
  for (auto& [key, topic] : topics_) {
    std::deque<UnwrittenSend>& sends = topic.unwritten_sends;
    while (!sends.empty()) {
      const UnwrittenSend& send = sends.front();
      auto it = topic.entries.find(send.fire_id);
      const bool still_unacked = it != topic.entries.end() && it->second.unwritten &&
                                 it->second.state == Entry::State::kInFlight &&
                                 it->second.record.fire().attempt() == send.attempt;
      if (still_unacked) {
        if (!stopping_ && send.sent + options_.attempt_record_hold > now) break;
        // Its stored timer reads FIRED from then on.
        WriteUnwrittenEntryLocked(key, it->second);
      }
      sends.pop_front();
    }
  }
}

void DeliveryManager::QueueUpdateTxnLocked(int shard, std::vector<RecordUpdate> list) {
  if (list.empty()) return;
  auto items = std::make_shared<std::vector<RecordUpdate>>(std::move(list));
  storage::TxnFn fn = [items](storage::ShardTxn& txn) -> absl::Status {
    for (const RecordUpdate& u : *items) {
      absl::StatusOr<std::optional<DeliveryRecord>> record = txn.GetDelivery(u.ns, u.fire_id);
      if (!record.ok()) return record.status();
      // Acked meanwhile: never bring it back.
      if (!record->has_value()) continue;
      DeliveryRecord& r = **record;
      const int64_t stored_visible_us = r.visible_at_us();
      if (u.ack_deadline.has_value()) {
        r.mutable_fire()->set_attempt(u.attempt);
        *r.mutable_fire()->mutable_ack_deadline() = *u.ack_deadline;
        r.set_visible_at_us(u.visible_at_us);
      } else if (u.delay) {
        // A backoff: only if no later attempt was recorded meanwhile.
        if (r.fire().attempt() != u.attempt) continue;
        r.set_visible_at_us(u.visible_at_us);
      } else {
        // A release: only if no later attempt was recorded meanwhile.
        if (r.fire().attempt() != u.attempt || r.visible_at_us() <= u.visible_at_us) continue;
        r.set_visible_at_us(u.visible_at_us);
      }
      txn.UpdateReadDelivery(r, stored_visible_us);
    }
    return absl::OkStatus();
  };
  storage::TxnDone done = [](absl::Status status) {
    // Lost updates only make a fire visible earlier than planned.
    if (!status.ok()) {
      CHIME_LOG(kError, "recording delivery attempts failed", {{"error", status.ToString()}});
    }
  };
  // Lazy: a lost update only makes the fire visible earlier (or counts one attempt less)
  // after a crash, which at-least-once allows; it need not wait for an fsync of its own.
  ordered_.push_back(
      OrderedTxn{shard, std::move(fn), std::move(done), storage::ShardStore::Sync::kLazy});
  work_ = true;
}

void DeliveryManager::WriteUnwrittenEntryLocked(const TopicKey& key, Entry& entry) {
  if (!entry.unwritten) return;
  entry.unwritten = false;
  // The record written is the entry as it stands: a held send of it would only undo that.
  DropHeldSendLocked(entry.shard, key.first, entry.record.fire().fire_id());
  DeliveryRecord record = entry.record;
  *record.mutable_policy() = entry.policy;
  QueueFireWriteLocked(entry.shard, key, std::move(record));
}

void DeliveryManager::QueueFireWriteLocked(int shard, const TopicKey& key, DeliveryRecord record) {
  auto fire = std::make_shared<DeliveryRecord>(std::move(record));
  FireBeingWritten& writing =
      fires_being_written_[std::make_pair(fire->fire().namespace_(), fire->fire().fire_id())];
  writing.fire_time = fire->fire().fire_time();
  ++writing.writes;
  // Set by the transaction: the timer no longer waits for this fire and none is stored.
  auto gone = std::make_shared<bool>(false);
  storage::TxnFn fn = [fire, gone](storage::ShardTxn& txn) -> absl::Status {
    *gone = false;
    absl::StatusOr<bool> written = engine::WriteUnwrittenFire(txn, *fire, /*pending=*/true);
    if (!written.ok()) return written.status();
    if (*written) return absl::OkStatus();
    absl::StatusOr<std::optional<DeliveryRecord>> stored =
        txn.GetDelivery(fire->fire().namespace_(), fire->fire().fire_id());
    if (!stored.ok()) return stored.status();
    *gone = !stored->has_value();
    return absl::OkStatus();
  };
  storage::TxnDone done = [this, key, shard, fire, gone](absl::Status status) {
    const std::string& fire_id = fire->fire().fire_id();
    if (!status.ok()) {
      // Its timer's due entry is still stored: the fire is not lost, it fires again after a
      // restart. While in memory, the next occasion tries the write again.
      CHIME_LOG(kError, "writing a fire delivered before its write failed",
                {{"fire_id", fire_id}, {"error", status.ToString()}});
    }
    absl::MutexLock lock(&mu_);
    // Written (or failed, and then read as stored: SCHEDULED, due again after a restart).
    auto writing = fires_being_written_.find(NsFireId(fire->fire().namespace_(), fire_id));
    if (writing != fires_being_written_.end() && --writing->second.writes == 0) {
      fires_being_written_.erase(writing);
    }
    if (status.ok() && !*gone) return;
    Topic* topic = FindTopicLocked(key);
    if (topic == nullptr) return;
    auto it = topic->entries.find(fire_id);
    if (it == topic->entries.end() || it->second.state == Entry::State::kSettling) return;
    if (!status.ok()) {
      it->second.unwritten = true;
      return;
    }
    // Cancelled (or deleted) after its fire was handed over: nothing more to deliver.
    SettleLocked(*topic, shard, fire_id);
    topic->entries.erase(fire_id);
    work_ = true;
  };
  // Lazy like the fire transaction it completes: lost in a crash, the timer fires again.
  ordered_.push_back(
      OrderedTxn{shard, std::move(fn), std::move(done), storage::ShardStore::Sync::kLazy});
  work_ = true;
}

void DeliveryManager::FlushOrdered() {
  std::vector<OrderedTxn> batch;
  {
    absl::MutexLock lock(&mu_);
    batch.swap(ordered_);
    ordered_in_flight_ += static_cast<int>(batch.size());
  }
  // Only the delivery thread (or Stop, after it) flushes, so submission order is the order
  // in which the writes were decided, and the shard's writer keeps it.
  for (OrderedTxn& t : batch) {
    SubmitTracked(
        t.shard, std::move(t.fn),
        [this, done = std::move(t.done)](absl::Status s) {
          done(std::move(s));
          absl::MutexLock lock(&mu_);
          --ordered_in_flight_;
        },
        t.sync);
  }
}

void DeliveryManager::SubmitTracked(int shard, storage::TxnFn fn, storage::TxnDone done,
                                    storage::ShardStore::Sync sync) {
  TxnStarted();
  store_->shard(shard)->Submit(
      std::move(fn),
      [this, done = std::move(done)](absl::Status s) {
        done(std::move(s));
        TxnFinished();  // last: `this` may be gone after it
      },
      sync);
}

void DeliveryManager::TxnStarted() {
  absl::MutexLock lock(&mu_);
  ++pending_txns_;
}

void DeliveryManager::TxnFinished() {
  absl::MutexLock lock(&mu_);
  --pending_txns_;
}

}  // namespace chime::delivery
