// Asynchronous webhook HTTP client: one thread driving a libcurl multi handle.
//
//   WebhookClient client(options);          // options.policy = AddressPolicy::FromFlags(...)
//   client.Start();
//   client.Send(request, [](WebhookResult r) { ... Classify(r) ... });  // never blocks
//   client.Stop();                           // in-flight and queued requests end kCancelled
//
// SSRF: every socket curl opens goes through CURLOPT_OPENSOCKETFUNCTION, which checks the
// resolved address about to be connected against the AddressPolicy and refuses it before any
// packet is sent — a hostname that resolves (or re-resolves) to a private address is caught.
// Proxies from the environment and redirects are disabled for the same reason.
#ifndef CHIME_SERVER_WEBHOOK_HTTP_CLIENT_H_
#define CHIME_SERVER_WEBHOOK_HTTP_CLIENT_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/webhook/address_policy.h"

namespace chime::webhook {

struct WebhookRequest {
  std::string url;
  std::string method = "POST";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  absl::Duration timeout = absl::Seconds(10);  // whole request, from when it starts
};

enum class WebhookError {
  kNone,             // got an HTTP response (any status)
  kConnect,          // DNS, refused, unreachable, TLS handshake, reset, ...
  kTimeout,          // no complete response within the request timeout
  kRefusedByPolicy,  // destination address not allowed (SSRF policy)
  kInvalidRequest,   // bad URL / method: retrying cannot help
  kCancelled,        // client stopped
};
const char* WebhookErrorName(WebhookError e);

inline constexpr size_t kKeptBodyBytes = 512;

struct WebhookResult {
  int http_status = 0;  // 0 when no response
  std::optional<absl::Duration> retry_after;
  WebhookError error = WebhookError::kNone;
  std::string error_message;  // human-readable detail for errors (policy reason, curl error)
  std::string body_prefix;    // first kKeptBodyBytes of the response body
  absl::Duration latency;     // from start of the transfer to completion
  std::string remote_ip;      // the address connected to, when known
};

enum class Outcome { kAck, kRetry, kDeadLetter };
const char* OutcomeName(Outcome o);

struct Classification {
  Outcome outcome;
  std::optional<absl::Duration> retry_after;  // only for kRetry: the server's wish, if any
  std::string reason;                         // "HTTP 404", "timeout", ...
};

// 2xx → ACK; 408, 429, 5xx, connection errors, timeouts, cancellation → RETRY (with
// Retry-After); other statuses (4xx, and 1xx/3xx since redirects are not followed) and
// policy refusals / invalid requests → DEAD_LETTER.
Classification Classify(const WebhookResult& result);

// Retry-After: delta-seconds or an HTTP-date (IMF-fixdate, RFC 850, asctime). nullopt when
// unparseable; a date in the past gives zero.
std::optional<absl::Duration> ParseRetryAfter(const std::string& value, absl::Time now);

struct WebhookClientOptions {
  AddressPolicy policy;
  int max_concurrent = 64;  // requests in flight, all hosts
  int max_per_host = 8;     // requests in flight per scheme://host:port
  bool verify_tls = true;   // certificate + hostname verification for https
  std::string ca_file;      // "" = system default
  std::string user_agent = "chime-webhook/1";
};

// Thread-safe. Send never blocks on the network; `done` runs on the client thread (exactly
// once per Send) and must be quick and must not call Stop. Queued requests beyond the
// concurrency limits wait in FIFO order per host.
class WebhookClient {
 public:
  explicit WebhookClient(WebhookClientOptions options);
  ~WebhookClient();  // Stop()s
  WebhookClient(const WebhookClient&) = delete;
  WebhookClient& operator=(const WebhookClient&) = delete;

  void Start();
  // After Stop (or before Start), `done` is called inline with kCancelled.
  void Send(WebhookRequest request, std::function<void(WebhookResult)> done);
  // Cancels queued and in-flight requests (their callbacks run with kCancelled), joins the
  // thread. Idempotent.
  void Stop();

  // Requests queued or in flight (for tests and metrics).
  size_t outstanding() const;

  // Implementation detail (libcurl callbacks need the name); not part of the interface.
  struct Transfer;

 private:
  void Run();

  const WebhookClientOptions options_;
  void* multi_ = nullptr;  // CURLM*, used only by the client thread after Start

  mutable absl::Mutex mu_;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<std::unique_ptr<Transfer>> incoming_ ABSL_GUARDED_BY(mu_);
  size_t outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace chime::webhook

#endif  // CHIME_SERVER_WEBHOOK_HTTP_CLIENT_H_
