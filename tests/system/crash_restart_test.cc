// System test: chimed as a real process, killed with SIGKILL and restarted on the same data
// dir. Every acknowledged create still fires, every unacked fire is delivered again (same
// fire_id), a nack's delay and attempt count survive, and a fire acked before the kill is not
// delivered again.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
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

std::unique_ptr<TimerService::Stub> Connect(const std::string& address) {
  return TimerService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

v1::CreateTimerRequest DelayedTimer(const std::string& id, absl::Duration delay,
                                    const std::string& topic) {
  v1::CreateTimerRequest req;
  req.set_timer_id(id);
  *req.mutable_delay() = ToProtoDuration(delay);
  req.mutable_target()->set_topic(topic);
  req.set_payload("payload-" + id);
  return req;
}

// A Subscribe stream read synchronously by the test thread.
class TestSubscriber {
 public:
  TestSubscriber(TimerService::Stub* stub, const std::string& topic) {
    ctx_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
    stream_ = stub->Subscribe(&ctx_);
    v1::SubscribeRequest start;
    start.mutable_start()->set_topic(topic);
    start.mutable_start()->set_max_outstanding(1000);
    EXPECT_TRUE(stream_->Write(start));
  }
  ~TestSubscriber() {
    ctx_.TryCancel();
    stream_->Finish().ok();
  }

  // Reads until `want` fires arrived or the stream ends; returns them in arrival order.
  std::vector<v1::Fire> ReadFires(size_t want) {
    std::vector<v1::Fire> fires;
    v1::SubscribeResponse resp;
    while (fires.size() < want && stream_->Read(&resp)) {
      for (const auto& f : resp.fires()) fires.push_back(f);
      for (const auto& r : resp.ack_results()) ack_results_[r.fire_id()] = r.outcome();
    }
    return fires;
  }

  // Acks (or, with a delay, nacks) and waits for the durable result, collecting fires that
  // arrive meanwhile.
  void SettleAndWait(const std::string& fire_id, std::optional<absl::Duration> nack_delay,
                     std::vector<v1::Fire>* also_received) {
    v1::SubscribeRequest req;
    if (nack_delay.has_value()) {
      req.mutable_nack()->add_fire_ids(fire_id);
      *req.mutable_nack()->mutable_delay() = ToProtoDuration(*nack_delay);
    } else {
      req.mutable_ack()->add_fire_ids(fire_id);
    }
    ASSERT_TRUE(stream_->Write(req));
    v1::SubscribeResponse resp;
    while (!ack_results_.count(fire_id) && stream_->Read(&resp)) {
      for (const auto& f : resp.fires()) also_received->push_back(f);
      for (const auto& r : resp.ack_results()) ack_results_[r.fire_id()] = r.outcome();
    }
    ASSERT_EQ(ack_results_[fire_id],
              nack_delay.has_value() ? v1::ACK_OUTCOME_NACKED : v1::ACK_OUTCOME_ACKED);
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::SubscribeRequest, v1::SubscribeResponse>> stream_;
  std::map<std::string, v1::AckOutcome> ack_results_;
};

TEST(CrashRestartTest, NothingAcknowledgedIsLostAcrossSigkill) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  const std::string topic = "crash";
  const absl::Duration nack_delay = absl::Seconds(3);
  std::set<std::string> later_ids;
  std::map<std::string, std::string> early_fire_ids;  // timer id -> fire id
  absl::Time nacked_at;
  {
    ASSERT_OK_AND_ASSIGN(auto chimed, ChimedProcess::Start(data));
    auto stub = Connect(chimed->address());
    // Three timers due at once: one will be acked, one left unacked, one nacked with a
    // delay. A short ack deadline keeps the wait for the unacked one short after the restart.
    for (const char* id : {"early-a", "early-b", "early-c"}) {
      grpc::ClientContext ctx;
      v1::CreateTimerResponse resp;
      v1::CreateTimerRequest req = DelayedTimer(id, absl::ZeroDuration(), topic);
      *req.mutable_delivery_policy()->mutable_ack_deadline() = ToProtoDuration(absl::Seconds(2));
      ASSERT_TRUE(stub->CreateTimer(&ctx, req, &resp).ok());
    }
    // Timers due 2-5 s from now, after the kill.
    for (int i = 0; i < 60; ++i) {
      std::string id = absl::StrCat("later-", i);
      grpc::ClientContext ctx;
      v1::CreateTimerResponse resp;
      grpc::Status s = stub->CreateTimer(
          &ctx, DelayedTimer(id, absl::Milliseconds(2000 + 50 * i), topic), &resp);
      ASSERT_TRUE(s.ok()) << s.error_message();
      later_ids.insert(id);
    }
    TestSubscriber sub(stub.get(), topic);
    std::vector<v1::Fire> fires = sub.ReadFires(3);
    ASSERT_EQ(fires.size(), 3u) << chimed->Log();
    for (const auto& f : fires) {
      EXPECT_EQ(f.attempt(), 1u);
      early_fire_ids[f.timer_id()] = f.fire_id();
    }
    ASSERT_EQ(early_fire_ids.size(), 3u);
    std::vector<v1::Fire> more;
    sub.SettleAndWait(early_fire_ids["early-a"], std::nullopt, &more);
    nacked_at = absl::Now();
    sub.SettleAndWait(early_fire_ids["early-c"], nack_delay, &more);
    for (const auto& f : more) EXPECT_EQ(f.timer_id().rfind("later-", 0), 0u) << f.timer_id();
    chimed->Kill();
  }

  ASSERT_OK_AND_ASSIGN(auto chimed, ChimedProcess::Start(data));
  auto stub = Connect(chimed->address());
  TestSubscriber sub(stub.get(), topic);
  std::map<std::string, v1::Fire> received;       // by timer id
  std::map<std::string, absl::Time> received_at;  // by timer id
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (received.size() < later_ids.size() + 2 && absl::Now() < give_up) {
    std::vector<v1::Fire> fires = sub.ReadFires(1);
    if (fires.empty()) break;
    for (const auto& f : fires) {
      EXPECT_NE(f.fire_id(), early_fire_ids["early-a"]) << "a fire acked before the kill came back";
      received[f.timer_id()] = f;
      received_at.emplace(f.timer_id(), absl::Now());
    }
  }
  for (const auto& id : later_ids) EXPECT_TRUE(received.count(id)) << id << " never fired";
  // Unacked: delivered again. Its attempt count is at least the recorded one; the record of
  // the send itself may not have been written before the kill (it is lazy, README).
  ASSERT_TRUE(received.count("early-b")) << "the unacked fire was not delivered again";
  EXPECT_EQ(received["early-b"].fire_id(), early_fire_ids["early-b"]);
  EXPECT_GE(received["early-b"].attempt(), 1u);
  // Nacked: durable once answered, with the attempt before it and the delay.
  ASSERT_TRUE(received.count("early-c")) << "the nacked fire was not delivered again";
  EXPECT_EQ(received["early-c"].fire_id(), early_fire_ids["early-c"]);
  EXPECT_EQ(received["early-c"].attempt(), 2u);
  EXPECT_GE(received_at["early-c"], nacked_at + nack_delay);
  EXPECT_FALSE(received.count("early-a"));
  EXPECT_EQ(received["later-7"].payload(), "payload-later-7");
}

// Fires a subscriber takes from memory are not written before their ack (--fire-writes=deferred,
// the default): killed then, the unacked one fires again with the same fire id, the acked one
// (its ack answered, so durable) does not.
TEST(CrashRestartTest, FiresOutUnwrittenAtSigkillFireAgainAndAckedOnesDoNot) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  const std::string topic = "out";
  std::map<std::string, std::string> fire_ids;  // timer id -> fire id
  {
    ASSERT_OK_AND_ASSIGN(auto chimed, ChimedProcess::Start(data));
    auto stub = Connect(chimed->address());
    TestSubscriber sub(stub.get(), topic);  // subscribed before the timers fire
    for (const char* id : {"out-acked", "out-unacked"}) {
      grpc::ClientContext ctx;
      v1::CreateTimerResponse resp;
      ASSERT_TRUE(stub->CreateTimer(&ctx, DelayedTimer(id, absl::Seconds(1), topic), &resp).ok());
    }
    std::vector<v1::Fire> fires = sub.ReadFires(2);
    ASSERT_EQ(fires.size(), 2u) << chimed->Log();
    for (const auto& f : fires) fire_ids[f.timer_id()] = f.fire_id();
    std::vector<v1::Fire> more;
    sub.SettleAndWait(fire_ids["out-acked"], std::nullopt, &more);
    chimed->Kill();
  }

  ASSERT_OK_AND_ASSIGN(auto chimed, ChimedProcess::Start(data));
  auto stub = Connect(chimed->address());
  TestSubscriber sub(stub.get(), topic);
  std::vector<v1::Fire> again = sub.ReadFires(1);
  ASSERT_EQ(again.size(), 1u) << chimed->Log();
  EXPECT_EQ(again[0].timer_id(), "out-unacked");
  EXPECT_EQ(again[0].fire_id(), fire_ids["out-unacked"]);
  EXPECT_EQ(again[0].payload(), "payload-out-unacked");
  std::vector<v1::Fire> more;
  sub.SettleAndWait(again[0].fire_id(), std::nullopt, &more);
  // The acked one stays done: a marker timer due later is the next fire.
  {
    grpc::ClientContext ctx;
    v1::CreateTimerResponse resp;
    ASSERT_TRUE(
        stub->CreateTimer(&ctx, DelayedTimer("marker", absl::Seconds(1), topic), &resp).ok());
  }
  std::vector<v1::Fire> next = more.empty() ? sub.ReadFires(1) : more;
  ASSERT_FALSE(next.empty());
  EXPECT_EQ(next[0].timer_id(), "marker");
  grpc::ClientContext ctx;
  v1::GetTimerRequest get;
  get.set_timer_id("out-acked");
  v1::Timer timer;
  ASSERT_TRUE(stub->GetTimer(&ctx, get, &timer).ok());
  EXPECT_EQ(timer.state(), v1::TIMER_STATE_COMPLETED);
}

