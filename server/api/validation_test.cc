#include "server/api/validation.h"

#include <string>

#include "common/limits.h"
#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chime::api {
namespace {

using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1'795'000'000);  // 2026-11-18

v1::CreateTimerRequest ValidCreate() {
  v1::CreateTimerRequest r;
  r.set_timer_id("invoice-42");
  *r.mutable_delay() = ToProtoDuration(absl::Minutes(5));
  r.mutable_target()->set_topic("billing");
  r.set_payload("hello");
  (*r.mutable_labels())["kind"] = "invoice";
  return r;
}

// Asserts `status` has `code` and a message containing `text`.
void ExpectError(const absl::Status& status, absl::StatusCode code, const std::string& text) {
  EXPECT_EQ(status.code(), code) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(text));
}

absl::Status CreateError(const v1::CreateTimerRequest& r) {
  return ValidateCreate(r, kNow).status();
}

TEST(ValidateCreateTest, ValidRequestBecomesSpec) {
  v1::CreateTimerRequest r = ValidCreate();
  r.set_idempotency_key("order-7");
  r.mutable_delivery_policy()->mutable_ack_deadline()->set_seconds(10);
  auto spec = ValidateCreate(r, kNow);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->timer.namespace_(), "default");
  EXPECT_EQ(spec->timer.timer_id(), "invoice-42");
  EXPECT_EQ(FromProto(spec->timer.schedule().fire_at()), kNow + absl::Minutes(5));
  EXPECT_EQ(spec->timer.target().topic(), "billing");
  EXPECT_EQ(spec->timer.payload(), "hello");
  EXPECT_EQ(spec->timer.labels().at("kind"), "invoice");
  EXPECT_EQ(spec->timer.delivery_policy().ack_deadline().seconds(), 10);
  EXPECT_EQ(spec->idempotency_key, "order-7");
  EXPECT_EQ(spec->request_fingerprint, RequestFingerprint(r));
}

TEST(ValidateCreateTest, OnlyARequestThatCanBeRetriedIsFingerprinted) {
  v1::CreateTimerRequest named = ValidCreate();  // a timer id, no key
  auto spec = ValidateCreate(named, kNow);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->request_fingerprint, RequestFingerprint(named));
  EXPECT_NE(spec->request_fingerprint, 0u);

  v1::CreateTimerRequest keyed = ValidCreate();
  keyed.clear_timer_id();
  keyed.set_idempotency_key("order-7");
  spec = ValidateCreate(keyed, kNow);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->request_fingerprint, RequestFingerprint(keyed));

  // Neither: the id is generated, nothing can be retried onto it.
  v1::CreateTimerRequest anonymous = keyed;
  anonymous.clear_idempotency_key();
  spec = ValidateCreate(anonymous, kNow);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->request_fingerprint, 0u);
}

TEST(ValidateCreateTest, FireAtIsKeptAndEmptyIdIsAllowed) {
  v1::CreateTimerRequest r = ValidCreate();
  r.clear_timer_id();
  *r.mutable_fire_at() = ToProtoTimestamp(kNow + absl::Hours(1));
  r.set_namespace_("tenant-a");
  auto spec = ValidateCreate(r, kNow);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->timer.timer_id(), "");
  EXPECT_EQ(spec->timer.namespace_(), "tenant-a");
  EXPECT_EQ(FromProto(spec->timer.schedule().fire_at()), kNow + absl::Hours(1));
}

TEST(ValidateCreateTest, ZeroDelayAndRecentPastAreAllowed) {
  v1::CreateTimerRequest r = ValidCreate();
  *r.mutable_delay() = ToProtoDuration(absl::ZeroDuration());
  EXPECT_TRUE(ValidateCreate(r, kNow).ok());
  *r.mutable_fire_at() = ToProtoTimestamp(kNow - absl::Hours(1));
  EXPECT_TRUE(ValidateCreate(r, kNow).ok());
}

TEST(ValidateCreateTest, Payload) {
  v1::CreateTimerRequest r = ValidCreate();
  r.set_payload(std::string(70000, 'x'));
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "payload is 70000 bytes, limit 65536");
  r.set_payload(std::string(limits::kMaxPayloadBytes, 'x'));
  EXPECT_TRUE(CreateError(r).ok());
}

