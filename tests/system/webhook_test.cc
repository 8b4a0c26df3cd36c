// System test: webhook timers through a real chimed process and a real HTTP receiver on
// 127.0.0.1 (allow-listed with --webhook-allow 127.0.0.0/8): success and signature, retry of
// 5xx with the same Idempotency-Key, Retry-After, dead letter of a 404, a hanging endpoint
// that times out while other webhooks keep flowing, redelivery after SIGKILL, and the default
// SSRF refusals (at create time for literal addresses, at connect time for a hostname).
#include <grpcpp/grpcpp.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "chime/v1/timer.grpc.pb.h"
#include "common/proto_time.h"
#include "gtest/gtest.h"
#include "server/webhook/signer.h"
#include "server/webhook/test_receiver.h"
#include "tests/testing/chimed_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace chime {
namespace {

using testing::ChimedProcess;
using testing::TempDir;
using v1::TimerService;
using webhook::testing::ReceivedRequest;
using webhook::testing::ReceiverResponse;
using webhook::testing::TestReceiver;

constexpr char kSecret[] = "s3cret-for-tests";
// Generous: the CI machine is slow and loaded.
constexpr absl::Duration kWait = absl::Seconds(60);

std::unique_ptr<TimerService::Stub> Connect(const std::string& address) {
  return TimerService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

std::vector<std::string> AllowLoopback() {
  return {"--webhook-allow", "127.0.0.0/8", "--webhook-secret", absl::StrCat("default=", kSecret)};
}

// Requests by path; the response for each comes from a per-path script (the last entry
// repeats), so a test says "500 then 200". Handlers on "/hang..." block until released.
class Receiver {
 public:
  Receiver() : receiver_([this](const ReceivedRequest& r) { return Handle(r); }) {}
  ~Receiver() {
    ReleaseHanging();
    receiver_.Stop();
  }
  bool Start() { return receiver_.Start(); }
  int port() const { return receiver_.port(); }
  std::string Url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", receiver_.port(), path);
  }
  void Script(const std::string& path, std::vector<ReceiverResponse> responses) {
    absl::MutexLock lock(&mu_);
    scripts_[path] = std::move(responses);
  }
  void ReleaseHanging() {
    if (!release_.HasBeenNotified()) release_.Notify();
  }

  // Waits until `path` got `n` requests; returns them with their arrival times.
  std::vector<std::pair<ReceivedRequest, absl::Time>> Await(const std::string& path, size_t n,
                                                            absl::Duration timeout = kWait) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return got_[path].size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
    return got_[path];
  }
  size_t Count(const std::string& path) {
    absl::MutexLock lock(&mu_);
    return got_[path].size();
  }

 private:
  ReceiverResponse Handle(const ReceivedRequest& r) {
    ReceiverResponse response;
    {
      absl::MutexLock lock(&mu_);
      const size_t index = got_[r.path].size();
      got_[r.path].emplace_back(r, absl::Now());
      auto it = scripts_.find(r.path);
      if (it != scripts_.end() && !it->second.empty()) {
        response = it->second[std::min(index, it->second.size() - 1)];
      }
    }
    if (absl::StartsWith(r.path, "/hang")) release_.WaitForNotificationWithTimeout(kWait);
    return response;
  }

  absl::Mutex mu_;
  std::map<std::string, std::vector<ReceiverResponse>> scripts_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<std::pair<ReceivedRequest, absl::Time>>> got_
      ABSL_GUARDED_BY(mu_);
  absl::Notification release_;
  TestReceiver receiver_;  // last: stopped (joined) before the state above goes away
};

struct HookSpec {
  absl::Duration delay = absl::ZeroDuration();
  absl::Duration timeout = absl::ZeroDuration();  // zero: the default
  uint32_t max_attempts = 5;
  absl::Duration ack_deadline = absl::ZeroDuration();  // zero: the server's
  std::map<std::string, std::string> headers;
};

v1::CreateTimerRequest WebhookTimer(const std::string& id, const std::string& url,
                                    const HookSpec& spec = {}) {
  v1::CreateTimerRequest req;
  req.set_timer_id(id);
  *req.mutable_delay() = ToProtoDuration(spec.delay);
  v1::WebhookTarget* hook = req.mutable_target()->mutable_webhook();
  hook->set_url(url);
  for (const auto& [k, v] : spec.headers) (*hook->mutable_headers())[k] = v;
  if (spec.timeout > absl::ZeroDuration()) *hook->mutable_timeout() = ToProtoDuration(spec.timeout);
  req.set_payload("payload-" + id);
  (*req.mutable_labels())["team"] = "blue";
  // Short backoffs keep the test quick.
  v1::DeliveryPolicy* policy = req.mutable_delivery_policy();
  policy->set_max_attempts(spec.max_attempts);
  if (spec.ack_deadline > absl::ZeroDuration()) {
    *policy->mutable_ack_deadline() = ToProtoDuration(spec.ack_deadline);
  }
  *policy->mutable_min_backoff() = ToProtoDuration(absl::Milliseconds(100));
  *policy->mutable_max_backoff() = ToProtoDuration(absl::Milliseconds(300));
  return req;
}

