// How webhooks plug into delivery (design for the next session; nothing here is implemented
// yet, deliberately: this header only declares the plan so the wiring has one agreed shape).
//
// What exists (server/webhook, library chime_webhook):
//   address_policy.h  AddressPolicy, ParseCidr: --webhook-allow CIDR (repeatable)
//   url_check.h       CheckWebhookUrl: create-time INVALID_ARGUMENT for target.webhook.url
//   signer.h          WebhookSecrets (--webhook-secret NS=SECRET / a file), SignedHeaders
//   fire_json.h       FireToJson: the POST body
//   http_client.h     WebhookClient (async libcurl multi), Classify: ACK / RETRY / DEAD_LETTER
//
// Wiring plan:
// 1. API (timer_service / validation): a timer's target may be `webhook { url, method, headers,
//    timeout }` instead of a topic; validation calls CheckWebhookUrl(url, policy) so literal
//    internal addresses fail at create time. Hostnames are only checked at connect time.
// 2. Engine fire transaction: the webhook target is COPIED into the pending delivery record at
//    fire time (a later UpdateTimer does not change a fire already in flight, and replaying a
//    dead letter re-uses the copied target).
// 3. Delivery: webhook fires are queued like topic fires, under an internal topic per namespace
//    (e.g. "$webhook"), and a WebhookDispatcher is an internal competing consumer of it — it
//    takes credit like a subscriber (bounded by WebhookClientOptions::max_concurrent, so the
//    engine and gRPC API never wait on a slow endpoint), and for each delivery:
//      body    = FireToJson({fire_id, timer_id, ns, scheduled, fire_time, attempt, labels,
//      payload}) headers = target headers + SignedHeaders(fire_id, now, body, secrets.Find(ns))
//      client.Send({url, method, headers, body, timeout}, done)
//    and in `done` (client thread; must only enqueue work for delivery, never block):
//      ACK         -> ack(fire_id)
//      RETRY       -> nack(fire_id, delay = max(timer backoff for this attempt, Retry-After));
//                     max_attempts still applies (then dead letter with the last error)
//      DEAD_LETTER -> dead-letter now with last_error = Classify().reason ("HTTP 404",
//                     "refused-by-policy: 10.0.0.1 is private ..."), http status and
//                     WebhookResult::body_prefix (first 512 bytes) for `chime dlq list`.
//    The attempt's ack deadline must exceed the request timeout so delivery does not redeliver
//    a request still in flight. A crash mid-request leaves the delivery pending: it is sent
//    again after restart with the same fire_id (Idempotency-Key), which receivers dedupe on.
// 4. chimed flags: --webhook-allow CIDR (repeatable), --webhook-secret NS=SECRET (repeatable),
//    --webhook-secrets-file PATH; --webhook-max-concurrent / --webhook-max-per-host.
// 5. Observability: per attempt, the status/error, latency and outcome go into the delivery
//    record (shown by `chime get`) and metrics (attempts by outcome, latency histogram).
#ifndef CHIME_SERVER_WEBHOOK_WEBHOOK_DELIVERY_H_
#define CHIME_SERVER_WEBHOOK_WEBHOOK_DELIVERY_H_

#include "server/webhook/address_policy.h"
#include "server/webhook/fire_json.h"
#include "server/webhook/http_client.h"
#include "server/webhook/signer.h"
#include "server/webhook/url_check.h"

#endif  // CHIME_SERVER_WEBHOOK_WEBHOOK_DELIVERY_H_
