// Create-time validation of a webhook URL (the connect-time check in WebhookClient is the one
// that enforces SSRF for hostnames; this catches what is knowable up front). Thread-safe.
#ifndef CHIME_SERVER_WEBHOOK_URL_CHECK_H_
#define CHIME_SERVER_WEBHOOK_URL_CHECK_H_

#include <string>

#include "absl/status/status.h"
#include "server/webhook/address_policy.h"

namespace chime::webhook {

inline constexpr size_t kMaxWebhookUrlLength = 2048;

// OK, or INVALID_ARGUMENT naming `field` (e.g. "target.webhook.url must use http or https").
// Checks: length, http/https only, a host, no userinfo, port 1..65535, no fragment, and a
// literal IP host against `policy`.
absl::Status CheckWebhookUrl(const std::string& url, const AddressPolicy& policy,
                             const std::string& field = "target.webhook.url");

}  // namespace chime::webhook

#endif  // CHIME_SERVER_WEBHOOK_URL_CHECK_H_
