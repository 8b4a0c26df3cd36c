// SIGINT/SIGTERM for chimed: a handler writes the signal number to a pipe, and threads wait on
// the pipe with a deadline. A handler (not a blocked mask + sigwait) works whichever thread
// the kernel picks, including threads started before main (sanitizer runtimes start some),
// and poll's EINTR is retried, so only a real second signal or the deadline ends a wait.
#ifndef CHIME_SERVER_SHUTDOWN_SIGNALS_H_
#define CHIME_SERVER_SHUTDOWN_SIGNALS_H_

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace chime {

// Installs the handlers. Call once, early in main.
absl::Status InstallShutdownSignals();

// Waits for the next SIGINT/SIGTERM until `deadline`; returns its number, or 0 at the deadline.
int WaitForShutdownSignal(absl::Time deadline = absl::InfiniteFuture());

}  // namespace chime

#endif  // CHIME_SERVER_SHUTDOWN_SIGNALS_H_
