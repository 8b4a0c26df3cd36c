// TimerHeap push/pop cost per entry at several heap sizes, and the cost of a create landing in
// a full window (ExchangeLatest).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "server/engine/timer_heap.h"
#include "server/engine/timer_id.h"

namespace chime::engine {
namespace {

// Each iteration pushes `entries` into a new heap and pops them all.
void PushAllThenPopAll(benchmark::State& state, const std::vector<HeapEntry>& entries) {
  std::vector<HeapEntry> out;
  for (auto _ : state) {
    TimerHeap heap;
    for (const HeapEntry& e : entries) heap.Push(e);
    out.clear();
    heap.PopDue(INT64_MAX, entries.size(), &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(entries.size()));
}

void BM_HeapPushPopAll(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::mt19937_64 rng(1);
  std::vector<HeapEntry> entries;
  for (int i = 0; i < n; ++i) {
    entries.push_back(HeapEntry{.due_us = static_cast<int64_t>(rng() % 1'000'000'000),
                                .version = 1,
                                .ns = "default",
                                .timer_id = absl::StrCat("t", i, "-0123456789abcdef")});
  }
  PushAllThenPopAll(state, entries);
}
BENCHMARK(BM_HeapPushPopAll)->Arg(1000)->Arg(100000);

// A herd: n timers due at one instant with server-generated ids, so every comparison falls to
// the ids, which share their leading (creation time) characters.
void BM_HeapPushPopHerd(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::mt19937_64 rng(3);
  std::vector<HeapEntry> entries;
  for (int i = 0; i < n; ++i) {
    entries.push_back(HeapEntry{.due_us = 1'000'000'000,
                                .version = 1,
                                .ns = "default",
                                .timer_id = NewTimerId(absl::FromUnixMillis(1'700'000'000'000))});
  }
  std::shuffle(entries.begin(), entries.end(), rng);
  PushAllThenPopAll(state, entries);
}
BENCHMARK(BM_HeapPushPopHerd)->Arg(1000)->Arg(250000);

// A full heap of n entries takes creates that land in its window: with range(1) == 0 each is
// later than all (a herd created in id order after the heap filled), with 1 each is earlier
// than the latest (timers due sooner than a full window's end), so the latest goes out.
void BM_HeapExchangeLatestFull(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const bool earlier = state.range(1) != 0;
  std::mt19937_64 rng(2);
  TimerHeap heap;
  for (int i = 0; i < n; ++i) {
    heap.Push(HeapEntry{.due_us = 1'000'000'000 + static_cast<int64_t>(rng() % 1'000'000'000),
                        .version = 1,
                        .ns = "default",
                        .timer_id = absl::StrCat("t", i, "-0123456789abcdef")});
  }
  int64_t i = 0;
  for (auto _ : state) {
    const int64_t due = earlier ? static_cast<int64_t>(rng() % 1'000'000'000) : 3'000'000'000;
    HeapEntry out = heap.ExchangeLatest(HeapEntry{
        .due_us = due, .version = 1, .ns = "default", .timer_id = absl::StrCat("n", i++)});
    benchmark::DoNotOptimize(out.due_us);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HeapExchangeLatestFull)->ArgsProduct({{1000, 200000}, {0, 1}});

}  // namespace
}  // namespace chime::engine
