#include "client/cli/requests.h"

#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>

#include <fstream>

#include "client/cli/spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace chime::cli {
namespace {

using ::chime::testing::StatusIs;
using ::testing::HasSubstr;

ParsedArgs MustParse(std::vector<std::string> argv) {
  ParsedArgs args;
  absl::Status s = ParseArgs(ChimeSpec(), argv, &args);
  EXPECT_TRUE(s.ok()) << s;
  return args;
}

absl::StatusOr<v1::CreateTimerRequest> Create(std::vector<std::string> flags) {
  flags.insert(flags.begin(), "create");
  return BuildCreateRequest(MustParse(flags));
}

v1::CreateTimerRequest Text(const std::string& text) {
  v1::CreateTimerRequest request;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &request)) << text;
  return request;
}

MATCHER_P(EqualsProto, expected, "") {
  std::string diff;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  if (differencer.Compare(expected, arg)) return true;
  *result_listener << diff;
  return false;
}

void ExpectCreate(const std::vector<std::string>& flags, const std::string& expected) {
  absl::StatusOr<v1::CreateTimerRequest> request = Create(flags);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_THAT(*request, EqualsProto(Text(expected)));
}

void ExpectCreateError(const std::vector<std::string>& flags, const std::string& message) {
  absl::StatusOr<v1::CreateTimerRequest> request = Create(flags);
  EXPECT_THAT(request, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(request.status().message()), HasSubstr(message));
}

TEST(BuildCreateRequestTest, DelayAndTopic) {
  ExpectCreate({"--in", "5m", "--topic", "demo", "--payload", "hello"},
               R"pb(namespace: "default"
                    delay { seconds: 300 }
                    target { topic: "demo" }
                    payload: "hello")pb");
}

TEST(BuildCreateRequestTest, AbsoluteTimeWithEverythingOptional) {
  ExpectCreate({"--at",
                "2026-12-01T09:00:00Z",
                "--topic",
                "demo",
                "--id",
                "invoice-42",
                "--idempotency-key",
                "k1",
                "--label",
                "kind=invoice",
                "--label",
                "eq=a=b",
                "--label",
                "empty=",
                "--ack-deadline",
                "30s",
                "--max-attempts",
                "5",
                "--backoff",
                "1s..5m",
                "--namespace",
                "acme"},
               R"pb(namespace: "acme"
                    timer_id: "invoice-42"
                    idempotency_key: "k1"
                    fire_at { seconds: 1796115600 }
                    target { topic: "demo" }
                    labels { key: "kind" value: "invoice" }
                    labels { key: "eq" value: "a=b" }
                    labels { key: "empty" value: "" }
                    delivery_policy {
                      ack_deadline { seconds: 30 }
                      max_attempts: 5
                      min_backoff { seconds: 1 }
                      max_backoff { seconds: 300 }
                    })pb");
}

TEST(BuildCreateRequestTest, FractionalDurationsAndOffsets) {
  ExpectCreate({"--in", "1.5s", "--topic", "t"},
               R"pb(namespace: "default"
                    delay { seconds: 1 nanos: 500000000 }
                    target { topic: "t" })pb");
  ExpectCreate({"--at", "2026-12-01T10:00:00.25+01:00", "--topic", "t"},
               R"pb(namespace: "default"
                    fire_at { seconds: 1796115600 nanos: 250000000 }
                    target { topic: "t" })pb");
}

TEST(BuildCreateRequestTest, RecurringAndWebhookAreSentAsGiven) {
  ExpectCreate({"--every", "1m", "--start", "2026-12-01T09:00:00Z", "--topic", "t"},
               R"pb(namespace: "default"
                    interval {
                      every { seconds: 60 }
                      start { seconds: 1796115600 }
                    }
                    target { topic: "t" })pb");
  ExpectCreate({"--cron", "0 9 * * MON-FRI", "--tz", "Europe/Paris", "--webhook",
                "https://example.com/hook", "--header", "X-Token: abc", "--header", "A:b:c"},
               R"pb(namespace: "default"
                    cron { expression: "0 9 * * MON-FRI" time_zone: "Europe/Paris" }
                    target {
                      webhook {
                        url: "https://example.com/hook"
                        headers { key: "X-Token" value: "abc" }
                        headers { key: "A" value: "b:c" }
                      }
                    })pb");
  ExpectCreate(
      {"--in", "5m", "--webhook", "http://h/x", "--method", "put", "--webhook-timeout", "3s"},
      R"pb(namespace: "default"
           delay { seconds: 300 }
           target {
             webhook {
               url: "http://h/x"
               method: "PUT"
               timeout { seconds: 3 }
             }
           })pb");
}

TEST(BuildCreateRequestTest, PayloadFileIsReadAsBytes) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/payload.bin";
  const std::string bytes("\x00\xff\n{\"a\":1}", 10);
  std::ofstream(path, std::ios::binary) << bytes;
  absl::StatusOr<v1::CreateTimerRequest> request =
      Create({"--in", "1s", "--topic", "t", "--payload-file", path});
  ASSERT_OK(request);
  EXPECT_EQ(request->payload(), bytes);
  ExpectCreateError({"--in", "1s", "--topic", "t", "--payload-file", dir.path() + "/missing"},
                    "--payload-file: cannot open");
}

