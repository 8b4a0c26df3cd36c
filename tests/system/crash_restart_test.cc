// System test: chimed as a real process, killed with SIGKILL and restarted on the same data
// dir. Every acknowledged create still fires, every unacked fire is delivered again (same
// fire_id, higher attempt), and a fire acked before the kill is not delivered again.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <map>
#include <set>
#include <string>

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

  // Acks and waits for the durable ACKED result, collecting fires that arrive meanwhile.
  void AckAndWait(const std::string& fire_id, std::vector<v1::Fire>* also_received) {
    v1::SubscribeRequest ack;
    ack.mutable_ack()->add_fire_ids(fire_id);
    ASSERT_TRUE(stream_->Write(ack));
    v1::SubscribeResponse resp;
    while (!ack_results_.count(fire_id) && stream_->Read(&resp)) {
      for (const auto& f : resp.fires()) also_received->push_back(f);
      for (const auto& r : resp.ack_results()) ack_results_[r.fire_id()] = r.outcome();
    }
    ASSERT_EQ(ack_results_[fire_id], v1::ACK_OUTCOME_ACKED);
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
  std::set<std::string> later_ids;
  std::string acked_fire_id, unacked_fire_id;
  // One shard: attempt records are written lazily (no fsync of their own) and in order per
  // shard, so once early-a's ack is confirmed, early-b's attempt record, decided before it, is
  // in the same WAL. With several shards it may still be queued on another shard's writer when
  // the kill comes, and early-b would come back as attempt 1 (at-least-once allows that).
  const std::vector<std::string> one_shard = {"--shards", "1"};
  {
    ASSERT_OK_AND_ASSIGN(auto chimed, ChimedProcess::Start(data, one_shard));
    auto stub = Connect(chimed->address());
    // Two timers due at once: one will be acked, one left unacked. A short ack deadline
    // keeps the wait for the unacked one's redelivery after the restart short.
    for (const char* id : {"early-a", "early-b"}) {
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
    std::vector<v1::Fire> fires = sub.ReadFires(2);
    ASSERT_EQ(fires.size(), 2u) << chimed->Log();
    for (const auto& f : fires) {
      EXPECT_EQ(f.attempt(), 1u);
      (f.timer_id() == "early-a" ? acked_fire_id : unacked_fire_id) = f.fire_id();
    }
    ASSERT_FALSE(acked_fire_id.empty());
    ASSERT_FALSE(unacked_fire_id.empty());
    std::vector<v1::Fire> more;
    sub.AckAndWait(acked_fire_id, &more);
    for (const auto& f : more) EXPECT_EQ(f.timer_id().rfind("later-", 0), 0u) << f.timer_id();
    chimed->Kill();
  }

  ASSERT_OK_AND_ASSIGN(auto chimed, ChimedProcess::Start(data, one_shard));
  auto stub = Connect(chimed->address());
  TestSubscriber sub(stub.get(), topic);
  std::map<std::string, v1::Fire> received;  // by timer id
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (received.size() < later_ids.size() + 1 && absl::Now() < give_up) {
    std::vector<v1::Fire> fires = sub.ReadFires(1);
    if (fires.empty()) break;
    for (const auto& f : fires) {
      EXPECT_NE(f.fire_id(), acked_fire_id) << "a fire acked before the kill came back";
      received[f.timer_id()] = f;
    }
  }
  for (const auto& id : later_ids) EXPECT_TRUE(received.count(id)) << id << " never fired";
  ASSERT_TRUE(received.count("early-b")) << "the unacked fire was not delivered again";
  EXPECT_EQ(received["early-b"].fire_id(), unacked_fire_id);
  EXPECT_GE(received["early-b"].attempt(), 2u);
  EXPECT_FALSE(received.count("early-a"));
  EXPECT_EQ(received["later-7"].payload(), "payload-later-7");
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

}  // namespace
}  // namespace chime