absl::Status Create(TimerService::Stub* stub, const v1::CreateTimerRequest& req) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::CreateTimerResponse resp;
  grpc::Status s = stub->CreateTimer(&ctx, req, &resp);
  return s.ok() ? absl::OkStatus()
                : absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

v1::Timer Get(TimerService::Stub* stub, const std::string& id) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::GetTimerRequest req;
  req.set_timer_id(id);
  v1::Timer timer;
  grpc::Status s = stub->GetTimer(&ctx, req, &timer);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return timer;
}

// Polls (bounded) until the timer reaches `state` with `attempts` webhook attempts recorded:
// the server offers no event to wait on.
v1::Timer AwaitTimer(TimerService::Stub* stub, const std::string& id, v1::TimerState state,
                     uint64_t attempts) {
  const absl::Time give_up = absl::Now() + kWait;
  v1::Timer timer;
  while (absl::Now() < give_up) {
    timer = Get(stub, id);
    if (timer.state() == state && timer.webhook_status().attempts() >= attempts) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return timer;
}

std::vector<v1::DeadLetter> DeadLetters(TimerService::Stub* stub) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::ListDeadLettersRequest req;
  v1::ListDeadLettersResponse resp;
  grpc::Status s = stub->ListDeadLetters(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return {resp.dead_letters().begin(), resp.dead_letters().end()};
}

const v1::DeadLetter* FindDeadLetter(const std::vector<v1::DeadLetter>& all,
                                     const std::string& timer_id) {
  for (const v1::DeadLetter& d : all) {
    if (d.fire().timer_id() == timer_id) return &d;
  }
  return nullptr;
}

class WebhookTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(receiver_.Start()); }

  void StartChimed(const std::vector<std::string>& args) {
    auto chimed = ChimedProcess::Start(dir_.path(), args);
    ASSERT_TRUE(chimed.ok()) << chimed.status();
    chimed_ = *std::move(chimed);
    stub_ = Connect(chimed_->address());
  }
  void TearDown() override {
    if (HasFailure() && chimed_ != nullptr) ADD_FAILURE() << "chimed output:\n" << chimed_->Log();
  }

  TempDir dir_;
  Receiver receiver_;
  std::unique_ptr<ChimedProcess> chimed_;
  std::unique_ptr<TimerService::Stub> stub_;
};

TEST_F(WebhookTest, DeliversSignedFireAndRecordsTheAttempt) {
  StartChimed(AllowLoopback());
  receiver_.Script("/ok", {{200, {}, "thanks"}});
  HookSpec spec;
  spec.headers["X-Team"] = "blue";
  ASSERT_OK(Create(stub_.get(), WebhookTimer("signed", receiver_.Url("/ok"), spec)));

  auto got = receiver_.Await("/ok", 1);
  ASSERT_EQ(got.size(), 1u);
  const ReceivedRequest& r = got[0].first;
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.headers.at("idempotency-key"), "signed@0") << "the fire id";
  EXPECT_EQ(r.headers.at("x-team"), "blue");
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  EXPECT_TRUE(absl::StrContains(r.body, "\"payload\":\"payload-signed\"")) << r.body;
  EXPECT_TRUE(absl::StrContains(r.body, "\"timer_id\":\"signed\"")) << r.body;
  EXPECT_TRUE(absl::StrContains(r.body, "\"attempt\":1")) << r.body;
  EXPECT_TRUE(absl::StrContains(r.body, "\"team\":\"blue\"")) << r.body;
  // The receiver verifies origin as the README shows.
  EXPECT_OK(webhook::VerifySignature(kSecret, r.headers.at("chime-timestamp"),
                                     r.headers.at("chime-signature"), r.body, absl::Now()));
  EXPECT_FALSE(webhook::VerifySignature("wrong-secret", r.headers.at("chime-timestamp"),
                                        r.headers.at("chime-signature"), r.body, absl::Now())
                   .ok());

  v1::Timer timer = AwaitTimer(stub_.get(), "signed", v1::TIMER_STATE_COMPLETED, 1);
  EXPECT_EQ(timer.state(), v1::TIMER_STATE_COMPLETED);
  EXPECT_EQ(timer.webhook_status().attempts(), 1u);
  EXPECT_EQ(timer.webhook_status().last_http_status(), 200);
  EXPECT_EQ(timer.webhook_status().last_outcome(), "ack");
  EXPECT_TRUE(timer.webhook_status().has_last_latency());
}

