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
  if (it == entries_.end()) {
    it = entries_.try_emplace(key).first;
  } else {
    bytes_ -= Cost(key, it->second.value);
    by_rank_.erase({it->second.rank, it->first});
  }
  it->second.value.assign(value.data(), value.size());
  it->second.rank = rank;
  bytes_ += cost;
  by_rank_.emplace(rank, it->first);
  while (bytes_ > max_bytes_) EraseEntry(entries_.find(by_rank_.rbegin()->second));
}

void HotRecords::Erase(absl::string_view key) {
  auto it = entries_.find(key);
  if (it != entries_.end()) EraseEntry(it);
}

void HotRecords::DropRankedBefore(int64_t rank) {
  while (!by_rank_.empty() && by_rank_.begin()->first < rank) {
    EraseEntry(entries_.find(by_rank_.begin()->second));
  }
}

void HotRecords::Clear() {
  entries_.clear();
  by_rank_.clear();
  bytes_ = 0;
}

void HotRecords::EraseEntry(Entries::iterator it) {
  bytes_ -= Cost(it->first, it->second.value);
  by_rank_.erase({it->second.rank, it->first});
  entries_.erase(it);
}

}  // namespace chime::storage
