// TimerHeap push/pop cost per entry at several heap sizes.
#include <benchmark/benchmark.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "server/engine/timer_heap.h"

namespace chime::engine {
namespace {

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
  std::vector<HeapEntry> out;
  for (auto _ : state) {
    TimerHeap heap;
    for (const HeapEntry& e : entries) heap.Push(e);
    out.clear();
    heap.PopDue(INT64_MAX, n, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_HeapPushPopAll)->Arg(1000)->Arg(100000);

}  // namespace
}  // namespace chime::engine
