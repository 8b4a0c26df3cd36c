// `chime dlq list|replay|purge`: the dead letters of a namespace.
#ifndef CHIME_CLIENT_CLI_DLQ_H_
#define CHIME_CLIENT_CLI_DLQ_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chime/v1/timer.pb.h"

namespace chime::cli {

// One dead letter per line: fire id, timer id, topic, attempts, last error.
std::string DeadLetterLine(const v1::DeadLetter& dead);
// One JSON object (proto field names).
std::string DeadLetterJson(const v1::DeadLetter& dead);

// Thin synchronous calls with a deadline of `timeout`.
absl::StatusOr<v1::ListDeadLettersResponse> ListDeadLetters(const std::string& server,
                                                            const v1::ListDeadLettersRequest& req,
                                                            absl::Duration timeout);
// `replay` is true for ReplayDeadLetter, false for PurgeDeadLetter.
absl::StatusOr<v1::DeadLetter> SettleDeadLetter(const std::string& server, bool replay,
                                                const std::string& ns, const std::string& fire_id,
                                                absl::Duration timeout);

}  // namespace chime::cli

#endif  // CHIME_CLIENT_CLI_DLQ_H_