TEST_F(WebhookTest, ServerErrorIsRetriedWithTheSameIdempotencyKey) {
  StartChimed(AllowLoopback());
  receiver_.Script("/flaky", {{500, {}, "oops"}, {200, {}, ""}});
  ASSERT_OK(Create(stub_.get(), WebhookTimer("flaky", receiver_.Url("/flaky"))));

  auto got = receiver_.Await("/flaky", 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].first.headers.at("idempotency-key"), "flaky@0");
  EXPECT_EQ(got[1].first.headers.at("idempotency-key"), "flaky@0");
  EXPECT_TRUE(absl::StrContains(got[0].first.body, "\"attempt\":1"));
  EXPECT_TRUE(absl::StrContains(got[1].first.body, "\"attempt\":2"));
  v1::Timer timer = AwaitTimer(stub_.get(), "flaky", v1::TIMER_STATE_COMPLETED, 2);
  EXPECT_EQ(timer.state(), v1::TIMER_STATE_COMPLETED);
  EXPECT_EQ(timer.webhook_status().attempts(), 2u);
  EXPECT_EQ(timer.webhook_status().last_http_status(), 200);
  EXPECT_EQ(receiver_.Count("/flaky"), 2u) << "acked: not sent again";
}

TEST_F(WebhookTest, RetryAfterIsHonoured) {
  StartChimed(AllowLoopback());
  // The policy's backoff is at most 300 ms; the endpoint asks for 2 s.
  receiver_.Script("/busy", {{429, {{"Retry-After", "2"}}, "slow down"}, {200, {}, ""}});
  ASSERT_OK(Create(stub_.get(), WebhookTimer("busy", receiver_.Url("/busy"))));

  auto got = receiver_.Await("/busy", 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_GE(got[1].second - got[0].second, absl::Milliseconds(1900));
  v1::Timer timer = AwaitTimer(stub_.get(), "busy", v1::TIMER_STATE_COMPLETED, 2);
  EXPECT_EQ(timer.state(), v1::TIMER_STATE_COMPLETED);
}

TEST_F(WebhookTest, ClientErrorGoesToTheDeadLettersWithStatusAndBody) {
  StartChimed(AllowLoopback());
  receiver_.Script("/gone", {{404, {}, "no such hook here"}});
  ASSERT_OK(Create(stub_.get(), WebhookTimer("gone", receiver_.Url("/gone"))));

  v1::Timer timer = AwaitTimer(stub_.get(), "gone", v1::TIMER_STATE_DEAD_LETTERED, 1);
  EXPECT_EQ(timer.state(), v1::TIMER_STATE_DEAD_LETTERED);
  EXPECT_EQ(timer.webhook_status().last_http_status(), 404);
  EXPECT_EQ(timer.webhook_status().last_outcome(), "dead_letter");
  const std::vector<v1::DeadLetter> dead = DeadLetters(stub_.get());
  const v1::DeadLetter* d = FindDeadLetter(dead, "gone");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->last_error(), "HTTP 404: no such hook here");
  EXPECT_EQ(d->fire().attempt(), 1u);
  EXPECT_EQ(receiver_.Count("/gone"), 1u) << "a 4xx is not retried";
}

TEST_F(WebhookTest, ReplayedDeadLetterIsSentAgainToTheSameTarget) {
  StartChimed(AllowLoopback());
  receiver_.Script("/later", {{410, {}, "not yet"}, {200, {}, ""}});
  ASSERT_OK(Create(stub_.get(), WebhookTimer("replayed", receiver_.Url("/later"))));
  v1::Timer timer = AwaitTimer(stub_.get(), "replayed", v1::TIMER_STATE_DEAD_LETTERED, 1);
  ASSERT_EQ(timer.state(), v1::TIMER_STATE_DEAD_LETTERED);

  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::ReplayDeadLetterRequest replay;
  replay.set_fire_id("replayed@0");
  v1::DeadLetter replayed;
  grpc::Status s = stub_->ReplayDeadLetter(&ctx, replay, &replayed);
  ASSERT_TRUE(s.ok()) << s.error_message();

  auto got = receiver_.Await("/later", 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].first.headers.at("idempotency-key"), "replayed@0");
  timer = AwaitTimer(stub_.get(), "replayed", v1::TIMER_STATE_COMPLETED, 2);
  EXPECT_EQ(timer.state(), v1::TIMER_STATE_COMPLETED);
  EXPECT_EQ(FindDeadLetter(DeadLetters(stub_.get()), "replayed"), nullptr);
}

