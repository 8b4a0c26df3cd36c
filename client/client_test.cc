// chime::Client against a real in-process server (ChimeServer on 127.0.0.1:0, temp data dir):
// unary calls, subscriptions with acks and nacks, and AfterFunc. Real time with short delays;
// every wait is on an event or a condition with a generous bound, never a fixed sleep.
#include "client/client.h"

#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
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

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.data_dir = dir_.path() + "/data";
    options.listen = "127.0.0.1:0";
    options.shards = 4;
    options.fsync = false;
    absl::StatusOr<std::unique_ptr<ChimeServer>> server = ChimeServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(server_->address());
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
  }

  void TearDown() override {
    client_.reset();
    if (server_) server_->Shutdown(absl::Now() + absl::Seconds(5));
  }

  static v1::CreateTimerRequest InTopic(const std::string& topic, absl::Duration delay,
                                        const std::string& id = "") {
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
  std::unique_ptr<ChimeServer> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(ClientTest, CreateGetCancel) {
  v1::CreateTimerRequest request = InTopic("crud", absl::Hours(1), "t1");
  request.set_payload("hello");
  (*request.mutable_labels())["kind"] = "test";
  ASSERT_OK_AND_ASSIGN(v1::CreateTimerResponse created, client_->CreateTimer(request));
  EXPECT_TRUE(created.created());
  EXPECT_EQ(created.timer().timer_id(), "t1");
  EXPECT_EQ(created.timer().namespace_(), "default");
  EXPECT_EQ(created.timer().state(), v1::TIMER_STATE_SCHEDULED);

  ASSERT_OK_AND_ASSIGN(v1::Timer got, client_->GetTimer("default", "t1"));
  EXPECT_EQ(got.payload(), "hello");
  EXPECT_EQ(got.labels().at("kind"), "test");
  EXPECT_EQ(got.target().topic(), "crud");

  ASSERT_OK_AND_ASSIGN(v1::Timer cancelled, client_->CancelTimer("default", "t1"));
  EXPECT_EQ(cancelled.state(), v1::TIMER_STATE_CANCELLED);
  EXPECT_THAT(client_->CancelTimer("default", "t1"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(client_->GetTimer("default", "nope"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ClientTest, ServerErrorsKeepCodeAndMessage) {
  v1::CreateTimerRequest request = InTopic("errors", absl::Hours(1));
  request.set_payload(std::string(70000, 'x'));
  absl::StatusOr<v1::CreateTimerResponse> created = client_->CreateTimer(request);
  EXPECT_THAT(created, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(created.status().message()), HasSubstr("payload"));
  EXPECT_THAT(std::string(created.status().message()), HasSubstr("65536"));
}

TEST_F(ClientTest, IdempotentCreateReturnsTheFirstTimer) {
  v1::CreateTimerRequest request = InTopic("idem", absl::Hours(1));
  request.set_idempotency_key("order-7");
  ASSERT_OK_AND_ASSIGN(v1::CreateTimerResponse first, client_->CreateTimer(request));
  ASSERT_OK_AND_ASSIGN(v1::CreateTimerResponse again, client_->CreateTimer(request));
  EXPECT_TRUE(first.created());
  EXPECT_FALSE(again.created());
  EXPECT_EQ(again.timer().timer_id(), first.timer().timer_id());
}

TEST_F(ClientTest, ListPagesThroughEveryTimer) {
  std::set<std::string> want;
  for (int i = 0; i < 25; ++i) {
    const std::string id = absl::StrCat("list-", i);
    ASSERT_OK(client_->CreateTimer(InTopic("listed", absl::Hours(1), id)).status());
    want.insert(id);
  }
  ASSERT_OK(client_->CreateTimer(InTopic("other", absl::Hours(1), "not-listed")).status());
  v1::ListTimersRequest request;
  request.set_topic("listed");
  request.set_page_size(10);
  std::set<std::string> got;
  int pages = 0;
  do {
    ASSERT_OK_AND_ASSIGN(v1::ListTimersResponse page, client_->ListTimers(request));
    ++pages;
    for (const v1::Timer& timer : page.timers()) {
      EXPECT_TRUE(got.insert(timer.timer_id()).second) << "listed twice: " << timer.timer_id();
    }
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty() && pages < 100);
  EXPECT_EQ(got, want);
  EXPECT_GE(pages, 3);
}

TEST_F(ClientTest, SubscribeReceivesAcksAndConfirms) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Subscription> sub, client_->Subscribe("default", "sub"));
  v1::CreateTimerRequest request = InTopic("sub", absl::Milliseconds(300), "s1");
  request.set_payload("ping");
  ASSERT_OK(client_->CreateTimer(request).status());

  ASSERT_OK_AND_ASSIGN(std::optional<v1::Fire> fire, sub->Next(kWait));
  ASSERT_TRUE(fire.has_value());
  EXPECT_EQ(fire->timer_id(), "s1");
  EXPECT_EQ(fire->topic(), "sub");
  EXPECT_EQ(fire->attempt(), 1u);
  EXPECT_EQ(fire->payload(), "ping");
  EXPECT_FALSE(fire->fire_id().empty());

  ASSERT_OK(sub->Ack({fire->fire_id()}));
  ASSERT_OK_AND_ASSIGN(v1::AckOutcome outcome, sub->AwaitAckResult(fire->fire_id(), kWait));
  EXPECT_EQ(outcome, v1::ACK_OUTCOME_ACKED);
  EXPECT_TRUE(Eventually([&] { return StateOf("default", "s1") == v1::TIMER_STATE_COMPLETED; }));

  // Acking again is harmless and reported as unknown.
  ASSERT_OK(sub->Ack({fire->fire_id()}));
  ASSERT_OK_AND_ASSIGN(outcome, sub->AwaitAckResult(fire->fire_id(), kWait));
  EXPECT_EQ(outcome, v1::ACK_OUTCOME_UNKNOWN);
}

TEST_F(ClientTest, NackRedeliversTheSameFire) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Subscription> sub, client_->Subscribe("default", "nack"));
  ASSERT_OK(client_->CreateTimer(InTopic("nack", absl::Milliseconds(300), "n1")).status());
  ASSERT_OK_AND_ASSIGN(std::optional<v1::Fire> first, sub->Next(kWait));
  ASSERT_TRUE(first.has_value());
  ASSERT_OK(sub->Nack({first->fire_id()}, absl::Milliseconds(100)));
  // Outcomes come in order, one per ack or nack of the fire.
  ASSERT_OK_AND_ASSIGN(v1::AckOutcome outcome, sub->AwaitAckResult(first->fire_id(), kWait));
  EXPECT_EQ(outcome, v1::ACK_OUTCOME_NACKED);
  ASSERT_OK_AND_ASSIGN(std::optional<v1::Fire> again, sub->Next(kWait));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->fire_id(), first->fire_id());
  EXPECT_EQ(again->attempt(), 2u);
  ASSERT_OK(sub->Ack({again->fire_id()}));
  ASSERT_OK_AND_ASSIGN(outcome, sub->AwaitAckResult(again->fire_id(), kWait));
  EXPECT_EQ(outcome, v1::ACK_OUTCOME_ACKED);
  EXPECT_TRUE(sub->TakeAckResults().empty());
}

