// Turns parsed chime command lines into API requests. Every error is INVALID_ARGUMENT naming
// the flag, and is a usage error for the CLI (exit 2).
#ifndef CHIME_CLIENT_CLI_REQUESTS_H_
#define CHIME_CLIENT_CLI_REQUESTS_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "chime/v1/timer.pb.h"
#include "client/cli/args.h"

namespace chime::cli {

// --namespace, or "default".
std::string NamespaceOf(const ParsedArgs& args);

// `chime create ...`. Reads --payload-file.
absl::StatusOr<v1::CreateTimerRequest> BuildCreateRequest(const ParsedArgs& args);

// `chime list ...`: the first page's request (page_size left to the caller) and --limit
// (0 = no limit).
struct ListPlan {
  v1::ListTimersRequest request;
  uint32_t limit = 0;
};
absl::StatusOr<ListPlan> BuildListPlan(const ParsedArgs& args);

// `chime watch ...`.
struct WatchPlan {
  std::string ns;
  std::string topic;
  uint32_t count = 0;  // 0 = until interrupted
  bool ack = true;
  uint32_t max_outstanding = 0;  // 0 = server default
};
absl::StatusOr<WatchPlan> BuildWatchPlan(const ParsedArgs& args);

// "scheduled", "SCHEDULED" or "TIMER_STATE_SCHEDULED" (any case).
absl::StatusOr<v1::TimerState> ParseTimerState(const std::string& text);
// "k=v" (the value may contain '=' and be empty; the key may not be empty).
absl::StatusOr<std::pair<std::string, std::string>> ParseLabel(const std::string& text);

}  // namespace chime::cli

#endif  // CHIME_CLIENT_CLI_REQUESTS_H_
