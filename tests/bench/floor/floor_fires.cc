#include "tests/bench/floor/floor_fires.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/proto_time.h"

namespace chime::floor {
namespace {

// Due timers are turned into fires this many at a time, so acks get the lock in between.
constexpr size_t kFireChunk = 4096;
constexpr absl::Duration kAckDeadline = absl::Seconds(30);  // chimed's default

bool LaterDue(const auto& a, const auto& b) { return a.due_ns > b.due_ns; }

v1::Fire MakeFire(const v1::Timer& timer, const google::protobuf::Timestamp& fire_time,
                  const google::protobuf::Timestamp& ack_deadline) {
  v1::Fire fire;
  fire.set_fire_id(absl::StrCat(timer.timer_id(), "@1"));
  fire.set_namespace_(timer.namespace_());
  fire.set_timer_id(timer.timer_id());
  fire.set_topic(timer.target().topic());
  *fire.mutable_scheduled_time() = timer.next_fire_time();
  *fire.mutable_fire_time() = fire_time;
  fire.set_attempt(1);
  fire.set_payload(timer.payload());
  *fire.mutable_labels() = timer.labels();
  *fire.mutable_ack_deadline() = ack_deadline;
  return fire;
}

}  // namespace

FloorFires::FloorFires(const std::vector<std::unique_ptr<GroupLog>>* ack_logs)
    : ack_logs_(ack_logs) {
  fire_thread_ = std::thread([this] { FireLoop(); });
}

FloorFires::~FloorFires() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  fire_thread_.join();
}

void FloorFires::Schedule(v1::Timer timer) {
  if (timer.target().topic().empty() || !timer.has_next_fire_time()) return;
  const int64_t due_ns = absl::ToUnixNanos(FromProto(timer.next_fire_time()));
  absl::MutexLock lock(&mu_);
  const bool earliest = heap_.empty() || due_ns < heap_.front().due_ns;
  heap_.push_back(Due{due_ns, std::make_unique<v1::Timer>(std::move(timer))});
  std::push_heap(heap_.begin(), heap_.end(), LaterDue<Due, Due>);
  if (earliest) ++earliest_changed_;
}

void FloorFires::FireLoop() {
  std::vector<std::unique_ptr<v1::Timer>> due;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      while (true) {
        if (stopping_) return;
        if (!heap_.empty() && heap_.front().due_ns <= absl::GetCurrentTimeNanos()) break;
        const int64_t seen = earliest_changed_;
        auto changed = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stopping_ || earliest_changed_ != seen;
        };
        mu_.AwaitWithDeadline(
            absl::Condition(&changed),
            heap_.empty() ? absl::InfiniteFuture() : absl::FromUnixNanos(heap_.front().due_ns));
      }
      const int64_t now_ns = absl::GetCurrentTimeNanos();
      while (!heap_.empty() && heap_.front().due_ns <= now_ns && due.size() < kFireChunk) {
        std::pop_heap(heap_.begin(), heap_.end(), LaterDue<Due, Due>);
        due.push_back(std::move(heap_.back().timer));
        heap_.pop_back();
      }
    }
    const absl::Time now = absl::Now();
    const google::protobuf::Timestamp fire_time = ToProtoTimestamp(now);
    const google::protobuf::Timestamp ack_deadline = ToProtoTimestamp(now + kAckDeadline);
    std::vector<v1::Fire> fires;
    fires.reserve(due.size());
    for (const std::unique_ptr<v1::Timer>& timer : due) {
      fires.push_back(MakeFire(*timer, fire_time, ack_deadline));
    }
    due.clear();
    std::vector<Send> sends;
    {
      absl::MutexLock lock(&mu_);
      std::vector<Topic*> touched;
      for (v1::Fire& fire : fires) {
        Topic& topic = topics_[fire.topic()];
        if (touched.empty() || touched.back() != &topic) touched.push_back(&topic);
        topic.ready.push_back(std::move(fire));
      }
      std::sort(touched.begin(), touched.end());
      touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
      for (Topic* topic : touched) {
        for (Send& send : TakeForSubscribers(*topic)) sends.push_back(std::move(send));
      }
    }
    SendAll(std::move(sends));
  }
}

