#include "server/engine/timer_heap.h"

#include <bit>
#include <tuple>
#include <utility>

namespace chime::engine {
namespace {

using Before = bool (*)(const HeapEntry&, const HeapEntry&);

bool LaterThan(const HeapEntry& a, const HeapEntry& b) { return EarlierThan(b, a); }

// A min-max heap: the root's level and every second one below it (the min levels) hold the
// earliest entry of their subtree, the others (max levels) the latest, so both ends are
// found at the top. Indices are 0-based: the children of i are 2i+1 and 2i+2.
bool OnMinLevel(size_t i) { return std::bit_width(i + 1) % 2 == 1; }
size_t Parent(size_t i) { return (i - 1) / 2; }

// Moves the entry at i up through its grandparents (the levels of its own kind) while it
// comes `before` them.
void SiftUpAmongGrandparents(std::vector<HeapEntry>& a, size_t i, Before before) {
  while (i >= 3) {
    const size_t grandparent = Parent(Parent(i));
    if (!before(a[i], a[grandparent])) return;
    std::swap(a[i], a[grandparent]);
    i = grandparent;
  }
}

void SiftUp(std::vector<HeapEntry>& a, size_t i) {
  if (i == 0) return;
  const size_t parent = Parent(i);
  const Before own = OnMinLevel(i) ? EarlierThan : LaterThan;
  const Before other = OnMinLevel(i) ? LaterThan : EarlierThan;
  if (other(a[i], a[parent])) {
    // Beyond its parent, which bounds it from the other side: it belongs on the parent's kind
    // of level.
    std::swap(a[i], a[parent]);
    SiftUpAmongGrandparents(a, parent, other);
  } else {
    SiftUpAmongGrandparents(a, i, own);
  }
}

// Restores the order below i after its entry was replaced. `before` is the order of i's kind
// of level.
void SiftDown(std::vector<HeapEntry>& a, size_t i, Before before) {
  const size_t n = a.size();
  while (true) {
    const size_t first_child = 2 * i + 1;
    if (first_child >= n) return;
    // The extreme of the children (2i+1, 2i+2) and grandchildren (4i+3 .. 4i+6).
    size_t best = first_child;
    if (first_child + 1 < n && before(a[first_child + 1], a[best])) best = first_child + 1;
    for (size_t g = 2 * first_child + 1; g < n && g <= 2 * first_child + 4; ++g) {
      if (before(a[g], a[best])) best = g;
    }
    if (!before(a[best], a[i])) return;
    std::swap(a[best], a[i]);
    if (best <= first_child + 1) return;  // a child: it has no descendants of i's kind
    // A grandchild: the entry moved down must stay within the bound of its new parent.
    const size_t parent = Parent(best);
    if (before(a[parent], a[best])) std::swap(a[parent], a[best]);
    i = best;
  }
}

}  // namespace

bool EarlierThan(const HeapEntry& a, const HeapEntry& b) {
  return std::tie(a.due_us, a.ns, a.timer_id) < std::tie(b.due_us, b.ns, b.timer_id);
}

void TimerHeap::Push(HeapEntry entry) {
  entries_.push_back(std::move(entry));
  SiftUp(entries_, entries_.size() - 1);
}

HeapEntry TimerHeap::Pop() { return TakeAt(0); }

size_t TimerHeap::PopDue(int64_t now_us, size_t max, std::vector<HeapEntry>* out) {
  size_t n = 0;
  while (n < max && !entries_.empty() && entries_.front().due_us <= now_us) {
    out->push_back(Pop());
    ++n;
  }
  return n;
}

size_t TimerHeap::LatestIndex() const {
  if (entries_.size() <= 2) return entries_.size() - 1;
  return EarlierThan(entries_[1], entries_[2]) ? 2 : 1;
}

HeapEntry TimerHeap::TakeAt(size_t i) {
  HeapEntry taken = std::move(entries_[i]);
  if (i != entries_.size() - 1) entries_[i] = std::move(entries_.back());
  entries_.pop_back();
  if (i < entries_.size()) SiftDown(entries_, i, OnMinLevel(i) ? EarlierThan : LaterThan);
  return taken;
}

HeapEntry TimerHeap::ExchangeLatest(HeapEntry entry) {
  const size_t latest = LatestIndex();
  if (!EarlierThan(entry, entries_[latest])) return entry;
  HeapEntry out = TakeAt(latest);
  Push(std::move(entry));
  return out;
}

}  // namespace chime::engine
