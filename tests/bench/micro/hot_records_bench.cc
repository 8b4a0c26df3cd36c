// HotRecords at a herd's size: 250,000 timer records (a 1M herd over 4 shards), read and
// replaced in an order unrelated to their insertion, as fires and acks do.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/hot_records.h"

namespace chime::storage {
namespace {

constexpr int kRecords = 250'000;

std::vector<std::string> Keys() {
  std::vector<std::string> keys;
  for (int i = 0; i < kRecords; ++i) {
    keys.push_back(absl::StrCat("t", "default", std::string(1, '\0'), "t_01JE4Z3Q8W",
                                absl::Dec(i, absl::kZeroPad10), "RXJ4T9"));
  }
  return keys;
}

// Find of a present key, then (range(0) == 1) a Put replacing its value, as a fire's
// KeepTimerHot does.
void BM_HotRecordsFindThenPut(benchmark::State& state) {
  const bool put = state.range(0) != 0;
  const std::vector<std::string> keys = Keys();
  const std::string value(220, 'v');
  HotRecords hot(size_t{1} << 30);
  for (int i = 0; i < kRecords; ++i) hot.Put(keys[i], value, i);
  std::vector<int> order(kRecords);
  for (int i = 0; i < kRecords; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(1));
  size_t next = 0;
  int64_t rank = kRecords;
  for (auto _ : state) {
    const std::string& key = keys[order[next]];
    next = (next + 1) % order.size();
    std::optional<absl::string_view> found = hot.Find(key);
    benchmark::DoNotOptimize(found->data()[found->size() - 1]);
    if (put) hot.Put(key, value, rank++);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HotRecordsFindThenPut)->Arg(0)->Arg(1);

// A herd's life in one shard's kept records: 250,000 timers put at one rank (their common due
// time), then each read and erased in an unrelated order, as its fire and ack do. Per record.
void BM_HotRecordsHerdPutFindErase(benchmark::State& state) {
  const std::vector<std::string> keys = Keys();
  const std::string value(220, 'v');
  std::vector<int> order(kRecords);
  for (int i = 0; i < kRecords; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(1));
  for (auto _ : state) {
    HotRecords hot(size_t{1} << 30);
    for (const std::string& key : keys) hot.Put(key, value, 1);
    for (int i : order) {
      benchmark::DoNotOptimize(hot.Find(keys[i])->size());
      hot.Erase(keys[i]);
    }
  }
  state.SetItemsProcessed(state.iterations() * kRecords);
}
BENCHMARK(BM_HotRecordsHerdPutFindErase)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace chime::storage
