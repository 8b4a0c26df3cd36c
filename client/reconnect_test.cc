// The client library across server restarts, against a real in-process server restarted on the
// same address and data dir: Subscription reconnect (same topic and window), acks of fires from
// a broken stream, the AckAndWait helper, the Consume callback consumer, and AfterFunc running
// each callback once although its fire is redelivered. Real time with short delays; every wait
// is on an event or a condition with a generous bound.
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/chime_server.h"
#include "tests/testing/eventually.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace chime {
namespace {

using ::chime::testing::Eventually;

using ::chime::testing::StatusIs;
using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(30);

// Quick reconnects so the tests do not wait on the default backoff.
SubscribeOptions FastReconnect(uint32_t max_outstanding = 0) {
  SubscribeOptions options;
  options.max_outstanding = max_outstanding;
  options.reconnect.min_backoff = absl::Milliseconds(20);
  options.reconnect.max_backoff = absl::Milliseconds(300);
  return options;
}

class ReconnectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StartServer();
    ASSERT_OK_AND_ASSIGN(client_, Client::Connect(address_));
  }

  void TearDown() override {
    client_.reset();
    StopServer();
  }

  // Starts the server on the address of the previous one (a kernel-chosen port the first
  // time), over the same data dir.
  void StartServer() {
    ServerOptions options;
    options.data_dir = dir_.path() + "/data";
    options.listen = address_.empty() ? "127.0.0.1:0" : address_;
    options.shards = 4;
    options.fsync = false;
    // Fires whose acks were lost come again after 1 s, not the default 30 s.
    options.engine.default_ack_deadline = absl::Seconds(1);
    absl::StatusOr<std::unique_ptr<ChimeServer>> server = ChimeServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    address_ = server_->address();
  }

  // Graceful shutdown: streams end with UNAVAILABLE "server shutting down, reconnect".
  void StopServer() {
    if (server_) server_->Shutdown(absl::Now() + absl::Seconds(5));
    server_.reset();
  }

  void RestartServer() {
    StopServer();
    StartServer();
  }

  static v1::CreateTimerRequest InTopic(const std::string& topic, absl::Duration delay,
                                        const std::string& id) {
    v1::CreateTimerRequest request;
    request.set_timer_id(id);
    *request.mutable_delay() = ToProtoDuration(delay);
    request.mutable_target()->set_topic(topic);
    return request;
  }

  v1::TimerState StateOf(const std::string& ns, const std::string& id) {
    absl::StatusOr<v1::Timer> timer = client_->GetTimer(ns, id);
    return timer.ok() ? timer->state() : v1::TIMER_STATE_UNSPECIFIED;
  }

  testing::TempDir dir_;
  std::string address_;
  std::unique_ptr<ChimeServer> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(ReconnectTest, SubscriptionReconnectsWithTheSameTopicAndWindow) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Subscription> sub,
                       client_->Subscribe("default", "rc", FastReconnect(/*max_outstanding=*/1)));
  // A long ack deadline, so a redelivery on deadline cannot free the window below.
  auto with_long_deadline = [](v1::CreateTimerRequest request) {
    *request.mutable_delivery_policy()->mutable_ack_deadline() = ToProtoDuration(absl::Minutes(5));
    return request;
  };
  ASSERT_OK(client_->CreateTimer(with_long_deadline(InTopic("rc", absl::Milliseconds(200), "rc1")))
                .status());
  ASSERT_OK_AND_ASSIGN(std::optional<v1::Fire> first, sub->Next(kWait));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->attempt(), 1u);

  RestartServer();
  ASSERT_TRUE(sub->AwaitReconnect(0, kWait)) << "no reconnect after the restart";
  // The first reconnect may reach the old server while it shuts down (it ends that stream at
  // once); the subscription then reconnects again, to the new one.
  EXPECT_TRUE(Eventually([&] { return sub->connected(); }));

  // The unacked fire comes again on the new stream, same fire_id, a later attempt.
  ASSERT_OK_AND_ASSIGN(std::optional<v1::Fire> again, sub->Next(kWait));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->fire_id(), first->fire_id());
  EXPECT_GE(again->attempt(), 2u);

  // The window (1) was sent again: a second due fire waits until the first is acked.
  ASSERT_OK(client_->CreateTimer(with_long_deadline(InTopic("rc", absl::Milliseconds(100), "rc2")))
                .status());
  ASSERT_TRUE(Eventually([&] { return StateOf("default", "rc2") != v1::TIMER_STATE_SCHEDULED; }));
  ASSERT_OK_AND_ASSIGN(std::optional<v1::Fire> held, sub->Next(absl::Seconds(1)));
  EXPECT_FALSE(held.has_value()) << "window of 1 exceeded: got " << held->timer_id() << " attempt "
                                 << held->attempt();

  ASSERT_OK_AND_ASSIGN(v1::AckOutcome outcome, sub->AckAndWait(again->fire_id(), kWait));
  EXPECT_EQ(outcome, v1::ACK_OUTCOME_ACKED);
  ASSERT_OK_AND_ASSIGN(std::optional<v1::Fire> second, sub->Next(kWait));
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->timer_id(), "rc2");
  ASSERT_OK_AND_ASSIGN(outcome, sub->AckAndWait(second->fire_id(), kWait));
  EXPECT_EQ(outcome, v1::ACK_OUTCOME_ACKED);
  EXPECT_TRUE(Eventually([&] { return StateOf("default", "rc1") == v1::TIMER_STATE_COMPLETED; }));
}