std::vector<FloorFires::Send> FloorFires::TakeForSubscribers(Topic& topic) {
  std::vector<Send> sends;
  const size_t count = topic.subscribers.size();
  for (size_t k = 0; k < count && !topic.ready.empty(); ++k) {
    Subscriber& subscriber =
        subscribers_.at(topic.subscribers[(topic.next_subscriber + k) % count]);
    int64_t room = subscriber.max_outstanding -
                   static_cast<int64_t>(subscriber.outstanding.size()) - subscriber.acks_in_log;
    if (room <= 0) continue;
    Send send{subscriber.sink, {}};
    for (; room > 0 && !topic.ready.empty(); --room) {
      v1::Fire& fire = topic.ready.front();
      send.fires.push_back(fire);  // a copy: the subscriber keeps the fire until it is acked
      std::string id = fire.fire_id();
      subscriber.outstanding.emplace(std::move(id), std::move(fire));
      topic.ready.pop_front();
    }
    sends.push_back(std::move(send));
  }
  if (count > 0) topic.next_subscriber = (topic.next_subscriber + 1) % count;
  return sends;
}

void FloorFires::SendAll(std::vector<Send> sends) {
  for (Send& send : sends) send.sink->SendFires(std::move(send.fires));
}

int64_t FloorFires::Subscribe(const std::string& topic, int64_t max_outstanding,
                              std::shared_ptr<FireSink> sink) {
  std::vector<Send> sends;
  int64_t id = 0;
  {
    absl::MutexLock lock(&mu_);
    id = next_subscriber_id_++;
    subscribers_.emplace(id, Subscriber{topic, max_outstanding, std::move(sink), {}, 0});
    Topic& t = topics_[topic];
    t.subscribers.push_back(id);
    sends = TakeForSubscribers(t);
  }
  SendAll(std::move(sends));
  return id;
}

void FloorFires::Unsubscribe(int64_t subscriber) {
  std::vector<Send> sends;
  {
    absl::MutexLock lock(&mu_);
    auto it = subscribers_.find(subscriber);
    if (it == subscribers_.end()) return;
    Topic& topic = topics_[it->second.topic];
    for (auto& [id, fire] : it->second.outstanding) topic.ready.push_front(std::move(fire));
    topic.subscribers.erase(
        std::find(topic.subscribers.begin(), topic.subscribers.end(), subscriber));
    topic.next_subscriber = 0;
    subscribers_.erase(it);
    sends = TakeForSubscribers(topic);
  }
  SendAll(std::move(sends));
}

void FloorFires::Ack(int64_t subscriber, const v1::Acknowledge& ack) {
  std::vector<std::string> held;
  std::vector<v1::AckResult> unknown;
  std::shared_ptr<FireSink> sink;
  {
    absl::MutexLock lock(&mu_);
    auto it = subscribers_.find(subscriber);
    if (it == subscribers_.end()) return;
    sink = it->second.sink;
    for (const std::string& id : ack.fire_ids()) {
      if (it->second.outstanding.erase(id) == 1) {
        held.push_back(id);
      } else {
        v1::AckResult& result = unknown.emplace_back();
        result.set_fire_id(id);
        result.set_outcome(v1::ACK_OUTCOME_UNKNOWN);
      }
    }
    it->second.acks_in_log += static_cast<int64_t>(held.size());
  }
  if (!unknown.empty()) sink->SendAckResults(std::move(unknown));
  if (held.empty()) return;
  v1::Acknowledge logged;
  for (const std::string& id : held) logged.add_fire_ids(id);
  std::string record;
  const uint32_t size = static_cast<uint32_t>(logged.ByteSizeLong());
  record.append(reinterpret_cast<const char*>(&size), sizeof(size));
  logged.AppendToString(&record);
  GroupLog& log = *(*ack_logs_)[static_cast<size_t>(subscriber) % ack_logs_->size()];
  log.Append(std::move(record), [this, subscriber, ids = std::move(held)](bool durable) mutable {
    AckDurable(subscriber, std::move(ids), durable);
  });
}

void FloorFires::AckDurable(int64_t subscriber, std::vector<std::string> ids, bool durable) {
  if (!durable) {
    // The floor measures durable acks; without them there is nothing to report.
    fprintf(stderr, "chime-floor-server: the ack log write failed\n");
    std::exit(1);
  }
  std::vector<v1::AckResult> results;
  results.reserve(ids.size());
  for (std::string& id : ids) {
    v1::AckResult& result = results.emplace_back();
    result.set_fire_id(std::move(id));
    result.set_outcome(v1::ACK_OUTCOME_ACKED);
  }
  std::shared_ptr<FireSink> sink;
  std::vector<Send> sends;
  {
    absl::MutexLock lock(&mu_);
    auto it = subscribers_.find(subscriber);
    if (it == subscribers_.end()) return;  // gone; its acked fires stay acked
    it->second.acks_in_log -= static_cast<int64_t>(results.size());
    sink = it->second.sink;
    sends = TakeForSubscribers(topics_[it->second.topic]);
  }
  sink->SendAckResults(std::move(results));
  SendAll(std::move(sends));
}

}  // namespace chime::floor
