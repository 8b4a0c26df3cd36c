// Fault injection for tests: a RocksDB file system whose WAL syncs wait while a gate is
// held, as on a disk that stalls fsyncs. Everything else passes straight through.
//
//   auto fs = std::make_shared<GatedWalSyncFs>();
//   std::unique_ptr<rocksdb::Env> env = NewEnvOn(fs);   // StoreOptions::env = env.get()
//   fs->Hold();  ... fs->AwaitSyncWaiting(bound) ... fs->Release();
#ifndef CHIME_TESTS_TESTING_GATED_WAL_SYNC_FS_H_
#define CHIME_TESTS_TESTING_GATED_WAL_SYNC_FS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

namespace chime::testing {

class GatedWalSyncFs : public rocksdb::FileSystemWrapper {
 public:
  GatedWalSyncFs();

  static const char* kClassName() { return "GatedWalSyncFs"; }
  const char* Name() const override { return kClassName(); }

  // From Hold() until Release(), every WAL sync waits.
  void Hold();
  void Release();
  // True once a WAL sync is waiting at the held gate.
  bool AwaitSyncWaiting(absl::Duration bound);
  // WAL syncs that passed the gate so far.
  int64_t syncs() const;

  rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;

  // Called by the WAL files before each sync.
  void PassGate();

 private:
  mutable absl::Mutex mu_;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t passed_ ABSL_GUARDED_BY(mu_) = 0;
};

// An Env using `fs` for files (and the default Env's threads and clock).
std::unique_ptr<rocksdb::Env> NewEnvOn(const std::shared_ptr<GatedWalSyncFs>& fs);

}  // namespace chime::testing

#endif  // CHIME_TESTS_TESTING_GATED_WAL_SYNC_FS_H_
