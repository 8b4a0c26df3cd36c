// Runs `chimed` as a real child process for system tests: start it on a data dir with a
// loopback port chosen by the kernel, wait for its "serving" line, SIGKILL or SIGTERM it.
//
//   ASSERT_OK_AND_ASSIGN(auto chimed, ChimedProcess::Start(dir.path()));
//   auto stub = chime::v1::TimerService::NewStub(grpc::CreateChannel(chimed->address(), ...));
//   chimed->Kill();            // SIGKILL, then reaped
//
// Not thread-safe.
#ifndef CHIME_TESTS_TESTING_CHIMED_PROCESS_H_
#define CHIME_TESTS_TESTING_CHIMED_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace chime::testing {

// Path of a binary built by this build tree (CHIME_BUILD_DIR is set by chime_test).
std::string BuiltBinary(const std::string& relative_path);

class ChimedProcess {
 public:
  // Starts chimed on `data_dir` listening on 127.0.0.1 with a kernel-chosen port, and waits
  // (up to `startup_timeout`) for its serving line. The process's output is captured and
  // available through Log() so a failing test can show it.
  static absl::StatusOr<std::unique_ptr<ChimedProcess>> Start(
      const std::string& data_dir, const std::vector<std::string>& extra_args = {},
      absl::Duration startup_timeout = absl::Seconds(60));
  // The same for another binary of this build tree that takes chimed's --data-dir, --listen
  // and --http-listen and prints its "serving on" line (e.g. tests/bench/chime-floor-server).
  static absl::StatusOr<std::unique_ptr<ChimedProcess>> StartBinary(
      const std::string& relative_path, const std::string& data_dir,
      const std::vector<std::string>& extra_args = {},
      absl::Duration startup_timeout = absl::Seconds(60));
  ~ChimedProcess();  // SIGKILLs a still-running process

  const std::string& address() const { return address_; }
  // The operator HTTP address from its "http on <addr>" line; empty when HTTP is off.
  const std::string& http_address() const { return http_address_; }
  pid_t pid() const { return pid_; }
  absl::Duration startup_time() const { return startup_time_; }

  // Waits until the output contains `text` (e.g. a log line), up to `timeout`.
  bool WaitForOutput(const std::string& text, absl::Duration timeout);

  // SIGKILL and reap.
  void Kill();
  // Sends `sig` and waits up to `timeout` for exit; returns the wait status, or an error
  // (after a SIGKILL) if it did not exit in time.
  absl::StatusOr<int> Signal(int sig, absl::Duration timeout);
  // The process's output so far (stdout and stderr).
  std::string Log() const;

 private:
  ChimedProcess() = default;
  // Copies the child's output from the pipe into output_ until end of file.
  void DrainOutput(int fd);

  pid_t pid_ = -1;
  std::string address_;
  std::string http_address_;
  absl::Duration startup_time_;
  std::thread drainer_;
  mutable absl::Mutex mu_;
  std::string output_ ABSL_GUARDED_BY(mu_);
  bool output_closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace chime::testing

#endif  // CHIME_TESTS_TESTING_CHIMED_PROCESS_H_
