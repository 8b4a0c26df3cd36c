#include "client/reconnect_backoff.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace chime {

absl::Duration ReconnectBackoff::NextDelay() {
  absl::Duration cap = options_.min_backoff;
  // Doubling stops at the cap, so a long outage cannot overflow the duration.
  for (int i = 0; i < failures_ && cap < options_.max_backoff; ++i) cap *= 2;
  cap = std::min(cap, options_.max_backoff);
  ++failures_;
  if (cap <= options_.min_backoff) return options_.min_backoff;
  const int64_t lo = absl::ToInt64Microseconds(options_.min_backoff);
  const int64_t hi = absl::ToInt64Microseconds(cap);
  return absl::Microseconds(absl::Uniform<int64_t>(absl::IntervalClosed, gen_, lo, hi));
}

absl::Status ValidateReconnectOptions(const ReconnectOptions& options) {
  if (options.min_backoff <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("reconnect.min_backoff is ",
                                                   absl::FormatDuration(options.min_backoff),
                                                   ", must be positive"));
  }
  if (options.max_backoff < options.min_backoff) {
    return absl::InvalidArgumentError(absl::StrCat("reconnect.max_backoff is ",
                                                   absl::FormatDuration(options.max_backoff),
                                                   ", must be at least reconnect.min_backoff (",
                                                   absl::FormatDuration(options.min_backoff), ")"));
  }
  if (options.max_backoff > absl::Hours(1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "reconnect.max_backoff is ", absl::FormatDuration(options.max_backoff), ", limit 1h"));
  }
  if (options.max_attempts < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("reconnect.max_attempts is ", options.max_attempts, ", must be >= 0"));
  }
  return absl::OkStatus();
}

bool IsRetryableStreamEnd(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:  // the server ended the stream cleanly
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kCancelled:  // by the server (ours is checked before this)
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
      return true;
    default:
      return false;
  }
}

}  // namespace chime
