// create: unary CreateTimer at each --inflight level, and the same load against
// grpc.health.v1.Health/Check (the RPC floor of this machine), taking turns in slices.
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "chime/v1/timer.grpc.pb.h"
#include "chime/v1/timer.pb.h"
#include "common/proto_time.h"
#include "tests/bench/bench_channel.h"
#include "tests/bench/bench_util.h"
#include "tests/bench/flags.h"
#include "tests/bench/proc_probes.h"
#include "tests/bench/scenarios.h"
#include "tests/bench/unary_load.h"

namespace chime::bench {

std::string FreshTopic(const std::string& scenario) {
  return absl::StrCat("bench-", scenario, "-", absl::ToUnixNanos(absl::Now()));
}

std::vector<std::string> CreateRequests(const std::string& topic,
                                        const std::vector<absl::Time>& due) {
  std::vector<std::string> out;
  out.reserve(due.size());
  v1::CreateTimerRequest req;
  req.mutable_target()->set_topic(topic);
  for (absl::Time t : due) {
    *req.mutable_fire_at() = ToProtoTimestamp(t);
    out.push_back(req.SerializeAsString());
  }
  return out;
}

std::vector<std::string> CreateBatchRequests(const std::string& topic,
                                             const std::vector<absl::Time>& due, int batch,
                                             bool ids_only) {
  std::vector<std::string> out;
  for (int c = 0; c < 8; ++c) {
    v1::CreateTimersRequest request;
    request.set_ids_only(ids_only);
    for (int i = 0; i < batch; ++i) {
      v1::CreateTimerRequest* r = request.add_requests();
      r->mutable_target()->set_topic(topic);
      *r->mutable_fire_at() = ToProtoTimestamp(due[(c * batch + i) % due.size()]);
    }
    out.push_back(request.SerializeAsString());
  }
  return out;
}

void GiveEachCreateItsOwnKey(const std::string& tag, bool batched, UnaryLoadOptions& load) {
  auto templates = std::make_shared<std::vector<v1::CreateTimersRequest>>();
  for (const std::string& r : load.requests) {
    v1::CreateTimersRequest& t = templates->emplace_back();
    if (batched) {
      t.ParseFromString(r);
    } else {
      t.add_requests()->ParseFromString(r);
    }
  }
  auto calls = std::make_shared<int64_t>(0);
  load.request_for_call = [templates, calls, tag, batched](int64_t) {
    const int64_t call = (*calls)++;
    v1::CreateTimersRequest request = (*templates)[call % templates->size()];
    for (int i = 0; i < request.requests_size(); ++i) {
      request.mutable_requests(i)->set_idempotency_key(absl::StrCat(tag, "-", call, "-", i));
    }
    return batched ? request.SerializeAsString() : request.requests(0).SerializeAsString();
  };
}

namespace {

// CPU used around a load: the server's (0 when the benchmark does not know its pid), the
// benchmark's own (the client's), and what the machine left idle. A ratio to the health
// floor compares two loads; these say whether the VM was as fast for both (the server's CPU
// per health check moves by half from one run to the next here).
struct LoadCpu {
  double server_s = 0;
  double client_s = 0;
  double idle_s = 0;
  absl::Time at;

  static LoadCpu Now(int server_pid) {
    return {ProcCpuSeconds(server_pid), ProcCpuSeconds(getpid()), MachineIdleSeconds(),
            absl::Now()};
  }
};

// The CPU of one load over all its slices.
struct LoadCpuTotal {
  double server_s = 0;
  double client_s = 0;
  double idle_s = 0;
  double wall_s = 0;

