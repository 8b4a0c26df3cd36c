#include "tests/bench/floor/group_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace chime::floor {

GroupLog::GroupLog(const std::string& path, bool sync, int64_t preallocate_bytes) : sync_(sync) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    perror(path.c_str());
    std::exit(1);
  }
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
    const bool durable = ::pwrite(fd_, buffer.data(), buffer.size(), offset_) ==
                             static_cast<ssize_t>(buffer.size()) &&
                         (!sync_ || ::fdatasync(fd_) == 0);
    offset_ += static_cast<int64_t>(buffer.size());
    for (Pending& pending : group) std::move(pending.done)(durable);
    group.clear();
  }
}

}  // namespace chime::floor
