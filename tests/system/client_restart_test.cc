// The client library against a real chimed that is SIGKILLed and restarted (same address, same
// data dir) while a Consume consumer and AfterFunc callbacks are running: every fire's handler
// runs (at least once for Consume, exactly once for AfterFunc, which dedupes redeliveries on
// fire_id), and AfterFunc's Stop still stops timers that have not fired. A SIGTERM ends the
// streams with UNAVAILABLE, which the client reconnects on.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "chime/v1/admin.grpc.pb.h"
#include "client/client.h"
#include "client/reconnect_backoff.h"
#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/chimed_process.h"
#include "tests/testing/eventually.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace chime {
namespace {

using ::chime::testing::Eventually;

using testing::ChimedProcess;
using ::testing::HasSubstr;
using testing::StatusIs;
using testing::TempDir;

constexpr int kKills = 8;
constexpr absl::Duration kWait = absl::Seconds(60);

SubscribeOptions FastReconnect() {
  SubscribeOptions options;
  options.reconnect.min_backoff = absl::Milliseconds(50);
  options.reconnect.max_backoff = absl::Seconds(1);
  return options;
}

// chimed on one fixed loopback address across restarts, so a Client's channel finds it again.
class RestartingChimed {
 public:
  absl::Status Start(const std::string& data_dir) {
    data_dir_ = data_dir;
    // Fires whose acks died with the process come back after 2 s, not the default 30 s.
    std::vector<std::string> args = {"--default-ack-deadline", "2s"};
    if (!address_.empty()) args.insert(args.end(), {"--listen", address_});
    absl::StatusOr<std::unique_ptr<ChimedProcess>> started = ChimedProcess::Start(data_dir_, args);
    if (!started.ok()) return started.status();
    process_ = std::move(*started);
    address_ = process_->address();
    return absl::OkStatus();
  }
  absl::Status KillAndRestart() {
    process_->Kill();
    return Start(data_dir_);
  }
  ChimedProcess& process() { return *process_; }
  const std::string& address() const { return address_; }

