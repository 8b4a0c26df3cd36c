// The delivery manager's metrics, looked up once so the hot paths only do relaxed atomic
// updates. Built from a registry, or inert (every call a no-op) without one.
//
//   DeliveryMetrics metrics(registry);          // registry may be nullptr
//   metrics.Sent(fire.attempt(), scheduled_time, now);
//   metrics.Settled(v1::ACK_OUTCOME_ACKED, scheduled_time, now);
#ifndef CHIME_SERVER_DELIVERY_DELIVERY_METRICS_H_
#define CHIME_SERVER_DELIVERY_DELIVERY_METRICS_H_

#include <cstdint>

#include "absl/time/time.h"
#include "chime/v1/timer.pb.h"
#include "metrics/registry.h"

namespace chime::delivery {

// Registering this name and help again returns the same histogram (for the status page).
inline constexpr char kAckLatenessName[] = "chime_fire_ack_lateness_seconds";
inline constexpr char kAckLatenessHelp[] =
    "Time from a fire's scheduled time to its acknowledgement.";
inline constexpr char kSendLatenessName[] = "chime_fire_send_lateness_seconds";
inline constexpr char kSendLatenessHelp[] =
    "Time from a fire's scheduled time to its first hand-off to a subscriber stream or webhook.";

// Thread-safe (lock-free updates). The registry must outlive this object.
class DeliveryMetrics {
 public:
  explicit DeliveryMetrics(metrics::Registry* registry);

  // A fire was handed to a subscriber at `now`; attempt > 1 is a redelivery. First attempts
  // feed the send lateness histogram: what a subscriber sees, where the engine's dispatch
  // lateness counts a fire written ahead of its due time as on time.
  void Sent(uint32_t attempt, absl::Time scheduled, absl::Time now) const;
  // An ack or nack was recorded durably with this outcome. `scheduled` (the fire's due time)
  // is InfinitePast when unknown; acks with a known one feed the ack lateness histogram.
  void Settled(v1::AckOutcome outcome, absl::Time scheduled, absl::Time now) const;
  // An attempt's ack deadline passed without an ack.
  void Expired() const;
  // A fire exhausted its attempts and moved to the dead letters.
  void DeadLettered() const;

 private:
  metrics::Counter* attempts_ = nullptr;
  metrics::Counter* redeliveries_ = nullptr;
  metrics::Counter* acked_ = nullptr;
  metrics::Counter* nacked_ = nullptr;
  metrics::Counter* unknown_ = nullptr;
  metrics::Counter* expired_ = nullptr;
  metrics::Counter* dead_lettered_ = nullptr;
  metrics::Histogram* ack_lateness_ = nullptr;
  metrics::Histogram* send_lateness_ = nullptr;
};

}  // namespace chime::delivery

#endif  // CHIME_SERVER_DELIVERY_DELIVERY_METRICS_H_
