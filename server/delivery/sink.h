// The delivery manager's view of one subscriber stream. Implemented by SubscribeReactor.
//
// The manager calls these from its own threads and from storage writer threads, never while
// holding its lock, and keeps the sink alive (shared_ptr) for the duration of each call. They
// must not block and must not call back into the manager synchronously.
#ifndef CHIME_SERVER_DELIVERY_SINK_H_
#define CHIME_SERVER_DELIVERY_SINK_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "chime/v1/timer.pb.h"

namespace chime::delivery {

class SubscriberSink {
 public:
  virtual ~SubscriberSink() = default;
  // Fires assigned to this subscriber (already counted against its credit).
  virtual void SendFires(std::vector<v1::Fire> fires) = 0;
  // Whether the manager hands this sink its fires serialized (SendWireFires) instead: a stream
  // writes them as they are, so each fire is encoded once, with no copy of its message to
  // make, move and destroy (~6 allocations each).
  virtual bool TakesWireFires() const { return false; }
  // The same fires, each a serialized v1::Fire.
  virtual void SendWireFires(std::vector<std::string> fires) {
    std::vector<v1::Fire> parsed(fires.size());
    for (size_t i = 0; i < fires.size(); ++i) parsed[i].ParseFromString(fires[i]);
    SendFires(std::move(parsed));
  }
  // Outcomes of acks and nacks, sent once they are durable.
  virtual void SendAckResults(std::vector<v1::AckResult> results) = 0;
  // Ends the stream with `status` (server shutdown, storage failure). The manager has
  // already unsubscribed the sink when it calls this.
  virtual void Close(const absl::Status& status) = 0;
};

}  // namespace chime::delivery

#endif  // CHIME_SERVER_DELIVERY_SINK_H_
