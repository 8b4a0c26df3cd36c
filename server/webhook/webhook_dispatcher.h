// Delivers webhook fires: an internal competing consumer of delivery.
//
// The engine queues a webhook fire like a topic fire, under the internal topic "$webhook"
// (engine::kWebhookTopic) of its namespace, with the timer's WebhookTarget copied into the
// pending DeliveryRecord (a later UpdateTimer does not change a fire in flight; replaying a
// dead letter sends to the same place). The dispatcher subscribes to "$webhook" in every
// namespace that has such fires — found on disk at start, then announced by the delivery
// manager's unclaimed-internal-topic hook — with a window of max_concurrent fires, so
// delivery's flow control bounds the requests and neither the engine nor the gRPC API ever
// waits on an endpoint.
//
// Per fire (one worker thread; the HTTP client's thread only hands results back to it):
//   body    = FireToJson(fire), headers = target headers + Idempotency-Key, Chime-Timestamp
//             and Chime-Signature (signer.h; when the namespace has a secret)
//   outcome = Classify(result):
//     ACK         -> ack
//     RETRY       -> nack with delay = max(the timer's backoff for this attempt, Retry-After)
//                    and last_error = reason; after max_attempts, dead letter instead
//     DEAD_LETTER -> dead letter now, last_error = reason ("HTTP 404: <first bytes of the
//                    body>", "refused-by-policy: 127.0.0.1 is loopback ...")
// and every attempt's status, outcome and latency go into the timer's webhook_status (shown
// by `chime get`) and the metrics (webhook_metrics.h).
//
// The attempt's ack deadline outlasts the request timeout (delivery::WebhookAckDeadline), so
// delivery does not hand out a request still in flight; should it (the request waited long
// for a per-host slot), the dispatcher does not send the same fire twice at once. A crash
// mid-request leaves the delivery pending: it is sent again after restart with the same
// fire_id (Idempotency-Key), which receivers dedupe on.
//
// Thread-safe.
#ifndef CHIME_SERVER_WEBHOOK_WEBHOOK_DISPATCHER_H_
#define CHIME_SERVER_WEBHOOK_WEBHOOK_DISPATCHER_H_

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chime/v1/timer.pb.h"
#include "common/clock.h"
#include "metrics/registry.h"
#include "server/delivery/delivery_manager.h"
#include "server/webhook/http_client.h"
#include "server/webhook/signer.h"
#include "server/webhook/webhook_metrics.h"
#include "storage/store.h"

namespace chime::webhook {

struct WebhookDispatcherOptions {
  WebhookClientOptions client;  // SSRF policy, concurrency limits, TLS
  WebhookSecrets secrets;       // per-namespace signing secrets
  Clock* clock = Clock::Real();
  metrics::Registry* metrics = nullptr;  // nullptr: none
};

class WebhookDispatcher {
 public:
  // `store` and `delivery` must outlive the dispatcher.
  WebhookDispatcher(storage::Store* store, delivery::DeliveryManager* delivery,
                    WebhookDispatcherOptions options);
  ~WebhookDispatcher();  // Stop()

  // Starts the HTTP client and the worker, which first looks for namespaces with pending
  // webhook fires on disk.
  void Start();
  // Abandons requests in flight (their fires stay pending and are sent again after a
  // restart), unsubscribes and joins the worker. Call before stopping delivery. Idempotent.
  void Stop();

  // Namespaces consumed, for tests and status.
  std::vector<std::string> Namespaces() const;

 private:
  class Sink;
  struct Item;

  void Enqueue(Item item) ABSL_LOCKS_EXCLUDED(mu_);
  void Run();
  void DiscoverNamespaces();
  void Consume(const std::string& ns);
  // The namespace's subscription; 0 when there is none.
  delivery::SubscriberId SubscriptionOf(const std::string& ns) const ABSL_LOCKS_EXCLUDED(mu_);
  void Send(const v1::Fire& fire);
  void Finish(const v1::Fire& fire, const WebhookResult& result);
  // Records the attempt in the timer's webhook_status (an asynchronous write).
  void RecordAttempt(const v1::Fire& fire, const WebhookResult& result,
                     const Classification& outcome);

  storage::Store* const store_;
  delivery::DeliveryManager* const delivery_;
  const WebhookDispatcherOptions options_;
  const WebhookMetrics metrics_;
  WebhookClient client_;

  mutable absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Consumed namespaces and their subscriptions.
  std::map<std::string, delivery::SubscriberId> subscriptions_ ABSL_GUARDED_BY(mu_);
  std::thread worker_;

  // Worker thread only: fires whose request is queued or in flight.
  std::set<std::string> in_flight_;
};

}  // namespace chime::webhook

#endif  // CHIME_SERVER_WEBHOOK_WEBHOOK_DISPATCHER_H_
