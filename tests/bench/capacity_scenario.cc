// capacity: --count pending timers due over the next days, created in ten steps (bounded by
// --duration in total); per step the create rate, chimed's RSS and the data dir's size.
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tests/bench/bench_util.h"
#include "tests/bench/flags.h"
#include "tests/bench/scenarios.h"
#include "tests/bench/unary_load.h"

namespace chime::bench {

int64_t FillFarFuture(const std::shared_ptr<grpc::Channel>& channel, const std::string& topic,
                      int64_t count, absl::Duration bound,
                      const std::function<void(int64_t, double)>& on_step) {
  absl::BitGen gen;
  std::vector<absl::Time> due;
  for (int i = 0; i < 8192; ++i) {
    due.push_back(absl::Now() + absl::Hours(24) + absl::Seconds(absl::Uniform(gen, 0, 2 * 86400)));
  }
  UnaryLoadOptions create = FillLoad(topic, due);
  const absl::Time stop = absl::Now() + bound;
  const int64_t step_calls = std::max<int64_t>(1, count / kFillBatch / 10);
  int64_t pending = 0;
  while (pending < count && absl::Now() < stop) {
    create.max_calls = std::min(step_calls, (count - pending + kFillBatch - 1) / kFillBatch);
    create.duration = stop - absl::Now();
    UnaryLoadResult r = RunUnaryLoad(channel, create);
    if (r.failed > 0) fprintf(stderr, "create failed: %s\n", r.first_error.c_str());
    pending += r.ok * kFillBatch;
    on_step(pending, r.PerSecond() * kFillBatch);
    if (r.ok == 0) break;
  }
  return pending;
}

UnaryLoadOptions FillLoad(const std::string& topic, const std::vector<absl::Time>& due) {
  UnaryLoadOptions create;
  create.method = "/chime.v1.TimerService/CreateTimers";
  create.requests = CreateBatchRequests(topic, due, kFillBatch);
  if (absl::GetFlag(FLAGS_idempotency_keys))
    GiveEachCreateItsOwnKey(topic, /*batched=*/true, create);
  create.inflight = 4;
  create.keep_latencies = false;
  return create;
}

int RunCapacity(const std::shared_ptr<grpc::Channel>& channel) {
  int64_t count = absl::GetFlag(FLAGS_count);
  if (count <= 0) count = 10000000;
  const int pid = absl::GetFlag(FLAGS_chimed_pid);
  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  std::string steps;
  const std::string header =
      absl::StrFormat("%-9s %10s %11s %9s %9s %9s %6s", "scenario", "pending", "creates/s",
                      "RSS_MB", "HWM_MB", "disk_MB", "load");
  const int64_t pending = FillFarFuture(
      channel, FreshTopic("capacity"), count, absl::GetFlag(FLAGS_duration),
      [&](int64_t n, double per_s) {
        const int64_t rss = ProcStatusBytes(pid, "VmRSS"), hwm = ProcStatusBytes(pid, "VmHWM");
        const int64_t disk = DirBytes(data_dir);
        PrintRow(header, absl::StrFormat("%-9s %10d %11.0f %9.1f %9.1f %9.1f %6.2f", "capacity", n,
                                         per_s, rss / 1048576.0, hwm / 1048576.0, disk / 1048576.0,
                                         LoadAverage1()));
        absl::StrAppend(&steps, steps.empty() ? "" : ",",
                        absl::StrFormat(R"({"pending":%d,"creates_per_s":%.0f,"rss_bytes":%d,)"
                                        R"("hwm_bytes":%d,"disk_bytes":%d})",
                                        n, per_s, rss, hwm, disk));
      });
  absl::SleepFor(absl::Seconds(2));  // let memtables settle before the final sample
  const int64_t rss = ProcStatusBytes(pid, "VmRSS");
  const int64_t disk = DirBytes(data_dir);
  AppendJson(
      absl::GetFlag(FLAGS_json), "capacity",
      absl::StrFormat(
          R"("idempotency_keys":%s,"target":%d,"pending":%d,"rss_bytes":%d,"disk_bytes":%d,)"
          R"("rss_bytes_per_pending":%.1f,"disk_bytes_per_pending":%.1f,)"
          R"("steps":[%s])",
          absl::GetFlag(FLAGS_idempotency_keys) ? "true" : "false", count, pending, rss, disk,
          pending ? double(rss) / pending : 0.0, pending ? double(disk) / pending : 0.0, steps));
  return pending == count ? 0 : 1;
}

}  // namespace chime::bench
