// The storage work of batched creates, without gRPC or the engine's bookkeeping: the floor
// under chimed's CPU per create in CreateTimers. Per create, as InsertTimer does it for a
// generated id: serialize the timer record and write it with its time-index entry. Each
// iteration is 8 requests of 1000 timers (what `scripts/bench --scenario create` keeps in
// flight), split over the store's shards by id, one transaction per shard and request as
// Engine::CreateMany submits them; fsync on. Ids are time-ordered, due times spread over a day.
//
// Reports creates/s (wall) and cpu_us_per_create (process CPU, all threads: writers, syncers,
// RocksDB's flushes and compactions).
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/proto_time.h"
#include "server/engine/timer_id.h"
#include "storage/store.h"
#include "tests/bench/micro/cpu_time.h"
#include "tests/bench/micro/temp_store.h"

namespace chime::storage {
namespace {

using bench::ProcessCpuSeconds;
using bench::ThreadCpuSeconds;

constexpr int kRequestsInFlight = 8;
constexpr int kTimersPerRequest = 1000;

// A record with the fields InsertTimer sets for a one-shot timer created with a topic only.
TimerRecord MakeRecord(absl::Time now, int64_t due_us) {
  TimerRecord r;
  v1::Timer& t = *r.mutable_timer();
  t.set_namespace_("default");
  t.set_timer_id(engine::NewTimerId(now));
  t.set_state(v1::TIMER_STATE_SCHEDULED);
  t.set_version(1);
  *t.mutable_schedule()->mutable_fire_at() = MicrosToProto(due_us);
  t.mutable_target()->set_topic("bench");
  *t.mutable_create_time() = ToProtoTimestamp(now);
  *t.mutable_next_fire_time() = MicrosToProto(due_us);
  r.set_request_fingerprint(0x9e3779b97f4a7c15u);
  r.set_due_us(due_us);
  return r;
}

void BM_BatchedCreateStorage(benchmark::State& state) {
  const int shards = static_cast<int>(state.range(0));
  TempStore temp(state, shards);
  if (temp.store() == nullptr) return;
  Store* store = temp.store();
  std::mt19937_64 rng(7);
  const int64_t day_us = 86'400'000'000;
  int64_t created = 0;
  double build_cpu = 0;  // this thread's CPU building the records: not storage work
  const double cpu_start = ProcessCpuSeconds();
  for (auto _ : state) {
    // Built outside the timed part: the request's timers as the API hands them over.
    state.PauseTiming();
    const double build_start = ThreadCpuSeconds();
    const absl::Time now = absl::Now();
    std::vector<std::vector<std::vector<TimerRecord>>> chunks(kRequestsInFlight);
    for (auto& request : chunks) {
      request.resize(shards);
      for (int i = 0; i < kTimersPerRequest; ++i) {
        TimerRecord r = MakeRecord(
            now, absl::ToUnixMicros(now) + 1'000'000 + static_cast<int64_t>(rng() % day_us));
        request[store->ShardFor("default", r.timer().timer_id())].push_back(std::move(r));
      }
    }
    build_cpu += ThreadCpuSeconds() - build_start;
    state.ResumeTiming();
    absl::Mutex mu;
    int pending = 0;
    absl::Status first_error;
    for (auto& request : chunks) {
      for (int s = 0; s < shards; ++s) {
        if (request[s].empty()) continue;
        ++pending;
        const std::vector<TimerRecord>* chunk = &request[s];
        store->shard(s)->Submit(
            [chunk](ShardTxn& txn) {
              for (const TimerRecord& r : *chunk) {
                txn.PutTimer(r);
                txn.PutDue(r.due_us(), r.timer().namespace_(), r.timer().timer_id());
              }
              return absl::OkStatus();
            },
            [&](absl::Status st) {
              absl::MutexLock lock(&mu);
              if (!st.ok() && first_error.ok()) first_error = st;
              --pending;
            });
      }
    }
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](int* p) { return *p == 0; }, &pending));
    if (!first_error.ok()) {
      state.SkipWithError(std::string(first_error.message()).c_str());
      break;
    }
    created += kRequestsInFlight * kTimersPerRequest;
  }
  state.SetItemsProcessed(created);
  if (created > 0) {
    state.counters["cpu_us_per_create"] =
        (ProcessCpuSeconds() - cpu_start - build_cpu) * 1e6 / static_cast<double>(created);
  }
}
BENCHMARK(BM_BatchedCreateStorage)->Arg(1)->Arg(4)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace chime::storage
