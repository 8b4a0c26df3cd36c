#include "storage/hot_records.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace chime::storage {
namespace {

// What one entry of a 2-byte key and a 100-byte value costs (HotRecords::Cost).
constexpr size_t kEntryCost = 2 + 100 + HotRecords::kEntryOverhead;

TEST(HotRecordsTest, FindsWhatWasPutUntilErasedOrReplaced) {
  HotRecords hot(1 << 20);
  EXPECT_FALSE(hot.Find("a").has_value());
  hot.Put("a", "one", 1);
  ASSERT_TRUE(hot.Find("a").has_value());
  EXPECT_EQ(*hot.Find("a"), "one");
  hot.Put("a", "two", 1);
  EXPECT_EQ(*hot.Find("a"), "two");
  const std::string longer(1000, 'x');
  hot.Put("a", longer, 2);  // a larger value, at another rank
  EXPECT_EQ(*hot.Find("a"), longer);
  EXPECT_EQ(hot.bytes(), 1 + longer.size() + HotRecords::kEntryOverhead);
  hot.Put("a", "two", 2);
  EXPECT_EQ(*hot.Find("a"), "two");
  EXPECT_EQ(hot.size(), 1u);
  hot.Erase("a");
  EXPECT_FALSE(hot.Find("a").has_value());
  hot.Erase("never-put");  // no-op
  EXPECT_EQ(hot.size(), 0u);
  EXPECT_EQ(hot.bytes(), 0u);
}

TEST(HotRecordsTest, AnEmptyValueIsARecordNotAMiss) {
  HotRecords hot(1 << 20);
  hot.Put("k", "", 0);
  ASSERT_TRUE(hot.Find("k").has_value());
  EXPECT_TRUE(hot.Find("k")->empty());
}

TEST(HotRecordsTest, StaysWithinItsBytesByDroppingTheHighestRankFirst) {
  const std::string value(100, 'v');
  HotRecords hot(10 * kEntryCost);
  // Ranks put in a scrambled order: 0..99, each once.
  for (int i = 0; i < 100; ++i) hot.Put(absl::StrCat("k", (i * 37) % 100), value, (i * 37) % 100);
  EXPECT_LE(hot.bytes(), 10 * kEntryCost);
  EXPECT_EQ(hot.size(), 10u);
  for (int rank = 0; rank < 100; ++rank) {
    EXPECT_EQ(hot.Find(absl::StrCat("k", rank)).has_value(), rank < 10) << rank;
  }
}

TEST(HotRecordsTest, ANewEntryRankedAboveAllKeptOnesIsTheOneDropped) {
  const std::string value(100, 'v');
  HotRecords hot(3 * kEntryCost);
  hot.Put("k1", value, 1);
  hot.Put("k2", value, 2);
  hot.Put("k3", value, 3);
  hot.Put("k9", value, 9);
  EXPECT_FALSE(hot.Find("k9").has_value());
  EXPECT_TRUE(hot.Find("k3").has_value());
}

TEST(HotRecordsTest, ReplacingAKeyTakesItsNewRank) {
  const std::string value(100, 'v');
  HotRecords hot(3 * kEntryCost);
  hot.Put("k1", value, 1);
  hot.Put("k2", value, 2);
  hot.Put("k3", value, 3);
  hot.Put("k1", value, 10);  // now ranked highest: the next overflow drops it
  hot.Put("k4", value, 4);
  EXPECT_FALSE(hot.Find("k1").has_value());
  EXPECT_TRUE(hot.Find("k2").has_value());
  EXPECT_TRUE(hot.Find("k3").has_value());
  EXPECT_TRUE(hot.Find("k4").has_value());
}

TEST(HotRecordsTest, AValueLargerThanTheBoundIsNotKeptAndDropsTheOlderOne) {
  HotRecords hot(500);
  hot.Put("k", "small", 0);
  hot.Put("k", std::string(1000, 'x'), 0);
  EXPECT_FALSE(hot.Find("k").has_value());
  HotRecords none(0);
  none.Put("k", "v", 0);
  EXPECT_FALSE(none.Find("k").has_value());
}

TEST(HotRecordsTest, ChurnUnderTheBoundKeepsEveryLiveEntryAndEvictsByRankAfter) {
  // Puts and erases that leave stale eviction slots behind: they are compacted away without
  // losing a live entry or its rank.
  const std::string value(100, 'v');
  constexpr size_t kCost = 3 + 100 + HotRecords::kEntryOverhead;  // 3-byte keys here
  HotRecords hot(100 * kCost);
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 100; ++i) hot.Put(absl::StrCat("k", i % 10, i / 10), value, 100 - i);
    for (int i = 1; i < 100; i += 2) hot.Erase(absl::StrCat("k", i % 10, i / 10));
  }
  EXPECT_EQ(hot.size(), 50u);
  for (int i = 0; i < 100; i += 2) {
    EXPECT_TRUE(hot.Find(absl::StrCat("k", i % 10, i / 10)).has_value()) << i;
  }
  // Room for 50 more: the 51st new entry overflows and the highest rank (i = 0, rank 100) goes.
  for (int j = 0; j < 51; ++j) hot.Put(absl::StrCat("n", j / 10, j % 10), value, 0);
  EXPECT_FALSE(hot.Find("k00").has_value());
  EXPECT_TRUE(hot.Find("k20").has_value());
  EXPECT_LE(hot.bytes(), 100 * kCost);
}

