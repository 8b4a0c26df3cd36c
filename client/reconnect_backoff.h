// ReconnectBackoff: the waits between a subscription's reconnect attempts. Exponential from
// min_backoff, capped at max_backoff, each wait drawn uniformly from [min_backoff, cap] (jitter)
// so clients cut off by the same server restart do not reconnect in lockstep.
//
// Not thread-safe: owned by one subscription's reader thread.
#ifndef CHIME_CLIENT_RECONNECT_BACKOFF_H_
#define CHIME_CLIENT_RECONNECT_BACKOFF_H_

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/client_options.h"

namespace chime {

class ReconnectBackoff {
 public:
  explicit ReconnectBackoff(const ReconnectOptions& options) : options_(options) {}

  // The wait before the next attempt; each call doubles the cap, up to max_backoff.
  absl::Duration NextDelay();
  // After a stream that worked: the next wait starts from min_backoff again.
  void Reset() { failures_ = 0; }
  // Consecutive failed attempts since the last Reset.
  int failures() const { return failures_; }
  // True when max_attempts is set and reached: the subscription gives up.
  bool Exhausted() const { return options_.max_attempts > 0 && failures_ >= options_.max_attempts; }

 private:
  const ReconnectOptions options_;
  int failures_ = 0;
  absl::BitGen gen_;
};

// Checks the options' bounds; names the field and the limit.
absl::Status ValidateReconnectOptions(const ReconnectOptions& options);

// Whether a subscription that ended with `status` should reconnect: the server went away,
// restarted, or asked clients to come back (UNAVAILABLE on graceful shutdown). Errors about the
// request itself (INVALID_ARGUMENT, FAILED_PRECONDITION, PERMISSION_DENIED, ...) are final.
bool IsRetryableStreamEnd(const absl::Status& status);

}  // namespace chime

#endif  // CHIME_CLIENT_RECONNECT_BACKOFF_H_
