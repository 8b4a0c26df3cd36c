#include "server/engine/timer_heap.h"

#include <algorithm>
#include <bit>
#include <tuple>
#include <utility>

#include "absl/strings/string_view.h"

namespace chime::engine {
namespace {

// Bytes [offset, offset + 8) of s, big-endian and zero-padded: words compare as the bytes do.
uint64_t LeadingWord(absl::string_view s, size_t offset) {
  uint64_t word = 0;
  for (size_t i = offset; i < offset + 8; ++i) {
    word = (word << 8) | (i < s.size() ? static_cast<unsigned char>(s[i]) : 0u);
  }
  return word;
}

uint8_t CappedSize(absl::string_view s) {
  return static_cast<uint8_t>(std::min<size_t>(s.size(), 255));
}

// Orders two strings by their leading words and capped sizes when those decide, else by
// `whole()`, the full comparison. Equal words of two strings no longer than the words: the
// shorter is a prefix of the other (padding compares as its zero bytes would).
template <size_t kWords, typename Whole>
int ComparePacked(const uint64_t (&a)[kWords], const uint64_t (&b)[kWords], uint8_t a_size,
                  uint8_t b_size, Whole whole) {
  for (size_t i = 0; i < kWords; ++i) {
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  }
  constexpr size_t kPackedBytes = 8 * kWords;
  if (a_size <= kPackedBytes && b_size <= kPackedBytes)
    return (a_size > b_size) - (a_size < b_size);
  return whole();
}

// A min-max heap: the root's level and every second one below it (the min levels) hold the
// earliest entry of their subtree, the others (max levels) the latest, so both ends are
// found at the top. Indices are 0-based: the children of i are 2i+1 and 2i+2.
bool OnMinLevel(size_t i) { return std::bit_width(i + 1) % 2 == 1; }
size_t Parent(size_t i) { return (i - 1) / 2; }

// An order on slots, earliest first or (reversed) latest first.
template <typename Order>
struct Directed {
  const Order& order;
  bool reversed;
  template <typename T>
  bool operator()(const T& a, const T& b) const {
    return reversed ? order.Earlier(b, a) : order.Earlier(a, b);
  }
  Directed Opposite() const { return {order, !reversed}; }
};

// Moves the slot at i up through its grandparents (the levels of its own kind) while it comes
// `before` them.
template <typename T, typename Before>
void SiftUpAmongGrandparents(std::vector<T>& a, size_t i, const Before& before) {
  while (i >= 3) {
    const size_t grandparent = Parent(Parent(i));
    if (!before(a[i], a[grandparent])) return;
    std::swap(a[i], a[grandparent]);
    i = grandparent;
  }
}

template <typename T, typename Order>
void SiftUp(std::vector<T>& a, size_t i, const Order& order) {
  if (i == 0) return;
  const size_t parent = Parent(i);
  const Directed<Order> own{order, !OnMinLevel(i)};
  const Directed<Order> other = own.Opposite();
  if (other(a[i], a[parent])) {
    // Beyond its parent, which bounds it from the other side: it belongs on the parent's kind
    // of level.
    std::swap(a[i], a[parent]);
    SiftUpAmongGrandparents(a, parent, other);
  } else {
    SiftUpAmongGrandparents(a, i, own);
  }
}

// Restores the order below i after its slot was replaced. `before` is the order of i's kind
// of level.
template <typename T, typename Before>
void SiftDown(std::vector<T>& a, size_t i, const Before& before) {
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
    // A grandchild: the slot moved down must stay within the bound of its new parent.
    const size_t parent = Parent(best);
    if (before(a[parent], a[best])) std::swap(a[parent], a[best]);
    i = best;
  }
}

}  // namespace

bool EarlierThan(const HeapEntry& a, const HeapEntry& b) {
  return std::tie(a.due_us, a.ns, a.timer_id) < std::tie(b.due_us, b.ns, b.timer_id);
}

// EarlierThan on slots: the packed words decide unless a namespace or id is longer than them
// and equal to the other's as far as they go; then the entries' strings do.
class TimerHeap::SlotOrder {
 public:
  explicit SlotOrder(const std::vector<HeapEntry>& entries) : entries_(entries) {}

  bool Earlier(const Slot& a, const Slot& b) const {
    if (a.due_us != b.due_us) return a.due_us < b.due_us;
    const uint64_t a_ns[1] = {a.ns_word};
    const uint64_t b_ns[1] = {b.ns_word};
    const int ns = ComparePacked(a_ns, b_ns, a.ns_size, b.ns_size, [&] {
      return entries_[a.entry].ns.compare(entries_[b.entry].ns);
    });
    if (ns != 0) return ns < 0;
    return ComparePacked(a.id_words, b.id_words, a.id_size, b.id_size, [&] {
             return entries_[a.entry].timer_id.compare(entries_[b.entry].timer_id);
           }) < 0;
  }

 private:
  const std::vector<HeapEntry>& entries_;
};

TimerHeap::Slot TimerHeap::MakeSlot(const HeapEntry& entry, uint32_t index) const {
  return Slot{.due_us = entry.due_us,
              .ns_word = LeadingWord(entry.ns, 0),
              .id_words = {LeadingWord(entry.timer_id, 0), LeadingWord(entry.timer_id, 8)},
              .entry = index,
              .ns_size = CappedSize(entry.ns),
              .id_size = CappedSize(entry.timer_id)};
}

