// `chime status`: fetches AdminService/GetStatus and prints it as a short report, or with
// --json as one JSON object (proto field names).
#ifndef CHIME_CLIENT_CLI_STATUS_H_
#define CHIME_CLIENT_CLI_STATUS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chime/v1/admin.pb.h"

namespace chime::cli {

absl::StatusOr<v1::GetStatusResponse> FetchStatus(const std::string& server,
                                                  absl::Duration timeout = absl::Seconds(10));

// Multi-line report, ending in '\n'.
std::string StatusText(const v1::GetStatusResponse& status);
// One line of JSON, every field present.
std::string StatusJson(const v1::GetStatusResponse& status);

}  // namespace chime::cli

#endif  // CHIME_CLIENT_CLI_STATUS_H_
