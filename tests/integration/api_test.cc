// The unary calls over the wire: list paging, idempotent create (also across a restart), and
// every validation error with its code and message — without changing stored state.
#include <set>

#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "tests/integration/server_fixture.h"

namespace chime::testing {
namespace {

using ::testing::HasSubstr;
using ApiTest = ServerTest;

TEST_F(ApiTest, CreateAndGet) {
  v1::CreateTimerRequest request;
  request.set_timer_id("invoice-42");
  *request.mutable_fire_at() = ToProtoTimestamp(clock_.Now() + absl::Hours(2));
  request.mutable_target()->set_topic("billing");
  request.set_payload("pay");
  (*request.mutable_labels())["kind"] = "invoice";
  v1::CreateTimerResponse response;
  ASSERT_TRUE(Create(request, &response).ok());
  EXPECT_TRUE(response.created());
  v1::Timer timer;
  ASSERT_TRUE(Get("invoice-42", &timer).ok());
  EXPECT_EQ(timer.namespace_(), "default");
  EXPECT_EQ(timer.state(), v1::TIMER_STATE_SCHEDULED);
  EXPECT_EQ(FromProto(timer.next_fire_time()), clock_.Now() + absl::Hours(2));
  EXPECT_EQ(timer.labels().at("kind"), "invoice");
  EXPECT_EQ(timer.payload(), "pay");
  // A generated id when none is given.
  request.clear_timer_id();
  ASSERT_TRUE(Create(request, &response).ok());
  EXPECT_FALSE(response.timer().timer_id().empty());
  // The same request under the same id is a retry; a different one finds the id taken.
  request.set_timer_id("invoice-42");
  ASSERT_TRUE(Create(request, &response).ok());
  EXPECT_FALSE(response.created());
  request.set_payload("other");
  EXPECT_EQ(Create(request, &response).error_code(), grpc::StatusCode::ALREADY_EXISTS);
}

// CreateTimers applies each create on its own, in order of the results, with CreateTimer's
// statuses; only an empty or oversized batch fails the call, and then nothing is stored.
TEST_F(ApiTest, BatchCreateAnswersEachCreate) {
  auto call = [&](const v1::CreateTimersRequest& request, v1::CreateTimersResponse* response) {
    grpc::ClientContext ctx;
    ctx.set_deadline(CallDeadline());
    return stub_->CreateTimers(&ctx, request, response);
  };
  auto timer = [&](const std::string& id, const std::string& payload) {
    v1::CreateTimerRequest r;
    r.set_timer_id(id);
    *r.mutable_delay() = ToProtoDuration(absl::Minutes(5));
    r.mutable_target()->set_topic("batch");
    r.set_payload(payload);
    return r;
  };
  v1::CreateTimersRequest request;
  v1::CreateTimersResponse response;
  grpc::Status s = call(request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "requests is empty");
  for (int i = 0; i < 1001; ++i) *request.add_requests() = timer("over-" + std::to_string(i), "");
  s = call(request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "requests has 1001 entries, limit 1000");
  v1::Timer got;
  EXPECT_EQ(Get("over-0", &got).error_code(), grpc::StatusCode::NOT_FOUND);

  request.Clear();
  *request.add_requests() = timer("b1", "first");
  *request.add_requests() = timer("b2", std::string(70'000, 'x'));  // too large
  *request.add_requests() = timer("b1", "first");                   // a retry of the first
  *request.add_requests() = timer("b1", "other");                   // the id is taken
  *request.add_requests() = timer("", "generated");
  ASSERT_TRUE(call(request, &response).ok());
  ASSERT_EQ(response.results_size(), 5);
  EXPECT_EQ(response.results(0).code(), 0) << response.results(0).message();
  EXPECT_TRUE(response.results(0).created());
  EXPECT_EQ(response.results(0).timer().timer_id(), "b1");
  EXPECT_EQ(response.results(1).code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(response.results(1).message(), "payload is 70000 bytes, limit 65536");
  EXPECT_FALSE(response.results(1).has_timer());
  EXPECT_EQ(response.results(2).code(), 0);
  EXPECT_FALSE(response.results(2).created());
  EXPECT_EQ(response.results(3).code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(response.results(4).code(), 0);
  EXPECT_FALSE(response.results(4).timer().timer_id().empty());
  ASSERT_TRUE(Get("b1", &got).ok());
  EXPECT_EQ(got.payload(), "first");
  EXPECT_EQ(Get("b2", &got).error_code(), grpc::StatusCode::NOT_FOUND);

  // A full batch: every timer is stored and listed.
  request.Clear();
  for (int i = 0; i < 1000; ++i) *request.add_requests() = timer("", "bulk");
  ASSERT_TRUE(call(request, &response).ok());
  std::set<std::string> ids;
  for (const v1::CreateTimerResult& r : response.results()) {
    EXPECT_EQ(r.code(), 0) << r.message();
    ids.insert(r.timer().timer_id());
  }
  EXPECT_EQ(ids.size(), 1000u);
  size_t listed = 0;
  v1::ListTimersRequest list;
  list.set_topic("batch");
  list.set_page_size(1000);
  for (;;) {
    v1::ListTimersResponse page;
    ASSERT_TRUE(List(list, &page).ok());
    listed += page.timers_size();
    if (page.next_page_token().empty()) break;
    list.set_page_token(page.next_page_token());
  }
  EXPECT_EQ(listed, 1002u);  // b1, the generated one and the 1000
}

// ids_only: each result names its timer and nothing more; the timers are stored as in full.
TEST_F(ApiTest, BatchCreateWithIdsOnlyAnswersJustTheIds) {
  v1::CreateTimersRequest request;
  request.set_ids_only(true);
  for (const std::string id : {"", "chosen", ""}) {
    v1::CreateTimerRequest* r = request.add_requests();
    r->set_timer_id(id);
    *r->mutable_delay() = ToProtoDuration(absl::Minutes(5));
    r->mutable_target()->set_topic("ids");
    r->set_payload("kept");
  }
  request.add_requests()->set_payload("no schedule");
  v1::CreateTimersResponse response;
  grpc::ClientContext ctx;
  ctx.set_deadline(CallDeadline());
  ASSERT_TRUE(stub_->CreateTimers(&ctx, request, &response).ok());
  ASSERT_EQ(response.results_size(), 4);
  EXPECT_EQ(response.results(1).timer().timer_id(), "chosen");
  for (int i = 0; i < 3; ++i) {
    const v1::CreateTimerResult& result = response.results(i);
    EXPECT_EQ(result.code(), 0) << result.message();
    EXPECT_TRUE(result.created());
    v1::Timer only_id;
    only_id.set_timer_id(result.timer().timer_id());
    EXPECT_FALSE(only_id.timer_id().empty());
    EXPECT_EQ(result.timer().SerializeAsString(), only_id.SerializeAsString());
    v1::Timer stored;
    ASSERT_TRUE(Get(result.timer().timer_id(), &stored).ok());
    EXPECT_EQ(stored.payload(), "kept");
    EXPECT_EQ(stored.target().topic(), "ids");
    EXPECT_EQ(stored.state(), v1::TIMER_STATE_SCHEDULED);
  }
  EXPECT_EQ(response.results(3).code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(response.results(3).has_timer());
}

TEST_F(ApiTest, ListPagesThroughEveryTimerOfATopic) {
  std::set<std::string> want;
  for (int i = 0; i < 25; ++i) {
    const std::string id = "p-" + std::to_string(100 + i);
    CreateTimer(id, absl::Minutes(5), "pages");
    want.insert(id);
  }
  for (int i = 0; i < 5; ++i) CreateTimer("q-" + std::to_string(i), absl::Minutes(5), "other");

  v1::ListTimersRequest request;
  request.set_topic("pages");
  request.set_page_size(10);
  std::set<std::string> got;
  std::vector<int> page_sizes;
  for (;;) {
    v1::ListTimersResponse response;
    ASSERT_TRUE(List(request, &response).ok());
    page_sizes.push_back(response.timers_size());
    for (const v1::Timer& t : response.timers()) {
      EXPECT_EQ(t.target().topic(), "pages");
      EXPECT_TRUE(got.insert(t.timer_id()).second) << "listed twice: " << t.timer_id();
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
    ASSERT_LT(page_sizes.size(), 10u) << "paging does not end";
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(page_sizes.front(), 10);

  // Without a topic filter: all 30; with a state filter that matches nothing: none.
  v1::ListTimersRequest all;
  all.set_page_size(1000);
  v1::ListTimersResponse response;
  ASSERT_TRUE(List(all, &response).ok());
  EXPECT_EQ(response.timers_size(), 30);
  all.set_state(v1::TIMER_STATE_CANCELLED);
  ASSERT_TRUE(List(all, &response).ok());
  EXPECT_EQ(response.timers_size(), 0);
}

TEST_F(ApiTest, IdempotentCreateAlsoAfterRestart) {
  v1::CreateTimerRequest request;
  request.set_idempotency_key("order-7");
  *request.mutable_delay() = ToProtoDuration(absl::Minutes(5));
  request.mutable_target()->set_topic("orders");
  request.set_payload("x");
  v1::CreateTimerResponse first;
  ASSERT_TRUE(Create(request, &first).ok());
  EXPECT_TRUE(first.created());
  const std::string id = first.timer().timer_id();
  ASSERT_FALSE(id.empty());

  // A retry a little later (the delay is part of the request, not its resolution).
  clock_.Advance(absl::Seconds(3));
  v1::CreateTimerResponse again;
  ASSERT_TRUE(Create(request, &again).ok());
  EXPECT_FALSE(again.created());
  EXPECT_EQ(again.timer().timer_id(), id);
  EXPECT_EQ(again.timer().next_fire_time().seconds(), first.timer().next_fire_time().seconds());

  RestartServer();
  ASSERT_TRUE(Create(request, &again).ok());
  EXPECT_FALSE(again.created());
  EXPECT_EQ(again.timer().timer_id(), id);

  request.set_payload("different");
  grpc::Status s = Create(request, &again);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();

  v1::ListTimersRequest list;
  v1::ListTimersResponse listed;
  ASSERT_TRUE(List(list, &listed).ok());
  EXPECT_EQ(listed.timers_size(), 1);
}

TEST_F(ApiTest, ValidationErrorsOverTheWire) {
  auto valid = [&] {
    v1::CreateTimerRequest r;
    r.set_timer_id("ok");
    *r.mutable_delay() = ToProtoDuration(absl::Seconds(5));
    r.mutable_target()->set_topic("t");
    return r;
  };
  struct Case {
    std::string name;
    v1::CreateTimerRequest request;
    grpc::StatusCode code;
    std::string message;
  };
  std::vector<Case> cases;
  {
    auto r = valid();
    r.set_payload(std::string(70000, 'x'));
    cases.push_back(
        {"payload", r, grpc::StatusCode::INVALID_ARGUMENT, "payload is 70000 bytes, limit 65536"});
  }
  {
    auto r = valid();
    r.set_timer_id("a b");
    cases.push_back({"timer_id", r, grpc::StatusCode::INVALID_ARGUMENT,
                     "timer_id \"a b\" has a character outside [A-Za-z0-9._:~-]"});
  }
  {
    auto r = valid();
    r.clear_delay();
    cases.push_back({"when", r, grpc::StatusCode::INVALID_ARGUMENT,
                     "one of fire_at, delay, interval or cron is required"});
  }
  {
    auto r = valid();
    *r.mutable_fire_at() = ToProtoTimestamp(clock_.Now() + absl::Hours(24 * 40000));
    cases.push_back({"far", r, grpc::StatusCode::INVALID_ARGUMENT, "days ahead (limit)"});
  }
  {
    auto r = valid();
    r.clear_target();
    cases.push_back({"target", r, grpc::StatusCode::INVALID_ARGUMENT, "target.topic is required"});
  }
  {
    auto r = valid();
    *r.mutable_interval()->mutable_every() = ToProtoDuration(absl::Milliseconds(10));
    cases.push_back({"interval", r, grpc::StatusCode::INVALID_ARGUMENT, "must be at least 100ms"});
  }
  {
    auto r = valid();
    // A literal private address is refused at create time (SSRF policy, no allow-list).
    r.mutable_target()->mutable_webhook()->set_url("http://10.0.0.1/hook");
    cases.push_back({"webhook", r, grpc::StatusCode::INVALID_ARGUMENT, "target.webhook.url"});
  }
  {
    auto r = valid();
    for (int i = 0; i < 40; ++i) (*r.mutable_labels())["k" + std::to_string(i)] = "v";
    cases.push_back(
        {"labels", r, grpc::StatusCode::INVALID_ARGUMENT, "labels has 40 entries, limit 32"});
  }
  for (const Case& c : cases) {
    v1::CreateTimerResponse response;
    grpc::Status s = Create(c.request, &response);
    EXPECT_EQ(s.error_code(), c.code) << c.name << ": " << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(c.message)) << c.name;
  }

  v1::Timer timer;
  grpc::Status s = Get("", &timer);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "timer_id is required");
  EXPECT_EQ(Get("missing", &timer).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Cancel("bad id", &timer).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::ListTimersRequest list;
  list.set_page_size(5000);
  v1::ListTimersResponse listed;
  s = List(list, &listed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "page_size is 5000, limit 1000");

  // Nothing was stored by any of these.
  list.set_page_size(0);
  ASSERT_TRUE(List(list, &listed).ok());
  EXPECT_EQ(listed.timers_size(), 0);
}

}  // namespace
}  // namespace chime::testing
