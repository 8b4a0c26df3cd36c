#include "server/shutdown_signals.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace chime {
namespace {

int signal_pipe[2] = {-1, -1};

extern "C" void OnShutdownSignal(int sig) {
  const int saved_errno = errno;
  const unsigned char byte = static_cast<unsigned char>(sig);
  // If the pipe is full, earlier signals are still unread: dropping this one loses nothing.
  [[maybe_unused]] ssize_t n = write(signal_pipe[1], &byte, 1);
  errno = saved_errno;
}

}  // namespace

absl::Status InstallShutdownSignals() {
  if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", strerror(errno)));
  }
  struct sigaction action = {};
  action.sa_handler = OnShutdownSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM}) {
    if (sigaction(sig, &action, nullptr) != 0) {
      return absl::InternalError(absl::StrCat("sigaction: ", strerror(errno)));
    }
  }
  return absl::OkStatus();
}

int WaitForShutdownSignal(absl::Time deadline) {
  for (;;) {
    int timeout_ms = -1;
    if (deadline != absl::InfiniteFuture()) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return 0;
      timeout_ms = static_cast<int>(std::min<int64_t>(
          absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), 60'000));
    }
    pollfd fd = {signal_pipe[0], POLLIN, 0};
    const int ready = poll(&fd, 1, timeout_ms);
    if (ready <= 0) continue;  // EINTR or a timeout slice: the deadline is checked above
    unsigned char byte = 0;
    if (read(signal_pipe[0], &byte, 1) == 1) return byte;  // another waiter may have taken it
  }
}

}  // namespace chime
