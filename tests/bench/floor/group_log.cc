#include "tests/bench/floor/group_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace chime::floor {

int OpenLogOrExit(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    perror(path.c_str());
    std::exit(1);
  }
  return fd;
}

bool WriteAt(int fd, const std::string& bytes, int64_t offset, bool sync) {
  return ::pwrite(fd, bytes.data(), bytes.size(), offset) == static_cast<ssize_t>(bytes.size()) &&
         (!sync || ::fdatasync(fd) == 0);
}

GroupLog::GroupLog(const std::string& path, bool sync, int64_t preallocate_bytes)
    : sync_(sync), fd_(OpenLogOrExit(path)) {
  if (preallocate_bytes > 0) {
    const std::string zeros(1 << 20, '\0');
    for (int64_t done = 0; done < preallocate_bytes; done += static_cast<int64_t>(zeros.size())) {
      if (::write(fd_, zeros.data(), zeros.size()) != static_cast<ssize_t>(zeros.size())) {
        perror(path.c_str());
        std::exit(1);
      }
    }
    ::fsync(fd_);
  }
  thread_ = std::thread([this] { Run(); });
}

GroupLog::~GroupLog() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
  ::close(fd_);
}

void GroupLog::Append(std::string record, Done done) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(Pending{std::move(record), std::move(done)});
}

void GroupLog::Run() {
  std::vector<Pending> group;
  std::string buffer;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &GroupLog::HasWorkOrStopping));
      if (queue_.empty()) return;  // stopping, nothing left
      group.swap(queue_);
    }
    buffer.clear();
    for (const Pending& pending : group) buffer.append(pending.record);
    // Within the preallocated zeros an overwrite; past them the file grows.
    const bool durable = WriteAt(fd_, buffer, offset_, sync_);
    offset_ += static_cast<int64_t>(buffer.size());
    for (Pending& pending : group) std::move(pending.done)(durable);
    group.clear();
  }
}

}  // namespace chime::floor
