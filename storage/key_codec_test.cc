#include "storage/key_codec.h"

#include <algorithm>
#include <climits>
#include <random>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"

namespace chime::storage {
namespace {

const std::vector<int64_t> kTimes = {
    INT64_MIN, INT64_MIN + 1,         -1'000'000,    -256,     -1, 0, 1, 255,
    256,       1'700'000'000'000'000, INT64_MAX - 1, INT64_MAX};
const std::vector<std::string> kNames = {"", "a", "ab", "a b", "b", "\x01", "z\xff", "\xff"};

TEST(KeyCodecTest, TimeRoundTripsAndSortsLikeSignedIntegers) {
  for (int64_t a : kTimes) {
    std::string ka;
    AppendTime(&ka, a);
    ASSERT_EQ(ka.size(), 8u);
    EXPECT_EQ(DecodeTime(ka), a);
    for (int64_t b : kTimes) {
      std::string kb;
      AppendTime(&kb, b);
      EXPECT_EQ(ka < kb, a < b) << a << " vs " << b;
    }
  }
}

TEST(KeyCodecTest, PairKeyRoundTrips) {
  for (const std::string& a : kNames) {
    for (const std::string& b : kNames) {
      std::optional<PairParts> parts = DecodePairKey(PairKey(a, b));
      ASSERT_TRUE(parts.has_value());
      EXPECT_EQ(*parts, (PairParts{a, b}));
    }
  }
  EXPECT_FALSE(DecodePairKey("no-separator").has_value());
  EXPECT_FALSE(DecodePairKey(std::string("a\0b\0c", 5)).has_value());
}

TEST(KeyCodecTest, PairKeyOrderIsComponentOrder) {
  // "a" vs "ab" is the case a plain concatenation gets wrong: ("a","z") < ("ab","a").
  for (const std::string& a1 : kNames) {
    for (const std::string& b1 : kNames) {
      for (const std::string& a2 : kNames) {
        for (const std::string& b2 : kNames) {
          EXPECT_EQ(PairKey(a1, b1) < PairKey(a2, b2), std::tie(a1, b1) < std::tie(a2, b2))
              << a1 << "/" << b1 << " vs " << a2 << "/" << b2;
        }
      }
    }
  }
}

TEST(KeyCodecTest, NamespacePrefixBoundsExactlyOneNamespace) {
  std::string lower = NamespacePrefix("a");
  std::string upper = PrefixSuccessor(lower);
  for (const std::string& ns : kNames) {
    for (const std::string& id : kNames) {
      std::string key = TimerKey(ns, id);
      bool inside = key >= lower && key < upper;
      EXPECT_EQ(inside, ns == "a") << ns << "/" << id;
    }
  }
}

TEST(KeyCodecTest, DueKeyRoundTrips) {
  for (int64_t t : kTimes) {
    for (const std::string& ns : kNames) {
      std::optional<DueEntry> e = DecodeDueKey(DueKey(t, ns, "timer-1"));
      ASSERT_TRUE(e.has_value());
      EXPECT_EQ(*e, (DueEntry{t, ns, "timer-1"}));
    }
  }
  EXPECT_FALSE(DecodeDueKey("short").has_value());
}

TEST(KeyCodecTest, DueKeyOrderIsTimeThenNamespaceThenId) {
  std::vector<DueEntry> entries;
  for (int64_t t : kTimes) {
    for (const char* ns : {"a", "ab", "b"}) {
      for (const char* id : {"x", "xy", "y"}) entries.push_back({t, ns, id});
    }
  }
  std::mt19937 rng(42);
  std::shuffle(entries.begin(), entries.end(), rng);
  std::vector<DueEntry> by_key = entries;
  std::sort(by_key.begin(), by_key.end(), [](const DueEntry& x, const DueEntry& y) {
    return DueKey(x.due_us, x.ns, x.timer_id) < DueKey(y.due_us, y.ns, y.timer_id);
  });
  std::vector<DueEntry> by_value = entries;
  std::sort(by_value.begin(), by_value.end(), [](const DueEntry& x, const DueEntry& y) {
    return std::tie(x.due_us, x.ns, x.timer_id) < std::tie(y.due_us, y.ns, y.timer_id);
  });
  EXPECT_EQ(by_key, by_value);
}

TEST(KeyCodecTest, QueueKeyRoundTrips) {
  for (int64_t t : kTimes) {
    for (const std::string& ns : kNames) {
      for (const std::string& topic : kNames) {
        std::string key = QueueKey(ns, topic, t, "fire-1");
        EXPECT_EQ(key.rfind(QueuePrefix(ns, topic), 0), 0u);
        std::optional<QueueKeyParts> parts = DecodeQueueKey(key);
        ASSERT_TRUE(parts.has_value());
        EXPECT_EQ(*parts, (QueueKeyParts{ns, topic, t, "fire-1"}));
      }
    }
  }
  EXPECT_FALSE(DecodeQueueKey(std::string("ns\0topic\0short", 14)).has_value());
  EXPECT_FALSE(DecodeQueueKey("no-separator").has_value());
}

TEST(KeyCodecTest, QueueKeyOrderIsNamespaceTopicVisibilityFireId) {
  struct Q {
    std::string ns, topic;
    int64_t t;
    std::string fire;
  };
  std::vector<Q> qs;
  for (const char* ns : {"a", "ab"}) {
    for (const char* topic : {"t", "tt", "u"}) {
      for (int64_t t : kTimes) {
        for (const char* fire : {"f", "ff", "g"}) qs.push_back({ns, topic, t, fire});
      }
    }
  }
  for (const Q& x : qs) {
    for (const Q& y : qs) {
      EXPECT_EQ(QueueKey(x.ns, x.topic, x.t, x.fire) < QueueKey(y.ns, y.topic, y.t, y.fire),
                std::tie(x.ns, x.topic, x.t, x.fire) < std::tie(y.ns, y.topic, y.t, y.fire));
    }
  }
}

TEST(KeyCodecTest, Successors) {
  EXPECT_EQ(PrefixSuccessor("ab"), "ac");
  EXPECT_EQ(PrefixSuccessor(std::string("a\0", 2)), "a\x01");
  EXPECT_EQ(PrefixSuccessor("a\xff\xff"), "b");
  EXPECT_EQ(PrefixSuccessor("\xff"), "");
  EXPECT_EQ(KeySuccessor("ab"), std::string("ab\0", 3));
  // Nothing lies strictly between a key and its successor.
  EXPECT_LT(std::string("ab"), KeySuccessor("ab"));
  EXPECT_LT(KeySuccessor("ab"), std::string("ab\x01"));
}

}  // namespace
}  // namespace chime::storage