TEST_F(ReconnectTest, AckOfAFireFromABrokenStreamIsDroppedAndTheFireComesAgain) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Subscription> sub,
                       client_->Subscribe("default", "drop", FastReconnect()));
  ASSERT_OK(client_->CreateTimer(InTopic("drop", absl::Milliseconds(200), "d1")).status());
  ASSERT_OK_AND_ASSIGN(std::optional<v1::Fire> fire, sub->Next(kWait));
  ASSERT_TRUE(fire.has_value());

  StopServer();
  ASSERT_TRUE(Eventually([&] { return !sub->connected(); }));
  // No stream: the ack is dropped (the caller learns it), nothing breaks.
  EXPECT_THAT(sub->Ack({fire->fire_id()}), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(sub->Nack({fire->fire_id()}), StatusIs(absl::StatusCode::kUnavailable));

  StartServer();
  ASSERT_OK_AND_ASSIGN(std::optional<v1::Fire> again, sub->Next(kWait));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->fire_id(), fire->fire_id());
  ASSERT_OK_AND_ASSIGN(v1::AckOutcome outcome, sub->AckAndWait(again->fire_id(), kWait));
  EXPECT_EQ(outcome, v1::ACK_OUTCOME_ACKED);
  EXPECT_TRUE(Eventually([&] { return StateOf("default", "d1") == v1::TIMER_STATE_COMPLETED; }));
  EXPECT_GE(sub->reconnects(), 1);
}

TEST_F(ReconnectTest, AckHelperAcksAFireDeliveredBeforeTheRestart) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Subscription> sub,
                       client_->Subscribe("default", "late-ack", FastReconnect()));
  ASSERT_OK(client_->CreateTimer(InTopic("late-ack", absl::Milliseconds(200), "l1")).status());
  ASSERT_OK_AND_ASSIGN(std::optional<v1::Fire> fire, sub->Next(kWait));
  ASSERT_TRUE(fire.has_value());
  RestartServer();
  // Sent on the new stream as soon as it is up; the server settles by fire_id.
  ASSERT_OK_AND_ASSIGN(v1::AckOutcome outcome, sub->AckAndWait(fire->fire_id(), kWait));
  EXPECT_EQ(outcome, v1::ACK_OUTCOME_ACKED);
  EXPECT_TRUE(Eventually([&] { return StateOf("default", "l1") == v1::TIMER_STATE_COMPLETED; }));
}

TEST_F(ReconnectTest, GivesUpAfterMaxAttemptsWithTheLastError) {
  SubscribeOptions options = FastReconnect();
  options.reconnect.max_attempts = 3;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Subscription> sub,
                       client_->Subscribe("default", "gone", options));
  StopServer();
  EXPECT_THAT(sub->Next(kWait), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_FALSE(sub->AwaitReconnect(0, absl::ZeroDuration()));
}

TEST_F(ReconnectTest, ReconnectDisabledEndsWithTheStreamStatus) {
  SubscribeOptions options;
  options.reconnect.enabled = false;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Subscription> sub,
                       client_->Subscribe("default", "once", options));
  // Subscribe returns once the start is sent; stop only after the server has taken it.
  ASSERT_TRUE(Eventually([&] {
    std::optional<delivery::TopicStats> stats =
        server_->delivery()->GetTopicStats("default", "once");
    return stats.has_value() && stats->subscribers == 1;
  }));
  StopServer();
  absl::StatusOr<std::optional<v1::Fire>> next = sub->Next(kWait);
  EXPECT_THAT(next, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(std::string(next.status().message()), HasSubstr("reconnect"));
}

