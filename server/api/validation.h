// Checks every field of the public requests against common/limits.h and turns them into the
// engine's and the delivery manager's inputs. Errors are INVALID_ARGUMENT with a message that
// names the field and the limit (`payload is 70000 bytes, limit 65536`).
//
//   CHIME_ASSIGN_OR_RETURN(engine::CreateSpec spec, ValidateCreate(request, clock->Now()));
//
// Pure functions; thread-safe.
#ifndef CHIME_SERVER_API_VALIDATION_H_
#define CHIME_SERVER_API_VALIDATION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "chime/v1/timer.pb.h"
#include "server/engine/engine.h"
#include "server/webhook/address_policy.h"

namespace chime::api {

// A validated (namespace, timer_id) for Get and Cancel.
struct TimerRef {
  std::string ns;
  std::string timer_id;
};

struct SubscribeParams {
  std::string ns;
  std::string topic;
  uint32_t max_outstanding = 0;
};

// The SSRF policy of a server with no --webhook-allow: every non-public address refused.
const webhook::AddressPolicy& DefaultWebhookPolicy();

// `now` resolves `delay` and bounds `fire_at`; a webhook URL with a literal address must pass
// `webhook_policy`.
absl::StatusOr<engine::CreateSpec> ValidateCreate(
    const v1::CreateTimerRequest& request, absl::Time now,
    const webhook::AddressPolicy& webhook_policy = DefaultWebhookPolicy());
absl::StatusOr<TimerRef> ValidateGet(const v1::GetTimerRequest& request);
absl::StatusOr<TimerRef> ValidateCancel(const v1::CancelTimerRequest& request);
absl::StatusOr<TimerRef> ValidatePause(const v1::PauseTimerRequest& request);
absl::StatusOr<TimerRef> ValidateResume(const v1::ResumeTimerRequest& request);
// Returns the request with the namespace and an interval's start (`now`) defaulted; fields are
// checked as in ValidateCreate.
absl::StatusOr<v1::UpdateTimerRequest> ValidateUpdate(const v1::UpdateTimerRequest& request,
                                                      absl::Time now);
// Returns the request with the namespace and page size defaulted.
absl::StatusOr<v1::ListTimersRequest> ValidateList(const v1::ListTimersRequest& request);
absl::StatusOr<SubscribeParams> ValidateSubscribeStart(const v1::SubscribeStart& start);
// Only the message shape is checked: a malformed or unknown fire id is answered with
// ACK_OUTCOME_UNKNOWN, not an error.
absl::Status ValidateAck(const v1::Acknowledge& ack);
// Returns the requested redelivery delay (nullopt: unset).
absl::StatusOr<std::optional<absl::Duration>> ValidateNack(const v1::NegativeAcknowledge& nack);

// A 64-bit FNV-1a hash of the deterministic serialization of `request` (namespace
// defaulted, nothing else changed): the same request gives the same value in every process
// and version, so an idempotent retry after a restart is recognised.
uint64_t RequestFingerprint(const v1::CreateTimerRequest& request);
uint64_t Fnv1a64(absl::string_view bytes);

}  // namespace chime::api

#endif  // CHIME_SERVER_API_VALIDATION_H_
