// WebhookClient against a real HTTP receiver on 127.0.0.1. Non-loopback destinations are only
// ever refused by the policy before connecting; nothing leaves the machine.
#include "server/webhook/http_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "server/webhook/fire_json.h"
#include "server/webhook/signer.h"
#include "server/webhook/test_receiver.h"

namespace chime::webhook {
namespace {

using testing::ReceivedRequest;
using testing::ReceiverResponse;
using testing::TestReceiver;

constexpr absl::Duration kWait = absl::Seconds(30);  // generous bound; never a sleep

WebhookResult SendAndWait(WebhookClient& client, WebhookRequest req) {
  absl::Notification done;
  WebhookResult out;
  client.Send(std::move(req), [&](WebhookResult r) {
    out = std::move(r);
    done.Notify();
  });
  EXPECT_TRUE(done.WaitForNotificationWithTimeout(kWait));
  return out;
}

TEST(ClassifyTest, OutcomeRules) {
  auto status = [](int s, std::optional<absl::Duration> ra = std::nullopt) {
    WebhookResult r;
    r.http_status = s;
    r.retry_after = ra;
    return Classify(r).outcome;
  };
  EXPECT_EQ(status(200), Outcome::kAck);
  EXPECT_EQ(status(204), Outcome::kAck);
  EXPECT_EQ(status(408), Outcome::kRetry);
  EXPECT_EQ(status(429), Outcome::kRetry);
  EXPECT_EQ(status(500), Outcome::kRetry);
  EXPECT_EQ(status(503), Outcome::kRetry);
  EXPECT_EQ(status(400), Outcome::kDeadLetter);
  EXPECT_EQ(status(404), Outcome::kDeadLetter);
  EXPECT_EQ(status(410), Outcome::kDeadLetter);
  EXPECT_EQ(status(301), Outcome::kDeadLetter);  // redirects are not followed
  for (WebhookError e :
       {WebhookError::kConnect, WebhookError::kTimeout, WebhookError::kCancelled}) {
    WebhookResult r;
    r.error = e;
    EXPECT_EQ(Classify(r).outcome, Outcome::kRetry) << WebhookErrorName(e);
  }
  for (WebhookError e : {WebhookError::kRefusedByPolicy, WebhookError::kInvalidRequest}) {
    WebhookResult r;
    r.error = e;
    EXPECT_EQ(Classify(r).outcome, Outcome::kDeadLetter) << WebhookErrorName(e);
  }
  WebhookResult r;
  r.http_status = 429;
  r.retry_after = absl::Seconds(7);
  EXPECT_EQ(Classify(r).retry_after, absl::Seconds(7));
}

TEST(ClassifyTest, ParsesRetryAfter) {
  absl::Time now = absl::FromUnixSeconds(1445412420);  // Wed, 21 Oct 2015 07:27:00 GMT
  EXPECT_EQ(ParseRetryAfter("120", now), absl::Seconds(120));
  EXPECT_EQ(ParseRetryAfter(" 0 ", now), absl::ZeroDuration());
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now), absl::Seconds(60));
  EXPECT_EQ(ParseRetryAfter("Wednesday, 21-Oct-15 07:28:00 GMT", now), absl::Seconds(60));
  EXPECT_EQ(ParseRetryAfter("Wed Oct 21 07:28:00 2015", now), absl::Seconds(60));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:00:00 GMT", now), absl::ZeroDuration());
  EXPECT_FALSE(ParseRetryAfter("soon", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("-5", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("99999999999999999999999", now).has_value());
}

class WebhookClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    receiver_ =
        std::make_unique<TestReceiver>([this](const ReceivedRequest& r) { return Handle(r); });
    ASSERT_TRUE(receiver_->Start());
    WebhookClientOptions o;
    o.policy = *AddressPolicy::FromFlags({"127.0.0.0/8"});
    client_ = std::make_unique<WebhookClient>(std::move(o));
    client_->Start();
  }
  void TearDown() override {
    release_hang_.Notify();
    client_->Stop();
    receiver_->Stop();
  }

  std::string Url(const std::string& path) {
    return absl::StrCat("http://127.0.0.1:", receiver_->port(), path);
  }

