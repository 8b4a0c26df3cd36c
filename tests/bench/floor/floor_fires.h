// The least a durable fire can cost, for chime-floor-server's herd: timers wait in memory in a
// heap by due time; a firing thread turns the due ones into fires in their topic's ready queue;
// subscribers take fires up to their room and keep each until it is acked; an ack is appended
// to a log and synced before its room is freed and its outcome is sent. Nothing is written at
// fire time (chimed's deferred fire writes do the same for a fire acked from memory). A
// subscriber that leaves puts its unacked fires back at the front of the ready queue.
//
// Thread-safe.
#ifndef CHIME_TESTS_BENCH_FLOOR_FLOOR_FIRES_H_
#define CHIME_TESTS_BENCH_FLOOR_FLOOR_FIRES_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "chime/v1/timer.pb.h"
#include "tests/bench/floor/group_log.h"

namespace chime::floor {

// Where a subscriber's fires and ack outcomes go (its stream).
class FireSink {
 public:
  virtual ~FireSink() = default;
  virtual void SendFires(std::vector<v1::Fire> fires) = 0;
  virtual void SendAckResults(std::vector<v1::AckResult> results) = 0;
};

class FloorFires {
 public:
  // Acks are logged to `ack_logs` (not owned, not empty), one per subscriber in turn.
  explicit FloorFires(const std::vector<std::unique_ptr<GroupLog>>* ack_logs);
  ~FloorFires();

  // A durably created timer: fires at its next_fire_time if its target is a topic.
  void Schedule(v1::Timer timer);

  // Returns the subscriber's id; the fires waiting for the topic go out at once.
  int64_t Subscribe(const std::string& topic, int64_t max_outstanding,
                    std::shared_ptr<FireSink> sink);
  void Unsubscribe(int64_t subscriber);
  // Ids the subscriber holds are logged, then ACKED; others are answered UNKNOWN.
  void Ack(int64_t subscriber, const v1::Acknowledge& ack);

 private:
  struct Due {
    int64_t due_ns;
    std::unique_ptr<v1::Timer> timer;
  };
  struct Subscriber {
    std::string topic;
    int64_t max_outstanding;
    std::shared_ptr<FireSink> sink;
    absl::flat_hash_map<std::string, v1::Fire> outstanding;  // sent, not yet acked
    int64_t acks_in_log = 0;  // removed from outstanding, room not yet freed
  };
  struct Topic {
    std::deque<v1::Fire> ready;
    std::vector<int64_t> subscribers;
    size_t next_subscriber = 0;  // round robin
  };
  struct Send {
    std::shared_ptr<FireSink> sink;
    std::vector<v1::Fire> fires;
  };

  void FireLoop();
  // Takes fires off the topic's ready queue for subscribers with room; send them unlocked.
  std::vector<Send> TakeForSubscribers(Topic& topic) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void SendAll(std::vector<Send> sends);
  void AckDurable(int64_t subscriber, std::vector<std::string> ids, bool durable);

  const std::vector<std::unique_ptr<GroupLog>>* const ack_logs_;
  absl::Mutex mu_;
  std::vector<Due> heap_ ABSL_GUARDED_BY(mu_);  // min-heap by due_ns
  absl::flat_hash_map<std::string, Topic> topics_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int64_t, Subscriber> subscribers_ ABSL_GUARDED_BY(mu_);
  int64_t next_subscriber_id_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t earliest_changed_ ABSL_GUARDED_BY(mu_) = 0;  // wakes the firing thread
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread fire_thread_;
};

}  // namespace chime::floor

#endif  // CHIME_TESTS_BENCH_FLOOR_FLOOR_FIRES_H_
