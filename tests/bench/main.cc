// chime-bench: load scenarios against a running chimed through the public gRPC API
// (scripts/bench starts chimed and runs this). See --help and docs/PERFORMANCE.md.
//
//   chime-bench --server 127.0.0.1:7070 --scenario create --inflight 1,16,64 --duration 5s
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "tests/bench/bench_channel.h"
#include "tests/bench/flags.h"
#include "tests/bench/scenarios.h"

ABSL_FLAG(std::string, server, "127.0.0.1:7070", "chimed address");
ABSL_FLAG(std::string, scenario, "create",
          "create|create-floor|fire|fire-floor|mixed|herd|herd-floor|capacity|restart|webhook "
          "(restart needs --phase; scripts/bench orchestrates it; the -floor scenarios run "
          "against chime-floor-server)");
ABSL_FLAG(std::string, json, "", "append one JSON object per scenario (line) to this file");
ABSL_FLAG(std::string, label, "", "free text copied into the JSON (e.g. the run number)");
ABSL_FLAG(std::string, inflight, "1,16,64,256", "create: calls in flight, comma separated");
ABSL_FLAG(int, connections, 1,
          "create: unary calls in flight go round robin over this many connections");
ABSL_FLAG(int, slices, 5,
          "create: at each level, health checks and creates take turns in this many slices of "
          "duration/slices each, so both loads see the VM at the same speed (1: one block each)");
ABSL_FLAG(std::string, batch, "100,1000",
          "create: CreateTimers batch sizes, comma separated (empty: no batched runs)");
ABSL_FLAG(std::string, batch_inflight, "2,8", "create: CreateTimers calls in flight");
ABSL_FLAG(bool, batch_ids_only, false,
          "create: CreateTimers asks for ids only (ids_only), not the whole timers, in answers");
ABSL_FLAG(bool, idempotency_keys, false,
          "create (unary and batched), and the fills of capacity, herd, restart: every create "
          "carries its own idempotency key");
ABSL_FLAG(std::string, rate, "1000,10000",
          "fire: target fires/s, comma separated; mixed: fire and create rate");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5),
          "create: per load level; fire/mixed: window the fires spread over; capacity: bound");
ABSL_FLAG(int64_t, count, 0,
          "herd: timers due in the same second (default 1000000); capacity: pending timers "
          "(default 10000000); restart: pending timers (default 1000000)");
ABSL_FLAG(int, subscribers, 2, "fire/mixed/herd: subscriber streams");
ABSL_FLAG(int, max_outstanding, 10000, "per subscriber unacked fires");
ABSL_FLAG(int, chimed_pid, 0, "pid of chimed for RSS (VmHWM/VmRSS), 0 = unknown");
ABSL_FLAG(std::string, data_dir, "", "chimed data dir for disk use, empty = unknown");
ABSL_FLAG(std::string, phase, "", "restart: fill|measure");
ABSL_FLAG(int64_t, process_start_unix_ns, 0, "restart measure: when chimed was started");
ABSL_FLAG(absl::Duration, on_time, absl::Milliseconds(10),
          "restart: a fire is on time if its lateness is at most this");
ABSL_FLAG(absl::Duration, lead, absl::ZeroDuration(),
          "fire/herd: first due time this far after creating starts (0 = estimated)");
ABSL_FLAG(absl::Duration, subscribe_after, absl::ZeroDuration(),
          "herd: subscribers connect this long after the due time (0 = before creating), so "
          "the fires wait on disk: a backlog drain after a consumer outage");
ABSL_FLAG(std::string, receipts_csv, "",
          "fire/mixed: append label,receipt_unix_us,lateness_ms,dispatch_ms per first delivery "
          "(first 100k) to this file");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("load scenarios against chimed; see --help");
  absl::ParseCommandLine(argc, argv);
  auto channel = chime::bench::NewBenchChannel(absl::GetFlag(FLAGS_server));
  const std::string s = absl::GetFlag(FLAGS_scenario);
  if (s == "create" || s == "create-floor") return chime::bench::RunCreate(channel, s);
  if (s == "fire" || s == "mixed" || s == "fire-floor") return chime::bench::RunFire(channel, s);
  if (s == "herd" || s == "herd-floor") return chime::bench::RunHerd(channel, s);
  if (s == "capacity") return chime::bench::RunCapacity(channel);
  if (s == "restart") return chime::bench::RunRestart(channel);
  if (s == "webhook") return chime::bench::RunWebhook(channel);
  fprintf(stderr, "unknown --scenario %s\n", s.c_str());
  return 2;
}
