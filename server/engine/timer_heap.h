// The timers due inside a shard's window, ordered by due time, then namespace and timer id
// (so ties pop in a stable, testable order). A min-max heap: the earliest entry pops in
// O(log n), and so does the latest when a full heap makes room for an earlier one.
//
//   TimerHeap heap;
//   heap.Push(HeapEntry{.due_us = 5'000'000, .version = 1, .ns = "default", .timer_id = "a"});
//   std::vector<HeapEntry> due;
//   heap.PopDue(now_us, /*max=*/100, &due);
//
// The entry type is kept here, alone, so its representation can be made more compact later
// without touching the engine. Not thread-safe: the shard engine guards it with its mutex.
#ifndef CHIME_SERVER_ENGINE_TIMER_HEAP_H_
#define CHIME_SERVER_ENGINE_TIMER_HEAP_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace chime::engine {

struct HeapEntry {
  int64_t due_us = 0;
  // Record version the entry was made from; 0 when unknown (loaded from the time index,
  // which stores no version).
  uint64_t version = 0;
  std::string ns;
  std::string timer_id;
};

// True when `a` is due strictly before `b` in heap order.
bool EarlierThan(const HeapEntry& a, const HeapEntry& b);

class TimerHeap {
 public:
  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }

  void Push(HeapEntry entry);
  // REQUIRES: !empty().
  const HeapEntry& Top() const { return entries_.front(); }
  // The latest entry. REQUIRES: !empty().
  const HeapEntry& Latest() const { return entries_[LatestIndex()]; }
  HeapEntry Pop();
  // Pops entries with due_us <= now_us, earliest first, at most `max`; appends them to *out
  // and returns how many.
  size_t PopDue(int64_t now_us, size_t max, std::vector<HeapEntry>* out);
  // For a full heap: if `entry` is earlier than the latest entry, replaces that entry with it
  // and returns the one taken out; otherwise returns `entry` itself. O(log n): every create
  // landing in a full window (say a herd created shortly before its due time) pays it.
  // REQUIRES: !empty().
  HeapEntry ExchangeLatest(HeapEntry entry);

 private:
  // REQUIRES: !empty().
  size_t LatestIndex() const;
  // Removes and returns the entry at i, restoring the heap order.
  HeapEntry TakeAt(size_t i);

  std::vector<HeapEntry> entries_;
};

}  // namespace chime::engine

#endif  // CHIME_SERVER_ENGINE_TIMER_HEAP_H_
