#include "client/cli/output.h"

#include <google/protobuf/util/json_util.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chime::cli {
namespace {

using ::testing::HasSubstr;

v1::Fire SampleFire() {
  v1::Fire fire;
  fire.set_fire_id("t1@0");
  fire.set_namespace_("default");
  fire.set_timer_id("t1");
  fire.set_topic("demo");
  fire.mutable_scheduled_time()->set_seconds(1796115600);  // 2026-12-01T09:00:00Z
  fire.mutable_fire_time()->set_seconds(1796115600);
  fire.mutable_fire_time()->set_nanos(412000);
  fire.set_attempt(1);
  fire.set_payload("hello");
  return fire;
}

TEST(FireLineTest, HumanForm) {
  EXPECT_EQ(FireLine(SampleFire()),
            "2026-12-01T09:00:00.000412Z t1@0 timer=t1 attempt=1 scheduled=2026-12-01T09:00:00Z "
            "late=412us payload=hello");
}

TEST(FireLineTest, ControlCharactersStayOnOneLineAndBinaryIsBase64) {
  v1::Fire fire = SampleFire();
  fire.set_payload("a\nb\tc\x01 é");
  EXPECT_THAT(FireLine(fire), HasSubstr(" payload=a\\nb\\tc\\x01 é"));
  fire.set_payload(std::string("\xff\x00", 2));
  EXPECT_THAT(FireLine(fire), HasSubstr(" payload_base64=/wA="));
  fire.set_payload("");
  EXPECT_THAT(FireLine(fire), ::testing::EndsWith(" payload="));
}

TEST(FireJsonTest, SnakeCaseFieldsAndTextPayload) {
  EXPECT_EQ(FireJson(SampleFire()),
            "{\"fire_id\":\"t1@0\",\"namespace\":\"default\",\"timer_id\":\"t1\","
            "\"topic\":\"demo\",\"scheduled_time\":\"2026-12-01T09:00:00Z\","
            "\"fire_time\":\"2026-12-01T09:00:00.000412Z\",\"attempt\":1,"
            "\"payload\":\"hello\"}");
}

TEST(FireJsonTest, PayloadEscapingAndBase64) {
  v1::Fire fire = SampleFire();
  fire.set_payload("say \"hi\"\\\n\x01 é");
  EXPECT_THAT(FireJson(fire), HasSubstr("\"payload\":\"say \\\"hi\\\"\\\\\\n\\u0001 é\"}"));
  fire.set_payload(std::string("\xff\x00", 2));
  EXPECT_THAT(FireJson(fire), HasSubstr("\"payload_base64\":\"/wA=\"}"));
  EXPECT_THAT(FireJson(fire), ::testing::Not(HasSubstr("\"payload\"")));
  // An empty payload is still present, so every line has the field.
  fire.set_payload("");
  EXPECT_THAT(FireJson(fire), HasSubstr(",\"payload\":\"\"}"));
}

TEST(FireJsonTest, IsValidJsonThatParsesBack) {
  v1::Fire fire = SampleFire();
  (*fire.mutable_labels())["k"] = "v";
  fire.set_payload("quote\" and newline\n");
  std::string json = FireJson(fire);
  v1::Fire parsed;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  // "payload" as text is not the proto's base64 form; replace it before parsing back.
  const size_t at = json.find(",\"payload\":");
  ASSERT_NE(at, std::string::npos);
  std::string without_payload = json.substr(0, at) + "}";
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(without_payload, &parsed, options).ok())
      << without_payload;
  fire.clear_payload();
  EXPECT_EQ(parsed.DebugString(), fire.DebugString());
}

TEST(FireJsonTest, EmptyFireIsStillOneObject) {
  EXPECT_EQ(FireJson(v1::Fire()), "{\"payload\":\"\"}");
}