TEST_F(ClientTest, AutoAck) {
  SubscribeOptions options;
  options.auto_ack = true;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Subscription> sub,
                       client_->Subscribe("default", "auto", options));
  ASSERT_OK(client_->CreateTimer(InTopic("auto", absl::Milliseconds(300), "a1")).status());
  ASSERT_OK_AND_ASSIGN(std::optional<v1::Fire> fire, sub->Next(kWait));
  ASSERT_TRUE(fire.has_value());
  ASSERT_OK_AND_ASSIGN(v1::AckOutcome outcome, sub->AwaitAckResult(fire->fire_id(), kWait));
  EXPECT_EQ(outcome, v1::ACK_OUTCOME_ACKED);
}

TEST_F(ClientTest, NextTimesOutThenCloseEndsIt) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Subscription> sub, client_->Subscribe("default", "idle"));
  ASSERT_OK_AND_ASSIGN(std::optional<v1::Fire> none, sub->Next(absl::Milliseconds(50)));
  EXPECT_FALSE(none.has_value());
  // Close from another thread wakes a blocked Next.
  std::thread closer([&] { sub->Close(); });
  EXPECT_THAT(sub->Next(kWait), StatusIs(absl::StatusCode::kCancelled));
  closer.join();
  EXPECT_THAT(sub->Ack({"x"}), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(ClientTest, InvalidSubscribeSurfacesFromNext) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Subscription> sub, client_->Subscribe("default", ""));
  EXPECT_THAT(sub->Next(kWait), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ClientTest, AfterFuncRunsOnceOnItsOwnThread) {
  absl::Mutex mu;
  int runs = 0;
  std::thread::id ran_on;
  absl::Notification ran;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TimerHandle> handle,
                       client_->AfterFunc(absl::Milliseconds(300), [&] {
                         absl::MutexLock lock(&mu);
                         ++runs;
                         ran_on = std::this_thread::get_id();
                         if (!ran.HasBeenNotified()) ran.Notify();
                       }));
  ASSERT_TRUE(ran.WaitForNotificationWithTimeout(kWait));
  // Once the fire is acked (the timer completes) nothing can deliver it again.
  EXPECT_TRUE(Eventually(
      [&] { return StateOf(handle->ns(), handle->timer_id()) == v1::TIMER_STATE_COMPLETED; }));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(runs, 1);
  EXPECT_NE(ran_on, std::this_thread::get_id());
  EXPECT_FALSE(handle->Stop()) << "Stop after the fire must report that it fired";
}

