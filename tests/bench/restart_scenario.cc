// restart: SIGKILL with pending timers (scripts/bench kills and restarts chimed between the
// fill and measure phases); time from process start to serving and to the first on-time fire.
#include <algorithm>
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tests/bench/bench_util.h"
#include "tests/bench/fire_collector.h"
#include "tests/bench/flags.h"
#include "tests/bench/scenarios.h"
#include "tests/bench/unary_load.h"

namespace chime::bench {

namespace {
constexpr int kCanaries = 6000;  // one every 10 ms for a minute; a multiple of 8 batched calls
}  // namespace

// restart: see scenarios.h.
int RunRestart(const std::shared_ptr<grpc::Channel>& channel) {
  int64_t count = absl::GetFlag(FLAGS_count);
  if (count <= 0) count = 1000000;
  const std::string canary_topic = "bench-restart-canary-" + absl::GetFlag(FLAGS_label);
  const std::string phase = absl::GetFlag(FLAGS_phase);
  if (phase == "fill") {
    const int64_t pending = FillFarFuture(channel, FreshTopic("restart"), count,
                                          absl::GetFlag(FLAGS_duration), [](int64_t, double) {});
    // Canaries: one every 10 ms for 60 s, the first due 500 ms from now. Eight batched calls
    // create them in ~0.1 s and scripts/bench kills chimed right after, so the first ones fall
    // due before it serves again: the first on-time fire then times the restart, not the
    // canaries' schedule (created one by one and due 2 s out, they set a floor of ~1 s).
    std::vector<absl::Time> due;
    const absl::Time first = absl::Now() + absl::Milliseconds(500);
    for (int i = 0; i < kCanaries; ++i) due.push_back(first + absl::Milliseconds(10 * i));
    UnaryLoadOptions create;
    create.method = "/chime.v1.TimerService/CreateTimers";
    create.requests = CreateBatchRequests(canary_topic, due, kCanaries / 8);
    create.inflight = 4;
    create.max_calls = 8;
    create.duration = absl::Seconds(30);
    create.keep_latencies = false;
    UnaryLoadResult r = RunUnaryLoad(channel, create);
    if (absl::Now() > first) {
      fprintf(stderr, "restart: the canaries took %s to create; the first fell due before that\n",
              absl::FormatDuration(absl::Now() - first + absl::Milliseconds(500)).c_str());
    }
    printf("filled %lld pending + %lld canaries\n", static_cast<long long>(pending),
           static_cast<long long>(r.ok * (kCanaries / 8)));
    fflush(stdout);
    return pending == count && r.failed == 0 ? 0 : 1;
  }
  if (phase != "measure") {
    fprintf(stderr, "restart needs --phase fill|measure\n");
    return 2;
  }
  const absl::Time started = absl::FromUnixNanos(absl::GetFlag(FLAGS_process_start_unix_ns));
  // Serving = the first Health/Check that answers OK (SERVING is set before the server
  // accepts calls, so an OK answer means TimerService is up).
  absl::Time serving = absl::InfiniteFuture();
  const absl::Time give_up = absl::Now() + absl::Seconds(120);
  while (absl::Now() < give_up) {
    // Waiting on the channel polls it; a fail-fast probe alone would notice the restarted
    // server only at gRPC's backup poll (every 5 s), which is what an earlier version measured.
    channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Milliseconds(50)));
    UnaryLoadOptions h;
    h.method = "/grpc.health.v1.Health/Check";
    h.requests = {std::string()};
    h.max_calls = 1;
    UnaryLoadResult r = RunUnaryLoad(channel, h);
    if (r.ok == 1) {
      serving = absl::Now();
      break;
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
  FireCollector collector(channel, canary_topic, 1, 10000, kCanaries);
  collector.Start();
  const absl::Duration on_time = absl::GetFlag(FLAGS_on_time);
  absl::Time first_on_time = absl::InfiniteFuture();
  while (absl::Now() < give_up) {
    first_on_time = collector.first_on_time(on_time);
    if (first_on_time != absl::InfiniteFuture()) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  collector.Stop();
  // When the earliest canary received was due, relative to the start: if before serving, the
  // canaries' schedule did not hold the first on-time fire back.
  absl::Time first_due = absl::InfiniteFuture();
  for (const FireCollector::Receipt& r : collector.receipts()) {
    first_due = std::min(first_due, r.received - absl::Milliseconds(r.lateness_ms));
  }
  const double serving_s = absl::ToDoubleSeconds(serving - started);
  const double on_time_s = absl::ToDoubleSeconds(first_on_time - started);
  const double first_any_s = absl::ToDoubleSeconds(collector.first_receipt() - started);
  const double first_due_s = absl::ToDoubleSeconds(first_due - started);
  PrintRow(absl::StrFormat("%-9s %10s %11s %13s %14s %12s %6s", "scenario", "pending", "serving_s",
                           "first_fire_s", "first_ontime_s", "first_due_s", "load"),
           absl::StrFormat("%-9s %10d %11.3f %13.3f %14.3f %12.3f %6.2f", "restart", count,
                           serving_s, first_any_s, on_time_s, first_due_s, LoadAverage1()));
  AppendJson(
      absl::GetFlag(FLAGS_json), "restart",
      absl::StrFormat(R"("pending":%d,"start_to_serving_s":%.3f,"start_to_first_fire_s":%.3f,)"
                      R"("start_to_first_on_time_fire_s":%.3f,"start_to_first_canary_due_s":%.3f,)"
                      R"("on_time_ms":%.1f)",
                      count, serving_s, first_any_s, on_time_s, first_due_s,
                      absl::ToDoubleMilliseconds(on_time)));
  return first_on_time != absl::InfiniteFuture() ? 0 : 1;
}

}  // namespace chime::bench