TEST(BuildCreateRequestTest, ScheduleErrors) {
  ExpectCreateError({"--in", "5m", "--at", "2026-12-01T09:00:00Z", "--topic", "t"},
                    "--in and --at cannot be combined");
  ExpectCreateError({"--in", "5m", "--cron", "* * * * *", "--topic", "t"},
                    "--in and --cron cannot be combined");
  ExpectCreateError({"--topic", "t"}, "one of --in, --at, --every, --cron is required");
  ExpectCreateError({"--in", "5 minutes", "--topic", "t"}, "--in: ");
  ExpectCreateError({"--in", "-5m", "--topic", "t"}, "--in: ");
  ExpectCreateError({"--at", "tomorrow", "--topic", "t"}, "--at: invalid time \"tomorrow\"");
  ExpectCreateError({"--every", "0s", "--topic", "t"}, "--every: must be positive");
  ExpectCreateError({"--in", "5m", "--start", "2026-12-01T09:00:00Z", "--topic", "t"},
                    "--start needs --every");
  ExpectCreateError({"--in", "5m", "--tz", "UTC", "--topic", "t"}, "--tz needs --cron");
}

TEST(BuildCreateRequestTest, TargetErrors) {
  ExpectCreateError({"--in", "5m"}, "one of --topic, --webhook is required");
  ExpectCreateError({"--in", "5m", "--topic", "t", "--webhook", "http://x"},
                    "--topic and --webhook cannot be combined");
  ExpectCreateError({"--in", "5m", "--topic", ""}, "--topic: is empty");
  ExpectCreateError({"--in", "5m", "--topic", "t", "--header", "a:b"}, "--header needs --webhook");
  ExpectCreateError({"--in", "5m", "--webhook", "http://x", "--header", "novalue"},
                    "--header: want name:value, got \"novalue\"");
}

TEST(BuildCreateRequestTest, PayloadLabelAndPolicyErrors) {
  ExpectCreateError({"--in", "5m", "--topic", "t", "--payload", "a", "--payload-file", "/x"},
                    "--payload and --payload-file cannot be combined");
  ExpectCreateError({"--in", "5m", "--topic", "t", "--label", "novalue"},
                    "--label: want key=value, got \"novalue\"");
  ExpectCreateError({"--in", "5m", "--topic", "t", "--label", "=v"},
                    "--label: want key=value, got \"=v\"");
  ExpectCreateError({"--in", "5m", "--topic", "t", "--label", "a=1", "--label", "a=2"},
                    "--label: key \"a\" given more than once");
  ExpectCreateError({"--in", "5m", "--topic", "t", "--max-attempts", "0"},
                    "--max-attempts: want a positive integer, got \"0\"");
  ExpectCreateError({"--in", "5m", "--topic", "t", "--max-attempts", "five"},
                    "--max-attempts: want a positive integer");
  ExpectCreateError({"--in", "5m", "--topic", "t", "--ack-deadline", "soon"}, "--ack-deadline: ");
  ExpectCreateError({"--in", "5m", "--topic", "t", "--backoff", "1s"},
                    "--backoff: want MIN..MAX like 1s..5m, got \"1s\"");
  ExpectCreateError({"--in", "5m", "--topic", "t", "--backoff", "5m..1s"},
                    "--backoff: minimum 5m is above maximum 1s");
  ExpectCreateError({"--in", "5m", "--topic", "t", "--backoff", "1s..x"}, "--backoff: ");
}

TEST(ParseTimerStateTest, AcceptsShortAndLongNamesInAnyCase) {
  EXPECT_EQ(*ParseTimerState("scheduled"), v1::TIMER_STATE_SCHEDULED);
  EXPECT_EQ(*ParseTimerState("CANCELLED"), v1::TIMER_STATE_CANCELLED);
  EXPECT_EQ(*ParseTimerState("timer_state_dead_lettered"), v1::TIMER_STATE_DEAD_LETTERED);
  EXPECT_THAT(ParseTimerState("unspecified"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseTimerState("sleeping"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(BuildListPlanTest, FiltersAndLimit) {
  absl::StatusOr<ListPlan> plan = BuildListPlan(MustParse(
      {"list", "--topic", "demo", "--state", "fired", "--limit", "7", "--namespace", "n"}));
  ASSERT_OK(plan);
  EXPECT_EQ(plan->request.namespace_(), "n");
  EXPECT_EQ(plan->request.topic(), "demo");
  EXPECT_EQ(plan->request.state(), v1::TIMER_STATE_FIRED);
  EXPECT_EQ(plan->limit, 7u);
  EXPECT_THAT(BuildListPlan(MustParse({"list", "--limit", "0"})),
              StatusIs(absl::StatusCode::kInvalidArgument));
  plan = BuildListPlan(MustParse({"list"}));
  ASSERT_OK(plan);
  EXPECT_EQ(plan->request.namespace_(), "default");
  EXPECT_EQ(plan->request.state(), v1::TIMER_STATE_UNSPECIFIED);
  EXPECT_EQ(plan->limit, 0u);
}

TEST(BuildWatchPlanTest, Flags) {
  absl::StatusOr<WatchPlan> plan = BuildWatchPlan(MustParse(
      {"watch", "--topic", "demo", "--count", "3", "--no-ack", "--max-outstanding", "5"}));
  ASSERT_OK(plan);
  EXPECT_EQ(plan->ns, "default");
  EXPECT_EQ(plan->topic, "demo");
  EXPECT_EQ(plan->count, 3u);
  EXPECT_FALSE(plan->ack);
  EXPECT_EQ(plan->max_outstanding, 5u);
  plan = BuildWatchPlan(MustParse({"watch", "--topic", "demo"}));
  ASSERT_OK(plan);
  EXPECT_EQ(plan->count, 0u);
  EXPECT_TRUE(plan->ack);
  EXPECT_THAT(BuildWatchPlan(MustParse({"watch"})), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace chime::cli