TEST(ValidateCreateTest, TimerId) {
  v1::CreateTimerRequest r = ValidCreate();
  r.set_timer_id("a b");
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "timer_id \"a b\" has a character outside [A-Za-z0-9._:~-]");
  r.set_timer_id("x@1");
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "outside [A-Za-z0-9._:~-]");
  r.set_timer_id(std::string("a\0b", 3));
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "timer_id \"a\\x00");
  r.set_timer_id(std::string(129, 'a'));
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "timer_id is 129 bytes, limit 128");
  r.set_timer_id("Az09._:~-");
  EXPECT_TRUE(CreateError(r).ok());
}

TEST(ValidateCreateTest, Namespace) {
  v1::CreateTimerRequest r = ValidCreate();
  r.set_namespace_("a\tb");
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "namespace \"a\\tb\" has a character");
  r.set_namespace_(std::string(65, 'n'));
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "namespace is 65 bytes, limit 64");
  r.set_namespace_("caf\xc3\xa9");
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "outside printable ASCII");
}

TEST(ValidateCreateTest, IdempotencyKey) {
  v1::CreateTimerRequest r = ValidCreate();
  r.set_idempotency_key("order 7");
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "idempotency_key \"order 7\"");
  r.set_idempotency_key(std::string(257, 'k'));
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "idempotency_key is 257 bytes, limit 256");
}

TEST(ValidateCreateTest, When) {
  v1::CreateTimerRequest r = ValidCreate();
  r.clear_delay();
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "one of fire_at, delay, interval or cron is required");
  // No practical maximum delay: ten years ahead is fine, past 100 years is refused.
  *r.mutable_fire_at() = ToProtoTimestamp(kNow + absl::Hours(24 * 3660));
  EXPECT_TRUE(ValidateCreate(r, kNow).ok());
  *r.mutable_fire_at() = ToProtoTimestamp(kNow + absl::Hours(24 * 36601));
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "more than 36600 days ahead (limit)");
  *r.mutable_fire_at() = ToProtoTimestamp(kNow - absl::Hours(25));
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "more than 24 hours in the past");
  r.mutable_fire_at()->set_nanos(-1);
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "fire_at is not a valid timestamp");
  *r.mutable_delay() = ToProtoDuration(absl::Seconds(-5));
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "delay is -5s, must not be negative");
  *r.mutable_delay() = ToProtoDuration(absl::Hours(24 * 36601));
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "more than 36600 days (limit)");
  r.mutable_delay()->set_seconds(1);
  r.mutable_delay()->set_nanos(-5);
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "delay is not a valid duration");
}

TEST(ValidateCreateTest, Interval) {
  v1::CreateTimerRequest r = ValidCreate();
  r.mutable_interval()->mutable_every()->set_seconds(60);
  absl::StatusOr<engine::CreateSpec> result = ValidateCreate(r, kNow);
  ASSERT_TRUE(result.ok()) << result.status();
  const engine::CreateSpec& spec = *result;
  // start defaults to the receipt time
  EXPECT_EQ(FromProto(spec.timer.schedule().interval().start()), kNow);
  EXPECT_EQ(FromProto(spec.timer.schedule().interval().every()), absl::Seconds(60));
  *r.mutable_interval()->mutable_every() = ToProtoDuration(absl::Milliseconds(99));
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "interval.every is 99ms, must be at least 100ms");
  *r.mutable_interval()->mutable_every() = ToProtoDuration(absl::Seconds(-1));
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "must be at least 100ms");
  r.mutable_interval()->clear_every();
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "interval.every is required");
  *r.mutable_interval()->mutable_every() = ToProtoDuration(absl::Seconds(1));
  *r.mutable_interval()->mutable_end() = ToProtoTimestamp(kNow - absl::Seconds(1));
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "interval.end is");
  r.mutable_interval()->clear_end();
  *r.mutable_jitter() = ToProtoDuration(absl::Hours(25));
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "jitter is 25h");
}