  ReceiverResponse Handle(const ReceivedRequest& r) {
    if (r.path == "/ok") return {200, {}, "thanks"};
    if (r.path == "/flaky") {
      return flaky_calls_.fetch_add(1) == 0 ? ReceiverResponse{500, {}, "oops"}
                                            : ReceiverResponse{200, {}, "ok now"};
    }
    if (r.path == "/busy") return {429, {{"Retry-After", "7"}}, "slow down"};
    if (r.path == "/missing") return {404, {}, "no such hook " + std::string(600, 'x')};
    if (r.path == "/hang") {
      release_hang_.WaitForNotificationWithTimeout(kWait);
      return {200, {}, "late"};
    }
    if (r.path == "/verify") {
      auto h = [&](const char* k) {
        auto it = r.headers.find(k);
        return it == r.headers.end() ? std::string() : it->second;
      };
      absl::Status s = VerifySignature("s3cret", h("chime-timestamp"), h("chime-signature"), r.body,
                                       absl::Now());
      return s.ok() ? ReceiverResponse{204, {}, ""} : ReceiverResponse{401, {}, s.ToString()};
    }
    return {404, {}, "unknown path"};
  }

  std::unique_ptr<TestReceiver> receiver_;
  std::unique_ptr<WebhookClient> client_;
  std::atomic<int> flaky_calls_{0};
  absl::Notification release_hang_;
};

TEST_F(WebhookClientTest, SuccessAcks) {
  WebhookRequest req{Url("/ok"), "POST", {{"X-Custom", "yes"}}, "{\"a\":1}", absl::Seconds(10)};
  WebhookResult r = SendAndWait(*client_, req);
  EXPECT_EQ(r.error, WebhookError::kNone) << r.error_message;
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.body_prefix, "thanks");
  EXPECT_EQ(r.remote_ip, "127.0.0.1");
  EXPECT_GT(r.latency, absl::ZeroDuration());
  EXPECT_EQ(Classify(r).outcome, Outcome::kAck);
  auto seen = receiver_->requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].body, "{\"a\":1}");
  EXPECT_EQ(seen[0].headers["x-custom"], "yes");
  EXPECT_EQ(seen[0].headers["content-type"], "application/json");
}

TEST_F(WebhookClientTest, ServerErrorThenSuccessKeepsIdempotencyKey) {
  FireBody fire{"fire-42", "t1", "prod", absl::Now(), absl::Now(), 1, {}, "hi"};
  std::vector<Outcome> outcomes;
  for (int attempt = 1; attempt <= 2; ++attempt) {
    fire.attempt = attempt;
    std::string body = FireToJson(fire);
    WebhookRequest req{Url("/flaky"), "POST",
                       SignedHeaders(fire.fire_id, absl::Now(), body, std::nullopt), body,
                       absl::Seconds(10)};
    outcomes.push_back(Classify(SendAndWait(*client_, req)).outcome);
  }
  EXPECT_THAT(outcomes, ::testing::ElementsAre(Outcome::kRetry, Outcome::kAck));
  auto seen = receiver_->requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].headers["idempotency-key"], "fire-42");
  EXPECT_EQ(seen[1].headers["idempotency-key"], "fire-42");
  EXPECT_NE(seen[0].body.find("\"attempt\":1"), std::string::npos);
  EXPECT_NE(seen[1].body.find("\"attempt\":2"), std::string::npos);
}

TEST_F(WebhookClientTest, TooManyRequestsRetriesWithRetryAfter) {
  WebhookResult r = SendAndWait(*client_, {Url("/busy"), "POST", {}, "{}", absl::Seconds(10)});
  EXPECT_EQ(r.http_status, 429);
  EXPECT_EQ(r.retry_after, absl::Seconds(7));
  Classification c = Classify(r);
  EXPECT_EQ(c.outcome, Outcome::kRetry);
  EXPECT_EQ(c.retry_after, absl::Seconds(7));
}

TEST_F(WebhookClientTest, NotFoundDeadLettersWithBodyPrefix) {
  WebhookResult r = SendAndWait(*client_, {Url("/missing"), "POST", {}, "{}", absl::Seconds(10)});
  EXPECT_EQ(r.http_status, 404);
  EXPECT_EQ(Classify(r).outcome, Outcome::kDeadLetter);
  EXPECT_EQ(Classify(r).reason, "HTTP 404");
  EXPECT_EQ(r.body_prefix.size(), kKeptBodyBytes);
  EXPECT_THAT(r.body_prefix, ::testing::StartsWith("no such hook xxx"));
}

TEST_F(WebhookClientTest, SignatureVerifiedByReceiver) {
  std::string body =
      FireToJson({"fire-7", "t", "prod", absl::Now(), absl::Now(), 1, {{"k", "v"}}, "p"});
  WebhookRequest req{Url("/verify"), "POST", SignedHeaders("fire-7", absl::Now(), body, "s3cret"),
                     body, absl::Seconds(10)};
  WebhookResult r = SendAndWait(*client_, req);
  EXPECT_EQ(r.http_status, 204) << r.body_prefix;
  req.headers = SignedHeaders("fire-7", absl::Now(), body, "wrong-secret");
  r = SendAndWait(*client_, req);
  EXPECT_EQ(r.http_status, 401);
  EXPECT_THAT(r.body_prefix, ::testing::HasSubstr("does not match"));
}

