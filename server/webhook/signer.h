// Webhook request signing. A receiver verifies origin and rejects replays with:
//   Chime-Timestamp: <unix seconds>
//   Chime-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
//   Idempotency-Key: <fire_id>   (same on every attempt of one fire: dedupe on it)
// Verification (Python):
//   import hmac, hashlib, time
//   ts = headers["Chime-Timestamp"]
//   want = "v1=" + hmac.new(secret, f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
//   ok = hmac.compare_digest(want, headers["Chime-Signature"]) and abs(time.time() - int(ts)) < 300
#ifndef CHIME_SERVER_WEBHOOK_SIGNER_H_
#define CHIME_SERVER_WEBHOOK_SIGNER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace chime::webhook {

inline constexpr char kIdempotencyKeyHeader[] = "Idempotency-Key";
inline constexpr char kTimestampHeader[] = "Chime-Timestamp";
inline constexpr char kSignatureHeader[] = "Chime-Signature";

// Lowercase hex HMAC-SHA256(secret, "<unix_seconds>.<body>").
std::string ComputeSignature(const std::string& secret, int64_t unix_seconds,
                             const std::string& body);

// The headers for one attempt: Idempotency-Key, Chime-Timestamp, and Chime-Signature when a
// secret is known for the namespace (nullopt = unsigned).
std::vector<std::pair<std::string, std::string>> SignedHeaders(
    const std::string& fire_id, absl::Time now, const std::string& body,
    const std::optional<std::string>& secret);

// What a receiver does (used by tests): OK when `signature_header` ("v1=<hex>") matches and the
// timestamp is within `tolerance` of `now`; Unauthenticated otherwise, saying why.
absl::Status VerifySignature(const std::string& secret, const std::string& timestamp_header,
                             const std::string& signature_header, const std::string& body,
                             absl::Time now, absl::Duration tolerance = absl::Minutes(5));

// Per-namespace secrets from `chimed --webhook-secret NS=SECRET` (repeatable) or a file of such
// lines (blank lines and lines starting with '#' ignored). Immutable once built: thread-safe
// to read.
class WebhookSecrets {
 public:
  // InvalidArgument naming the entry (never echoing the secret) for a malformed one or a
  // namespace given twice.
  absl::Status Add(const std::string& ns_equals_secret);
  absl::Status LoadFile(const std::string& path);
  std::optional<std::string> Find(const std::string& ns) const;
  size_t size() const { return secrets_.size(); }

 private:
  std::map<std::string, std::string> secrets_;
};

}  // namespace chime::webhook

#endif  // CHIME_SERVER_WEBHOOK_SIGNER_H_
