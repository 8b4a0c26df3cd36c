// The chime command-line tool: parses arguments, talks to chimed, prints results.
// Exit codes: 0 success, 1 error from the server (or the connection), 2 usage error.
#ifndef CHIME_CLIENT_CLI_RUN_H_
#define CHIME_CLIENT_CLI_RUN_H_

#include <ostream>
#include <string>
#include <vector>

namespace chime::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

// Runs chime with `args` (argv without the program name). Output goes to `out` (flushed after
// every line, so pipes see fires as they come) and errors, as "error: CODE: message", to `err`.
int RunChime(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace chime::cli

#endif  // CHIME_CLIENT_CLI_RUN_H_
