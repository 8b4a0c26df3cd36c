// RocksDB's CRC32C as chimed runs it (the CPU's instruction, storage/crc32c_override.h) against
// the library's own software code, over a WAL record's sizes.
#include <benchmark/benchmark.h>

#include <string>

#include "storage/crc32c_override.h"

extern "C" uint32_t __real__ZN7rocksdb6crc32c6ExtendEjPKcm(uint32_t crc, const char* data,
                                                           size_t n);

namespace chime::storage {
namespace {

std::string Bytes(int64_t n) {
  std::string bytes;
  for (int64_t i = 0; i < n; ++i) bytes.push_back(static_cast<char>(i * 131 + 7));
  return bytes;
}

void BM_Crc32cOverride(benchmark::State& state) {
  const std::string bytes = Bytes(state.range(0));
  for (auto _ : state) {
    benchmark::DoNotOptimize(rocksdb::crc32c::Extend(0, bytes.data(), bytes.size()));
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Crc32cOverride)->Arg(200)->Arg(32 << 10);

void BM_Crc32cRocksDbSoftware(benchmark::State& state) {
  const std::string bytes = Bytes(state.range(0));
  for (auto _ : state) {
    benchmark::DoNotOptimize(__real__ZN7rocksdb6crc32c6ExtendEjPKcm(0, bytes.data(), bytes.size()));
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Crc32cRocksDbSoftware)->Arg(200)->Arg(32 << 10);

}  // namespace
}  // namespace chime::storage
