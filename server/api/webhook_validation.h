// Create-time checks of a webhook target (`target.webhook`): the URL against the SSRF policy
// (literal addresses; hostnames are checked by the HTTP client at connect time), the method,
// the headers and the timeout. Pure; thread-safe.
#ifndef CHIME_SERVER_API_WEBHOOK_VALIDATION_H_
#define CHIME_SERVER_API_WEBHOOK_VALIDATION_H_

#include "absl/status/statusor.h"
#include "chime/v1/timer.pb.h"
#include "server/webhook/address_policy.h"

namespace chime::api {

inline constexpr size_t kMaxWebhookHeaders = 32;
inline constexpr size_t kMaxWebhookHeaderNameLength = 128;
inline constexpr size_t kMaxWebhookHeaderValueLength = 4096;

// The target with the method defaulted to POST, or INVALID_ARGUMENT naming the field
// ("target.webhook.headers[\"Host\"] is set by chime").
absl::StatusOr<v1::WebhookTarget> ValidateWebhookTarget(const v1::WebhookTarget& target,
                                                        const webhook::AddressPolicy& policy);

}  // namespace chime::api

#endif  // CHIME_SERVER_API_WEBHOOK_VALIDATION_H_
