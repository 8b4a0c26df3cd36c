#include "server/engine/timer_heap.h"

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"

namespace chime::engine {
namespace {

HeapEntry E(int64_t due_us, std::string id, std::string ns = "default") {
  return HeapEntry{due_us, 1, std::move(ns), std::move(id)};
}

std::vector<std::string> Ids(const std::vector<HeapEntry>& entries) {
  std::vector<std::string> ids;
  for (const HeapEntry& e : entries) ids.push_back(e.timer_id);
  return ids;
}

TEST(TimerHeapTest, PopsInDueOrder) {
  TimerHeap heap;
  std::vector<int64_t> dues(500);
  std::mt19937_64 rng(42);
  for (size_t i = 0; i < dues.size(); ++i) {
    dues[i] = static_cast<int64_t>(rng() % 1'000'000) - 500'000;  // negative instants too
    heap.Push(E(dues[i], "t" + std::to_string(i)));
  }
  ASSERT_EQ(heap.size(), dues.size());
  std::sort(dues.begin(), dues.end());
  for (int64_t due : dues) {
    ASSERT_FALSE(heap.empty());
    EXPECT_EQ(heap.Top().due_us, due);
    EXPECT_EQ(heap.Pop().due_us, due);
  }
  EXPECT_TRUE(heap.empty());
}

TEST(TimerHeapTest, TiesBreakByNamespaceThenId) {
  TimerHeap heap;
  heap.Push(E(10, "b", "ns2"));
  heap.Push(E(10, "c", "ns1"));
  heap.Push(E(10, "a", "ns2"));
  heap.Push(E(9, "z", "ns9"));
  heap.Push(E(10, "a", "ns1"));
  std::vector<HeapEntry> out;
  EXPECT_EQ(heap.PopDue(10, 100, &out), 5u);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0].ns + "/" + out[0].timer_id, "ns9/z");
  EXPECT_EQ(out[1].ns + "/" + out[1].timer_id, "ns1/a");
  EXPECT_EQ(out[2].ns + "/" + out[2].timer_id, "ns1/c");
  EXPECT_EQ(out[3].ns + "/" + out[3].timer_id, "ns2/a");
  EXPECT_EQ(out[4].ns + "/" + out[4].timer_id, "ns2/b");
}

TEST(TimerHeapTest, PopDueStopsAtNowAndAtMax) {
  TimerHeap heap;
  for (int i = 0; i < 10; ++i) heap.Push(E(i * 10, "t" + std::to_string(i)));
  std::vector<HeapEntry> out;
  EXPECT_EQ(heap.PopDue(-1, 100, &out), 0u);  // nothing due yet
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(heap.PopDue(35, 100, &out), 4u);  // 0, 10, 20, 30
  EXPECT_EQ(Ids(out), (std::vector<std::string>{"t0", "t1", "t2", "t3"}));
  EXPECT_EQ(heap.Top().due_us, 40);
  out.clear();
  EXPECT_EQ(heap.PopDue(1000, 2, &out), 2u);  // bounded by max
  EXPECT_EQ(Ids(out), (std::vector<std::string>{"t4", "t5"}));
  out.clear();
  EXPECT_EQ(heap.PopDue(60, 100, &out), 1u);  // due == now is due
  EXPECT_EQ(Ids(out), (std::vector<std::string>{"t6"}));
  EXPECT_EQ(heap.size(), 3u);
}

TEST(TimerHeapTest, EarliestCopiesTheFirstEntriesAndLeavesTheHeapAsItWas) {
  TimerHeap heap;
  EXPECT_TRUE(heap.Earliest(3).empty());
  for (int64_t due : {50, 10, 40, 20, 30}) heap.Push(E(due, "t" + std::to_string(due)));
  heap.Touch();  // reads, changes nothing
  std::vector<std::string> first = Ids(heap.Earliest(3));
  std::sort(first.begin(), first.end());
  EXPECT_EQ(first, (std::vector<std::string>{"t10", "t20", "t30"}));
  EXPECT_EQ(heap.Earliest(9).size(), 5u);  // all there are
  std::vector<HeapEntry> popped;
  EXPECT_EQ(heap.PopDue(100, 10, &popped), 5u);
  EXPECT_EQ(Ids(popped), (std::vector<std::string>{"t10", "t20", "t30", "t40", "t50"}));
}