TEST(ValidateCreateTest, Cron) {
  v1::CreateTimerRequest r = ValidCreate();
  r.mutable_cron()->set_expression("0 9 * * MON-FRI");
  r.mutable_cron()->set_time_zone("Europe/Paris");
  r.set_overlap_policy(v1::OVERLAP_POLICY_FORBID);
  absl::StatusOr<engine::CreateSpec> result = ValidateCreate(r, kNow);
  ASSERT_TRUE(result.ok()) << result.status();
  const engine::CreateSpec& spec = *result;
  EXPECT_EQ(spec.timer.schedule().cron().time_zone(), "Europe/Paris");
  EXPECT_EQ(spec.timer.overlap_policy(), v1::OVERLAP_POLICY_FORBID);
  r.mutable_cron()->set_expression("0 24 * * *");
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "cron field 'hour': value 24 out of range 0-23");
  r.mutable_cron()->set_expression("0 0 30 2 *");
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "never matches");
  r.mutable_cron()->set_expression("0 9 * * *");
  r.mutable_cron()->set_time_zone("Mars/Olympus");
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "unknown time zone 'Mars/Olympus'");
}

TEST(ValidateCreateTest, RecurringOptionsNeedARecurringSchedule) {
  v1::CreateTimerRequest r = ValidCreate();
  *r.mutable_spread() = ToProtoDuration(absl::Minutes(1));
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "apply to interval and cron schedules only");
}

TEST(ValidateCreateTest, Target) {
  v1::CreateTimerRequest r = ValidCreate();
  r.clear_target();
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "target.topic is required");
  r.mutable_target();  // present but empty
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "target.topic is required");
  r.mutable_target()->set_topic("");
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "target.topic is required");
  r.mutable_target()->set_topic("a b");
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "target.topic \"a b\"");
  r.mutable_target()->set_topic(std::string(129, 't'));
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "target.topic is 129 bytes, limit 128");
  r.mutable_target()->set_topic("$webhook");
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "target.topic \"$webhook\" starts with '$', which is reserved");
}

TEST(ValidateCreateTest, WebhookTarget) {
  v1::CreateTimerRequest r = ValidCreate();
  v1::WebhookTarget& hook = *r.mutable_target()->mutable_webhook();
  hook.set_url("https://example.com/hook");
  (*hook.mutable_headers())["X-Team"] = "billing";
  absl::StatusOr<engine::CreateSpec> spec = ValidateCreate(r, kNow);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->timer.target().webhook().url(), "https://example.com/hook");
  EXPECT_EQ(spec->timer.target().webhook().method(), "POST");  // defaulted
  EXPECT_EQ(spec->timer.target().webhook().headers().at("X-Team"), "billing");

  // Literal internal addresses are refused by the default policy, naming the field.
  for (const char* url : {"http://127.0.0.1/x", "http://[::1]/x", "http://10.0.0.1/x",
                          "http://169.254.169.254/latest/meta-data"}) {
    hook.set_url(url);
    ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "target.webhook.url");
  }
  // ... unless allow-listed.
  absl::StatusOr<webhook::AddressPolicy> allow = webhook::AddressPolicy::FromFlags({"127.0.0.0/8"});
  ASSERT_TRUE(allow.ok());
  hook.set_url("http://127.0.0.1:8080/x");
  EXPECT_TRUE(ValidateCreate(r, kNow, *allow).ok());

  hook.set_url("ftp://example.com/x");
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "target.webhook.url");
  hook.set_url("");
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "target.webhook.url is required");
  hook.set_url("https://example.com/hook");
  hook.set_method("TRACE");
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "target.webhook.method \"TRACE\" is not one of POST, PUT, PATCH, DELETE, GET");
  hook.set_method("PUT");
  (*hook.mutable_headers())["Chime-Signature"] = "forged";
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "target.webhook.headers[\"Chime-Signature\"] is set by chime");
  hook.mutable_headers()->erase("Chime-Signature");
  (*hook.mutable_headers())["X-Bad"] = "a\r\nInjected: 1";
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "CR, LF or NUL");
  hook.mutable_headers()->erase("X-Bad");
  (*hook.mutable_headers())["Bad Name"] = "v";
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "HTTP header name");
  hook.mutable_headers()->erase("Bad Name");
  *hook.mutable_timeout() = ToProtoDuration(absl::Minutes(10));
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "target.webhook.timeout is 10m, must be 100ms to 5m");
  *hook.mutable_timeout() = ToProtoDuration(absl::Seconds(2));
  EXPECT_TRUE(ValidateCreate(r, kNow).ok());
}

TEST(ValidateSubscribeTest, ReservedTopic) {
  v1::SubscribeStart start;
  start.set_topic("$webhook");
  ExpectError(ValidateSubscribeStart(start).status(), absl::StatusCode::kInvalidArgument,
              "start.topic \"$webhook\" starts with '$'");
}

