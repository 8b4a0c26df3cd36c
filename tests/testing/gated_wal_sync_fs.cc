#include "tests/testing/gated_wal_sync_fs.h"

#include <utility>

#include "absl/strings/match.h"

namespace chime::testing {
namespace {

class GatedWalFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  GatedWalFile(std::unique_ptr<rocksdb::FSWritableFile> file, GatedWalSyncFs* fs)
      : FSWritableFileOwnerWrapper(std::move(file)), fs_(fs) {}

  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    fs_->PassGate();
    return target()->Sync(options, dbg);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    fs_->PassGate();
    return target()->Fsync(options, dbg);
  }

 private:
  GatedWalSyncFs* const fs_;
};

}  // namespace

GatedWalSyncFs::GatedWalSyncFs() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}

std::unique_ptr<rocksdb::Env> NewEnvOn(const std::shared_ptr<GatedWalSyncFs>& fs) {
  return rocksdb::NewCompositeEnv(fs);
}

void GatedWalSyncFs::Hold() {
  absl::MutexLock lock(&mu_);
  held_ = true;
}

void GatedWalSyncFs::Release() {
  absl::MutexLock lock(&mu_);
  held_ = false;
}

bool GatedWalSyncFs::AwaitSyncWaiting(absl::Duration bound) {
  absl::MutexLock lock(&mu_);
  auto waiting = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return waiting_ > 0; };
  return mu_.AwaitWithTimeout(absl::Condition(&waiting), bound);
}

void GatedWalSyncFs::PassGate() {
  absl::MutexLock lock(&mu_);
  ++waiting_;
  auto open = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !held_; };
  mu_.Await(absl::Condition(&open));
  --waiting_;
  ++passed_;
}

int64_t GatedWalSyncFs::syncs() const {
  absl::MutexLock lock(&mu_);
  return passed_;
}

rocksdb::IOStatus GatedWalSyncFs::NewWritableFile(const std::string& fname,
                                                  const rocksdb::FileOptions& options,
                                                  std::unique_ptr<rocksdb::FSWritableFile>* result,
                                                  rocksdb::IODebugContext* dbg) {
  rocksdb::IOStatus s = target()->NewWritableFile(fname, options, result, dbg);
  if (s.ok() && absl::EndsWith(fname, ".log")) {
    *result = std::make_unique<GatedWalFile>(std::move(*result), this);
  }
  return s;
}

}  // namespace chime::testing