 private:
  std::string data_dir_;
  std::string address_;
  std::unique_ptr<ChimedProcess> process_;
};

TEST(ClientRestartTest, ConsumeAndAfterFuncRunEveryFireAcrossSigkills) {
  TempDir dir;
  RestartingChimed chimed;
  ASSERT_OK(chimed.Start(dir.path() + "/data"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect(chimed.address()));

  absl::Mutex mu;
  std::map<std::string, int> consumed;    // timer id -> handler runs
  std::map<std::string, int> after_runs;  // AfterFunc key -> callback runs
  ConsumeOptions consume;
  consume.subscribe = FastReconnect();
  consume.parallelism = 2;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Consumer> consumer,
                       client->Consume("default", "work", consume, [&](const v1::Fire& fire) {
                         absl::MutexLock lock(&mu);
                         ++consumed[fire.timer_id()];
                         return absl::OkStatus();
                       }));

  std::mt19937 rng(11);
  std::uniform_int_distribution<int> due_ms(200, 2500);
  std::uniform_int_distribution<int> uptime_ms(300, 2000);
  std::set<std::string> want_consumed;  // creates acknowledged to us
  std::vector<std::unique_ptr<TimerHandle>> handles;
  std::vector<std::string> handle_keys;
  std::vector<std::unique_ptr<TimerHandle>> to_stop;  // far-off timers, stopped after a kill
  for (int round = 0; round < kKills; ++round) {
    for (int i = 0; i < 8; ++i) {
      const std::string id = absl::StrCat("c", round, "-", i);
      v1::CreateTimerRequest request;
      request.set_timer_id(id);
      *request.mutable_delay() = ToProtoDuration(absl::Milliseconds(due_ms(rng)));
      request.mutable_target()->set_topic("work");
      // Right after a restart the channel may not have reconnected yet (UNAVAILABLE): retry.
      Eventually(
          [&] {
            absl::Status created = client->CreateTimer(request).status();
            if (created.ok() || absl::IsAlreadyExists(created)) want_consumed.insert(id);
            return !absl::IsUnavailable(created);
          },
          absl::Seconds(10));
    }
    for (int i = 0; i < 4; ++i) {
      const std::string key = absl::StrCat("a", round, "-", i);
      absl::StatusOr<std::unique_ptr<TimerHandle>> handle = absl::UnavailableError("not tried");
      const absl::Duration due = absl::Milliseconds(due_ms(rng));
      Eventually(
          [&] {
            handle = client->AfterFunc(due, [&mu, &after_runs, key] {
              absl::MutexLock lock(&mu);
              ++after_runs[key];
            });
            return !absl::IsUnavailable(handle.status());
          },
          absl::Seconds(10));
      if (handle.ok()) {
        handles.push_back(std::move(*handle));
        handle_keys.push_back(key);
      }
    }
    absl::StatusOr<std::unique_ptr<TimerHandle>> far = absl::UnavailableError("not tried");
    Eventually(
        [&] {
          far = client->AfterFunc(absl::Minutes(10), [&] {
            absl::MutexLock lock(&mu);
            ++after_runs["never"];
          });
          return !absl::IsUnavailable(far.status());
        },
        absl::Seconds(10));
    if (far.ok()) to_stop.push_back(std::move(*far));
    absl::SleepFor(absl::Milliseconds(uptime_ms(rng)));  // fires due now and later
    const int64_t reconnects_before = consumer->subscription().reconnects();
    const absl::Status restarted = chimed.KillAndRestart();
    ASSERT_TRUE(restarted.ok()) << restarted;
    // Each kill must make the consumer open a new stream. Waiting here also keeps two
    // kills from landing inside one reconnect backoff (which would count once).
    ASSERT_TRUE(consumer->subscription().AwaitReconnect(reconnects_before, absl::Seconds(30)))
        << "consumer did not reconnect after kill " << round + 1;
  }
  ASSERT_GT(want_consumed.size(), 30u);
  ASSERT_GT(handles.size(), 15u);

  // Stop on timers created before kills still stops them (Go's semantics: true, never runs).
  for (auto& handle : to_stop) {
    bool stopped = false;
    ASSERT_TRUE(Eventually([&] {
      absl::StatusOr<bool> s = handle->TryStop();  // UNAVAILABLE while the channel reconnects
      stopped = s.ok() && *s;
      return s.ok();
    }));
    EXPECT_TRUE(stopped) << handle->timer_id();
  }

  // Every acknowledged create is handled, and every AfterFunc timer completes (its fire was
  // acked, so no redelivery can follow).
  EXPECT_TRUE(Eventually([&] {
    absl::MutexLock lock(&mu);
    for (const std::string& id : want_consumed) {
      if (!consumed.contains(id)) return false;
    }
    return true;
  })) << "some acknowledged creates were never handled";
  for (const auto& handle : handles) {
    EXPECT_TRUE(Eventually([&] {
      absl::StatusOr<v1::Timer> timer = client->GetTimer(handle->ns(), handle->timer_id());
      return timer.ok() && timer->state() == v1::TIMER_STATE_COMPLETED;
    })) << handle->timer_id();
  }
  consumer->Stop();
  EXPECT_OK(consumer->Wait());

  absl::MutexLock lock(&mu);
  for (const std::string& key : handle_keys) {
    EXPECT_EQ(after_runs[key], 1) << "AfterFunc " << key << " ran " << after_runs[key] << " times";
  }
  EXPECT_FALSE(after_runs.contains("never")) << "a stopped AfterFunc ran";
  int duplicates = 0;
  for (const auto& [id, n] : consumed) duplicates += n - 1;
  std::cout << "client restart: kills=" << kKills << " consumed_timers=" << consumed.size()
            << " consume_duplicates=" << duplicates << " after_funcs=" << handle_keys.size()
            << " stopped=" << to_stop.size()
            << " reconnects=" << consumer->subscription().reconnects() << "\n";
  EXPECT_GE(consumer->subscription().reconnects(), kKills);
}

TEST(ClientRestartTest, SigtermEndsStreamsWithUnavailableAndClientsReconnect) {
  TempDir dir;
  RestartingChimed chimed;
  ASSERT_OK(chimed.Start(dir.path() + "/data"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> client, Client::Connect(chimed.address()));
  SubscribeOptions once;
  once.reconnect.enabled = false;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Subscription> plain,
                       client->Subscribe("default", "term", once));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Subscription> reconnecting,
                       client->Subscribe("default", "term", FastReconnect()));
  // Both streams are registered with the server before the signal (connected() only says the
  // start message was sent).
  auto admin = v1::AdminService::NewStub(
      grpc::CreateChannel(chimed.address(), grpc::InsecureChannelCredentials()));
  ASSERT_TRUE(Eventually([&] {
    grpc::ClientContext context;
    v1::GetStatusResponse status;
    if (!admin->GetStatus(&context, v1::GetStatusRequest(), &status).ok()) return false;
    for (const v1::TopicBacklog& topic : status.topics()) {
      if (topic.topic() == "term" && topic.subscribers() == 2) return true;
    }
    return false;
  }));

  ASSERT_OK_AND_ASSIGN(int wait_status, chimed.process().Signal(SIGTERM, absl::Seconds(30)));
  EXPECT_TRUE(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) << chimed.process().Log();
  absl::StatusOr<std::optional<v1::Fire>> ended = plain->Next(kWait);
  EXPECT_THAT(ended, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(std::string(ended.status().message()), HasSubstr("shutting down"))
      << chimed.process().Log();
  EXPECT_TRUE(IsRetryableStreamEnd(ended.status()));

  ASSERT_OK(chimed.Start(dir.path() + "/data"));
  ASSERT_TRUE(reconnecting->AwaitReconnect(0, kWait));
  v1::CreateTimerRequest request;
  request.set_timer_id("after-term");
  *request.mutable_delay() = ToProtoDuration(absl::Milliseconds(200));
  request.mutable_target()->set_topic("term");
  ASSERT_TRUE(Eventually([&] { return client->CreateTimer(request).ok(); }));
  ASSERT_OK_AND_ASSIGN(std::optional<v1::Fire> fire, reconnecting->Next(kWait));
  ASSERT_TRUE(fire.has_value());
  EXPECT_EQ(fire->timer_id(), "after-term");
  ASSERT_OK_AND_ASSIGN(v1::AckOutcome outcome, reconnecting->AckAndWait(fire->fire_id(), kWait));
  EXPECT_EQ(outcome, v1::ACK_OUTCOME_ACKED);
}

}  // namespace
}  // namespace chime
