// How the chime CLI prints fires and timers: one human line, a multi-line detail view, or one
// JSON object per line (--json) with the proto's snake_case field names. Payloads are shown as
// text when they are valid UTF-8 ("payload") and as base64 otherwise ("payload_base64").
#ifndef CHIME_CLIENT_CLI_OUTPUT_H_
#define CHIME_CLIENT_CLI_OUTPUT_H_

#include <string>

#include "chime/v1/timer.pb.h"

namespace chime::cli {

// "<fire_time> <fire_id> timer=<id> attempt=<n> late=<fire_time - scheduled_time> payload=<text>"
std::string FireLine(const v1::Fire& fire);
std::string FireJson(const v1::Fire& fire);

// "<timer_id> <STATE> <next_fire_time or -> <topic=T | webhook=URL>", for list and cancel.
std::string TimerLine(const v1::Timer& timer);
// "field: value" lines, for get.
std::string TimerDetails(const v1::Timer& timer);
std::string TimerJson(const v1::Timer& timer);

// "SCHEDULED" for TIMER_STATE_SCHEDULED.
std::string StateName(v1::TimerState state);

}  // namespace chime::cli

#endif  // CHIME_CLIENT_CLI_OUTPUT_H_
