// fire: timers spread uniformly over --duration at each --rate, subscribers acking each
// batch; delivered/s and end-to-end lateness. mixed: the same while creating far-future
// timers at the same rate. fire-floor: fire against chime-floor-server --fires.
#include <algorithm>
#include <cstdio>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tests/bench/bench_util.h"
#include "tests/bench/fire_collector.h"
#include "tests/bench/flags.h"
#include "tests/bench/scenarios.h"
#include "tests/bench/unary_load.h"

namespace chime::bench {
namespace {

// One line per first delivery, so a tail can be placed in time (a stall, or spread out).
void WriteReceiptsCsv(const FireCollector& collector, const std::string& label) {
  const std::string path = absl::GetFlag(FLAGS_receipts_csv);
  if (path.empty()) return;
  FILE* out = fopen(path.c_str(), "a");
  if (out == nullptr) {
    fprintf(stderr, "cannot open %s\n", path.c_str());
    return;
  }
  for (const FireCollector::Receipt& r : collector.receipts()) {
    fprintf(out, "%s,%lld,%.3f,%.3f\n", label.c_str(),
            static_cast<long long>(absl::ToUnixMicros(r.received)), r.lateness_ms, r.dispatch_ms);
  }
  fclose(out);
}

}  // namespace

int RunFire(const std::shared_ptr<grpc::Channel>& channel, const std::string& name_arg) {
  const bool mixed = name_arg == "mixed";
  const char* name = name_arg.c_str();
  const std::string header = absl::StrFormat(
      "%-10s %8s %9s %11s %8s %8s %8s %8s %8s %8s %8s %7s %5s %10s %8s %7s %6s", "scenario", "rate",
      "timers", "deliv/s", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "srv_p50", "srv_p99",
      "missing", "dups", "mix_crt/s", "cpu_us/f", "wakes/f", "load");
  int rc = 0;
  for (int rate : ParseIntList(absl::GetFlag(FLAGS_rate))) {
    const absl::Duration window = absl::GetFlag(FLAGS_duration);
    const int64_t count = static_cast<int64_t>(rate * absl::ToDoubleSeconds(window));
    const std::string topic = FreshTopic(name);
    FireCollector collector(channel, topic, absl::GetFlag(FLAGS_subscribers),
                            absl::GetFlag(FLAGS_max_outstanding), count);
    collector.Start();
    absl::Duration lead = absl::GetFlag(FLAGS_lead);
    // Creates are done before the window opens so they do not load the fire measurement
    // (assumes >= 5k creates/s with 256 in flight, and leaves RocksDB's flushes after them
    // time to end; the JSON says if creating ran late). At 10k creates/s assumed, the last
    // creates ended just before the window on this machine, and some runs began with every
    // fire of the first ~90 ms late.
    if (lead == absl::ZeroDuration()) lead = absl::Seconds(2 + count / 5000.0);
    const absl::Time first_due = absl::Now() + lead;
    absl::BitGen gen;
    std::vector<absl::Time> due;
    due.reserve(count);
    for (int64_t i = 0; i < count; ++i)
      due.push_back(first_due + absl::Uniform(gen, 0.0, 1.0) * window);
    std::sort(due.begin(), due.end());  // created in due order: creation stays ahead of fires
    UnaryLoadOptions create;
    create.method = "/chime.v1.TimerService/CreateTimer";
    create.requests = CreateRequests(topic, due);
    create.inflight = 256;
    create.duration = absl::Minutes(10);
    create.max_calls = count;
    create.keep_latencies = false;
    UnaryLoadResult created = RunUnaryLoad(channel, create);
    const absl::Time created_at = absl::Now();
    // chimed's CPU from here to the last receipt, per fire: the figure least disturbed by
    // other load on the machine (0 without --chimed_pid).
    const int chimed_pid = absl::GetFlag(FLAGS_chimed_pid);
    const double cpu_start_s = ProcCpuSeconds(chimed_pid);
    const int64_t wakes_start = ProcThreadWakes(chimed_pid);
    if (created.failed > 0)
      fprintf(stderr, "%s: create failed: %s\n", name, created.first_error.c_str());
    const bool created_late = created_at > first_due;
    if (created_late) fprintf(stderr, "%s: warning: creating ran past the first due time\n", name);

    UnaryLoadResult background;
    std::thread mixer;
    if (mixed) {
      mixer = std::thread([&] {
        absl::SleepFor(std::max(absl::ZeroDuration(), first_due - absl::Now()));
        std::vector<absl::Time> far;
        for (int i = 0; i < 4096; ++i)
          far.push_back(absl::Now() + absl::Hours(24) + absl::Seconds(i));
        UnaryLoadOptions o;
        o.method = create.method;
        o.requests = CreateRequests(FreshTopic("mixed-bg"), far);
        o.inflight = 64;
        o.rate = rate;
        o.duration = window;
        background = RunUnaryLoad(channel, o);
      });
    }
    const bool all = collector.WaitAll(first_due + window + absl::Seconds(30));
    if (mixer.joinable()) mixer.join();
    collector.Stop();
    WriteReceiptsCsv(collector, absl::StrCat(name, "-", rate));
    const int64_t distinct = collector.distinct();
    const double cpu_us_per_fire =
        chimed_pid > 0 && distinct > 0
            ? (ProcCpuSeconds(chimed_pid) - cpu_start_s) * 1e6 / static_cast<double>(distinct)
            : 0.0;
    const double wakes_per_fire =
        chimed_pid > 0 && distinct > 0
            ? static_cast<double>(ProcThreadWakes(chimed_pid) - wakes_start) /
                  static_cast<double>(distinct)
            : 0.0;
    const double span_s =
        std::max(1e-9, absl::ToDoubleSeconds(collector.last_receipt() - collector.first_receipt()));
    const double delivered_per_s = distinct / span_s;
    Percentiles p = Summarize(collector.lateness_ms());
    Percentiles dispatch = Summarize(collector.dispatch_ms());
    Percentiles bg = Summarize(background.latency_ms);
    PrintRow(header, absl::StrFormat("%-10s %8d %9d %11.0f %8.3f %8.3f %8.3f %8.3f %8.1f %8.3f "
                                     "%8.3f %7d %5d %10.0f %8.0f %7.2f %6.2f",
                                     name, rate, count, delivered_per_s, p.p50, p.p90, p.p99,
                                     p.p999, p.max, dispatch.p50, dispatch.p99, count - distinct,
                                     collector.duplicates(), mixed ? background.PerSecond() : 0.0,
                                     cpu_us_per_fire, wakes_per_fire, LoadAverage1()));
    AppendJson(
        absl::GetFlag(FLAGS_json), name,
        absl::StrFormat(
            R"("rate":%d,"timers":%d,"window_s":%.3f,"subscribers":%d,)"
            R"("delivered_per_s":%.0f,"lateness_ms":%s,"dispatch_lateness_ms":%s,"missing":%d,)"
            R"("duplicates":%d,"setup_creates_per_s":%.0f,"created_late":%s,)"
            R"("mixed_creates_per_s":%.0f,"mixed_create_latency_ms":%s,"chimed_cpu_us_per_fire":%.0f,)"
            R"("chimed_wakes_per_fire":%.2f)",
            rate, count, absl::ToDoubleSeconds(window), absl::GetFlag(FLAGS_subscribers),
            delivered_per_s, PercentilesJson(p), PercentilesJson(dispatch), count - distinct,
            collector.duplicates(), created.PerSecond(), created_late ? "true" : "false",
            background.PerSecond(), PercentilesJson(bg), cpu_us_per_fire, wakes_per_fire));
    if (!all) rc = 1;
  }
  return rc;
}

}  // namespace chime::bench
