// Log files that share one queue of records: a group goes to whichever file is free, so a
// group waits for no other group's sync while a file is free. The group is written and synced
// either by a thread per file, or by the caller whose record found a file free (then a gRPC
// thread writes and syncs, with no hand-off to another thread). These are the floor server's
// other designs for a durable create, against GroupLog's one queue per file.
#ifndef CHIME_TESTS_BENCH_FLOOR_SHARED_LOGS_H_
#define CHIME_TESTS_BENCH_FLOOR_SHARED_LOGS_H_

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "tests/bench/floor/group_log.h"
#include "tests/bench/floor/rocks_log.h"

namespace chime::floor {

class SharedLogs {
 public:
  enum class Writer { kLogThreads, kCaller };

  // Files are `path_prefix` + 0..count-1. Exits the process if one cannot be opened.
  SharedLogs(const std::string& path_prefix, int count, bool sync, Writer writer);
  ~SharedLogs();  // with log threads: writes what is queued, then stops

  // Groups go to `rocks` (one database) instead of the files. Needs one file, before Append.
  void WriteToRocksDb(RocksLog* rocks) { rocks_ = rocks; }

  // With kCaller, may write and sync groups (and run their callbacks) before returning.
  void Append(std::string record, GroupLog::Done done);

 private:
  struct Pending {
    std::string record;
    GroupLog::Done done;
  };
  struct File {
    int fd = -1;
    int64_t offset = 0;  // only the file's current writer touches it
  };

  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || !queue_.empty();
  }
  void RunLogThread(File* file);
  // Writes and syncs `group` to `file`, then runs each record's callback.
  void WriteGroup(File* file, std::vector<Pending>* group);

  const bool sync_;
  const Writer writer_;
  RocksLog* rocks_ = nullptr;  // with one file, whose writer is the only caller
  std::vector<File> files_;
  absl::Mutex mu_;
  std::vector<Pending> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<File*> free_files_ ABSL_GUARDED_BY(mu_);  // kCaller: files nobody writes now
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace chime::floor

#endif  // CHIME_TESTS_BENCH_FLOOR_SHARED_LOGS_H_