// CreateTimers with idempotency keys: once answered, every key's claim and timer survive a
// SIGKILL, so the client's retry of the whole batch creates nothing twice and gets the same ids;
// the timers fire once each.
TEST(CrashRestartTest, BatchedCreatesWithIdempotencyKeysAreAnsweredTheSameAfterSigkill) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  const std::string topic = "keyed-batch";
  v1::CreateTimersRequest batch;
  for (int i = 0; i < 200; ++i) {
    v1::CreateTimerRequest* create = batch.add_requests();
    *create = DelayedTimer("", absl::Seconds(4), topic);
    create->set_idempotency_key(absl::StrCat("order-", i));
  }
  std::vector<std::string> ids;
  {
    ASSERT_OK_AND_ASSIGN(auto chimed, ChimedProcess::Start(data));
    auto stub = Connect(chimed->address());
    grpc::ClientContext ctx;
    v1::CreateTimersResponse response;
    ASSERT_TRUE(stub->CreateTimers(&ctx, batch, &response).ok());
    ASSERT_EQ(response.results_size(), 200);
    for (const v1::CreateTimerResult& result : response.results()) {
      ASSERT_EQ(result.code(), 0) << result.message();
      EXPECT_TRUE(result.created());
      ids.push_back(result.timer().timer_id());
    }
    chimed->Kill();
  }
  ASSERT_OK_AND_ASSIGN(auto chimed, ChimedProcess::Start(data));
  auto stub = Connect(chimed->address());
  TestSubscriber sub(stub.get(), topic);
  grpc::ClientContext ctx;
  v1::CreateTimersResponse retry;
  ASSERT_TRUE(stub->CreateTimers(&ctx, batch, &retry).ok());
  ASSERT_EQ(retry.results_size(), 200);
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(retry.results(i).code(), 0) << retry.results(i).message();
    EXPECT_FALSE(retry.results(i).created()) << "order-" << i << " was created twice";
    EXPECT_EQ(retry.results(i).timer().timer_id(), ids[i]);
  }
  std::map<std::string, int> fired;  // timer id -> fires
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  size_t received = 0;
  while (fired.size() < ids.size() && absl::Now() < give_up) {
    std::vector<v1::Fire> fires = sub.ReadFires(1);
    if (fires.empty()) break;
    for (const v1::Fire& f : fires) ++fired[f.timer_id()];
    received += fires.size();
  }
  EXPECT_EQ(fired.size(), ids.size()) << chimed->Log();
  EXPECT_EQ(received, ids.size());  // none twice (none was left unacked long enough to resend)
  for (const std::string& id : ids) EXPECT_EQ(fired[id], 1) << id;
}

