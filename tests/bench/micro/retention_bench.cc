// What the retention filter spends on each timer record a flush or compaction rewrites: the
// partial read of its state and times, against a full parse of the record.
#include <benchmark/benchmark.h>

#include <string>

#include "common/proto_time.h"
#include "storage/retention.h"

namespace chime::storage {
namespace {

// A fired one-shot timer as the fire path stores it (topic target, a 100-byte payload).
std::string FiredRecord() {
  internal::TimerRecord record;
  v1::Timer& timer = *record.mutable_timer();
  timer.set_namespace_("default");
  timer.set_timer_id("01HZXJ5Q3K8B7Z2M4N6P8R0T2V");
  *timer.mutable_schedule()->mutable_fire_at() =
      ToProtoTimestamp(absl::FromUnixSeconds(1'800'000'000));
  timer.mutable_target()->set_topic("bench-fire");
  timer.set_payload(std::string(100, 'p'));
  timer.set_state(v1::TIMER_STATE_FIRED);
  timer.set_version(2);
  timer.set_fire_count(1);
  *timer.mutable_create_time() = ToProtoTimestamp(absl::FromUnixSeconds(1'800'000'000 - 60));
  *timer.mutable_last_fire_time() = ToProtoTimestamp(absl::FromUnixSeconds(1'800'000'000));
  return record.SerializeAsString();
}

void BM_RetentionReadEndFacts(benchmark::State& state) {
  const std::string value = FiredRecord();
  for (auto _ : state) {
    TimerEndFacts facts = ReadTimerEndFacts(value);
    benchmark::DoNotOptimize(facts);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RetentionReadEndFacts);

void BM_RetentionFullParse(benchmark::State& state) {
  const std::string value = FiredRecord();
  for (auto _ : state) {
    internal::TimerRecord record;
    benchmark::DoNotOptimize(record.ParseFromString(value));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RetentionFullParse);

}  // namespace
}  // namespace chime::storage
