#include "server/engine/one_shot_fired_wire.h"

#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "chime/internal/storage.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "server/engine/engine.h"
#include "server/engine/fire_delivery.h"
#include "server/engine/one_shot_fire.h"

namespace chime::engine {
namespace {

google::protobuf::Timestamp At(int64_t seconds, int32_t nanos) {
  google::protobuf::Timestamp t;
  t.set_seconds(seconds);
  t.set_nanos(nanos);
  return t;
}

// A stored one-shot timer with the fields `seed` picks: with or without payload, labels,
// webhook target, policy, idempotency key, an earlier last fire, and the record's own fields.
internal::TimerRecord RandomOneShot(uint32_t seed) {
  std::mt19937 rng(seed);
  auto coin = [&rng] { return rng() % 2 == 0; };
  internal::TimerRecord record;
  v1::Timer& timer = *record.mutable_timer();
  if (coin()) timer.set_namespace_(absl::StrCat("ns", rng() % 100));
  timer.set_timer_id(absl::StrCat("t_", rng()));
  *timer.mutable_schedule()->mutable_fire_at() = At(1'800'000'000 + rng() % 1000, rng() % 1000);
  if (coin()) {
    timer.mutable_target()->mutable_webhook()->set_url(absl::StrCat("http://127.0.0.1/", rng()));
  } else {
    timer.mutable_target()->set_topic(absl::StrCat("topic", rng() % 10));
  }
  std::string payload(rng() % 300, '\0');
  for (char& c : payload) c = static_cast<char>(rng());
  timer.set_payload(payload);
  for (uint32_t i = rng() % 4; i > 0; --i) {
    (*timer.mutable_labels())[absl::StrCat("k", i)] = absl::StrCat("v", rng());
  }
  if (coin()) timer.mutable_delivery_policy()->set_max_attempts(1 + rng() % 9);
  timer.set_state(v1::TIMER_STATE_SCHEDULED);
  *timer.mutable_create_time() = At(1'700'000'000 + rng() % 1000, 0);
  *timer.mutable_next_fire_time() = timer.schedule().fire_at();
  timer.set_fire_count(rng() % 3);  // an updated timer may have fired before
  if (timer.fire_count() > 0) *timer.mutable_last_fire_time() = At(1'750'000'000, 5);
  if (coin()) timer.set_idempotency_key(absl::StrCat("key", rng()));
  timer.set_version(1 + rng() % 5);
  if (coin()) record.set_request_fingerprint(rng());
  record.set_due_us(1'800'000'000'000'000 + rng() % 1'000'000'000);
  if (coin()) record.set_nominal_us(record.due_us() - 5);
  return record;
}

TEST(OneShotFiredWireTest, EndsTheTimerAsTheParsedPathDoes) {
  for (uint32_t seed = 0; seed < 500; ++seed) {
    internal::TimerRecord record = RandomOneShot(seed);
    std::string stored = record.SerializeAsString();
    if (seed % 3 == 0) stored += std::string("\xa8\x06\x07", 3);  // unknown field 101 = 7
    const google::protobuf::Timestamp fire_time = At(1'800'000'123, static_cast<int32_t>(seed));

    std::string fired;
    ASSERT_EQ(EndOneShotInWire(stored, record.due_us(), record.timer().version(),
                               record.timer().fire_count(), fire_time, &fired),
              WireEnd::kWritten)
        << seed;
    internal::TimerRecord expected;
    ASSERT_TRUE(expected.ParseFromString(stored));
    EndOneShot(expected, fire_time);
    internal::TimerRecord got;
    ASSERT_TRUE(got.ParseFromString(fired)) << seed;
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(got, expected))
        << seed << "\ngot: " << got.DebugString() << "\nwant: " << expected.DebugString();
  }
}

TEST(OneShotFiredWireTest, LeavesATimerThatMovedOnAsItIs) {
  const internal::TimerRecord record = RandomOneShot(7);
  const int64_t due = record.due_us();
  const uint64_t version = record.timer().version();
  const uint64_t count = record.timer().fire_count();
  const google::protobuf::Timestamp fire_time = At(1'800'000'000, 0);
  std::string fired;
  auto end = [&](const internal::TimerRecord& r, int64_t d, uint64_t v, uint64_t c) {
    return EndOneShotInWire(r.SerializeAsString(), d, v, c, fire_time, &fired);
  };
  EXPECT_EQ(end(record, due + 1, version, count), WireEnd::kNotThatFire);  // rescheduled
  EXPECT_EQ(end(record, due, version + 1, count), WireEnd::kNotThatFire);  // updated
  EXPECT_EQ(end(record, due, version, count + 1), WireEnd::kNotThatFire);  // another fire
  internal::TimerRecord cancelled = record;
  cancelled.mutable_timer()->set_state(v1::TIMER_STATE_CANCELLED);
  EXPECT_EQ(end(cancelled, due, version, count), WireEnd::kNotThatFire);
  internal::TimerRecord no_state = record;
  no_state.mutable_timer()->clear_state();
  EXPECT_EQ(end(no_state, due, version, count), WireEnd::kNotThatFire);
  internal::TimerRecord recurring = record;
  recurring.mutable_timer()->mutable_schedule()->mutable_cron()->set_expression("0 9 * * *");
  EXPECT_EQ(end(recurring, due, version, count), WireEnd::kNotThatFire);
  internal::TimerRecord ended = record;
  ended.set_due_us(0);
  EXPECT_EQ(end(ended, due, version, count), WireEnd::kNotThatFire);
  EXPECT_EQ(end(record, due, version, count), WireEnd::kWritten);
}

TEST(OneShotFiredWireTest, LeavesShapesItDoesNotReadToTheParse) {
  const internal::TimerRecord record = RandomOneShot(11);
  const google::protobuf::Timestamp fire_time = At(1'800'000'000, 0);
  std::string fired;
  auto end = [&](absl::string_view stored) {
    return EndOneShotInWire(stored, record.due_us(), record.timer().version(),
                            record.timer().fire_count(), fire_time, &fired);
  };
  const std::string stored = record.SerializeAsString();
  EXPECT_EQ(end(stored.substr(0, stored.size() - 1)), WireEnd::kUnreadable);  // cut short
  EXPECT_EQ(end(std::string("\x0a\xff", 2)), WireEnd::kUnreadable);           // length past end
  // The timer in two pieces, which a parse merges.
  internal::TimerRecord piece;
  piece.mutable_timer()->set_payload("more");
  EXPECT_EQ(end(stored + piece.SerializeAsString()), WireEnd::kUnreadable);
}

// The facts a parse of `record` gives, as ReadOneShotWireFacts states them.
OneShotWireFacts ParsedFacts(const internal::TimerRecord& record) {
  OneShotWireFacts facts;
  facts.due_us = record.due_us();
  facts.version = record.timer().version();
  facts.scheduled = record.timer().state() == v1::TIMER_STATE_SCHEDULED;
  facts.one_shot = record.timer().schedule().has_fire_at();
  if (record.timer().target().kind_case() == v1::Target::kTopic) {
    facts.topic = record.timer().target().topic();
  }
  return facts;
}

void ExpectFacts(const std::string& stored, const OneShotWireFacts& want) {
  OneShotWireFacts got;
  ASSERT_TRUE(ReadOneShotWireFacts(stored, &got));
  EXPECT_EQ(got.due_us, want.due_us);
  EXPECT_EQ(got.version, want.version);
  EXPECT_EQ(got.scheduled, want.scheduled);
  EXPECT_EQ(got.one_shot, want.one_shot);
  EXPECT_EQ(got.topic, want.topic);
  if (got.topic.has_value()) {
    // A view of the stored bytes, not a copy.
    EXPECT_GE(got.topic->data(), stored.data());
    EXPECT_LE(got.topic->data() + got.topic->size(), stored.data() + stored.size());
  }
}

TEST(OneShotWireFactsTest, ReadsWhatAParseGives) {
  for (uint32_t seed = 0; seed < 500; ++seed) {
    SCOPED_TRACE(seed);
    internal::TimerRecord record = RandomOneShot(seed);
    std::mt19937 rng(seed);
    switch (rng() % 5) {
      case 0:
        record.mutable_timer()
            ->mutable_schedule()
            ->mutable_interval()
            ->mutable_every()
            ->set_seconds(60);
        break;
      case 1:
        record.mutable_timer()->set_state(v1::TIMER_STATE_CANCELLED);
        break;
      case 2:
        record.mutable_timer()->clear_target();
        break;
      case 3:
        record.mutable_timer()->clear_state();
        record.mutable_timer()->clear_version();
        record.clear_due_us();
        break;
      default:
        break;
    }
    std::string stored = record.SerializeAsString();
    if (seed % 3 == 0) stored += std::string("\xa8\x06\x07", 3);  // unknown field 101 = 7
    ExpectFacts(stored, ParsedFacts(record));
  }
}

TEST(OneShotWireFactsTest, TakesTheLastOfARepeatedFieldAsAParseDoes) {
  internal::TimerRecord record = RandomOneShot(3);
  record.mutable_timer()->mutable_target()->set_topic("first");
  // A target whose oneof is set twice: the last kind wins.
  v1::Target webhook_then_topic;
  webhook_then_topic.mutable_webhook()->set_url("http://127.0.0.1/");
  std::string target = webhook_then_topic.SerializeAsString();
  v1::Target topic;
  topic.set_topic("second");
  target += topic.SerializeAsString();
  v1::Target parsed_target;
  ASSERT_TRUE(parsed_target.ParseFromString(target));
  ASSERT_EQ(parsed_target.topic(), "second");
  internal::TimerRecord with_target = record;
  *with_target.mutable_timer()->mutable_target() = parsed_target;
  // The record's due time written twice: the last wins.
  internal::TimerRecord due;
  due.set_due_us(record.due_us() + 9);
  const std::string stored = record.SerializeAsString() + due.SerializeAsString();
  internal::TimerRecord parsed;
  ASSERT_TRUE(parsed.ParseFromString(stored));
  ExpectFacts(stored, ParsedFacts(parsed));
  ExpectFacts(with_target.SerializeAsString(), ParsedFacts(with_target));
}

TEST(OneShotWireFactsTest, LeavesShapesItDoesNotReadToTheParse) {
  const internal::TimerRecord record = RandomOneShot(11);
  const std::string stored = record.SerializeAsString();
  OneShotWireFacts facts;
  EXPECT_FALSE(ReadOneShotWireFacts(stored.substr(0, stored.size() - 1), &facts));  // cut short
  EXPECT_FALSE(ReadOneShotWireFacts(std::string("\x0a\xff", 2), &facts));  // length past end
  // An (unknown) group, which this reader does not skip.
  EXPECT_FALSE(ReadOneShotWireFacts(stored + std::string("\x5b\x5c", 2), &facts));
  internal::TimerRecord with_group;
  EXPECT_TRUE(with_group.ParseFromString(stored + std::string("\x5b\x5c", 2)));
  // The timer, or its target, in two pieces, which a parse merges.
  internal::TimerRecord piece;
  piece.mutable_timer()->set_payload("more");
  EXPECT_FALSE(ReadOneShotWireFacts(stored + piece.SerializeAsString(), &facts));
  v1::Timer two_targets;
  two_targets.mutable_target()->set_topic("a");
  const std::string timer = two_targets.SerializeAsString() + two_targets.SerializeAsString();
  const std::string two = std::string("\x0a", 1) + static_cast<char>(timer.size()) + timer;
  EXPECT_FALSE(ReadOneShotWireFacts(two, &facts));
}

// The stored record `rest` with `timer` as its timer's bytes, which may repeat fields as a
// serialization never would.
std::string WithTimerBytes(const std::string& timer, const internal::TimerRecord& rest) {
  std::string out("\x0a", 1);  // field 1, length-delimited
  for (uint64_t n = timer.size();; n >>= 7) {
    if (n < 0x80) {
      out.push_back(static_cast<char>(n));
      break;
    }
    out.push_back(static_cast<char>(n | 0x80));
  }
  return out + timer + rest.SerializeAsString();
}

// What the fire transaction's parse path makes of the stored `bytes`, fired at `now`.
internal::DeliveryRecord ParsedDelivery(const std::string& bytes, absl::Time now) {
  internal::TimerRecord parsed;
  EXPECT_TRUE(parsed.ParseFromString(bytes));
  return MakeDelivery(parsed.timer(),
                      MakeFireId(parsed.timer().timer_id(), parsed.timer().fire_count()),
                      parsed.due_us(), now);
}

void ExpectWireDelivery(const std::string& bytes, absl::Time now) {
  OneShotWireFacts facts;
  ASSERT_TRUE(ReadOneShotWireFacts(bytes, &facts));
  internal::DeliveryRecord delivery;
  ASSERT_TRUE(MakeTopicDeliveryOnTheWire(facts, facts.due_us, now, &delivery));
  const internal::DeliveryRecord parsed = ParsedDelivery(bytes, now);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(delivery, parsed))
      << delivery.DebugString() << "\nagainst\n"
      << parsed.DebugString();
}

TEST(OneShotWireDeliveryTest, MakesWhatMakeDeliveryMakesOfTheParsedTimer) {
  const absl::Time now = absl::FromUnixMicros(1'800'000'123'456'789);
  int topics = 0;
  for (uint32_t seed = 0; seed < 500; ++seed) {
    SCOPED_TRACE(seed);
    internal::TimerRecord record = RandomOneShot(seed);
    if (seed % 7 == 0) record.mutable_timer()->mutable_delivery_policy();  // present, empty
    std::string stored = record.SerializeAsString();
    if (seed % 3 == 0) stored += std::string("\xa8\x06\x07", 3);  // unknown field 101 = 7
    if (record.timer().target().has_webhook()) {
      // Webhook fires are written with their target: left to the parse.
      OneShotWireFacts facts;
      ASSERT_TRUE(ReadOneShotWireFacts(stored, &facts));
      internal::DeliveryRecord delivery;
      EXPECT_FALSE(MakeTopicDeliveryOnTheWire(facts, facts.due_us, now, &delivery));
      continue;
    }
    ++topics;
    ExpectWireDelivery(stored, now);
  }
  EXPECT_GT(topics, 100);
}

TEST(OneShotWireDeliveryTest, TakesTheLastOfRepeatedFieldsAndLabelsAsAParseDoes) {
  internal::TimerRecord record = RandomOneShot(4);
  record.mutable_timer()->mutable_target()->set_topic("orders");
  (*record.mutable_timer()->mutable_labels())["k1"] = "first";
  (*record.mutable_timer()->mutable_labels())["k2"] = "kept";
  internal::TimerRecord rest = record;
  rest.clear_timer();
  // Another piece of the timer's fields: a parse keeps the last payload, namespace and id,
  // and merges the labels, the last value of a key winning.
  v1::Timer later;
  later.set_payload("later payload");
  later.set_namespace_("later-ns");
  later.set_timer_id("later-id");
  (*later.mutable_labels())["k1"] = "second";
  (*later.mutable_labels())["k3"] = "added";
  std::string timer = record.timer().SerializeAsString() + later.SerializeAsString();
  // A label entry whose key and value are each written twice: the last of each counts.
  timer += std::string(
      "\x32\x0c\x0a\x01"
      "a"
      "\x0a\x02"
      "k4"
      "\x12\x01"
      "x"
      "\x12\x00",
      14);
  ExpectWireDelivery(WithTimerBytes(timer, rest), absl::FromUnixSeconds(1'800'000'000));
  internal::TimerRecord parsed;
  ASSERT_TRUE(parsed.ParseFromString(WithTimerBytes(timer, rest)));
  EXPECT_EQ(parsed.timer().labels().at("k1"), "second");
  EXPECT_EQ(parsed.timer().labels().at("k4"), "");
}

TEST(OneShotWireDeliveryTest, LeavesAPolicyInSeveralPiecesToTheParse) {
  internal::TimerRecord record = RandomOneShot(6);
  record.mutable_timer()->mutable_target()->set_topic("orders");
  record.mutable_timer()->mutable_delivery_policy()->set_max_attempts(3);
  internal::TimerRecord rest = record;
  rest.clear_timer();
  v1::Timer more_policy;
  more_policy.mutable_delivery_policy()->mutable_ack_deadline()->set_seconds(9);
  const std::string stored =
      WithTimerBytes(record.timer().SerializeAsString() + more_policy.SerializeAsString(), rest);
  OneShotWireFacts facts;
  ASSERT_TRUE(ReadOneShotWireFacts(stored, &facts));
  internal::DeliveryRecord delivery;
  EXPECT_FALSE(MakeTopicDeliveryOnTheWire(facts, facts.due_us, absl::Now(), &delivery));
}

}  // namespace
}  // namespace chime::engine
