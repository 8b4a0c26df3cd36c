// Time-index key encode/decode cost.
#include <benchmark/benchmark.h>

#include "storage/key_codec.h"

namespace chime::storage {
namespace {

void BM_DueKeyEncode(benchmark::State& state) {
  int64_t due = 1'700'000'000'000'000;
  for (auto _ : state) {
    std::string k = DueKey(due++, "default", "01HZXJ5Q3K8B7Z2M4N6P8R0T2V");
    benchmark::DoNotOptimize(k.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DueKeyEncode);

void BM_DueKeyDecode(benchmark::State& state) {
  const std::string k = DueKey(1'700'000'000'000'000, "default", "01HZXJ5Q3K8B7Z2M4N6P8R0T2V");
  for (auto _ : state) {
    auto e = DecodeDueKey(k);
    benchmark::DoNotOptimize(e);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DueKeyDecode);

}  // namespace
}  // namespace chime::storage