TEST(ValidateCreateTest, Labels) {
  v1::CreateTimerRequest r = ValidCreate();
  r.clear_labels();
  for (int i = 0; i < 33; ++i) (*r.mutable_labels())["k" + std::to_string(i)] = "v";
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "labels has 33 entries, limit 32");
  r = ValidCreate();
  (*r.mutable_labels())[""] = "v";
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "label key is required");
  r = ValidCreate();
  (*r.mutable_labels())[std::string(65, 'k')] = "v";
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "label key is 65 bytes, limit 64");
  r = ValidCreate();
  (*r.mutable_labels())["a key"] = "v";
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "label key \"a key\"");
  r = ValidCreate();
  (*r.mutable_labels())["k"] = std::string(257, 'v');
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "label \"k\" value is 257 bytes, limit 256");
  r = ValidCreate();
  (*r.mutable_labels())["k"] = "line\nbreak";
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument, "control character");
  r = ValidCreate();
  (*r.mutable_labels())["k"] = "spaces are fine";
  EXPECT_TRUE(CreateError(r).ok());
}

TEST(ValidateCreateTest, DeliveryPolicy) {
  v1::CreateTimerRequest r = ValidCreate();
  *r.mutable_delivery_policy()->mutable_ack_deadline() = ToProtoDuration(absl::Milliseconds(500));
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "delivery_policy.ack_deadline is 500ms, must be between 1s and 1h");
  *r.mutable_delivery_policy()->mutable_ack_deadline() = ToProtoDuration(absl::Hours(2));
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "delivery_policy.ack_deadline is 2h");
  r = ValidCreate();
  r.mutable_delivery_policy()->set_max_attempts(1001);
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "delivery_policy.max_attempts is 1001, limit 1000");
  r = ValidCreate();
  *r.mutable_delivery_policy()->mutable_min_backoff() = ToProtoDuration(absl::Seconds(-1));
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "delivery_policy.min_backoff is -1s");
  r = ValidCreate();
  *r.mutable_delivery_policy()->mutable_max_backoff() = ToProtoDuration(absl::Hours(25));
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "delivery_policy.max_backoff is 25h");
  r = ValidCreate();
  *r.mutable_delivery_policy()->mutable_min_backoff() = ToProtoDuration(absl::Minutes(5));
  *r.mutable_delivery_policy()->mutable_max_backoff() = ToProtoDuration(absl::Seconds(1));
  ExpectError(CreateError(r), absl::StatusCode::kInvalidArgument,
              "delivery_policy.min_backoff (5m) is greater than delivery_policy.max_backoff (1s)");
  r = ValidCreate();
  r.mutable_delivery_policy()->set_max_attempts(5);
  *r.mutable_delivery_policy()->mutable_min_backoff() = ToProtoDuration(absl::Seconds(1));
  *r.mutable_delivery_policy()->mutable_max_backoff() = ToProtoDuration(absl::Minutes(5));
  EXPECT_TRUE(CreateError(r).ok());
}

TEST(FingerprintTest, StableAndSensitive) {
  v1::CreateTimerRequest a = ValidCreate();
  v1::CreateTimerRequest b = ValidCreate();
  EXPECT_EQ(RequestFingerprint(a), RequestFingerprint(b));
  // Map insertion order does not matter.
  (*a.mutable_labels())["x"] = "1";
  (*a.mutable_labels())["y"] = "2";
  (*b.mutable_labels())["y"] = "2";
  (*b.mutable_labels())["x"] = "1";
  EXPECT_EQ(RequestFingerprint(a), RequestFingerprint(b));
  // "" and "default" are the same namespace.
  b.set_namespace_("default");
  EXPECT_EQ(RequestFingerprint(a), RequestFingerprint(b));
  b.set_payload("other");
  EXPECT_NE(RequestFingerprint(a), RequestFingerprint(b));
  // Pinned: the value must not change between processes or versions.
  EXPECT_EQ(Fnv1a64(""), 14695981039346656037ull);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ull);
}

TEST(FingerprintTest, DelayIsHashedUnresolved) {
  v1::CreateTimerRequest r = ValidCreate();
  auto first = ValidateCreate(r, kNow);
  auto retry = ValidateCreate(r, kNow + absl::Minutes(1));
  ASSERT_TRUE(first.ok() && retry.ok());
  EXPECT_EQ(first->request_fingerprint, retry->request_fingerprint);
  EXPECT_NE(first->timer.schedule().fire_at().seconds(),
            retry->timer.schedule().fire_at().seconds());
}

