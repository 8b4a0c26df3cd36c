#include "tests/testing/chimed_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace chime::testing {

std::string BuiltBinary(const std::string& relative_path) {
  const char* dir = getenv("CHIME_BUILD_DIR");
  return absl::StrCat(dir && *dir ? dir : ".", "/", relative_path);
}

namespace {

// Finds a complete "serving on <address>" line and returns the address.
std::string ServingAddress(const std::string& log, const std::string& marker = "serving on ") {
  size_t at = log.find(marker);
  if (at == std::string::npos) return "";
  size_t end = log.find_first_of(" \n", at + marker.size());
  if (end == std::string::npos) return "";
  return log.substr(at + marker.size(), end - at - marker.size());
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChimedProcess>> ChimedProcess::Start(
    const std::string& data_dir, const std::vector<std::string>& extra_args,
    absl::Duration startup_timeout) {
  return StartBinary("server/chimed", data_dir, extra_args, startup_timeout);
}

absl::StatusOr<std::unique_ptr<ChimedProcess>> ChimedProcess::StartBinary(
    const std::string& relative_path, const std::string& data_dir,
    const std::vector<std::string>& extra_args, absl::Duration startup_timeout) {
  auto proc = std::unique_ptr<ChimedProcess>(new ChimedProcess());
  std::vector<std::string> args = {BuiltBinary(relative_path), "--data-dir", data_dir, "--listen",
                                   "127.0.0.1:0"};
  // Never the default 0.0.0.0:9090: tests run in parallel.
  bool http_given = false;
  for (const std::string& a : extra_args) {
    if (a.rfind("--http-listen", 0) == 0 || a.rfind("--http_listen", 0) == 0) http_given = true;
  }
  if (!http_given) {
    args.push_back("--http-listen");
    args.push_back("127.0.0.1:0");
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  const absl::Time start = absl::Now();
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  proc->pid_ = pid;
  proc->drainer_ = std::thread([p = proc.get(), fd = fds[0]] { p->DrainOutput(fd); });

  std::string address;
  {
    absl::MutexLock lock(&proc->mu_);
    auto serving_or_closed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(proc->mu_) {
      address = ServingAddress(proc->output_);
      return !address.empty() || proc->output_closed_;
    };
    proc->mu_.AwaitWithTimeout(absl::Condition(&serving_or_closed), startup_timeout);
  }
  if (address.empty()) {
    std::string log = proc->Log();
    proc->Kill();
    return absl::UnavailableError(absl::StrCat(relative_path, " did not report serving within ",
                                               absl::FormatDuration(startup_timeout),
                                               " (or exited):\n", log));
  }
  proc->address_ = address;
  // Printed before the serving line.
  proc->http_address_ = ServingAddress(proc->Log(), "http on ");
  proc->startup_time_ = absl::Now() - start;
  return proc;
}

void ChimedProcess::DrainOutput(int fd) {
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    absl::MutexLock lock(&mu_);
    output_.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  absl::MutexLock lock(&mu_);
  output_closed_ = true;
}

bool ChimedProcess::WaitForOutput(const std::string& text, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto found = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return output_.find(text) != std::string::npos || output_closed_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&found), timeout);
  return output_.find(text) != std::string::npos;
}

ChimedProcess::~ChimedProcess() {
  Kill();
  if (drainer_.joinable()) drainer_.join();
}

void ChimedProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

absl::StatusOr<int> ChimedProcess::Signal(int sig, absl::Duration timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("chimed is not running");
  ::kill(pid_, sig);
  // The output pipe closes when the process exits: wait for that event, then reap.
  bool exited = false;
  {
    absl::MutexLock lock(&mu_);
    exited = mu_.AwaitWithTimeout(absl::Condition(&output_closed_), timeout);
  }
  if (!exited) {
    Kill();
    return absl::DeadlineExceededError("chimed did not exit in time; killed");
  }
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

std::string ChimedProcess::Log() const {
  absl::MutexLock lock(&mu_);
  return output_;
}

}  // namespace chime::testing
