// Webhook metrics: attempts by outcome (chime_webhook_attempts_total{outcome=ack|retry|
// dead_letter}) and request latency (chime_webhook_latency_seconds). Inert without a registry.
#ifndef CHIME_SERVER_WEBHOOK_WEBHOOK_METRICS_H_
#define CHIME_SERVER_WEBHOOK_WEBHOOK_METRICS_H_

#include "absl/time/time.h"
#include "metrics/registry.h"
#include "server/webhook/http_client.h"

namespace chime::webhook {

// Thread-safe (lock-free updates). The registry must outlive this object.
class WebhookMetrics {
 public:
  explicit WebhookMetrics(metrics::Registry* registry);
  void Attempted(Outcome outcome, absl::Duration latency) const;

 private:
  metrics::Counter* ack_ = nullptr;
  metrics::Counter* retry_ = nullptr;
  metrics::Counter* dead_letter_ = nullptr;
  metrics::Histogram* latency_ = nullptr;
};

}  // namespace chime::webhook

#endif  // CHIME_SERVER_WEBHOOK_WEBHOOK_METRICS_H_
