// herd: --count timers due at the same instant; time from that instant (and from the last
// create, if creating overran it) until the last is delivered; chimed's peak RSS. With
// --subscribe_after the subscribers connect only that long after the due time, so the herd
// waits on disk; then also the time from subscribing to the last delivery.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tests/bench/bench_util.h"
#include "tests/bench/fire_collector.h"
#include "tests/bench/flags.h"
#include "tests/bench/scenarios.h"
#include "tests/bench/unary_load.h"

namespace chime::bench {

int RunHerd(const std::shared_ptr<grpc::Channel>& channel, const std::string& name) {
  int64_t count = absl::GetFlag(FLAGS_count);
  if (count <= 0) count = 1000000;
  count = (count + kFillBatch - 1) / kFillBatch * kFillBatch;  // created in whole batches
  const std::string topic = FreshTopic("herd");
  FireCollector collector(channel, topic, absl::GetFlag(FLAGS_subscribers),
                          absl::GetFlag(FLAGS_max_outstanding), count);
  const absl::Duration subscribe_after = absl::GetFlag(FLAGS_subscribe_after);
  if (subscribe_after == absl::ZeroDuration()) collector.Start();
  absl::Duration lead = absl::GetFlag(FLAGS_lead);
  if (lead == absl::ZeroDuration()) lead = absl::Seconds(3 + count / 15000.0);
  const absl::Time due = absl::Now() + lead;
  UnaryLoadOptions create = FillLoad(topic, {due});
  create.duration = absl::Minutes(10);
  create.max_calls = count / kFillBatch;
  UnaryLoadResult created = RunUnaryLoad(channel, create);
  const absl::Time created_at = absl::Now();
  if (created.failed > 0) fprintf(stderr, "herd: create failed: %s\n", created.first_error.c_str());
  // chimed's CPU from the due time (or the last create, if later) to the last delivery: the
  // herd's fires, sends and acks; and, with --subscribe_after, from subscribing on (the drain).
  const int chimed_pid = absl::GetFlag(FLAGS_chimed_pid);
  absl::SleepFor(std::max(absl::ZeroDuration(), due - absl::Now()));
  const double cpu_at_due_s = ProcCpuSeconds(chimed_pid);
  // This process's own (its subscribers'): on one machine, CPU taken from chimed.
  const double bench_cpu_at_due_s = ProcCpuSeconds(getpid());
  const std::map<std::string, double> threads_at_due = ProcThreadGroupCpuSeconds(chimed_pid);
  double cpu_at_subscribe_s = cpu_at_due_s;
  absl::Time subscribed = due;
  if (subscribe_after > absl::ZeroDuration()) {
    absl::SleepFor(std::max(absl::ZeroDuration(), due + subscribe_after - absl::Now()));
    subscribed = absl::Now();
    cpu_at_subscribe_s = ProcCpuSeconds(chimed_pid);
    collector.Start();
  }
  const bool all = collector.WaitAll(std::max(subscribed, created_at) + absl::Seconds(120));
  const double cpu_at_last_s = ProcCpuSeconds(chimed_pid);
  const double bench_cpu_us_per_fire =
      (ProcCpuSeconds(getpid()) - bench_cpu_at_due_s) * 1e6 / static_cast<double>(count);
  // Where that CPU went, by thread: the first place to look when the herd gets slower.
  const std::string cpu_by_thread = ThreadGroupCpuJson(
      threads_at_due, ProcThreadGroupCpuSeconds(chimed_pid), static_cast<double>(count));
  // Acks are written after their fires went out: until their results arrive, the herd's work
  // is not done, and a crash would fire them again.
  const bool all_acked =
      all && collector.WaitAllAcked(std::max(subscribed, created_at) + absl::Seconds(180));
  const double cpu_at_acked_s = ProcCpuSeconds(chimed_pid);
  collector.Stop();
  const double cpu_us_per_fire = (cpu_at_last_s - cpu_at_due_s) * 1e6 / static_cast<double>(count);
  const double drain_cpu_us_per_fire =
      (cpu_at_last_s - cpu_at_subscribe_s) * 1e6 / static_cast<double>(count);
  const absl::Time last = collector.last_receipt();
  const double after_due = absl::ToDoubleSeconds(last - due);
  const double after_all = absl::ToDoubleSeconds(last - std::max(subscribed, created_at));
  // Empty when some acks never came back: printed as "not all acked", and null in the JSON.
  const std::string acked_after_due =
      all_acked ? absl::StrFormat("%.3f", absl::ToDoubleSeconds(collector.last_ack_result() - due))
                : std::string();
  const double cpu_us_per_fire_to_acked =
      (cpu_at_acked_s - cpu_at_due_s) * 1e6 / static_cast<double>(count);
  const int64_t hwm = ProcStatusBytes(chimed_pid, "VmHWM");
  Percentiles p = Summarize(collector.lateness_ms());
  PrintRow(absl::StrFormat("%-10s %9s %11s %12s %12s %9s %10s %7s %8s %6s", "scenario", "timers",
                           "creates/s", "last_after_s", "after_all_s", "p50_ms", "peakRSS_MB",
                           "missing", "cpu_us/f", "load"),
           absl::StrFormat("%-10s %9d %11.0f %12.3f %12.3f %9.1f %10.1f %7d %8.1f %6.2f", name,
                           count, created.PerSecond() * kFillBatch, after_due, after_all, p.p50,
                           hwm / 1048576.0, count - collector.distinct(), cpu_us_per_fire,
                           LoadAverage1()));
  if (chimed_pid > 0) printf("chimed cpu_us per fire by thread: %s\n", cpu_by_thread.c_str());
  printf("chime-bench (its subscribers) cpu_us per fire: %.2f\n", bench_cpu_us_per_fire);
  printf(
      "every ack durable (ACKED) %s s after the due time; chimed cpu_us per fire by then: "
      "%.1f\n",
      all_acked ? acked_after_due.c_str() : "not all acked", cpu_us_per_fire_to_acked);
  AppendJson(absl::GetFlag(FLAGS_json), name,
             absl::StrFormat(
                 R"("timers":%d,"creates_per_s":%.0f,"created_after_due":%s,)"
                 R"("last_delivered_after_due_s":%.3f,)"
                 R"("last_delivered_after_due_and_created_s":%.3f,"subscribe_after_s":%.3f,)"
                 R"("lateness_ms":%s,"missing":%d,"duplicates":%d,"peak_rss_bytes":%d,)"
                 R"("chimed_cpu_us_per_fire":%.1f,"chimed_cpu_us_per_fire_from_subscribe":%.1f,)"
                 R"("chimed_cpu_us_per_fire_by_thread":%s,"bench_cpu_us_per_fire":%.2f,)"
                 R"("last_acked_after_due_s":%s,"chimed_cpu_us_per_fire_to_acked":%.1f)",
                 count, created.PerSecond() * kFillBatch, created_at > due ? "true" : "false",
                 after_due, after_all, absl::ToDoubleSeconds(subscribe_after), PercentilesJson(p),
                 count - collector.distinct(), collector.duplicates(), hwm, cpu_us_per_fire,
                 drain_cpu_us_per_fire, cpu_by_thread, bench_cpu_us_per_fire,
                 all_acked ? acked_after_due : std::string("null"), cpu_us_per_fire_to_acked));
  return all && all_acked ? 0 : 1;
}

}  // namespace chime::bench