TEST(TimerHeapTest, KeepsDuplicatesAndVersions) {
  TimerHeap heap;
  heap.Push(HeapEntry{5, 2, "ns", "a"});
  heap.Push(HeapEntry{5, 0, "ns", "a"});
  std::vector<HeapEntry> out;
  EXPECT_EQ(heap.PopDue(5, 10, &out), 2u);
  EXPECT_EQ(out[0].timer_id, "a");
  EXPECT_EQ(out[1].timer_id, "a");
  EXPECT_EQ(out[0].version + out[1].version, 2u);
}

TEST(TimerHeapTest, ExchangeLatestKeepsTheEarliestEntries) {
  std::mt19937_64 rng(3);
  for (int round = 0; round < 50; ++round) {
    TimerHeap heap;
    std::vector<int64_t> kept;
    for (int i = 0; i < 1 + round; ++i) {
      kept.push_back(static_cast<int64_t>(rng() % 1000));
      heap.Push(E(kept.back(), "k" + std::to_string(i)));
    }
    for (int i = 0; i < 20; ++i) {
      const int64_t due = static_cast<int64_t>(rng() % 1000);
      std::sort(kept.begin(), kept.end());
      HeapEntry out = heap.ExchangeLatest(E(due, "n" + std::to_string(i)));
      if (due < kept.back()) {
        EXPECT_EQ(out.due_us, kept.back());  // the latest went out
        kept.back() = due;
      } else {
        EXPECT_EQ(out.due_us, due);  // the new one stayed out
        EXPECT_EQ(out.timer_id, "n" + std::to_string(i));
      }
      ASSERT_EQ(heap.size(), kept.size());
    }
    std::sort(kept.begin(), kept.end());
    std::vector<HeapEntry> all;
    heap.PopDue(INT64_MAX, SIZE_MAX, &all);
    std::vector<int64_t> popped;
    for (const HeapEntry& e : all) popped.push_back(e.due_us);
    EXPECT_EQ(popped, kept) << "round " << round;
  }
}