TEST_F(WebhookClientTest, HangingEndpointTimesOutWhileOthersFlow) {
  absl::Notification hang_done;
  WebhookResult hang;
  std::atomic<int> ok_before_hang{0};
  std::atomic<int> ok_total{0};
  client_->Send({Url("/hang"), "POST", {}, "{}", absl::Milliseconds(800)}, [&](WebhookResult r) {
    hang = std::move(r);
    hang_done.Notify();
  });
  constexpr int kOthers = 30;
  absl::Notification others_done;
  for (int i = 0; i < kOthers; ++i) {
    client_->Send({Url("/ok"), "POST", {}, "{}", absl::Seconds(10)}, [&](WebhookResult r) {
      if (r.http_status == 200 && !hang_done.HasBeenNotified()) ++ok_before_hang;
      if (++ok_total == kOthers) others_done.Notify();
    });
  }
  ASSERT_TRUE(others_done.WaitForNotificationWithTimeout(kWait));
  ASSERT_TRUE(hang_done.WaitForNotificationWithTimeout(kWait));
  EXPECT_EQ(ok_before_hang.load(), kOthers);  // none waited behind the hanging request
  EXPECT_EQ(hang.error, WebhookError::kTimeout) << hang.error_message;
  EXPECT_EQ(Classify(hang).outcome, Outcome::kRetry);
  EXPECT_GE(hang.latency, absl::Milliseconds(700));
}

TEST_F(WebhookClientTest, ReusesConnections) {
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(SendAndWait(*client_, {Url("/ok"), "POST", {}, "{}", absl::Seconds(10)}).http_status,
              200);
  }
  EXPECT_EQ(receiver_->connections_accepted(), 1);
}

TEST_F(WebhookClientTest, BadRequestsFailWithoutTraffic) {
  WebhookResult r = SendAndWait(*client_, {Url("/ok"), "BAD METHOD", {}, "", absl::Seconds(1)});
  EXPECT_EQ(r.error, WebhookError::kInvalidRequest);
  r = SendAndWait(*client_,
                  {Url("/ok"), "POST", {{"X-Evil", "a\r\nInjected: 1"}}, "", absl::Seconds(1)});
  EXPECT_EQ(r.error, WebhookError::kInvalidRequest);
  r = SendAndWait(*client_, {"gopher://127.0.0.1/", "POST", {}, "", absl::Seconds(1)});
  EXPECT_EQ(Classify(r).outcome, Outcome::kDeadLetter) << WebhookErrorName(r.error);
  EXPECT_TRUE(receiver_->requests().empty());
}

TEST_F(WebhookClientTest, StopCancelsInFlight) {
  absl::Notification done;
  WebhookResult r;
  client_->Send({Url("/hang"), "POST", {}, "{}", absl::Seconds(60)}, [&](WebhookResult res) {
    r = std::move(res);
    done.Notify();
  });
  client_->Stop();
  ASSERT_TRUE(done.HasBeenNotified());
  EXPECT_EQ(r.error, WebhookError::kCancelled);
  EXPECT_EQ(Classify(r).outcome, Outcome::kRetry);
  WebhookResult after = SendAndWait(*client_, {Url("/ok"), "POST", {}, "{}", absl::Seconds(1)});
  EXPECT_EQ(after.error, WebhookError::kCancelled);
}