TEST_F(WebhookTest, HangingEndpointTimesOutAndRetriesWhileOthersFlow) {
  StartChimed(AllowLoopback());
  HookSpec hang;
  hang.timeout = absl::Seconds(1);
  hang.max_attempts = 2;
  ASSERT_OK(Create(stub_.get(), WebhookTimer("hang", receiver_.Url("/hang"), hang)));
  ASSERT_EQ(receiver_.Await("/hang", 1).size(), 1u);

  // While that request hangs, other webhooks are delivered.
  receiver_.Script("/ok", {{200, {}, ""}});
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(Create(stub_.get(), WebhookTimer(absl::StrCat("ok-", i), receiver_.Url("/ok"))));
  }
  EXPECT_EQ(receiver_.Await("/ok", 5).size(), 5u);

  // The hanging one timed out, was retried once, and is dead-lettered after its 2 attempts.
  auto got = receiver_.Await("/hang", 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].first.headers.at("idempotency-key"), "hang@0");
  v1::Timer timer = AwaitTimer(stub_.get(), "hang", v1::TIMER_STATE_DEAD_LETTERED, 2);
  EXPECT_EQ(timer.state(), v1::TIMER_STATE_DEAD_LETTERED);
  EXPECT_EQ(timer.webhook_status().last_error(), "timeout");
  const std::vector<v1::DeadLetter> dead = DeadLetters(stub_.get());
  const v1::DeadLetter* d = FindDeadLetter(dead, "hang");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->last_error(), "timeout (2 attempts)");
  receiver_.ReleaseHanging();
}

TEST_F(WebhookTest, FireInFlightDuringSigkillIsDeliveredAfterRestart) {
  StartChimed(AllowLoopback());
  HookSpec slow;
  slow.timeout = absl::Seconds(2);
  // Shorter than the request timeout: the attempt's deadline is stretched past it (to 12 s),
  // which is also how long the restarted server waits before sending the fire again.
  slow.ack_deadline = absl::Seconds(1);
  // The first request hangs; chimed is killed while it is in flight.
  receiver_.Script("/hang-then-ok", {{200, {}, ""}});
  ASSERT_OK(Create(stub_.get(), WebhookTimer("killed", receiver_.Url("/hang-then-ok"), slow)));
  ASSERT_EQ(receiver_.Await("/hang-then-ok", 1).size(), 1u);
  chimed_->Kill();
  receiver_.ReleaseHanging();  // later requests answer at once

  StartChimed(AllowLoopback());
  auto got = receiver_.Await("/hang-then-ok", 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].first.headers.at("idempotency-key"), "killed@0");
  EXPECT_EQ(got[1].first.headers.at("idempotency-key"), "killed@0");
  v1::Timer timer = AwaitTimer(stub_.get(), "killed", v1::TIMER_STATE_COMPLETED, 1);
  EXPECT_EQ(timer.state(), v1::TIMER_STATE_COMPLETED);
}

TEST_F(WebhookTest, InternalAddressesAreRefusedByDefault) {
  StartChimed({});  // no --webhook-allow
  for (const std::string url : {"http://127.0.0.1:8080/x", "http://[::1]:8080/x",
                                "http://10.0.0.1/x", "http://169.254.169.254/latest/meta-data"}) {
    absl::Status s = Create(stub_.get(), WebhookTimer("literal", url));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << url << ": " << s;
    EXPECT_TRUE(absl::StrContains(s.message(), "target.webhook.url")) << s;
  }
  // A hostname is only resolved when connecting: refused then, before any request is sent.
  receiver_.Script("/local", {{200, {}, ""}});
  const std::string url = absl::StrCat("http://localhost:", receiver_.port(), "/local");
  ASSERT_OK(Create(stub_.get(), WebhookTimer("by-name", url)));
  v1::Timer timer = AwaitTimer(stub_.get(), "by-name", v1::TIMER_STATE_DEAD_LETTERED, 1);
  EXPECT_EQ(timer.state(), v1::TIMER_STATE_DEAD_LETTERED);
  const std::vector<v1::DeadLetter> dead = DeadLetters(stub_.get());
  const v1::DeadLetter* d = FindDeadLetter(dead, "by-name");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(absl::StartsWith(d->last_error(), "refused-by-policy")) << d->last_error();
  EXPECT_TRUE(absl::StrContains(d->last_error(), "loopback")) << d->last_error();
  EXPECT_EQ(receiver_.Count("/local"), 0u);
}

}  // namespace
}  // namespace chime
