#include "server/webhook/webhook_metrics.h"

#include <cstdio>
#include <cstdlib>

namespace chime::webhook {
namespace {

// Registration only fails on a programming error (a clashing name): say so and stop.
template <typename T>
T* Must(absl::StatusOr<T*> family) {
  if (!family.ok()) {
    fprintf(stderr, "chimed: webhook metrics: %s\n", family.status().ToString().c_str());
    abort();
  }
  return *family;
}

}  // namespace

WebhookMetrics::WebhookMetrics(metrics::Registry* registry) {
  if (registry == nullptr) return;
  auto* attempts = Must(registry->AddCounter(
      "chime_webhook_attempts_total",
      "Webhook requests that ended, by outcome (ack: 2xx; retry: 408, 429, 5xx, connection "
      "error or timeout; dead_letter: other statuses, refused by the address policy).",
      {"outcome"}));
  ack_ = attempts->WithLabels({{"outcome", "ack"}});
  retry_ = attempts->WithLabels({{"outcome", "retry"}});
  dead_letter_ = attempts->WithLabels({{"outcome", "dead_letter"}});
  latency_ = Must(registry->AddHistogram("chime_webhook_latency_seconds",
                                         "Duration of webhook requests, whatever their outcome."))
                 ->WithLabels({});
}

void WebhookMetrics::Attempted(Outcome outcome, absl::Duration latency) const {
  if (ack_ == nullptr) return;
  switch (outcome) {
    case Outcome::kAck:
      ack_->Increment();
      break;
    case Outcome::kRetry:
      retry_->Increment();
      break;
    case Outcome::kDeadLetter:
      dead_letter_->Increment();
      break;
  }
  latency_->ObserveDuration(latency);
}

}  // namespace chime::webhook
