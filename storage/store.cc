#include "storage/store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <system_error>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "rocksdb/cache.h"
#include "rocksdb/env.h"
#include "rocksdb/write_buffer_manager.h"
#include "storage/shard_deps.h"

namespace chime::storage {
namespace fs = std::filesystem;

namespace {

// Shard dirs are named with three digits, so a data dir holds at most 1000 shards.
constexpr int kMaxShards = 1000;
// Shards are opened (recovery replays each WAL) and flushed in parallel, by at most this many
// threads.
constexpr int kMaxShardThreads = 8;

// Runs fn(0) .. fn(count - 1), each once, on up to kMaxShardThreads threads (this one too).
void ForEachShardInParallel(int count, const std::function<void(int)>& fn) {
  std::atomic<int> next{0};
  auto work = [&] {
    for (int i = next++; i < count; i = next++) fn(i);
  };
  std::vector<std::thread> threads;
  const int n_threads = std::min(count, kMaxShardThreads);
  for (int t = 1; t < n_threads; ++t) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
}

std::string ShardDirName(int i) { return absl::StrFormat("%03d", i); }

bool IsShardDirName(const std::string& name) {
  return name.size() == 3 && std::all_of(name.begin(), name.end(), absl::ascii_isdigit);
}

// The number of shards of an existing `shards` dir: its NNN entries must be 000..N-1.
absl::StatusOr<int> CountShardDirs(const std::string& data_dir, const fs::path& shards_dir) {
  std::vector<int> found;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(shards_dir, ec)) {
    std::string name = entry.path().filename().string();
    if (IsShardDirName(name)) found.push_back(std::stoi(name));
  }
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("listing ", shards_dir.string(), ": ", ec.message()));
  }
  std::sort(found.begin(), found.end());
  if (found.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("data dir ", data_dir, " has a shards/ dir without any shard"));
  }
  for (size_t i = 0; i < found.size(); ++i) {
    if (found[i] != static_cast<int>(i)) {
      return absl::FailedPreconditionError(
          absl::StrCat("data dir ", data_dir, " has ", found.size(), " shard dirs but shard ",
                       ShardDirName(static_cast<int>(i)), " is missing"));
    }
  }
  return static_cast<int>(found.size());
}

// Opens shards 0..count-1 under `dir` in parallel; the first error (lowest shard) wins and
// closes the others.
absl::StatusOr<std::vector<std::unique_ptr<ShardStore>>> OpenShards(const fs::path& dir, int count,
                                                                    const ShardStore::Deps& deps) {
  std::vector<absl::StatusOr<std::unique_ptr<ShardStore>>> opened(count);
  ForEachShardInParallel(count, [&](int i) {
    opened[i] = ShardStore::Open(i, (dir / ShardDirName(i)).string(), deps);
  });

  std::vector<std::unique_ptr<ShardStore>> shards;
  shards.reserve(count);
  for (auto& shard : opened) {
    if (!shard.ok()) return shard.status();
    shards.push_back(std::move(*shard));
  }
  return shards;
}

absl::Status SyncDir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("opening ", dir.string()));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return absl::UnavailableError(absl::StrCat("syncing ", dir.string()));
  return absl::OkStatus();
}

// Creates every shard under shards.init/ and renames it to shards/ once all exist, so a crash
// during creation never leaves a half-made data dir that later looks real.
absl::Status CreateShards(const std::string& data_dir, int count, ShardStore::Deps deps) {
  fs::path init_dir = fs::path(data_dir) / "shards.init";
  std::error_code ec;
  fs::remove_all(init_dir, ec);  // left by a crashed creation: it never held acknowledged data
  fs::create_directories(init_dir, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("creating ", init_dir.string(), ": ", ec.message()));
  }
  deps.create = true;
  deps.shard_count = static_cast<uint32_t>(count);
  {
    absl::StatusOr<std::vector<std::unique_ptr<ShardStore>>> created =
        OpenShards(init_dir, count, deps);
    if (!created.ok()) return created.status();
  }  // closed here
  fs::rename(init_dir, fs::path(data_dir) / "shards", ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("renaming ", init_dir.string(), " to shards: ", ec.message()));
  }
  return SyncDir(data_dir);
}

}  // namespace

int DefaultShardCount() {
  const int threads = static_cast<int>(std::thread::hardware_concurrency());
  return std::clamp(threads, 2, 16);
}