TEST_F(ReconnectTest, InvalidOptionsAreRejected) {
  SubscribeOptions options;
  options.reconnect.min_backoff = absl::ZeroDuration();
  EXPECT_THAT(client_->Subscribe("default", "x", options),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ConsumeOptions consume;
  consume.parallelism = 0;
  absl::StatusOr<std::unique_ptr<Consumer>> consumer =
      client_->Consume("default", "x", consume, [](const v1::Fire&) { return absl::OkStatus(); });
  EXPECT_THAT(consumer, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(consumer.status().message(), "parallelism is 0, must be 1..1000");
}

TEST_F(ReconnectTest, ConsumeAcksSuccessesAndNacksFailures) {
  absl::Mutex mu;
  std::map<std::string, std::vector<uint32_t>> attempts;  // timer id -> attempts seen
  ConsumeOptions options;
  options.subscribe = FastReconnect();
  options.parallelism = 2;
  options.nack_delay = absl::Milliseconds(100);
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Consumer> consumer,
      client_->Consume("default", "work", options, [&](const v1::Fire& fire) -> absl::Status {
        absl::MutexLock lock(&mu);
        attempts[fire.timer_id()].push_back(fire.attempt());
        // "flaky" fails its first attempt.
        if (fire.timer_id() == "flaky" && fire.attempt() == 1) {
          return absl::UnavailableError("downstream busy");
        }
        return absl::OkStatus();
      }));
  ASSERT_OK(client_->CreateTimer(InTopic("work", absl::Milliseconds(100), "ok1")).status());
  ASSERT_OK(client_->CreateTimer(InTopic("work", absl::Milliseconds(100), "flaky")).status());
  EXPECT_TRUE(Eventually([&] {
    return StateOf("default", "ok1") == v1::TIMER_STATE_COMPLETED &&
           StateOf("default", "flaky") == v1::TIMER_STATE_COMPLETED;
  }));
  consumer->Stop();
  EXPECT_OK(consumer->Wait());
  absl::MutexLock lock(&mu);
  EXPECT_THAT(attempts["ok1"], ::testing::ElementsAre(1u));
  EXPECT_THAT(attempts["flaky"], ::testing::ElementsAre(1u, 2u));
  EXPECT_EQ(consumer->acked(), 2);
  EXPECT_EQ(consumer->nacked(), 1);
}

TEST_F(ReconnectTest, ConsumeSurvivesServerRestarts) {
  absl::Mutex mu;
  std::set<std::string> handled;
  ConsumeOptions options;
  options.subscribe = FastReconnect();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Consumer> consumer,
                       client_->Consume("default", "survive", options, [&](const v1::Fire& fire) {
                         absl::MutexLock lock(&mu);
                         handled.insert(fire.timer_id());
                         return absl::OkStatus();
                       }));
  std::set<std::string> want;
  for (int round = 0; round < 3; ++round) {
    const std::string id = absl::StrCat("s", round);
    // Due after the restart below: delivered by the reconnected stream.
    ASSERT_OK(client_->CreateTimer(InTopic("survive", absl::Milliseconds(300), id)).status());
    want.insert(id);
    RestartServer();
    ASSERT_TRUE(Eventually([&] {
      absl::MutexLock lock(&mu);
      return handled.contains(id);
    })) << id;
  }
  EXPECT_GE(consumer->subscription().reconnects(), 3);
  consumer->Stop();
  EXPECT_OK(consumer->Wait());
  absl::MutexLock lock(&mu);
  EXPECT_EQ(handled, want);
}

TEST_F(ReconnectTest, ConsumeOfAnInvalidTopicEnds) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Consumer> consumer,
                       client_->Consume("default", "bad topic", {},
                                        [](const v1::Fire&) { return absl::OkStatus(); }));
  EXPECT_THAT(consumer->Wait(), StatusIs(absl::StatusCode::kInvalidArgument));
  consumer->Stop();  // harmless after the end
}

TEST_F(ReconnectTest, AfterFuncRunsOnceWhenItsAckIsLostAndTheFireRedelivered) {
  std::atomic<int> runs{0};
  absl::Notification started;
  absl::Notification release;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TimerHandle> handle,
                       client_->AfterFunc(absl::Milliseconds(200), [&] {
                         ++runs;
                         started.Notify();
                         release.WaitForNotificationWithTimeout(kWait);
                       }));
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(kWait));
  // The fire is unacked while its callback runs; the restart loses the stream it came on, so
  // the server delivers the same fire again after its ack deadline (1 s).
  RestartServer();
  release.Notify();
  EXPECT_TRUE(Eventually(
      [&] { return StateOf(handle->ns(), handle->timer_id()) == v1::TIMER_STATE_COMPLETED; }));
  EXPECT_EQ(runs.load(), 1);
  EXPECT_FALSE(handle->Stop()) << "it fired";
}

TEST_F(ReconnectTest, AfterFuncFiresOnceAfterARestartAndStopStillWorks) {
  std::atomic<int> runs{0};
  absl::Notification ran;
  std::atomic<bool> stopped_ran{false};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TimerHandle> fires,
                       client_->AfterFunc(absl::Milliseconds(800), [&] {
                         ++runs;
                         ran.Notify();
                       }));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TimerHandle> stopped,
                       client_->AfterFunc(absl::Seconds(5), [&] { stopped_ran = true; }));
  RestartServer();
  // Stop returns true: the timer had not fired, and its callback never runs.
  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<bool> s = stopped->TryStop();
    return s.ok() && *s;
  }));
  ASSERT_TRUE(ran.WaitForNotificationWithTimeout(kWait));
  EXPECT_TRUE(Eventually(
      [&] { return StateOf(fires->ns(), fires->timer_id()) == v1::TIMER_STATE_COMPLETED; }));
  EXPECT_EQ(runs.load(), 1);
  EXPECT_FALSE(stopped_ran.load());
  EXPECT_FALSE(fires->Stop());
}

}  // namespace
}  // namespace chime
