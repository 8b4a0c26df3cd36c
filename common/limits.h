// Every limit a request is checked against, in one place, so error messages and
// documentation name the same numbers.
#ifndef CHIME_COMMON_LIMITS_H_
#define CHIME_COMMON_LIMITS_H_

#include <cstddef>
#include <cstdint>

namespace chime::limits {

inline constexpr size_t kMaxPayloadBytes = 64 * 1024;
inline constexpr size_t kMaxNamespaceLength = 64;
inline constexpr size_t kMaxTimerIdLength = 128;
inline constexpr size_t kMaxTopicLength = 128;
inline constexpr size_t kMaxIdempotencyKeyLength = 256;
inline constexpr size_t kMaxLabels = 32;
inline constexpr size_t kMaxLabelKeyLength = 64;
inline constexpr size_t kMaxLabelValueLength = 256;
inline constexpr size_t kMaxPageSize = 1000;
// Creates in one CreateTimers call.
inline constexpr size_t kMaxBatchCreates = 1000;
inline constexpr size_t kDefaultPageSize = 100;
// Timers further out than this are refused. Not a practical limit ("a timer due in ten years
// is as valid as one due in ten seconds"): it only keeps due times far inside int64 micros.
inline constexpr int64_t kMaxFutureSeconds = int64_t{100} * 366 * 24 * 3600;
// Recurring timers (issue 4).
inline constexpr int64_t kMinIntervalMillis = 100;
// An occurrence fired later than this after its due time counts as missed (misfire policy).
inline constexpr int64_t kMisfireThresholdMillis = 1000;
// Most missed occurrences one MISFIRE_POLICY_FIRE_ALL catch-up fires.
inline constexpr uint32_t kMaxCatchUpFires = 1000;
inline constexpr int64_t kMaxJitterSeconds = int64_t{24} * 3600;
inline constexpr int64_t kMaxSpreadSeconds = int64_t{24} * 3600;
// How many upcoming due times GetTimer reports.
inline constexpr int kUpcomingFireTimes = 5;
// A fire_at this far in the past is refused as a likely client clock or unit error.
inline constexpr int64_t kMaxPastSeconds = int64_t{24} * 3600;
inline constexpr uint32_t kDefaultMaxOutstanding = 100;
inline constexpr uint32_t kMaxMaxOutstanding = 10000;
inline constexpr uint32_t kMaxAckIdsPerMessage = 10000;
// A fire id is "<timer_id>@<occurrence>": the id, '@' and up to 20 decimal digits.
inline constexpr size_t kMaxFireIdLength = kMaxTimerIdLength + 1 + 20;
inline constexpr size_t kMaxPageTokenLength = 1024;
// Delivery policy bounds (issue 3 uses max_attempts and the backoffs).
inline constexpr int64_t kMinAckDeadlineSeconds = 1;
inline constexpr int64_t kMaxAckDeadlineSeconds = 3600;
inline constexpr uint32_t kMaxMaxAttempts = 1000;
inline constexpr int64_t kMaxBackoffSeconds = int64_t{24} * 3600;
// Longest delay a nack may ask for.
inline constexpr int64_t kMaxNackDelaySeconds = int64_t{24} * 3600;

inline constexpr char kDefaultNamespace[] = "default";

}  // namespace chime::limits

#endif  // CHIME_COMMON_LIMITS_H_
