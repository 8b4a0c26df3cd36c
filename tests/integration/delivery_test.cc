// Delivery end to end: fire -> Subscribe -> ack, redelivery after restarts and ack deadlines,
// cancel before fire, competing subscribers.
#include <set>

#include "common/proto_time.h"
#include "tests/integration/server_fixture.h"

namespace chime::testing {
namespace {

using DeliveryTest = ServerTest;

TEST_F(DeliveryTest, FireIsDeliveredAckedAndNotDeliveredAgainAfterRestart) {
  std::string fire_id;
  {
    TestSubscription sub(stub_.get(), "orders");
    const absl::Time due = clock_.Now() + absl::Seconds(5);
    CreateTimer("t1", absl::Seconds(5), "orders", "hello");
    clock_.Advance(absl::Seconds(6));
    std::optional<v1::Fire> fire = sub.NextFire();
    ASSERT_TRUE(fire.has_value());
    fire_id = fire->fire_id();
    EXPECT_EQ(fire->timer_id(), "t1");
    EXPECT_EQ(fire->namespace_(), "default");
    EXPECT_EQ(fire->topic(), "orders");
    EXPECT_EQ(fire->payload(), "hello");
    EXPECT_EQ(fire->attempt(), 1u);
    EXPECT_EQ(FromProto(fire->scheduled_time()), due);
    EXPECT_EQ(FromProto(fire->ack_deadline()), clock_.Now() + absl::Seconds(30));

    EXPECT_EQ(sub.AckAndWait(fire_id), v1::ACK_OUTCOME_ACKED);
    v1::Timer timer;
    ASSERT_TRUE(Get("t1", &timer).ok());
    EXPECT_EQ(timer.state(), v1::TIMER_STATE_COMPLETED);
    // A second ack of the same fire is harmless and reported as unknown.
    EXPECT_EQ(sub.AckAndWait(fire_id), v1::ACK_OUTCOME_UNKNOWN);
  }

  RestartServer();
  TestSubscription sub(stub_.get(), "orders");
  // Past any deadline the acked fire could have had; then a marker timer fires. The first
  // fire the new subscriber sees must be the marker.
  clock_.Advance(absl::Seconds(61));
  CreateTimer("marker", absl::Seconds(1), "orders");
  clock_.Advance(absl::Seconds(2));
  std::optional<v1::Fire> fire = sub.NextFire();
  ASSERT_TRUE(fire.has_value());
  EXPECT_EQ(fire->timer_id(), "marker");
  EXPECT_NE(fire->fire_id(), fire_id);
}

// A fire out to a subscriber, not yet acked (with --fire-writes=deferred not yet written
// either): reads, lists and cancels treat its timer as fired; the ack completes it.
TEST_F(DeliveryTest, ATimerWhoseFireIsOutReadsAsFiredUntilTheAckCompletesIt) {
  TestSubscription sub(stub_.get(), "out");
  CreateTimer("t-out", absl::Seconds(1), "out", "work");
  clock_.Advance(absl::Seconds(2));
  std::optional<v1::Fire> fire = sub.NextFire();
  ASSERT_TRUE(fire.has_value());
  v1::Timer timer;
  ASSERT_TRUE(Get("t-out", &timer).ok());
  EXPECT_EQ(timer.state(), v1::TIMER_STATE_FIRED);
  EXPECT_EQ(timer.fire_count(), 1u);
  EXPECT_EQ(FromProto(timer.last_fire_time()), FromProto(fire->fire_time()));
  const uint64_t version_while_out = timer.version();
  v1::ListTimersRequest list;
  list.set_state(v1::TIMER_STATE_FIRED);
  v1::ListTimersResponse listed;
  ASSERT_TRUE(List(list, &listed).ok());
  ASSERT_EQ(listed.timers_size(), 1);
  EXPECT_EQ(listed.timers(0).timer_id(), "t-out");
  v1::Timer cancelled;
  EXPECT_EQ(Cancel("t-out", &cancelled).error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  EXPECT_EQ(sub.AckAndWait(fire->fire_id()), v1::ACK_OUTCOME_ACKED);
  ASSERT_TRUE(Get("t-out", &timer).ok());
  EXPECT_EQ(timer.state(), v1::TIMER_STATE_COMPLETED);
  EXPECT_EQ(timer.fire_count(), 1u);
  EXPECT_EQ(timer.version(), version_while_out);  // reads while out showed what was written
}

TEST_F(DeliveryTest, UnackedFireIsDeliveredAgainAfterRestartWithSameIdAndNextAttempt) {
  std::string fire_id;
  {
    TestSubscription sub(stub_.get(), "jobs");
    CreateTimer("job-1", absl::Seconds(1), "jobs", "work");
    clock_.Advance(absl::Seconds(2));
    std::optional<v1::Fire> fire = sub.NextFire();
    ASSERT_TRUE(fire.has_value());
    EXPECT_EQ(fire->attempt(), 1u);
    fire_id = fire->fire_id();
    // Not acked. A restart closes the stream and tells the client to reconnect.
    StopServer();
    grpc::Status status = sub.Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(status.error_message(), "server shutting down, reconnect");
  }
  StartServer();
  v1::Timer timer;
  ASSERT_TRUE(Get("job-1", &timer).ok());
  EXPECT_EQ(timer.state(), v1::TIMER_STATE_FIRED);

  TestSubscription sub(stub_.get(), "jobs");
  std::optional<v1::Fire> fire = sub.NextFire();
  ASSERT_TRUE(fire.has_value());
  EXPECT_EQ(fire->fire_id(), fire_id);
  EXPECT_EQ(fire->timer_id(), "job-1");
  EXPECT_EQ(fire->payload(), "work");
  EXPECT_EQ(fire->attempt(), 2u);  // the first attempt was persisted
  EXPECT_EQ(sub.AckAndWait(fire_id), v1::ACK_OUTCOME_ACKED);
  ASSERT_TRUE(Get("job-1", &timer).ok());
  EXPECT_EQ(timer.state(), v1::TIMER_STATE_COMPLETED);
}

TEST_F(DeliveryTest, FiresWaitOnDiskUntilSomeoneSubscribes) {
  for (int i = 0; i < 20; ++i) CreateTimer("early-" + std::to_string(i), absl::Seconds(1), "later");
  clock_.Advance(absl::Seconds(2));
  // Every fire is durable before delivery; wait until all twenty have fired.
  for (int i = 0; i < 20; ++i) {
    v1::Timer timer;
    for (;;) {
      ASSERT_TRUE(Get("early-" + std::to_string(i), &timer).ok());
      if (timer.state() == v1::TIMER_STATE_FIRED) break;  // polls an event, no sleep
    }
  }
  EXPECT_FALSE(server_->delivery()->GetTopicStats("default", "later").has_value());
  TestSubscription sub(stub_.get(), "later");
  std::set<std::string> seen;
  while (seen.size() < 20) {
    std::optional<v1::Fire> fire = sub.NextFire();
    ASSERT_TRUE(fire.has_value());
    EXPECT_EQ(fire->attempt(), 1u);
    seen.insert(fire->timer_id());
  }
}

TEST_F(DeliveryTest, CancelledTimerIsNotDelivered) {
  TestSubscription sub(stub_.get(), "reminders");
  CreateTimer("cancel-me", absl::Seconds(5), "reminders");
  CreateTimer("keep-me", absl::Seconds(10), "reminders");
  v1::Timer cancelled;
  ASSERT_TRUE(Cancel("cancel-me", &cancelled).ok());
  EXPECT_EQ(cancelled.state(), v1::TIMER_STATE_CANCELLED);
  clock_.Advance(absl::Seconds(11));
  std::optional<v1::Fire> fire = sub.NextFire();
  ASSERT_TRUE(fire.has_value());
  EXPECT_EQ(fire->timer_id(), "keep-me");
  v1::Timer timer;
  ASSERT_TRUE(Get("cancel-me", &timer).ok());
  EXPECT_EQ(timer.state(), v1::TIMER_STATE_CANCELLED);
  EXPECT_EQ(timer.fire_count(), 0u);
  // Cancelling again, or a timer that fired, is a precondition failure; unknown is NOT_FOUND.
  EXPECT_EQ(Cancel("cancel-me", &timer).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Cancel("keep-me", &timer).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Cancel("nobody", &timer).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(DeliveryTest, CompetingSubscribersGetDistinctFires) {
  TestSubscription a(stub_.get(), "work", /*max_outstanding=*/1);
  TestSubscription b(stub_.get(), "work", /*max_outstanding=*/1);
  CreateTimer("w1", absl::Seconds(1), "work");
  CreateTimer("w2", absl::Seconds(1), "work");
  clock_.Advance(absl::Seconds(2));
  // Each holds at most one unacked fire, so each gets exactly one of the two.
  std::optional<v1::Fire> fa = a.NextFire();
  std::optional<v1::Fire> fb = b.NextFire();
  ASSERT_TRUE(fa.has_value() && fb.has_value());
  EXPECT_NE(fa->fire_id(), fb->fire_id());
  EXPECT_EQ(std::set<std::string>({fa->timer_id(), fb->timer_id()}),
            std::set<std::string>({"w1", "w2"}));
  // Acks from any subscriber of the topic count.
  EXPECT_EQ(a.AckAndWait(fb->fire_id()), v1::ACK_OUTCOME_ACKED);
  EXPECT_EQ(b.AckAndWait(fa->fire_id()), v1::ACK_OUTCOME_ACKED);
}

TEST_F(DeliveryTest, FlowControlWindowIsNeverExceeded) {
  TestSubscription sub(stub_.get(), "window", /*max_outstanding=*/2);
  for (int i = 0; i < 5; ++i) CreateTimer("f" + std::to_string(i), absl::Seconds(1), "window");
  clock_.Advance(absl::Seconds(2));
  std::optional<v1::Fire> first = sub.NextFire();
  std::optional<v1::Fire> second = sub.NextFire();
  ASSERT_TRUE(first.has_value() && second.has_value());
  auto stats = server_->delivery()->GetTopicStats("default", "window");
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->in_flight, 2u);
  // Acking one frees one place: the next fire arrives.
  EXPECT_EQ(sub.AckAndWait(first->fire_id()), v1::ACK_OUTCOME_ACKED);
  std::optional<v1::Fire> third = sub.NextFire();
  ASSERT_TRUE(third.has_value());
  stats = server_->delivery()->GetTopicStats("default", "window");
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->in_flight, 2u);
}

// A subscriber that never reads its stream (its own connection, as another client would have)
// holds only its window; a competing subscriber of the same topic gets the rest, another topic
// keeps flowing, and creates are not held up.
TEST_F(DeliveryTest, StuckSubscriberBlocksNeitherOthersNorTheEngine) {
  grpc::ChannelArguments args;
  args.SetString("chime.test.connection", "stuck");  // its own TCP connection
  auto stuck_channel =
      grpc::CreateCustomChannel(server_->address(), grpc::InsecureChannelCredentials(), args);
  auto stuck_stub = v1::TimerService::NewStub(stuck_channel);
  TestSubscription stuck(stuck_stub.get(), "jam", /*max_outstanding=*/10);
  // Large enough payloads that the stuck stream's HTTP/2 windows fill up.
  const std::string payload(16 * 1024, 'x');
  for (int i = 0; i < 40; ++i)
    CreateTimer("jam-" + std::to_string(i), absl::Seconds(1), "jam", payload);
  for (int i = 0; i < 20; ++i) CreateTimer("flow-" + std::to_string(i), absl::Seconds(1), "flow");
  clock_.Advance(absl::Seconds(2));
  // Wait until the stuck subscriber holds its full window (sent, never read).
  const absl::Time limit = absl::Now() + absl::Seconds(60);
  for (;;) {
    auto stats = server_->delivery()->GetTopicStats("default", "jam");
    if (stats.has_value() && stats->in_flight == 10) break;
    ASSERT_LT(absl::Now(), limit) << "the stuck subscriber never got its window";
    absl::SleepFor(absl::Milliseconds(1));
  }

  TestSubscription flow(stub_.get(), "flow");
  for (int i = 0; i < 20; ++i) {
    std::optional<v1::Fire> fire = flow.NextFire();
    ASSERT_TRUE(fire.has_value()) << i;
    EXPECT_EQ(flow.AckAndWait(fire->fire_id()), v1::ACK_OUTCOME_ACKED);
  }
  TestSubscription reader(stub_.get(), "jam", /*max_outstanding=*/100);
  std::set<std::string> seen;
  while (seen.size() < 30) {
    std::optional<v1::Fire> fire = reader.NextFire();
    ASSERT_TRUE(fire.has_value()) << seen.size();
    EXPECT_TRUE(seen.insert(fire->fire_id()).second);
  }
  auto stats = server_->delivery()->GetTopicStats("default", "jam");
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->in_flight, 40u);  // 10 held by the stuck one, 30 by the reader
  // The engine and the API are not held up either: a new timer is created and fires.
  CreateTimer("after", absl::Seconds(1), "flow");
  clock_.Advance(absl::Seconds(2));
  std::optional<v1::Fire> after = flow.NextFire();
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->timer_id(), "after");
}

// Waits (bounded, real time) until the topic has no fire in flight: an expiry was handled.
void WaitNoneInFlight(ChimeServer* server, const std::string& topic) {
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  while (absl::Now() < limit) {
    auto stats = server->delivery()->GetTopicStats("default", topic);
    if (stats.has_value() && stats->in_flight == 0) return;
    absl::SleepFor(absl::Milliseconds(1));
  }
  ADD_FAILURE() << "a fire of " << topic << " stayed in flight";
}

TEST_F(DeliveryTest, AckDeadlineExpiryRedelivers) {
  TestSubscription sub(stub_.get(), "slow");
  CreateTimer("s1", absl::Seconds(1), "slow");
  clock_.Advance(absl::Seconds(2));
  std::optional<v1::Fire> fire = sub.NextFire();
  ASSERT_TRUE(fire.has_value());
  EXPECT_EQ(fire->attempt(), 1u);
  clock_.Advance(absl::Seconds(31));
  WaitNoneInFlight(server_.get(), "slow");
  clock_.Advance(absl::Seconds(1));  // the first backoff: the 1 s minimum
  std::optional<v1::Fire> again = sub.NextFire();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->fire_id(), fire->fire_id());
  EXPECT_EQ(again->attempt(), 2u);
  EXPECT_EQ(FromProto(again->ack_deadline()), clock_.Now() + absl::Seconds(30));
  EXPECT_EQ(sub.AckAndWait(fire->fire_id()), v1::ACK_OUTCOME_ACKED);
}