TEST(HotRecordsTest, DropRankedBeforeRemovesOnlyTheLowerRanks) {
  HotRecords hot(1 << 20);
  hot.Put("a", "1", 10);
  hot.Put("b", "2", 20);
  hot.Put("c", "3", 30);
  hot.Put("a", "4", 25);  // re-ranked: survives the drop below
  hot.DropRankedBefore(21);
  EXPECT_TRUE(hot.Find("a").has_value());
  EXPECT_FALSE(hot.Find("b").has_value());
  EXPECT_TRUE(hot.Find("c").has_value());
  EXPECT_EQ(hot.size(), 2u);
}

TEST(HotRecordsTest, RecordsSharingARankLeaveLatestPutFirstWhateverWasErasedAmongThem) {
  // A herd: many timers due at one time. Erasing the first, the last and a middle one of a
  // rank must leave the others evictable in order, and DropRankedBefore must reach them all.
  const std::string value(100, 'v');
  HotRecords hot(8 * kEntryCost);
  // Put in the reverse of the keys' order, so that order and not the keys decides.
  for (int i = 7; i >= 0; --i) hot.Put(absl::StrCat("h", i), value, 5);
  hot.Erase("h7");
  hot.Erase("h0");
  hot.Erase("h4");
  hot.Put("h3", value, 5);  // replaced at its rank: keeps its place, before h2 and h1
  for (int i = 0; i < 3; ++i) hot.Put(absl::StrCat("l", i), value, 1);  // 8 entries: full
  EXPECT_EQ(hot.size(), 8u);
  hot.Put("l3", value, 1);  // overflows: h1, the latest put at the highest rank, leaves
  EXPECT_FALSE(hot.Find("h1").has_value());
  EXPECT_TRUE(hot.Find("h6").has_value());
  hot.Put("l4", value, 1);
  EXPECT_FALSE(hot.Find("h2").has_value());
  EXPECT_TRUE(hot.Find("h3").has_value());
  EXPECT_LE(hot.bytes(), 8 * kEntryCost);
  hot.DropRankedBefore(6);
  EXPECT_EQ(hot.size(), 0u);
  EXPECT_EQ(hot.bytes(), 0u);
}

TEST(HotRecordsTest, ClearForgetsEverything) {
  HotRecords hot(1 << 20);
  hot.Put("a", "1", 0);
  hot.Put("b", "2", 0);
  hot.Clear();
  EXPECT_FALSE(hot.Find("a").has_value());
  EXPECT_EQ(hot.size(), 0u);
  EXPECT_EQ(hot.bytes(), 0u);
  hot.Put("a", "3", 0);
  EXPECT_EQ(*hot.Find("a"), "3");
}

}  // namespace
}  // namespace chime::storage