// A herd at its due time: the heap, wholly due, is sorted into a run once; the run pops in
// order, and entries pushed after it (earlier or later than all of it) keep their places.
TEST(TimerHeapTest, AWhollyDueHeapPopsInOrderThroughASortedRun) {
  std::mt19937_64 rng(5);
  TimerHeap heap;
  std::vector<std::string> ids;
  for (size_t i = 0; i < TimerHeap::kDefaultMinSortedRun + 100; ++i) {
    ids.push_back("h" + std::to_string(rng()));
    heap.Push(E(1000, ids.back()));
  }
  std::sort(ids.begin(), ids.end());
  std::vector<HeapEntry> out;
  ASSERT_EQ(heap.PopDue(1000, 10, &out), 10u);
  EXPECT_EQ(Ids(out), std::vector<std::string>(ids.begin(), ids.begin() + 10));
  ASSERT_EQ(heap.size(), ids.size() - 10);

  heap.Push(E(999, "early"));
  heap.Push(E(2000, "late"));
  EXPECT_EQ(heap.Top().timer_id, "early");
  EXPECT_EQ(heap.Latest().timer_id, "late");
  EXPECT_EQ(heap.ExchangeLatest(E(1000, "a0")).timer_id, "late");  // "a0" sorts first at 1000
  EXPECT_EQ(heap.Latest().timer_id, ids.back());
  EXPECT_EQ(heap.ExchangeLatest(E(1000, "zz")).timer_id, "zz");        // later than all: stays out
  EXPECT_EQ(heap.ExchangeLatest(E(1000, "b0")).timer_id, ids.back());  // the run's last goes

  std::vector<HeapEntry> earliest = heap.Earliest(3);
  std::vector<std::string> earliest_ids = Ids(earliest);
  std::sort(earliest_ids.begin(), earliest_ids.end());
  EXPECT_EQ(earliest_ids, (std::vector<std::string>{"a0", "b0", "early"}));

  out.clear();
  ASSERT_EQ(heap.PopDue(1000, SIZE_MAX, &out), ids.size() - 10 + 2);
  EXPECT_EQ(out[0].timer_id, "early");
  EXPECT_EQ(out[1].timer_id, "a0");
  EXPECT_EQ(out[2].timer_id, "b0");
  std::vector<std::string> rest = Ids(out);
  EXPECT_EQ(std::vector<std::string>(rest.begin() + 3, rest.end()),
            std::vector<std::string>(ids.begin() + 10, ids.end() - 1));
  EXPECT_TRUE(heap.empty());
  EXPECT_EQ(heap.size(), 0u);

  // Emptied, it is a plain heap again.
  heap.Push(E(5, "x"));
  heap.Push(E(3, "y"));
  EXPECT_EQ(heap.Pop().timer_id, "y");
  EXPECT_EQ(heap.Pop().timer_id, "x");
  EXPECT_TRUE(heap.empty());
}