TEST_F(DeliveryTest, TimerAckDeadlineFromPolicy) {
  TestSubscription sub(stub_.get(), "quick");
  v1::CreateTimerRequest request;
  request.set_timer_id("q1");
  *request.mutable_delay() = ToProtoDuration(absl::Seconds(1));
  request.mutable_target()->set_topic("quick");
  *request.mutable_delivery_policy()->mutable_ack_deadline() = ToProtoDuration(absl::Seconds(5));
  v1::CreateTimerResponse response;
  ASSERT_TRUE(Create(request, &response).ok());
  clock_.Advance(absl::Seconds(2));
  std::optional<v1::Fire> fire = sub.NextFire();
  ASSERT_TRUE(fire.has_value());
  EXPECT_EQ(FromProto(fire->ack_deadline()), clock_.Now() + absl::Seconds(5));
  clock_.Advance(absl::Seconds(6));
  WaitNoneInFlight(server_.get(), "quick");
  clock_.Advance(absl::Seconds(1));  // the first backoff: the 1 s minimum
  std::optional<v1::Fire> again = sub.NextFire();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->attempt(), 2u);
}

TEST_F(DeliveryTest, DisconnectedSubscribersFiresGoToAnotherAtOnce) {
  TestSubscription keeper(stub_.get(), "handoff", /*max_outstanding=*/1);
  std::optional<v1::Fire> first;
  {
    TestSubscription leaver(stub_.get(), "handoff", /*max_outstanding=*/1);
    CreateTimer("h1", absl::Seconds(1), "handoff");
    CreateTimer("h2", absl::Seconds(1), "handoff");
    clock_.Advance(absl::Seconds(2));
    first = leaver.NextFire();
    ASSERT_TRUE(first.has_value());
  }  // cancelled without acking
  std::optional<v1::Fire> a = keeper.NextFire();
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(keeper.AckAndWait(a->fire_id()), v1::ACK_OUTCOME_ACKED);
  std::optional<v1::Fire> b = keeper.NextFire();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(std::set<std::string>({a->timer_id(), b->timer_id()}),
            std::set<std::string>({"h1", "h2"}));
}