struct Store::Shared {
  std::shared_ptr<rocksdb::Cache> block_cache;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffer_manager;
  // Read by every shard's compaction filters; outlives the shards.
  RetentionOptions retention;
};

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  if (options.data_dir.empty()) return absl::InvalidArgumentError("data dir is empty");
  if (options.shard_count < 0 || options.shard_count > kMaxShards) {
    return absl::InvalidArgumentError(absl::StrCat("shard count is ", options.shard_count,
                                                   ", must be between 1 and ", kMaxShards));
  }
  const std::string& data_dir = options.data_dir;
  auto shared = std::make_unique<Shared>();
  shared->block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  shared->write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(options.write_buffer_bytes);

  ShardStore::Deps deps;
  deps.block_cache = shared->block_cache;
  deps.write_buffer_manager = shared->write_buffer_manager;
  deps.env = options.env != nullptr ? options.env : rocksdb::Env::Default();
  // Compactions share the LOW pool, flushes the HIGH pool, across every shard.
  int threads = std::max(1, options.background_threads);
  deps.env->SetBackgroundThreads(threads, rocksdb::Env::Priority::LOW);
  deps.env->SetBackgroundThreads(1, rocksdb::Env::Priority::HIGH);
  deps.max_background_jobs = threads + 1;
  deps.fsync = options.fsync;
  deps.max_group_size = options.max_group_size;
  deps.deferred_sync_delay = options.deferred_sync_delay;
  deps.hot_timer_horizon = options.hot_timer_horizon;
  deps.hot_record_clock = options.hot_record_clock;
  deps.request_thread_slot = std::make_shared<std::atomic<bool>>(false);
  shared->retention = options.retention;
  deps.retention = &shared->retention;

  fs::path shards_dir = fs::path(data_dir) / "shards";
  std::error_code ec;
  if (!fs::exists(shards_dir, ec)) {
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("checking ", shards_dir.string(), ": ", ec.message()));
    }
    int count = options.shard_count == 0 ? DefaultShardCount() : options.shard_count;
    if (absl::Status s = CreateShards(data_dir, count, deps); !s.ok()) return s;
  }

  absl::StatusOr<int> count = CountShardDirs(data_dir, shards_dir);
  if (!count.ok()) return count.status();
  if (options.shard_count != 0 && options.shard_count != *count) {
    return absl::FailedPreconditionError(absl::StrCat("data dir ", data_dir, " has ", *count,
                                                      " shards, --shards=", options.shard_count,
                                                      " asked; re-sharding is not supported"));
  }
  deps.create = false;
  deps.shard_count = static_cast<uint32_t>(*count);
  deps.hot_record_bytes = options.hot_record_bytes / static_cast<size_t>(*count);
  absl::StatusOr<std::vector<std::unique_ptr<ShardStore>>> shards =
      OpenShards(shards_dir, *count, deps);
  if (!shards.ok()) return shards.status();
  return std::unique_ptr<Store>(new Store(std::move(shared), std::move(*shards)));
}

Store::Store(std::unique_ptr<Shared> shared, std::vector<std::unique_ptr<ShardStore>> shards)
    : shared_(std::move(shared)), shards_(std::move(shards)) {}

Store::~Store() = default;

int Store::ShardFor(absl::string_view ns, absl::string_view key) const {
  return static_cast<int>(ShardHash(ns, key) % shards_.size());
}

absl::Status Store::CloseAndFlush(uint64_t min_bytes_per_shard) {
  std::vector<absl::Status> results(shards_.size());
  ForEachShardInParallel(shard_count(), [&](int i) {
    shards_[i]->Close();
    results[i] = shards_[i]->FlushMemtables(min_bytes_per_shard);
  });
  for (absl::Status& s : results) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

uint64_t Store::DiskBytes() const {
  uint64_t total = 0;
  for (const auto& shard : shards_) total += shard->DiskBytes();
  return total;
}

uint64_t ShardHash(absl::string_view ns, absl::string_view key) {
  constexpr uint64_t kOffset = 14695981039346656037ull;
  constexpr uint64_t kPrime = 1099511628211ull;
  uint64_t h = kOffset;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= kPrime;
  };
  for (char c : ns) mix(static_cast<unsigned char>(c));
  mix(0);
  for (char c : key) mix(static_cast<unsigned char>(c));
  return h;
}

}  // namespace chime::storage
