// The recurring-timer parts of the CLI: the policy flags of `chime create` and `chime next`,
// which prints the next due times of a schedule without contacting the server (computed with
// the schedule library, the same code the server runs).
//
// Thread-safe: pure functions.
#ifndef CHIME_CLIENT_CLI_RECURRING_FLAGS_H_
#define CHIME_CLIENT_CLI_RECURRING_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chime/v1/timer.pb.h"
#include "client/cli/args.h"

namespace chime::cli {

// --misfire fire-once|fire-all|skip, --overlap allow|forbid|replace, --jitter D, --spread D
// (each needs --every or --cron).
absl::Status SetRecurringOptions(const ParsedArgs& args, v1::CreateTimerRequest* request);

// `chime update ID [--every D [--start T] | --cron EXPR [--tz ZONE]] [--payload STR]
// [--label k=v]... [--misfire P] [--overlap P] [--jitter D] [--spread D]`.
absl::StatusOr<v1::UpdateTimerRequest> BuildUpdateRequest(const ParsedArgs& args);

// `chime next (--cron EXPR [--tz ZONE] | --every D [--start T]) [--from T] [--count N]`: up
// to N (default 5) due times at or after --from (default `now`), RFC 3339 with the offset of
// --tz (UTC by default), one per line.
absl::StatusOr<std::vector<std::string>> NextTimeLines(const ParsedArgs& args, absl::Time now);

}  // namespace chime::cli

#endif  // CHIME_CLIENT_CLI_RECURRING_FLAGS_H_