// A heap not wholly due is not sorted: only its due entries pop, in order.
TEST(TimerHeapTest, AHeapWithEntriesNotYetDueStaysAHeap) {
  TimerHeap heap(/*min_sorted_run=*/1);
  for (int i = 0; i < 100; ++i) heap.Push(E(i, "t" + std::to_string(i)));
  std::vector<HeapEntry> out;
  EXPECT_EQ(heap.PopDue(49, SIZE_MAX, &out), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(out[i].due_us, i);
  EXPECT_EQ(heap.Top().due_us, 50);
  EXPECT_EQ(heap.Latest().due_us, 99);
}

// Random pushes, pops, due pops and exchanges of entries from make_entry, checked step by step
// against an ordered multiset of the same keys. Heaps of `min_sorted_run` or more entries sort
// into a run when a due pop finds them wholly due.
template <typename MakeEntry>
void CheckAgainstAnOrderedSet(std::mt19937_64& rng, MakeEntry make_entry,
                              size_t min_sorted_run = TimerHeap::kDefaultMinSortedRun) {
  using Key = std::tuple<int64_t, std::string, std::string>;
  auto key = [](const HeapEntry& e) { return Key{e.due_us, e.ns, e.timer_id}; };
  for (int round = 0; round < 40; ++round) {
    TimerHeap heap(min_sorted_run);
    std::multiset<Key> model;
    const int ops = 50 + round * 50;
    for (int op = 0; op < ops; ++op) {
      HeapEntry e = make_entry();
      const int kind = static_cast<int>(rng() % 5);
      if (kind <= 1 || model.empty()) {
        model.insert(key(e));
        heap.Push(std::move(e));
      } else if (kind == 4) {
        // Up to a few past the model's latest due time, so some pops find the heap wholly due.
        const int64_t first = std::get<0>(*model.begin());
        const int64_t span = std::get<0>(*model.rbegin()) - first + 1;
        const int64_t now = first + static_cast<int64_t>(rng() % 8) * span / 4;
        const size_t max = 1 + rng() % 16;
        std::vector<HeapEntry> due;
        const size_t n = heap.PopDue(now, max, &due);
        ASSERT_EQ(n, due.size());
        for (const HeapEntry& d : due) {
          ASSERT_EQ(key(d), *model.begin()) << "round " << round << " op " << op;
          model.erase(model.begin());
        }
        ASSERT_TRUE(n == max || model.empty() || std::get<0>(*model.begin()) > now)
            << "round " << round << " op " << op;
      } else if (kind == 2) {
        ASSERT_EQ(key(heap.Pop()), *model.begin()) << "round " << round << " op " << op;
        model.erase(model.begin());
      } else {
        const Key latest = *model.rbegin();
        const Key added = key(e);
        const Key out = key(heap.ExchangeLatest(std::move(e)));
        if (added < latest) {
          EXPECT_EQ(out, latest);
          model.erase(std::prev(model.end()));
          model.insert(added);
        } else {
          EXPECT_EQ(out, added);
        }
      }
      ASSERT_EQ(heap.size(), model.size());
      if (!model.empty()) {
        ASSERT_EQ(key(heap.Top()), *model.begin()) << "round " << round;
        ASSERT_EQ(key(heap.Latest()), *model.rbegin()) << "round " << round;
      }
    }
    std::vector<HeapEntry> rest;
    heap.PopDue(INT64_MAX, SIZE_MAX, &rest);
    std::vector<Key> popped;
    for (const HeapEntry& e : rest) popped.push_back(key(e));
    EXPECT_EQ(popped, std::vector<Key>(model.begin(), model.end())) << "round " << round;
  }
}

// Small keys, so ties and duplicate entries are common.
TEST(TimerHeapTest, MatchesAnOrderedSetUnderRandomOperations) {
  std::mt19937_64 rng(11);
  CheckAgainstAnOrderedSet(rng, [&] {
    return E(static_cast<int64_t>(rng() % 40), "t" + std::to_string(rng() % 8),
             rng() % 2 == 0 ? "a" : "b");
  });
}

// The same with sorted runs taken from heaps of any size, so pushes, exchanges and pops meet
// a run in every state.
TEST(TimerHeapTest, MatchesAnOrderedSetWithSortedRuns) {
  for (size_t min_sorted_run : {1, 8}) {
    std::mt19937_64 rng(13 + min_sorted_run);
    CheckAgainstAnOrderedSet(
        rng,
        [&] {
          return E(static_cast<int64_t>(rng() % 40), "t" + std::to_string(rng() % 8),
                   rng() % 2 == 0 ? "a" : "b");
        },
        min_sorted_run);
  }
}

// The heap compares the leading 8 bytes of a namespace and 16 of an id before the strings:
// names that end at, just before or just after those bytes, share them, or hold zero and 0xff
// bytes must still order exactly as strings do.
TEST(TimerHeapTest, OrdersNamesAroundItsPackedPrefixesAsStringsDo) {
  using namespace std::string_literals;
  const std::vector<std::string> namespaces = {
      ""s,           "a"s,         "a\0"s,          "abcdefg"s,  "abcdefgh"s,
      "abcdefgh\0"s, "abcdefghi"s, "abcdefgh\xff"s, "abcdefgi"s, "\xff"s};
  const std::vector<std::string> ids = {""s,
                                        "t"s,
                                        "t\0"s,
                                        "t_01JE4Z3Q8W1MB7R"s,   // 17: one byte past the packed 16
                                        "t_01JE4Z3Q8W1MB7"s,    // 16
                                        "t_01JE4Z3Q8W1MB7\0"s,  // 16 and a zero byte
                                        "t_01JE4Z3Q8W1MB7RXJ4T9VHCN2P"s,
                                        "t_01JE4Z3Q8W1MB7RXJ4T9VHCN2Q"s,
                                        "t_01JE4Z3Q8W1MB8"s,
                                        "t_01JE4Z3Q8W1MB7\xff"s,
                                        "t_01JE4Z3"s};
  std::mt19937_64 rng(12);
  CheckAgainstAnOrderedSet(rng, [&] {
    return E(static_cast<int64_t>(rng() % 3), ids[rng() % ids.size()],
             namespaces[rng() % namespaces.size()]);
  });
}

}  // namespace
}  // namespace chime::engine
