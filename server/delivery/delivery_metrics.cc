#include "server/delivery/delivery_metrics.h"

#include <algorithm>

namespace chime::delivery {

DeliveryMetrics::DeliveryMetrics(metrics::Registry* registry) {
  if (registry == nullptr) return;
  auto* outcomes = metrics::MustRegister(
      registry->AddCounter(
          "chime_deliveries_total",
          "Delivery attempts that ended, by outcome (acked, nacked, unknown: the fire was no "
          "longer pending, expired: the ack deadline passed, dead_lettered).",
          {"outcome"}),
      "delivery metrics");
  acked_ = outcomes->WithLabels({{"outcome", "acked"}});
  nacked_ = outcomes->WithLabels({{"outcome", "nacked"}});
  unknown_ = outcomes->WithLabels({{"outcome", "unknown"}});
  expired_ = outcomes->WithLabels({{"outcome", "expired"}});
  dead_lettered_ = outcomes->WithLabels({{"outcome", "dead_lettered"}});
  attempts_ =
      metrics::MustRegister(registry->AddCounter("chime_delivery_attempts_total",
                                                 "Fires sent to subscribers, first attempts and "
                                                 "redeliveries."),
                            "delivery metrics")
          ->WithLabels({});
  redeliveries_ =
      metrics::MustRegister(registry->AddCounter("chime_redeliveries_total",
                                                 "Fires sent to subscribers again (attempt > 1)."),
                            "delivery metrics")
          ->WithLabels({});
  ack_lateness_ = metrics::MustRegister(registry->AddHistogram(kAckLatenessName, kAckLatenessHelp),
                                        "delivery metrics")
                      ->WithLabels({});
  send_lateness_ =
      metrics::MustRegister(registry->AddHistogram(kSendLatenessName, kSendLatenessHelp),
                            "delivery metrics")
          ->WithLabels({});
}

void DeliveryMetrics::Sent(uint32_t attempt, absl::Time scheduled, absl::Time now) const {
  if (attempts_ == nullptr) return;
  attempts_->Increment();
  if (attempt > 1) {
    redeliveries_->Increment();
  } else {
    send_lateness_->ObserveDuration(std::max(absl::ZeroDuration(), now - scheduled));
  }
}

void DeliveryMetrics::Settled(v1::AckOutcome outcome, absl::Time scheduled, absl::Time now) const {
  if (acked_ == nullptr) return;
  switch (outcome) {
    case v1::ACK_OUTCOME_ACKED:
      acked_->Increment();
      if (scheduled != absl::InfinitePast()) ack_lateness_->ObserveDuration(now - scheduled);
      break;
    case v1::ACK_OUTCOME_NACKED:
      nacked_->Increment();
      break;
    default:
      unknown_->Increment();
      break;
  }
}

void DeliveryMetrics::Expired() const {
  if (expired_ != nullptr) expired_->Increment();
}

void DeliveryMetrics::DeadLettered() const {
  if (dead_lettered_ != nullptr) dead_lettered_->Increment();
}

}  // namespace chime::delivery
