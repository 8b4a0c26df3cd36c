// One append-only file and the thread that writes and syncs it, a group at a time: everything
// queued while the previous group was being written goes out in one write and one sync, and
// then each record's callback runs (on the log's thread) with whether it is durable.
#ifndef CHIME_TESTS_BENCH_FLOOR_GROUP_LOG_H_
#define CHIME_TESTS_BENCH_FLOOR_GROUP_LOG_H_

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace chime::floor {

// Creates (or truncates) a log file for writing; exits the process if it cannot: the floor
// server has nothing to measure then.
int OpenLogOrExit(const std::string& path);
// Writes `bytes` at `offset` of `fd` and, if `sync`, fdatasyncs it: whether both succeeded.
bool WriteAt(int fd, const std::string& bytes, int64_t offset, bool sync);

class GroupLog {
 public:
  using Done = absl::AnyInvocable<void(bool durable) &&>;

  // Exits the process if `path` cannot be opened: the floor server has nothing to measure then.
  // `preallocate_bytes` of zeros are written (and synced) first and then overwritten, so a
  // sync need not update the file's size.
  GroupLog(const std::string& path, bool sync, int64_t preallocate_bytes);
  ~GroupLog();  // writes what is queued, then stops

  void Append(std::string record, Done done);

 private:
  struct Pending {
    std::string record;
    Done done;
  };

  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || !queue_.empty();
  }
  void Run();

  const bool sync_;
  int fd_ = -1;
  int64_t offset_ = 0;  // only the log's thread writes
  absl::Mutex mu_;
  std::vector<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace chime::floor

#endif  // CHIME_TESTS_BENCH_FLOOR_GROUP_LOG_H_
