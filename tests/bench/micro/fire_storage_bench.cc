// The storage work of one fire and its ack, without gRPC, engine or delivery threads: the
// floor under chimed's CPU per fire on a machine. Per fire, as chimed does it: the fire
// transaction reads the timer, writes it FIRED, removes its time-index entry and writes the
// delivery record with its queue entry; the ack transaction reads the delivery and deletes it
// with its queue entry. One shard, fsync on; `group` fires (then their acks) are in flight at
// once, so they share group commits as they do under load.
//
// Reports fires/s (wall) and cpu_us_per_fire (process CPU, all threads: the writer thread does
// the work, RocksDB's flushes count too).
//
// The second argument says when the timers are due: 0 in 2027, so they are never hot and every
// read goes to RocksDB; 1 within a minute of their write, with room for all of them in the
// writer's hot records (HotRecords), so the fire and the ack read nothing from RocksDB.
// The third: 1 for deferred fire writes, where a fire acked from memory is written only by its
// ack, as the timer's end (engine::EngineOptions::defer_fire_writes).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/engine/engine.h"
#include "storage/store.h"
#include "tests/bench/micro/cpu_time.h"
#include "tests/bench/micro/temp_store.h"

namespace chime::storage {
namespace {

using bench::ProcessCpuSeconds;

constexpr int64_t kFirstDueUs = 1'800'000'000'000'000;

std::string TimerId(int64_t i) { return absl::StrCat("t-", (i * 2654435761u) % 1000003, "-", i); }

// Submits one transaction per i in [begin, end) and waits for all of them.
template <typename Fn>
absl::Status SubmitEach(ShardStore* shard, int64_t begin, int64_t end, Fn fn) {
  absl::Mutex mu;
  int64_t pending = end - begin;
  absl::Status first_error;
  for (int64_t i = begin; i < end; ++i) {
    shard->Submit([i, &fn](ShardTxn& txn) { return fn(txn, i); },
                  [&](absl::Status s) {
                    absl::MutexLock lock(&mu);
                    if (!s.ok() && first_error.ok()) first_error = s;
                    --pending;
                  });
  }
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(
      +[](int64_t* p) { return *p == 0; }, &pending));
  return first_error;
}

// Writes `count` timers as CreateTimer writes them, due in id order from first_due_us on.
absl::Status FillTimers(ShardStore* shard, int64_t count, int64_t first_due_us = kFirstDueUs) {
  for (int64_t b = 0; b < count; b += 1000) {
    absl::Status s = SubmitEach(shard, b, std::min(b + 1000, count), [=](ShardTxn& txn, int64_t i) {
      TimerRecord r;
      v1::Timer& t = *r.mutable_timer();
      t.set_namespace_("default");
      t.set_timer_id(TimerId(i));
      t.set_state(v1::TIMER_STATE_SCHEDULED);
      t.set_version(1);
      t.mutable_target()->set_topic("bench");
      t.set_payload("{\"order\":12345,\"action\":\"expire\"}");
      t.mutable_schedule()->mutable_fire_at()->set_seconds((first_due_us + i) / 1'000'000);
      r.set_due_us(first_due_us + i);
      txn.PutTimer(r);
      txn.PutDue(r.due_us(), "default", t.timer_id());
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// When the first of a benchmark's timers is due: within a minute of their write (so the
// writer keeps them, with room for all in 512 MB), or in 2027 (read from RocksDB).
int64_t FirstDueUs(bool due_soon) {
  return due_soon ? absl::ToUnixMicros(absl::Now() + absl::Seconds(30)) : kFirstDueUs;
}

// temp's one shard with `timers` timers (FillTimers); null, the benchmark skipped, on failure.
ShardStore* FilledShard(benchmark::State& state, const TempStore& temp, int64_t timers,
                        int64_t first_due_us) {
  if (temp.store() == nullptr) return nullptr;
  ShardStore* shard = temp.store()->shard(0);
  if (absl::Status s = FillTimers(shard, timers, first_due_us); !s.ok()) {
    state.SkipWithError(std::string(s.message()).c_str());
    return nullptr;
  }
  return shard;
}

// What a fire writes of its (one-shot) timer: FIRED, its time-index entry removed.
void WriteFired(ShardTxn& txn, TimerRecord& r) {
  v1::Timer& t = *r.mutable_timer();
  txn.DeleteDue(r.due_us(), t.namespace_(), t.timer_id());
  t.set_state(v1::TIMER_STATE_FIRED);
  t.set_fire_count(1);
  t.set_version(t.version() + 1);
  r.set_due_us(0);
  txn.PutTimer(r);
}

void BM_FireAndAckStorage(benchmark::State& state) {
  const int64_t group = state.range(0);
  const bool due_soon = state.range(1) != 0;
  const bool deferred = state.range(2) != 0;
  const int64_t timers = 200'000;
  TempStore temp(state, 1, size_t{512} << 20);
  const int64_t first_due_us = FirstDueUs(due_soon);
  ShardStore* shard = FilledShard(state, temp, timers, first_due_us);
  if (shard == nullptr) return;

  auto fire = [](ShardTxn& txn, int64_t i) -> absl::Status {
    absl::StatusOr<std::optional<TimerRecord>> read = txn.GetTimer("default", TimerId(i));
    if (!read.ok()) return read.status();
    if (!read->has_value()) return absl::NotFoundError(TimerId(i));
    TimerRecord& r = **read;
    v1::Timer& t = *r.mutable_timer();
    DeliveryRecord d;
    v1::Fire& f = *d.mutable_fire();
    f.set_fire_id(absl::StrCat(t.timer_id(), "@0"));
    f.set_namespace_(t.namespace_());
    f.set_timer_id(t.timer_id());
    f.set_topic(t.target().topic());
    f.set_payload(t.payload());
    d.set_visible_at_us(r.due_us());
    WriteFired(txn, r);
    // Acked from memory, like a fire its subscribers keep up with.
    txn.PutNewDelivery(d, QueueCopy::kKeyOnly);
    return absl::OkStatus();
  };
  auto ack = [](ShardTxn& txn, int64_t i) -> absl::Status {
    absl::StatusOr<std::optional<DeliveryRecord>> read =
        txn.GetDelivery("default", absl::StrCat(TimerId(i), "@0"));
    if (!read.ok()) return read.status();
    if (read->has_value()) txn.DeleteReadDelivery(**read);
    return absl::OkStatus();
  };

  // Deferred fire writes (engine::EngineOptions::defer_fire_writes): the fire only reads its
  // timer (and keeps it in the writer's memory); the ack reads it again and writes what the fire
  // left out, the timer FIRED and its time-index entry gone, with no delivery record to write or
  // delete.
  auto fire_unwritten = [](ShardTxn& txn, int64_t i) -> absl::Status {
    absl::StatusOr<std::optional<TimerRecord>> read = txn.GetTimer("default", TimerId(i));
    if (!read.ok()) return read.status();
    if (!read->has_value()) return absl::NotFoundError(TimerId(i));
    txn.KeepTimerHot(**read);  // as the engine does: the ack reads it again
    return absl::OkStatus();
  };
  // The engine's own ack write, from the facts a delivery keeps of its fire.
  auto ack_unwritten = [first_due_us](ShardTxn& txn, int64_t i) -> absl::Status {
    const engine::UnwrittenFireFacts facts{.due_us = first_due_us + i, .timer_version = 1};
    absl::StatusOr<bool> ended =
        engine::WriteAckedUnwrittenFire(txn, "default", engine::MakeFireId(TimerId(i), 0), facts);
    if (!ended.ok()) return ended.status();
    if (!*ended) return absl::NotFoundError(TimerId(i));
    return absl::OkStatus();
  };

  int64_t next = 0;
  const double cpu_start = ProcessCpuSeconds();
  for (auto _ : state) {
    if (next + group > timers) {
      state.SkipWithError("ran out of timers: raise `timers`");
      break;
    }
    absl::Status s = deferred ? SubmitEach(shard, next, next + group, fire_unwritten)
                              : SubmitEach(shard, next, next + group, fire);
    if (s.ok()) {
      s = deferred ? SubmitEach(shard, next, next + group, ack_unwritten)
                   : SubmitEach(shard, next, next + group, ack);
    }
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
    next += group;
  }
  const double fires = static_cast<double>(state.iterations() * group);
  state.SetItemsProcessed(static_cast<int64_t>(fires));
  if (fires > 0) {
    state.counters["cpu_us_per_fire"] = (ProcessCpuSeconds() - cpu_start) * 1e6 / fires;
  }
  const ShardStore::WriteStats::Reads reads = shard->GetWriteStats().timer_reads;
  if (reads.hot + reads.db > 0) {
    state.counters["hot_timer_reads"] =
        static_cast<double>(reads.hot) / static_cast<double>(reads.hot + reads.db);
  }
}
BENCHMARK(BM_FireAndAckStorage)
    ->ArgNames({"group", "due_soon", "deferred"})
    ->ArgsProduct({{1, 16, 128}, {0, 1}, {0, 1}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// The end of a benchmark of timer reads: `group` per iteration, of which `found` in all were
// found (all must be), with the process CPU at cpu_start before them.
void ReportTimerReads(benchmark::State& state, int64_t group, int64_t found, double cpu_start) {
  const double reads = static_cast<double>(state.iterations() * group);
  if (found != static_cast<int64_t>(reads)) state.SkipWithError("a timer was not found");
  state.SetItemsProcessed(static_cast<int64_t>(reads));
  if (reads > 0) {
    state.counters["cpu_us_per_timer"] = (ProcessCpuSeconds() - cpu_start) * 1e6 / reads;
  }
}

// The timer reads of a batch of fires when the timers are in table files (created minutes
// before they fire): `group` random timers read in one transaction. Reports
// cpu_us_per_timer, the part of a fire's CPU that reading its timer takes.
void BM_ReadTimersOnDisk(benchmark::State& state) {
  const int64_t group = state.range(0);
  const int64_t timers = 200'000;
  TempStore temp(state);
  if (temp.store() == nullptr) return;
  ShardStore* shard = temp.store()->shard(0);
  absl::Status filled = FillTimers(shard, timers);
  if (filled.ok()) filled = shard->CompactRetained();  // into table files
  if (!filled.ok()) {
    state.SkipWithError(std::string(filled.message()).c_str());
    return;
  }
  std::mt19937_64 random(42);
  std::uniform_int_distribution<int64_t> pick(0, timers - 1);
  std::vector<std::string> ids(group);
  int64_t found = 0;
  const double cpu_start = ProcessCpuSeconds();
  for (auto _ : state) {
    for (std::string& id : ids) id = TimerId(pick(random));
    absl::Status s = SubmitEach(shard, 0, 1, [&](ShardTxn& txn, int64_t) -> absl::Status {
      for (const std::string& id : ids) {
        absl::StatusOr<std::optional<TimerRecord>> record = txn.GetTimer("default", id);
        if (!record.ok()) return record.status();
        found += record->has_value();
      }
      return absl::OkStatus();
    });
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
  ReportTimerReads(state, group, found, cpu_start);
}
BENCHMARK(BM_ReadTimersOnDisk)->Arg(128)->UseRealTime()->Unit(benchmark::kMicrosecond);

// A fire transaction's reads, as the engine's makes them for a batch of `group` due timers:
// read ahead (PrefetchTimers), then each parsed into one reused record and kept in the
// writer's memory (a deferred fire writes nothing). The second argument: 1 when the timers are
// in the kept records (due within a minute), 0 when they are in RocksDB only. Successive
// batches take successive timers, cycling over 200,000. Reports cpu_us_per_timer.
void BM_FireBatchReads(benchmark::State& state) {
  const int64_t group = state.range(0);
  const int64_t timers = 200'000;
  TempStore temp(state, 1, size_t{512} << 20);
  ShardStore* shard = FilledShard(state, temp, timers, FirstDueUs(state.range(1) != 0));
  if (shard == nullptr) return;
  std::vector<std::string> ids(timers);
  for (int64_t i = 0; i < timers; ++i) ids[i] = TimerId(i);
  std::vector<std::pair<absl::string_view, absl::string_view>> batch(group);
  int64_t next = 0;
  int64_t found = 0;
  const double cpu_start = ProcessCpuSeconds();
  for (auto _ : state) {
    for (auto& [ns, id] : batch) {
      ns = "default";
      id = ids[next];
      next = (next + 1) % timers;
    }
    absl::Status s = SubmitEach(shard, 0, 1, [&](ShardTxn& txn, int64_t) -> absl::Status {
      txn.PrefetchTimers(batch);
      TimerRecord record;
      for (const auto& [ns, id] : batch) {
        absl::StatusOr<bool> read = txn.ReadTimer(ns, id, &record);
        if (!read.ok()) return read.status();
        if (!*read) continue;
        ++found;
        txn.KeepTimerHot(record);
      }
      return absl::OkStatus();
    });
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
  ReportTimerReads(state, group, found, cpu_start);
}
BENCHMARK(BM_FireBatchReads)
    ->ArgNames({"group", "due_soon"})
    ->ArgsProduct({{128}, {0, 1}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace chime::storage