// Per-host limit: with max_per_host = 2, only two requests to one host are in flight at a
// time, while another host key (localhost, same receiver) is still served.
TEST(WebhookLimitsTest, PerHostConcurrencyIsBounded) {
  absl::Mutex mu;
  int hanging = 0;
  int max_hanging = 0;
  absl::Notification release;
  TestReceiver receiver([&](const ReceivedRequest& r) {
    if (r.path == "/hang") {
      {
        absl::MutexLock lock(&mu);
        max_hanging = std::max(max_hanging, ++hanging);
      }
      release.WaitForNotificationWithTimeout(kWait);
      absl::MutexLock lock(&mu);
      --hanging;
    }
    return ReceiverResponse{200, {}, "ok"};
  });
  ASSERT_TRUE(receiver.Start());
  WebhookClientOptions o;
  o.policy = *AddressPolicy::FromFlags({"127.0.0.0/8"});
  o.max_per_host = 2;
  WebhookClient client(std::move(o));
  client.Start();
  std::atomic<int> hang_ok{0};
  absl::Notification hangs_done;
  constexpr int kHangs = 5;
  for (int i = 0; i < kHangs; ++i) {
    client.Send({absl::StrCat("http://127.0.0.1:", receiver.port(), "/hang"),
                 "POST",
                 {},
                 "{}",
                 absl::Seconds(30)},
                [&](WebhookResult r) {
                  if (r.http_status == 200 && ++hang_ok == kHangs) hangs_done.Notify();
                });
  }
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(
                                        +[](int* h) { return *h == 2; }, &hanging),
                                    kWait));
  }
  // localhost is a different host key; ::1 (if tried first) is refused, 127.0.0.1 is allowed.
  WebhookResult other =
      SendAndWait(client, {absl::StrCat("http://localhost:", receiver.port(), "/ok"),
                           "POST",
                           {},
                           "{}",
                           absl::Seconds(10)});
  EXPECT_EQ(other.http_status, 200) << other.error_message;
  EXPECT_EQ(client.outstanding(), static_cast<size_t>(kHangs));
  release.Notify();
  ASSERT_TRUE(hangs_done.WaitForNotificationWithTimeout(kWait));
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(max_hanging, 2);
  }
  client.Stop();
  receiver.Stop();
}

// Default policy (nothing allow-listed): every internal destination is refused at connect
// time, before a packet is sent.
TEST(WebhookSsrfTest, DefaultPolicyRefusesInternalDestinations) {
  TestReceiver receiver([](const ReceivedRequest&) { return ReceiverResponse{200, {}, ""}; });
  ASSERT_TRUE(receiver.Start());
  WebhookClient client(WebhookClientOptions{});
  client.Start();
  std::string port = absl::StrCat(receiver.port());
  for (const std::string& url : {"http://127.0.0.1:" + port + "/ok", "http://[::1]:" + port + "/ok",
                                 std::string("http://10.0.0.1/hook"),
                                 std::string("http://169.254.169.254/latest/meta-data/"),
                                 "http://localhost:" + port + "/ok"}) {
    WebhookResult r = SendAndWait(client, {url, "POST", {}, "{}", absl::Seconds(5)});
    EXPECT_EQ(r.error, WebhookError::kRefusedByPolicy) << url << ": " << r.error_message;
    EXPECT_THAT(r.error_message, ::testing::HasSubstr("not allow-listed")) << url;
    EXPECT_EQ(Classify(r).outcome, Outcome::kDeadLetter) << url;
  }
  EXPECT_EQ(receiver.connections_accepted(), 0);
  client.Stop();
  receiver.Stop();
}

TEST(WebhookThroughputTest, DeliveriesPerSecondToFastReceiver) {
  TestReceiver receiver([](const ReceivedRequest&) { return ReceiverResponse{200, {}, "ok"}; });
  receiver.set_record(false);
  ASSERT_TRUE(receiver.Start());
  WebhookClientOptions o;
  o.policy = *AddressPolicy::FromFlags({"127.0.0.0/8"});
  o.max_per_host = 16;
  WebhookClient client(std::move(o));
  client.Start();
  constexpr int kCount = 20000;
  std::string body = FireToJson({"fire-0123456789",
                                 "timer-1",
                                 "prod",
                                 absl::Now(),
                                 absl::Now(),
                                 1,
                                 {{"env", "bench"}},
                                 "payload"});
  std::atomic<int> ok{0}, done_count{0};
  absl::Notification all_done;
  absl::Time start = absl::Now();
  for (int i = 0; i < kCount; ++i) {
    client.Send({absl::StrCat("http://127.0.0.1:", receiver.port(), "/fast"), "POST",
                 SignedHeaders(absl::StrCat("fire-", i), absl::Now(), body, "secret"), body,
                 absl::Seconds(30)},
                [&](WebhookResult r) {
                  if (r.http_status == 200) ++ok;
                  if (++done_count == kCount) all_done.Notify();
                });
  }
  ASSERT_TRUE(all_done.WaitForNotificationWithTimeout(absl::Seconds(120)));
  absl::Duration elapsed = absl::Now() - start;
  EXPECT_EQ(ok.load(), kCount);
  EXPECT_LE(receiver.connections_accepted(), 16);
  std::printf("webhook throughput: %d deliveries in %.2fs = %.0f/s (%d connections)\n", kCount,
              absl::ToDoubleSeconds(elapsed), kCount / absl::ToDoubleSeconds(elapsed),
              receiver.connections_accepted());
  client.Stop();
  receiver.Stop();
}

}  // namespace
}  // namespace chime::webhook
