#include "tests/bench/floor/shared_logs.h"

#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace chime::floor {

SharedLogs::SharedLogs(const std::string& path_prefix, int count, bool sync, Writer writer)
    : sync_(sync), writer_(writer), files_(static_cast<size_t>(count)) {
  for (int i = 0; i < count; ++i) files_[i].fd = OpenLogOrExit(absl::StrCat(path_prefix, i));
  if (writer_ == Writer::kCaller) {
    absl::MutexLock lock(&mu_);
    for (File& file : files_) free_files_.push_back(&file);
    return;
  }
  for (File& file : files_) threads_.emplace_back([this, &file] { RunLogThread(&file); });
}

SharedLogs::~SharedLogs() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
  for (File& file : files_) ::close(file.fd);
}

void SharedLogs::Append(std::string record, GroupLog::Done done) {
  File* file = nullptr;
  std::vector<Pending> group;
  {
    absl::MutexLock lock(&mu_);
    queue_.push_back(Pending{std::move(record), std::move(done)});
    if (writer_ != Writer::kCaller || free_files_.empty()) return;
    file = free_files_.back();
    free_files_.pop_back();
    group.swap(queue_);
  }
  // This caller writes until nothing is queued, so no record waits for a file nobody writes.
  while (true) {
    WriteGroup(file, &group);
    absl::MutexLock lock(&mu_);
    if (queue_.empty()) {
      free_files_.push_back(file);
      return;
    }
    group.swap(queue_);
  }
}

void SharedLogs::RunLogThread(File* file) {
  std::vector<Pending> group;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &SharedLogs::HasWorkOrStopping));
      if (queue_.empty()) return;  // stopping, nothing left
      group.swap(queue_);
    }
    WriteGroup(file, &group);
  }
}

void SharedLogs::WriteGroup(File* file, std::vector<Pending>* group) {
  bool durable = false;
  if (rocks_ != nullptr) {
    std::vector<const std::string*> records;
    records.reserve(group->size());
    for (const Pending& pending : *group) records.push_back(&pending.record);
    durable = rocks_->WriteGroup(records);
  } else {
    std::string buffer;
    for (const Pending& pending : *group) buffer.append(pending.record);
    durable = WriteAt(file->fd, buffer, file->offset, sync_);
    file->offset += static_cast<int64_t>(buffer.size());
  }
  for (Pending& pending : *group) std::move(pending.done)(durable);
  group->clear();
}

}  // namespace chime::floor
