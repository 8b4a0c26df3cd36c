// The chime CLI's commands and flags (DESIGN.md's user-facing contract), as parser input and
// help text.
#ifndef CHIME_CLIENT_CLI_SPEC_H_
#define CHIME_CLIENT_CLI_SPEC_H_

#include "client/cli/args.h"

namespace chime::cli {

inline constexpr char kDefaultServer[] = "localhost:7070";

const CliSpec& ChimeSpec();

}  // namespace chime::cli

#endif  // CHIME_CLIENT_CLI_SPEC_H_