TEST(ValidateGetCancelTest, Rules) {
  v1::GetTimerRequest g;
  ExpectError(ValidateGet(g).status(), absl::StatusCode::kInvalidArgument, "timer_id is required");
  g.set_timer_id("a b");
  ExpectError(ValidateGet(g).status(), absl::StatusCode::kInvalidArgument,
              "outside [A-Za-z0-9._:~-]");
  g.set_timer_id("t1");
  auto ref = ValidateGet(g);
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->ns, "default");
  EXPECT_EQ(ref->timer_id, "t1");
  v1::CancelTimerRequest c;
  c.set_namespace_(std::string(65, 'n'));
  c.set_timer_id("t1");
  ExpectError(ValidateCancel(c).status(), absl::StatusCode::kInvalidArgument,
              "namespace is 65 bytes");
  c.set_namespace_("ns");
  ASSERT_TRUE(ValidateCancel(c).ok());
  EXPECT_EQ(ValidateCancel(c)->ns, "ns");
}

TEST(ValidateListTest, Rules) {
  v1::ListTimersRequest l;
  auto out = ValidateList(l);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->namespace_(), "default");
  EXPECT_EQ(out->page_size(), limits::kDefaultPageSize);
  l.set_page_size(1001);
  ExpectError(ValidateList(l).status(), absl::StatusCode::kInvalidArgument,
              "page_size is 1001, limit 1000");
  l.set_page_size(1000);
  EXPECT_TRUE(ValidateList(l).ok());
  l.set_topic("a b");
  ExpectError(ValidateList(l).status(), absl::StatusCode::kInvalidArgument, "topic \"a b\"");
  l.set_topic("demo");
  l.set_state(static_cast<v1::TimerState>(99));
  ExpectError(ValidateList(l).status(), absl::StatusCode::kInvalidArgument,
              "state 99 is not a TimerState");
  l.set_state(v1::TIMER_STATE_SCHEDULED);
  l.set_page_token(std::string(1025, 'p'));
  ExpectError(ValidateList(l).status(), absl::StatusCode::kInvalidArgument,
              "page_token is 1025 bytes, limit 1024");
}

TEST(ValidateSubscribeTest, Rules) {
  v1::SubscribeStart s;
  ExpectError(ValidateSubscribeStart(s).status(), absl::StatusCode::kInvalidArgument,
              "start.topic is required");
  s.set_topic("demo");
  auto p = ValidateSubscribeStart(s);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->ns, "default");
  EXPECT_EQ(p->topic, "demo");
  EXPECT_EQ(p->max_outstanding, limits::kDefaultMaxOutstanding);
  s.set_max_outstanding(10001);
  ExpectError(ValidateSubscribeStart(s).status(), absl::StatusCode::kInvalidArgument,
              "start.max_outstanding is 10001, limit 10000");
  s.set_max_outstanding(7);
  EXPECT_EQ(ValidateSubscribeStart(s)->max_outstanding, 7u);
  s.set_namespace_("bad ns");
  ExpectError(ValidateSubscribeStart(s).status(), absl::StatusCode::kInvalidArgument,
              "namespace \"bad ns\"");
}

TEST(ValidateAckTest, Rules) {
  v1::Acknowledge ack;
  EXPECT_TRUE(ValidateAck(ack).ok());
  ack.add_fire_ids("not a fire id");  // answered UNKNOWN later, not an error
  EXPECT_TRUE(ValidateAck(ack).ok());
  for (uint32_t i = 0; i < limits::kMaxAckIdsPerMessage; ++i) ack.add_fire_ids("x@1");
  ExpectError(ValidateAck(ack), absl::StatusCode::kInvalidArgument,
              "ack has 10001 fire ids, limit 10000");

  v1::NegativeAcknowledge nack;
  nack.add_fire_ids("t@1");
  auto d = ValidateNack(nack);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->has_value());
  *nack.mutable_delay() = ToProtoDuration(absl::Seconds(3));
  d = ValidateNack(nack);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(**d, absl::Seconds(3));
  *nack.mutable_delay() = ToProtoDuration(absl::Seconds(-3));
  ExpectError(ValidateNack(nack).status(), absl::StatusCode::kInvalidArgument, "nack.delay is -3s");
}

}  // namespace
}  // namespace chime::api
