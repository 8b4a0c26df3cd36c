// Crash-loop system test: while a writer creates (and sometimes cancels) timers at a steady
// rate and a reconnecting subscriber acks everything, chimed is SIGKILLed and restarted at
// random moments, at least 20 times. At the end every create acknowledged to the writer was
// delivered at least once, no timer cancelled before its due time was delivered, and the
// number of duplicate deliveries is printed. CHIME_CRASH_LOOP_KILLS=N runs a longer version.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "chime/v1/timer.grpc.pb.h"
#include "common/proto_time.h"
#include "gtest/gtest.h"
#include "tests/testing/chimed_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace chime {
namespace {

using testing::ChimedProcess;
using testing::TempDir;
using v1::TimerService;

constexpr char kTopic[] = "crashloop";

// The address of the running chimed; it changes on every restart (kernel-chosen port).
class CurrentServer {
 public:
  void Set(const std::string& address) {
    absl::MutexLock lock(&mu_);
    address_ = address;
    stub_ = TimerService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  }
  std::shared_ptr<TimerService::Stub> Stub() {
    absl::MutexLock lock(&mu_);
    return stub_;
  }

 private:
  absl::Mutex mu_;
  std::string address_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<TimerService::Stub> stub_ ABSL_GUARDED_BY(mu_);
};

struct Results {
  absl::Mutex mu;
  std::set<std::string> created ABSL_GUARDED_BY(mu);    // CreateTimer returned OK
  std::set<std::string> cancelled ABSL_GUARDED_BY(mu);  // CancelTimer returned CANCELLED
  // CancelTimer failed (e.g. the server was killed): it may or may not have been cancelled.
  std::set<std::string> maybe_cancelled ABSL_GUARDED_BY(mu);
  std::map<std::string, int> delivered ABSL_GUARDED_BY(mu);  // by timer id: deliveries
  int create_failures ABSL_GUARDED_BY(mu) = 0;
};

// Creates a timer every 20 ms, due 0.5-5 s ahead; cancels one in ten right away.
void Writer(CurrentServer* server, Results* results, std::atomic<bool>* stop) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> delay_ms(500, 5000);
  for (int n = 0; !stop->load(); ++n) {
    std::shared_ptr<TimerService::Stub> stub = server->Stub();
    const std::string id = absl::StrCat("w-", n);
    v1::CreateTimerRequest req;
    req.set_timer_id(id);
    *req.mutable_delay() = ToProtoDuration(absl::Milliseconds(delay_ms(rng)));
    req.mutable_target()->set_topic(kTopic);
    req.set_payload(id);
    // Short deadline so redeliveries after a kill come quickly; attempts are not the point.
    *req.mutable_delivery_policy()->mutable_ack_deadline() = ToProtoDuration(absl::Seconds(2));
    req.mutable_delivery_policy()->set_max_attempts(1000);
    *req.mutable_delivery_policy()->mutable_min_backoff() =
        ToProtoDuration(absl::Milliseconds(100));
    *req.mutable_delivery_policy()->mutable_max_backoff() = ToProtoDuration(absl::Seconds(1));
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    v1::CreateTimerResponse resp;
    const bool ok = stub->CreateTimer(&ctx, req, &resp).ok();
    {
      absl::MutexLock lock(&results->mu);
      if (ok) {
        results->created.insert(id);
      } else {
        ++results->create_failures;
      }
    }
    if (ok && n % 10 == 0) {
      grpc::ClientContext cctx;
      cctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
      v1::CancelTimerRequest creq;
      creq.set_timer_id(id);
      v1::Timer timer;
      const grpc::Status status = stub->CancelTimer(&cctx, creq, &timer);
      absl::MutexLock lock(&results->mu);
      if (!status.ok()) {
        results->maybe_cancelled.insert(id);
      } else if (timer.state() == v1::TIMER_STATE_CANCELLED) {
        results->cancelled.insert(id);
      }
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

// Subscribes, acks every fire, and reconnects (to the current address) when the stream ends.
void Subscriber(CurrentServer* server, Results* results, std::atomic<bool>* stop) {
  while (!stop->load()) {
    std::shared_ptr<TimerService::Stub> stub = server->Stub();
    grpc::ClientContext ctx;
    auto stream = stub->Subscribe(&ctx);
    v1::SubscribeRequest start;
    start.mutable_start()->set_topic(kTopic);
    start.mutable_start()->set_max_outstanding(500);
    if (stream->Write(start)) {
      v1::SubscribeResponse resp;
      while (stream->Read(&resp)) {
        v1::SubscribeRequest ack;
        for (const v1::Fire& f : resp.fires()) {
          ack.mutable_ack()->add_fire_ids(f.fire_id());
          absl::MutexLock lock(&results->mu);
          ++results->delivered[f.timer_id()];
        }
        if (ack.has_ack() && !stream->Write(ack)) break;
      }
    }
    ctx.TryCancel();
    stream->Finish().ok();
    absl::SleepFor(absl::Milliseconds(100));  // reconnect backoff
  }
}

int KillsWanted() {
  const char* env = std::getenv("CHIME_CRASH_LOOP_KILLS");
  if (env == nullptr) return 20;
  const int n = std::atoi(env);
  return n > 0 ? n : 20;
}

TEST(CrashLoopTest, EveryAcknowledgedCreateIsDeliveredAcrossRepeatedSigkills) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  const int kills = KillsWanted();
  // The default run must stay within 3 minutes; the long one scales with the kills.
  const absl::Time budget_end = absl::Now() + absl::Seconds(kills <= 20 ? 150 : 12 * kills);

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ChimedProcess> chimed, ChimedProcess::Start(data));
  CurrentServer server;
  server.Set(chimed->address());
  Results results;
  std::atomic<bool> stop_writer{false};
  std::atomic<bool> stop_subscriber{false};
  std::thread writer(Writer, &server, &results, &stop_writer);
  std::thread subscriber(Subscriber, &server, &results, &stop_subscriber);

  std::mt19937 rng(7);
  std::uniform_int_distribution<int> uptime_ms(300, 4500);
  int done = 0;
  absl::Duration restart_total;
  for (; done < kills && absl::Now() < budget_end; ++done) {
    absl::SleepFor(absl::Milliseconds(uptime_ms(rng)));
    chimed->Kill();
    chimed.reset();
    auto restarted = ChimedProcess::Start(data);
    ASSERT_OK(restarted.status());
    chimed = std::move(*restarted);
    restart_total += chimed->startup_time();
    server.Set(chimed->address());
  }
  stop_writer = true;
  writer.join();

  // Stragglers: the last timers are due up to 5 s after the last create, redeliveries after
  // a kill wait for a 2 s deadline. Bounded wait.
  std::set<std::string> expected;
  {
    absl::MutexLock lock(&results.mu);
    for (const std::string& id : results.created) {
      if (!results.cancelled.contains(id) && !results.maybe_cancelled.contains(id)) {
        expected.insert(id);
      }
    }
  }
  auto missing = [&]() {
    absl::MutexLock lock(&results.mu);
    std::vector<std::string> out;
    for (const std::string& id : expected) {
      if (!results.delivered.contains(id)) out.push_back(id);
    }
    return out;
  };
  const absl::Time straggler_end = absl::Now() + absl::Seconds(60);
  while (!missing().empty() && absl::Now() < straggler_end) absl::SleepFor(absl::Milliseconds(100));
  // A little longer, so a delivery of a cancelled timer would have time to show up.
  absl::SleepFor(absl::Seconds(1));
  stop_subscriber = true;
  chimed->Kill();  // ends the stream; with no server the subscriber does not reconnect
  subscriber.join();

  const std::vector<std::string> lost = missing();  // takes results.mu itself
  absl::MutexLock lock(&results.mu);
  EXPECT_GE(done, 20);
  EXPECT_TRUE(lost.empty()) << lost.size() << " acknowledged creates never delivered, e.g. "
                            << lost.front();
  int cancelled_delivered = 0;
  for (const std::string& id : results.cancelled) {
    if (results.delivered.contains(id)) ++cancelled_delivered;
  }
  EXPECT_EQ(cancelled_delivered, 0) << "timers cancelled before due were delivered";
  int duplicates = 0;
  for (const auto& [id, n] : results.delivered) duplicates += n - 1;
  std::cout << "crash loop: kills=" << done << " created=" << results.created.size()
            << " cancelled=" << results.cancelled.size()
            << " cancel_unknown=" << results.maybe_cancelled.size()
            << " create_failures=" << results.create_failures
            << " delivered_timers=" << results.delivered.size() << " duplicates=" << duplicates
            << " mean_restart_ms="
            << (done > 0 ? absl::ToDoubleMilliseconds(restart_total) / done : 0.0) << "\n";
  EXPECT_GT(results.created.size(), 100u);
}

}  // namespace
}  // namespace chime