TEST(CrashRestartTest, SigtermShutsDownCleanlyAndKeepsTimers) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  {
    ASSERT_OK_AND_ASSIGN(auto chimed, ChimedProcess::Start(data));
    auto stub = Connect(chimed->address());
    grpc::ClientContext ctx;
    v1::CreateTimerResponse resp;
    ASSERT_TRUE(stub->CreateTimer(&ctx, DelayedTimer("t1", absl::Seconds(1), "term"), &resp).ok());
    ASSERT_OK_AND_ASSIGN(int status, chimed->Signal(SIGTERM, absl::Seconds(30)));
    EXPECT_TRUE(WIFEXITED(status)) << chimed->Log();
    EXPECT_EQ(WEXITSTATUS(status), 0) << chimed->Log();
  }
  ASSERT_OK_AND_ASSIGN(auto chimed, ChimedProcess::Start(data));
  auto stub = Connect(chimed->address());
  TestSubscriber sub(stub.get(), "term");
  std::vector<v1::Fire> fires = sub.ReadFires(1);
  ASSERT_EQ(fires.size(), 1u);
  EXPECT_EQ(fires[0].timer_id(), "t1");
}

// --retention through a real process: the flush at a graceful stop drops the ended timers
// (retention 0: at once), so after the restart they are gone and every other one is intact.
TEST(CrashRestartTest, EndedTimersPastRetentionAreGoneAfterAGracefulRestart) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  const std::vector<std::string> args = {"--retention=0s", "--shards=1"};
  // Enough payload that the stop flushes the memtables instead of leaving them to the WAL.
  constexpr int kTimers = 1200;
  const std::string payload(1024, 'p');
  {
    ASSERT_OK_AND_ASSIGN(auto chimed, ChimedProcess::Start(data, args));
    auto stub = Connect(chimed->address());
    for (int i = 0; i < kTimers; ++i) {
      grpc::ClientContext ctx;
      v1::CreateTimerResponse resp;
      v1::CreateTimerRequest req = DelayedTimer(absl::StrCat("t", i), absl::Hours(1), "keep");
      req.set_payload(payload);
      ASSERT_TRUE(stub->CreateTimer(&ctx, req, &resp).ok());
    }
    for (int i = 0; i < kTimers; i += 2) {
      grpc::ClientContext ctx;
      v1::CancelTimerRequest req;
      req.set_timer_id(absl::StrCat("t", i));
      v1::Timer cancelled;
      ASSERT_TRUE(stub->CancelTimer(&ctx, req, &cancelled).ok());
    }
    // Two fire now: one is acked (its timer ends), one is left pending.
    for (const char* id : {"acked", "pending"}) {
      grpc::ClientContext ctx;
      v1::CreateTimerResponse resp;
      ASSERT_TRUE(stub->CreateTimer(&ctx, DelayedTimer(id, absl::ZeroDuration(), id), &resp).ok());
    }
    TestSubscriber acker(stub.get(), "acked");
    std::vector<v1::Fire> fires = acker.ReadFires(1);
    ASSERT_EQ(fires.size(), 1u) << chimed->Log();
    std::vector<v1::Fire> more;
    acker.SettleAndWait(fires[0].fire_id(), std::nullopt, &more);
    ASSERT_OK_AND_ASSIGN(int status, chimed->Signal(SIGTERM, absl::Seconds(30)));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << chimed->Log();
  }
  ASSERT_OK_AND_ASSIGN(auto chimed, ChimedProcess::Start(data, args));
  auto stub = Connect(chimed->address());
  auto get = [&](const std::string& id, v1::Timer* timer) {
    grpc::ClientContext ctx;
    v1::GetTimerRequest req;
    req.set_timer_id(id);
    return stub->GetTimer(&ctx, req, timer);
  };
  for (int i = 0; i < kTimers; ++i) {
    v1::Timer timer;
    grpc::Status s = get(absl::StrCat("t", i), &timer);
    if (i % 2 == 0) {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << "t" << i << " " << chimed->Log();
    } else {
      ASSERT_TRUE(s.ok()) << "t" << i << ": " << s.error_message();
      EXPECT_EQ(timer.state(), v1::TIMER_STATE_SCHEDULED);
      EXPECT_EQ(timer.payload(), payload);
    }
  }
  v1::Timer timer;
  EXPECT_EQ(get("acked", &timer).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(get("pending", &timer).ok());
  EXPECT_EQ(timer.state(), v1::TIMER_STATE_FIRED);
  // A removed id can be used again.
  grpc::ClientContext ctx;
  v1::CreateTimerResponse resp;
  ASSERT_TRUE(stub->CreateTimer(&ctx, DelayedTimer("t0", absl::Hours(1), "keep"), &resp).ok());
  EXPECT_TRUE(resp.created());
}

}  // namespace
}  // namespace chime
