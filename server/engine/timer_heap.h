// The timers due inside a shard's window, ordered by due time, then namespace and timer id
// (so ties pop in a stable, testable order). A min-max heap: the earliest entry pops in
// O(log n), and so does the latest when a full heap makes room for an earlier one.
//
//   TimerHeap heap;
//   heap.Push(HeapEntry{.due_us = 5'000'000, .version = 1, .ns = "default", .timer_id = "a"});
//   std::vector<HeapEntry> due;
//   heap.PopDue(now_us, /*max=*/100, &due);
//
// Entries stay put in a slab while the heap moves small slots that carry the order: the due
// time and the leading bytes of the namespace and timer id. A herd shares one due time, so
// nearly every comparison falls to the ids; read from the entries' strings, each was a cache
// miss. A large heap found wholly due (a herd at its due time) is sorted once into a run that
// pops in order, beside the heap that takes later pushes. Not thread-safe: the shard engine
// guards it with its mutex.
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
  // A wholly due heap of at least `min_sorted_run` entries is sorted into a run by PopDue.
  static constexpr size_t kDefaultMinSortedRun = 4096;
  explicit TimerHeap(size_t min_sorted_run = kDefaultMinSortedRun)
      : min_sorted_run_(min_sorted_run) {}

  bool empty() const { return slots_.empty() && RunEmpty(); }
  size_t size() const { return slots_.size() + (run_.size() - run_head_); }

  void Push(HeapEntry entry);
  // REQUIRES: !empty().
  const HeapEntry& Top() const { return entries_[TopSlot().entry]; }
  // The latest entry. REQUIRES: !empty().
  const HeapEntry& Latest() const;
  HeapEntry Pop();
  // Pops entries with due_us <= now_us, earliest first, at most `max`; appends them to *out
  // and returns how many. A heap of min_sorted_run entries or more, all due by now_us, is
  // first sorted into the run (SortIntoRunIfDueBy).
  size_t PopDue(int64_t now_us, size_t max, std::vector<HeapEntry>* out);
  // Sorts the heap into the run if the run is empty and the heap has min_sorted_run entries
  // or more, all due by `by_us`. Done ahead of a herd's due time, the sort does not delay its
  // first fires.
  void SortIntoRunIfDueBy(int64_t by_us);
  // Times the heap was sorted into a run.
  uint64_t sorted_runs() const { return sorted_runs_; }
  // For a full heap: if `entry` is earlier than the latest entry, replaces that entry with it
  // and returns the one taken out; otherwise returns `entry` itself. O(log n): every create
  // landing in a full window (say a herd created shortly before its due time) pays it.
  // REQUIRES: !empty().
  HeapEntry ExchangeLatest(HeapEntry entry);

  // Reads every cache line of the heap's arrays and returns a value made from them (so the
  // reads are not optimized away). On a VM whose host lets a sleeping process's memory go
  // cold, the first pops after a long sleep otherwise pay for it, at the due time.
  uint64_t Touch() const;
  // Copies of up to `n` of the earliest entries, in no particular order. O(size).
  std::vector<HeapEntry> Earliest(size_t n) const;

 private:
  // REQUIRES: !slots_.empty().
  size_t LatestIndex() const;
  // Removes and returns the entry at slot i, restoring the heap order.
  HeapEntry TakeAt(size_t i);

  // An entry's place in the heap: its order key, packed, and where the entry is.
  struct Slot {
    int64_t due_us = 0;
    // The first 8 bytes of the namespace and 16 of the timer id, big-endian and zero-padded:
    // they order two entries unless equal. Their sizes, capped, tell whether they are whole.
    uint64_t ns_word = 0;
    uint64_t id_words[2] = {0, 0};
    uint32_t entry = 0;  // index in entries_
    uint8_t ns_size = 0;
    uint8_t id_size = 0;
  };
  class SlotOrder;

  bool RunEmpty() const { return run_head_ == run_.size(); }
  // Whether the earliest entry is the run's first rather than the heap's top.
  // REQUIRES: !empty().
  bool TopInRun() const;
  const Slot& TopSlot() const;
  // REQUIRES: TopInRun().
  HeapEntry PopRunFront();
  // After an entry left the run: an exhausted run starts over empty.
  void ForgetRunIfEmpty();
  // Whether the latest entry is the run's last rather than the heap's latest.
  // REQUIRES: !empty().
  bool LatestInRun() const;
  Slot MakeSlot(const HeapEntry& entry, uint32_t index) const;
  uint32_t Store(HeapEntry entry);
  HeapEntry Release(uint32_t index);

  std::vector<Slot> slots_;
  // Slots sorted earliest first, taken from a heap that was wholly due; [run_head_, end) are
  // still in it. Each pop of a herd's heap walked a sift-down through cache misses; a sort
  // reads the slots in runs and the pops then read them in order.
  std::vector<Slot> run_;
  size_t run_head_ = 0;
  size_t min_sorted_run_;
  uint64_t sorted_runs_ = 0;
  // The entries, by Slot::entry; free_ lists the unused indices.
  std::vector<HeapEntry> entries_;
  std::vector<uint32_t> free_;
};

}  // namespace chime::engine

#endif  // CHIME_SERVER_ENGINE_TIMER_HEAP_H_