TEST_F(ClientTest, StopBeforeFirePreventsTheCallback) {
  std::atomic<bool> stopped_ran{false};
  absl::Notification sentinel;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TimerHandle> stopped,
                       client_->AfterFunc(absl::Seconds(1), [&] { stopped_ran = true; }));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TimerHandle> later,
                       client_->AfterFunc(absl::Milliseconds(1500), [&] { sentinel.Notify(); }));
  EXPECT_TRUE(stopped->Stop());
  EXPECT_FALSE(stopped->Stop()) << "a second Stop has nothing to stop";
  EXPECT_EQ(StateOf(stopped->ns(), stopped->timer_id()), v1::TIMER_STATE_CANCELLED);
  // The later timer fired, so the stopped one (due earlier) would have run by now.
  ASSERT_TRUE(sentinel.WaitForNotificationWithTimeout(kWait));
  EXPECT_FALSE(stopped_ran);
}

TEST_F(ClientTest, SlowCallbackDoesNotBlockOthers) {
  absl::Notification second_ran;
  std::atomic<bool> first_saw_second{false};
  absl::Notification first_done;
  ASSERT_OK_AND_ASSIGN(auto first, client_->AfterFunc(absl::Milliseconds(200), [&] {
    first_saw_second = second_ran.WaitForNotificationWithTimeout(kWait);
    first_done.Notify();
  }));
  ASSERT_OK_AND_ASSIGN(auto second,
                       client_->AfterFunc(absl::Milliseconds(400), [&] { second_ran.Notify(); }));
  ASSERT_TRUE(first_done.WaitForNotificationWithTimeout(kWait + kWait));
  EXPECT_TRUE(first_saw_second);
}

TEST_F(ClientTest, DestroyingTheClientCancelsUnfiredAfterFuncTimers) {
  std::unique_ptr<TimerHandle> handle;
  {
    ASSERT_OK_AND_ASSIGN(handle, client_->AfterFunc(absl::Hours(1), [] {}));
    client_.reset();
  }
  ASSERT_OK_AND_ASSIGN(client_, Client::Connect(server_->address()));
  EXPECT_EQ(StateOf(handle->ns(), handle->timer_id()), v1::TIMER_STATE_CANCELLED);
  // The handle outlives its client safely.
  EXPECT_FALSE(handle->Stop());
}

}  // namespace
}  // namespace chime