TEST_F(DeliveryTest, NackRedeliversNowOrAfterTheDelay) {
  TestSubscription sub(stub_.get(), "nacks");
  CreateTimer("n1", absl::Seconds(1), "nacks");
  clock_.Advance(absl::Seconds(2));
  std::optional<v1::Fire> fire = sub.NextFire();
  ASSERT_TRUE(fire.has_value());
  EXPECT_EQ(sub.NackAndWait(fire->fire_id(), std::nullopt), v1::ACK_OUTCOME_NACKED);
  std::optional<v1::Fire> again = sub.NextFire();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->attempt(), 2u);

  EXPECT_EQ(sub.NackAndWait(fire->fire_id(), absl::Seconds(10)), v1::ACK_OUTCOME_NACKED);
  // The redelivery waits for the delay: a marker due before it arrives first.
  CreateTimer("n-marker", absl::Seconds(5), "nacks");
  clock_.Advance(absl::Seconds(6));
  std::optional<v1::Fire> marker = sub.NextFire();
  ASSERT_TRUE(marker.has_value());
  EXPECT_EQ(marker->timer_id(), "n-marker");
  clock_.Advance(absl::Seconds(5));
  std::optional<v1::Fire> third = sub.NextFire();
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->fire_id(), fire->fire_id());
  EXPECT_EQ(third->attempt(), 3u);
  // Unknown ids are answered as such.
  EXPECT_EQ(sub.NackAndWait("nobody@1", std::nullopt), v1::ACK_OUTCOME_UNKNOWN);
}

}  // namespace
}  // namespace chime::testing
