// Human time text: durations like "90s", "5m", "1h30m", "250ms" and RFC 3339 instants.
// Used by the CLI and by configuration flags.
#ifndef CHIME_COMMON_TIME_TEXT_H_
#define CHIME_COMMON_TIME_TEXT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace chime {

// Parses a non-negative duration: a sequence of <number><unit> with units
// ns, us, ms, s, m, h, d ("1h30m", "1.5s"). Errors name the text.
absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text);
// Shortest readable form: "90s" -> "1m30s", "250ms".
std::string FormatDuration(absl::Duration d);

// Parses RFC 3339 ("2026-12-01T09:00:00Z", "2026-12-01T10:00:00.5+01:00").
absl::StatusOr<absl::Time> ParseRfc3339(absl::string_view text);
// RFC 3339 in UTC with as many fractional digits as needed.
std::string FormatRfc3339(absl::Time t);

}  // namespace chime

#endif  // CHIME_COMMON_TIME_TEXT_H_