uint32_t TimerHeap::Store(HeapEntry entry) {
  if (free_.empty()) {
    entries_.push_back(std::move(entry));
    return static_cast<uint32_t>(entries_.size() - 1);
  }
  const uint32_t index = free_.back();
  free_.pop_back();
  entries_[index] = std::move(entry);
  return index;
}

HeapEntry TimerHeap::Release(uint32_t index) {
  HeapEntry entry = std::move(entries_[index]);
  if (empty()) {
    entries_.clear();
    free_.clear();
  } else {
    free_.push_back(index);
  }
  return entry;
}

void TimerHeap::Push(HeapEntry entry) {
  const Slot slot = MakeSlot(entry, 0);
  slots_.push_back(slot);
  slots_.back().entry = Store(std::move(entry));
  SiftUp(slots_, slots_.size() - 1, SlotOrder(entries_));
}

bool TimerHeap::TopInRun() const {
  if (RunEmpty()) return false;
  if (slots_.empty()) return true;
  return !SlotOrder(entries_).Earlier(slots_.front(), run_[run_head_]);
}

const TimerHeap::Slot& TimerHeap::TopSlot() const {
  return TopInRun() ? run_[run_head_] : slots_.front();
}

bool TimerHeap::LatestInRun() const {
  if (RunEmpty()) return false;
  if (slots_.empty()) return true;
  return SlotOrder(entries_).Earlier(slots_[LatestIndex()], run_.back());
}

const HeapEntry& TimerHeap::Latest() const {
  return entries_[LatestInRun() ? run_.back().entry : slots_[LatestIndex()].entry];
}

void TimerHeap::ForgetRunIfEmpty() {
  if (!RunEmpty()) return;
  run_.clear();
  run_head_ = 0;
}

HeapEntry TimerHeap::Pop() { return TopInRun() ? PopRunFront() : TakeAt(0); }

HeapEntry TimerHeap::PopRunFront() {
  const uint32_t index = run_[run_head_++].entry;
  ForgetRunIfEmpty();
  return Release(index);
}

void TimerHeap::SortIntoRunIfDueBy(int64_t by_us) {
  if (!RunEmpty() || slots_.empty() || slots_.size() < min_sorted_run_ ||
      slots_[LatestIndex()].due_us > by_us) {
    return;
  }
  ++sorted_runs_;
  run_.swap(slots_);
  slots_.clear();
  run_head_ = 0;
  const SlotOrder order(entries_);
  std::sort(run_.begin(), run_.end(),
            [&order](const Slot& a, const Slot& b) { return order.Earlier(a, b); });
}

namespace {

uint64_t SumCacheLines(const void* data, size_t bytes) {
  constexpr size_t kCacheLine = 64;
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t sum = 0;
  for (size_t i = 0; i < bytes; i += kCacheLine) sum += p[i];
  return sum;
}

}  // namespace

uint64_t TimerHeap::Touch() const {
  return SumCacheLines(slots_.data(), slots_.size() * sizeof(Slot)) +
         SumCacheLines(run_.data() + run_head_, (run_.size() - run_head_) * sizeof(Slot)) +
         SumCacheLines(entries_.data(), entries_.size() * sizeof(HeapEntry));
}

std::vector<HeapEntry> TimerHeap::Earliest(size_t n) const {
  // On copies of the slots: their packed words order them without reading the entries.
  std::vector<Slot> order(slots_);
  order.insert(order.end(), run_.begin() + static_cast<std::ptrdiff_t>(run_head_), run_.end());
  n = std::min(n, order.size());
  const SlotOrder slot_order(entries_);
  std::nth_element(
      order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
      [&slot_order](const Slot& a, const Slot& b) { return slot_order.Earlier(a, b); });
  std::vector<HeapEntry> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(entries_[order[i].entry]);
  return out;
}

size_t TimerHeap::PopDue(int64_t now_us, size_t max, std::vector<HeapEntry>* out) {
  SortIntoRunIfDueBy(now_us);
  size_t n = 0;
  while (n < max && !RunEmpty()) {
    const bool in_run = TopInRun();
    if ((in_run ? run_[run_head_] : slots_.front()).due_us > now_us) return n;
    out->push_back(in_run ? PopRunFront() : TakeAt(0));
    ++n;
  }
  while (n < max && !slots_.empty() && slots_.front().due_us <= now_us) {
    out->push_back(TakeAt(0));
    ++n;
  }
  return n;
}

size_t TimerHeap::LatestIndex() const {
  if (slots_.size() <= 2) return slots_.size() - 1;
  return SlotOrder(entries_).Earlier(slots_[1], slots_[2]) ? 2 : 1;
}

HeapEntry TimerHeap::TakeAt(size_t i) {
  const uint32_t index = slots_[i].entry;
  if (i != slots_.size() - 1) slots_[i] = slots_.back();
  slots_.pop_back();
  if (i < slots_.size()) {
    const SlotOrder order(entries_);
    SiftDown(slots_, i, Directed<SlotOrder>{order, !OnMinLevel(i)});
  }
  return Release(index);
}

HeapEntry TimerHeap::ExchangeLatest(HeapEntry entry) {
  if (!EarlierThan(entry, Latest())) return entry;
  HeapEntry out;
  if (LatestInRun()) {
    const uint32_t index = run_.back().entry;
    run_.pop_back();
    ForgetRunIfEmpty();
    out = Release(index);
  } else {
    out = TakeAt(LatestIndex());
  }
  Push(std::move(entry));
  return out;
}

}  // namespace chime::engine