v1::Timer SampleTimer() {
  v1::Timer timer;
  timer.set_namespace_("default");
  timer.set_timer_id("invoice-42");
  timer.mutable_schedule()->mutable_fire_at()->set_seconds(1796115600);
  timer.mutable_target()->set_topic("demo");
  timer.set_payload("hi");
  (*timer.mutable_labels())["kind"] = "invoice";
  timer.mutable_delivery_policy()->mutable_ack_deadline()->set_seconds(30);
  timer.mutable_delivery_policy()->set_max_attempts(5);
  timer.mutable_delivery_policy()->mutable_min_backoff()->set_seconds(1);
  timer.mutable_delivery_policy()->mutable_max_backoff()->set_seconds(300);
  timer.set_state(v1::TIMER_STATE_SCHEDULED);
  timer.mutable_create_time()->set_seconds(1796112000);
  timer.mutable_next_fire_time()->set_seconds(1796115600);
  timer.set_version(1);
  return timer;
}

TEST(TimerOutputTest, Line) {
  EXPECT_EQ(TimerLine(SampleTimer()), "invoice-42 SCHEDULED 2026-12-01T09:00:00Z topic=demo");
  v1::Timer cancelled = SampleTimer();
  cancelled.set_state(v1::TIMER_STATE_CANCELLED);
  cancelled.clear_next_fire_time();
  EXPECT_EQ(TimerLine(cancelled), "invoice-42 CANCELLED - topic=demo");
}

TEST(TimerOutputTest, Details) {
  const std::string details = TimerDetails(SampleTimer());
  EXPECT_THAT(details, HasSubstr("timer_id:        invoice-42\n"));
  EXPECT_THAT(details, HasSubstr("state:           SCHEDULED\n"));
  EXPECT_THAT(details, HasSubstr("schedule:        at 2026-12-01T09:00:00Z\n"));
  EXPECT_THAT(details, HasSubstr("target:          topic=demo\n"));
  EXPECT_THAT(details, HasSubstr("payload:         hi\n"));
  EXPECT_THAT(details, HasSubstr("labels:          kind=invoice\n"));
  EXPECT_THAT(details,
              HasSubstr("delivery_policy: ack_deadline=30s max_attempts=5 backoff=1s..5m\n"));
  EXPECT_THAT(details, HasSubstr("create_time:     2026-12-01T08:00:00Z\n"));
}

TEST(TimerOutputTest, WebhookTargetAndAttempts) {
  v1::Timer timer = SampleTimer();
  v1::WebhookTarget* hook = timer.mutable_target()->mutable_webhook();
  hook->set_url("https://example.com/hook");
  hook->mutable_timeout()->set_seconds(5);
  v1::WebhookStatus* status = timer.mutable_webhook_status();
  status->set_attempts(2);
  status->set_last_http_status(503);
  status->set_last_outcome("retry");
  status->set_last_error("HTTP 503");
  status->mutable_last_latency()->set_nanos(12'000'000);
  status->mutable_last_attempt_time()->set_seconds(1796115600);
  const std::string details = TimerDetails(timer);
  EXPECT_THAT(details,
              HasSubstr("target:          webhook=POST https://example.com/hook timeout=5s\n"));
  EXPECT_THAT(details, HasSubstr("webhook:         2 attempts, last: retry status=503 "
                                 "latency=12ms at 2026-12-01T09:00:00Z error=HTTP 503\n"));
}

TEST(TimerOutputTest, Json) {
  const std::string json = TimerJson(SampleTimer());
  EXPECT_THAT(json, HasSubstr("\"timer_id\":\"invoice-42\""));
  EXPECT_THAT(json, HasSubstr("\"state\":\"TIMER_STATE_SCHEDULED\""));
  EXPECT_THAT(json, HasSubstr("\"next_fire_time\":\"2026-12-01T09:00:00Z\""));
  EXPECT_THAT(json, HasSubstr("\"delivery_policy\":{\"ack_deadline\":\"30s\",\"max_attempts\":5"));
  EXPECT_THAT(json, HasSubstr("\"payload\":\"hi\"}"));
  EXPECT_EQ(json.find('\n'), std::string::npos);
}

TEST(StateNameTest, DropsThePrefix) {
  EXPECT_EQ(StateName(v1::TIMER_STATE_DEAD_LETTERED), "DEAD_LETTERED");
  EXPECT_EQ(StateName(v1::TIMER_STATE_UNSPECIFIED), "UNSPECIFIED");
}

}  // namespace
}  // namespace chime::cli
