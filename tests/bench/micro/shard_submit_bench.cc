// ShardStore::Submit throughput with N transactions in flight, fsync on: what a batched
// create path could reach per shard (each txn: one timer record + one time-index entry,
// like CreateTimer). One iteration = N txns submitted together, waited for.
#include <benchmark/benchmark.h>

#include <string>

#include "absl/synchronization/mutex.h"
#include "storage/store.h"
#include "tests/bench/micro/temp_store.h"

namespace chime::storage {
namespace {

void BM_ShardSubmitInFlight(benchmark::State& state) {
  const int inflight = static_cast<int>(state.range(0));
  TempStore temp(state);
  if (temp.store() == nullptr) return;
  ShardStore* shard = temp.store()->shard(0);
  int64_t next = 0;
  for (auto _ : state) {
    absl::Mutex mu;
    int done = 0;
    for (int i = 0; i < inflight; ++i) {
      const int64_t id = next++;
      shard->Submit(
          [id](ShardTxn& txn) -> absl::Status {
            TimerRecord r;
            r.mutable_timer()->set_namespace_("default");
            r.mutable_timer()->set_timer_id("bench-" + std::to_string(id));
            r.set_due_us(1'800'000'000'000'000 + id);
            txn.PutTimer(r);
            txn.PutDue(r.due_us(), "default", r.timer().timer_id());
            return absl::OkStatus();
          },
          [&](absl::Status) {
            absl::MutexLock lock(&mu);
            ++done;
          });
    }
    absl::MutexLock lock(&mu);
    auto all = [&]() { return done == inflight; };
    mu.Await(absl::Condition(&all));
  }
  state.SetItemsProcessed(state.iterations() * inflight);
}
BENCHMARK(BM_ShardSubmitInFlight)->Arg(1)->Arg(10)->Arg(100)->Arg(1000)->UseRealTime();

}  // namespace
}  // namespace chime::storage