  void Add(const LoadCpu& before, const LoadCpu& after) {
    server_s += after.server_s - before.server_s;
    client_s += after.client_s - before.client_s;
    idle_s += after.idle_s - before.idle_s;
    wall_s += absl::ToDoubleSeconds(after.at - before.at);
  }
};

struct LoadCpuUse {
  double server_us_per_call = 0;  // 0: unknown
  double client_us_per_call = 0;
  double idle_share = 0;  // of all the machine's CPUs over the load
};

LoadCpuUse UseOf(const LoadCpuTotal& total, int64_t calls) {
  LoadCpuUse use;
  if (calls <= 0) return use;
  const double n = static_cast<double>(calls);
  use.server_us_per_call = total.server_s * 1e6 / n;
  use.client_us_per_call = total.client_s * 1e6 / n;
  const double cpu_seconds =
      total.wall_s * static_cast<double>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  if (cpu_seconds > 0) use.idle_share = total.idle_s / cpu_seconds;
  return use;
}

std::string DescribeUse(const LoadCpuUse& use) {
  return absl::StrFormat("server %s, client %.1f us, %.0f %% idle",
                         use.server_us_per_call > 0
                             ? absl::StrFormat("%.1f us", use.server_us_per_call)
                             : std::string("? us"),
                         use.client_us_per_call, use.idle_share * 100);
}

std::string UseJson(const LoadCpuUse& use) {
  return absl::StrFormat(R"({"server_cpu_us":%.2f,"client_cpu_us":%.2f,"idle_share":%.3f})",
                         use.server_us_per_call, use.client_us_per_call, use.idle_share);
}

// CreateTimers with B creates per call at each (B, calls in flight); creates/s = calls/s * B.
// The driver does not parse responses: a sample call is checked for per-create errors first.
int RunBatchedCreate(const std::shared_ptr<grpc::Channel>& channel, const std::string& name,
                     const std::string& topic, const std::vector<absl::Time>& due) {
  const bool ids_only = absl::GetFlag(FLAGS_batch_ids_only);
  const bool keyed = absl::GetFlag(FLAGS_idempotency_keys);
  const std::string row_name = absl::StrCat(name == "create" ? "" : absl::StrCat(name, "-"),
                                            ids_only ? "batch-ids" : "batch", keyed ? "-keys" : "");
  const std::string header =
      absl::StrFormat("%-9s %6s %8s %11s %9s %9s %9s %6s", "scenario", "batch", "inflight",
                      "creates/s", "p50_ms", "p99_ms", "p999_ms", "load");
  int rc = 0;
  for (int batch : ParseIntList(absl::GetFlag(FLAGS_batch))) {
    const std::vector<std::string> calls = CreateBatchRequests(topic, due, batch, ids_only);
    v1::CreateTimersResponse sample;
    {
      auto stub = v1::TimerService::NewStub(channel);
      grpc::ClientContext ctx;
      v1::CreateTimersRequest request;
      request.ParseFromString(calls[0]);
      grpc::Status s = stub->CreateTimers(&ctx, request, &sample);
      if (!s.ok()) {
        fprintf(stderr, "create batch %d: code %d %s\n", batch, s.error_code(),
                s.error_message().c_str());
        return 1;
      }
      for (const v1::CreateTimerResult& r : sample.results()) {
        if (r.code() != 0) {
          fprintf(stderr, "create batch %d: a create failed: %s\n", batch, r.message().c_str());
          return 1;
        }
      }
    }
    for (int inflight : ParseIntList(absl::GetFlag(FLAGS_batch_inflight))) {
      UnaryLoadOptions load;
      load.method = "/chime.v1.TimerService/CreateTimers";
      load.requests = calls;
      load.inflight = inflight;
      load.duration = absl::GetFlag(FLAGS_duration);
      if (keyed) GiveEachCreateItsOwnKey(FreshTopic("keys"), /*batched=*/true, load);
      UnaryLoadResult r = RunUnaryLoad(channel, load);
      if (r.failed > 0) {
        fprintf(stderr, "create batch: %lld calls failed: %s\n", static_cast<long long>(r.failed),
                r.first_error.c_str());
        rc = 1;
      }
      const double per_s = r.PerSecond() * batch;
      Percentiles p = Summarize(r.latency_ms);
      PrintRow(header,
               absl::StrFormat("%-9s %6d %8d %11.0f %9.3f %9.3f %9.3f %6.2f", row_name, batch,
                               inflight, per_s, p.p50, p.p99, p.p999, LoadAverage1()));
      AppendJson(absl::GetFlag(FLAGS_json), absl::StrCat(name, "_batch"),
                 absl::StrFormat(R"("batch":%d,"inflight":%d,"ids_only":%s,"idempotency_keys":%s,)"
                                 R"("creates_per_s":%.0f,"call_failed":%d,"call_latency_ms":%s)",
                                 batch, inflight, ids_only ? "true" : "false",
                                 keyed ? "true" : "false", per_s, r.failed, PercentilesJson(p)));
    }
  }
  return rc;
}

}  // namespace

int RunCreate(const std::shared_ptr<grpc::Channel>& channel, const std::string& name) {
  const std::string topic = FreshTopic("create");
  // Due in 1-2 days: nothing fires during the run.
  absl::BitGen gen;
  std::vector<absl::Time> due;
  for (int i = 0; i < 4096; ++i) {
    due.push_back(absl::Now() + absl::Hours(24) + absl::Seconds(absl::Uniform(gen, 0, 86400)));
  }
  const std::vector<std::string> creates = CreateRequests(topic, due);
  const std::string header = absl::StrFormat(
      "%-9s %8s %11s %9s %9s %9s %11s %9s %7s %6s", "scenario", "inflight", "creates/s", "p50_ms",
      "p99_ms", "p999_ms", "health/s", "h_p50_ms", "ratio", "load");
  std::vector<std::shared_ptr<grpc::Channel>> channels = {channel};
  while (static_cast<int>(channels.size()) < absl::GetFlag(FLAGS_connections)) {
    channels.push_back(NewBenchChannel(absl::GetFlag(FLAGS_server)));
  }
  int rc = 0;
  for (int inflight : ParseIntList(absl::GetFlag(FLAGS_inflight))) {
    // The two loads take turns, slice by slice: the VM's speed moves by tens of per cent
    // within seconds here, and a ratio of two loads run 5 s apart carried that.
    const int slices = std::max(1, absl::GetFlag(FLAGS_slices));
    UnaryLoadOptions health;
    health.method = "/grpc.health.v1.Health/Check";
    health.requests = {std::string()};  // HealthCheckRequest{service: ""}
    health.inflight = inflight;
    health.duration = absl::GetFlag(FLAGS_duration) / slices;
    UnaryLoadOptions create = health;
    create.method = "/chime.v1.TimerService/CreateTimer";
    create.requests = creates;
    const bool keyed = absl::GetFlag(FLAGS_idempotency_keys);
    if (keyed) GiveEachCreateItsOwnKey(FreshTopic("keys"), /*batched=*/false, create);
    const int server_pid = absl::GetFlag(FLAGS_chimed_pid);
    UnaryLoadResult h, c;
    LoadCpuTotal health_cpu, create_cpu;
    for (int slice = 0; slice < slices; ++slice) {
      const LoadCpu health_start = LoadCpu::Now(server_pid);
      h.Add(RunUnaryLoad(channels, health));
      const LoadCpu create_start = LoadCpu::Now(server_pid);
      c.Add(RunUnaryLoad(channels, create));
      health_cpu.Add(health_start, create_start);
      create_cpu.Add(create_start, LoadCpu::Now(server_pid));
    }
    const LoadCpuUse health_use = UseOf(health_cpu, h.ok);
    const LoadCpuUse create_use = UseOf(create_cpu, c.ok);
    if (c.failed > 0 || h.failed > 0) {
      fprintf(stderr, "create: %lld create / %lld health calls failed: %s %s\n",
              static_cast<long long>(c.failed), static_cast<long long>(h.failed),
              c.first_error.c_str(), h.first_error.c_str());
      rc = 1;
    }
    const double ratio = c.PerSecond() / std::max(1.0, h.PerSecond());
    Percentiles cp = Summarize(c.latency_ms), hp = Summarize(h.latency_ms);
    PrintRow(header,
             absl::StrFormat("%-9s %8d %11.0f %9.3f %9.3f %9.3f %11.0f %9.3f %7.2f %6.2f",
                             keyed ? name + "-keys" : name, inflight, c.PerSecond(), cp.p50, cp.p99,
                             cp.p999, h.PerSecond(), hp.p50, ratio, LoadAverage1()));
    printf("cpu per call at %d in flight: health check %s; create %s\n", inflight,
           DescribeUse(health_use).c_str(), DescribeUse(create_use).c_str());
    AppendJson(absl::GetFlag(FLAGS_json), name,
               absl::StrFormat(
                   R"("inflight":%d,"connections":%d,"slices":%d,"idempotency_keys":%s,)"
                   R"("creates_per_s":%.0f,)"
                   R"("create_failed":%d,)"
                   R"("create_latency_ms":%s,"health_per_s":%.0f,)"
                   R"("health_latency_ms":%s,"ratio_to_health":%.3f,)"
                   R"("health_cpu":%s,"create_cpu":%s)",
                   inflight, static_cast<int>(channels.size()), slices, keyed ? "true" : "false",
                   c.PerSecond(), c.failed, PercentilesJson(cp), h.PerSecond(), PercentilesJson(hp),
                   ratio, UseJson(health_use), UseJson(create_use)));
  }
  if (!absl::GetFlag(FLAGS_batch).empty() && RunBatchedCreate(channel, name, topic, due) != 0)
    rc = 1;
  return rc;
}

}  // namespace chime::bench
