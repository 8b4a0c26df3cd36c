// Webhook delivery throughput: `--count` webhook timers (default 20000) all due at one instant
// after they are created, POSTed by chimed to a fast receiver in this process (127.0.0.1, every
// request answered 200 at once). Reports deliveries/s from the first to the last request
// received. chimed must allow loopback: `chimed --webhook-allow 127.0.0.0/8` (use --server).
#include <atomic>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "chime/v1/timer.pb.h"
#include "common/proto_time.h"
#include "server/webhook/test_receiver.h"
#include "tests/bench/bench_util.h"
#include "tests/bench/flags.h"
#include "tests/bench/scenarios.h"
#include "tests/bench/unary_load.h"

namespace chime::bench {

int RunWebhook(const std::shared_ptr<grpc::Channel>& channel) {
  int64_t count = absl::GetFlag(FLAGS_count);
  if (count <= 0) count = 20000;
  absl::Mutex mu;
  int64_t received = 0;
  absl::Time first = absl::InfiniteFuture();
  absl::Time last = absl::InfinitePast();
  webhook::testing::TestReceiver receiver([&](const webhook::testing::ReceivedRequest&) {
    const absl::Time now = absl::Now();
    absl::MutexLock lock(&mu);
    ++received;
    first = std::min(first, now);
    last = std::max(last, now);
    return webhook::testing::ReceiverResponse{};
  });
  receiver.set_record(false);
  if (!receiver.Start()) {
    fprintf(stderr, "webhook: cannot listen on 127.0.0.1\n");
    return 1;
  }
  const std::string url = absl::StrFormat("http://127.0.0.1:%d/hook", receiver.port());

  // All due together, once every create is in: the measured part is delivery alone.
  const absl::Time due = absl::Now() + absl::Seconds(5) + absl::Milliseconds(count / 2);
  v1::CreateTimerRequest req;
  req.mutable_target()->mutable_webhook()->set_url(url);
  *req.mutable_fire_at() = ToProtoTimestamp(due);
  req.set_payload("bench");
  UnaryLoadOptions create;
  create.method = "/chime.v1.TimerService/CreateTimer";
  create.requests = {req.SerializeAsString()};
  create.inflight = 64;
  create.max_calls = count;
  create.duration = due - absl::Now();
  create.keep_latencies = false;
  const UnaryLoadResult created = RunUnaryLoad(channel, create);
  if (created.failed > 0) fprintf(stderr, "create failed: %s\n", created.first_error.c_str());
  if (absl::Now() >= due) fprintf(stderr, "webhook: creates overran the due time\n");

  const absl::Time give_up = due + absl::Seconds(120);
  {
    absl::MutexLock lock(&mu);
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return received >= created.ok; };
    mu.AwaitWithDeadline(absl::Condition(&done), give_up);
  }
  receiver.Stop();
  absl::MutexLock lock(&mu);
  const double seconds = absl::ToDoubleSeconds(last - first);
  const double per_second = received / std::max(1e-9, seconds);
  PrintRow(absl::StrFormat("%-9s %8s %9s %13s %6s", "scenario", "created", "received",
                           "deliveries/s", "load"),
           absl::StrFormat("%-9s %8d %9d %13.0f %6.2f", "webhook", created.ok, received, per_second,
                           LoadAverage1()));
  AppendJson(absl::GetFlag(FLAGS_json), "webhook",
             absl::StrFormat("\"created\":%d,\"received\":%d,\"seconds\":%.3f,"
                             "\"deliveries_per_second\":%.1f,\"load1\":%.2f",
                             created.ok, received, seconds, per_second, LoadAverage1()));
  return received >= created.ok ? 0 : 1;
}

}  // namespace chime::bench
