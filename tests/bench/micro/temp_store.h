// A Store in a fresh temporary directory for a microbenchmark, removed with it.
#ifndef CHIME_TESTS_BENCH_MICRO_TEMP_STORE_H_
#define CHIME_TESTS_BENCH_MICRO_TEMP_STORE_H_

#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "storage/store.h"

namespace chime::storage {

class TempStore {
 public:
  // `shards` shards, fsync on, `hot_record_bytes` for the writers' hot records (StoreOptions).
  // On failure the benchmark is marked skipped and store() is null.
  explicit TempStore(benchmark::State& state, int shards = 1,
                     size_t hot_record_bytes = StoreOptions().hot_record_bytes) {
    char tmpl[] = "/tmp/chime-micro.XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto store = Store::Open({.data_dir = dir_,
                              .shard_count = shards,
                              .fsync = true,
                              .hot_record_bytes = hot_record_bytes});
    if (!store.ok()) {
      state.SkipWithError(std::string(store.status().message()).c_str());
      return;
    }
    store_ = *std::move(store);
  }
  ~TempStore() {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  TempStore(const TempStore&) = delete;
  TempStore& operator=(const TempStore&) = delete;

  Store* store() const { return store_.get(); }

 private:
  std::string dir_;
  std::unique_ptr<Store> store_;
};

}  // namespace chime::storage

#endif  // CHIME_TESTS_BENCH_MICRO_TEMP_STORE_H_
