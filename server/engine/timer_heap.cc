#include "server/engine/timer_heap.h"

#include <algorithm>
#include <tuple>
#include <utility>

namespace chime::engine {
namespace {

// std heap algorithms build a max-heap of their comparator: invert to get the earliest on top.
bool LaterThan(const HeapEntry& a, const HeapEntry& b) { return EarlierThan(b, a); }

}  // namespace

bool EarlierThan(const HeapEntry& a, const HeapEntry& b) {
  return std::tie(a.due_us, a.ns, a.timer_id) < std::tie(b.due_us, b.ns, b.timer_id);
}

void TimerHeap::Push(HeapEntry entry) {
  entries_.push_back(std::move(entry));
  std::push_heap(entries_.begin(), entries_.end(), LaterThan);
}

HeapEntry TimerHeap::Pop() {
  std::pop_heap(entries_.begin(), entries_.end(), LaterThan);
  HeapEntry top = std::move(entries_.back());
  entries_.pop_back();
  return top;
}

size_t TimerHeap::PopDue(int64_t now_us, size_t max, std::vector<HeapEntry>* out) {
  size_t n = 0;
  while (n < max && !entries_.empty() && entries_.front().due_us <= now_us) {
    out->push_back(Pop());
    ++n;
  }
  return n;
}

HeapEntry TimerHeap::ExchangeLatest(HeapEntry entry) {
  size_t latest = entries_.size() / 2;  // first leaf: the latest entry is a leaf
  for (size_t i = latest + 1; i < entries_.size(); ++i) {
    if (EarlierThan(entries_[latest], entries_[i])) latest = i;
  }
  if (!EarlierThan(entry, entries_[latest])) return entry;
  HeapEntry out = std::move(entries_[latest]);
  // Remove the leaf: move the last entry into its place and sift it up (a prefix of a heap is
  // a heap, so push_heap on [0, latest] does exactly that).
  if (latest != entries_.size() - 1) entries_[latest] = std::move(entries_.back());
  entries_.pop_back();
  if (latest < entries_.size()) {
    std::push_heap(entries_.begin(), entries_.begin() + latest + 1, LaterThan);
  }
  Push(std::move(entry));
  return out;
}

}  // namespace chime::engine
