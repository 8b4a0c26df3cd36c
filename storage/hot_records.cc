#include "storage/hot_records.h"

namespace chime::storage {

std::optional<absl::string_view> HotRecords::Find(absl::string_view key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return absl::string_view(it->second.value);
}

void HotRecords::Put(absl::string_view key, absl::string_view value, int64_t rank) {
  const size_t cost = Cost(key, value);
  auto it = entries_.find(key);
  if (cost > max_bytes_ || (it == entries_.end() && bytes_ + cost > max_bytes_ &&
                            !by_rank_.empty() && rank >= by_rank_.rbegin()->first)) {
    // It would be the first to leave: do not take it (and drop what it replaces).
    if (it != entries_.end()) EraseEntry(it);
    return;
  }
  bool linked = false;
  if (it == entries_.end()) {
    it = entries_.try_emplace(key).first;
    it->second.key = &it->first;
  } else {
    bytes_ -= Cost(key, it->second.value);
    // A value replaced at its rank keeps its place in the rank's list.
    linked = it->second.rank == rank;
    if (!linked) Unlink(it->second);
  }
  Entry& entry = it->second;
  entry.value.assign(value.data(), value.size());
  bytes_ += cost;
  if (!linked) {
    entry.rank = rank;
    Link(entry);
  }
  while (bytes_ > max_bytes_) EraseEntry(Highest());
}

void HotRecords::Erase(absl::string_view key) {
  auto it = entries_.find(key);
  if (it != entries_.end()) EraseEntry(it);
}

void HotRecords::DropRankedBefore(int64_t rank) {
  while (!by_rank_.empty() && by_rank_.begin()->first < rank) {
    EraseEntry(entries_.find(*by_rank_.begin()->second.first->key));
  }
}

void HotRecords::Clear() {
  entries_.clear();
  by_rank_.clear();
  bytes_ = 0;
}

void HotRecords::Link(Entry& entry) {
  RankList& list = by_rank_[entry.rank];
  entry.prev = list.last;
  entry.next = nullptr;
  (list.last != nullptr ? list.last->next : list.first) = &entry;
  list.last = &entry;
}

void HotRecords::Unlink(Entry& entry) {
  auto it = by_rank_.find(entry.rank);
  RankList& list = it->second;
  (entry.prev != nullptr ? entry.prev->next : list.first) = entry.next;
  (entry.next != nullptr ? entry.next->prev : list.last) = entry.prev;
  entry.prev = entry.next = nullptr;
  if (list.first == nullptr) by_rank_.erase(it);
}

void HotRecords::EraseEntry(Entries::iterator it) {
  bytes_ -= Cost(it->first, it->second.value);
  Unlink(it->second);
  entries_.erase(it);
}

}  // namespace chime::storage
